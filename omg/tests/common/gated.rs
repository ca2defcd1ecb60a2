//! A storage that fails or holds cursor commits on demand, for the tests
//! of what a cursor does when a commit fails or is still in flight.
//!
//! Include it with `#[path = "common/gated.rs"] mod gated;` (not through
//! `mod common;`, whose other users do not need it).

#![allow(
    dead_code,
    reason = "included by several test files, each using a part of it"
)]

use std::sync::{
    Arc, Mutex, Weak,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use omg::{
    Agency, CommitPolicy, Cursor, Delivery, Error, Name, StartAt, StorageError, StorageErrorKind,
    Timestamp,
    storage::{
        Admission, BatchOutcome, Completer, Completion, IdempotencyKey, MemoryStorage, ReadBuf,
        ReadInfo, Storage, SubmitError, TopicInfo, TopicSpec, TopicWatcher, WriteBatch,
        unsupported_effect,
    },
};

/// A [`MemoryStorage`] that can fail the next cursor commits (as an I/O
/// error), hold writes pending (as a backend with a writer thread does),
/// refuse every `Admission::IfRoom` write as if its queue were full, and
/// apply [`Tag`] effects (recording those of committed batches, in order).
#[derive(Debug, Default)]
pub(crate) struct Gated {
    inner: MemoryStorage,
    /// How many of the next batches without appends (cursor commits) fail.
    pub(crate) fail_commits: AtomicUsize,
    /// While set, writes wait in `held` until [`Gated::release`].
    pub(crate) hold: AtomicBool,
    /// While set, `Admission::IfRoom` writes are refused with
    /// `SubmitError::Full`; `Admission::Queue` ones go through.
    pub(crate) full: AtomicBool,
    held: Mutex<Vec<(WriteBatch, Completer)>>,
    /// The [`Tag`]s of the committed batches, in commit order.
    tags: Mutex<Vec<u32>>,
}

/// The one backend effect [`Gated`] knows: it records the number when the
/// batch carrying it commits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tag(pub(crate) u32);

impl Gated {
    /// The [`Tag`]s of the committed batches so far, in commit order.
    pub(crate) fn committed_tags(&self) -> Vec<u32> {
        self.tags.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Applies `batch` to the memory storage, its [`Tag`] effects recorded
    /// if it commits (the memory storage itself refuses effects).
    fn apply(&self, mut batch: WriteBatch) -> BatchOutcome {
        let tags: Option<Vec<u32>> = batch
            .effects
            .iter()
            .map(|e| e.downcast_ref::<Tag>().map(|t| t.0))
            .collect();
        let Some(tags) = tags else {
            return Err(unsupported_effect());
        };
        batch.effects.clear();
        let outcome = match self.inner.submit(batch, Admission::Queue) {
            Ok(completion) => completion.wait(),
            Err(SubmitError::Failed(e, _)) => Err(e),
            Err(SubmitError::Full(_)) => unreachable!("the memory storage always queues"),
        };
        if outcome.is_ok() {
            self.tags
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(tags);
        }
        outcome
    }

    /// Stops holding writes and applies those held, completing them.
    pub(crate) fn release(&self) {
        self.hold.store(false, Ordering::SeqCst);
        let held: Vec<_> =
            std::mem::take(&mut *self.held.lock().unwrap_or_else(|p| p.into_inner()));
        for (batch, completer) in held {
            completer.complete(self.apply(batch));
        }
    }

    /// The committed position of cursor `cursor` of topic `topic`.
    pub(crate) fn stored(&self, topic: &str, cursor: &str) -> omg::Result<Option<u64>> {
        self.inner
            .cursor_position(&Name::new(topic)?, &Name::new(cursor)?)
    }
}

impl Storage for Gated {
    fn declare(&self, spec: &TopicSpec, watcher: Weak<dyn TopicWatcher>) -> omg::Result<TopicInfo> {
        self.inner.declare(spec, watcher)
    }
    fn describe(&self, topic: &Name) -> omg::Result<Option<TopicSpec>> {
        self.inner.describe(topic)
    }
    fn topics(&self) -> omg::Result<Vec<TopicSpec>> {
        self.inner.topics()
    }
    fn delete_topic(&self, topic: &Name) -> omg::Result<bool> {
        self.inner.delete_topic(topic)
    }
    fn submit(&self, batch: WriteBatch, admission: Admission) -> Result<Completion, SubmitError> {
        if admission.may_refuse() && self.full.load(Ordering::SeqCst) {
            return Err(SubmitError::Full(batch));
        }
        if batch.appends.is_empty()
            && self
                .fail_commits
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            return Ok(Completion::ready(Err(Error::Storage(StorageError::new(
                StorageErrorKind::Io,
                "injected I/O error",
            )))));
        }
        if self.hold.load(Ordering::SeqCst) {
            let (completer, completion) = Completion::pending();
            self.held
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((batch, completer));
            return Ok(completion);
        }
        if batch.effects.is_empty() {
            self.inner.submit(batch, admission)
        } else {
            Ok(Completion::ready(self.apply(batch)))
        }
    }
    fn read(
        &self,
        topic: &Name,
        from: u64,
        max: usize,
        out: &mut ReadBuf,
    ) -> omg::Result<ReadInfo> {
        self.inner.read(topic, from, max, out)
    }
    fn offset_at(&self, topic: &Name, time: Timestamp) -> omg::Result<u64> {
        self.inner.offset_at(topic, time)
    }
    fn cursor_position(&self, topic: &Name, cursor: &Name) -> omg::Result<Option<u64>> {
        self.inner.cursor_position(topic, cursor)
    }
    fn key_offset(&self, topic: &Name, key: &IdempotencyKey) -> omg::Result<Option<u64>> {
        self.inner.key_offset(topic, key)
    }
    fn trim_expired(&self, now: Timestamp) -> omg::Result<u64> {
        self.inner.trim_expired(now)
    }
    fn close(&self) {
        self.release();
        self.inner.close();
    }
}

/// An agency over a new [`Gated`] storage.
pub(crate) fn gated() -> (Arc<Gated>, Agency) {
    let storage = Arc::new(Gated::default());
    let agency = Agency::builder().storage(storage.clone()).build();
    (storage, agency)
}

/// A gated agency whose exactly-once topic `t` holds 0, 1 and 2, and a
/// named cursor `c` on it from the earliest message, with `policy`.
#[allow(
    dead_code,
    reason = "included by several test files; not all of them use it"
)]
pub(crate) fn three_messages(
    policy: CommitPolicy,
) -> omg::Result<(Arc<Gated>, Agency, Cursor<u64>)> {
    let (storage, agency) = gated();
    let topic = agency.topic::<u64>("t", Delivery::exactly_once())?;
    for n in 0..3 {
        topic.publisher().publish(n)?;
    }
    let cursor = topic
        .named_cursor("c", StartAt::Earliest)?
        .with_commit_policy(policy);
    Ok((storage, agency, cursor))
}
