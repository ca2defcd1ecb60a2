//! The storage contract: what a backend implements so the core can keep
//! durable topics in it.
//!
//! Writes are *completion-based*: [`Storage::submit`] hands over a
//! [`WriteBatch`] and returns a [`Completion`] at once; blocking, async and
//! non-blocking callers each wait on it their own way. A backend with its own
//! writer thread completes later (and may group-commit many batches in one
//! transaction); the in-memory backend completes inline, and also offers
//! an [`InlineLog`] per topic through which the core publishes single
//! messages without building a batch.
//!
//! Reads copy a range of encoded records into a reusable [`ReadBuf`]. Commits
//! are announced to the core through a [`TopicWatcher`], so cursors wake
//! without polling — including commits made by other processes.

mod backend;
mod batch;
mod chunked;
mod completion;
mod memory;
mod read_buf;
mod stats;

pub use backend::{InlineLog, Storage, TopicInfo, TopicSpec, TopicWatcher};
pub use batch::{
    Admission, Append, Appended, CursorCommit, Effect, IdempotencyKey, MAX_KEY_LEN, SubmitError,
    WriteBatch, unsupported_effect,
};
pub use completion::{BatchOutcome, Completer, Completion};
pub use memory::MemoryStorage;
pub use read_buf::{ReadBuf, ReadInfo, StoredRecord};
pub use stats::StorageStats;

use crate::{Name, Result};

/// Rebuilds a name a storage stored, the reserved namespace included
/// (omg's own topics, such as an agent's `.agent/<name>/events`, start with
/// `.`, which [`Name::new`] refuses to users).
///
/// # Errors
/// [`Error::InvalidName`](crate::Error::InvalidName) for a string no [`Name`]
/// could have produced: a damaged or foreign store.
pub fn stored_name(name: &str) -> Result<Name> {
    Name::reserved(name)
}
