//! Whether a topic handle may still be used.

use crate::{Error, Name};

/// The lifecycle of a topic as seen by its handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Life {
    Open = 0,
    Deleted = 1,
    ShutDown = 2,
}

impl Life {
    pub(crate) fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Open,
            1 => Self::Deleted,
            _ => Self::ShutDown,
        }
    }

    /// `Ok` while open, else the error every call on the topic returns.
    pub(crate) fn check(self, topic: &Name) -> Result<(), Error> {
        match self {
            Self::Open => Ok(()),
            Self::Deleted => Err(Error::Deleted {
                topic: topic.clone(),
            }),
            Self::ShutDown => Err(Error::ShutDown),
        }
    }
}
