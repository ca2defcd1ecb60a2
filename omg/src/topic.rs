//! Typed topic handles.

use std::{fmt, sync::Arc};

use crate::{
    Agency, Cursor, Delivery, Error, Message, Name, Publisher, Result, StartAt, TopicStats,
    durable::DurableTopic,
    life::Life,
    ring::Ring,
    storage::{Storage, StorageStats},
};

/// A typed handle to a declared topic, from [`Agency::topic`]. Cheap to
/// clone; make publishers and cursors from it.
pub struct Topic<T> {
    pub(crate) agency: Agency,
    pub(crate) name: Name,
    pub(crate) delivery: Delivery,
    pub(crate) kind: Kind<T>,
    /// How cursors of this handle decode stored messages.
    pub(crate) decode: Decoder<T>,
}

/// Decodes a stored payload, or says why it cannot.
pub(crate) type Decoder<T> = fn(&[u8]) -> Result<T, String>;

/// The default decoder: postcard, the encoding of every durable topic.
pub(crate) fn postcard_decoder<T: Message>(payload: &[u8]) -> Result<T, String> {
    postcard::from_bytes(payload).map_err(|e| e.to_string())
}

/// Where a topic's messages live.
pub(crate) enum Kind<T> {
    Ring(Arc<Ring<T>>),
    Durable(Arc<DurableTopic>),
}

impl<T> Clone for Kind<T> {
    fn clone(&self) -> Self {
        match self {
            Self::Ring(ring) => Self::Ring(ring.clone()),
            Self::Durable(durable) => Self::Durable(durable.clone()),
        }
    }
}

/// Type-erased closing, so the agency can end topics of any message type.
pub(crate) trait Close: Send + Sync {
    fn close(&self, life: Life);
}

impl<T: Message> Close for Ring<T> {
    fn close(&self, life: Life) {
        Ring::close(self, life);
    }
}

impl Close for DurableTopic {
    fn close(&self, life: Life) {
        DurableTopic::close(self, life);
    }
}

impl<T: Message> Topic<T> {
    /// The topic's name.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// Its delivery class and options.
    pub fn delivery(&self) -> Delivery {
        self.delivery
    }

    /// The agency the topic belongs to.
    pub fn agency(&self) -> &Agency {
        &self.agency
    }

    /// A publisher. Publishers are independent and may live on any thread.
    pub fn publisher(&self) -> Publisher<T> {
        Publisher::new(self.clone())
    }

    /// An anonymous cursor starting at `start`. Its position lives only in
    /// this handle.
    ///
    /// # Errors
    /// [`Error::ShutDown`], [`Error::Deleted`], or a storage error while
    /// resolving `start`.
    pub fn cursor(&self, start: StartAt) -> Result<Cursor<T>> {
        Cursor::open(self.clone(), None, start)
    }

    /// A named cursor of a durable topic: it resumes from its last committed
    /// position, or starts at `start` the first time. See
    /// [`CommitPolicy`](crate::CommitPolicy) for when it commits.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::Unsupported`] on an at-most-once
    /// topic (nothing of it survives the process), and the errors of
    /// [`Topic::cursor`].
    pub fn named_cursor(&self, name: &str, start: StartAt) -> Result<Cursor<T>> {
        let name = Name::new(name)?;
        if !self.delivery.is_durable() {
            return Err(Error::Unsupported {
                what: "a named cursor on an at-most-once topic",
                why: "at-most-once topics keep nothing across restarts; use an anonymous cursor",
            });
        }
        Cursor::open(self.clone(), Some(name), start)
    }

    /// The oldest retained offset and the head (the next offset to be
    /// published), as committed now.
    ///
    /// # Errors
    /// [`Error::ShutDown`], [`Error::Deleted`], or a storage error.
    pub fn bounds(&self) -> Result<(u64, u64)> {
        match &self.kind {
            Kind::Ring(ring) => ring.bounds(),
            Kind::Durable(durable) => {
                durable.check()?;
                let info = durable
                    .storage
                    .read(&self.name, u64::MAX, 0, &mut crate::storage::ReadBuf::new())
                    .map_err(|e| self.agency.explain(&self.name, e))?;
                durable.observe_head(info.next_offset);
                Ok((info.first_offset, info.next_offset))
            }
        }
    }

    /// The topic's run-time figures: retained range, head, and its
    /// storage's pending writes and last commit latency.
    ///
    /// # Errors
    /// See [`Topic::bounds`].
    pub fn stats(&self) -> Result<TopicStats> {
        let (first_offset, next_offset) = self.bounds()?;
        let storage = match &self.kind {
            Kind::Ring(_) => StorageStats::default(),
            Kind::Durable(durable) => durable.storage.stats(),
        };
        Ok(TopicStats {
            first_offset,
            next_offset,
            pending_writes: storage.pending_writes,
            last_commit_latency: storage.last_commit_latency,
        })
    }

    pub(crate) fn storage(&self) -> &Arc<dyn Storage> {
        self.agency.storage()
    }
}

impl<T> Clone for Topic<T> {
    fn clone(&self) -> Self {
        Self {
            agency: self.agency.clone(),
            name: self.name.clone(),
            delivery: self.delivery,
            kind: self.kind.clone(),
            decode: self.decode,
        }
    }
}

impl<T> fmt::Debug for Topic<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Topic")
            .field("name", &self.name)
            .field("delivery", &self.delivery)
            .field("message_type", &std::any::type_name::<T>())
            .finish()
    }
}
