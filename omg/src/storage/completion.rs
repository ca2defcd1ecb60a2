//! Completion handles: how a submitted write reports its outcome to blocking,
//! async and polling waiters alike.

use std::{
    fmt,
    future::IntoFuture,
    sync::{Mutex, PoisonError},
};

use super::Appended;
use crate::{Error, StorageError, StorageErrorKind};

/// The outcome of a submitted [`WriteBatch`](super::WriteBatch): one
/// [`Appended`] per append, in order, or the error that failed the batch.
pub type BatchOutcome = Result<Vec<Appended>, Error>;

/// Waits for a submitted batch to complete.
///
/// Backends that complete inline return [`Completion::ready`]; backends with
/// a writer thread return the waiting half of [`Completion::pending`] and
/// complete the [`Completer`] later.
pub struct Completion {
    state: State,
}

enum State {
    Ready(Option<BatchOutcome>),
    /// A batch of one append completed inline: no list to allocate.
    ReadyOne(Option<Result<Appended, Error>>),
    /// A oneshot channel: one allocation and one wake-up per write. The
    /// mutex is never contended (every access is through `&mut self` or
    /// `self`); it only makes the receiver `Sync`, as a `Completion` inside
    /// a `Receipt` or a cursor must be (Bevy resources, shared handles).
    Pending(Mutex<oneshot::Receiver<BatchOutcome>>),
}

/// The backend's half of a pending [`Completion`].
pub struct Completer {
    sender: oneshot::Sender<BatchOutcome>,
}

impl Completion {
    /// A completion that is already done.
    pub fn ready(outcome: BatchOutcome) -> Self {
        Self {
            state: State::Ready(Some(outcome)),
        }
    }

    /// A completed batch of one append: what [`ready`](Self::ready) with a
    /// one-element list means, without allocating the list (the in-memory
    /// storage's publish path).
    pub fn appended(outcome: Result<Appended, Error>) -> Self {
        Self {
            state: State::ReadyOne(Some(outcome)),
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
        match &mut self.state {
            State::Ready(outcome) => outcome.take(),
            State::ReadyOne(outcome) => outcome.take().map(|r| r.map(|a| vec![a])),
            State::Pending(receiver) => match receiver
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .try_recv()
            {
                Ok(outcome) => Some(outcome),
                Err(oneshot::TryRecvError::Empty) => None,
                Err(oneshot::TryRecvError::Disconnected) => Some(Err(dropped())),
            },
        }
    }

    /// Blocks until the batch completes.
    pub fn wait(self) -> BatchOutcome {
        match self.state {
            State::Ready(mut outcome) => outcome.take().unwrap_or_else(|| Err(dropped())),
            State::ReadyOne(mut outcome) => taken_one(&mut outcome),
            State::Pending(receiver) => receiver
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                .recv()
                .unwrap_or_else(|_| Err(dropped())),
        }
    }

    /// Waits asynchronously until the batch completes. Cancel-safe: dropping
    /// the future leaves the write as submitted.
    pub async fn wait_async(self) -> BatchOutcome {
        match self.state {
            State::Ready(mut outcome) => outcome.take().unwrap_or_else(|| Err(dropped())),
            State::ReadyOne(mut outcome) => taken_one(&mut outcome),
            State::Pending(receiver) => receiver
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                .into_future()
                .await
                .unwrap_or_else(|_| Err(dropped())),
        }
    }

    /// The first append's result if the batch completed, without blocking
    /// and, for [`appended`](Self::appended), without allocating: the
    /// publish path's [`try_take`](Self::try_take).
    pub(crate) fn try_take_first(&mut self) -> Option<Result<Option<Appended>, Error>> {
        match &mut self.state {
            State::ReadyOne(outcome) => outcome.take().map(|r| r.map(Some)),
            _ => self
                .try_take()
                .map(|outcome| outcome.map(|list| list.first().copied())),
        }
    }
}

impl Completer {
    /// Delivers the outcome. A waiter that gave up is not an error.
    pub fn complete(self, outcome: BatchOutcome) {
        let _ignored_if_nobody_waits = self.sender.send(outcome);
    }
}

/// A taken [`State::ReadyOne`] as a list.
fn taken_one(outcome: &mut Option<Result<Appended, Error>>) -> BatchOutcome {
    match outcome.take() {
        Some(result) => result.map(|a| vec![a]),
        None => Err(dropped()),
    }
}

fn dropped() -> Error {
    Error::Storage(StorageError::new(
        StorageErrorKind::Closed,
        "the storage dropped a write without completing it",
    ))
}

impl fmt::Debug for Completion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let done = match &self.state {
            State::Ready(outcome) => outcome.is_some(),
            State::ReadyOne(outcome) => outcome.is_some(),
            State::Pending(receiver) => receiver.try_lock().is_ok_and(|r| r.has_message()),
        };
        f.debug_struct("Completion").field("done", &done).finish()
    }
}

impl fmt::Debug for Completer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completer").finish_non_exhaustive()
    }
}
