//! How soon a reader process sees another process's commits to one SQLite
//! file (DESIGN §4: "within 50 ms"), omg beside the usual hand-made peer.
//!
//! A child process writes one row every 10 ms, each carrying the wall-clock
//! time just before its write; this process reads them and records
//! `seen − sent` (the writer's commit with its fsync included).
//! - omg: the child publishes (blocking) to an exactly-once topic; this
//!   process blocks in `Cursor::recv` — woken by omg-sqlite's watch thread.
//! - peer: the child inserts with raw rusqlite (one transaction per row,
//!   `synchronous=FULL`); this process polls `SELECT … WHERE id > ?` in a
//!   loop, the code people write by hand — every 5 ms (the check rate of
//!   omg-sqlite's default `watch_interval`: the ratio compares like with
//!   like) and, for context, every millisecond.
//!
//! Prints p50 / p99 / max latency and the reader's CPU time for each, and
//! `ratio cross_process_p99 omg/raw_poll_5ms <x>` (the peer's p99 over
//! omg's: higher is better for omg). `OMG_BENCH_N` rows (default 200).

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark that fails should stop loudly"
)]

use std::{
    process::{Child, Command},
    time::Duration,
};

use omg::{Delivery, StartAt};
use omg_scenarios::{now_micros, sqlite_agency};

const INTERVAL_MS: u64 = 10;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("OMG_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();

    let (omg_latencies, omg_cpu) = omg_reader(&dir.path().join("omg.db"), n);
    let omg = Summary::of("omg", omg_latencies, omg_cpu, n);
    let poll_5ms = raw_reader(&dir.path().join("raw5.db"), n, Duration::from_millis(5));
    let poll_5ms = Summary::of("raw_poll_5ms", poll_5ms.0, poll_5ms.1, n);
    let poll_1ms = raw_reader(&dir.path().join("raw1.db"), n, Duration::from_millis(1));
    Summary::of("raw_poll_1ms", poll_1ms.0, poll_1ms.1, n);
    println!(
        "ratio cross_process_p99 omg/raw_poll_5ms {:.2}",
        poll_5ms.p99 as f64 / omg.p99.max(1) as f64
    );
}

fn child(mode: &str, path: &std::path::Path, n: usize) -> Child {
    Command::new(env!("CARGO_BIN_EXE_visibility_publisher"))
        .args([
            mode,
            path.to_str().unwrap(),
            &n.to_string(),
            &INTERVAL_MS.to_string(),
        ])
        .spawn()
        .unwrap()
}

/// Latencies (µs) seen through an omg cursor, and this process's CPU time (ms).
fn omg_reader(path: &std::path::Path, n: usize) -> (Vec<i64>, u64) {
    let agency = sqlite_agency(path.to_str().unwrap()).unwrap();
    let topic = agency
        .topic::<i64>("visible", Delivery::ExactlyOnce)
        .unwrap();
    let mut cursor = topic.cursor(StartAt::Earliest).unwrap();
    let cpu_before = cpu_ms();
    let mut writer = child("omg", path, n);
    let mut latencies = Vec::with_capacity(n);
    for _ in 0..n {
        let record = cursor
            .recv_timeout(Duration::from_secs(10))
            .unwrap()
            .expect("the writer's row within 10 s");
        latencies.push(now_micros() - record.value);
    }
    let cpu = cpu_ms() - cpu_before;
    assert!(writer.wait().unwrap().success());
    agency.shutdown();
    (latencies, cpu)
}

/// Latencies (µs) seen by polling every `poll`, and CPU time (ms).
fn raw_reader(path: &std::path::Path, n: usize, poll: Duration) -> (Vec<i64>, u64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode=WAL;
         CREATE TABLE visible (id INTEGER PRIMARY KEY, sent INTEGER NOT NULL);",
    )
    .unwrap();
    let cpu_before = cpu_ms();
    let mut writer = child("raw", path, n);
    let mut latencies = Vec::with_capacity(n);
    let mut last_id = 0i64;
    let mut select = conn
        .prepare("SELECT id, sent FROM visible WHERE id > ?1 ORDER BY id")
        .unwrap();
    while latencies.len() < n {
        let rows: Vec<(i64, i64)> = select
            .query_map([last_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let seen = now_micros();
        for (id, sent) in rows {
            last_id = id;
            latencies.push(seen - sent);
        }
        std::thread::sleep(poll);
    }
    let cpu = cpu_ms() - cpu_before;
    assert!(writer.wait().unwrap().success());
    (latencies, cpu)
}

/// User + system CPU time of this process so far, in ms (`/proc/self/stat`,
/// clock ticks of 10 ms).
fn cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (which is in parentheses).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks * 10
}

struct Summary {
    p99: i64,
}

impl Summary {
    /// Prints the figures of one reader and keeps its p99.
    fn of(reader: &str, mut latencies: Vec<i64>, cpu_ms: u64, n: usize) -> Self {
        latencies.sort_unstable();
        let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
        println!(
            "cross_process {reader:<13} p50 {:>6} µs  p99 {:>6} µs  max {:>6} µs  reader cpu {cpu_ms:>4} ms for {n} rows",
            at(0.5),
            at(0.99),
            at(1.0),
        );
        Self { p99: at(0.99) }
    }
}
