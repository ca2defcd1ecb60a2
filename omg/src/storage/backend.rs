//! The [`Storage`] trait.

use std::{
    fmt,
    sync::{Arc, Weak},
};

use super::{
    Admission, Appended, Completion, IdempotencyKey, ReadBuf, ReadInfo, StorageStats, SubmitError,
    WriteBatch,
};
use crate::{Delivery, Name, Result, Timestamp};

/// A durable topic's declaration as a storage keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// The topic's name.
    pub name: Name,
    /// Its delivery class and options (always durable in a storage).
    pub delivery: Delivery,
    /// The Rust type name of its messages, checked on every redeclaration.
    pub message_type: String,
}

impl TopicSpec {
    /// Human-readable form used in [`Error::TopicMismatch`](crate::Error::TopicMismatch).
    pub fn describe(&self) -> String {
        format!("{} of {}", self.delivery, self.message_type)
    }
}

/// A topic's retained range when it was declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TopicInfo {
    /// The oldest retained offset.
    pub first_offset: u64,
    /// The offset the next append will get (the head).
    pub next_offset: u64,
}

/// Told by a storage when a topic's committed head moves, so blocked cursors
/// wake. Storages hold watchers weakly and drop dead ones.
pub trait TopicWatcher: Send + Sync {
    /// Messages up to `next_offset` (exclusive) are committed and readable.
    /// Called after the commit, never while a storage lock is held that
    /// [`Storage::read`] needs.
    fn committed(&self, next_offset: u64);

    /// The topic was deleted (possibly by another process).
    fn deleted(&self) {}

    /// The storage was closed ([`Storage::close`]): nothing more will be
    /// committed to or read from it. A storage should tell each of its
    /// watchers once, after closing, so that readers blocked on it wake — also
    /// those of another agency sharing the storage, which did not shut down;
    /// the core's handles then fail with [`Error::Storage`](crate::Error::Storage)
    /// of kind [`Closed`](crate::StorageErrorKind::Closed) (or
    /// [`Error::ShutDown`](crate::Error::ShutDown) if their own agency shut
    /// down). The default does nothing.
    fn closed(&self) {}
}

/// A durable storage for at-least-once and exactly-once topics.
///
/// Implementations must give these guarantees, which the conformance kit
/// (`omg::testkit`, feature `testkit`) checks:
///
/// - offsets of a topic are dense (0, 1, 2, …) and assigned at commit;
/// - a batch is atomic: all its appends and cursor commits, or none;
/// - an append whose idempotency key the topic already holds appends nothing
///   and reports the first offset ([`Appended::duplicate`](super::Appended));
/// - an append with an expected offset fails the batch with
///   [`Error::Conflict`](crate::Error::Conflict) when the topic is elsewhere;
/// - reads never return uncommitted records (read-committed);
/// - timestamps are non-decreasing within a topic (the storage raises a
///   timestamp that would go backwards to its predecessor's);
/// - every watcher of a topic is told about every commit to it, before the
///   commit's completions are delivered: a publisher that got `Ok` and then
///   reads through a cursor finds its message.
pub trait Storage: Send + Sync + fmt::Debug + 'static {
    /// Creates the topic, or checks that an existing one has the same
    /// delivery and message type ([`Error::TopicMismatch`](crate::Error::TopicMismatch)
    /// otherwise), and registers `watcher` for its commits.
    fn declare(&self, spec: &TopicSpec, watcher: Weak<dyn TopicWatcher>) -> Result<TopicInfo>;

    /// The declaration of `topic`, if it exists.
    fn describe(&self, topic: &Name) -> Result<Option<TopicSpec>>;

    /// Every topic in the storage.
    fn topics(&self) -> Result<Vec<TopicSpec>>;

    /// Deletes the topic with its messages, cursors and idempotency keys.
    /// Returns whether it existed.
    fn delete_topic(&self, topic: &Name) -> Result<bool>;

    /// Submits a batch. Never blocks on I/O: with [`Admission::IfRoom`] a
    /// full write queue returns the batch in [`SubmitError::Full`].
    #[expect(
        clippy::result_large_err,
        reason = "a refused batch comes back by value so nothing is lost; refusals are the rare path"
    )]
    fn submit(&self, batch: WriteBatch, admission: Admission) -> Result<Completion, SubmitError>;

    /// A handle for appending to `topic` on the caller's thread, for a
    /// storage that applies writes inline and completes them before
    /// [`submit`](Self::submit) returns (the in-memory storage). The core
    /// asks once, when it declared a durable topic with `watcher`, and then
    /// publishes single messages through the handle instead of `submit`: no
    /// batch, no completion, no topic lookup per message. A storage with a
    /// writer thread has nothing to offer here and keeps the default, `None`.
    ///
    /// The handle's appends tell every watcher of the topic of the commit
    /// *except* `watcher`: its owner learns the new head from the returned
    /// [`Appended`] and advances it itself, which spares a publish the
    /// round trip through the storage's watcher list.
    ///
    /// The handle belongs to the topic as it is now: once the topic is
    /// deleted its appends fail with [`Error::UnknownTopic`](crate::Error::UnknownTopic)
    /// (also after the name was declared again), once the storage is
    /// closed with [`StorageErrorKind::Closed`](crate::StorageErrorKind::Closed).
    fn inline_log(
        &self,
        topic: &Name,
        watcher: &Weak<dyn TopicWatcher>,
    ) -> Option<Arc<dyn InlineLog>> {
        let _ = (topic, watcher);
        None
    }

    /// Copies up to `max` committed records of `topic` starting at `from`
    /// (or at the oldest retained offset if `from` was trimmed) into `out`,
    /// which is cleared first. Returns the retained range at read time.
    fn read(&self, topic: &Name, from: u64, max: usize, out: &mut ReadBuf) -> Result<ReadInfo>;

    /// The first offset whose timestamp is at or after `time`, or the head.
    fn offset_at(&self, topic: &Name, time: Timestamp) -> Result<u64>;

    /// The committed position of a named cursor, if it ever committed.
    fn cursor_position(&self, topic: &Name, cursor: &Name) -> Result<Option<u64>>;

    /// The offset of the committed message that `topic` appended with
    /// `key`, if the topic holds that key. Lets a caller learn the outcome of
    /// an earlier keyed write *before* deciding again (agents return the
    /// earlier outcome of a repeated causation id). The default answers
    /// `None` — "not known" — for storages without key lookups; appends
    /// are still deduplicated by [`Storage::submit`].
    fn key_offset(&self, topic: &Name, key: &IdempotencyKey) -> Result<Option<u64>> {
        let _ = (topic, key);
        Ok(None)
    }

    /// Trims at-least-once messages (and their idempotency keys) older than
    /// their topic's retention at `now`. Backends also do this in the
    /// background; this call makes it happen now. Returns how many messages
    /// were removed.
    fn trim_expired(&self, now: Timestamp) -> Result<u64>;

    /// Figures for monitoring: pending writes, commits, last commit
    /// latency. The default (for storages that complete inline) reports
    /// nothing pending and no commit timed.
    fn stats(&self) -> StorageStats {
        StorageStats::default()
    }

    /// Flushes what was submitted, completes it, and refuses anything after.
    /// A storage should then tell every watcher ([`TopicWatcher::closed`]),
    /// so that readers of other agencies sharing it wake;
    /// [`MemoryStorage`](super::MemoryStorage) does.
    fn close(&self);
}

/// One durable topic of a storage that applies writes inline, handed out by
/// [`Storage::inline_log`].
pub trait InlineLog: Send + Sync + fmt::Debug {
    /// Appends one message exactly as submitting a batch of this one append
    /// would, and returns when it is committed: a `key` the topic already
    /// holds appends nothing and reports the first offset, the timestamp is
    /// raised to its predecessor's, and every watcher of the topic but the
    /// handle's own is told of the commit before this returns.
    fn append(
        &self,
        payload: &[u8],
        timestamp: Timestamp,
        key: Option<&IdempotencyKey>,
    ) -> Result<Appended>;
}

// The core holds backends as `Arc<dyn Storage>`: keep the traits object-safe.
const _: Option<&dyn Storage> = None;
const _: Option<&dyn InlineLog> = None;

impl Admission {
    /// Whether a full queue may refuse the batch.
    pub fn may_refuse(self) -> bool {
        matches!(self, Self::IfRoom)
    }
}
