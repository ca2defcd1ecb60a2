//! A 3-stage thread pipeline — producer → transform → sink — through omg
//! topics hosted by omg-std, beside the same pipeline on crossbeam channels.
//!
//! `cargo bench -p omg-std` prints both throughputs (median of several runs)
//! and `ratio pipeline3 omg/crossbeam <x>`.
//!
//! - crossbeam: `bounded(1024)` channels, three plain threads.
//! - omg: two at-most-once topics (rings of 4096), the producer a plain
//!   thread with `publish`, transform and sink two omg-std handlers. Rings
//!   never block a publisher, so the producer is paced (lossless): it stays
//!   at most 2048 messages ahead of the sink. The run fails if anything was
//!   missed or the checksum differs.
//! - for information: the same through exactly-once topics in the in-memory
//!   storage (encoded with postcard, no pacing needed).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use omg::{Agency, Delivery, StartAt};
use omg_std::{Handler, HandlerHandle, Host};

const MESSAGES: u64 = 2_000_000;
const DURABLE_MESSAGES: u64 = 300_000;
const RUNS: usize = 7;
fn ring() -> usize {
    std::env::var("RING")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4096)
}
fn window() -> u64 {
    std::env::var("WINDOW")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2048)
}

fn transform(x: u64) -> u64 {
    x.wrapping_mul(3).wrapping_add(1)
}

fn expected_sum(n: u64) -> u64 {
    (0..n).map(transform).fold(0, u64::wrapping_add)
}

fn crossbeam_run(n: u64) -> Duration {
    let (tx1, rx1) = crossbeam_channel::bounded::<u64>(1024);
    let (tx2, rx2) = crossbeam_channel::bounded::<u64>(1024);
    let started = Instant::now();
    let mid = thread::spawn(move || {
        for x in rx1 {
            if tx2.send(transform(x)).is_err() {
                break;
            }
        }
    });
    let sink = thread::spawn(move || rx2.iter().fold(0_u64, u64::wrapping_add));
    for i in 0..n {
        tx1.send(i).expect("the transform thread is alive");
    }
    drop(tx1);
    mid.join().expect("transform thread");
    let sum = sink.join().expect("sink thread");
    let elapsed = started.elapsed();
    assert_eq!(sum, expected_sum(n), "crossbeam checksum");
    elapsed
}

/// Transform and sink as omg-std handlers over two topics of `delivery`.
fn omg_run(n: u64, delivery: Delivery, paced: bool) -> Duration {
    let agency = Agency::in_memory();
    let a = agency.topic::<u64>("a", delivery).expect("topic a");
    let b = agency.topic::<u64>("b", delivery).expect("topic b");
    let host = Host::new(&agency);
    let out = b.publisher();
    let stages: Vec<HandlerHandle> = vec![
        host.spawn_handler(Handler::new("transform", move || out.clone()).subscribe(
            a.cursor(StartAt::Earliest).expect("cursor a"),
            |out, e| {
                out.publish(transform(e.into_value()))?;
                Ok(())
            },
        ))
        .expect("spawn transform"),
    ];
    let sunk = Arc::new(AtomicU64::new(0));
    let sum = Arc::new(AtomicU64::new(0));
    let main = thread::current();
    let (count, total) = (sunk.clone(), sum.clone());
    let sink = host
        .spawn_handler(
            Handler::new("sink", move || (count.clone(), total.clone(), 0_u64, 0_u64)).subscribe(
                b.cursor(StartAt::Earliest).expect("cursor b"),
                move |(count, total, acc, done), e| {
                    *acc = acc.wrapping_add(e.into_value());
                    *done += 1;
                    count.store(*done, Ordering::Release);
                    if *done == n {
                        total.store(*acc, Ordering::Release);
                        main.unpark();
                    }
                    Ok(())
                },
            ),
        )
        .expect("spawn sink");
    let publisher = a.publisher();
    let window = window();
    let started = Instant::now();
    for i in 0..n {
        if paced && i % 256 == 0 {
            while i - sunk.load(Ordering::Acquire) >= window {
                thread::yield_now();
            }
        }
        publisher.publish(i).expect("publish");
    }
    while sunk.load(Ordering::Acquire) < n {
        thread::park();
    }
    let elapsed = started.elapsed();
    host.shutdown().expect("shutdown");
    for stage in stages.iter().chain([&sink]) {
        assert_eq!(stage.stats().missed, 0, "{} missed messages", stage.name());
        assert_eq!(stage.stats().failures, 0);
    }
    assert_eq!(sum.load(Ordering::Acquire), expected_sum(n), "omg checksum");
    agency.shutdown();
    elapsed
}

/// The same omg pipeline on plain threads with `Cursor::recv`, no host: what
/// the host adds on top of the core.
fn omg_threads_run(n: u64) -> Duration {
    let agency = Agency::in_memory();
    let delivery = Delivery::at_most_once_keep(ring());
    let a = agency.topic::<u64>("a", delivery).expect("topic a");
    let b = agency.topic::<u64>("b", delivery).expect("topic b");
    let mut from_a = a.cursor(StartAt::Earliest).expect("cursor a");
    let mut from_b = b.cursor(StartAt::Earliest).expect("cursor b");
    let sunk = Arc::new(AtomicU64::new(0));
    let out = b.publisher();
    let mid = thread::spawn(move || {
        for _ in 0..n {
            let x = from_a.recv().expect("no gap").into_value();
            out.publish(transform(x)).expect("publish b");
        }
    });
    let count = sunk.clone();
    let sink = thread::spawn(move || {
        let mut acc = 0_u64;
        for i in 0..n {
            acc = acc.wrapping_add(from_b.recv().expect("no gap").into_value());
            count.store(i + 1, Ordering::Release);
        }
        acc
    });
    let publisher = a.publisher();
    let window = window();
    let started = Instant::now();
    for i in 0..n {
        if i % 256 == 0 {
            while i - sunk.load(Ordering::Acquire) >= window {
                thread::yield_now();
            }
        }
        publisher.publish(i).expect("publish a");
    }
    mid.join().expect("transform thread");
    let sum = sink.join().expect("sink thread");
    let elapsed = started.elapsed();
    assert_eq!(sum, expected_sum(n), "omg threads checksum");
    agency.shutdown();
    elapsed
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn main() {
    // Warm up both.
    crossbeam_run(MESSAGES / 10);
    omg_run(MESSAGES / 10, Delivery::at_most_once_keep(ring()), true);

    let mut crossbeam = Vec::new();
    let mut omg = Vec::new();
    let mut threads = Vec::new();
    for _ in 0..RUNS {
        crossbeam.push(crossbeam_run(MESSAGES));
        threads.push(omg_threads_run(MESSAGES));
        omg.push(omg_run(MESSAGES, Delivery::at_most_once_keep(ring()), true));
    }
    let durable = median(
        (0..3)
            .map(|_| omg_run(DURABLE_MESSAGES, Delivery::exactly_once(), false))
            .collect(),
    );
    let crossbeam = rate(MESSAGES, median(crossbeam));
    let omg = rate(MESSAGES, median(omg));
    let threads = rate(MESSAGES, median(threads));
    println!(
        "pipeline3 crossbeam bounded(1024), {MESSAGES} u64, median of {RUNS}: {:.2} M msg/s",
        crossbeam / 1e6
    );
    println!(
        "pipeline3 omg-std at-most-once (keep {}, paced {}), {MESSAGES} u64, median of {RUNS}: {:.2} M msg/s",
        ring(),
        window(),
        omg / 1e6
    );
    println!(
        "pipeline3 omg core on plain threads (Cursor::recv, no host, same topics and pacing): {:.2} M msg/s",
        threads / 1e6
    );
    println!(
        "pipeline3 omg-std exactly-once (memory storage), {DURABLE_MESSAGES} u64, median of 3: {:.2} M msg/s",
        rate(DURABLE_MESSAGES, durable) / 1e6
    );
    println!("ratio pipeline3 omg/crossbeam {:.2}", omg / crossbeam);
}
