//! Receipts: the pending outcome of a `try_publish` or `try_commit`.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
};

use crate::{
    Agency, Error, Name, Result, blocking,
    storage::{Appended, Completion},
};

/// The outcome of a write handed over without waiting. Poll it each frame
/// with [`Receipt::try_result`], or wait with [`Receipt::wait`] /
/// [`Receipt::wait_async`]. Dropping it does not cancel the write.
///
/// Errors are named as the blocking call would name them: a write to a
/// topic deleted meanwhile fails with [`Error::Deleted`], one cut short by
/// [`Agency::shutdown`] with [`Error::ShutDown`].
pub struct Receipt {
    state: State,
}

enum State {
    Done(Option<Result<u64>>),
    /// `position` is the result of a batch without appends (a commit).
    Pending {
        completion: Completion,
        position: u64,
        /// How to name the write's errors; `None` passes them on as the
        /// storage reported them.
        origin: Option<Arc<Origin>>,
    },
}

/// Where a pending write goes: its agency and topic, so that its errors are
/// named as [`Agency::explain`] names them, and — for a cursor's
/// `try_commit` — how it ended, for the cursor to learn once the receipt's
/// result was taken.
pub(crate) struct Origin {
    agency: Agency,
    topic: Name,
    /// A [`Settled`] as `u8`; `None` when nobody asks.
    settled: Option<AtomicU8>,
}

/// How a write reported through a receipt ended, as far as its [`Origin`]
/// knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Settled {
    /// Its result was not taken yet (or never will be: the receipt dropped).
    Unknown = 0,
    Succeeded = 1,
    Failed = 2,
}

impl Origin {
    /// The origin of writes to `topic` whose outcome nobody else needs.
    pub(crate) fn new(agency: Agency, topic: Name) -> Self {
        Self {
            agency,
            topic,
            settled: None,
        }
    }

    /// The origin of one write whose outcome [`Origin::settled`] tells.
    pub(crate) fn tracked(agency: Agency, topic: Name) -> Self {
        Self {
            agency,
            topic,
            settled: Some(AtomicU8::new(Settled::Unknown as u8)),
        }
    }

    /// How the write ended, once its receipt's result was taken.
    pub(crate) fn settled(&self) -> Settled {
        match self.settled.as_ref().map(|s| s.load(Ordering::Acquire)) {
            Some(1) => Settled::Succeeded,
            Some(2) => Settled::Failed,
            _ => Settled::Unknown,
        }
    }

    fn settle<V>(&self, result: Result<V>) -> Result<V> {
        if let Some(settled) = &self.settled {
            let outcome = if result.is_ok() {
                Settled::Succeeded
            } else {
                Settled::Failed
            };
            settled.store(outcome as u8, Ordering::Release);
        }
        result.map_err(|e| self.agency.explain(&self.topic, e))
    }
}

impl Receipt {
    #[inline]
    pub(crate) fn done(result: Result<u64>) -> Self {
        Self {
            state: State::Done(Some(result)),
        }
    }

    /// A pending write whose errors are passed on as the storage reports
    /// them (see [`Receipt::pending_from`] to name them).
    pub(crate) fn pending(completion: Completion, position: u64) -> Self {
        Self {
            state: State::Pending {
                completion,
                position,
                origin: None,
            },
        }
    }

    /// A pending write to `origin`'s topic: its errors are named as the
    /// agency names them, and a tracked origin learns how it ended.
    pub(crate) fn pending_from(completion: Completion, position: u64, origin: Arc<Origin>) -> Self {
        Self {
            state: State::Pending {
                completion,
                position,
                origin: Some(origin),
            },
        }
    }

    /// The offset (or committed position), or the error, once the write
    /// completed; `None` before, and after the result was taken.
    #[inline]
    pub fn try_result(&mut self) -> Option<Result<u64>> {
        match &mut self.state {
            State::Done(result) => result.take(),
            State::Pending {
                completion,
                position,
                origin,
            } => {
                let first = completion.try_take_first()?;
                let result = finish(first, *position, origin.as_deref());
                self.state = State::Done(None);
                Some(result)
            }
        }
    }

    /// Blocks until the write completed.
    ///
    /// # Errors
    /// The write's error, or [`Error::BlockingForbidden`] on a thread where
    /// blocking is forbidden.
    pub fn wait(self) -> Result<u64> {
        match self.state {
            State::Done(result) => result.unwrap_or_else(taken),
            State::Pending {
                completion,
                position,
                origin,
            } => {
                blocking::check("Receipt::wait")?;
                finish(completion.wait_first(), position, origin.as_deref())
            }
        }
    }

    /// Waits asynchronously until the write completed.
    ///
    /// # Errors
    /// The write's error.
    pub async fn wait_async(self) -> Result<u64> {
        match self.state {
            State::Done(result) => result.unwrap_or_else(taken),
            State::Pending {
                completion,
                position,
                origin,
            } => finish(
                completion.wait_first_async().await,
                position,
                origin.as_deref(),
            ),
        }
    }
}

fn taken() -> Result<u64> {
    Err(Error::Unsupported {
        what: "waiting on a receipt",
        why: "its result was already taken by try_result",
    })
}

/// The offset of a batch's first append, or `position` for a batch without
/// appends (a cursor commit); an error named by `origin`, when known.
fn finish(first: Result<Option<Appended>>, position: u64, origin: Option<&Origin>) -> Result<u64> {
    let result = first.map(|appended| appended.map_or(position, |a| a.offset));
    match origin {
        Some(origin) => origin.settle(result),
        None => result,
    }
}

impl fmt::Debug for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pending = matches!(self.state, State::Pending { .. });
        f.debug_struct("Receipt")
            .field("pending", &pending)
            .finish()
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Origin")
            .field("topic", &self.topic)
            .field("settled", &self.settled())
            .finish_non_exhaustive()
    }
}
