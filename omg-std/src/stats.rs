//! Per-handler figures and status, readable while the host runs.

use std::{
    fmt,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU8, AtomicU64, Ordering},
    },
};

/// Figures of one handler since it was spawned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandlerStats {
    /// Messages handled successfully.
    pub handled: u64,
    /// Handler calls (message or tick) that panicked or returned an error.
    pub failures: u64,
    /// Times the handler's state was built again after a failure.
    pub restarts: u64,
    /// Messages delivered again after a failure (each delivery counts).
    pub redeliveries: u64,
    /// At-most-once messages in hand when the handler failed: not delivered
    /// again, as the class promises.
    pub dropped: u64,
    /// Messages lost before the handler read them (reported as
    /// [`Envelope::missed`](crate::Envelope::missed)).
    pub missed: u64,
    /// Ticks run successfully.
    pub ticks: u64,
    /// Read or commit errors of the handler's cursors (logged with `tracing`).
    pub errors: u64,
}

/// Where a handler is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandlerStatus {
    /// Waiting for or handling messages.
    Running,
    /// Waiting out the backoff before a restart.
    BackingOff,
    /// Stopped by a shutdown, or because every topic it read ended.
    Stopped,
    /// Stopped after a failure its restart policy did not allow to restart.
    Failed,
}

impl HandlerStatus {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Running,
            1 => Self::BackingOff,
            2 => Self::Stopped,
            _ => Self::Failed,
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            Self::Running => 0,
            Self::BackingOff => 1,
            Self::Stopped => 2,
            Self::Failed => 3,
        }
    }

    /// Whether the handler's thread is done.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Stopped | Self::Failed)
    }
}

/// Counters shared between a worker thread and the handles.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) handled: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) restarts: AtomicU64,
    pub(crate) redeliveries: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) missed: AtomicU64,
    pub(crate) ticks: AtomicU64,
    pub(crate) errors: AtomicU64,
    status: AtomicU8,
    last_failure: Mutex<Option<String>>,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn set_status(&self, status: HandlerStatus) {
        self.status.store(status.to_u8(), Ordering::Release);
    }

    pub(crate) fn record_failure(&self, reason: String) {
        Self::add(&self.failures, 1);
        *self
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(reason);
    }

    fn snapshot(&self) -> HandlerStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        HandlerStats {
            handled: get(&self.handled),
            failures: get(&self.failures),
            restarts: get(&self.restarts),
            redeliveries: get(&self.redeliveries),
            dropped: get(&self.dropped),
            missed: get(&self.missed),
            ticks: get(&self.ticks),
            errors: get(&self.errors),
        }
    }
}

/// A view of one spawned handler: its name, figures and status. Cheap to
/// clone; stays readable after the handler stopped.
#[derive(Clone)]
pub struct HandlerHandle {
    name: Arc<str>,
    counters: Arc<Counters>,
}

impl HandlerHandle {
    pub(crate) fn new(name: Arc<str>, counters: Arc<Counters>) -> Self {
        Self { name, counters }
    }

    /// The handler's name (also its thread's name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its figures now.
    pub fn stats(&self) -> HandlerStats {
        self.counters.snapshot()
    }

    /// Its status now.
    pub fn status(&self) -> HandlerStatus {
        HandlerStatus::from_u8(self.counters.status.load(Ordering::Acquire))
    }

    /// The panic message or error of its last failure, if any.
    pub fn last_failure(&self) -> Option<String> {
        self.counters
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl fmt::Debug for HandlerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerHandle")
            .field("name", &self.name)
            .field("status", &self.status())
            .field("stats", &self.stats())
            .finish()
    }
}
