//! omg's topics beside their peers, in one process (custom harness).
//!
//! `cargo bench -p omg --bench topics`; `OMG_BENCH_N` sets the message count
//! (default 1 000 000), `OMG_BENCH_REPS` the repetitions (default 9, the
//! median is reported) and `OMG_BENCH_ONLY` picks one scenario. Each scenario prints the msg/s of both sides, their
//! lag counts, and one line `ratio <scenario> omg/<peer> <number>` (higher
//! is better for omg).

use std::{
    hint::black_box,
    sync::{Arc, Barrier},
    thread,
    time::{Duration, Instant},
};

use omg::{Agency, Delivery, RecvError, StartAt};
use tokio::sync::broadcast;

/// Capacity of the at-most-once ring and of the tokio broadcast channel.
const CAPACITY: usize = 1024;

/// What one run measured.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// Messages delivered, summed over readers.
    delivered: u64,
    /// Messages reported missed (lagged), summed over readers.
    lagged: u64,
    elapsed: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64()
    }
}

/// What one reader saw.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    delivered: u64,
    lagged: u64,
}

impl Seen {
    /// Counts one receive of an omg cursor; true once the last message came.
    fn count(&mut self, received: Result<omg::Record<u64>, RecvError>, n: u64) -> bool {
        match received {
            Ok(record) => {
                self.delivered += 1;
                black_box(record.value) == n - 1
            }
            Err(RecvError::Lagged(missed)) => {
                self.lagged += missed;
                false
            }
            Err(e) => panic!("receive: {e}"),
        }
    }
}

/// A thread that publishes 0..n to `topic` once `start` opens.
fn spawn_publisher(
    topic: &omg::Topic<u64>,
    start: &Arc<Barrier>,
    n: u64,
) -> thread::JoinHandle<()> {
    let publisher = topic.publisher();
    let start = start.clone();
    thread::spawn(move || {
        start.wait();
        for i in 0..n {
            publisher.publish(i).expect("publish");
        }
    })
}

fn main() {
    let n: u64 = env_or("OMG_BENCH_N", 1_000_000);
    let reps: usize = env_or("OMG_BENCH_REPS", 9);
    println!("omg topics benchmark: {n} messages per run, median of {reps} runs");

    report(
        "spsc_threads",
        "tokio_broadcast",
        reps,
        || omg_threads(n, 1),
        || tokio_threads(n, 1),
    );
    report(
        "fanout4_threads",
        "tokio_broadcast",
        reps,
        || omg_threads(n, 4),
        || tokio_threads(n, 4),
    );
    report(
        "fanout4_async",
        "tokio_broadcast",
        reps,
        || omg_async(n, 4),
        || tokio_async(n, 4),
    );
    report(
        "durable_mem",
        "flume_unbounded",
        reps,
        || omg_durable(n),
        || flume_unbounded(n),
    );
    if std::env::var("OMG_BENCH_ONLY").is_ok_and(|only| only != "durable_mem") {
        return;
    }
    let floor = median((0..reps.max(1)).map(|_| durable_floor(n)).collect());
    println!(
        "durable_mem      floor {:>12.0} msg/s  ({:.1} ns per message: the work no durable publish can skip, hand-written)",
        floor.rate(),
        floor.elapsed.as_secs_f64() * 1e9 / n as f64
    );
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs both sides `reps` times, interleaved, and prints their medians.
/// `OMG_BENCH_ONLY=<scenario>` skips the other scenarios.
fn report(
    scenario: &str,
    peer: &str,
    reps: usize,
    mut omg: impl FnMut() -> Run,
    mut other: impl FnMut() -> Run,
) {
    if std::env::var("OMG_BENCH_ONLY").is_ok_and(|only| only != scenario) {
        return;
    }
    let mut ours = Vec::with_capacity(reps);
    let mut theirs = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        ours.push(omg());
        theirs.push(other());
    }
    let ours = median(ours);
    let theirs = median(theirs);
    println!(
        "{scenario:<16} omg   {:>12.0} msg/s  delivered {:>9}  lagged {:>9}  ({:.1} ms)",
        ours.rate(),
        ours.delivered,
        ours.lagged,
        ours.elapsed.as_secs_f64() * 1e3
    );
    println!(
        "{scenario:<16} {peer:<5} {:>12.0} msg/s  delivered {:>9}  lagged {:>9}  ({:.1} ms)",
        theirs.rate(),
        theirs.delivered,
        theirs.lagged,
        theirs.elapsed.as_secs_f64() * 1e3
    );
    println!(
        "ratio {scenario} omg/{peer} {:.3}",
        ours.rate() / theirs.rate()
    );
}

/// The run with the median rate.
fn median(mut runs: Vec<Run>) -> Run {
    runs.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
    runs[runs.len() / 2]
}

fn sum(seen: impl IntoIterator<Item = Seen>, elapsed: Duration) -> Run {
    let mut run = Run {
        delivered: 0,
        lagged: 0,
        elapsed,
    };
    for s in seen {
        run.delivered += s.delivered;
        run.lagged += s.lagged;
    }
    run
}

/// 1 publisher thread → `readers` reader threads on an at-most-once ring.
/// Readers stop at the last message, which a ring always keeps.
fn omg_threads(n: u64, readers: usize) -> Run {
    let agency = Agency::in_memory();
    let topic = agency
        .topic::<u64>("bench", Delivery::at_most_once_keep(CAPACITY))
        .expect("declare");
    let start = Arc::new(Barrier::new(readers + 2));
    let handles: Vec<_> = (0..readers)
        .map(|_| {
            let mut cursor = topic.cursor(StartAt::Earliest).expect("cursor");
            let start = start.clone();
            thread::spawn(move || {
                let mut seen = Seen::default();
                start.wait();
                while !seen.count(cursor.recv(), n) {}
                seen
            })
        })
        .collect();
    let publishing = spawn_publisher(&topic, &start, n);
    start.wait();
    let began = Instant::now();
    let seen: Vec<Seen> = handles
        .into_iter()
        .map(|h| h.join().expect("reader"))
        .collect();
    let elapsed = began.elapsed();
    publishing.join().expect("publisher");
    sum(seen, elapsed)
}

/// The same with `tokio::sync::broadcast` and `blocking_recv`.
fn tokio_threads(n: u64, readers: usize) -> Run {
    let (sender, _) = broadcast::channel::<u64>(CAPACITY);
    let start = Arc::new(Barrier::new(readers + 2));
    let handles: Vec<_> = (0..readers)
        .map(|_| {
            let mut receiver = sender.subscribe();
            let start = start.clone();
            thread::spawn(move || {
                let mut seen = Seen::default();
                start.wait();
                loop {
                    match receiver.blocking_recv() {
                        Ok(value) => {
                            seen.delivered += 1;
                            if black_box(value) == n - 1 {
                                break;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(missed)) => seen.lagged += missed,
                        Err(broadcast::error::RecvError::Closed) => panic!("closed early"),
                    }
                }
                seen
            })
        })
        .collect();
    let publishing = {
        let start = start.clone();
        thread::spawn(move || {
            start.wait();
            for i in 0..n {
                sender.send(i).expect("send");
            }
        })
    };
    start.wait();
    let began = Instant::now();
    let seen: Vec<Seen> = handles
        .into_iter()
        .map(|h| h.join().expect("reader"))
        .collect();
    let elapsed = began.elapsed();
    publishing.join().expect("publisher");
    sum(seen, elapsed)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime")
}

/// 1 publisher thread → `readers` tasks (`recv_async`) on 2 tokio workers.
fn omg_async(n: u64, readers: usize) -> Run {
    let runtime = runtime();
    let agency = Agency::in_memory();
    let topic = agency
        .topic::<u64>("bench", Delivery::at_most_once_keep(CAPACITY))
        .expect("declare");
    let start = Arc::new(Barrier::new(2));
    let tasks: Vec<_> = (0..readers)
        .map(|_| {
            let mut cursor = topic.cursor(StartAt::Earliest).expect("cursor");
            runtime.spawn(async move {
                let mut seen = Seen::default();
                while !seen.count(cursor.recv_async().await, n) {}
                seen
            })
        })
        .collect();
    let publishing = spawn_publisher(&topic, &start, n);
    start.wait();
    let began = Instant::now();
    let seen = runtime.block_on(async {
        let mut seen = Vec::with_capacity(tasks.len());
        for task in tasks {
            seen.push(task.await.expect("reader task"));
        }
        seen
    });
    let elapsed = began.elapsed();
    publishing.join().expect("publisher");
    sum(seen, elapsed)
}

/// The same with `tokio::sync::broadcast` and `recv().await`.
fn tokio_async(n: u64, readers: usize) -> Run {
    let runtime = runtime();
    let (sender, _) = broadcast::channel::<u64>(CAPACITY);
    let start = Arc::new(Barrier::new(2));
    let tasks: Vec<_> = (0..readers)
        .map(|_| {
            let mut receiver = sender.subscribe();
            runtime.spawn(async move {
                let mut seen = Seen::default();
                loop {
                    match receiver.recv().await {
                        Ok(value) => {
                            seen.delivered += 1;
                            if black_box(value) == n - 1 {
                                break;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(missed)) => seen.lagged += missed,
                        Err(broadcast::error::RecvError::Closed) => panic!("closed early"),
                    }
                }
                seen
            })
        })
        .collect();
    let publishing = {
        let start = start.clone();
        thread::spawn(move || {
            start.wait();
            for i in 0..n {
                sender.send(i).expect("send");
            }
        })
    };
    start.wait();
    let began = Instant::now();
    let seen = runtime.block_on(async {
        let mut seen = Vec::with_capacity(tasks.len());
        for task in tasks {
            seen.push(task.await.expect("reader task"));
        }
        seen
    });
    let elapsed = began.elapsed();
    publishing.join().expect("publisher");
    sum(seen, elapsed)
}

/// Exactly-once topic on the in-memory storage: `try_publish` all `n`
/// (receipts complete inline), then read them back with a cursor.
fn omg_durable(n: u64) -> Run {
    let agency = Agency::in_memory();
    let topic = agency
        .topic::<u64>("bench", Delivery::exactly_once())
        .expect("declare");
    let publisher = topic.publisher();
    let began = Instant::now();
    for i in 0..n {
        let mut receipt = publisher
            .try_publish(i)
            .unwrap_or_else(|e| panic!("try_publish: {e}"));
        if let Some(result) = receipt.try_result() {
            result.expect("publish outcome");
        }
    }
    let mut cursor = topic.cursor(StartAt::Earliest).expect("cursor");
    let mut seen = Seen::default();
    for i in 0..n {
        match cursor.try_recv() {
            Ok(record) => {
                assert_eq!(black_box(record.value), i);
                seen.delivered += 1;
            }
            Err(e) => panic!("try_recv: {e}"),
        }
    }
    sum([seen], began.elapsed())
}

/// For context, not a peer: the work an in-memory durable publish and read
/// cannot skip, written out by hand — a wall-clock stamp kept
/// non-decreasing, postcard into a stack buffer, one lock, the record in
/// three arrays, the head published — then every message decoded back.
fn durable_floor(n: u64) -> Run {
    #[derive(Default)]
    struct Log {
        timestamps: Vec<i64>,
        ends: Vec<usize>,
        bytes: Vec<u8>,
    }
    let log = std::sync::Mutex::new(Log::default());
    let head = std::sync::atomic::AtomicU64::new(0);
    let began = Instant::now();
    for i in 0..n {
        let micros = omg::Timestamp::now().as_micros();
        let mut buf = [0u8; 16];
        let encoded = postcard::to_slice(&i, &mut buf).expect("encode");
        let mut log = log.lock().expect("lock");
        let last = log.timestamps.last().copied().unwrap_or(i64::MIN);
        log.timestamps.push(micros.max(last));
        log.bytes.extend_from_slice(encoded);
        let end = log.bytes.len();
        log.ends.push(end);
        head.store(i + 1, std::sync::atomic::Ordering::Release);
    }
    let log = log.lock().expect("lock");
    let mut seen = Seen::default();
    let mut start = 0;
    for (i, &end) in (0..n).zip(&log.ends) {
        let value: u64 = postcard::from_bytes(&log.bytes[start..end]).expect("decode");
        assert_eq!(black_box(value), i);
        seen.delivered += 1;
        start = end;
    }
    sum([seen], began.elapsed())
}

/// flume unbounded: send all `n`, then receive them.
fn flume_unbounded(n: u64) -> Run {
    let began = Instant::now();
    let (sender, receiver) = flume::unbounded::<u64>();
    for i in 0..n {
        sender.send(i).expect("send");
    }
    let mut seen = Seen::default();
    for i in 0..n {
        let value = receiver.recv().expect("recv");
        assert_eq!(black_box(value), i);
        seen.delivered += 1;
    }
    sum([seen], began.elapsed())
}
