//! A publisher killed with SIGKILL at a random moment loses nothing it was
//! told was durable, duplicates nothing, and leaves offsets dense.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::{Arc, mpsc},
    time::Duration,
};

use omg::{Agency, Delivery, StartAt};
use omg_scenarios::Rng;
use omg_sqlite::SqliteStorage;

const ROUNDS: u64 = 20;

#[test]
fn every_acknowledged_publish_survives_sigkill_exactly_once() {
    let mut rng = Rng::from_clock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let path_str = path.to_str().unwrap().to_owned();
    let mut acknowledged: Vec<String> = Vec::new();
    let mut next_key = 0u64;
    for round in 0..ROUNDS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_scenario_keyed_publisher"))
            .args([path_str.as_str(), "payments", &next_key.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let collector = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait for the first acknowledgement (the child is up), then kill
        // it at a random moment.
        let first = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        std::thread::sleep(Duration::from_millis(rng.below(150)));
        child.kill().unwrap();
        child.wait().unwrap();
        collector.join().unwrap();
        let round_keys: Vec<String> = std::iter::once(first).chain(rx.try_iter()).collect();
        eprintln!("round {round}: {} acknowledged", round_keys.len());
        acknowledged.extend(round_keys);
        // The next child restarts from the last acknowledged key: the one
        // after it may or may not have committed; its key makes it idempotent.
        next_key = acknowledged
            .last()
            .map_or(0, |k| k[1..].parse::<u64>().unwrap() + 1);
    }

    let agency = Agency::builder()
        .storage(Arc::new(SqliteStorage::open(&path).unwrap()))
        .build();
    let topic = agency
        .topic::<u64>("payments", Delivery::ExactlyOnce)
        .unwrap();
    let (first, head) = topic.bounds().unwrap();
    assert_eq!(first, 0);
    let mut cursor = topic.cursor(StartAt::Earliest).unwrap();
    // Message i is published with key k<i>: where each value is stored is
    // where its key is.
    let mut stored_at = HashMap::new();
    for offset in 0..head {
        let record = cursor.recv().unwrap();
        assert_eq!(record.offset, offset, "offsets are dense");
        assert_eq!(
            stored_at.insert(record.value, offset),
            None,
            "k{} stored twice",
            record.value
        );
    }
    for key in &acknowledged {
        let i: u64 = key[1..].parse().unwrap();
        assert!(
            stored_at.contains_key(&i),
            "{key} was acknowledged but is missing"
        );
    }
    // Re-publishing the last keys appends nothing and returns the offset
    // each was first stored at.
    let publisher = topic.publisher();
    for key in acknowledged.iter().rev().take(5) {
        let i: u64 = key[1..].parse().unwrap();
        let offset = publisher.publish_keyed(key, i).unwrap();
        assert_eq!(offset, stored_at[&i], "{key} re-published");
    }
    assert_eq!(topic.bounds().unwrap(), (0, head));
    agency.shutdown();
}
