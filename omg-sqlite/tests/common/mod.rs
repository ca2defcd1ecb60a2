//! Helpers shared by the tests that drive a [`SqliteStorage`] directly:
//! names and specs, a watcher that records what it is told, submitting
//! batches, and a batch that keeps the writer busy.
#![allow(dead_code, reason = "each test file uses a part of the helpers")]
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::{
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use omg::{
    Delivery, Name,
    storage::{
        Admission, Append, BatchOutcome, Completion, ReadBuf, Storage, TopicSpec, TopicWatcher,
        WriteBatch,
    },
};
use omg_sqlite::{Durability, SqlEffect, SqliteOptions, SqliteStorage};

/// A watcher that records every head it is told, and whether its topic was
/// deleted or its storage closed.
#[derive(Default)]
pub(crate) struct Watch {
    head: AtomicU64,
    deleted: AtomicBool,
    closed: AtomicBool,
    seen: Mutex<Vec<u64>>,
}

impl TopicWatcher for Watch {
    fn committed(&self, next_offset: u64) {
        self.head.fetch_max(next_offset, Ordering::SeqCst);
        self.seen.lock().unwrap().push(next_offset);
    }

    fn deleted(&self) {
        self.deleted.store(true, Ordering::SeqCst);
    }

    fn closed(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }
}

impl Watch {
    /// The highest head it was told.
    pub(crate) fn head(&self) -> u64 {
        self.head.load(Ordering::SeqCst)
    }

    /// Whether it was told its topic was deleted.
    pub(crate) fn was_deleted(&self) -> bool {
        self.deleted.load(Ordering::SeqCst)
    }

    /// Whether it was told its storage closed.
    pub(crate) fn was_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Every head it was told, in order.
    pub(crate) fn seen(&self) -> Vec<u64> {
        self.seen.lock().unwrap().clone()
    }
}

/// No watcher.
pub(crate) fn nobody() -> Weak<dyn TopicWatcher> {
    Weak::<Watch>::new()
}

pub(crate) fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

/// A topic of bytes.
pub(crate) fn spec(topic: &str, delivery: Delivery) -> TopicSpec {
    TopicSpec {
        name: name(topic),
        delivery,
        message_type: "bytes".into(),
    }
}

/// Declares the topic with a new [`Watch`].
pub(crate) fn declare(s: &SqliteStorage, spec: &TopicSpec) -> Arc<Watch> {
    let watch = Arc::new(Watch::default());
    let weak: Weak<dyn TopicWatcher> = Arc::downgrade(&watch) as Weak<dyn TopicWatcher>;
    s.declare(spec, weak).unwrap();
    watch
}

/// Queues the batch (it must be accepted).
pub(crate) fn queue(s: &SqliteStorage, batch: WriteBatch) -> Completion {
    match s.submit(batch, Admission::Queue) {
        Ok(c) => c,
        Err(_) => panic!("refused"),
    }
}

/// Queues the batch and waits for its outcome.
pub(crate) fn submit(s: &SqliteStorage, batch: WriteBatch) -> BatchOutcome {
    queue(s, batch).wait()
}

/// An append of one byte.
pub(crate) fn append(topic: &str, byte: u8) -> Append {
    Append::new(name(topic), vec![byte])
}

/// Every record of the topic: offset and payload.
pub(crate) fn payloads(s: &SqliteStorage, topic: &str) -> Vec<(u64, Vec<u8>)> {
    let mut buf = ReadBuf::new();
    s.read(&name(topic), 0, 1_000_000, &mut buf).unwrap();
    buf.iter().map(|r| (r.offset, r.payload.to_vec())).collect()
}

/// A batch that keeps the writer busy in its transaction for `ms`: whatever
/// is submitted meanwhile lands in the next transaction, together.
pub(crate) fn blocker(ms: u64) -> WriteBatch {
    let mut batch = WriteBatch::new();
    batch.push_effect(
        SqlEffect::new(move |_| {
            std::thread::sleep(Duration::from_millis(ms));
            Ok(())
        })
        .into(),
    );
    batch
}

/// Fast (not synced) options polling other processes' commits every
/// `watch_every`.
pub(crate) fn options(watch_every: Duration) -> SqliteOptions {
    let mut options = SqliteOptions::default().durability(Durability::Normal);
    options.watch_interval = watch_every;
    options
}
