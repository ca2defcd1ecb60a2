//! What happened to the list. Stored forever: change only by adding variants
//! at the end (postcard encodes the variant index).

use serde::{Deserialize, Serialize};

/// An event of the todo list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A todo was added with the next id.
    Added {
        /// Its id.
        id: u64,
        /// Its title.
        title: String,
    },
    /// A todo was marked done.
    Completed {
        /// Its id.
        id: u64,
    },
    /// A done todo was marked not done.
    Reopened {
        /// Its id.
        id: u64,
    },
    /// A todo got a new title.
    Renamed {
        /// Its id.
        id: u64,
        /// The new title.
        title: String,
    },
    /// A todo was removed.
    Removed {
        /// Its id.
        id: u64,
    },
}

impl Event {
    /// The id of the todo the event is about.
    pub fn id(&self) -> u64 {
        match self {
            Self::Added { id, .. }
            | Self::Completed { id }
            | Self::Reopened { id }
            | Self::Renamed { id, .. }
            | Self::Removed { id } => *id,
        }
    }
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Added { id, title } => write!(f, "added #{id} {title:?}"),
            Self::Completed { id } => write!(f, "completed #{id}"),
            Self::Reopened { id } => write!(f, "reopened #{id}"),
            Self::Renamed { id, title } => write!(f, "renamed #{id} to {title:?}"),
            Self::Removed { id } => write!(f, "removed #{id}"),
        }
    }
}
