//! What a cursor hands out, and what a topic carries.

use serde::{Serialize, de::DeserializeOwned};

use crate::Timestamp;

/// A type that can travel on a topic: encodable with serde (durable topics
/// store it with postcard), cloneable (each reader gets its own copy), and
/// shareable across threads. Implemented for every such type.
pub trait Message: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {}

impl<T> Message for T where T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {}

/// One message as a cursor delivers it, with its place in the topic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Record<T> {
    /// Its dense offset in the topic (0, 1, 2, …).
    pub offset: u64,
    /// When it was published.
    pub timestamp: Timestamp,
    /// The message.
    pub value: T,
}

impl<T> Record<T> {
    /// The message, dropping offset and timestamp.
    pub fn into_value(self) -> T {
        self.value
    }
}
