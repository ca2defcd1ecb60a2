//! Two writer processes and one reader process share one SQLite file:
//! offsets stay dense, nothing is lost, and the reader (started first,
//! blocked on its cursor) is woken by the other processes' commits.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

const PER_WRITER: u64 = 500;

#[test]
fn two_writers_and_a_reader_see_one_dense_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let path = path.to_str().unwrap();
    let mut reader = Command::new(env!("CARGO_BIN_EXE_scenario_reader"))
        .args([path, "events", &(2 * PER_WRITER).to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(reader.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    let writers: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|tag| {
            Command::new(env!("CARGO_BIN_EXE_scenario_writer"))
                .args([path, "events", tag, &PER_WRITER.to_string()])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut writer in writers {
        assert!(writer.wait().unwrap().success());
    }
    let lines: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(reader.wait().unwrap().success());
    assert_eq!(lines.len() as u64, 2 * PER_WRITER);
    let mut next = [0u64; 2];
    for (expected_offset, line) in lines.iter().enumerate() {
        let (offset, value) = line.split_once(' ').unwrap();
        assert_eq!(offset.parse::<u64>().unwrap(), expected_offset as u64);
        let (tag, i) = value.split_once('-').unwrap();
        let w = usize::from(tag == "b");
        assert_eq!(
            i.parse::<u64>().unwrap(),
            next[w],
            "writer {tag} out of order"
        );
        next[w] += 1;
    }
    assert_eq!(next, [PER_WRITER, PER_WRITER]);
}
