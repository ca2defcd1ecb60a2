//! The Agency: the top-level handle that owns a storage and the topics
//! declared through it.

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    fmt,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
};

use serde::Serialize;

use crate::{
    CommonState, Delivery, Error, Message, Name, Result, StorageErrorKind, Topic,
    durable::DurableTopic,
    life::Life,
    ring::Ring,
    storage::{MemoryStorage, Storage, TopicSpec, TopicWatcher},
    sync::lock,
    topic::{Close, Decoder, Kind, postcard_decoder},
};

/// The default largest encoded message: 1 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 1 << 20;

static GLOBAL: OnceLock<Agency> = OnceLock::new();

/// The top-level handle: declares topics over one storage.
///
/// Cheap to clone (`Arc` inside), `Send + Sync`. Usually one per process
/// (see [`Agency::set_global`]); several may coexist and share nothing.
///
/// ```
/// use omg::{Agency, Delivery, StartAt};
///
/// let agency = Agency::in_memory();
/// let scores = agency.topic::<u32>("scores", Delivery::exactly_once())?;
/// scores.publisher().publish(7)?;
/// let mut cursor = scores.cursor(StartAt::Earliest)?;
/// assert_eq!(cursor.recv()?.value, 7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Agency {
    inner: Arc<Inner>,
}

struct Inner {
    storage: Arc<dyn Storage>,
    max_message_size: usize,
    topics: Mutex<HashMap<Name, Entry>>,
    shut_down: AtomicBool,
    common: CommonState,
}

/// A declared topic as the agency remembers it.
struct Entry {
    delivery: Delivery,
    type_id: TypeId,
    type_name: String,
    /// A `Kind<T>` for the entry's `T`.
    kind: Box<dyn Any + Send + Sync>,
    closer: Arc<dyn Close>,
    /// The core's side of a durable topic, which its storage may close
    /// behind the agency's back (deleted through another agency sharing the
    /// storage, or the storage closed); `None` for a ring, which only the
    /// agency closes, removing its entry.
    durable: Option<Arc<DurableTopic>>,
}

impl Entry {
    fn describe(&self) -> String {
        format!("{} of {}", self.delivery, self.type_name)
    }

    /// Whether the topic is still usable, so a declaration may return it.
    fn is_open(&self) -> bool {
        self.durable.as_ref().is_none_or(|d| d.is_open())
    }
}

/// Builds an [`Agency`].
#[derive(Debug)]
pub struct AgencyBuilder {
    storage: Option<Arc<dyn Storage>>,
    max_message_size: usize,
}

impl AgencyBuilder {
    /// The storage for durable topics. Default: a new [`MemoryStorage`].
    /// [`Agency::shutdown`] closes it; otherwise it closes (flushing what
    /// was submitted) when its last `Arc` drops, so several agencies may
    /// share one storage. Then a topic one of them deletes is deleted for
    /// all (the others' handles fail with [`Error::Deleted`]; declaring it
    /// again gives a new topic), and once one of them shuts down, the
    /// others' durable topics fail with [`Error::Storage`] of kind
    /// [`Closed`](StorageErrorKind::Closed) (blocked readers wake with it).
    #[must_use]
    pub fn storage(mut self, storage: Arc<dyn Storage>) -> Self {
        self.storage = Some(storage);
        self
    }

    /// The largest encoded message accepted on durable topics, in bytes
    /// (default [`DEFAULT_MAX_MESSAGE_SIZE`]). Larger ones fail with
    /// [`Error::TooLarge`]. At-most-once messages are never encoded, so the
    /// limit does not apply to them.
    #[must_use]
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Builds the agency.
    pub fn build(self) -> Agency {
        Agency {
            inner: Arc::new(Inner {
                storage: self
                    .storage
                    .unwrap_or_else(|| Arc::new(MemoryStorage::new())),
                max_message_size: self.max_message_size,
                topics: Mutex::new(HashMap::new()),
                shut_down: AtomicBool::new(false),
                common: CommonState::default(),
            }),
        }
    }
}

impl Agency {
    /// A builder, defaulting to the in-memory storage.
    pub fn builder() -> AgencyBuilder {
        AgencyBuilder {
            storage: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
        }
    }

    /// An agency over a fresh [`MemoryStorage`].
    pub fn in_memory() -> Self {
        Self::builder().build()
    }

    /// Makes this agency the process-wide one returned by [`Agency::global`].
    ///
    /// # Errors
    /// [`Error::GlobalAlreadySet`] if one was set before.
    pub fn set_global(&self) -> Result<()> {
        GLOBAL
            .set(self.clone())
            .map_err(|_| Error::GlobalAlreadySet)
    }

    /// The process-wide agency.
    ///
    /// # Errors
    /// [`Error::GlobalNotSet`] before [`Agency::set_global`].
    pub fn global() -> Result<Self> {
        GLOBAL.get().cloned().ok_or(Error::GlobalNotSet)
    }

    /// Declares the topic `name` carrying `T` with `delivery`, or returns the
    /// existing one. `delivery` is taken as the topic runs it
    /// (`AtMostOnce { keep: 0 }` keeps 1, so it equals
    /// [`Delivery::at_most_once_keep(0)`](Delivery::at_most_once_keep)). A
    /// topic deleted through another agency sharing the storage is declared
    /// anew, as after [`Agency::delete_topic`].
    ///
    /// # Errors
    /// [`Error::InvalidName`]; [`Error::TopicMismatch`] when the topic exists
    /// with another class, options or message type (in this process or in the
    /// storage); [`Error::ShutDown`]; a storage error.
    pub fn topic<T: Message>(&self, name: &str, delivery: Delivery) -> Result<Topic<T>> {
        self.topic_by_name(Name::new(name)?, delivery)
    }

    /// [`Agency::topic`] with an already validated name (omg's own topics use
    /// reserved names).
    pub(crate) fn topic_by_name<T: Message>(
        &self,
        name: Name,
        delivery: Delivery,
    ) -> Result<Topic<T>> {
        self.declare(name, delivery, std::any::type_name::<T>())
    }

    /// Declares a topic whose stored message type is called `message_type`
    /// (agents name their event schema so that it survives a change of the
    /// Rust type's shape or path, see `AgentState::event_type_name`).
    pub(crate) fn declare<T: Message>(
        &self,
        name: Name,
        delivery: Delivery,
        message_type: &str,
    ) -> Result<Topic<T>> {
        self.declare_with(name, delivery, message_type, postcard_decoder::<T>)
    }

    /// [`Agency::declare`] with the decoder its cursors use (agents decode
    /// their events through the state's upcaster).
    pub(crate) fn declare_with<T: Message>(
        &self,
        name: Name,
        delivery: Delivery,
        message_type: &str,
        decode: Decoder<T>,
    ) -> Result<Topic<T>> {
        let delivery = delivery.normalized();
        // Checked under the registry's lock, which `shutdown` takes to mark
        // the agency shut down: a topic is either inserted before shutdown
        // drains the registry (and closed by it) or refused.
        let mut topics = lock(&self.inner.topics);
        self.check_open()?;
        if let Some(entry) = topics.get(&name).filter(|e| e.is_open()) {
            let kind = entry.kind.downcast_ref::<Kind<T>>();
            return match kind {
                Some(kind) if entry.delivery == delivery && entry.type_id == TypeId::of::<T>() => {
                    Ok(self.handle(name, delivery, kind.clone(), decode))
                }
                _ => Err(Error::TopicMismatch {
                    topic: name,
                    existing: entry.describe(),
                    requested: format!("{delivery} of {message_type}"),
                }),
            };
        }
        let spec = TopicSpec {
            name: name.clone(),
            delivery,
            message_type: message_type.to_owned(),
        };
        // A dead entry left here (its topic deleted through another agency
        // sharing the storage) is replaced below.
        let (kind, closer, durable): (Kind<T>, Arc<dyn Close>, _) = if delivery.is_durable() {
            let durable = Arc::new(DurableTopic::new(
                name.clone(),
                self.inner.storage.clone(),
                0,
            ));
            let watcher: Arc<dyn TopicWatcher> = durable.clone();
            let watcher = Arc::downgrade(&watcher);
            let info = self.inner.storage.declare(&spec, watcher.clone())?;
            durable.observe_head(info.next_offset);
            durable.attach_inline_log(&watcher);
            (
                Kind::Durable(durable.clone()),
                durable.clone(),
                Some(durable),
            )
        } else {
            if let Some(stored) = self.inner.storage.describe(&name)? {
                return Err(Error::TopicMismatch {
                    topic: name,
                    existing: stored.describe(),
                    requested: spec.describe(),
                });
            }
            let keep = match delivery {
                Delivery::AtMostOnce { keep } => keep,
                _ => 1,
            };
            let ring = Arc::new(Ring::<T>::new(name.clone(), keep));
            (Kind::Ring(ring.clone()), ring, None)
        };
        topics.insert(
            name.clone(),
            Entry {
                delivery,
                type_id: TypeId::of::<T>(),
                type_name: message_type.to_owned(),
                kind: Box::new(kind.clone()),
                closer,
                durable,
            },
        );
        Ok(self.handle(name, delivery, kind, decode))
    }

    fn handle<T>(
        &self,
        name: Name,
        delivery: Delivery,
        kind: Kind<T>,
        decode: Decoder<T>,
    ) -> Topic<T> {
        Topic {
            agency: self.clone(),
            name,
            delivery,
            kind,
            decode,
        }
    }

    /// Every topic: the at-most-once ones of this agency and the durable ones
    /// in its storage, sorted by name.
    ///
    /// # Errors
    /// [`Error::ShutDown`] or a storage error.
    pub fn topics(&self) -> Result<Vec<TopicSpec>> {
        self.check_open()?;
        let mut specs = self.inner.storage.topics()?;
        for (name, entry) in lock(&self.inner.topics).iter() {
            if !entry.delivery.is_durable() {
                specs.push(TopicSpec {
                    name: name.clone(),
                    delivery: entry.delivery,
                    message_type: entry.type_name.clone(),
                });
            }
        }
        specs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(specs)
    }

    /// Deletes a topic with its messages, cursors and idempotency keys.
    /// Every handle of it then fails with [`Error::Deleted`], and blocked
    /// readers wake. Returns whether it existed. Declaring the name again
    /// creates a new, empty topic.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::ShutDown`] or a storage error.
    pub fn delete_topic(&self, name: &str) -> Result<bool> {
        let name = Name::new(name)?;
        let local = {
            let mut topics = lock(&self.inner.topics);
            self.check_open()?;
            topics.remove(&name)
        };
        // An entry whose topic was already deleted (through another agency
        // sharing the storage) does not count as existing.
        let existed = local.as_ref().is_some_and(Entry::is_open);
        if let Some(entry) = &local {
            entry.closer.close(Life::Deleted);
        }
        let stored = self
            .inner
            .storage
            .delete_topic(&name)
            .map_err(|e| self.explain(&name, e))?;
        Ok(existed || stored)
    }

    /// Shuts the agency down: every topic handle, publisher and cursor of it
    /// fails with [`Error::ShutDown`] from now on, blocked readers wake with
    /// that error, and the storage is closed after flushing what was already
    /// submitted (so nothing acknowledged is lost). Idempotent. A declaration
    /// racing it either returns a topic that this closes or fails with
    /// [`Error::ShutDown`].
    pub fn shutdown(&self) {
        let entries: Vec<Entry> = {
            // Marked under the registry's lock, so no declaration slips in
            // after the registry was drained (see `declare_with`).
            let mut topics = lock(&self.inner.topics);
            if self.inner.shut_down.swap(true, Ordering::AcqRel) {
                return;
            }
            topics.drain().map(|(_, e)| e).collect()
        };
        for entry in &entries {
            entry.closer.close(Life::ShutDown);
        }
        self.inner.storage.close();
        tracing::debug!(topics = entries.len(), "agency shut down");
    }

    /// Whether [`Agency::shutdown`] was called.
    pub fn is_shut_down(&self) -> bool {
        self.inner.shut_down.load(Ordering::Acquire)
    }

    /// Values shared by every agent and host of this agency.
    pub fn common(&self) -> &CommonState {
        &self.inner.common
    }

    /// The storage behind durable topics.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.inner.storage
    }

    /// The largest encoded message accepted.
    pub fn max_message_size(&self) -> usize {
        self.inner.max_message_size
    }

    fn check_open(&self) -> Result<()> {
        if self.is_shut_down() {
            Err(Error::ShutDown)
        } else {
            Ok(())
        }
    }

    /// Encodes a message for `topic`, enforcing the size limit.
    pub(crate) fn encode<T: Serialize>(&self, topic: &Name, message: &T) -> Result<Vec<u8>> {
        self.encode_with(topic, message, |payload| Ok(payload.to_vec()))
    }

    /// Encodes a message for `topic` (on the stack when small, else into
    /// this thread's scratch buffer), enforces the size limit, and hands the
    /// bytes to `use_payload`.
    #[inline]
    pub(crate) fn encode_with<T: Serialize, R>(
        &self,
        topic: &Name,
        message: &T,
        use_payload: impl FnOnce(&[u8]) -> Result<R>,
    ) -> Result<R> {
        crate::encode::with_encoded(
            message,
            |payload| {
                if payload.len() > self.inner.max_message_size {
                    return Err(Error::TooLarge {
                        topic: topic.clone(),
                        size: payload.len(),
                        max: self.inner.max_message_size,
                    });
                }
                use_payload(payload)
            },
            |e| Error::Encode {
                topic: topic.clone(),
                type_name: std::any::type_name::<T>(),
                reason: e.to_string(),
            },
        )
    }

    /// Turns a storage's report into what the caller of `topic` should see:
    /// a closed storage after shutdown is [`Error::ShutDown`]; a topic the
    /// storage no longer knows was deleted.
    pub(crate) fn explain(&self, topic: &Name, error: Error) -> Error {
        match error {
            Error::Storage(e) if e.kind() == StorageErrorKind::Closed && self.is_shut_down() => {
                Error::ShutDown
            }
            Error::UnknownTopic { .. } => Error::Deleted {
                topic: topic.clone(),
            },
            other => other,
        }
    }
}

impl fmt::Debug for Agency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agency")
            .field("storage", &self.inner.storage)
            .field("topics", &lock(&self.inner.topics).len())
            .field("shut_down", &self.is_shut_down())
            .finish()
    }
}
