//! What a handler receives: a record with its delivery context.

use omg::{Name, Record};

/// One message handed to a handler, with how it is being delivered.
///
/// Not called `Delivery` so that it does not clash with [`omg::Delivery`],
/// the delivery class of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Envelope<T> {
    /// The topic the message came from.
    pub topic: Name,
    /// The message with its offset and timestamp.
    pub record: Record<T>,
    /// The delivery count in this host: 1 the first time, 2 after the
    /// handler failed on it once and was restarted, and so on. It starts
    /// again at 1 in a new process (a message read but not committed before
    /// a crash is delivered again with `attempt == 1`).
    pub attempt: u32,
    /// How many messages of this topic were lost just before this one
    /// (at-most-once ring overwritten, at-least-once retention trimmed).
    /// Reported once, with the next message after the gap.
    pub missed: u64,
}

impl<T> Envelope<T> {
    /// The message.
    pub fn value(&self) -> &T {
        &self.record.value
    }

    /// The message, dropping its context.
    pub fn into_value(self) -> T {
        self.record.value
    }

    /// The message's offset in its topic.
    pub fn offset(&self) -> u64 {
        self.record.offset
    }

    /// Whether the handler already failed on this message before.
    pub fn is_redelivery(&self) -> bool {
        self.attempt > 1
    }
}
