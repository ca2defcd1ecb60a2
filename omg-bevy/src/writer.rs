//! Publishing from systems without blocking the frame.

use std::{collections::VecDeque, fmt};

use bevy_ecs::{
    change_detection::ResMut,
    message::{Message, MessageWriter},
    resource::Resource,
    system::SystemParam,
};
use omg::{Publisher, Receipt, TryPublishError, TryPublishFailure};

/// Names one publish (or agent command) of one outbox, so that its outcome
/// can be matched when it comes back as a message. Tickets of an outbox
/// count up from 0 in the order the calls were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ticket(pub u64);

/// A publish of `T` completed: the message is at `offset` of the topic (on
/// a durable topic: committed with the storage's durability).
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published<T: omg::Message> {
    /// The ticket [`OmgWriter::publish`] returned.
    pub ticket: Ticket,
    /// The message's offset (for a keyed duplicate: the first one's).
    pub offset: u64,
    marker: std::marker::PhantomData<fn() -> T>,
}

/// A publish of `T` failed for good. Nothing of it was stored.
#[derive(Message, Debug, Clone)]
pub struct PublishFailed<T: omg::Message> {
    /// The ticket [`OmgWriter::publish`] returned.
    pub ticket: Ticket,
    /// Why.
    pub error: omg::Error,
    /// The message, when the failure happened before the storage took it
    /// (too large, shut down, …); `None` when the storage failed the write.
    pub message: Option<T>,
}

/// A message waiting for room in the storage's write queue.
struct Waiting<T> {
    ticket: Ticket,
    key: Option<String>,
    message: T,
}

/// What a publish came to, waiting to be written as a message.
enum Outcome<T> {
    Published(Ticket, u64),
    Failed(Ticket, omg::Error, Option<T>),
}

/// What [`OmgOutbox::submit`] did with a message.
enum Submitted<T> {
    Taken,
    Full(Waiting<T>),
}

/// The resource behind a topic registered with
/// [`OmgAppExt::add_omg_writer`](crate::OmgAppExt::add_omg_writer). Systems
/// use it through [`OmgWriter`].
#[derive(Resource)]
pub struct OmgOutbox<T: omg::Message> {
    publisher: Publisher<T>,
    next_ticket: u64,
    /// Refused for a full queue, in publish order; retried first.
    waiting: VecDeque<Waiting<T>>,
    in_flight: Vec<(Ticket, Receipt)>,
    done: Vec<Outcome<T>>,
}

impl<T: omg::Message> OmgOutbox<T> {
    pub(crate) fn new(publisher: Publisher<T>) -> Self {
        Self {
            publisher,
            next_ticket: 0,
            waiting: VecDeque::new(),
            in_flight: Vec::new(),
            done: Vec::new(),
        }
    }

    /// The publisher used.
    pub fn publisher(&self) -> &Publisher<T> {
        &self.publisher
    }

    /// How many messages wait for room in the storage's write queue.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// How many durable publishes were handed to the storage and are not
    /// yet committed.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    fn publish(&mut self, key: Option<&str>, message: T) -> Ticket {
        let ticket = Ticket(self.next_ticket);
        self.next_ticket += 1;
        let waiting = Waiting {
            ticket,
            key: key.map(str::to_owned),
            message,
        };
        // Keep publish order: while older messages wait, newer ones queue.
        if self.waiting.is_empty() {
            if let Submitted::Full(waiting) = self.submit(waiting) {
                self.waiting.push_back(waiting);
            }
        } else {
            self.waiting.push_back(waiting);
        }
        ticket
    }

    /// Hands one message to the publisher without blocking.
    fn submit(&mut self, waiting: Waiting<T>) -> Submitted<T> {
        let Waiting {
            ticket,
            key,
            message,
        } = waiting;
        let result = match &key {
            Some(key) => self.publisher.try_publish_keyed(key, message),
            None => self.publisher.try_publish(message),
        };
        match result {
            Ok(mut receipt) => {
                match receipt.try_result() {
                    Some(Ok(offset)) => self.done.push(Outcome::Published(ticket, offset)),
                    Some(Err(error)) => self.done.push(Outcome::Failed(ticket, error, None)),
                    None => self.in_flight.push((ticket, receipt)),
                }
                Submitted::Taken
            }
            Err(refused) if refused.is_full() => Submitted::Full(Waiting {
                ticket,
                key,
                message: refused.into_inner(),
            }),
            Err(refused) => {
                let error = failure(&refused);
                self.done
                    .push(Outcome::Failed(ticket, error, Some(refused.into_inner())));
                Submitted::Taken
            }
        }
    }

    /// Retries waiting messages in order, until the queue is full again.
    fn retry(&mut self) {
        while let Some(waiting) = self.waiting.pop_front() {
            if let Submitted::Full(waiting) = self.submit(waiting) {
                self.waiting.push_front(waiting);
                return;
            }
        }
    }

    /// Moves completed receipts to `done`.
    fn poll(&mut self) {
        let done = &mut self.done;
        self.in_flight
            .retain_mut(|(ticket, receipt)| match receipt.try_result() {
                None => true,
                Some(Ok(offset)) => {
                    done.push(Outcome::Published(*ticket, offset));
                    false
                }
                Some(Err(error)) => {
                    done.push(Outcome::Failed(*ticket, error, None));
                    false
                }
            });
    }
}

/// The error inside a refusal that is not a full queue.
fn failure<T>(refused: &TryPublishError<T>) -> omg::Error {
    match refused.reason() {
        TryPublishFailure::Failed(error) => error.clone(),
        other => omg::Error::Storage(omg::StorageError::new(
            omg::StorageErrorKind::Other,
            other.to_string(),
        )),
    }
}

impl<T: omg::Message> fmt::Debug for OmgOutbox<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OmgOutbox")
            .field("topic", self.publisher.topic().name())
            .field("next_ticket", &self.next_ticket)
            .field("waiting", &self.waiting.len())
            .field("in_flight", &self.in_flight.len())
            .finish_non_exhaustive()
    }
}

/// Publishes `T` from a system, never blocking the frame.
///
/// Each call hands the message to the topic at once with
/// [`Publisher::try_publish`]. On an at-most-once topic it is published
/// right away. On a durable topic it goes to the storage's write queue; if
/// that queue is full, the message waits in the [`OmgOutbox`] and is
/// retried, in publish order, at the start of the next frames
/// ([`OmgSystems::Flush`](crate::OmgSystems::Flush)) — nothing is dropped.
///
/// Every call returns a [`Ticket`]; its outcome comes back as a
/// [`Published`] or [`PublishFailed`] message in the `Flush` set of the
/// first frame that sees it completed (for an at-most-once topic: the next
/// frame).
///
/// Messages still waiting or in flight when the app exits: in flight ones
/// are committed by the storage as usual; waiting ones (refused by a full
/// queue and not retried yet) are dropped with the outbox, like any value
/// the storage never accepted — check [`OmgOutbox::waiting`] before exiting
/// if that matters.
#[derive(SystemParam)]
pub struct OmgWriter<'w, T: omg::Message> {
    outbox: ResMut<'w, OmgOutbox<T>>,
}

impl<T: omg::Message> OmgWriter<'_, T> {
    /// Publishes `message`; see the type's docs.
    pub fn publish(&mut self, message: T) -> Ticket {
        self.outbox.publish(None, message)
    }

    /// Publishes `message` with an idempotency key (durable topics): if the
    /// topic already holds a message with `key`, nothing is appended and
    /// [`Published`] carries the first one's offset. An invalid key, or a
    /// key on an at-most-once topic, comes back as [`PublishFailed`].
    pub fn publish_keyed(&mut self, key: &str, message: T) -> Ticket {
        self.outbox.publish(Some(key), message)
    }

    /// The outbox behind this writer.
    pub fn outbox(&self) -> &OmgOutbox<T> {
        &self.outbox
    }
}

impl<T: omg::Message> fmt::Debug for OmgWriter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OmgWriter")
            .field("outbox", &*self.outbox)
            .finish()
    }
}

/// The [`OmgSystems::Flush`](crate::OmgSystems::Flush) system of a writer.
pub(crate) fn flush<T: omg::Message>(
    mut outbox: ResMut<'_, OmgOutbox<T>>,
    mut published: MessageWriter<'_, Published<T>>,
    mut failed: MessageWriter<'_, PublishFailed<T>>,
) {
    if outbox.waiting.is_empty() && outbox.in_flight.is_empty() && outbox.done.is_empty() {
        return;
    }
    let outbox = &mut *outbox;
    outbox.retry();
    outbox.poll();
    for outcome in outbox.done.drain(..) {
        match outcome {
            Outcome::Published(ticket, offset) => {
                published.write(Published {
                    ticket,
                    offset,
                    marker: std::marker::PhantomData,
                });
            }
            Outcome::Failed(ticket, error, message) => {
                failed.write(PublishFailed {
                    ticket,
                    error,
                    message,
                });
            }
        }
    }
}
