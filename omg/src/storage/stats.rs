//! What a storage reports about its own work, for monitoring.

use std::time::Duration;

/// A storage's figures at one moment (DESIGN §8). Backends without a write
/// queue report the default: nothing pending, no commit timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StorageStats {
    /// Writes queued and not yet taken into a transaction, over all topics
    /// of the storage.
    pub pending_writes: u64,
    /// Transactions committed since the storage opened.
    pub commits: u64,
    /// How long the last commit took, from its first write to durable.
    pub last_commit_latency: Option<Duration>,
}

impl StorageStats {
    /// Figures a backend measured.
    pub fn new(pending_writes: u64, commits: u64, last_commit_latency: Option<Duration>) -> Self {
        Self {
            pending_writes,
            commits,
            last_commit_latency,
        }
    }
}
