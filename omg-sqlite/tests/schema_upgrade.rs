//! A file written by an older omg-sqlite opens with everything in it:
//! version 1 kept all messages in one `messages` table, version 2 gives each
//! topic a table of its own (and, since, remembers the largest deleted
//! topic id in `deleted_topics`, which files of either version gain at open).

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]
use std::{path::Path, sync::Arc};

use omg::{Agency, Delivery, StartAt, Topic};
use omg_sqlite::SqliteStorage;
use rusqlite::Connection;

fn open(path: &Path) -> Agency {
    Agency::builder()
        .storage(Arc::new(SqliteStorage::open(path).unwrap()))
        .build()
}

/// The exactly-once topic of `u32`s both tests write.
fn numbers(agency: &Agency) -> Topic<u32> {
    agency
        .topic::<u32>("numbers", Delivery::ExactlyOnce)
        .unwrap()
}

/// The first column of every row `query` returns.
fn column<T: rusqlite::types::FromSql>(conn: &Connection, query: &str) -> Vec<T> {
    conn.prepare(query)
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn topic_ids(conn: &Connection) -> Vec<i64> {
    column(conn, "SELECT id FROM topics ORDER BY id")
}

fn tables(conn: &Connection) -> Vec<String> {
    column(
        conn,
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    )
}

/// Rewrites a current file in the version 1 layout, as the first release
/// of omg-sqlite wrote it.
fn downgrade_to_v1(path: &Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "BEGIN;
         DROP TABLE deleted_topics;
         CREATE TABLE messages (
             topic_id INTEGER NOT NULL,
             offset INTEGER NOT NULL,
             ts INTEGER NOT NULL,
             payload BLOB NOT NULL,
             PRIMARY KEY (topic_id, offset)
         ) WITHOUT ROWID;",
    )
    .unwrap();
    for id in topic_ids(&conn) {
        conn.execute_batch(&format!(
            "INSERT INTO messages SELECT {id}, offset, ts, payload FROM messages_{id};
             DROP TABLE messages_{id};"
        ))
        .unwrap();
    }
    conn.execute_batch("PRAGMA user_version = 1; COMMIT;")
        .unwrap();
}

#[test]
fn a_version_1_file_opens_with_its_messages_keys_and_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omg.db");
    {
        let agency = open(&path);
        let numbers = numbers(&agency);
        for (i, key) in ["k0", "k1", "k2"].into_iter().enumerate() {
            let value = 10 + u32::try_from(i).unwrap();
            numbers.publisher().publish_keyed(key, value).unwrap();
        }
        let mut reader = numbers.named_cursor("reader", StartAt::Earliest).unwrap();
        assert_eq!(reader.recv().unwrap().value, 10);
        reader.commit().unwrap();
        let words = agency
            .topic::<String>("words", Delivery::at_least_once())
            .unwrap();
        words.publisher().publish("kept".into()).unwrap();
        agency.shutdown();
    }
    downgrade_to_v1(&path);

    let agency = open(&path);
    let numbers = numbers(&agency);
    let mut reader = numbers.named_cursor("reader", StartAt::Earliest).unwrap();
    assert_eq!(reader.position(), 1);
    let rest: Vec<(u64, u32)> = (0..2)
        .map(|_| reader.recv().unwrap())
        .map(|r| (r.offset, r.value))
        .collect();
    assert_eq!(rest, [(1, 11), (2, 12)]);
    assert_eq!(numbers.publisher().publish_keyed("k1", 99).unwrap(), 1);
    assert_eq!(numbers.publisher().publish(13).unwrap(), 3);
    assert_eq!(numbers.bounds().unwrap(), (0, 4));
    let words = agency
        .topic::<String>("words", Delivery::at_least_once())
        .unwrap();
    let mut cursor = words.cursor(StartAt::Earliest).unwrap();
    assert_eq!(cursor.recv().unwrap().value, "kept");

    let conn = Connection::open(&path).unwrap();
    let version: i32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    assert_eq!(
        tables(&conn),
        [
            "cursors",
            "deleted_topics",
            "keys",
            "messages_1",
            "messages_2",
            "topics"
        ]
    );
    agency.shutdown();
}

/// A deleted topic's table goes with it, and its id is never given out
/// again — also when it was the largest, and across a reopen: watchers (of
/// any process) tell a re-created topic from the deleted one by its id.
#[test]
fn deleting_a_topic_drops_its_table_and_retires_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omg.db");
    let agency = open(&path);
    let numbers = numbers(&agency);
    numbers.publisher().publish(1).unwrap();
    let conn = Connection::open(&path).unwrap();
    assert!(tables(&conn).contains(&"messages_1".to_owned()));
    assert!(agency.delete_topic("numbers").unwrap());
    assert_eq!(
        tables(&conn),
        ["cursors", "deleted_topics", "keys", "topics"]
    );
    self::numbers(&agency).publisher().publish(2).unwrap();
    assert_eq!(topic_ids(&conn), [2]);
    assert!(agency.delete_topic("numbers").unwrap());
    agency.shutdown();
    let agency = open(&path);
    self::numbers(&agency).publisher().publish(3).unwrap();
    assert_eq!(topic_ids(&conn), [3]);
    assert_eq!(
        tables(&conn),
        ["cursors", "deleted_topics", "keys", "messages_3", "topics"]
    );
    agency.shutdown();
}
