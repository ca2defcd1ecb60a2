//! [`SqliteOptions`]: how a [`SqliteStorage`](crate::SqliteStorage) is opened.

use std::time::Duration;

/// How far a commit goes before its publish returns Ok.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: every commit is fsync'd before it completes.
    #[default]
    Full,
    /// `synchronous=NORMAL`: commits survive a process crash; the last ones
    /// may be lost on power failure.
    Normal,
}

/// Options of [`SqliteStorage::open_with`](crate::SqliteStorage::open_with).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// Durability of commits. Default [`Durability::Full`].
    pub durability: Durability,
    /// Maximum database size in pages (`PRAGMA max_page_count`); `None`
    /// leaves SQLite's default. Exceeding it fails writes with
    /// [`StorageErrorKind::Full`](omg::StorageErrorKind::Full). A limit
    /// below the file's current size stops it growing at that size (SQLite
    /// never shrinks a file to fit).
    pub max_page_count: Option<u64>,
    /// How often the writer trims expired at-least-once messages (in chunks
    /// of [`SqliteOptions::trim_chunk`]). Default 1 s.
    pub retention_check_interval: Duration,
    /// Most rows trimmed per topic per check. Default 1000.
    pub trim_chunk: u64,
    /// Batches queued beyond this refuse [`Admission::IfRoom`](omg::storage::Admission::IfRoom)
    /// submissions. Default 65 536.
    pub queue_capacity: usize,
    /// How long a writer waits for another process's write lock. Default 10 s.
    pub busy_timeout: Duration,
    /// How often other processes' commits are checked for (`PRAGMA
    /// data_version`, a cheap in-memory check). Default 5 ms.
    pub watch_interval: Duration,
    /// Reader connections. Default 2.
    pub readers: usize,
    /// The largest payload a batch may append, in bytes; a larger one fails
    /// its batch with [`omg::Error::TooLarge`] before anything is queued.
    /// Default 16 MiB (the agency's own, usually smaller, limit applies
    /// first: [`AgencyBuilder::max_message_size`](omg::AgencyBuilder::max_message_size)).
    pub max_message_size: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Full,
            max_page_count: None,
            retention_check_interval: Duration::from_secs(1),
            trim_chunk: 1000,
            queue_capacity: 65_536,
            busy_timeout: Duration::from_secs(10),
            watch_interval: Duration::from_millis(5),
            readers: 2,
            max_message_size: 16 << 20,
        }
    }
}

impl SqliteOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`SqliteOptions::durability`].
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets [`SqliteOptions::max_message_size`].
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`SqliteOptions::max_page_count`].
    pub fn max_page_count(mut self, pages: Option<u64>) -> Self {
        self.max_page_count = pages;
        self
    }

    /// Sets [`SqliteOptions::retention_check_interval`].
    pub fn retention_check_interval(mut self, interval: Duration) -> Self {
        self.retention_check_interval = interval;
        self
    }

    /// Sets [`SqliteOptions::queue_capacity`].
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity;
        self
    }
}
