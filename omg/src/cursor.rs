//! Cursors: a reader's position in a topic, kept apart from the storage.
//!
//! One state machine ([`Cursor::step`]) serves every flavour: `recv` blocks
//! on the cursor's signal, `recv_async` / `Stream` poll it, `try_recv`
//! returns `Empty`. Messages are copied (ring) or read (storage) in batches
//! into the cursor's own buffer, so most calls touch no shared state.

use std::{
    collections::VecDeque,
    fmt,
    pin::Pin,
    task::{Context, Poll},
};

use crate::{
    Error, Message, Name, Receipt, Record, RecvError, Result, Timestamp, Topic, TryRecvError,
    blocking,
    signal::Signal,
    storage::{Admission, Completion, CursorCommit, ReadBuf, SubmitError, WriteBatch},
    topic::Kind,
};

/// How many messages a cursor takes per refill of a ring.
const BATCH: usize = 256;

/// Polls that find nothing before a task registers to be woken by the next
/// publish. A publish that has to wake a reader pays for it (a system call
/// when the reader's worker sleeps); a reader that has just caught up
/// usually finds the next message after yielding to its executor a few
/// times, at the cost of a re-poll each.
const YIELDS_BEFORE_WAITING: u8 = 16;

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
    /// At-most-once processing: `recv` and `recv_async` commit *past* a
    /// message before returning it and wait for that commit; `try_recv`
    /// hands the commit to the storage without waiting. After a crash, a
    /// message that was being processed is not delivered again.
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
    committed: u64,
    policy: CommitPolicy,
    /// The last background commit, checked before the next so that its
    /// failure is reported rather than swallowed.
    in_flight: Option<Completion>,
}

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
                topic.storage().cursor_position(&topic.name, name)?
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
            committed: committed.unwrap_or(position),
            policy: CommitPolicy::default(),
            in_flight: None,
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

    /// The last position this process committed (or found committed).
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
    /// commit). `seek(StartAt::Earliest)` rebuilds a projection from scratch.
    ///
    /// # Errors
    /// Those of resolving `start` (see [`Topic::cursor`]).
    pub fn seek(&mut self, start: StartAt) -> Result<()> {
        let position = resolve(&self.topic, start)?;
        self.position = position;
        self.gap = 0;
        match &mut self.buffer {
            Buffer::Ring { records, fetch } => {
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
            // Force the next commit even if it equals the old position.
            named.committed = u64::MAX;
        }
        Ok(())
    }

    /// Blocks until a message is available.
    ///
    /// # Errors
    /// [`RecvError::Lagged`] once per gap; [`RecvError::Failed`] with
    /// [`Error::ShutDown`], [`Error::Deleted`], [`Error::Decode`] (the cursor
    /// moves past the undecodable message), a storage error, or
    /// [`Error::BlockingForbidden`].
    pub fn recv(&mut self) -> Result<Record<T>, RecvError> {
        blocking::check("Cursor::recv")?;
        loop {
            match self.step(true)? {
                Step::Ready(record) => return self.before_processing_blocking(record),
                Step::Missed(n) => return Err(RecvError::Lagged(n)),
                Step::Empty => self.signal.wait(),
            }
        }
    }

    /// Like [`recv`](Self::recv), giving up at `timeout` with `Ok(None)`.
    ///
    /// # Errors
    /// See [`recv`](Self::recv).
    pub fn recv_timeout(
        &mut self,
        timeout: std::time::Duration,
    ) -> Result<Option<Record<T>>, RecvError> {
        blocking::check("Cursor::recv_timeout")?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match self.step(true)? {
                Step::Ready(record) => return self.before_processing_blocking(record).map(Some),
                Step::Missed(n) => return Err(RecvError::Lagged(n)),
                Step::Empty if std::time::Instant::now() >= deadline => return Ok(None),
                Step::Empty => self.signal.wait_until(deadline),
            }
        }
    }

    /// Waits asynchronously for a message. Cancel-safe: a dropped future
    /// consumes no message.
    ///
    /// # Errors
    /// See [`recv`](Self::recv), except `BlockingForbidden`.
    pub async fn recv_async(&mut self) -> Result<Record<T>, RecvError> {
        let record = std::future::poll_fn(|cx| self.poll_recv(cx)).await?;
        if self.policy() == Some(CommitPolicy::BeforeProcessing) {
            self.commit_async().await?;
        }
        Ok(record)
    }

    /// Returns a message if one is available, without blocking.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] when nothing is new, otherwise as
    /// [`recv`](Self::recv).
    pub fn try_recv(&mut self) -> Result<Record<T>, TryRecvError> {
        match self.step(false)? {
            Step::Ready(record) => {
                if self.policy() == Some(CommitPolicy::BeforeProcessing) {
                    self.commit_in_background()?;
                }
                Ok(record)
            }
            Step::Missed(n) => Err(TryRecvError::Lagged(n)),
            Step::Empty => Err(TryRecvError::Empty),
        }
    }

    /// Polls for a message, registering `cx`'s waker when there is none.
    /// The building block of [`recv_async`](Self::recv_async) and of the
    /// `Stream` implementation; it does not apply
    /// [`CommitPolicy::BeforeProcessing`]'s wait.
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
        if let Some(receipt) = self.submit_commit(Admission::Queue)? {
            receipt.wait()?;
        }
        Ok(())
    }

    /// [`commit`](Self::commit), waiting asynchronously.
    ///
    /// # Errors
    /// See [`commit`](Self::commit), except `BlockingForbidden`.
    pub async fn commit_async(&mut self) -> Result<()> {
        if let Some(receipt) = self.submit_commit(Admission::Queue)? {
            receipt.wait_async().await?;
        }
        Ok(())
    }

    /// Hands the commit to the storage without waiting. Returns `None` when
    /// there is nothing to commit, else a receipt resolving to the position.
    ///
    /// # Errors
    /// A storage error — a full write queue is one of kind
    /// [`StorageErrorKind::QueueFull`](crate::StorageErrorKind::QueueFull),
    /// nothing committed, retry later — [`Error::ShutDown`] or
    /// [`Error::Deleted`].
    pub fn try_commit(&mut self) -> Result<Option<Receipt>> {
        self.submit_commit(Admission::IfRoom)
    }

    fn policy(&self) -> Option<CommitPolicy> {
        self.named.as_ref().map(|n| n.policy)
    }

    fn submit_commit(&mut self, admission: Admission) -> Result<Option<Receipt>> {
        let Some(named) = &mut self.named else {
            return Ok(None);
        };
        if named.committed == self.position {
            return Ok(None);
        }
        let batch = WriteBatch::commit(CursorCommit::new(
            self.topic.name.clone(),
            named.name.clone(),
            self.position,
        ));
        let completion = match self.topic.storage().submit(batch, admission) {
            Ok(completion) => completion,
            Err(SubmitError::Full(_)) => {
                return Err(Error::Storage(crate::StorageError::new(
                    crate::StorageErrorKind::QueueFull,
                    "the storage's write queue is full; commit again later",
                )));
            }
            Err(SubmitError::Failed(e, _)) => {
                return Err(self.topic.agency.explain(&self.topic.name, e));
            }
        };
        named.committed = self.position;
        Ok(Some(Receipt::pending(completion, self.position)))
    }

    /// Commits without waiting. The completion is kept and checked on the
    /// next call, so a failed commit is reported, not swallowed; a commit
    /// still in flight then is superseded by the newer position.
    fn commit_in_background(&mut self) -> Result<()> {
        let position = self.position;
        let Some(named) = &mut self.named else {
            return Ok(());
        };
        if let Some(outcome) = named.in_flight.as_mut().and_then(Completion::try_take) {
            named.in_flight = None;
            outcome.map_err(|e| self.topic.agency.explain(&self.topic.name, e))?;
        }
        if named.committed == position {
            return Ok(());
        }
        let batch = WriteBatch::commit(CursorCommit::new(
            self.topic.name.clone(),
            named.name.clone(),
            position,
        ));
        match self.topic.agency.storage().submit(batch, Admission::Queue) {
            Ok(completion) => {
                named.committed = position;
                named.in_flight = Some(completion);
                Ok(())
            }
            Err(SubmitError::Full(_)) => Ok(()),
            Err(SubmitError::Failed(e, _)) => Err(self.topic.agency.explain(&self.topic.name, e)),
        }
    }

    fn before_processing_blocking(&mut self, record: Record<T>) -> Result<Record<T>, RecvError> {
        if self.policy() == Some(CommitPolicy::BeforeProcessing) {
            self.commit()?;
        }
        Ok(record)
    }

    /// One turn of the state machine behind every flavour.
    fn step(&mut self, register: bool) -> Result<Step<T>> {
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
                self.commit_in_background()?;
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

    /// The next buffered message, decoded.
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
            (Buffer::Ring { records, fetch }, Kind::Ring(ring)) => {
                let fill = ring.fill(fetch, BATCH, records, signal)?;
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
            Ok(durable.storage.offset_at(&topic.name, time)?)
        }
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
