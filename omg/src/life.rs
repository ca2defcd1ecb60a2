//! Whether a topic handle may still be used.

use crate::{Error, Name, StorageError, StorageErrorKind};

/// The lifecycle of a topic as seen by its handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Life {
    Open = 0,
    Deleted = 1,
    ShutDown = 2,
    /// The storage was closed under the topic without this agency shutting
    /// down (another agency sharing the storage shut down, or whoever
    /// owns the storage closed it). Only durable topics live in a storage.
    StorageClosed = 3,
}

impl Life {
    #[inline]
    pub(crate) fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Open,
            1 => Self::Deleted,
            3 => Self::StorageClosed,
            _ => Self::ShutDown,
        }
    }

    /// `Ok` while open, else the error every call on the topic returns.
    /// Cursors run it per message: the open case inlines to one compare.
    #[inline]
    pub(crate) fn check(self, topic: &Name) -> Result<(), Error> {
        match self {
            Self::Open => Ok(()),
            closed => Err(closed.error(topic)),
        }
    }

    #[cold]
    fn error(self, topic: &Name) -> Error {
        match self {
            Self::Open => unreachable!("an open topic has no error"),
            Self::Deleted => Error::Deleted {
                topic: topic.clone(),
            },
            Self::ShutDown => Error::ShutDown,
            Self::StorageClosed => Error::Storage(StorageError::new(
                StorageErrorKind::Closed,
                format!("the storage of topic {topic} was closed"),
            )),
        }
    }
}
