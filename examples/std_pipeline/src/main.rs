//! A thread pipeline through omg topics, hosted by omg-std.
//!
//! ```text
//! producer thread ──readings (exactly-once)──▶ "transform" handler
//!     ──celsius (at-least-once)──▶ "sink" handler (+ a tick printing a summary)
//! ```
//!
//! Run with `cargo run -p std_pipeline -- [COUNT]` (default 100 000). Press
//! Enter to stop early: the host finishes the messages in hand, commits its
//! cursors and joins its threads.

use std::{
    io::BufRead,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use omg::{Agency, Delivery, StartAt};
use omg_std::{Handler, Host};
use serde::{Deserialize, Serialize};

/// A raw sensor reading in tenths of a degree Fahrenheit.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Reading {
    sensor: u32,
    tenths_f: i64,
}

/// The same reading converted.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Celsius {
    sensor: u32,
    celsius: f64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: u64 = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 100_000,
    };
    let agency = Agency::in_memory();
    let readings = agency.topic::<Reading>("readings", Delivery::exactly_once())?;
    let celsius = agency.topic::<Celsius>("celsius", Delivery::at_least_once())?;
    let host = Host::new(&agency);

    // Stage 2: transform. A named cursor: committed past handled messages.
    let out = celsius.publisher();
    host.spawn_handler(Handler::new("transform", move || out.clone()).subscribe(
        readings.named_cursor("transform", StartAt::Earliest)?,
        |out, e| {
            let r = e.value();
            out.publish(Celsius {
                sensor: r.sensor,
                celsius: (r.tenths_f as f64 / 10.0 - 32.0) * 5.0 / 9.0,
            })?;
            Ok(())
        },
    ))?;

    // Stage 3: sink, with a tick that prints progress once a second.
    let received = Arc::new(AtomicU64::new(0));
    let done = host.handle();
    let seen = received.clone();
    let sink = host.spawn_handler(
        Handler::new("sink", move || (seen.clone(), done.clone(), 0.0_f64))
            .subscribe(
                celsius.named_cursor("sink", StartAt::Earliest)?,
                move |(seen, done, max), e| {
                    *max = f64::max(*max, e.value().celsius);
                    if seen.fetch_add(1, Ordering::Relaxed) + 1 == count {
                        done.request_shutdown();
                    }
                    Ok(())
                },
            )
            .tick(Duration::from_secs(1), |(seen, _, max)| {
                println!(
                    "sink: {} readings, warmest {max:.1} °C",
                    seen.load(Ordering::Relaxed)
                );
                Ok(())
            }),
    )?;

    // Enter stops early (a plain handle; wire a signal handler the same way).
    let stop = host.handle();
    std::thread::spawn(move || {
        // End of input (no terminal) does not stop the pipeline.
        if let Some(Ok(_)) = std::io::stdin().lock().lines().next() {
            stop.request_shutdown();
        }
    });

    // Stage 1: the producer, a plain thread with the blocking API.
    let started = Instant::now();
    let publisher = readings.publisher();
    let stop = host.handle();
    let producer = std::thread::spawn(move || -> omg::Result<()> {
        for i in 0..count {
            if stop.is_shutting_down() {
                break;
            }
            let sensor = u32::try_from(i % 8).unwrap_or(0);
            let tenths_f = 320 + i64::try_from(i % 1000).unwrap_or(0);
            publisher.publish(Reading { sensor, tenths_f })?;
        }
        Ok(())
    });

    host.handle().wait();
    let elapsed = started.elapsed();
    host.shutdown()?;
    producer.join().map_err(|_| "the producer panicked")??;
    let n = received.load(Ordering::Relaxed);
    println!(
        "{n} of {count} readings through 3 threads in {elapsed:.2?} ({:.0} msg/s); sink stats: {:?}",
        n as f64 / elapsed.as_secs_f64(),
        sink.stats()
    );
    agency.shutdown();
    Ok(())
}
