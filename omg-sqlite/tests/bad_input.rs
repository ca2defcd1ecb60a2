//! Files that are not (or no longer) good omg databases give named errors,
//! are never modified, and never panic; a full one fails only the writes
//! that do not fit.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use omg::{
    Agency, Delivery, Error, RecvError, StartAt, StorageErrorKind, Topic,
    storage::{Append, Completion, WriteBatch},
};
use omg_sqlite::{SqliteOptions, SqliteStorage};

mod common;

use common::{append, blocker, declare, name, options, payloads, queue, spec};

fn kind_of(result: Result<SqliteStorage, Error>) -> StorageErrorKind {
    match result {
        Err(Error::Storage(e)) => e.kind(),
        Err(other) => panic!("not a storage error: {other}"),
        Ok(_) => panic!("opened"),
    }
}

/// Opens `path` expecting `kind`, and checks the file did not change.
fn refused(path: &Path, kind: StorageErrorKind) {
    let before = std::fs::read(path).unwrap();
    assert_eq!(kind_of(SqliteStorage::open(path)), kind);
    assert_eq!(
        std::fs::read(path).unwrap(),
        before,
        "the file was modified"
    );
}

/// A closed omg database holding one exactly-once topic of three `u32`s.
/// A temporary omg database holding three messages (keep the directory).
fn written_db() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omg.db");
    omg_db(&path);
    (dir, path)
}

fn omg_db(path: &Path) {
    let (agency, topic) = numbers(path);
    for i in 0..3 {
        topic.publisher().publish(i).unwrap();
    }
    agency.shutdown();
}

/// [`written_db`] after `damage` (one SQL statement) ran on it behind
/// omg's back.
fn damaged_db(damage: &str, params: impl rusqlite::Params) -> (tempfile::TempDir, PathBuf) {
    let (dir, path) = written_db();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(damage, params).unwrap();
    drop(conn);
    (dir, path)
}

/// An agency over `path` and its topic `numbers`.
fn numbers(path: &Path) -> (Agency, Topic<u32>) {
    let agency = Agency::builder()
        .storage(Arc::new(SqliteStorage::open(path).unwrap()))
        .build();
    let topic = agency
        .topic::<u32>("numbers", Delivery::ExactlyOnce)
        .unwrap();
    (agency, topic)
}

/// Checks `error` is a `Corrupt` storage error whose text contains `says`.
fn assert_corrupt(error: &Error, says: &str) {
    match error {
        Error::Storage(e) => {
            assert_eq!(e.kind(), StorageErrorKind::Corrupt, "{e}");
            assert!(e.to_string().contains(says), "{e}");
        }
        other => panic!("not a storage error: {other}"),
    }
}

#[test]
fn a_file_that_is_not_sqlite_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "these are my notes, not a database\n".repeat(200)).unwrap();
    refused(&path, StorageErrorKind::NotADatabase);
}

#[test]
fn a_database_of_another_application_is_foreign() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE people (name TEXT); INSERT INTO people VALUES ('ada');")
        .unwrap();
    drop(conn);
    refused(&path, StorageErrorKind::Foreign);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("DROP TABLE people; PRAGMA application_id = 1234;")
        .unwrap();
    drop(conn);
    refused(&path, StorageErrorKind::Foreign);
}

#[test]
fn a_newer_schema_is_refused() {
    let (_dir, path) = written_db();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    refused(&path, StorageErrorKind::NewerSchema);
}

#[test]
fn a_truncated_file_is_corrupt() {
    let (_dir, path) = written_db();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    refused(&path, StorageErrorKind::Corrupt);
}

#[test]
fn a_scribbled_over_file_is_corrupt() {
    let (_dir, path) = written_db();
    let mut bytes = std::fs::read(&path).unwrap();
    let page = 4096;
    for b in &mut bytes[page..page * 2] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    refused(&path, StorageErrorKind::Corrupt);
}

/// Set in a child re-run of this test binary: the path the child checks.
const CHILD_PATH: &str = "OMG_SQLITE_READ_ONLY_CHILD";

/// Runs the test `name` of this binary again as `nobody` (root ignores file
/// modes, so a read-only check run as root would prove nothing), with
/// `path` handed over in [`CHILD_PATH`]. Runs nothing when not root: the
/// caller checks in-process then.
fn rerun_unprivileged(name: &str, path: &Path) -> bool {
    let is_root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    if !is_root {
        return false;
    }
    let output = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", name, "--test-threads=1", "--nocapture"])
        .env(CHILD_PATH, path)
        .output()
        .expect("setpriv runs the test binary as nobody");
    assert!(
        output.status.success(),
        "the unprivileged re-run failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "the unprivileged re-run did not run the test"
    );
    true
}

/// A temporary directory `nobody` can enter.
fn shared_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn a_read_only_file_is_read_only() {
    use std::os::unix::fs::PermissionsExt;
    if let Some(path) = std::env::var_os(CHILD_PATH) {
        refused(Path::new(&path), StorageErrorKind::ReadOnly);
        return;
    }
    let dir = shared_tempdir();
    let path = dir.path().join("omg.db");
    omg_db(&path);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = std::fs::read(&path).unwrap();
    if !rerun_unprivileged("a_read_only_file_is_read_only", &path) {
        refused(&path, StorageErrorKind::ReadOnly);
    }
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_read_only_directory_is_read_only() {
    use std::os::unix::fs::PermissionsExt;
    if let Some(path) = std::env::var_os(CHILD_PATH) {
        let path = Path::new(&path);
        assert_eq!(
            kind_of(SqliteStorage::open(path)),
            StorageErrorKind::ReadOnly
        );
        assert!(!path.exists());
        return;
    }
    let dir = shared_tempdir();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let path = ro.join("omg.db");
    if !rerun_unprivileged("a_read_only_directory_is_read_only", &path) {
        assert_eq!(
            kind_of(SqliteStorage::open(&path)),
            StorageErrorKind::ReadOnly
        );
    }
    assert!(!path.exists());
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_full_database_fails_publishes_with_full_and_keeps_what_was_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omg.db");
    let options = SqliteOptions::new().max_page_count(Some(64));
    let agency = Agency::builder()
        .storage(Arc::new(SqliteStorage::open_with(&path, options).unwrap()))
        .build();
    let topic = agency
        .topic::<Vec<u8>>("blobs", Delivery::ExactlyOnce)
        .unwrap();
    let publisher = topic.publisher();
    let mut committed = 0u64;
    let error = loop {
        match publisher.publish(vec![7u8; 4000]) {
            Ok(offset) => {
                assert_eq!(offset, committed);
                committed += 1;
            }
            Err(e) => break e,
        }
        assert!(committed < 1000, "64 pages never filled");
    };
    match error {
        Error::Storage(e) => assert_eq!(e.kind(), StorageErrorKind::Full, "{e}"),
        other => panic!("{other}"),
    }
    assert_eq!(topic.bounds().unwrap(), (0, committed));
    let mut cursor = topic.cursor(StartAt::Earliest).unwrap();
    for offset in 0..committed {
        assert_eq!(cursor.recv().unwrap().offset, offset);
    }
    agency.shutdown();
}

/// A batch that does not fit on a full database fails with `Full`; the
/// batches before and after it in the same transaction, which do fit,
/// commit with dense offsets. (A single-row INSERT has no statement
/// journal, so SQLITE_FULL makes SQLite roll back the whole transaction:
/// the writer applies the batches before the failed one again.)
#[test]
fn a_batch_too_big_for_a_full_database_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omg.db");
    let options = options(Duration::from_millis(5)).max_page_count(Some(100));
    let s = SqliteStorage::open_with(&path, options).unwrap();
    let _t = declare(&s, &spec("t", Delivery::ExactlyOnce));
    let busy = queue(&s, blocker(200));
    std::thread::sleep(Duration::from_millis(50));
    let before: Vec<_> = (0..10)
        .map(|i| queue(&s, WriteBatch::append(append("t", i))))
        .collect();
    let big = queue(
        &s,
        WriteBatch::append(Append::new(name("t"), vec![7; 1 << 20])),
    );
    let after: Vec<_> = (10..20)
        .map(|i| queue(&s, WriteBatch::append(append("t", i))))
        .collect();
    busy.wait().unwrap();
    let big = big.wait();
    assert!(
        matches!(&big, Err(Error::Storage(e)) if e.kind() == StorageErrorKind::Full),
        "{big:?}"
    );
    let outcome = |c: Completion| match c.wait() {
        Ok(a) => Ok(a[0].offset),
        Err(Error::Storage(e)) => Err(e.kind()),
        Err(e) => panic!("{e}"),
    };
    let offsets: Vec<_> = before.into_iter().chain(after).map(outcome).collect();
    assert_eq!(
        offsets,
        (0..20).map(Ok).collect::<Vec<_>>(),
        "the small appends that fit, before and after the big one"
    );
    let expected: Vec<_> = (0..20u8).map(|i| (u64::from(i), vec![i])).collect();
    assert_eq!(payloads(&s, "t"), expected);
}

#[test]
fn a_payload_that_no_longer_decodes_names_topic_offset_and_type() {
    let (_dir, path) = damaged_db(
        "UPDATE messages_1 SET payload = ?1 WHERE offset = 1",
        [vec![0xFFu8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]],
    );
    let (agency, topic) = numbers(&path);
    let mut cursor = topic.cursor(StartAt::Earliest).unwrap();
    assert_eq!(cursor.recv().unwrap().value, 0);
    match cursor.recv() {
        Err(RecvError::Failed(Error::Decode {
            topic,
            offset,
            type_name,
            ..
        })) => {
            assert_eq!(topic.as_str(), "numbers");
            assert_eq!(offset, 1);
            assert_eq!(type_name, "u32");
        }
        other => panic!("{other:?}"),
    }
    agency.shutdown();
}

#[test]
fn a_message_row_missing_from_the_file_is_reported_corrupt_not_skipped() {
    let (_dir, path) = damaged_db("DELETE FROM messages_1 WHERE offset = 1", []);
    let (agency, topic) = numbers(&path);
    let mut cursor = topic.cursor(StartAt::Earliest).unwrap();
    match cursor.recv() {
        Err(RecvError::Failed(e)) => assert_corrupt(&e, "numbers"),
        other => panic!("{other:?}"),
    }
    agency.shutdown();
}

#[test]
fn a_message_over_the_storage_maximum_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omg.db");
    let options = SqliteOptions::new().max_message_size(64);
    let agency = Agency::builder()
        .storage(Arc::new(SqliteStorage::open_with(&path, options).unwrap()))
        .build();
    let topic = agency
        .topic::<Vec<u8>>("blobs", Delivery::ExactlyOnce)
        .unwrap();
    let publisher = topic.publisher();
    // postcard adds a one-byte length prefix to a 63-byte vector.
    assert_eq!(publisher.publish(vec![7; 63]).unwrap(), 0);
    match publisher.publish(vec![7; 64]) {
        Err(Error::TooLarge { topic, size, max }) => {
            assert_eq!((topic.as_str(), size, max), ("blobs", 65, 64));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let refused = publisher.try_publish(vec![1; 100]).unwrap_err();
    assert!(matches!(
        refused.error(),
        Some(Error::TooLarge { size: 101, .. })
    ));
    assert_eq!(refused.into_inner().len(), 100, "the message comes back");
    assert_eq!(topic.bounds().unwrap(), (0, 1), "nothing else was appended");
}

#[test]
fn a_delivery_class_this_version_does_not_know_is_corrupt_not_guessed() {
    let (_dir, path) = damaged_db("UPDATE topics SET class = 9 WHERE name = 'numbers'", []);
    let storage = Arc::new(SqliteStorage::open(&path).unwrap());
    let says = "topic \"numbers\" is stored with an unknown delivery class (9)";
    let listed = omg::storage::Storage::topics(&*storage);
    assert_corrupt(&listed.unwrap_err(), says);
    let agency = Agency::builder().storage(storage).build();
    let declared = agency.topic::<u32>("numbers", Delivery::ExactlyOnce);
    assert_corrupt(&declared.unwrap_err(), says);
    agency.shutdown();
}

#[test]
fn a_payload_stored_as_text_is_corrupt_not_an_empty_message() {
    let (_dir, path) = damaged_db("UPDATE messages_1 SET payload = 'x' WHERE offset = 1", []);
    let (agency, topic) = numbers(&path);
    let mut cursor = topic.cursor(StartAt::Offset(1)).unwrap();
    match cursor.recv() {
        Err(RecvError::Failed(e)) => {
            assert_corrupt(
                &e,
                "topic \"numbers\": the payload at offset 1 is not a blob",
            );
        }
        other => panic!("{other:?}"),
    }
    agency.shutdown();
}

#[test]
fn a_file_another_connection_keeps_locked_is_busy() {
    let (_dir, path) = written_db();
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let mut options = SqliteOptions::new();
    options.busy_timeout = std::time::Duration::from_millis(50);
    assert_eq!(
        kind_of(SqliteStorage::open_with(&path, options)),
        StorageErrorKind::Busy
    );
    holder.execute_batch("ROLLBACK").unwrap();
    let reopened = SqliteStorage::open(&path).unwrap();
    let names: Vec<String> = omg::storage::Storage::topics(&reopened)
        .unwrap()
        .into_iter()
        .map(|t| t.name.as_str().to_owned())
        .collect();
    assert_eq!(names, ["numbers"], "opens once the lock is gone");
}
