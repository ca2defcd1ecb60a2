//! Publishing in three flavours: blocking, async and non-blocking.

use std::{
    fmt,
    sync::{Arc, OnceLock},
};

use crate::{
    Error, Message, Receipt, Result, Timestamp, Topic, TryPublishError, TryPublishFailure,
    blocking,
    receipt::Origin,
    storage::{
        Admission, Append, Completion, IdempotencyKey, SubmitError, TopicWatcher, WriteBatch,
    },
    topic::Kind,
};

/// Publishes messages to one topic. Cheap to clone; use from any thread.
///
/// | | blocking | async | non-blocking |
/// |---|---|---|---|
/// | plain | [`publish`](Self::publish) | [`publish_async`](Self::publish_async) | [`try_publish`](Self::try_publish) |
/// | keyed | [`publish_keyed`](Self::publish_keyed) | [`publish_keyed_async`](Self::publish_keyed_async) | [`try_publish_keyed`](Self::try_publish_keyed) |
///
/// On an at-most-once topic all three complete at once and never fail for
/// capacity. On a durable topic `Ok` means the message is committed with the
/// storage's durability; `try_*` hands the write to the storage's queue and
/// returns a [`Receipt`] (or the message back when the queue is full).
pub struct Publisher<T> {
    topic: Topic<T>,
    /// Names the errors of this publisher's pending receipts. Made with the
    /// first one, and one per publisher (a clone makes its own): receipts
    /// of publishers on different threads share no reference count.
    origin: OnceLock<Arc<Origin>>,
}

/// A message handed to the storage, or already stored.
enum Sent {
    Done(u64),
    Pending(Completion),
}

impl<T: Message> Publisher<T> {
    pub(crate) fn new(topic: Topic<T>) -> Self {
        Self {
            topic,
            origin: OnceLock::new(),
        }
    }

    /// The topic this publisher writes to.
    pub fn topic(&self) -> &Topic<T> {
        &self.topic
    }

    /// Publishes and waits until the message is committed; returns its offset.
    ///
    /// # Errors
    /// [`Error::ShutDown`], [`Error::Deleted`], [`Error::TooLarge`],
    /// [`Error::Encode`], a storage error, or [`Error::BlockingForbidden`]
    /// on a durable topic from a thread that must not block.
    pub fn publish(&self, message: T) -> Result<u64> {
        self.publish_blocking(None, message)
    }

    /// Like [`publish`](Self::publish) with an idempotency key: if the topic
    /// already holds a message with `key`, nothing is appended and the first
    /// message's offset is returned. Durable topics only.
    ///
    /// # Errors
    /// Those of [`publish`](Self::publish), [`Error::InvalidKey`], and
    /// [`Error::Unsupported`] on an at-most-once topic.
    pub fn publish_keyed(&self, key: &str, message: T) -> Result<u64> {
        self.publish_blocking(Some(key), message)
    }

    /// Publishes and waits asynchronously until the message is committed.
    ///
    /// Dropping the future after its first poll does not withdraw the
    /// message: like a sent request, it may still be committed.
    ///
    /// # Errors
    /// Those of [`publish`](Self::publish), except `BlockingForbidden`.
    pub async fn publish_async(&self, message: T) -> Result<u64> {
        self.publish_async_inner(None, message).await
    }

    /// [`publish_keyed`](Self::publish_keyed), waiting asynchronously.
    ///
    /// # Errors
    /// Those of [`publish_keyed`](Self::publish_keyed), except `BlockingForbidden`.
    pub async fn publish_keyed_async(&self, key: &str, message: T) -> Result<u64> {
        self.publish_async_inner(Some(key), message).await
    }

    /// Publishes without ever blocking: at-most-once topics store the message
    /// at once; durable topics queue it in the storage and return a
    /// [`Receipt`] to poll.
    ///
    /// # Errors
    /// A [`TryPublishError`] that gives the message back: `is_full()` when
    /// the storage's queue is full (retry later), otherwise the reason.
    pub fn try_publish(&self, message: T) -> Result<Receipt, TryPublishError<T>> {
        self.try_publish_inner(None, message)
    }

    /// [`try_publish`](Self::try_publish) with an idempotency key.
    ///
    /// # Errors
    /// See [`try_publish`](Self::try_publish) and [`publish_keyed`](Self::publish_keyed).
    pub fn try_publish_keyed(&self, key: &str, message: T) -> Result<Receipt, TryPublishError<T>> {
        self.try_publish_inner(Some(key), message)
    }

    fn publish_blocking(&self, key: Option<&str>, message: T) -> Result<u64> {
        if self.topic.delivery.is_durable() {
            blocking::check("Publisher::publish")?;
        }
        match self.send(key, message, Admission::Queue) {
            Ok(Sent::Done(offset)) => Ok(offset),
            Ok(Sent::Pending(completion)) => self.finish_first(completion.wait_first()),
            Err((reason, _message)) => Err(failure(reason)),
        }
    }

    async fn publish_async_inner(&self, key: Option<&str>, message: T) -> Result<u64> {
        match self.send(key, message, Admission::Queue) {
            Ok(Sent::Done(offset)) => Ok(offset),
            Ok(Sent::Pending(completion)) => self.finish_first(completion.wait_first_async().await),
            Err((reason, _message)) => Err(failure(reason)),
        }
    }

    fn try_publish_inner(
        &self,
        key: Option<&str>,
        message: T,
    ) -> Result<Receipt, TryPublishError<T>> {
        match self.send(key, message, Admission::IfRoom) {
            Ok(Sent::Done(offset)) => Ok(Receipt::done(Ok(offset))),
            // The in-memory storage completes inline: no receipt to poll.
            Ok(Sent::Pending(mut completion)) => match completion.try_take_first() {
                Some(first) => Ok(Receipt::done(self.finish_first(first))),
                None => Ok(Receipt::pending_from(completion, 0, self.origin())),
            },
            Err((reason, message)) => Err(TryPublishError::new(reason, message)),
        }
    }

    fn origin(&self) -> Arc<Origin> {
        self.origin
            .get_or_init(|| {
                Arc::new(Origin::new(
                    self.topic.agency.clone(),
                    self.topic.name.clone(),
                ))
            })
            .clone()
    }

    fn finish_first(&self, first: Result<Option<crate::storage::Appended>>) -> Result<u64> {
        first
            .map(|a| a.map_or(0, |a| a.offset))
            .map_err(|e| self.topic.agency.explain(&self.topic.name, e))
    }

    /// The one state machine behind every flavour: store in the ring, or
    /// encode and hand to the storage. Gives the message back on failure.
    fn send(
        &self,
        key: Option<&str>,
        message: T,
        admission: Admission,
    ) -> Result<Sent, (TryPublishFailure, T)> {
        let failed = |e: Error, message: T| Err((TryPublishFailure::Failed(e), message));
        match &self.topic.kind {
            Kind::Ring(ring) => {
                if key.is_some() {
                    return failed(
                        Error::Unsupported {
                            what: "an idempotency key on an at-most-once topic",
                            why: "at-most-once topics do not deduplicate; use a durable topic",
                        },
                        message,
                    );
                }
                match ring.push(message, Timestamp::now()) {
                    Ok(offset) => Ok(Sent::Done(offset)),
                    Err((e, message)) => failed(e, message),
                }
            }
            Kind::Durable(durable) => {
                if let Err(e) = durable.check() {
                    return failed(e, message);
                }
                let key = match key.map(IdempotencyKey::new).transpose() {
                    Ok(key) => key,
                    Err(e) => return failed(e, message),
                };
                if let Some(log) = durable.inline_log() {
                    // A storage that completes inline: append straight from
                    // the encoding buffer, no batch and no completion.
                    let appended =
                        self.topic
                            .agency
                            .encode_with(&self.topic.name, &message, |payload| {
                                log.append(payload, Timestamp::now(), key.as_ref())
                            });
                    return match appended {
                        Ok(appended) => {
                            // The storage told every watcher but this topic.
                            if !appended.duplicate {
                                durable.committed(appended.offset + 1);
                            }
                            Ok(Sent::Done(appended.offset))
                        }
                        Err(e) => failed(self.topic.agency.explain(&self.topic.name, e), message),
                    };
                }
                let payload = match self.topic.agency.encode(&self.topic.name, &message) {
                    Ok(payload) => payload,
                    Err(e) => return failed(e, message),
                };
                let batch =
                    WriteBatch::append(Append::new(self.topic.name.clone(), payload).with_key(key));
                match durable.storage.submit(batch, admission) {
                    Ok(completion) => Ok(Sent::Pending(completion)),
                    Err(SubmitError::Full(_)) => Err((TryPublishFailure::Full, message)),
                    Err(SubmitError::Failed(e, _)) => {
                        failed(self.topic.agency.explain(&self.topic.name, e), message)
                    }
                }
            }
        }
    }
}

fn failure(reason: TryPublishFailure) -> Error {
    match reason {
        TryPublishFailure::Failed(e) => e,
        // A storage must queue `Admission::Queue` batches; report one that did not.
        TryPublishFailure::Full => Error::Storage(crate::StorageError::new(
            crate::StorageErrorKind::Other,
            "the storage refused a write for capacity although it was asked to queue it",
        )),
    }
}

impl<T> Clone for Publisher<T> {
    fn clone(&self) -> Self {
        Self {
            topic: self.topic.clone(),
            origin: OnceLock::new(),
        }
    }
}

impl<T> fmt::Debug for Publisher<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publisher")
            .field("topic", &self.topic.name)
            .finish()
    }
}
