//! Reading a topic into Bevy Messages.

use std::{fmt, sync::Mutex};

use bevy_ecs::{
    change_detection::{DetectChangesMut, ResMut},
    message::{Message, MessageWriter},
    resource::Resource,
};
use omg::{CommitPolicy, Cursor, Receipt, Record, Timestamp, TryRecvError};

/// How many messages a reader moves into Bevy per frame unless told
/// otherwise ([`OmgReader::set_budget`]).
pub const DEFAULT_READ_BUDGET: usize = 4096;

/// One topic message, as a Bevy [`Message`]. Read it with
/// `MessageReader<Received<T>>`; it derefs to the value.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct Received<T: omg::Message> {
    /// Its offset in the topic.
    pub offset: u64,
    /// When it was published.
    pub timestamp: Timestamp,
    /// The message.
    pub value: T,
}

impl<T: omg::Message> From<Record<T>> for Received<T> {
    fn from(record: Record<T>) -> Self {
        let Record {
            offset,
            timestamp,
            value,
            ..
        } = record;
        Self {
            offset,
            timestamp,
            value,
        }
    }
}

impl<T: omg::Message> std::ops::Deref for Received<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

/// The reader of `T` fell behind: `missed` messages are gone (an
/// at-most-once ring overwrote them, or at-least-once retention trimmed
/// them) and were not delivered. Written in the frame the gap is found: the
/// [`Received`] messages of that frame with offsets past the gap come after
/// it. Also counted in [`OmgReader::missed`].
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged<T: omg::Message> {
    /// How many messages were skipped.
    pub missed: u64,
    marker: std::marker::PhantomData<fn() -> T>,
}

impl<T: omg::Message> Lagged<T> {
    pub(crate) fn new(missed: u64) -> Self {
        Self {
            missed,
            marker: std::marker::PhantomData,
        }
    }
}

/// Reading the topic of `T` failed. An undecodable durable message is
/// skipped after this report and reading goes on; any other error ends this
/// frame's reading (retried next frame); a terminal one
/// ([`omg::Error::is_terminal`]: shut down, deleted) closes the reader for
/// good ([`OmgReader::is_closed`]).
#[derive(Message, Debug, Clone)]
pub struct ReadFailed<T: omg::Message> {
    /// What went wrong.
    pub error: omg::Error,
    marker: std::marker::PhantomData<fn() -> T>,
}

impl<T: omg::Message> ReadFailed<T> {
    pub(crate) fn new(error: omg::Error) -> Self {
        Self {
            error,
            marker: std::marker::PhantomData,
        }
    }
}

/// The resource behind a topic registered with
/// [`OmgAppExt::add_omg_reader`](crate::OmgAppExt::add_omg_reader): the
/// cursor, the per-frame budget and the reader's counters. Read it with
/// `Res<OmgReader<T>>`; change the budget with `ResMut`.
#[derive(Resource)]
pub struct OmgReader<T: omg::Message> {
    // `Cursor` is `Send` but not `Sync`; a resource must be both. The drain
    // system holds `&mut` and uses `Mutex::get_mut`, which never locks.
    cursor: Mutex<Cursor<T>>,
    /// A named cursor the plugin commits one frame after reading.
    commit_after_frame: bool,
    /// The last such commit, polled before the next one.
    commit: Option<Receipt>,
    budget: usize,
    received: u64,
    missed: u64,
    closed: bool,
}

impl<T: omg::Message> OmgReader<T> {
    pub(crate) fn new(cursor: Cursor<T>) -> Self {
        let commit_after_frame = cursor
            .commit_policy()
            .is_some_and(|policy| policy != CommitPolicy::BeforeProcessing);
        let cursor = if commit_after_frame {
            cursor.with_commit_policy(CommitPolicy::Manual)
        } else {
            cursor
        };
        Self {
            cursor: Mutex::new(cursor),
            commit_after_frame,
            commit: None,
            budget: DEFAULT_READ_BUDGET,
            received: 0,
            missed: 0,
            closed: false,
        }
    }

    /// The most messages moved into Bevy per frame.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Sets the most messages moved into Bevy per frame (at least 1).
    /// Messages beyond it stay in the cursor for the next frames, in order;
    /// on an at-most-once topic they can be overwritten meanwhile, which is
    /// then reported as [`Lagged`].
    pub fn set_budget(&mut self, budget: usize) {
        self.budget = budget.max(1);
    }

    /// How many messages were delivered as [`Received`] so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// How many messages were reported missed ([`Lagged`]) so far.
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// Whether a terminal error (shut down, deleted) ended this reader.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The next offset the reader hands out.
    pub fn position(&self) -> u64 {
        self.cursor_ref().position()
    }
}

impl<T: omg::Message> fmt::Debug for OmgReader<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OmgReader")
            .field("topic", self.cursor_ref().topic().name())
            .field("budget", &self.budget)
            .field("received", &self.received)
            .field("missed", &self.missed)
            .field("closed", &self.closed)
            .finish()
    }
}

impl<T: omg::Message> OmgReader<T> {
    fn cursor_ref(&self) -> std::sync::MutexGuard<'_, Cursor<T>> {
        self.cursor
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The [`OmgSystems::Read`](crate::OmgSystems::Read) system of a reader:
/// moves up to the budget of messages from the cursor into `Messages`.
pub(crate) fn drain<T: omg::Message>(
    mut reader: ResMut<'_, OmgReader<T>>,
    mut received: MessageWriter<'_, Received<T>>,
    mut lagged: MessageWriter<'_, Lagged<T>>,
    mut failed: MessageWriter<'_, ReadFailed<T>>,
) {
    // Only counters change; let `is_changed` mean "something happened".
    let state = reader.bypass_change_detection();
    if state.closed {
        return;
    }
    let cursor = state
        .cursor
        .get_mut()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if state.commit_after_frame
        && let Some(error) = commit_previous_frame(cursor, &mut state.commit)
    {
        failed.write(ReadFailed::new(error));
    }
    let (mut taken, mut delivered, mut missed) = (0usize, 0u64, 0u64);
    let mut closed = false;
    while taken < state.budget {
        taken += 1;
        match cursor.try_recv() {
            Ok(record) => {
                delivered += 1;
                received.write(Received::from(record));
            }
            Err(TryRecvError::Empty) => break,
            Err(TryRecvError::Lagged(n)) => {
                missed += n;
                lagged.write(Lagged::new(n));
            }
            Err(TryRecvError::Failed(error)) => {
                // The cursor has moved past an undecodable message: go on.
                let skipped = matches!(error, omg::Error::Decode { .. });
                closed = error.is_terminal();
                failed.write(ReadFailed::new(error));
                if !skipped {
                    break;
                }
            }
            Err(other) => {
                failed.write(ReadFailed::new(omg::Error::Storage(
                    omg::StorageError::new(omg::StorageErrorKind::Other, other.to_string()),
                )));
                break;
            }
        }
    }
    state.received += delivered;
    state.missed += missed;
    state.closed = closed;
    if delivered > 0 || missed > 0 || closed {
        reader.set_changed();
    }
}

/// Commits a named cursor's position as of the end of the previous frame's
/// read: every system of that frame, and every system of this frame that
/// runs before `OmgSystems::Read`, has had its chance to read those
/// messages. Never waits: a commit still in flight is polled, a full write
/// queue is retried next frame. Returns a failure to report.
fn commit_previous_frame<T: omg::Message>(
    cursor: &mut Cursor<T>,
    in_flight: &mut Option<Receipt>,
) -> Option<omg::Error> {
    if let Some(receipt) = in_flight {
        match receipt.try_result() {
            None => return None,
            Some(result) => {
                *in_flight = None;
                if let Err(error) = result {
                    return Some(error);
                }
            }
        }
    }
    match cursor.try_commit() {
        Ok(receipt) => {
            *in_flight = receipt;
            None
        }
        Err(omg::Error::Storage(e)) if e.kind() == omg::StorageErrorKind::QueueFull => None,
        Err(error) => Some(error),
    }
}
