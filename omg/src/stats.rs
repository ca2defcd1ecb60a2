//! Per-topic figures a user can read at run time (DESIGN §8).

use std::time::Duration;

/// A topic's figures at one moment, from [`Topic::stats`](crate::Topic::stats).
/// Per-cursor figures are on the cursor: [`Cursor::lag`](crate::Cursor::lag),
/// [`delivered`](crate::Cursor::delivered), [`missed`](crate::Cursor::missed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicStats {
    /// The oldest retained offset.
    pub first_offset: u64,
    /// The head: how many messages the topic has ever been given (by every
    /// process, for a durable topic).
    pub next_offset: u64,
    /// Writes queued in the topic's storage and not yet taken into a
    /// transaction, over all of that storage's topics; 0 for at-most-once
    /// topics.
    pub pending_writes: u64,
    /// How long the storage's last commit took; `None` for at-most-once
    /// topics and storages that complete inline.
    pub last_commit_latency: Option<Duration>,
}

impl TopicStats {
    /// How many messages are retained now.
    pub fn retained(&self) -> u64 {
        self.next_offset - self.first_offset
    }
}
