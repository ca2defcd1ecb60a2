//! Agent rehydration on omg-sqlite: loading an agent of `OMG_BENCH_AGENT_EVENTS`
//! events (default 1 000 000) with snapshots every 10 000 events, against a
//! full replay of the same events.
//!
//! Rehydration is timed from building a fresh `Agency` on a freshly opened
//! `SqliteStorage` to `agent.version()` returning (the state caught up).
//! Opening the file is timed apart: it runs `PRAGMA quick_check`, whose cost
//! grows with the file, and is paid once per process, not per agent; the
//! ratio with it included is printed too. The full replay
//! opens the same agent with a state type whose `SNAPSHOT_VERSION` differs, so
//! its latest snapshot is stale and every event is replayed. Median of
//! `OMG_BENCH_REPS` runs (default 5), the two sides interleaved.
//!
//! Prints `ratio rehydrate_snapshot full/snapshot <x>` (target ≥ 20) and the
//! full-replay figure in events/s.

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark that fails should stop loudly"
)]

use std::{
    convert::Infallible,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use omg::{
    Agency,
    agent::{AgentOptions, AgentState},
};
use omg_sqlite::SqliteStorage;
use serde::{Deserialize, Serialize};

const SNAPSHOT_EVERY: u64 = 10_000;
/// Events per command while filling the agent (one batch, one commit each).
const EVENTS_PER_COMMAND: u64 = 1_000;
const AGENT: &str = "counter";

/// Counts events and sums their values.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Counter {
    events: u64,
    sum: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Added(u64);

/// Append `count` events, valued from the current event count on.
struct AddMany {
    count: u64,
}

impl AgentState for Counter {
    type Event = Added;
    type Command = AddMany;
    type Error = Infallible;

    fn apply(&mut self, Added(n): &Added) {
        self.events += 1;
        self.sum += n;
    }

    fn handle(&self, command: &AddMany) -> Result<Vec<Added>, Infallible> {
        Ok((self.events..self.events + command.count)
            .map(Added)
            .collect())
    }

    fn event_type_name() -> std::borrow::Cow<'static, str> {
        "bench.Added".into()
    }
}

/// The same state under a new snapshot format: every stored snapshot is
/// stale for it, so it rehydrates by replaying every event.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Replayed(Counter);

impl AgentState for Replayed {
    type Event = Added;
    type Command = AddMany;
    type Error = Infallible;
    const SNAPSHOT_VERSION: u32 = Counter::SNAPSHOT_VERSION + 1;

    fn apply(&mut self, event: &Added) {
        self.0.apply(event);
    }

    fn handle(&self, command: &AddMany) -> Result<Vec<Added>, Infallible> {
        self.0.handle(command)
    }

    fn event_type_name() -> std::borrow::Cow<'static, str> {
        Counter::event_type_name()
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn open(path: &Path) -> Agency {
    Agency::builder()
        .storage(Arc::new(SqliteStorage::open(path).unwrap()))
        .build()
}

/// Appends `events` events to the agent, snapshotting every 10 000.
fn fill(path: &Path, events: u64) -> Duration {
    let agency = open(path);
    let agent = agency
        .agent_with::<Counter>(
            AGENT,
            AgentOptions::default().snapshot_every(SNAPSHOT_EVERY),
        )
        .unwrap();
    let start = Instant::now();
    let mut left = events;
    while left > 0 {
        let count = left.min(EVENTS_PER_COMMAND);
        agent.execute(AddMany { count }).unwrap();
        left -= count;
    }
    let elapsed = start.elapsed();
    // Shutting down flushes the snapshots handed to the writer without waiting.
    agency.shutdown();
    elapsed
}

/// Opens the file, then a fresh agency on it, and loads the agent as `S`.
/// Returns how long opening the file took and how long rehydrating took.
fn rehydrate<S: AgentState>(
    path: &Path,
    events: u64,
    state: impl Fn(&S) -> Counter,
) -> (Duration, Duration) {
    let start = Instant::now();
    let storage = Arc::new(SqliteStorage::open(path).unwrap());
    let opened = start.elapsed();
    let start = Instant::now();
    let agency = Agency::builder().storage(storage).build();
    let agent = agency.agent::<S>(AGENT).unwrap();
    let version = agent.version().unwrap();
    let rehydrated = start.elapsed();
    assert_eq!(version, events);
    let loaded = agent.read(state).unwrap();
    assert_eq!(
        loaded,
        Counter {
            events,
            sum: events * events.saturating_sub(1) / 2,
        }
    );
    agency.shutdown();
    (opened, rehydrated)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Medians over `reps` interleaved runs.
struct Figures {
    /// Opening the file (`SqliteStorage::open`), both sides together.
    open: Duration,
    snapshot: Duration,
    full: Duration,
}

fn measure(path: &Path, events: u64, reps: u64) -> Figures {
    let (mut open, mut snapshot, mut full) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        let (o, s) = rehydrate::<Counter>(path, events, Counter::clone);
        open.push(o);
        snapshot.push(s);
        let (o, f) = rehydrate::<Replayed>(path, events, |r| r.0.clone());
        open.push(o);
        full.push(f);
    }
    Figures {
        open: median(open),
        snapshot: median(snapshot),
        full: median(full),
    }
}

fn main() {
    let events = env("OMG_BENCH_AGENT_EVENTS", 1_000_000);
    let reps = env("OMG_BENCH_REPS", 5).max(1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agents.db");

    let write = fill(&path, events);
    eprintln!(
        "fill: {events} events in {write:?} ({:.0} events/s, {EVENTS_PER_COMMAND} per command, \
         snapshot every {SNAPSHOT_EVERY})",
        events as f64 / write.as_secs_f64()
    );
    // Warm the page cache once; both sides then read from memory.
    rehydrate::<Replayed>(&path, events, |r| r.0.clone());

    let Figures {
        open,
        snapshot,
        full,
    } = measure(&path, events, reps);
    eprintln!(
        "rehydrate with snapshot: {snapshot:?}; full replay: {full:?}; opening the file \
         before either: {open:?} (medians of {reps})"
    );
    println!(
        "rehydrate_full events/s {:.0}",
        events as f64 / full.as_secs_f64()
    );
    println!(
        "ratio rehydrate_snapshot full/snapshot {:.1}",
        full.as_secs_f64() / snapshot.as_secs_f64()
    );
    println!(
        "ratio rehydrate_snapshot_with_open (open+full)/(open+snapshot) {:.1}",
        (open + full).as_secs_f64() / (open + snapshot).as_secs_f64()
    );

    // Worst case for snapshots: the longest tail after the last one.
    let tail = SNAPSHOT_EVERY - 1;
    fill_tail(&path, tail);
    let Figures { snapshot, full, .. } = measure(&path, events + tail, reps);
    eprintln!(
        "with a {tail}-event tail after the last snapshot: snapshot {snapshot:?}, full {full:?}"
    );
    println!(
        "ratio rehydrate_snapshot_worst_tail full/snapshot {:.1}",
        full.as_secs_f64() / snapshot.as_secs_f64()
    );
}

/// Appends `tail` events in one command without crossing a snapshot boundary.
fn fill_tail(path: &Path, tail: u64) {
    let agency = open(path);
    let agent = agency
        .agent_with::<Counter>(
            AGENT,
            AgentOptions::default().snapshot_every(SNAPSHOT_EVERY),
        )
        .unwrap();
    agent.execute(AddMany { count: tail }).unwrap();
    agency.shutdown();
}
