//! The kameo message a subscribed actor receives.

use omg::{Name, Record, Timestamp};

/// One topic message delivered into an actor's mailbox by a
/// [`Subscription`](crate::Subscription).
///
/// Implement `kameo::message::Message<TopicMessage<T>>` for your actor to
/// subscribe it to a topic of `T`. The subscription counts the message as
/// processed when the handler's reply arrives (an `Ok` reply, for handlers
/// that return a `Result`); a named cursor commits only processed positions.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicMessage<T> {
    /// The message with its offset and timestamp.
    pub record: Record<T>,
    /// The topic it was read from.
    pub topic: Name,
    /// The subscription's named cursor, if it has one.
    pub cursor: Option<Name>,
    /// How many messages of the topic were lost right before this one
    /// (at-most-once ring overwritten, at-least-once retention trimmed).
    /// Zero almost always; a gap is never skipped silently.
    pub missed: u64,
    /// Whether this offset was delivered before and is delivered again
    /// because an earlier delivery failed (a panicking handler, a restart).
    pub redelivered: bool,
}

impl<T> TopicMessage<T> {
    /// The message's offset in its topic.
    pub fn offset(&self) -> u64 {
        self.record.offset
    }

    /// When the message was published.
    pub fn timestamp(&self) -> Timestamp {
        self.record.timestamp
    }

    /// The message.
    pub fn value(&self) -> &T {
        &self.record.value
    }

    /// The message, dropping everything else.
    pub fn into_value(self) -> T {
        self.record.value
    }

    /// The causation id omg agents use for this message: `topic@offset`
    /// (see [`omg::agent::Execute::caused_by_message`]).
    pub fn causation(&self) -> String {
        format!("{}@{}", self.topic, self.record.offset)
    }
}
