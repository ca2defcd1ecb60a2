//! Cursors: a reader's position in a topic, kept apart from the storage.
//!
//! One state machine ([`Cursor::step`]) serves every flavour: `recv` blocks
//! on the cursor's signal, `recv_async` / `Stream` poll it, `try_recv`
//! returns `Empty`. Messages are copied (ring) or read (storage) in batches
//! into the cursor's own buffer, so most calls take no lock and do no I/O.
//! They do load one atomic, the topic's lifecycle, so that a cursor fails as
//! soon as its agency shuts down or its durable topic is deleted. (A cursor
//! of a deleted at-most-once topic still hands out what it copied before:
//! the ring keeps its lifecycle under its lock.)

use std::{
    collections::VecDeque,
    fmt,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll, Waker},
    time::{Duration, Instant},
};

use crate::{
    Error, Message, Name, Receipt, Record, RecvError, Result, StorageErrorKind, Timestamp, Topic,
    TryRecvError, blocking,
    receipt::{Origin, Settled},
    ring::ChunkCache,
    signal::Signal,
    storage::{Admission, Completion, CursorCommit, ReadBuf, SubmitError, WriteBatch},
    topic::Kind,
};

/// How many messages a cursor takes per refill of a ring.
const BATCH: usize = 256;

/// Looks that find nothing before a reader registers to be woken by the
/// next publish, yielding its task (async) or thread (blocking) after each.
/// A publish that has to wake a reader pays for it (a system call when the
/// reader sleeps, one per sleeping reader); a reader that has just caught
/// up usually finds the next message after yielding a few times, at the
/// cost of a look each. Without it, four blocking readers fast enough to
/// catch up made every publish wake four threads, and `fanout4_threads`
/// fell to 0.74–0.87 of tokio's broadcast in two of five runs.
const YIELDS_BEFORE_WAITING: u8 = 16;

/// Yields the thread after a look that found nothing; returns the count of
/// such looks.
fn yield_thread(idle: u8) -> u8 {
    std::thread::yield_now();
    idle + 1
}

/// About how many payload bytes a durable refill reads: each read of a
/// storage costs a round trip (a read transaction with SQLite), so small
/// messages are read thousands at a time and large ones fewer, keeping a
/// lagging cursor's buffer near this size.
const READ_BYTES: usize = 256 * 1024;
/// Bounds of a durable refill, in messages.
const READ_MIN: usize = 16;
const READ_MAX: usize = 4096;

/// Where a new cursor starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartAt {
    /// The oldest retained message.
    Earliest,
    /// Only messages published after the cursor opened.
    Latest,
    /// A given offset. If it is no longer retained, the first read reports
    /// the gap as a lag; if it is beyond the head, the cursor waits for it.
    Offset(u64),
    /// The first message published at or after this time.
    Time(Timestamp),
}

/// When a named cursor commits its position. An anonymous cursor never commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CommitPolicy {
    /// At-least-once processing (the default): a message counts as processed
    /// when the next receive is called, and the processed position is
    /// committed whenever the cursor refills or is about to wait — never a
    /// message the caller has not finished with. After a crash, what was
    /// received but not yet followed by another receive is delivered again.
    #[default]
    AfterProcessing,
    /// At-most-once processing: `recv`, `recv_timeout`, `recv_async`,
    /// `poll_recv`, the `Iterator` and the `Stream` commit *past* a message
    /// before returning it and wait for that commit; `try_recv` hands the
    /// commit to the storage without waiting (a failure is reported by the
    /// next `try_recv`, before it takes a message). After a crash, a message
    /// that was being processed is not delivered again.
    ///
    /// A message whose commit failed is not handed out: the call reports
    /// the error and the next receive returns the same message, committing
    /// again. An async receive dropped while its commit is in flight
    /// consumes nothing either; the next receive waits for that commit.
    BeforeProcessing,
    /// Only [`Cursor::commit`] and its flavours commit.
    Manual,
}

/// A reader's position in a topic. Not shared: each reader owns its cursor.
///
/// | blocking | async | non-blocking |
/// |---|---|---|
/// | [`recv`](Self::recv), [`Iterator`] | [`recv_async`](Self::recv_async), [`Stream`](futures_core::Stream) | [`try_recv`](Self::try_recv) |
///
/// Every flavour reports gaps: when messages were lost before the cursor
/// read them (ring overwritten, retention trimmed), the next call returns
/// `Lagged(n)` and the call after returns the oldest message still there.
pub struct Cursor<T> {
    topic: Topic<T>,
    signal: Signal,
    /// The next offset to hand out.
    position: u64,
    /// Messages found missing during a refill, reported before anything else.
    gap: u64,
    /// Handed out by this handle, and reported lost to it (figures only).
    delivered: u64,
    missed: u64,
    /// Polls in a row that found nothing (see [`YIELDS_BEFORE_WAITING`]).
    idle_polls: u8,
    buffer: Buffer<T>,
    named: Option<Named>,
}

enum Buffer<T> {
    Ring {
        records: VecDeque<Record<T>>,
        fetch: u64,
        chunk: ChunkCache<T>,
    },
    Durable {
        read: ReadBuf,
        index: usize,
        fetch: u64,
        /// Messages to ask for next, from the last read's payload sizes.
        want: usize,
    },
}

struct Named {
    name: Name,
    policy: CommitPolicy,
    /// The last position known to be committed: found when the cursor
    /// opened, or confirmed by the outcome of one of its commits. A commit
    /// handed to the storage does not count before it succeeded.
    committed: u64,
    /// The storage may hold another position than `committed` (after a
    /// `seek`, a failed commit, or a commit whose outcome was not awaited):
    /// the next commit writes even `committed`.
    unsure: bool,
    /// The last commit handed to the storage whose outcome the cursor has
    /// not seen yet. Checked before the next, so that a background
    /// commit's failure is reported rather than swallowed.
    pending: Option<Pending>,
}

/// A commit of `position`, submitted.
struct Pending {
    position: u64,
    outcome: Outcome,
}

/// Where a pending commit's outcome will come from.
enum Outcome {
    /// Its completion, not waited on yet (a background commit).
    Completion(Completion),
    /// The completion being awaited by `poll_recv`, `recv_async` or
    /// `commit_async`. Kept when their future is dropped, so the next poll
    /// goes on waiting for the same commit. The mutex only makes the cursor
    /// `Sync`; it is reached through `&mut self`.
    Awaited(Mutex<Waiting>),
    /// Handed to a `try_commit` receipt, which tells the origin how the
    /// commit ended once its result is taken.
    Receipt(Arc<Origin>),
}

type Waiting = Pin<Box<dyn Future<Output = Result<()>> + Send>>;

/// What one turn of the state machine produced.
enum Step<T> {
    Ready(Record<T>),
    Missed(u64),
    /// Nothing yet; when asked to, the cursor's signal was registered.
    Empty,
}

impl<T: Message> Cursor<T> {
    pub(crate) fn open(topic: Topic<T>, name: Option<Name>, start: StartAt) -> Result<Self> {
        let committed = match (&name, &topic.kind) {
            (Some(name), Kind::Durable(d)) => {
                d.check()?;
                topic
                    .storage()
                    .cursor_position(&topic.name, name)
                    .map_err(|e| topic.agency.explain(&topic.name, e))?
            }
            _ => None,
        };
        let position = match committed {
            Some(position) => position,
            None => resolve(&topic, start)?,
        };
        let buffer = match &topic.kind {
            Kind::Ring(_) => Buffer::Ring {
                records: VecDeque::new(),
                fetch: position,
                chunk: ChunkCache::default(),
            },
            Kind::Durable(_) => Buffer::Durable {
                read: ReadBuf::new(),
                index: 0,
                fetch: position,
                want: BATCH,
            },
        };
        let named = name.map(|name| Named {
            name,
            policy: CommitPolicy::default(),
            committed: committed.unwrap_or(position),
            unsure: false,
            pending: None,
        });
        Ok(Self {
            topic,
            signal: Signal::new(),
            position,
            gap: 0,
            delivered: 0,
            missed: 0,
            idle_polls: 0,
            buffer,
            named,
        })
    }

    /// Sets when this named cursor commits (see [`CommitPolicy`]).
    #[must_use]
    pub fn with_commit_policy(mut self, policy: CommitPolicy) -> Self {
        if let Some(named) = &mut self.named {
            named.policy = policy;
        }
        self
    }

    /// The topic this cursor reads.
    pub fn topic(&self) -> &Topic<T> {
        &self.topic
    }

    /// The next offset this cursor hands out.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The cursor's name, if it is a named cursor.
    pub fn name(&self) -> Option<&Name> {
        self.named.as_ref().map(|n| &n.name)
    }

    /// The last position known to be committed: found when the cursor
    /// opened, or written by a commit of this cursor that succeeded (a
    /// `try_commit` once its receipt's result was taken). A commit that
    /// failed or is still in flight does not count; neither does a
    /// [`seek`](Self::seek).
    pub fn committed(&self) -> Option<u64> {
        self.named.as_ref().map(|n| n.committed)
    }

    /// How many messages this handle handed out.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// How many messages were reported lost to this handle (the sum of its
    /// `Lagged(n)` reports).
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// When this named cursor commits; `None` for an anonymous cursor.
    pub fn commit_policy(&self) -> Option<CommitPolicy> {
        self.policy()
    }

    /// How many messages are published but not yet handed out.
    ///
    /// # Errors
    /// See [`Topic::bounds`].
    pub fn lag(&self) -> Result<u64> {
        let (_, head) = self.topic.bounds()?;
        Ok(head.saturating_sub(self.position))
    }

    /// Moves the cursor (a named cursor commits the new position on its next
    /// commit, even if it equals [`committed`](Self::committed); commits
    /// still in flight no longer count). `seek(StartAt::Earliest)` rebuilds
    /// a projection from scratch.
    ///
    /// # Errors
    /// Those of resolving `start` (see [`Topic::cursor`]).
    pub fn seek(&mut self, start: StartAt) -> Result<()> {
        let position = resolve(&self.topic, start)?;
        self.position = position;
        self.gap = 0;
        match &mut self.buffer {
            Buffer::Ring { records, fetch, .. } => {
                records.clear();
                *fetch = position;
            }
            Buffer::Durable {
                read, index, fetch, ..
            } => {
                read.clear();
                *index = 0;
                *fetch = position;
            }
        }
        if let Some(named) = &mut self.named {
            named.pending = None;
            named.unsure = true;
        }
        Ok(())
    }

    /// Blocks until a message is available.
    ///
    /// # Errors
    /// [`RecvError::Lagged`] once per gap; [`RecvError::Failed`] with
    /// [`Error::ShutDown`] or [`Error::Deleted`] (from the moment the agency
    /// shut down or the durable topic was deleted, even with messages read
    /// ahead),
    /// [`Error::Decode`] (the cursor moves past the undecodable message), a
    /// storage error (with [`CommitPolicy::BeforeProcessing`], a failed
    /// commit: the message is returned by the next receive), or
    /// [`Error::BlockingForbidden`].
    pub fn recv(&mut self) -> Result<Record<T>, RecvError> {
        blocking::check("Cursor::recv")?;
        let mut idle = 0;
        loop {
            let register = idle >= YIELDS_BEFORE_WAITING;
            match self.step(register)? {
                Step::Ready(record) => return self.before_processing_blocking(record),
                Step::Missed(n) => return Err(RecvError::Lagged(n)),
                Step::Empty if !register => idle = yield_thread(idle),
                Step::Empty => self.signal.wait(),
            }
        }
    }

    /// Like [`recv`](Self::recv), giving up at `timeout` with `Ok(None)`.
    /// A timeout beyond what the clock can represent (`Duration::MAX`)
    /// waits as long as it takes.
    ///
    /// # Errors
    /// See [`recv`](Self::recv).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Record<T>>, RecvError> {
        blocking::check("Cursor::recv_timeout")?;
        let deadline = Instant::now().checked_add(timeout);
        let mut idle = 0;
        loop {
            let register = idle >= YIELDS_BEFORE_WAITING;
            match self.step(register)? {
                Step::Ready(record) => return self.before_processing_blocking(record).map(Some),
                Step::Missed(n) => return Err(RecvError::Lagged(n)),
                Step::Empty if deadline.is_some_and(|d| Instant::now() >= d) => return Ok(None),
                Step::Empty if !register => idle = yield_thread(idle),
                Step::Empty => match deadline {
                    None => self.signal.wait(),
                    Some(deadline) => self.signal.wait_until(deadline),
                },
            }
        }
    }

    /// Waits asynchronously for a message. Cancel-safe: a dropped future
    /// consumes no message (with [`CommitPolicy::BeforeProcessing`], the
    /// commit it was waiting for stays in flight and the next receive
    /// waits for it before returning the same message).
    ///
    /// # Errors
    /// See [`recv`](Self::recv), except `BlockingForbidden`.
    pub async fn recv_async(&mut self) -> Result<Record<T>, RecvError> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Returns a message if one is available, without blocking.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] when nothing is new, otherwise as
    /// [`recv`](Self::recv); with [`CommitPolicy::BeforeProcessing`], the
    /// failure of the commit the previous call handed to the storage (no
    /// message is taken then).
    pub fn try_recv(&mut self) -> Result<Record<T>, TryRecvError> {
        let before = self.policy() == Some(CommitPolicy::BeforeProcessing);
        if before {
            self.settle()?;
        }
        match self.step(false)? {
            Step::Ready(record) => {
                if before && let Err(e) = self.commit_in_background() {
                    self.unread(record);
                    return Err(e.into());
                }
                Ok(record)
            }
            Step::Missed(n) => Err(TryRecvError::Lagged(n)),
            Step::Empty => Err(TryRecvError::Empty),
        }
    }

    /// Polls for a message, registering `cx`'s waker when there is none.
    /// The building block of [`recv_async`](Self::recv_async) and of the
    /// `Stream` implementation. With [`CommitPolicy::BeforeProcessing`] it
    /// returns a message once its commit succeeded, `Pending` until then.
    ///
    /// A cursor that has just caught up first wakes its own task a few
    /// times (16 polls in a row that find nothing), yielding to the
    /// executor, and only then registers to be woken by the next publish:
    /// the next message usually arrives within those turns, and waking a
    /// registered task costs the publisher far more than a re-poll costs
    /// the reader. An idle topic still leaves the task asleep.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Record<T>, RecvError>> {
        loop {
            let register = self.idle_polls >= YIELDS_BEFORE_WAITING;
            let step = self.step(register);
            if !matches!(step, Ok(Step::Empty)) {
                self.idle_polls = 0;
            }
            match step {
                Err(e) => return Poll::Ready(Err(RecvError::Failed(e))),
                Ok(Step::Ready(record))
                    if self.policy() == Some(CommitPolicy::BeforeProcessing) =>
                {
                    return self.before_processing_polled(record, cx);
                }
                Ok(Step::Ready(record)) => return Poll::Ready(Ok(record)),
                Ok(Step::Missed(n)) => return Poll::Ready(Err(RecvError::Lagged(n))),
                Ok(Step::Empty) if !register => {
                    self.idle_polls += 1;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Ok(Step::Empty) => {
                    if self.signal.poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
            }
        }
    }

    /// Commits the cursor's position (everything handed out so far counts as
    /// processed) and waits until it is durable. Does nothing on an
    /// anonymous cursor.
    ///
    /// # Errors
    /// A storage error, [`Error::ShutDown`], [`Error::Deleted`] or
    /// [`Error::BlockingForbidden`].
    pub fn commit(&mut self) -> Result<()> {
        blocking::check("Cursor::commit")?;
        self.commit_blocking()
    }

    /// [`commit`](Self::commit), waiting asynchronously. Cancel-safe: a
    /// dropped future leaves the commit in flight, and the next commit of
    /// the same position waits for it.
    ///
    /// # Errors
    /// See [`commit`](Self::commit), except `BlockingForbidden`.
    pub async fn commit_async(&mut self) -> Result<()> {
        std::future::poll_fn(|cx| self.poll_commit(cx)).await
    }

    /// Hands the commit to the storage without waiting. Returns `None` when
    /// there is nothing to commit (the position is known committed, or an
    /// earlier receipt for it is still out), else a receipt resolving to the
    /// position. Once a receipt's result is taken the cursor knows it: after
    /// a failure the next `try_commit` writes the position again.
    ///
    /// # Errors
    /// A storage error — a full write queue is one of kind
    /// [`StorageErrorKind::QueueFull`](crate::StorageErrorKind::QueueFull),
    /// nothing committed, retry later — [`Error::ShutDown`] or
    /// [`Error::Deleted`].
    pub fn try_commit(&mut self) -> Result<Option<Receipt>> {
        let position = self.position;
        let Some(named) = &mut self.named else {
            return Ok(None);
        };
        // A background commit's failure needs no report: this one retries it.
        let _ = named.settle();
        let completion = match named.pending.take() {
            // A background commit of this position: its receipt.
            Some(Pending {
                position: p,
                outcome: Outcome::Completion(completion),
            }) if p == position => completion,
            Some(
                pending @ Pending {
                    outcome: Outcome::Receipt(_),
                    ..
                },
            ) if pending.position == position => {
                named.pending = Some(pending);
                return Ok(None);
            }
            other => {
                if named.known_committed(position, other.is_some()) {
                    return Ok(None);
                }
                submit_commit(&self.topic, &named.name, position, Admission::IfRoom)?
            }
        };
        let origin = Arc::new(Origin::tracked(
            self.topic.agency.clone(),
            self.topic.name.clone(),
        ));
        named.pending = Some(Pending {
            position,
            outcome: Outcome::Receipt(origin.clone()),
        });
        Ok(Some(Receipt::pending_from(completion, position, origin)))
    }

    fn policy(&self) -> Option<CommitPolicy> {
        self.named.as_ref().map(|n| n.policy)
    }

    /// Commits the current position and blocks until it is durable.
    fn commit_blocking(&mut self) -> Result<()> {
        let position = self.position;
        let Some(named) = &mut self.named else {
            return Ok(());
        };
        let completion = match named.pending.take() {
            Some(Pending {
                position: p,
                outcome: Outcome::Completion(completion),
            }) if p == position => completion,
            other => {
                if named.settled_as_committed(position, other.as_ref())
                    || named.known_committed(position, other.is_some())
                {
                    return Ok(());
                }
                submit_commit(&self.topic, &named.name, position, Admission::Queue)?
            }
        };
        let result = completion.wait_first().map(drop);
        named.finish(&self.topic, position, result)
    }

    /// Commits the current position, or goes on waiting for the commit of
    /// it already in flight; `Ready` once it is durable or failed.
    fn poll_commit(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.drive_commit(Some(cx))
    }

    /// Commits the current position without waiting, unless it is known
    /// committed or a commit of it is in flight. A failure of the commit
    /// before is reported first, rather than swallowed; a commit still in
    /// flight is superseded by the newer position.
    fn commit_in_background(&mut self) -> Result<()> {
        self.settle()?;
        match self.drive_commit(None) {
            Poll::Ready(result) => result,
            Poll::Pending => Ok(()),
        }
    }

    /// The commit behind [`poll_commit`](Self::poll_commit) (polled from
    /// `cx`) and [`commit_in_background`](Self::commit_in_background)
    /// (without `cx`: handed to the storage, not waited for).
    fn drive_commit(&mut self, cx: Option<&mut Context<'_>>) -> Poll<Result<()>> {
        let position = self.position;
        let Some(named) = &mut self.named else {
            return Poll::Ready(Ok(()));
        };
        let mut waiting = match named.pending.take() {
            // In flight already: a background commit has nothing to add.
            Some(pending) if pending.position == position && cx.is_none() => {
                named.pending = Some(pending);
                return Poll::Ready(Ok(()));
            }
            Some(Pending {
                position: p,
                outcome: Outcome::Completion(completion),
            }) if p == position => awaiting(completion),
            Some(Pending {
                position: p,
                outcome: Outcome::Awaited(waiting),
            }) if p == position => waiting.into_inner().unwrap_or_else(PoisonError::into_inner),
            // Nothing of this position in flight, or only a receipt, whose
            // completion the cursor does not hold: commit (again) unless it
            // is known committed.
            other => {
                if named.settled_as_committed(position, other.as_ref())
                    || named.known_committed(position, other.is_some())
                {
                    return Poll::Ready(Ok(()));
                }
                let completion =
                    match submit_commit(&self.topic, &named.name, position, Admission::Queue) {
                        Ok(completion) => completion,
                        Err(e) => return Poll::Ready(Err(e)),
                    };
                if cx.is_none() {
                    named.pending = Some(Pending {
                        position,
                        outcome: Outcome::Completion(completion),
                    });
                    return Poll::Ready(Ok(()));
                }
                awaiting(completion)
            }
        };
        let polled = match cx {
            Some(cx) => waiting.as_mut().poll(cx),
            None => Poll::Pending,
        };
        match polled {
            Poll::Ready(result) => Poll::Ready(named.finish(&self.topic, position, result)),
            Poll::Pending => {
                named.pending = Some(Pending {
                    position,
                    outcome: Outcome::Awaited(Mutex::new(waiting)),
                });
                Poll::Pending
            }
        }
    }

    /// Learns how the pending commit ended, without waiting; reports its
    /// failure (a receipt reports its own).
    fn settle(&mut self) -> Result<()> {
        match &mut self.named {
            Some(named) => named
                .settle()
                .map_err(|e| self.topic.agency.explain(&self.topic.name, e)),
            None => Ok(()),
        }
    }

    fn before_processing_blocking(&mut self, record: Record<T>) -> Result<Record<T>, RecvError> {
        if self.policy() == Some(CommitPolicy::BeforeProcessing)
            && let Err(e) = self.commit_blocking()
        {
            self.unread(record);
            return Err(e.into());
        }
        Ok(record)
    }

    // Out of line: kept out of `poll_recv`, which readers of every other
    // policy run per message and which must stay small enough to inline.
    #[inline(never)]
    fn before_processing_polled(
        &mut self,
        record: Record<T>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Record<T>, RecvError>> {
        match self.poll_commit(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(record)),
            Poll::Ready(Err(e)) => {
                self.unread(record);
                Poll::Ready(Err(e.into()))
            }
            Poll::Pending => {
                self.unread(record);
                Poll::Pending
            }
        }
    }

    /// Puts back the record [`step`](Self::step) just handed out, as if it
    /// had not been taken: its commit failed or is still in flight.
    fn unread(&mut self, record: Record<T>) {
        self.position = record.offset;
        self.delivered = self.delivered.saturating_sub(1);
        match &mut self.buffer {
            Buffer::Ring { records, .. } => records.push_front(record),
            // Decoded again when handed out.
            Buffer::Durable { index, .. } => *index = index.saturating_sub(1),
        }
    }

    /// Whether the topic is still open. One atomic load: it runs before
    /// every message handed out.
    fn check_open(&self) -> Result<()> {
        match &self.topic.kind {
            Kind::Durable(durable) => durable.check(),
            Kind::Ring(ring) => ring.check(),
        }
    }

    /// One turn of the state machine behind every flavour. Inlined into
    /// each: a record returned through a call is copied back in pieces, and
    /// reading it stalls the processor once per message (in the durable
    /// benchmark, keeping the common case alone inline and the refill loop
    /// out of line measured 0.295 against 0.314 with all of it inline).
    #[inline(always)]
    fn step(&mut self, register: bool) -> Result<Step<T>> {
        // A closed topic fails every call from now on, also with messages
        // still buffered; refills check again.
        self.check_open()?;
        loop {
            if self.gap > 0 {
                let missed = std::mem::take(&mut self.gap);
                self.position += missed;
                self.missed += missed;
                return Ok(Step::Missed(missed));
            }
            if let Some(record) = self.pop()? {
                self.delivered += 1;
                return Ok(Step::Ready(record));
            }
            if self.policy() == Some(CommitPolicy::AfterProcessing) {
                match self.commit_in_background() {
                    // Nothing handed over: the next refill commits.
                    Err(Error::Storage(e)) if e.kind() == StorageErrorKind::QueueFull => {}
                    other => other?,
                }
            }
            match self.refill(register)? {
                Refill::Got => {}
                Refill::Nothing { registered } => {
                    if registered || !register {
                        return Ok(Step::Empty);
                    }
                }
            }
        }
    }

    /// The next buffered message, decoded. Inlined for the reason
    /// [`step`](Self::step) is.
    #[inline(always)]
    fn pop(&mut self) -> Result<Option<Record<T>>> {
        match &mut self.buffer {
            Buffer::Ring { records, .. } => {
                let record = records.pop_front();
                if let Some(record) = &record {
                    self.position = record.offset + 1;
                }
                Ok(record)
            }
            Buffer::Durable { read, index, .. } => {
                let Some(stored) = read.get(*index) else {
                    return Ok(None);
                };
                *index += 1;
                self.position = stored.offset + 1;
                let value =
                    (self.topic.decode)(stored.payload).map_err(|reason| Error::Decode {
                        topic: self.topic.name.clone(),
                        offset: stored.offset,
                        type_name: std::any::type_name::<T>().into(),
                        reason,
                    })?;
                Ok(Some(Record {
                    offset: stored.offset,
                    timestamp: stored.timestamp,
                    value,
                }))
            }
        }
    }

    /// Refills the empty buffer from the ring or the storage.
    fn refill(&mut self, register: bool) -> Result<Refill> {
        let signal = register.then_some(&self.signal);
        match (&mut self.buffer, &self.topic.kind) {
            (
                Buffer::Ring {
                    records,
                    fetch,
                    chunk,
                },
                Kind::Ring(ring),
            ) => {
                let fill = ring.fill(fetch, BATCH, records, signal, chunk)?;
                self.gap += fill.missed;
                Ok(if fill.copied > 0 || fill.missed > 0 {
                    Refill::Got
                } else {
                    Refill::Nothing {
                        registered: register,
                    }
                })
            }
            (
                Buffer::Durable {
                    read,
                    index,
                    fetch,
                    want,
                },
                Kind::Durable(durable),
            ) => {
                durable.check()?;
                if *fetch >= durable.head() {
                    let registered =
                        signal.is_some_and(|s| durable.register_unless_ready(*fetch, s));
                    durable.check()?;
                    return Ok(Refill::Nothing { registered });
                }
                let info = durable
                    .storage
                    .read(&self.topic.name, *fetch, *want, read)
                    .map_err(|e| self.topic.agency.explain(&self.topic.name, e))?;
                *index = 0;
                if !read.is_empty() {
                    let average = (read.payload_bytes() / read.len()).max(1);
                    *want = (READ_BYTES / average).clamp(READ_MIN, READ_MAX);
                }
                durable.observe_head(info.next_offset);
                let missed = info.first_offset.saturating_sub(*fetch);
                self.gap += missed;
                *fetch = (*fetch).max(info.first_offset) + read.len() as u64;
                Ok(if read.is_empty() && missed == 0 {
                    // The announced head was ahead of what this reader could
                    // see; wait for the next announcement.
                    let registered =
                        signal.is_some_and(|s| durable.register_unless_ready(u64::MAX - 1, s));
                    Refill::Nothing { registered }
                } else {
                    Refill::Got
                })
            }
            _ => unreachable!("a cursor's buffer always matches its topic's kind"),
        }
    }
}

enum Refill {
    Got,
    Nothing { registered: bool },
}

/// Resolves a start position against the topic as it is now.
fn resolve<T: Message>(topic: &Topic<T>, start: StartAt) -> Result<u64> {
    match (start, &topic.kind) {
        (StartAt::Offset(offset), _) => Ok(offset),
        (StartAt::Earliest, _) => topic.bounds().map(|(first, _)| first),
        (StartAt::Latest, _) => topic.bounds().map(|(_, head)| head),
        (StartAt::Time(time), Kind::Ring(ring)) => ring.offset_at(time),
        (StartAt::Time(time), Kind::Durable(durable)) => {
            durable.check()?;
            durable
                .storage
                .offset_at(&topic.name, time)
                .map_err(|e| topic.agency.explain(&topic.name, e))
        }
    }
}

/// Hands a commit of `cursor` at `position` to the storage. Checks first
/// that the topic is open: a deleted topic's name may already belong to a
/// new topic, whose cursor of the same name must not get this position.
fn submit_commit<T: Message>(
    topic: &Topic<T>,
    cursor: &Name,
    position: u64,
    admission: Admission,
) -> Result<Completion> {
    if let Kind::Durable(durable) = &topic.kind {
        durable.check()?;
    }
    let batch = WriteBatch::commit(CursorCommit::new(
        topic.name.clone(),
        cursor.clone(),
        position,
    ));
    match topic.storage().submit(batch, admission) {
        Ok(completion) => Ok(completion),
        Err(SubmitError::Full(_)) => Err(Error::Storage(crate::StorageError::new(
            StorageErrorKind::QueueFull,
            "the storage's write queue is full; commit again later",
        ))),
        Err(SubmitError::Failed(e, _)) => Err(topic.agency.explain(&topic.name, e)),
    }
}

/// A completion as a future to poll: an inline outcome without allocating.
fn awaiting(mut completion: Completion) -> Waiting {
    match completion.try_take_first() {
        Some(first) => Box::pin(std::future::ready(first.map(drop))),
        None => Box::pin(async move { completion.wait_first_async().await.map(drop) }),
    }
}

impl Named {
    /// Whether `position` needs no commit: it is known committed and the
    /// storage cannot hold another. `dropping` tells that an unsettled
    /// commit is being given up, so the storage may hold its position.
    fn known_committed(&mut self, position: u64, dropping: bool) -> bool {
        if dropping {
            self.unsure = true;
        }
        !self.unsure && self.committed == position
    }

    /// Whether `pending`, a receipt's commit of `position`, is known to
    /// have succeeded (recorded then).
    fn settled_as_committed(&mut self, position: u64, pending: Option<&Pending>) -> bool {
        match pending {
            Some(Pending {
                position: p,
                outcome: Outcome::Receipt(origin),
            }) if *p == position && origin.settled() == Settled::Succeeded => {
                self.confirm(position);
                true
            }
            _ => false,
        }
    }

    /// Learns how the pending commit ended, without waiting. Returns its
    /// error unless a receipt reported it.
    fn settle(&mut self) -> Result<()> {
        let Some(pending) = &mut self.pending else {
            return Ok(());
        };
        let result = match &mut pending.outcome {
            Outcome::Completion(completion) => match completion.try_take_first() {
                Some(first) => first.map(drop),
                None => return Ok(()),
            },
            Outcome::Awaited(waiting) => {
                let waiting = waiting.get_mut().unwrap_or_else(PoisonError::into_inner);
                match waiting
                    .as_mut()
                    .poll(&mut Context::from_waker(Waker::noop()))
                {
                    Poll::Ready(result) => result,
                    Poll::Pending => return Ok(()),
                }
            }
            Outcome::Receipt(origin) => match origin.settled() {
                Settled::Unknown => return Ok(()),
                Settled::Succeeded => Ok(()),
                Settled::Failed => {
                    self.pending = None;
                    self.unsure = true;
                    return Ok(());
                }
            },
        };
        let position = pending.position;
        self.pending = None;
        self.record(position, result)
    }

    /// Records how the commit of `position` ended; passes the result on.
    fn record(&mut self, position: u64, result: Result<()>) -> Result<()> {
        match result {
            Ok(()) => self.confirm(position),
            Err(_) => self.unsure = true,
        }
        result
    }

    /// Records how the commit of `position` this cursor waited for ended,
    /// naming its error for `topic`.
    fn finish<T>(&mut self, topic: &Topic<T>, position: u64, result: Result<()>) -> Result<()> {
        self.record(position, result)
            .map_err(|e| topic.agency.explain(&topic.name, e))
    }

    fn confirm(&mut self, position: u64) {
        self.committed = position;
        self.unsure = false;
    }
}

impl<T: Message> Iterator for Cursor<T> {
    type Item = Result<Record<T>, RecvError>;

    /// Blocks for the next message; `Some(Err(Lagged))` reports a gap; ends
    /// (`None`) when the agency shut down or the topic was deleted.
    fn next(&mut self) -> Option<Self::Item> {
        match self.recv() {
            Err(RecvError::Failed(e)) if e.is_terminal() => None,
            other => Some(other),
        }
    }
}

// A cursor is never pin-projected: moving it is always fine.
impl<T> Unpin for Cursor<T> {}

impl<T: Message> futures_core::Stream for Cursor<T> {
    type Item = Result<Record<T>, RecvError>;

    /// As [`Iterator::next`], asynchronously.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.get_mut().poll_recv(cx) {
            Poll::Ready(Err(RecvError::Failed(e))) if e.is_terminal() => Poll::Ready(None),
            Poll::Ready(other) => Poll::Ready(Some(other)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> fmt::Debug for Cursor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cursor")
            .field("topic", &self.topic.name)
            .field("name", &self.named.as_ref().map(|n| &n.name))
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}
