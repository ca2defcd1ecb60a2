//! Two processes (two threads each, every thread with its own agent handle)
//! hammer one ledger agent in one SQLite file at the same time. Optimistic
//! concurrency must serialise them: the final state is the sequential
//! application of exactly the accepted commands, every event was decided on
//! the state right before it (no lost update), and the version is the number
//! of events.
//!
//! The hammering runs in two phases: neither process starts the second
//! before both finished the first. So the log holds both processes' events
//! in each phase — it interleaves them, whatever the scheduling — and a
//! command can only give up when the others appended in that phase.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::{
    collections::{BTreeMap, BTreeSet},
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
    sync::Arc,
};

use omg::{Agency, StartAt, agent::DEFAULT_MAX_ATTEMPTS};
use omg_scenarios::ledger::{Entry, Ledger};
use omg_sqlite::SqliteStorage;

const CHILDREN: u64 = 2;
const THREADS: u64 = 2;
const PER_THREAD: u64 = 250;
/// Commands per thread in the first phase.
const PAUSE_AFTER: u64 = PER_THREAD / 2;

/// The (child, thread, phase) a command id belongs to (see `agent_hammer`).
fn origin(id: u64) -> (u64, u64, usize) {
    let i = id % 10_000;
    (
        id / 1_000_000,
        id % 1_000_000 / 10_000,
        usize::from(i >= PAUSE_AFTER),
    )
}

#[test]
fn two_processes_on_one_agent_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let path_str = path.to_str().unwrap();
    // Create the file (and the agent's topics) before the children race.
    {
        let agency = omg_scenarios::sqlite_agency(path_str).unwrap();
        assert_eq!(
            agency.agent::<Ledger>("ledger").unwrap().version().unwrap(),
            0
        );
        agency.shutdown();
    }
    let mut children: Vec<_> = (0..CHILDREN)
        .map(|child| {
            let mut process = Command::new(env!("CARGO_BIN_EXE_agent_hammer"))
                .args([
                    path_str,
                    "ledger",
                    &child.to_string(),
                    &THREADS.to_string(),
                    &PER_THREAD.to_string(),
                    &PAUSE_AFTER.to_string(),
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let stdin = process.stdin.take().unwrap();
            let mut lines = BufReader::new(process.stdout.take().unwrap()).lines();
            assert_eq!(lines.next().unwrap().unwrap(), "ready");
            (process, stdin, lines)
        })
        .collect();
    // id → amount of every accepted command; ids refused by exhausted retries.
    let mut accepted = BTreeMap::new();
    let mut conflicts = Vec::new();
    let mut record = |line: &str| {
        let mut words = line.split(' ');
        let (outcome, id, amount) = (
            words.next().unwrap(),
            words.next().unwrap().parse::<u64>().unwrap(),
            words.next().unwrap().parse::<i64>().unwrap(),
        );
        match outcome {
            "ok" => assert!(accepted.insert(id, amount).is_none(), "{id} accepted twice"),
            "conflict" => conflicts.push(id),
            other => panic!("unexpected line {other:?}"),
        }
    };
    // First phase: every child runs until it paused.
    for (_, stdin, _) in &mut children {
        writeln!(stdin, "go").unwrap();
    }
    for (_, _, lines) in &mut children {
        loop {
            let line = lines.next().unwrap().unwrap();
            if line == "paused" {
                break;
            }
            record(&line);
        }
    }
    // Second phase, once every child finished the first.
    for (_, stdin, _) in &mut children {
        writeln!(stdin, "go").unwrap();
    }
    for (mut process, stdin, lines) in children {
        drop(stdin);
        for line in lines {
            record(&line.unwrap());
        }
        assert!(process.wait().unwrap().success());
    }
    eprintln!(
        "{} accepted, {} gave up after the retries",
        accepted.len(),
        conflicts.len()
    );
    assert_eq!(
        (accepted.len() + conflicts.len()) as u64,
        CHILDREN * THREADS * PER_THREAD,
        "every command was either accepted or reported as a conflict"
    );

    let agency = Agency::builder()
        .storage(Arc::new(SqliteStorage::open(&path).unwrap()))
        .build();
    let ledger = agency.agent::<Ledger>("ledger").unwrap();
    let state = ledger.state().unwrap();
    let version = ledger.version().unwrap();
    let (first, head) = ledger.events().bounds().unwrap();
    assert_eq!((first, head), (0, accepted.len() as u64));
    assert_eq!(version, head, "version is the number of events");

    // Replay the log by hand: every event is an accepted command, once, and
    // was decided on the balance right before it.
    let mut cursor = ledger.events().cursor(StartAt::Earliest).unwrap();
    let mut replayed = Ledger::default();
    let mut seen = BTreeMap::new();
    let mut switches = 0;
    let mut last_child = None;
    // Events per phase, and per (child, thread, phase) the commands accepted
    // and given up.
    let mut phase_events = [0u64; 2];
    let mut last_phase = 0;
    let mut tally: BTreeMap<(u64, u64, usize), (u64, u64)> = BTreeMap::new();
    let mut children_in_phase = [BTreeSet::new(), BTreeSet::new()];
    for offset in 0..head {
        let record = cursor.recv().unwrap();
        assert_eq!(record.offset, offset);
        let Entry {
            id,
            amount,
            balance_after,
        } = record.value;
        assert_eq!(
            accepted.get(&id),
            Some(&amount),
            "event {id} was not accepted"
        );
        assert!(seen.insert(id, amount).is_none(), "{id} appended twice");
        assert_eq!(
            balance_after,
            replayed.balance + amount,
            "event at {offset} was decided on a stale state (lost update)"
        );
        omg::agent::AgentState::apply(&mut replayed, &record.value);
        let (child, thread, phase) = origin(id);
        assert!(
            phase >= last_phase,
            "event at {offset} is of the first phase, after the second began"
        );
        last_phase = phase;
        phase_events[phase] += 1;
        tally.entry((child, thread, phase)).or_default().0 += 1;
        children_in_phase[phase].insert(child);
        switches += usize::from(last_child.is_some_and(|c| c != child));
        last_child = Some(child);
    }
    eprintln!("the log switches between the two processes {switches} times");
    for id in &conflicts {
        tally.entry(origin(*id)).or_default().1 += 1;
    }
    // Every attempt of a handle is decided on a newer version than its last
    // (a conflict means another writer appended; the retry reads it), and
    // within a phase versions only span that phase's events. So a thread
    // gives up on a command only after DEFAULT_MAX_ATTEMPTS attempts on
    // distinct versions of its phase, which bounds how many it gives up —
    // and leaves every thread commands accepted in every phase.
    for ((child, thread, phase), (ok, gave_up)) in &tally {
        assert_eq!(
            ok + gave_up,
            PAUSE_AFTER,
            "child {child} thread {thread} phase {phase}"
        );
        assert!(
            u64::from(DEFAULT_MAX_ATTEMPTS) * gave_up + ok <= phase_events[*phase],
            "child {child} thread {thread} phase {phase}: {gave_up} gave up, {ok} accepted, \
             but the phase appended only {} events",
            phase_events[*phase]
        );
        assert!(*ok > 0);
    }
    assert_eq!(tally.len() as u64, CHILDREN * THREADS * 2);
    // Both processes appended in both phases, and no first-phase event
    // follows a second-phase one: the log goes from one process to the
    // other within each phase.
    assert_eq!(
        children_in_phase,
        [BTreeSet::from([0, 1]), BTreeSet::from([0, 1])]
    );
    assert!(switches >= 2, "{switches} switches");
    assert_eq!(seen, accepted, "every accepted command is in the log");
    assert_eq!(
        state,
        Ledger {
            balance: accepted.values().sum(),
            entries: accepted.len() as u64,
        }
    );
    assert_eq!(state, replayed);
    agency.shutdown();
}
