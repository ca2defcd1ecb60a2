//! What a write carries: appends, idempotency keys, expected offsets and
//! cursor commits, applied atomically.

use std::{any::Any, fmt, sync::Arc};

use crate::{Error, Name, Result, Timestamp};

/// The longest idempotency key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 256;

/// A key that makes a publish idempotent: a topic appends a message with a
/// given key once; a retried publish returns the first offset.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdempotencyKey(Box<str>);

impl IdempotencyKey {
    /// Validates a key (1 to [`MAX_KEY_LEN`] bytes, any characters).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] otherwise.
    pub fn new(key: &str) -> Result<Self> {
        if key.is_empty() {
            return Err(Error::InvalidKey {
                reason: "an idempotency key cannot be empty",
            });
        }
        if key.len() > MAX_KEY_LEN {
            return Err(Error::InvalidKey {
                reason: "an idempotency key is at most 256 bytes",
            });
        }
        Ok(Self(key.into()))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// One message to append.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Append {
    /// The topic.
    pub topic: Name,
    /// The postcard-encoded message.
    pub payload: Vec<u8>,
    /// When it was published.
    pub timestamp: Timestamp,
    /// Appends nothing if the topic already holds this key.
    pub key: Option<IdempotencyKey>,
    /// Fails the batch with [`Error::Conflict`] unless the message gets this
    /// offset (optimistic concurrency).
    pub expected_offset: Option<u64>,
}

impl Append {
    /// An append of `payload` to `topic`, stamped now.
    pub fn new(topic: Name, payload: Vec<u8>) -> Self {
        Self {
            topic,
            payload,
            timestamp: Timestamp::now(),
            key: None,
            expected_offset: None,
        }
    }

    /// Sets the idempotency key.
    pub fn with_key(mut self, key: Option<IdempotencyKey>) -> Self {
        self.key = key;
        self
    }

    /// Sets the expected offset.
    pub fn expecting(mut self, offset: u64) -> Self {
        self.expected_offset = Some(offset);
        self
    }
}

/// A named cursor's new committed position.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CursorCommit {
    /// The topic the cursor reads.
    pub topic: Name,
    /// The cursor's name.
    pub cursor: Name,
    /// The next offset the cursor will read.
    pub next_offset: u64,
}

impl CursorCommit {
    /// A commit of `cursor` on `topic` at `next_offset`.
    pub fn new(topic: Name, cursor: Name, next_offset: u64) -> Self {
        Self {
            topic,
            cursor,
            next_offset,
        }
    }
}

/// A backend-specific write applied inside a batch's transaction — for
/// example a projection's own SQL tables with omg-sqlite (`SqlEffect`).
///
/// A storage runs the effects it recognises after the batch's appends and
/// commits, atomically with them; a storage that does not recognise an
/// effect fails the whole batch with [`Error::Unsupported`]. An effect is
/// never dropped silently.
#[derive(Clone)]
pub struct Effect(Arc<dyn Any + Send + Sync>);

impl Effect {
    /// Wraps a backend's effect value.
    pub fn new<E: Any + Send + Sync>(effect: E) -> Self {
        Self(Arc::new(effect))
    }

    /// The effect, if it is an `E`.
    pub fn downcast_ref<E: Any>(&self) -> Option<&E> {
        self.0.downcast_ref()
    }
}

impl fmt::Debug for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Effect").finish_non_exhaustive()
    }
}

/// The error a storage reports for an effect it does not know.
pub fn unsupported_effect() -> Error {
    Error::Unsupported {
        what: "a backend effect of this type",
        why: "this storage does not recognise it; the batch was not applied",
    }
}

/// Appends, cursor commits and backend effects applied atomically: all or none.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct WriteBatch {
    /// Messages to append, in order.
    pub appends: Vec<Append>,
    /// Cursor positions to commit.
    pub commits: Vec<CursorCommit>,
    /// Backend-specific writes, applied after the appends and commits.
    pub effects: Vec<Effect>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// A batch of one append.
    pub fn append(append: Append) -> Self {
        Self {
            appends: vec![append],
            commits: Vec::new(),
            effects: Vec::new(),
        }
    }

    /// A batch of one cursor commit.
    pub fn commit(commit: CursorCommit) -> Self {
        Self {
            appends: Vec::new(),
            commits: vec![commit],
            effects: Vec::new(),
        }
    }

    /// Adds an append.
    pub fn push_append(&mut self, append: Append) -> &mut Self {
        self.appends.push(append);
        self
    }

    /// Adds a cursor commit.
    pub fn push_commit(&mut self, commit: CursorCommit) -> &mut Self {
        self.commits.push(commit);
        self
    }

    /// Adds a backend effect.
    pub fn push_effect(&mut self, effect: Effect) -> &mut Self {
        self.effects.push(effect);
        self
    }

    /// Total payload bytes.
    pub fn payload_bytes(&self) -> usize {
        self.appends.iter().map(|a| a.payload.len()).sum()
    }
}

/// The result of one append of a committed batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The message's offset (the first one, for a duplicate).
    pub offset: u64,
    /// The key was already there: nothing was appended.
    pub duplicate: bool,
}

/// Whether [`Storage::submit`](super::Storage::submit) may refuse a batch
/// because its write queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Queue it regardless: the caller waits for the completion anyway, so
    /// the number of such batches is bounded by the number of waiters.
    Queue,
    /// Refuse it with [`SubmitError::Full`] when the queue is full
    /// (`try_publish`: never block, give the message back).
    IfRoom,
}

/// Why a storage did not take a batch; the batch is given back.
#[derive(Debug)]
pub enum SubmitError {
    /// The write queue is full.
    Full(WriteBatch),
    /// The storage failed or was closed before taking the batch.
    Failed(Error, WriteBatch),
}
