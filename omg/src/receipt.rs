//! Receipts: the pending outcome of a `try_publish` or `try_commit`.

use std::fmt;

use crate::{Error, Result, blocking, storage::Completion};

/// The outcome of a write handed over without waiting. Poll it each frame
/// with [`Receipt::try_result`], or wait with [`Receipt::wait`] /
/// [`Receipt::wait_async`]. Dropping it does not cancel the write.
pub struct Receipt {
    state: State,
}

enum State {
    Done(Option<Result<u64>>),
    /// `position` is the result of a batch without appends (a commit).
    Pending {
        completion: Completion,
        position: u64,
    },
}

impl Receipt {
    pub(crate) fn done(result: Result<u64>) -> Self {
        Self {
            state: State::Done(Some(result)),
        }
    }

    pub(crate) fn pending(completion: Completion, position: u64) -> Self {
        Self {
            state: State::Pending {
                completion,
                position,
            },
        }
    }

    /// The offset (or committed position), or the error, once the write
    /// completed; `None` before, and after the result was taken.
    pub fn try_result(&mut self) -> Option<Result<u64>> {
        match &mut self.state {
            State::Done(result) => result.take(),
            State::Pending {
                completion,
                position,
            } => {
                let position = *position;
                let first = completion.try_take_first()?;
                self.state = State::Done(None);
                Some(first_or(first, position))
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
            } => {
                blocking::check("Receipt::wait")?;
                first_or(completion.wait_first(), position)
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
            } => first_or(completion.wait_first_async().await, position),
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
/// appends (a cursor commit).
fn first_or(first: Result<Option<crate::storage::Appended>>, position: u64) -> Result<u64> {
    Ok(first?.map_or(position, |a| a.offset))
}

impl fmt::Debug for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pending = matches!(self.state, State::Pending { .. });
        f.debug_struct("Receipt")
            .field("pending", &pending)
            .finish()
    }
}
