//! Completion handles: how a submitted write reports its outcome to blocking,
//! async and polling waiters alike.

use std::{
    fmt,
    future::{Future, IntoFuture},
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll, Wake, Waker},
    thread::Thread,
};

use super::{Appended, WriteBatch};
use crate::{Error, StorageError, StorageErrorKind};

/// The outcome of a submitted [`WriteBatch`]: one [`Appended`] per append,
/// in order, or the error that failed the batch.
pub type BatchOutcome = Result<Vec<Appended>, Error>;

/// Waits for a submitted batch to complete.
///
/// Backends that complete inline return [`Completion::ready`] (and may
/// offer an [`InlineLog`](super::InlineLog) for single publishes);
/// backends with a writer thread return the
/// waiting half of [`Completion::pending`] and complete the [`Completer`]
/// later.
pub struct Completion {
    state: State,
}

enum State {
    Ready(Option<Outcome>),
    /// A oneshot channel: one allocation and one wake-up per write. The
    /// mutex is never contended (every access is through `&mut self` or
    /// `self`); it only makes the receiver `Sync`, as a `Completion` inside
    /// a `Receipt` or a cursor must be (Bevy resources, shared handles).
    Pending(Mutex<oneshot::Receiver<Delivered>>),
    /// A pending completion an async waiter polled in place
    /// ([`Completion::settle_async`]): from then on it is polled, and a
    /// blocking wait parks on it with a thread waker.
    Polled(Mutex<oneshot::AsyncReceiver<Delivered>>),
}

/// An outcome as a backend gave it: a list, or the result of a batch of
/// one append (the publish path), which needs no list.
enum Outcome {
    List(BatchOutcome),
    One(Result<Appended, Error>),
}

/// What a [`Completer`] sends. The spent batch rides along so that the
/// waiter's thread — the one that allocated its buffers — frees them.
struct Delivered {
    outcome: Outcome,
    _spent: Option<WriteBatch>,
}

/// The backend's half of a pending [`Completion`]. One pointer: it sits in
/// a backend's write queue beside every batch.
pub struct Completer {
    sender: oneshot::Sender<Delivered>,
}

impl Outcome {
    fn into_list(self) -> BatchOutcome {
        match self {
            Self::List(list) => list,
            Self::One(one) => one.map(|a| vec![a]),
        }
    }

    fn into_first(self) -> Result<Option<Appended>, Error> {
        match self {
            Self::List(list) => list.map(|l| l.first().copied()),
            Self::One(one) => one.map(Some),
        }
    }
}

impl Completion {
    /// A completion that is already done.
    pub fn ready(outcome: BatchOutcome) -> Self {
        Self {
            state: State::Ready(Some(Outcome::List(outcome))),
        }
    }

    /// A completion that a [`Completer`] will finish.
    pub fn pending() -> (Completer, Self) {
        let (sender, receiver) = oneshot::channel();
        let completion = Self {
            state: State::Pending(Mutex::new(receiver)),
        };
        (Completer { sender }, completion)
    }

    /// The outcome if the batch completed, without blocking. Returns `None`
    /// until then, and once more after the outcome was taken.
    pub fn try_take(&mut self) -> Option<BatchOutcome> {
        self.try_take_outcome().map(Outcome::into_list)
    }

    /// Blocks until the batch completes.
    pub fn wait(self) -> BatchOutcome {
        self.wait_outcome().into_list()
    }

    /// Waits asynchronously until the batch completes. Cancel-safe: dropping
    /// the future leaves the write as submitted.
    pub async fn wait_async(self) -> BatchOutcome {
        self.wait_outcome_async().await.into_list()
    }

    /// The first append's result if the batch completed, without blocking
    /// and, for a batch of one append, without allocating: the publish
    /// path's [`try_take`](Self::try_take).
    pub(crate) fn try_take_first(&mut self) -> Option<Result<Option<Appended>, Error>> {
        self.try_take_outcome().map(Outcome::into_first)
    }

    /// [`wait`](Self::wait) for the first append's result.
    pub(crate) fn wait_first(self) -> Result<Option<Appended>, Error> {
        self.wait_outcome().into_first()
    }

    /// [`wait_async`](Self::wait_async) for the first append's result.
    pub(crate) async fn wait_first_async(self) -> Result<Option<Appended>, Error> {
        self.wait_outcome_async().await.into_first()
    }

    /// Waits asynchronously until the batch completes, leaving the
    /// completion in place: a future dropped before the outcome arrived
    /// loses nothing, and the next call waits on. `None` once the outcome
    /// was taken.
    pub(crate) async fn settle_async(&mut self) -> Option<BatchOutcome> {
        if matches!(self.state, State::Pending(_)) {
            let State::Pending(receiver) = std::mem::replace(&mut self.state, State::Ready(None))
            else {
                unreachable!("matched just above");
            };
            let receiver = receiver
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner);
            self.state = State::Polled(Mutex::new(receiver.into_future()));
        }
        std::future::poll_fn(|cx| self.poll_outcome(cx))
            .await
            .map(Outcome::into_list)
    }

    /// Polls a completion in place; `Ready(None)` once the outcome was taken.
    fn poll_outcome(&mut self, cx: &mut Context<'_>) -> Poll<Option<Outcome>> {
        let delivered = match &mut self.state {
            State::Ready(outcome) => return Poll::Ready(outcome.take()),
            State::Pending(receiver) => {
                match receiver
                    .get_mut()
                    .unwrap_or_else(PoisonError::into_inner)
                    .try_recv()
                {
                    Ok(delivered) => Ok(delivered),
                    Err(oneshot::TryRecvError::Empty) => return Poll::Pending,
                    Err(oneshot::TryRecvError::Disconnected) => Err(()),
                }
            }
            State::Polled(receiver) => {
                let receiver = receiver.get_mut().unwrap_or_else(PoisonError::into_inner);
                match Pin::new(receiver).poll(cx) {
                    Poll::Ready(delivered) => delivered.map_err(drop),
                    Poll::Pending => return Poll::Pending,
                }
            }
        };
        // A oneshot receiver must not be polled after it delivered.
        self.state = State::Ready(None);
        Poll::Ready(Some(delivered.map_or_else(|()| dropped(), |d| d.outcome)))
    }

    fn try_take_outcome(&mut self) -> Option<Outcome> {
        match self.poll_outcome(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(outcome) => outcome,
            Poll::Pending => None,
        }
    }

    fn wait_outcome(self) -> Outcome {
        match self.state {
            State::Ready(outcome) => outcome.unwrap_or_else(dropped),
            State::Polled(receiver) => {
                let mut receiver = receiver
                    .into_inner()
                    .unwrap_or_else(PoisonError::into_inner);
                let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
                let mut cx = Context::from_waker(&waker);
                loop {
                    match Pin::new(&mut receiver).poll(&mut cx) {
                        Poll::Ready(delivered) => {
                            break delivered.map_or_else(|_| dropped(), |d| d.outcome);
                        }
                        Poll::Pending => std::thread::park(),
                    }
                }
            }
            State::Pending(receiver) => receiver
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                .recv()
                .map_or_else(|_| dropped(), |d| d.outcome),
        }
    }

    async fn wait_outcome_async(self) -> Outcome {
        match self.state {
            State::Ready(outcome) => outcome.unwrap_or_else(dropped),
            State::Polled(receiver) => receiver
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                .await
                .map_or_else(|_| dropped(), |d| d.outcome),
            State::Pending(receiver) => receiver
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                .into_future()
                .await
                .map_or_else(|_| dropped(), |d| d.outcome),
        }
    }
}

impl Completer {
    /// Delivers the outcome. A waiter that gave up is not an error.
    pub fn complete(self, outcome: BatchOutcome) {
        self.send(Outcome::List(outcome), None);
    }

    /// Delivers the outcome of a batch of one append, without a list.
    pub fn complete_one(self, outcome: Result<Appended, Error>) {
        self.send(Outcome::One(outcome), None);
    }

    /// [`complete`](Self::complete), handing the submitted batch back to be
    /// dropped by whoever takes the outcome. A writer thread that frees the
    /// buffers publishers allocated contends with them on the allocator's
    /// arena lock; sent back, they are freed where they were made.
    pub fn complete_returning(self, outcome: BatchOutcome, spent: WriteBatch) {
        self.send(Outcome::List(outcome), Some(spent));
    }

    /// [`complete_one`](Self::complete_one), handing the submitted batch
    /// back (see [`complete_returning`](Self::complete_returning)).
    pub fn complete_one_returning(self, outcome: Result<Appended, Error>, spent: WriteBatch) {
        self.send(Outcome::One(outcome), Some(spent));
    }

    fn send(self, outcome: Outcome, spent: Option<WriteBatch>) {
        let delivered = Delivered {
            outcome,
            _spent: spent,
        };
        let _ignored_if_nobody_waits = self.sender.send(delivered);
    }
}

/// Wakes a thread parked in a blocking wait on a polled completion.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

fn dropped() -> Outcome {
    Outcome::List(Err(Error::Storage(StorageError::new(
        StorageErrorKind::Closed,
        "the storage dropped a write without completing it",
    ))))
}

impl fmt::Debug for Completion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let done = match &self.state {
            State::Ready(outcome) => outcome.is_some(),
            State::Pending(receiver) => receiver.try_lock().is_ok_and(|r| r.has_message()),
            State::Polled(receiver) => receiver.try_lock().is_ok_and(|r| r.has_message()),
        };
        f.debug_struct("Completion").field("done", &done).finish()
    }
}

impl fmt::Debug for Completer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completer").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::{future::Future, pin::pin, task::Context};

    use super::*;

    fn appended(offset: u64) -> BatchOutcome {
        Ok(vec![Appended {
            offset,
            duplicate: false,
        }])
    }

    /// The offsets of an outcome, if there is one; an error fails the test.
    fn offsets(outcome: Option<BatchOutcome>) -> Option<Vec<u64>> {
        outcome.map(|o| match o {
            Ok(appended) => appended.iter().map(|a| a.offset).collect(),
            Err(e) => panic!("{e}"),
        })
    }

    /// Polls `settle_async` once: the batch is not complete yet.
    fn poll_once_and_drop(completion: &mut Completion) {
        let settling = pin!(completion.settle_async());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(settling.poll(&mut cx).is_pending());
    }

    #[test]
    fn a_settle_dropped_before_the_outcome_leaves_it_to_try_take() {
        let (completer, mut completion) = Completion::pending();
        poll_once_and_drop(&mut completion);
        assert!(completion.try_take().is_none());
        completer.complete(appended(4));
        assert_eq!(offsets(completion.try_take()), Some(vec![4]));
        assert_eq!(offsets(completion.try_take()), None, "taken once");
    }

    #[test]
    fn a_polled_completion_can_still_be_waited_on_blocking() {
        let (completer, mut completion) = Completion::pending();
        poll_once_and_drop(&mut completion);
        let completing = std::thread::spawn(move || completer.complete(appended(9)));
        assert_eq!(offsets(Some(completion.wait())), Some(vec![9]));
        completing.join().expect("completer thread");
    }

    #[test]
    fn settle_async_returns_the_outcome_once() {
        let (completer, mut completion) = Completion::pending();
        completer.complete(appended(1));
        let mut cx = Context::from_waker(Waker::noop());
        let first = pin!(completion.settle_async()).poll(&mut cx);
        let Poll::Ready(first) = first else {
            panic!("a completed batch settles at once")
        };
        assert_eq!(offsets(first), Some(vec![1]));
        let again = pin!(completion.settle_async()).poll(&mut cx);
        assert!(matches!(again, Poll::Ready(None)), "settled once");
    }
}
