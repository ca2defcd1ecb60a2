//! The writer's figures for monitoring (DESIGN §8), written by the writer
//! thread and read by [`SqliteStorage::stats`](omg::storage::Storage::stats).

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

/// No commit timed yet.
const NONE: u64 = u64::MAX;

#[derive(Debug)]
pub(crate) struct WriterFigures {
    /// Commands sent to the writer and not yet taken off its queue. Kept
    /// here rather than asked of the channel: its `len` takes the lock the
    /// writer and every publisher contend on.
    queued: AtomicU64,
    commits: AtomicU64,
    /// Microseconds from the first write of the last drain to its commit.
    last_commit_micros: AtomicU64,
}

impl Default for WriterFigures {
    fn default() -> Self {
        Self {
            queued: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            last_commit_micros: AtomicU64::new(NONE),
        }
    }
}

impl WriterFigures {
    /// One more command is being sent (count it before the send, so the
    /// writer never takes more than were counted).
    pub(crate) fn sending(&self) {
        self.queued.fetch_add(1, Ordering::Relaxed);
    }

    /// The writer took `n` commands off its queue, or a send failed (`n` 1).
    pub(crate) fn taken(&self, n: usize) {
        self.queued.fetch_sub(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    pub(crate) fn committed(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(NONE - 1);
        self.last_commit_micros.store(micros, Ordering::Relaxed);
        self.commits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    pub(crate) fn last_commit_latency(&self) -> Option<Duration> {
        match self.last_commit_micros.load(Ordering::Relaxed) {
            NONE => None,
            micros => Some(Duration::from_micros(micros)),
        }
    }
}
