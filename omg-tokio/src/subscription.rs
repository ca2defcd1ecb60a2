//! Feeding a topic into an actor's mailbox, with backpressure and commits
//! that follow the handler. See [`subscribe_with`].

use std::{
    collections::VecDeque,
    fmt,
    future::Future,
    marker::PhantomData,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll, Waker},
};

use kameo::{
    Actor,
    actor::ActorRef,
    error::{BoxSendError, SendError},
    mailbox::Signal,
    message::{BoxReply, Message},
    reply::Reply,
};
use omg::{
    CommitPolicy, Cursor, Name, Record, RecvError, StartAt, StorageErrorKind, TryRecvError,
    storage::{Admission, CursorCommit, SubmitError, WriteBatch},
};
use tokio::{
    sync::{oneshot, watch},
    task::JoinHandle,
};
use tracing::Instrument;

use crate::TopicMessage;

/// Default of [`SubscribeOptions::in_flight`].
pub const DEFAULT_IN_FLIGHT: usize = 128;
/// Default of [`SubscribeOptions::commit_every`].
pub const DEFAULT_COMMIT_EVERY: usize = 1024;
/// Default of [`SubscribeOptions::max_redeliveries`].
pub const DEFAULT_MAX_REDELIVERIES: u32 = 16;

/// How a [`Subscription`] feeds its actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscribeOptions {
    /// How many messages may be sent to the actor before their handler
    /// replied (at least 1); the mailbox's capacity bounds it too. More
    /// pipelines better; after a failed delivery, up to this many later
    /// messages are handled before the failed one comes again (and are
    /// delivered again after it). `1` keeps the order strict.
    pub in_flight: usize,
    /// A named cursor commits at the latest after this many processed
    /// messages (at least 1), and whenever the topic is drained.
    pub commit_every: usize,
    /// How many times in a row one message may fail before the subscription
    /// gives up on it with [`SubscriptionError::Poison`].
    pub max_redeliveries: u32,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        Self {
            in_flight: DEFAULT_IN_FLIGHT,
            commit_every: DEFAULT_COMMIT_EVERY,
            max_redeliveries: DEFAULT_MAX_REDELIVERIES,
        }
    }
}

impl SubscribeOptions {
    /// Sets [`in_flight`](Self::in_flight).
    #[must_use]
    pub fn in_flight(mut self, messages: usize) -> Self {
        self.in_flight = messages.max(1);
        self
    }

    /// Sets [`commit_every`](Self::commit_every).
    #[must_use]
    pub fn commit_every(mut self, messages: usize) -> Self {
        self.commit_every = messages.max(1);
        self
    }

    /// Sets [`max_redeliveries`](Self::max_redeliveries).
    #[must_use]
    pub fn max_redeliveries(mut self, attempts: u32) -> Self {
        self.max_redeliveries = attempts;
        self
    }
}

/// Why a subscription ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscriptionEnd {
    /// [`Subscription::stop`] (or a host's shutdown) asked it to.
    Stopped,
    /// The actor stopped for good (it is not restarting).
    ActorStopped,
    /// The topic was deleted or the agency shut down.
    TopicClosed,
}

/// Why a subscription ended with an error. Whatever its reason, a named
/// cursor was committed up to the first message not processed, so a new
/// subscription on it delivers that message again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubscriptionError {
    /// The handler returned an error for the message at `offset` (with an
    /// `ask` kameo hands the error back instead of stopping the actor, so
    /// the subscription stops and leaves the message unprocessed).
    #[error("the actor's handler failed on offset {offset}: {error}")]
    Handler {
        /// The message's offset.
        offset: u64,
        /// The handler's error, formatted with `Debug`.
        error: String,
    },
    /// The message at `offset` failed `attempts` times in a row.
    #[error("offset {offset} failed {attempts} times in a row; giving up on it")]
    Poison {
        /// The message's offset.
        offset: u64,
        /// How many deliveries failed.
        attempts: u32,
    },
    /// The cursor failed (an undecodable message, a storage error).
    #[error(transparent)]
    Cursor(omg::Error),
    /// The forwarding task panicked or was cancelled.
    #[error("the subscription's task failed: {0}")]
    Task(String),
}

/// Figures of a running subscription (DESIGN.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SubscriptionStats {
    /// Messages sent to the actor, redeliveries included.
    pub delivered: u64,
    /// Messages whose handler replied.
    pub processed: u64,
    /// Deliveries of an offset that was delivered before.
    pub redelivered: u64,
    /// Messages lost before the cursor read them (reported, never silent).
    pub missed: u64,
    /// Deliveries that failed without a reply (handler panics, restarts).
    pub failures: u64,
    /// The position the named cursor last committed.
    pub committed: Option<u64>,
}

#[derive(Debug, Default)]
struct Counters {
    delivered: AtomicU64,
    processed: AtomicU64,
    redelivered: AtomicU64,
    missed: AtomicU64,
    failures: AtomicU64,
    /// `u64::MAX` until the first commit.
    committed: AtomicU64,
}

/// What a subscription shares with its handle and its host.
#[derive(Debug)]
pub(crate) struct Shared {
    stop: watch::Sender<bool>,
    finished: watch::Sender<bool>,
    counters: Counters,
}

impl Shared {
    fn new() -> Self {
        let counters = Counters::default();
        counters.committed.store(u64::MAX, Ordering::Relaxed);
        Self {
            stop: watch::Sender::new(false),
            finished: watch::Sender::new(false),
            counters,
        }
    }

    /// Asks the forwarder to stop after settling what is in flight.
    pub(crate) fn request_stop(&self) {
        self.stop.send_replace(true);
    }

    /// Waits until the forwarder ended.
    pub(crate) async fn finished(&self) {
        let mut finished = self.finished.subscribe();
        // The sender lives in `self`, so this cannot fail.
        let _ = finished.wait_for(|done| *done).await;
    }

    fn stats(&self) -> SubscriptionStats {
        let c = &self.counters;
        let committed = c.committed.load(Ordering::Relaxed);
        SubscriptionStats {
            delivered: c.delivered.load(Ordering::Relaxed),
            processed: c.processed.load(Ordering::Relaxed),
            redelivered: c.redelivered.load(Ordering::Relaxed),
            missed: c.missed.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            committed: (committed != u64::MAX).then_some(committed),
        }
    }
}

/// Marks the subscription finished when the forwarder ends, even by panic.
struct FinishGuard(Arc<Shared>);

impl Drop for FinishGuard {
    fn drop(&mut self) {
        self.0.finished.send_replace(true);
    }
}

/// A topic feeding an actor. Dropping the handle detaches it: the
/// subscription goes on until the actor stops or the topic closes.
pub struct Subscription {
    shared: Arc<Shared>,
    task: JoinHandle<Result<SubscriptionEnd, SubscriptionError>>,
}

impl Subscription {
    /// The subscription's figures so far.
    pub fn stats(&self) -> SubscriptionStats {
        self.shared.stats()
    }

    /// Whether the subscription ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops gracefully: no new message is sent, the replies in flight are
    /// awaited, and a named cursor commits what was processed.
    ///
    /// # Errors
    /// The error that ended the subscription, if it ended by itself with one.
    pub async fn stop(self) -> Result<SubscriptionEnd, SubscriptionError> {
        self.shared.request_stop();
        self.join().await
    }

    /// Waits until the subscription ends by itself (the actor stopped, the
    /// topic closed, an error) or through [`stop`](Self::stop) elsewhere.
    ///
    /// # Errors
    /// See [`SubscriptionError`].
    pub async fn join(self) -> Result<SubscriptionEnd, SubscriptionError> {
        match self.task.await {
            Ok(outcome) => outcome,
            Err(e) => Err(SubscriptionError::Task(e.to_string())),
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("stats", &self.stats())
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Subscribes `actor` to the topic of `cursor` with default options: each
/// message arrives in the actor's mailbox as a [`TopicMessage`]. See
/// [`subscribe_with`].
///
/// # Errors
/// [`omg::Error::Unsupported`] when called outside a tokio runtime.
pub fn subscribe<A, T>(actor: &ActorRef<A>, cursor: Cursor<T>) -> omg::Result<Subscription>
where
    A: Actor + Message<TopicMessage<T>>,
    T: omg::Message,
{
    subscribe_with(actor, cursor, SubscribeOptions::default())
}

/// Subscribes `actor` to the topic of `cursor`.
///
/// The subscription owns the cursor. A named cursor is switched to
/// [`CommitPolicy::Manual`]: the subscription commits it, only past
/// messages whose handler ran. Also installs the blocking detector
/// ([`install`](crate::install)).
///
/// A subscription is one tokio task (the *forwarder*) that owns a cursor:
///
/// 1. it takes the next message with `try_recv`, or waits with `recv_async`
///    when nothing is there (never blocking a thread);
/// 2. it sends it to the actor as an `ask` and keeps the pending reply; the
///    send waits while the bounded mailbox is full, so a slow actor slows
///    the cursor and nothing is dropped;
/// 3. it keeps at most [`SubscribeOptions::in_flight`] replies pending and
///    takes them in order: a reply means the handler ran;
/// 4. a named cursor commits the position after the last message whose
///    reply arrived (every [`SubscribeOptions::commit_every`] messages, and
///    whenever nothing is left to send), never a message still in flight;
/// 5. a delivery that fails without a reply (the handler panicked, the actor
///    is restarting) rewinds the cursor to the failed message once the
///    replies in flight settled, and delivers again from there
///    ([`TopicMessage::redelivered`]) — at-least-once.
///
/// # Order after a failure
/// Messages already in the mailbox behind a failed one stay there: kameo
/// restarts an actor with its mailbox, so the new instance handles them
/// *before* the failed message comes again (and then gets them again too).
/// Each message is handled at least once, but not strictly in order across
/// a failure. Agents are not affected in effect (a redelivered command is
/// recognised by its causation id). For strict order, use
/// [`SubscribeOptions::in_flight`]`(1)`: one message at a time, at the cost
/// of throughput.
///
/// # Errors
/// [`omg::Error::Unsupported`] when called outside a tokio runtime.
pub fn subscribe_with<A, T>(
    actor: &ActorRef<A>,
    cursor: Cursor<T>,
    options: SubscribeOptions,
) -> omg::Result<Subscription>
where
    A: Actor + Message<TopicMessage<T>>,
    T: omg::Message,
{
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| omg::Error::Unsupported {
        what: "subscribing an actor outside a tokio runtime",
        why: "the subscription runs as a tokio task; call it from inside the runtime",
    })?;
    crate::install();
    let shared = Arc::new(Shared::new());
    let cursor = cursor.with_commit_policy(CommitPolicy::Manual);
    let forwarder = Forwarder::<A, T> {
        topic: cursor.topic().name().clone(),
        cursor_name: cursor.name().cloned(),
        cursor,
        options: SubscribeOptions {
            in_flight: options.in_flight.max(1),
            commit_every: options.commit_every.max(1),
            ..options
        },
        shared: shared.clone(),
        pending: VecDeque::new(),
        missed: 0,
        redeliver_below: 0,
        unprocessed: None,
        processed_to: None,
        processed_since_commit: 0,
        failing: (0, 0),
        actor: PhantomData,
    };
    let guard = FinishGuard(shared.clone());
    let actor = actor.clone();
    let span = tracing::debug_span!("subscription", topic = %forwarder.topic, actor = %actor.id());
    let task = runtime.spawn(
        async move {
            let _guard = guard;
            forwarder.run(actor).await
        }
        .instrument(span),
    );
    Ok(Subscription { shared, task })
}

type ReplyOf<A, T> = <A as Message<TopicMessage<T>>>::Reply;
/// A reply on its way: what kameo's `ask` waits on, without the boxed
/// future around it.
type Pending = oneshot::Receiver<Result<BoxReply, BoxSendError>>;
type Settled = Result<Result<BoxReply, BoxSendError>, oneshot::error::RecvError>;
type Outcome = Result<SubscriptionEnd, SubscriptionError>;

/// A delivery that did not end in a successful reply.
enum Failure {
    /// The handler replied with an error.
    Handler { offset: u64, error: String },
    /// No reply: the handler panicked, or the actor stopped or is restarting.
    NoReply { offset: u64 },
}

/// The forwarding task's state (the actor ref is passed to its methods).
struct Forwarder<A, T>
where
    A: Actor + Message<TopicMessage<T>>,
    T: omg::Message,
{
    cursor: Cursor<T>,
    topic: Name,
    cursor_name: Option<Name>,
    options: SubscribeOptions,
    shared: Arc<Shared>,
    /// Offsets sent and their pending replies, oldest first.
    pending: VecDeque<(u64, Pending)>,
    /// Messages lost before the next delivery.
    missed: u64,
    /// Offsets below this were delivered before (redeliveries).
    redeliver_below: u64,
    /// The first offset that must not be committed past.
    unprocessed: Option<u64>,
    /// The position after the last message processed in order.
    processed_to: Option<u64>,
    /// Messages processed since the last commit (named cursors only).
    processed_since_commit: usize,
    /// The offset that failed last and how many times in a row.
    failing: (u64, u32),
    actor: PhantomData<fn(A)>,
}

impl<A, T> Forwarder<A, T>
where
    A: Actor + Message<TopicMessage<T>>,
    T: omg::Message,
{
    async fn run(mut self, actor: ActorRef<A>) -> Outcome {
        let mut stop = self.shared.stop.subscribe();
        let outcome = loop {
            if *stop.borrow() {
                break Ok(SubscriptionEnd::Stopped);
            }
            if self.pending.len() < self.options.in_flight {
                match self.cursor.try_recv() {
                    Ok(record) => match self.deliver(&actor, record).await {
                        Some(end) => break end,
                        None => continue,
                    },
                    Err(TryRecvError::Lagged(n)) => {
                        self.lagged(n);
                        continue;
                    }
                    Err(TryRecvError::Empty) => {}
                    Err(TryRecvError::Failed(e)) => break self.cursor_failed(e),
                    Err(other) => break Err(unexpected(other)),
                }
            }
            if let Some((offset, reply)) = self.pending.front_mut() {
                let offset = *offset;
                let result = reply.await;
                self.pending.pop_front();
                if let Some(end) = self.settle(&actor, offset, result).await {
                    break end;
                }
                continue;
            }
            // Nothing in flight and nothing to read: commit, then wait.
            if let Some(end) = self.commit().await {
                break end;
            }
            let got = tokio::select! {
                biased;
                _ = stop.changed() => None,
                got = self.cursor.recv_async() => Some(got),
            };
            match got {
                None => {}
                Some(Ok(record)) => {
                    if let Some(end) = self.deliver(&actor, record).await {
                        break end;
                    }
                }
                Some(Err(RecvError::Lagged(n))) => self.lagged(n),
                Some(Err(RecvError::Failed(e))) => break self.cursor_failed(e),
                Some(Err(other)) => break Err(unexpected(other)),
            }
        };
        self.finish(outcome).await
    }

    /// Sends one message, waiting while the mailbox is full, then settles the
    /// replies that already arrived. (The actor frees a mailbox slot only
    /// after replying to the message before, so while the send waits no
    /// reply is left unsettled for long.)
    async fn deliver(&mut self, actor: &ActorRef<A>, record: Record<T>) -> Option<Outcome> {
        let offset = record.offset;
        let redelivered = offset < self.redeliver_below;
        let message = TopicMessage {
            record,
            topic: self.topic.clone(),
            cursor: self.cursor_name.clone(),
            missed: std::mem::take(&mut self.missed),
            redelivered,
        };
        // What `actor.ask(message).enqueue()` does, minus a boxed future per
        // message: a message signal with a reply channel.
        let (reply, pending) = oneshot::channel();
        let signal = Signal::Message {
            message: Box::new(message),
            actor_ref: actor.clone(),
            reply: Some(reply),
            sent_within_actor: false,
            message_name: <A as Message<TopicMessage<T>>>::name(),
            caller_span: tracing::Span::current(),
        };
        match actor.mailbox_sender().send(signal).await {
            Ok(()) => {
                let counters = &self.shared.counters;
                counters.delivered.fetch_add(1, Ordering::Relaxed);
                if redelivered {
                    counters.redelivered.fetch_add(1, Ordering::Relaxed);
                }
                self.pending.push_back((offset, pending));
            }
            // The mailbox is closed: the actor stopped for good.
            Err(_) => {
                self.not_processed(offset);
                return Some(Ok(SubscriptionEnd::ActorStopped));
            }
        }
        self.settle_ready(actor).await
    }

    /// Settles the replies that arrived, oldest first, without waiting.
    async fn settle_ready(&mut self, actor: &ActorRef<A>) -> Option<Outcome> {
        while let Some((offset, result)) = self.take_ready() {
            if let Some(end) = self.settle(actor, offset, result).await {
                return Some(end);
            }
        }
        None
    }

    /// The oldest reply, if it arrived.
    fn take_ready(&mut self) -> Option<(u64, Settled)> {
        let (offset, reply) = self.pending.front_mut()?;
        let offset = *offset;
        let Poll::Ready(result) = Pin::new(reply).poll(&mut Context::from_waker(Waker::noop()))
        else {
            return None;
        };
        self.pending.pop_front();
        Some((offset, result))
    }

    /// Acts on the oldest reply, which settled with `result`.
    async fn settle(
        &mut self,
        actor: &ActorRef<A>,
        offset: u64,
        result: Settled,
    ) -> Option<Outcome> {
        match self.settled(offset, result) {
            Some(failed) => self.fail(actor, failed).await,
            None => self.commit_if_due().await,
        }
    }

    /// Counts a settled reply; returns the failure to act on.
    fn settled(&mut self, offset: u64, result: Settled) -> Option<Failure> {
        match result {
            Ok(Ok(_)) => {
                self.processed(offset);
                None
            }
            Ok(Err(error)) => {
                match <ReplyOf<A, T> as Reply>::downcast_err::<TopicMessage<T>>(error) {
                    SendError::HandlerError(error) => Some(Failure::Handler {
                        offset,
                        error: format!("{error:?}"),
                    }),
                    _ => Some(Failure::NoReply { offset }),
                }
            }
            Err(_) => Some(Failure::NoReply { offset }),
        }
    }

    async fn fail(&mut self, actor: &ActorRef<A>, failure: Failure) -> Option<Outcome> {
        match failure {
            Failure::Handler { offset, error } => {
                self.not_processed(offset);
                Some(Err(SubscriptionError::Handler { offset, error }))
            }
            Failure::NoReply { offset } => self.redeliver_from(actor, offset).await,
        }
    }

    /// The delivery of `offset` failed without a reply: the handler panicked
    /// or the actor is restarting. Lets the replies in flight settle (a
    /// restarted actor handles them), then rewinds to `offset`.
    async fn redeliver_from(&mut self, actor: &ActorRef<A>, offset: u64) -> Option<Outcome> {
        let counters = &self.shared.counters;
        counters.failures.fetch_add(1, Ordering::Relaxed);
        while let Some((_, reply)) = self.pending.pop_front() {
            // Counted, but not for the commit: everything from `offset` on
            // is delivered again.
            // `Ok(Err(..))` is a handler error or an ask the stopping actor
            // sent back unhandled: a failure too.
            let counter = match reply.await {
                Ok(Ok(_)) => &counters.processed,
                Ok(Err(_)) | Err(_) => &counters.failures,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        if !actor.is_alive() {
            self.not_processed(offset);
            return Some(Ok(SubscriptionEnd::ActorStopped));
        }
        self.failing = match self.failing {
            (failed, attempts) if failed == offset => (offset, attempts + 1),
            _ => (offset, 1),
        };
        if self.failing.1 > self.options.max_redeliveries {
            self.not_processed(offset);
            return Some(Err(SubscriptionError::Poison {
                offset,
                attempts: self.failing.1,
            }));
        }
        tracing::warn!(
            topic = %self.topic,
            offset,
            attempt = self.failing.1,
            "delivery failed without a reply; delivering again from this offset"
        );
        self.redeliver_below = self.redeliver_below.max(self.cursor.position());
        match self.cursor.seek(StartAt::Offset(offset)) {
            Ok(()) => None,
            Err(e) => {
                self.not_processed(offset);
                Some(self.cursor_failed(e))
            }
        }
    }

    fn processed(&mut self, offset: u64) {
        self.shared
            .counters
            .processed
            .fetch_add(1, Ordering::Relaxed);
        // Replies settle in offset order, so messages before the first one
        // not processed still count for the commit (they may settle after
        // the cursor failed on a later one); nothing after it does.
        if self.cursor_name.is_some() && self.unprocessed.is_none_or(|u| offset < u) {
            self.processed_since_commit += 1;
            self.processed_to = Some(offset + 1);
        }
        if self.failing.0 == offset {
            self.failing = (0, 0);
        }
    }

    fn not_processed(&mut self, offset: u64) {
        self.unprocessed = Some(self.unprocessed.map_or(offset, |u| u.min(offset)));
    }

    fn lagged(&mut self, n: u64) {
        self.missed += n;
        self.shared.counters.missed.fetch_add(n, Ordering::Relaxed);
        tracing::warn!(topic = %self.topic, missed = n, "subscription fell behind");
    }

    fn cursor_failed(&mut self, error: omg::Error) -> Outcome {
        if error.is_terminal() {
            return Ok(SubscriptionEnd::TopicClosed);
        }
        if let omg::Error::Decode { offset, .. } = &error {
            // The cursor moved past it; do not commit past it.
            self.not_processed(*offset);
        }
        Err(SubscriptionError::Cursor(error))
    }

    async fn commit_if_due(&mut self) -> Option<Outcome> {
        if self.processed_since_commit >= self.options.commit_every {
            self.commit().await
        } else {
            None
        }
    }

    /// Commits a named cursor at the position after the last message
    /// processed in order. `Some` ends the subscription.
    async fn commit(&mut self) -> Option<Outcome> {
        let (Some(cursor), Some(position)) = (&self.cursor_name, self.processed_to) else {
            return None;
        };
        if self.processed_since_commit == 0 {
            return None;
        }
        let agency = self.cursor.topic().agency().clone();
        let batch = WriteBatch::commit(CursorCommit::new(
            self.topic.clone(),
            cursor.clone(),
            position,
        ));
        let outcome = match agency.storage().submit(batch, Admission::Queue) {
            Ok(completion) => completion.wait_async().await.map(drop),
            Err(SubmitError::Failed(e, _)) => Err(e),
            Err(SubmitError::Full(_)) => Err(omg::Error::Storage(omg::StorageError::new(
                StorageErrorKind::QueueFull,
                "the storage refused a queued cursor commit",
            ))),
        };
        match outcome {
            Ok(()) => {
                self.processed_since_commit = 0;
                self.shared
                    .counters
                    .committed
                    .store(position, Ordering::Relaxed);
                None
            }
            Err(e) if closed(&agency, &e) => Some(Ok(SubscriptionEnd::TopicClosed)),
            Err(e) => Some(Err(SubscriptionError::Cursor(e))),
        }
    }

    /// Settles what is in flight and commits what was processed in order.
    async fn finish(mut self, outcome: Outcome) -> Outcome {
        while let Some((offset, reply)) = self.pending.pop_front() {
            // Only an `Ok` reply counts; a handler error, an ask the actor
            // sent back unhandled or no reply stops the commit before it.
            let result = reply.await;
            if self.settled(offset, result).is_some() {
                self.shared
                    .counters
                    .failures
                    .fetch_add(1, Ordering::Relaxed);
                self.not_processed(offset);
            }
        }
        match self.commit().await {
            None | Some(Ok(_)) => outcome,
            Some(Err(e)) => outcome.and(Err(e)),
        }
    }
}

/// Whether a commit failed because the topic or the agency is gone.
fn closed(agency: &omg::Agency, error: &omg::Error) -> bool {
    error.is_terminal()
        || agency.is_shut_down()
        || matches!(error, omg::Error::UnknownTopic { .. })
        || matches!(error, omg::Error::Storage(e) if e.kind() == StorageErrorKind::Closed)
}

fn unexpected(error: impl fmt::Display) -> SubscriptionError {
    SubscriptionError::Task(format!("unexpected cursor report: {error}"))
}
