//! Errors: one crate-level [`Error`], and per-operation errors that say what
//! the operation can report and give back what the caller handed in.

use std::{borrow::Cow, fmt, sync::Arc};

use crate::Name;

/// A specialised `Result` for omg operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in omg.
///
/// Every variant names what it is about (topic, offset, type) so that a log
/// line alone explains it. Errors are cheap to clone: a storage failure that
/// fails many pending publishes is reported to each of them.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A topic, agent or cursor name failed validation ([`Name::new`]).
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The rejected name (truncated).
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A topic was declared again with another delivery class, options or
    /// message type ([`Agency::topic`](crate::Agency::topic)).
    #[error("topic {topic} is declared as {existing}, cannot redeclare it as {requested}")]
    TopicMismatch {
        /// The topic.
        topic: Name,
        /// The existing declaration.
        existing: String,
        /// The refused declaration.
        requested: String,
    },
    /// The [`Agency`](crate::Agency) was shut down; every handle of it now
    /// fails with this error.
    #[error("the agency was shut down")]
    ShutDown,
    /// The topic was deleted ([`Agency::delete_topic`](crate::Agency::delete_topic)).
    #[error("topic {topic} was deleted")]
    Deleted {
        /// The deleted topic.
        topic: Name,
    },
    /// The topic does not exist in the storage.
    #[error("topic {topic} does not exist")]
    UnknownTopic {
        /// The missing topic.
        topic: Name,
    },
    /// An encoded message is larger than the agency's maximum
    /// ([`AgencyBuilder::max_message_size`](crate::AgencyBuilder::max_message_size)).
    #[error("a message of {size} bytes on topic {topic} exceeds the maximum of {max} bytes")]
    TooLarge {
        /// The topic.
        topic: Name,
        /// The encoded size.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A message could not be encoded with postcard.
    #[error("cannot encode a {type_name} for topic {topic}: {reason}")]
    Encode {
        /// The topic.
        topic: Name,
        /// The message type.
        type_name: &'static str,
        /// The encoder's explanation.
        reason: String,
    },
    /// A stored message does not decode as the topic's message type.
    #[error("cannot decode offset {offset} of topic {topic} as {type_name}: {reason}")]
    Decode {
        /// The topic.
        topic: Name,
        /// The offset of the undecodable message.
        offset: u64,
        /// The message type it was decoded as.
        type_name: Cow<'static, str>,
        /// The decoder's explanation.
        reason: String,
    },
    /// An append carried an expected offset and the topic had moved on.
    #[error(
        "expected to append at offset {expected} of topic {topic}, but the topic is at {actual}"
    )]
    Conflict {
        /// The topic.
        topic: Name,
        /// The offset the append expected to get.
        expected: u64,
        /// The topic's next offset when the append was tried.
        actual: u64,
    },
    /// An idempotency key was empty or longer than [`MAX_KEY_LEN`](crate::MAX_KEY_LEN).
    #[error("invalid idempotency key: {reason}")]
    InvalidKey {
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The operation is not available for this topic or backend.
    #[error("{what} is not supported: {why}")]
    Unsupported {
        /// The refused operation.
        what: &'static str,
        /// Why.
        why: &'static str,
    },
    /// [`Agency::global`](crate::Agency::global) was called before
    /// [`Agency::set_global`](crate::Agency::set_global).
    #[error("no global agency is set: call Agency::set_global first")]
    GlobalNotSet,
    /// [`Agency::set_global`](crate::Agency::set_global) was called twice.
    #[error("a global agency is already set")]
    GlobalAlreadySet,
    /// A blocking call was made where blocking is forbidden (an async
    /// executor thread, a frame). Use the `_async` or `try_` flavour.
    #[error("blocking call {call} inside {context}: use the `_async` or `try_` flavour instead")]
    BlockingForbidden {
        /// The blocking method.
        call: &'static str,
        /// Where it was called (e.g. "a tokio runtime").
        context: &'static str,
    },
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Error {
    /// Whether this is [`Error::ShutDown`].
    pub fn is_shut_down(&self) -> bool {
        matches!(self, Self::ShutDown)
    }

    /// Whether this is [`Error::Deleted`].
    pub fn is_deleted(&self) -> bool {
        matches!(self, Self::Deleted { .. })
    }

    /// Whether this ends a handle for good — the agency shut down, the
    /// topic was deleted, or its storage was closed (by another agency
    /// sharing it): retrying the same call can never succeed.
    pub fn is_terminal(&self) -> bool {
        self.is_shut_down()
            || self.is_deleted()
            || matches!(self, Self::Storage(e) if e.kind() == StorageErrorKind::Closed)
    }
}

/// What kind of storage failure a [`StorageError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StorageErrorKind {
    /// An I/O error from the operating system.
    Io,
    /// The disk or the database is full.
    Full,
    /// The storage's write queue is full: nothing was written. Not a
    /// failure of the storage; retry later (`try_*` calls report it so that
    /// they never block).
    QueueFull,
    /// Another connection or process held a lock the operation needed for
    /// longer than the storage waits (SQLite's `SQLITE_BUSY`/`SQLITE_LOCKED`).
    Busy,
    /// The file is not a database (or not readable as one).
    NotADatabase,
    /// The file is a database of another application.
    Foreign,
    /// The database is corrupt.
    Corrupt,
    /// The database was written by a newer omg schema version.
    NewerSchema,
    /// The file or its directory is read-only.
    ReadOnly,
    /// The storage was closed.
    Closed,
    /// Anything else the backend reports.
    Other,
}

impl fmt::Display for StorageErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Io => "I/O error",
            Self::Full => "storage full",
            Self::QueueFull => "write queue full",
            Self::Busy => "storage busy",
            Self::NotADatabase => "not a database",
            Self::Foreign => "not an omg database",
            Self::Corrupt => "corrupt database",
            Self::NewerSchema => "newer schema version",
            Self::ReadOnly => "read-only storage",
            Self::Closed => "storage closed",
            Self::Other => "storage error",
        })
    }
}

/// A failure inside a storage backend.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct StorageError {
    kind: StorageErrorKind,
    message: String,
    #[source]
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl StorageError {
    /// A storage error of `kind` explained by `message`.
    pub fn new(kind: StorageErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> StorageErrorKind {
        self.kind
    }

    /// The explanation.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Why [`Cursor::recv`](crate::Cursor::recv) and
/// [`Cursor::recv_async`](crate::Cursor::recv_async) returned no message.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RecvError {
    /// The cursor fell behind and `n` messages are gone (at-most-once ring
    /// overwritten, or at-least-once retention trimmed them). The next call
    /// returns the oldest message still there.
    #[error("the cursor missed {0} messages")]
    Lagged(u64),
    /// The read failed; see [`Error::is_terminal`].
    #[error(transparent)]
    Failed(#[from] Error),
}

/// Why [`Cursor::try_recv`](crate::Cursor::try_recv) returned no message.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TryRecvError {
    /// Nothing new yet.
    #[error("no message available yet")]
    Empty,
    /// See [`RecvError::Lagged`].
    #[error("the cursor missed {0} messages")]
    Lagged(u64),
    /// See [`RecvError::Failed`].
    #[error(transparent)]
    Failed(#[from] Error),
}

impl From<RecvError> for TryRecvError {
    fn from(err: RecvError) -> Self {
        match err {
            RecvError::Lagged(n) => Self::Lagged(n),
            RecvError::Failed(e) => Self::Failed(e),
        }
    }
}

/// Why [`Publisher::try_publish`](crate::Publisher::try_publish) did not take
/// a message. The message is always given back: nothing is lost.
#[derive(thiserror::Error)]
#[error("{reason}")]
pub struct TryPublishError<T> {
    reason: TryPublishFailure,
    message: T,
}

/// The reason inside a [`TryPublishError`].
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TryPublishFailure {
    /// The storage's write queue is full; retry later (next frame).
    #[error("the storage's write queue is full")]
    Full,
    /// Publishing failed for good or for this message.
    #[error(transparent)]
    Failed(Error),
}

impl<T> TryPublishError<T> {
    pub(crate) fn new(reason: TryPublishFailure, message: T) -> Self {
        Self { reason, message }
    }

    /// Whether the write queue was full (retrying later may succeed).
    pub fn is_full(&self) -> bool {
        matches!(self.reason, TryPublishFailure::Full)
    }

    /// The error, unless the queue was merely full.
    pub fn error(&self) -> Option<&Error> {
        match &self.reason {
            TryPublishFailure::Full => None,
            TryPublishFailure::Failed(e) => Some(e),
        }
    }

    /// The reason.
    pub fn reason(&self) -> &TryPublishFailure {
        &self.reason
    }

    /// Gives back the message.
    pub fn into_inner(self) -> T {
        self.message
    }
}

impl<T> fmt::Debug for TryPublishError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryPublishError")
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}
