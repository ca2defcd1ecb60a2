//! A handler: a state, the topics it reads with a callback each, and an
//! optional tick. Built here, run by a [`Host`](crate::Host).

use std::{
    fmt,
    panic::{AssertUnwindSafe, catch_unwind},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use omg::{CommitPolicy, Cursor, Error, Message, Receipt, RecvError, StartAt};

use crate::{Envelope, RestartPolicy};

/// The error a handler callback may return. A returned error counts as a
/// failure, exactly like a panic: the message is not committed, and the
/// restart policy applies.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// What a handler callback returns.
pub type HandlerResult = Result<(), HandlerError>;

/// How long a cursor that failed to read (not for good) rests before the
/// next try.
const READ_RETRY: Duration = Duration::from_millis(100);

type Callback<S, T> = Box<dyn FnMut(&mut S, Envelope<T>) -> HandlerResult + Send>;
type TickFn<S> = Box<dyn FnMut(&mut S) -> HandlerResult + Send>;

/// The description of a handler, handed to
/// [`Host::spawn_handler`](crate::Host::spawn_handler).
///
/// `S` is the handler's state. The factory builds it when the handler starts
/// and again after every restart, so a failure never leaves a half-updated
/// state behind: keep what must survive a restart in the storage (a topic,
/// an agent), and what may be rebuilt in `S`.
///
/// ```
/// use std::time::Duration;
/// use omg::{Agency, Delivery, StartAt};
/// use omg_std::{Handler, RestartPolicy};
///
/// let agency = Agency::in_memory();
/// let prices = agency.topic::<u64>("prices", Delivery::exactly_once())?;
/// let alerts = agency.topic::<String>("alerts", Delivery::at_most_once())?;
/// let out = alerts.publisher();
///
/// let handler = Handler::new("watcher", move || (out.clone(), 0_u64))
///     // A named cursor: committed after each handled message.
///     .subscribe(prices.named_cursor("watcher", StartAt::Earliest)?, |(out, max), e| {
///         if *e.value() > *max {
///             *max = *e.value();
///             out.publish(format!("new high: {max}"))?;
///         }
///         Ok(())
///     })
///     .tick(Duration::from_secs(1), |(_, max)| {
///         println!("high so far: {max}");
///         Ok(())
///     })
///     .restart(RestartPolicy::restart().with_max_restarts(3));
/// # drop(handler);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Handler<S> {
    pub(crate) name: String,
    pub(crate) factory: Box<dyn FnMut() -> S + Send>,
    pub(crate) sources: Vec<Box<dyn Source<S>>>,
    pub(crate) tick: Option<(Duration, TickFn<S>)>,
    pub(crate) policy: Option<RestartPolicy>,
}

impl<S: 'static> Handler<S> {
    /// A handler called `name` (also the name of its thread) whose state is
    /// built by `factory`.
    pub fn new(name: impl Into<String>, factory: impl FnMut() -> S + Send + 'static) -> Self {
        Self {
            name: name.into(),
            factory: Box::new(factory),
            sources: Vec::new(),
            tick: None,
            policy: None,
        }
    }

    /// Calls `callback` for every message `cursor` reads, in offset order.
    ///
    /// A named cursor is switched to [`CommitPolicy::Manual`]: the host
    /// commits it only past messages whose callback returned `Ok` — when the
    /// cursor has nothing more to read, every 1024 messages, and at
    /// shutdown. After a failure, a message of a durable topic is delivered
    /// again (with [`Envelope::attempt`] one higher); a message of an
    /// at-most-once topic is dropped, as its class promises.
    #[must_use]
    pub fn subscribe<T: Message>(
        mut self,
        cursor: Cursor<T>,
        callback: impl FnMut(&mut S, Envelope<T>) -> HandlerResult + Send + 'static,
    ) -> Self {
        self.sources
            .push(Box::new(Subscription::new(cursor, Box::new(callback))));
        self
    }

    /// Calls `tick` every `interval`, at a fixed rate from the handler's
    /// start (a tick that is late by more than an interval is skipped, not
    /// run twice). A zero interval is taken as one millisecond.
    #[must_use]
    pub fn tick(
        mut self,
        interval: Duration,
        tick: impl FnMut(&mut S) -> HandlerResult + Send + 'static,
    ) -> Self {
        self.tick = Some((interval.max(Duration::from_millis(1)), Box::new(tick)));
        self
    }

    /// The restart policy of this handler (default: the host's).
    #[must_use]
    pub fn restart(mut self, policy: RestartPolicy) -> Self {
        self.policy = Some(policy);
        self
    }
}

impl<S> fmt::Debug for Handler<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handler")
            .field("name", &self.name)
            .field("subscriptions", &self.sources.len())
            .field("tick", &self.tick.as_ref().map(|(interval, _)| interval))
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// What one turn of a subscription did.
pub(crate) enum Step {
    /// A message was handled; `attempt` > 1 for a redelivery.
    Handled { attempt: u32 },
    /// The callback failed on a message.
    Failed {
        reason: String,
        attempt: u32,
        /// Whether the message will be delivered again (durable topics).
        redelivered: bool,
    },
    /// A gap of this many messages was found (reported with the next one).
    Missed(u64),
    /// Reading failed, not for good; the subscription rests until `until`.
    ReadError(Error),
    /// Nothing to read now; the waker is registered.
    Idle,
    /// Resting after a read error until this instant.
    Resting(Instant),
    /// The topic ended (agency shut down, topic deleted).
    Ended,
}

/// A subscription with its message type erased, so one handler can read
/// topics of different types.
pub(crate) trait Source<S>: Send {
    /// Reads the next message and hands it to the callback, if there is one.
    fn step(&mut self, state: &mut S, cx: &mut Context<'_>) -> Step;

    /// Hands a commit of everything handled so far to the storage without
    /// waiting; earlier commits are checked and their failures returned.
    fn commit_in_background(&mut self) -> Vec<Error>;

    /// Commits everything handled so far and waits until it is durable;
    /// the error if that position could not be committed.
    fn commit_and_wait(&mut self) -> Option<Error>;

    /// How many messages were handled since the last commit.
    fn uncommitted(&self) -> u64;
}

struct Subscription<S, T> {
    cursor: Cursor<T>,
    callback: Callback<S, T>,
    durable: bool,
    /// The message to deliver again after a failure: offset and attempt.
    redeliver: Option<(u64, u32)>,
    missed: u64,
    resting: Option<Instant>,
    ended: bool,
    uncommitted: u64,
    commits: Vec<Receipt>,
}

impl<S, T: Message> Subscription<S, T> {
    fn new(cursor: Cursor<T>, callback: Callback<S, T>) -> Self {
        let durable = cursor.topic().delivery().is_durable();
        Self {
            cursor: cursor.with_commit_policy(CommitPolicy::Manual),
            callback,
            durable,
            redeliver: None,
            missed: 0,
            resting: None,
            ended: false,
            uncommitted: 0,
            commits: Vec::new(),
        }
    }

    /// Checks the commits in flight, keeping those not yet done. After a
    /// failed one, the next commit is forced even if the position did not
    /// move (the cursor counts a submitted commit as done).
    fn settle_commits(&mut self) -> Vec<Error> {
        let mut errors = Vec::new();
        self.commits
            .retain_mut(|receipt| match receipt.try_result() {
                None => true,
                Some(Ok(_)) => false,
                Some(Err(e)) => {
                    errors.push(e);
                    false
                }
            });
        if !errors.is_empty() {
            self.force_next_commit();
        }
        errors
    }

    fn force_next_commit(&mut self) {
        // Seeking to the current position keeps it and marks it uncommitted.
        let position = self.cursor.position();
        let _ = self.cursor.seek(StartAt::Offset(position));
    }
}

impl<S, T: Message> Source<S> for Subscription<S, T> {
    fn step(&mut self, state: &mut S, cx: &mut Context<'_>) -> Step {
        if self.ended {
            return Step::Ended;
        }
        if let Some(until) = self.resting {
            if Instant::now() < until {
                return Step::Resting(until);
            }
            self.resting = None;
        }
        let record = match self.cursor.poll_recv(cx) {
            Poll::Pending => return Step::Idle,
            Poll::Ready(Ok(record)) => record,
            Poll::Ready(Err(RecvError::Lagged(n))) => {
                self.missed += n;
                return Step::Missed(n);
            }
            Poll::Ready(Err(RecvError::Failed(e))) if e.is_terminal() => {
                self.ended = true;
                return Step::Ended;
            }
            Poll::Ready(Err(RecvError::Failed(e))) => {
                // An undecodable message was skipped by the cursor: go on at
                // once. Anything else (storage trouble): rest a little.
                if !matches!(e, Error::Decode { .. }) {
                    self.resting = Some(Instant::now() + READ_RETRY);
                }
                return Step::ReadError(e);
            }
            Poll::Ready(Err(e)) => {
                self.resting = Some(Instant::now() + READ_RETRY);
                return Step::ReadError(unknown_read_error(&e));
            }
        };
        let offset = record.offset;
        let attempt = match self.redeliver.take() {
            Some((o, attempt)) if o == offset => attempt,
            _ => 1,
        };
        let envelope = Envelope {
            topic: self.cursor.topic().name().clone(),
            record,
            attempt,
            missed: std::mem::take(&mut self.missed),
        };
        let callback = &mut self.callback;
        let outcome = catch_unwind(AssertUnwindSafe(|| callback(state, envelope)));
        let reason = match outcome {
            Ok(Ok(())) => {
                self.uncommitted += 1;
                return Step::Handled { attempt };
            }
            Ok(Err(e)) => format!("error: {e}"),
            Err(panic) => format!("panic: {}", panic_message(panic.as_ref())),
        };
        if self.durable {
            // Read the failed message again from the storage, after the
            // restart. Seeking to an offset never fails.
            let _ = self.cursor.seek(StartAt::Offset(offset));
            self.redeliver = Some((offset, attempt.saturating_add(1)));
        }
        Step::Failed {
            reason,
            attempt,
            redelivered: self.durable,
        }
    }

    fn commit_in_background(&mut self) -> Vec<Error> {
        let mut errors = self.settle_commits();
        if self.ended {
            return errors;
        }
        match self.cursor.try_commit() {
            Ok(Some(receipt)) => {
                self.uncommitted = 0;
                self.commits.push(receipt);
            }
            Ok(None) => self.uncommitted = 0,
            Err(e) => errors.push(e),
        }
        errors
    }

    fn commit_and_wait(&mut self) -> Option<Error> {
        let mut failed = None;
        for receipt in self.commits.drain(..) {
            if let Err(e) = receipt.wait() {
                failed = Some(e);
            }
        }
        // A topic that ended under the handler still gets a commit attempt
        // for what it handled: its error tells the caller that these
        // messages will be delivered again.
        if self.ended && self.uncommitted == 0 {
            return failed;
        }
        if failed.is_some() {
            self.force_next_commit();
        }
        match self.cursor.commit() {
            Ok(()) => {
                self.uncommitted = 0;
                None
            }
            Err(e) => Some(e),
        }
    }

    fn uncommitted(&self) -> u64 {
        self.uncommitted
    }
}

/// `RecvError` is non-exhaustive; a variant added later is passed on with
/// its own text.
fn unknown_read_error(e: &RecvError) -> Error {
    Error::Storage(omg::StorageError::new(
        omg::StorageErrorKind::Other,
        format!("the cursor reported an error this version of omg-std does not know: {e}"),
    ))
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}
