//! Two processes (two threads each, every thread with its own agent handle)
//! hammer one ledger agent in one SQLite file at the same time. Optimistic
//! concurrency must serialise them: the final state is the sequential
//! application of exactly the accepted commands, every event was decided on
//! the state right before it (no lost update), and the version is the number
//! of events.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
    sync::Arc,
};

use omg::{Agency, StartAt};
use omg_scenarios::ledger::{Entry, Ledger};
use omg_sqlite::SqliteStorage;

const CHILDREN: u64 = 2;
const THREADS: u64 = 2;
const PER_THREAD: u64 = 250;

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
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut lines = BufReader::new(process.stdout.take().unwrap()).lines();
            assert_eq!(lines.next().unwrap().unwrap(), "ready");
            (process, lines)
        })
        .collect();
    for (process, _) in &mut children {
        writeln!(process.stdin.take().unwrap(), "go").unwrap();
    }
    // id → amount of every accepted command; ids refused by exhausted retries.
    let mut accepted = BTreeMap::new();
    let mut conflicts = Vec::new();
    for (mut process, lines) in children {
        for line in lines {
            let line = line.unwrap();
            let mut words = line.split(' ');
            let (outcome, id, amount) = (
                words.next().unwrap().to_owned(),
                words.next().unwrap().parse::<u64>().unwrap(),
                words.next().unwrap().parse::<i64>().unwrap(),
            );
            match outcome.as_str() {
                "ok" => assert!(accepted.insert(id, amount).is_none(), "{id} accepted twice"),
                "conflict" => conflicts.push(id),
                other => panic!("unexpected line {other:?}"),
            }
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
        let child = id / 1_000_000;
        switches += usize::from(last_child.is_some_and(|c| c != child));
        last_child = Some(child);
    }
    eprintln!("the log switches between the two processes {switches} times");
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
