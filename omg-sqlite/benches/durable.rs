//! omg-sqlite against raw rusqlite on the same disk, same `synchronous`.
//!
//! Prints `ratio <scenario> omg/<peer> <number>` lines, plus the peak RSS
//! of a reader lagging far behind. Sizes: `OMG_BENCH_N` messages (default
//! 1 000 000), `OMG_BENCH_SECS` per timed run (default 2), `OMG_BENCH_LAG`
//! lagging messages (default 5 000 000), `OMG_BENCH_REPS` runs of each
//! side per scenario (default 3; the ratio is of the medians).
//! `OMG_BENCH_ONLY=<scenario>` runs one scenario (`pipelined_append_full`,
//! `replay` — which reads what the pipelined runs wrote —,
//! `concurrent_blocking_32` or `lagging_reader`).

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark that fails should stop loudly"
)]

use std::{
    collections::VecDeque,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use omg::{Agency, Delivery, Receipt, StartAt};
use omg_sqlite::SqliteStorage;
use rusqlite::{Connection, params};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn agency(path: &Path) -> Agency {
    Agency::builder()
        .storage(Arc::new(SqliteStorage::open(path).unwrap()))
        .build()
}

fn raw(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    let _: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn
}

/// Creates the raw side's table `name`, laid out as an omg topic's (the
/// offset is the rowid).
fn raw_table(conn: &Connection, name: &str) {
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {name} (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, payload BLOB NOT NULL)"
    ))
    .unwrap();
}

/// Microseconds since the Unix epoch: the raw side stores timestamps of
/// the same size as omg's (a small counter would make its rows shorter).
fn epoch_micros() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(since.as_micros()).unwrap()
}

/// The median of `values`.
fn median<T: PartialOrd + Copy>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

/// Publishes `n` 100-byte messages with `try_publish`, keeping a window of
/// at most `window_max` receipts and waiting the oldest when the queue is
/// full; waits for all.
fn pipelined(agency: &Agency, topic: &str, n: u64, window_max: usize) -> Duration {
    let publisher = agency
        .topic::<Vec<u8>>(topic, Delivery::ExactlyOnce)
        .unwrap()
        .publisher();
    let start = Instant::now();
    let mut window: VecDeque<Receipt> = VecDeque::new();
    for _ in 0..n {
        let mut message = vec![42u8; 100];
        loop {
            match publisher.try_publish(message) {
                Ok(receipt) => {
                    window.push_back(receipt);
                    break;
                }
                Err(e) if e.is_full() => {
                    message = e.into_inner();
                    if let Some(oldest) = window.pop_front() {
                        oldest.wait().unwrap();
                    }
                }
                Err(e) => panic!("{e:?}"),
            }
        }
        if window.len() > window_max
            && let Some(oldest) = window.pop_front()
        {
            oldest.wait().unwrap();
        }
    }
    for receipt in window {
        receipt.wait().unwrap();
    }
    start.elapsed()
}

/// Inserts `n` rows `(timestamp, payload)`, 1000 per transaction, into a
/// new table `table`.
fn raw_batched(conn: &mut Connection, table: &str, n: u64) -> Duration {
    raw_table(conn, table);
    let epoch = epoch_micros();
    let insert = format!("INSERT INTO {table} (ts, payload) VALUES (?1, ?2)");
    let payload = postcard::to_allocvec(&vec![42u8; 100]).unwrap();
    let start = Instant::now();
    let mut i = 0;
    while i < n {
        let tx = conn.transaction().unwrap();
        {
            let mut insert = tx.prepare_cached(&insert).unwrap();
            for _ in 0..1000.min(n - i) {
                insert.execute(params![epoch + i as i64, payload]).unwrap();
                i += 1;
            }
        }
        tx.commit().unwrap();
    }
    start.elapsed()
}

fn replay_omg(agency: &Agency, topic: &str, n: u64) -> Duration {
    let topic = agency
        .topic::<Vec<u8>>(topic, Delivery::ExactlyOnce)
        .unwrap();
    let mut cursor = topic.cursor(StartAt::Earliest).unwrap();
    let start = Instant::now();
    let mut bytes = 0usize;
    for _ in 0..n {
        bytes += cursor.recv().unwrap().value.len();
    }
    assert_eq!(bytes as u64, n * 100);
    start.elapsed()
}

fn replay_raw(conn: &Connection, table: &str, n: u64) -> Duration {
    let start = Instant::now();
    let mut statement = conn
        .prepare(&format!(
            "SELECT id, ts, payload FROM {table} WHERE id >= ?1 ORDER BY id"
        ))
        .unwrap();
    let mut rows = statement.query([1]).unwrap();
    let mut bytes = 0usize;
    let mut count = 0u64;
    while let Some(row) = rows.next().unwrap() {
        let payload = row.get_ref(2).unwrap().as_blob().unwrap();
        let value: Vec<u8> = postcard::from_bytes(payload).unwrap();
        bytes += value.len();
        count += 1;
    }
    assert_eq!((count, bytes as u64), (n, n * 100));
    start.elapsed()
}

fn concurrent_omg(agency: &Agency, threads: usize, run: Duration) -> f64 {
    let publisher = agency
        .topic::<Vec<u8>>("concurrent", Delivery::ExactlyOnce)
        .unwrap()
        .publisher();
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (publisher, stop, count) = (publisher.clone(), stop.clone(), count.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    publisher.publish(vec![42u8; 100]).unwrap();
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let commits_before = agency.storage().stats().commits;
    std::thread::sleep(run);
    stop.store(true, Ordering::Relaxed);
    for handle in handles {
        handle.join().unwrap();
    }
    let messages = count.load(Ordering::Relaxed);
    let stats = agency.storage().stats();
    let commits = stats.commits - commits_before;
    eprintln!(
        "concurrent_blocking_{threads}: {commits} commits, {:.1} messages per commit, last commit took {:?}",
        messages as f64 / commits.max(1) as f64,
        stats.last_commit_latency.unwrap_or_default()
    );
    messages as f64 / start.elapsed().as_secs_f64()
}

fn concurrent_raw(conn: &mut Connection, run: Duration) -> f64 {
    raw_table(conn, "log");
    let epoch = epoch_micros();
    let payload = postcard::to_allocvec(&vec![42u8; 100]).unwrap();
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < run {
        let tx = conn.transaction().unwrap();
        tx.prepare_cached("INSERT INTO log (ts, payload) VALUES (?1, ?2)")
            .unwrap()
            .execute(params![epoch + count as i64, payload])
            .unwrap();
        tx.commit().unwrap();
        count += 1;
    }
    count as f64 / start.elapsed().as_secs_f64()
}

/// CPU time this process has used (user + system, all threads), in 10 ms
/// ticks' resolution.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and
    // stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Writes back every dirty page (`sync`), so that a timed run does not pay
/// for the previous one's writes.
fn settle() {
    let _no_sync_binary = std::process::Command::new("sync").status();
}

/// `VmHWM` and `VmRSS` of this process, in KiB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n = env("OMG_BENCH_N", 1_000_000);
    let secs = env("OMG_BENCH_SECS", 2);
    let lag = env("OMG_BENCH_LAG", 5_000_000);
    let reps = usize::try_from(env("OMG_BENCH_REPS", 3)).unwrap().max(1);
    let dir = tempfile::Builder::new()
        .prefix("omg-sqlite-bench")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    if std::env::var_os(LAGGING_READER_ONLY).is_some() {
        lagging_reader(dir.path(), lag);
        return;
    }
    eprintln!(
        "files in {}; n={n} secs={secs} lag={lag}",
        dir.path().display()
    );

    let omg_path = dir.path().join("omg.db");
    let raw_path = dir.path().join("raw.db");
    let agency = agency(&omg_path);
    let mut conn = raw(&raw_path);

    if wanted("pipelined_append_full") || wanted("replay") {
        pipelined_append_full(&agency, &mut conn, n, reps);
    }
    if wanted("replay") {
        replay(&agency, &conn, n, reps);
    }
    if wanted("concurrent_blocking_32") {
        concurrent_blocking_32(&agency, &mut conn, Duration::from_secs(secs), reps);
    }
    agency.shutdown();
    drop(conn);

    // Last, and in a process of its own: its five million messages leave
    // hundreds of megabytes for the kernel to write back, which would slow
    // whatever ran next, and its peak RSS must be measured from a heap that
    // the runs above did not already grow.
    if wanted("lagging_reader") {
        settle();
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .arg("--bench")
            .env(LAGGING_READER_ONLY, "1")
            .status()
            .unwrap();
        assert!(status.success(), "the lagging reader run failed: {status}");
    }
}

/// Whether `OMG_BENCH_ONLY` is unset or names `scenario`.
fn wanted(scenario: &str) -> bool {
    std::env::var("OMG_BENCH_ONLY").map_or(true, |only| only == scenario)
}

/// Each scenario runs `reps` times, the two sides interleaved (each
/// pipelined run into a new topic and a new table); the ratio is of the
/// medians.
fn pipelined_append_full(agency: &Agency, conn: &mut Connection, n: u64, reps: usize) {
    let (mut omg_times, mut raw_times) = (Vec::new(), Vec::new());
    let (mut omg_cpu, mut raw_cpu) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        settle();
        let cpu = cpu_time();
        omg_times.push(pipelined(agency, &format!("pipelined{rep}"), n, 200_000));
        omg_cpu.push(cpu_time() - cpu);
        settle();
        let cpu = cpu_time();
        raw_times.push(raw_batched(conn, &format!("log{rep}"), n));
        raw_cpu.push(cpu_time() - cpu);
    }
    eprintln!("pipelined_append_full: omg {omg_times:?}, raw {raw_times:?} for {n}");
    eprintln!("pipelined_append_full: CPU time omg {omg_cpu:?}, raw {raw_cpu:?}");
    let (omg_time, raw_time) = (median(omg_times), median(raw_times));
    println!(
        "ratio pipelined_append_full omg/rusqlite {:.2}",
        raw_time.as_secs_f64() / omg_time.as_secs_f64()
    );
}

fn replay(agency: &Agency, conn: &Connection, n: u64, reps: usize) {
    let (mut omg_times, mut raw_times) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        omg_times.push(replay_omg(agency, "pipelined0", n));
        raw_times.push(replay_raw(conn, "log0", n));
    }
    eprintln!("replay: omg {omg_times:?}, raw {raw_times:?} for {n}");
    let (omg_time, raw_time) = (median(omg_times), median(raw_times));
    println!(
        "ratio replay omg/rusqlite {:.2}",
        raw_time.as_secs_f64() / omg_time.as_secs_f64()
    );
}

fn concurrent_blocking_32(agency: &Agency, conn: &mut Connection, run: Duration, reps: usize) {
    let (mut omg_rates, mut raw_rates) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        settle();
        omg_rates.push(concurrent_omg(agency, 32, run));
        settle();
        raw_rates.push(concurrent_raw(conn, run));
    }
    eprintln!("concurrent_blocking_32: omg {omg_rates:.0?}/s, raw {raw_rates:.0?}/s");
    println!(
        "ratio concurrent_blocking_32 omg/rusqlite {:.2}",
        median(omg_rates) / median(raw_rates)
    );
}

/// Set in the child process that only measures a lagging reader's memory.
const LAGGING_READER_ONLY: &str = "OMG_BENCH_LAGGING_READER_ONLY";

/// Publishes `lag` messages behind a cursor that stays at the first and
/// prints the peak RSS above this process's starting RSS.
fn lagging_reader(dir: &Path, lag: u64) {
    let (_, baseline) = memory();
    let agency = agency(&dir.join("lag.db"));
    let topic = agency
        .topic::<Vec<u8>>("lag", Delivery::ExactlyOnce)
        .unwrap();
    let mut cursor = topic.cursor(StartAt::Earliest).unwrap();
    pipelined(&agency, "lag", lag, 10_000);
    assert_eq!(cursor.recv().unwrap().offset, 0);
    assert_eq!(cursor.lag().unwrap(), lag - 1);
    let (peak, now) = memory();
    println!(
        "memory lagging_reader_{lag} peak_rss_above_baseline_kib {} rss_now_kib {now} baseline_kib {baseline}",
        peak.saturating_sub(baseline)
    );
    agency.shutdown();
}
