//! Moving messages from another thread into a Bevy frame: omg-bevy beside
//! the pattern Bevy users write by hand today (bevy_channel_message's: a
//! crossbeam unbounded channel drained into `Messages` in `PreUpdate`).
//!
//! `cargo bench -p omg-bevy --bench frame_drain`. Env: `OMG_BENCH_FRAMES`
//! (frames per run, default 2000), `OMG_BENCH_BATCH` (messages per frame,
//! default 1000), `OMG_BENCH_REPS` (runs, default 5; medians are reported).
//!
//! Scenarios, each frame in lockstep: the main thread wakes a producer
//! thread, which publishes/sends `BATCH` u64s and signals back; then the
//! main thread runs `App::update()`, in which a `PreUpdate` system moves the
//! batch into `Messages` and an `Update` system reads and sums it. A frame is
//! timed from the wake-up to the end of `update()` (the producer's work is
//! part of it); the update alone is timed too.
//!
//! - `omg`: an at-most-once topic (ring of 4096), drained by `OmgPlugin`.
//! - `channel`: a crossbeam unbounded channel, drained by a `try_iter` system.
//! - `native`: one system writes `BATCH` messages and another reads them,
//!   one thread, no producer: the ceiling of any drain into `Messages`.
//!
//! Then the time the plugin adds to an idle frame: an app with `OmgPlugin`,
//! one reader and one writer, nothing published, against the same app
//! without them, in alternating rounds of 2000 frames (`OMG_BENCH_IDLE_ROUNDS`,
//! default 60): the fastest round of each and the medians.
//!
//! Prints `ratio frame_drain omg/channel_drain <x>`: the channel's
//! `update()` time over omg's — the cost on the game thread of getting the
//! batch into `Messages` and reading it (higher is better for omg) — and
//! `ratio frame_drain_end_to_end omg/channel_drain <x>`, the same over the
//! whole lockstep frame, the producer thread's publishing included.

use std::{
    hint::black_box,
    thread,
    time::{Duration, Instant},
};

use bevy_app::{App, PreUpdate, Update};
use bevy_ecs::prelude::*;
use crossbeam_channel::{Receiver, Sender};
use omg::{Agency, Delivery, StartAt};
use omg_bevy::{OmgAppExt, OmgPlugin, Received};

/// The message of the channel and native scenarios.
#[derive(Message, Clone, Copy, Debug)]
struct Msg(u64);

/// What the reading system saw.
#[derive(Resource, Default, Debug)]
struct Total {
    count: u64,
    sum: u64,
}

/// What one run measured.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// Wake-up to end of `update()`, summed over frames.
    frames: Duration,
    /// `update()` alone, summed over frames.
    updates: Duration,
    /// The producer's publishing alone, summed over frames.
    producing: Duration,
    messages: u64,
}

impl Run {
    fn frame_rate(&self) -> f64 {
        self.messages as f64 / self.frames.as_secs_f64()
    }

    fn update_rate(&self) -> f64 {
        self.messages as f64 / self.updates.as_secs_f64()
    }

    /// Nanoseconds per message on the producer thread.
    fn produce_ns(&self) -> f64 {
        self.producing.as_secs_f64() * 1e9 / self.messages as f64
    }
}

fn main() {
    let frames: u64 = env_or("OMG_BENCH_FRAMES", 2000);
    let batch: u64 = env_or("OMG_BENCH_BATCH", 1000);
    let reps: usize = env_or("OMG_BENCH_REPS", 5);
    println!(
        "omg-bevy frame_drain: {batch} messages per frame, {frames} frames per run, median of {reps} runs"
    );

    let mut omg = Vec::new();
    let mut channel = Vec::new();
    let mut native = Vec::new();
    for _ in 0..reps {
        omg.push(omg_run(frames, batch));
        channel.push(channel_run(frames, batch));
        native.push(native_run(frames, batch));
    }
    let omg_frame = median(omg.iter().map(Run::frame_rate));
    let channel_frame = median(channel.iter().map(Run::frame_rate));
    let omg_update = median(omg.iter().map(Run::update_rate));
    let channel_update = median(channel.iter().map(Run::update_rate));
    let native_update = median(native.iter().map(Run::update_rate));
    let omg_produce = median(omg.iter().map(Run::produce_ns));
    let channel_produce = median(channel.iter().map(Run::produce_ns));
    let per_frame = |rate: f64| batch as f64 / rate * 1e6;
    println!(
        "omg      frame {:>7.2} M msg/s ({:>7.1} µs/frame)   update only {:>7.2} M msg/s ({:>7.1} µs)   producer {:>5.1} ns/msg",
        omg_frame / 1e6,
        per_frame(omg_frame),
        omg_update / 1e6,
        per_frame(omg_update),
        omg_produce,
    );
    println!(
        "channel  frame {:>7.2} M msg/s ({:>7.1} µs/frame)   update only {:>7.2} M msg/s ({:>7.1} µs)   producer {:>5.1} ns/msg",
        channel_frame / 1e6,
        per_frame(channel_frame),
        channel_update / 1e6,
        per_frame(channel_update),
        channel_produce,
    );
    println!(
        "native Messages (ceiling, one thread)        update only {:>7.2} M msg/s ({:>7.1} µs)",
        native_update / 1e6,
        per_frame(native_update),
    );
    // The frame: what the game thread pays per frame to get the batch
    // into `Messages` and read it.
    println!(
        "ratio frame_drain omg/channel_drain {:.3}",
        omg_update / channel_update
    );
    // End to end: the producer thread's publishing included.
    println!(
        "ratio frame_drain_end_to_end omg/channel_drain {:.3}",
        omg_frame / channel_frame
    );

    // Idle frames: both apps built once, measured in alternating rounds;
    // the fastest round of each is the least disturbed by other processes.
    let rounds: usize = env_or("OMG_BENCH_IDLE_ROUNDS", 60);
    let mut bare_app = idle_app(false);
    let mut omg_app = idle_app(true);
    let (mut bare, mut with_omg) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        bare.push(idle_round(&mut bare_app));
        with_omg.push(idle_round(&mut omg_app));
    }
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (bare_min, omg_min) = (min(&bare), min(&with_omg));
    let (bare_med, omg_med) = (median(bare.into_iter()), median(with_omg.into_iter()));
    println!(
        "idle frame: bare app {bare_min:.3} µs (median {bare_med:.3}), with OmgPlugin + 1 reader + 1 writer {omg_min:.3} µs (median {omg_med:.3})"
    );
    println!(
        "idle frame added by omg-bevy: {:.3} µs (fastest rounds), {:.3} µs (medians)",
        omg_min - bare_min,
        omg_med - bare_med
    );
}

/// A producer thread that, on each wake-up, runs `send` and signals back.
struct Producer {
    wake: Sender<()>,
    done: Receiver<Duration>,
    thread: thread::JoinHandle<()>,
}

impl Producer {
    fn spawn(mut send: impl FnMut() + Send + 'static) -> Self {
        let (wake, wake_rx) = crossbeam_channel::bounded::<()>(1);
        let (done_tx, done) = crossbeam_channel::bounded::<Duration>(1);
        let thread = thread::spawn(move || {
            while wake_rx.recv().is_ok() {
                let start = Instant::now();
                send();
                if done_tx.send(start.elapsed()).is_err() {
                    return;
                }
            }
        });
        Self { wake, done, thread }
    }

    /// Runs `frames` frames of the app in lockstep with the producer.
    fn drive(self, app: &mut App, frames: u64, batch: u64) -> Run {
        // Warm-up: allocate Messages' buffers, fill caches.
        for _ in 0..10 {
            self.frame(app);
        }
        app.world_mut().insert_resource(Total::default());
        let (mut total, mut updates, mut producing) =
            (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        for _ in 0..frames {
            let (frame, update, produce) = self.frame(app);
            total += frame;
            updates += update;
            producing += produce;
        }
        let seen = app.world().resource::<Total>();
        let messages = frames * batch;
        assert_eq!(seen.count, messages, "every message read exactly once");
        assert_eq!(seen.sum, frames * batch * (batch - 1) / 2);
        drop(self.wake);
        let _ = self.thread.join();
        Run {
            frames: total,
            updates,
            producing,
            messages,
        }
    }

    fn frame(&self, app: &mut App) -> (Duration, Duration, Duration) {
        let start = Instant::now();
        self.wake.send(()).ok();
        let produce = self.done.recv().unwrap_or_default();
        let update = Instant::now();
        app.update();
        let end = Instant::now();
        (end - start, end - update, produce)
    }
}

fn omg_run(frames: u64, batch: u64) -> Run {
    let agency = Agency::in_memory();
    let topic = agency
        .topic::<u64>("bench", Delivery::at_most_once_keep(4096))
        .expect("declare");
    let mut app = App::new();
    app.add_plugins(OmgPlugin::new(agency.clone()))
        .add_omg_reader(topic.cursor(StartAt::Latest).expect("cursor"))
        .init_resource::<Total>()
        .add_systems(Update, read_received);
    let publisher = topic.publisher();
    let producer = Producer::spawn(move || {
        for i in 0..batch {
            publisher.publish(i).expect("publish");
        }
    });
    let run = producer.drive(&mut app, frames, batch);
    let reader = app.world().resource::<omg_bevy::OmgReader<u64>>();
    assert_eq!(reader.missed(), 0, "no lag");
    run
}

fn read_received(mut messages: MessageReader<'_, '_, Received<u64>>, mut total: ResMut<'_, Total>) {
    let (mut count, mut sum) = (0, 0);
    for m in messages.read() {
        count += 1;
        sum += m.value;
    }
    total.count += count;
    total.sum += sum;
}

#[derive(Resource)]
struct ChannelRx(Receiver<u64>);

fn drain_channel(rx: Res<'_, ChannelRx>, mut out: MessageWriter<'_, Msg>) {
    for value in rx.0.try_iter() {
        out.write(Msg(value));
    }
}

fn read_msgs(mut messages: MessageReader<'_, '_, Msg>, mut total: ResMut<'_, Total>) {
    let (mut count, mut sum) = (0, 0);
    for m in messages.read() {
        count += 1;
        sum += m.0;
    }
    total.count += count;
    total.sum += sum;
}

fn channel_run(frames: u64, batch: u64) -> Run {
    let (tx, rx) = crossbeam_channel::unbounded::<u64>();
    let mut app = App::new();
    app.add_message::<Msg>()
        .insert_resource(ChannelRx(rx))
        .init_resource::<Total>()
        .add_systems(PreUpdate, drain_channel)
        .add_systems(Update, read_msgs);
    let producer = Producer::spawn(move || {
        for i in 0..batch {
            tx.send(i).expect("send");
        }
    });
    producer.drive(&mut app, frames, batch)
}

#[derive(Resource)]
struct Batch(u64);

fn write_native(batch: Res<'_, Batch>, mut out: MessageWriter<'_, Msg>) {
    for i in 0..batch.0 {
        out.write(Msg(i));
    }
}

fn native_run(frames: u64, batch: u64) -> Run {
    let mut app = App::new();
    app.add_message::<Msg>()
        .insert_resource(Batch(batch))
        .init_resource::<Total>()
        .add_systems(PreUpdate, write_native)
        .add_systems(Update, read_msgs);
    for _ in 0..10 {
        app.update();
    }
    app.world_mut().insert_resource(Total::default());
    let start = Instant::now();
    for _ in 0..frames {
        app.update();
    }
    let elapsed = start.elapsed();
    let messages = frames * batch;
    assert_eq!(app.world().resource::<Total>().count, messages);
    Run {
        frames: elapsed,
        updates: elapsed,
        producing: Duration::ZERO,
        messages,
    }
}

/// An app with one trivial system, and with omg-bevy if asked: the plugin,
/// a reader of an at-most-once topic and a writer to an exactly-once one,
/// nothing published.
fn idle_app(with_omg: bool) -> App {
    let mut app = App::new();
    app.init_resource::<Total>()
        .add_systems(Update, |total: Res<'_, Total>| {
            black_box(total.count);
        });
    if with_omg {
        let agency = Agency::in_memory();
        let input = agency
            .topic::<u64>("input", Delivery::at_most_once())
            .expect("declare");
        let output = agency
            .topic::<u32>("output", Delivery::exactly_once())
            .expect("declare");
        app.add_plugins(OmgPlugin::new(agency.clone()))
            .add_omg_reader(input.cursor(StartAt::Latest).expect("cursor"))
            .add_omg_writer(output.publisher());
    }
    for _ in 0..1000 {
        app.update();
    }
    app
}

/// Mean µs per idle `update()` over one round.
fn idle_round(app: &mut App) -> f64 {
    const FRAMES: u32 = 2000;
    let start = Instant::now();
    for _ in 0..FRAMES {
        app.update();
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(FRAMES)
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
