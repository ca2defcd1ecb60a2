//! `close` flushes what was submitted, completes it and tells the watchers,
//! before it returns to any caller; and the last handle may be dropped
//! anywhere, even on the storage's own threads, without a hang.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use omg::{
    Delivery,
    storage::{Storage, WriteBatch},
};
use omg_sqlite::{SqlEffect, SqliteStorage};

mod common;

use common::{append, blocker, declare, options, queue, spec};

/// A second `close` racing the first must not return before the flush
/// either; and by then the watchers were told the storage closed.
#[test]
fn close_returns_only_after_what_was_submitted_is_completed_for_every_caller() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omg.db");
    let s = Arc::new(SqliteStorage::open_with(&path, options(Duration::from_millis(5))).unwrap());
    let watch = declare(&s, &spec("t", Delivery::ExactlyOnce));
    let busy = queue(&s, blocker(300));
    let mut mine = queue(&s, WriteBatch::append(append("t", 1)));
    let first = {
        let s = s.clone();
        std::thread::spawn(move || s.close())
    };
    std::thread::sleep(Duration::from_millis(50));
    s.close();
    let done_when_close_returned = mine.try_take();
    let closed_when_close_returned = watch.was_closed();
    first.join().unwrap();
    let _ = busy.wait();
    assert!(
        done_when_close_returned.is_some(),
        "close() returned while a batch submitted before it was still pending"
    );
    assert_eq!(done_when_close_returned.unwrap().unwrap()[0].offset, 0);
    assert!(closed_when_close_returned, "the watcher was not told");
}

/// Drops the storage handle it holds, then says so.
struct Guard(Option<Arc<SqliteStorage>>, Arc<AtomicBool>);

impl Drop for Guard {
    fn drop(&mut self) {
        drop(self.0.take());
        self.1.store(true, Ordering::SeqCst);
    }
}

/// The last handle to the storage may go with a completed batch (here an
/// effect holding a handle, its receipt dropped): the batch is then freed
/// on the thread delivering completions, which the writer waits for.
/// Dropping the storage there starts the close and returns; the writer
/// finishes it by itself.
#[test]
fn dropping_the_last_handle_with_a_completed_batch_does_not_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omg.db");
    let s = Arc::new(SqliteStorage::open_with(&path, options(Duration::from_millis(5))).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let guard = Guard(Some(s.clone()), done.clone());
    let mut batch = WriteBatch::new();
    batch.push_effect(
        SqlEffect::new(move |_| {
            let _held = &guard;
            Ok(())
        })
        .into(),
    );
    drop(queue(&s, batch));
    drop(s);
    let deadline = Instant::now() + Duration::from_secs(3);
    while !done.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        done.load(Ordering::SeqCst),
        "the storage's drop on the notifier never finished"
    );
    // Nothing was left half-done: the file opens again.
    let again = SqliteStorage::open(&path).unwrap();
    again.close();
}
