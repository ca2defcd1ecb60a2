//! Every watcher of a topic is told of every commit to it, before the
//! commit's completions are delivered — also when it was declared in the
//! same transaction — and a topic deleted and created again, here or by
//! another process, is a new topic: the old one's watchers are told it was
//! deleted, the new one's hear its commits.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::{
    sync::{Arc, Weak},
    time::{Duration, Instant},
};

use omg::{
    Delivery,
    storage::{Storage, TopicWatcher, WriteBatch},
};
use omg_sqlite::SqliteStorage;

mod common;

use common::{Watch, append, blocker, declare, name, options, queue, spec};

/// Waits up to `limit` for `done`; returns whether it came.
fn within(limit: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// Three appends to `topic` in one batch, waited for.
fn three(s: &SqliteStorage, topic: &str) {
    let mut batch = WriteBatch::new();
    for i in 0..3 {
        batch.push_append(append(topic, i));
    }
    queue(s, batch).wait().unwrap();
}

/// Another process deletes a topic and creates it again between two polls
/// of this process's watch thread (the new topic even gets further than
/// the old one): this process's watchers of the old topic must be told it
/// was deleted — their cursors would otherwise read the new topic's offsets
/// as if they continued the old one.
#[test]
fn a_topic_deleted_and_recreated_by_another_process_is_reported_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omg.db");
    let here = SqliteStorage::open_with(&path, options(Duration::from_millis(1000))).unwrap();
    let there = SqliteStorage::open_with(&path, options(Duration::from_millis(5))).unwrap();
    let t = spec("t", Delivery::ExactlyOnce);
    let old = declare(&here, &t);
    three(&here, "t");
    // The other process: delete, declare again, append (a few ms in all).
    assert!(there.delete_topic(&name("t")).unwrap());
    let _theirs = declare(&there, &t);
    let mut five = WriteBatch::new();
    for i in 0..5 {
        five.push_append(append("t", i));
    }
    queue(&there, five).wait().unwrap();
    assert!(
        within(Duration::from_secs(3), || old.was_deleted()),
        "the old topic's watcher was never told it was deleted; it was told heads {:?}",
        old.seen()
    );
}

/// This process deletes and re-declares a topic; another process then
/// appends as many messages as the old topic had. The new watcher must be
/// told of those commits (the same head as before, but of another topic).
#[test]
fn a_redeclared_topic_hears_another_processes_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omg.db");
    let here = SqliteStorage::open_with(&path, options(Duration::from_millis(50))).unwrap();
    let there = SqliteStorage::open_with(&path, options(Duration::from_millis(5))).unwrap();
    let t = spec("t", Delivery::ExactlyOnce);
    let old = declare(&here, &t);
    three(&here, "t");
    // Let this process's watch thread see head 3 once.
    std::thread::sleep(Duration::from_millis(300));
    assert!(here.delete_topic(&name("t")).unwrap());
    assert!(old.was_deleted());
    let new = declare(&here, &t);
    let _theirs = declare(&there, &t);
    three(&there, "t");
    assert!(
        within(Duration::from_secs(3), || new.head() == 3),
        "another process committed 3 messages to the re-declared topic; its watcher heard {:?}",
        new.seen()
    );
    assert!(!new.was_deleted());
}

/// A watcher declared in the same transaction as later appends to its topic
/// is a watcher of that topic when those appends commit: it must be told
/// before their completions are delivered (the `Storage` contract).
#[test]
fn a_watcher_declared_in_a_drain_is_told_of_the_appends_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omg.db");
    let s = Arc::new(SqliteStorage::open_with(&path, options(Duration::from_secs(3))).unwrap());
    let t = spec("t", Delivery::ExactlyOnce);
    let _first = declare(&s, &t);
    let busy = queue(&s, blocker(300));
    std::thread::sleep(Duration::from_millis(50));
    let second = {
        let s = s.clone();
        let t = t.clone();
        std::thread::spawn(move || {
            let watch = Arc::new(Watch::default());
            let weak: Weak<dyn TopicWatcher> = Arc::downgrade(&watch) as Weak<dyn TopicWatcher>;
            let info = s.declare(&t, weak).unwrap();
            (watch, info)
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let appended = queue(&s, WriteBatch::append(append("t", 1)));
    let out = appended.wait().unwrap();
    let head_when_completed = {
        let (watch, info) = second.join().unwrap();
        assert_eq!(
            (out[0].offset, info.next_offset),
            (0, 0),
            "declare ran first"
        );
        watch.head()
    };
    busy.wait().unwrap();
    assert_eq!(
        head_when_completed, 1,
        "the append committed after the declare, but its watcher still knew head {head_when_completed}"
    );
}
