//! A consumer drives a ledger agent from a topic of commands, committing its
//! named cursor in the same transaction as the events each command produced.
//! Killed with SIGKILL at random moments, round after round, and restarted
//! from its committed position each time, it applies every command exactly
//! once: after every kill the agent's version equals the cursor's committed
//! position, no restart ever meets an already applied command, and at the end
//! the state is the sum of all commands.
//!
//! Every kill lands mid-stream: before each round the topic holds exactly
//! `BACKLOG` commands past the committed position, the kill comes after the
//! consumer reported a random number of them applied (fewer than
//! `BACKLOG`), and the last command is published only for the final run.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    sync::{Arc, mpsc},
    time::Duration,
};

use omg::{Agency, Delivery, Name, StartAt, agent::Execute};
use omg_scenarios::{
    Rng,
    ledger::{Deposit, Ledger},
};
use omg_sqlite::SqliteStorage;

const COMMANDS: u64 = 6000;
const ROUNDS: u64 = 25;
/// Commands published past the committed position before each round.
const BACKLOG: u64 = 200;
// Even if every round applied its whole backlog, the last command stays
// unpublished until the final run, so no killed round can finish.
const _: () = assert!(ROUNDS * BACKLOG < COMMANDS - 1);
const TOPIC: &str = "deposits";
const CURSOR: &str = "ledger-feed";
const AGENT: &str = "ledger";

fn open(path: &Path) -> Agency {
    Agency::builder()
        .storage(Arc::new(SqliteStorage::open(path).unwrap()))
        .build()
}

fn deposit(offset: u64) -> Deposit {
    Deposit {
        id: offset,
        amount: offset as i64 + 1,
    }
}

/// Publishes the commands at offsets `*published..end` of the topic.
fn publish_up_to(path: &Path, published: &mut u64, end: u64) {
    let agency = open(path);
    let publisher = agency
        .topic::<Deposit>(TOPIC, Delivery::ExactlyOnce)
        .unwrap()
        .publisher();
    let receipts: Vec<_> = (*published..end)
        .map(|offset| (offset, publisher.try_publish(deposit(offset)).unwrap()))
        .collect();
    for (offset, receipt) in receipts {
        assert_eq!(receipt.wait().unwrap(), offset);
    }
    *published = (*published).max(end);
    agency.shutdown();
}

/// The agent's version and the cursor's committed position, read from the file.
fn committed(path: &Path) -> (u64, Option<u64>) {
    let agency = open(path);
    let version = agency.agent::<Ledger>(AGENT).unwrap().version().unwrap();
    let position = agency
        .storage()
        .cursor_position(&Name::new(TOPIC).unwrap(), &Name::new(CURSOR).unwrap())
        .unwrap();
    agency.shutdown();
    (version, position)
}

/// Starts the consumer; its stdout lines arrive on the returned channel.
fn consumer(path: &Path) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_agent_consumer"))
        .args([
            path.to_str().unwrap(),
            TOPIC,
            CURSOR,
            AGENT,
            &COMMANDS.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Checks a round's output: it resumed at `resume`, then applied
/// consecutive offsets and never met a duplicate. Returns how many it
/// reported applied and whether it printed `done`.
fn check_round(lines: &[String], resume: u64) -> (u64, bool) {
    assert_eq!(
        lines[0],
        format!("start {resume}"),
        "resumed where committed"
    );
    let mut next = resume;
    let mut done = false;
    for line in &lines[1..] {
        assert!(!done, "output after done: {line}");
        if line == "done" {
            done = true;
            continue;
        }
        assert_eq!(
            *line,
            format!("applied {next}"),
            "a restart met an applied command again, or skipped one"
        );
        next += 1;
    }
    (next - resume, done)
}

#[test]
fn a_consumer_killed_midstream_applies_every_command_exactly_once() {
    let mut rng = Rng::from_clock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("consumer.db");

    let mut published = 0;
    let mut resume = 0;
    let mut killed_midstream = 0;
    for round in 0..ROUNDS {
        publish_up_to(&path, &mut published, resume + BACKLOG);
        assert_eq!(published, resume + BACKLOG);
        // Kill after `progress` commands were reported applied (so while
        // the consumer still has published commands ahead of it) and a few
        // more microseconds, to land at varied points of the next ones.
        let progress = 1 + rng.below(BACKLOG - 1);
        let (mut child, lines) = consumer(&path);
        let mut seen = Vec::new();
        while seen.len() as u64 <= progress {
            seen.push(lines.recv_timeout(Duration::from_secs(30)).unwrap());
        }
        std::thread::sleep(Duration::from_micros(rng.below(1000)));
        child.kill().unwrap();
        child.wait().unwrap();
        seen.extend(lines.iter());
        let (applied, done) = check_round(&seen, resume);
        assert!(applied >= progress, "round {round}: {applied} < {progress}");
        // The command in flight at the kill may or may not have committed,
        // but its events and the cursor moved together.
        let (version, position) = committed(&path);
        assert_eq!(
            Some(version),
            position.or(Some(0)),
            "round {round}: the events and the cursor commit went apart"
        );
        assert!(
            version == resume + applied || (version == resume + applied + 1 && !done),
            "round {round}: resumed at {resume}, {applied} reported applied, version {version}"
        );
        killed_midstream += u64::from(applied > 0 && !done && version < COMMANDS);
        eprintln!("round {round}: {progress} awaited, {applied} applied, version {version}");
        resume = version;
    }
    assert_eq!(
        killed_midstream, ROUNDS,
        "every kill came after progress and before the end"
    );

    // A last consumer runs to the end.
    publish_up_to(&path, &mut published, COMMANDS);
    let (mut child, lines) = consumer(&path);
    assert!(child.wait().unwrap().success());
    let lines: Vec<String> = lines.iter().collect();
    let (applied, done) = check_round(&lines, resume);
    assert!(done);
    assert_eq!(resume + applied, COMMANDS);

    let agency = open(&path);
    let ledger = agency.agent::<Ledger>(AGENT).unwrap();
    let total: i64 = (0..COMMANDS).map(|o| deposit(o).amount).sum();
    assert_eq!(
        ledger.state().unwrap(),
        Ledger {
            balance: total,
            entries: COMMANDS
        }
    );
    assert_eq!(ledger.version().unwrap(), COMMANDS);
    assert_eq!(ledger.events().bounds().unwrap(), (0, COMMANDS));
    // The event at offset k is command k: each causation once, in order,
    // each decided on the state before it.
    let mut cursor = ledger.events().cursor(StartAt::Earliest).unwrap();
    let mut balance = 0;
    for offset in 0..COMMANDS {
        let record = cursor.recv().unwrap();
        let Deposit { id, amount } = deposit(offset);
        balance += amount;
        assert_eq!((record.offset, record.value.id), (offset, id));
        assert_eq!(record.value.amount, amount);
        assert_eq!(record.value.balance_after, balance);
    }
    let topic = agency
        .topic::<Deposit>(TOPIC, Delivery::ExactlyOnce)
        .unwrap();
    assert_eq!(
        agency
            .storage()
            .cursor_position(topic.name(), &Name::new(CURSOR).unwrap())
            .unwrap(),
        Some(COMMANDS)
    );
    // Delivering an old message again changes nothing.
    let again = ledger
        .execute(Execute::new(deposit(7)).caused_by_message(topic.name(), 7, None))
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(ledger.version().unwrap(), COMMANDS);
    agency.shutdown();
}
