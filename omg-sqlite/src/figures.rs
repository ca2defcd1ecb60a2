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
    commits: AtomicU64,
    /// Microseconds from the first write of the last drain to its commit.
    last_commit_micros: AtomicU64,
}

impl Default for WriterFigures {
    fn default() -> Self {
        Self {
            commits: AtomicU64::new(0),
            last_commit_micros: AtomicU64::new(NONE),
        }
    }
}

impl WriterFigures {
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
