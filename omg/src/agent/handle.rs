//! The [`Agent`] handle: execute commands, read state.

use std::{fmt, sync::Arc};

use super::{AgentError, AgentState, Execute, Executed, execute::NoEvents, snapshot::Snapshot};
use crate::{
    Agency, Delivery, Error, IdempotencyKey, Name, Receipt, Topic, blocking,
    storage::{Admission, Append, BatchOutcome, Completion, ReadBuf, SubmitError, WriteBatch},
    sync::{Mutex, lock},
};

/// How many times a command is tried against concurrent writers by default.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;

/// Events read per storage read while catching up.
const CATCH_UP_BATCH: usize = 1024;

/// Options of an agent handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AgentOptions {
    /// Store a snapshot every this many events (off by default): whenever
    /// the handle's state crosses a multiple of it, after executing a
    /// command or catching up on events (those of
    /// [`Agent::try_execute`] included). Handles that cross the same
    /// multiple store one snapshot.
    pub snapshot_every: Option<u64>,
    /// Tries per command before [`AgentError::Conflict`].
    pub max_attempts: u32,
}

impl Default for AgentOptions {
    fn default() -> Self {
        Self {
            snapshot_every: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }
}

impl AgentOptions {
    /// Snapshots every `events` events (0 turns snapshots off).
    #[must_use]
    pub fn snapshot_every(mut self, events: u64) -> Self {
        self.snapshot_every = (events > 0).then_some(events);
        self
    }

    /// Tries per command (at least 1).
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }
}

/// A handle to an agent: cheap to clone, `Send + Sync`, usable from any
/// thread, task or system. Clones share one in-memory state; separate
/// handles (from other `Agency::agent` calls, threads or processes) converge
/// through the storage by optimistic concurrency on the event topic's offsets.
pub struct Agent<S: AgentState> {
    inner: Arc<Inner<S>>,
}

struct Inner<S: AgentState> {
    name: Name,
    events: Topic<S::Event>,
    snapshots: Topic<Snapshot>,
    /// `.agent/<name>/outcomes`: the caused commands that decided no events.
    /// Declared with the handle, not on first use: declaring waits for the
    /// storage, which `try_execute` must not.
    outcomes: Topic<NoEvents>,
    options: AgentOptions,
    loaded: Mutex<Loaded<S>>,
}

struct Loaded<S> {
    state: S,
    /// The next event offset not yet applied.
    version: u64,
    hydrated: bool,
    buf: ReadBuf,
}

/// A command turned into a batch, or already settled.
enum Prepared<E> {
    Done(Executed),
    Submit {
        batch: WriteBatch,
        decided: Decided<E>,
    },
}

/// What a command decided, kept until its batch completes.
struct Decided<E> {
    events: Vec<E>,
    /// The version the events were decided on (their expected first offset).
    version: u64,
    /// The earlier outcome of a repeated causation id; the batch then only
    /// commits the command's cursor.
    earlier: Option<Executed>,
}

impl<E> Decided<E> {
    /// The outcome if the batch commits as expected, before this handle
    /// applied the events.
    fn expected(&self) -> Executed {
        match &self.earlier {
            Some(earlier) => earlier.clone(),
            None => Executed {
                first_offset: self.version,
                events: self.events.len(),
                version: self.version + self.events.len() as u64,
                duplicate: false,
            },
        }
    }
}

/// A command settled at once, or handed to the storage.
enum Started<E> {
    Done(Executed),
    Submitted(Completion, Decided<E>),
}

impl Agency {
    /// The agent `name` with state `S`, using default options.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::TopicMismatch`] if the agent exists
    /// with another event type, [`Error::ShutDown`], a storage error.
    pub fn agent<S: AgentState>(&self, name: &str) -> crate::Result<Agent<S>> {
        self.agent_with(name, AgentOptions::default())
    }

    /// The agent `name` with state `S` and `options`. The state is loaded
    /// lazily, on first use.
    ///
    /// # Errors
    /// See [`Agency::agent`].
    pub fn agent_with<S: AgentState>(
        &self,
        name: &str,
        options: AgentOptions,
    ) -> crate::Result<Agent<S>> {
        let name = Name::new(name)?;
        let events = self.declare_with(
            Name::reserved(&format!(".agent/{name}/events"))?,
            Delivery::exactly_once(),
            &S::event_type_name(),
            decode_event_payload::<S>,
        )?;
        // A stable schema name, not the Rust path (which moves with refactors
        // and would make every stored snapshot topic a mismatch).
        let snapshots = self.declare(
            Name::reserved(&format!(".agent/{name}/snapshots"))?,
            Delivery::exactly_once(),
            "omg.agent.Snapshot",
        )?;
        let outcomes = self.declare(
            Name::reserved(&format!(".agent/{name}/outcomes"))?,
            Delivery::exactly_once(),
            "omg.agent.NoEvents",
        )?;
        Ok(Agent {
            inner: Arc::new(Inner {
                name,
                events,
                snapshots,
                outcomes,
                options,
                loaded: Mutex::new(Loaded {
                    state: S::default(),
                    version: 0,
                    hydrated: false,
                    buf: ReadBuf::new(),
                }),
            }),
        })
    }
}

impl<S: AgentState> Agent<S> {
    /// The agent's name.
    pub fn name(&self) -> &Name {
        &self.inner.name
    }

    /// The agent's event topic (subscribe to it like any topic).
    pub fn events(&self) -> &Topic<S::Event> {
        &self.inner.events
    }

    /// The agency the agent lives in.
    pub fn agency(&self) -> &Agency {
        self.inner.events.agency()
    }

    /// Executes a command and waits until its events are durable.
    ///
    /// handle → append with the expected version → apply. If another writer
    /// appended first, the agent reads only the new tail, handles the command
    /// again, and retries up to [`AgentOptions::max_attempts`] times.
    ///
    /// # Errors
    /// [`AgentError::Domain`] (nothing appended), [`AgentError::Conflict`],
    /// [`AgentError::Decode`], [`AgentError::Storage`] (including
    /// `BlockingForbidden`).
    pub fn execute(
        &self,
        command: impl Into<Execute<S::Command>>,
    ) -> Result<Executed, AgentError<S::Error>> {
        blocking::check("Agent::execute").map_err(AgentError::Storage)?;
        let command = command.into();
        for _ in 0..self.inner.options.max_attempts {
            let (completion, decided) = match self.start(&command)? {
                Started::Done(done) => return Ok(done),
                Started::Submitted(completion, decided) => (completion, decided),
            };
            if let Some(done) = self.finish(completion.wait(), decided)? {
                return Ok(done);
            }
        }
        Err(self.conflict())
    }

    /// [`execute`](Self::execute), waiting asynchronously. No lock is held
    /// across an await.
    ///
    /// # Errors
    /// See [`execute`](Self::execute), except `BlockingForbidden`.
    pub async fn execute_async(
        &self,
        command: impl Into<Execute<S::Command>>,
    ) -> Result<Executed, AgentError<S::Error>> {
        let command = command.into();
        for _ in 0..self.inner.options.max_attempts {
            let (completion, decided) = match self.start(&command)? {
                Started::Done(done) => return Ok(done),
                Started::Submitted(completion, decided) => (completion, decided),
            };
            if let Some(done) = self.finish(completion.wait_async().await, decided)? {
                return Ok(done);
            }
        }
        Err(self.conflict())
    }

    /// Handles the command and hands what it decided to the storage without
    /// waiting.
    ///
    /// Returns what the command decided — the [`Executed`] that
    /// [`execute`](Self::execute) returns, except that `version` is the
    /// version right after the command's events — and, when something had to
    /// be written, the write's receipt. The receipt resolves once the write
    /// committed, or reports why it did not: [`Error::Conflict`] when another
    /// writer appended first (the command is void then; execute it again and
    /// it is decided on the new state). `None`: the command was settled
    /// without a write (no events, no causation id and no cursor; or a
    /// repeated causation id without a cursor).
    ///
    /// A command with events, or a repeated causation id, has its receipt
    /// resolve to its first event's offset: `first_offset`, unless another
    /// handle committed the same causation id meanwhile (then it is that
    /// earlier command's first event). A command without events has no
    /// event offset: use `first_offset` (the version it was decided on).
    ///
    /// This handle's state includes the events once the receipt completed
    /// and the state is next read (which also stores a snapshot when one is
    /// due, see [`AgentOptions::snapshot_every`]).
    ///
    /// # Errors
    /// [`AgentError::Domain`], [`AgentError::Decode`], [`AgentError::Storage`]
    /// (a full write queue is a storage error of kind
    /// [`StorageErrorKind::QueueFull`](crate::StorageErrorKind::QueueFull):
    /// nothing was written, retry later).
    pub fn try_execute(
        &self,
        command: impl Into<Execute<S::Command>>,
    ) -> Result<(Executed, Option<Receipt>), AgentError<S::Error>> {
        let command = command.into();
        match self.prepare(&command)? {
            Prepared::Done(done) => Ok((done, None)),
            Prepared::Submit { batch, decided } => {
                let expected = decided.expected();
                let completion = self.submit(batch, Admission::IfRoom)?;
                // A batch without appends (a cursor commit) resolves to this.
                let position = expected.first_offset;
                Ok((expected, Some(Receipt::pending(completion, position))))
            }
        }
    }

    /// Reads the state through `f`, after catching up with every committed event.
    ///
    /// # Errors
    /// [`AgentError::Decode`] or [`AgentError::Storage`].
    pub fn read<R>(&self, f: impl FnOnce(&S) -> R) -> Result<R, AgentError<S::Error>> {
        let mut loaded = lock(&self.inner.loaded);
        self.catch_up(&mut loaded)?;
        Ok(f(&loaded.state))
    }

    /// A copy of the state, caught up.
    ///
    /// # Errors
    /// See [`read`](Self::read).
    pub fn state(&self) -> Result<S, AgentError<S::Error>>
    where
        S: Clone,
    {
        self.read(S::clone)
    }

    /// The agent's version: how many events it has applied, caught up.
    ///
    /// # Errors
    /// See [`read`](Self::read).
    pub fn version(&self) -> Result<u64, AgentError<S::Error>> {
        let mut loaded = lock(&self.inner.loaded);
        self.catch_up(&mut loaded)?;
        Ok(loaded.version)
    }

    fn conflict(&self) -> AgentError<S::Error> {
        AgentError::Conflict {
            agent: self.inner.name.to_string(),
            attempts: self.inner.options.max_attempts,
        }
    }

    fn prepare(
        &self,
        command: &Execute<S::Command>,
    ) -> Result<Prepared<S::Event>, AgentError<S::Error>> {
        let mut loaded = lock(&self.inner.loaded);
        self.catch_up(&mut loaded)?;
        let version = loaded.version;
        // A causation id seen before: return that outcome without deciding
        // again (the state may have moved on since).
        if let Some(earlier) = self.earlier_outcome(command, version, &mut loaded.buf)? {
            return Ok(match &command.cursor {
                None => Prepared::Done(earlier),
                Some(commit) => Prepared::Submit {
                    batch: WriteBatch::commit(commit.clone()),
                    decided: Decided {
                        events: Vec::new(),
                        version,
                        earlier: Some(earlier),
                    },
                },
            });
        }
        let events = loaded
            .state
            .handle(&command.command)
            .map_err(AgentError::Domain)?;
        drop(loaded);
        if events.is_empty() && command.causation.is_none() && command.cursor.is_none() {
            return Ok(Prepared::Done(Executed {
                first_offset: version,
                events: 0,
                version,
                duplicate: false,
            }));
        }
        let topic = self.inner.events.name();
        let agency = self.agency();
        let mut batch = WriteBatch::new();
        for (i, event) in events.iter().enumerate() {
            let payload = agency.encode(topic, event).map_err(AgentError::Storage)?;
            let key = command
                .causation
                .as_ref()
                .map(|c| causation_key(c, i))
                .transpose()
                .map_err(AgentError::Storage)?;
            batch.push_append(
                Append::new(topic.clone(), payload)
                    .with_key(key)
                    .expecting(version + i as u64),
            );
        }
        // No events leave no key on the event topic: the outcome is
        // remembered on the outcomes topic instead, in the same batch as the
        // cursor commit. Deciding nothing is read-only, so it needs no
        // expected offset: it is ordered at the version it was decided on.
        if events.is_empty()
            && let Some(causation) = &command.causation
        {
            let outcomes = &self.inner.outcomes;
            let payload = agency
                .encode(
                    outcomes.name(),
                    &NoEvents {
                        decided_at: version,
                    },
                )
                .map_err(AgentError::Storage)?;
            let key = causation_key(causation, "none").map_err(AgentError::Storage)?;
            batch.push_append(Append::new(outcomes.name().clone(), payload).with_key(Some(key)));
        }
        if let Some(commit) = &command.cursor {
            batch.push_commit(commit.clone());
        }
        Ok(Prepared::Submit {
            batch,
            decided: Decided {
                events,
                version,
                earlier: None,
            },
        })
    }

    /// Decides and submits (waiting for queue room), or settles at once.
    fn start(
        &self,
        command: &Execute<S::Command>,
    ) -> Result<Started<S::Event>, AgentError<S::Error>> {
        Ok(match self.prepare(command)? {
            Prepared::Done(done) => Started::Done(done),
            Prepared::Submit { batch, decided } => {
                Started::Submitted(self.submit(batch, Admission::Queue)?, decided)
            }
        })
    }

    /// The outcome of an earlier command with the same causation id, found
    /// through the idempotency keys of its events (`<causation>#<i>`), or
    /// the record of a command that decided none (`<causation>#none` on the
    /// outcomes topic).
    fn earlier_outcome(
        &self,
        command: &Execute<S::Command>,
        version: u64,
        buf: &mut ReadBuf,
    ) -> Result<Option<Executed>, AgentError<S::Error>> {
        let Some(causation) = &command.causation else {
            return Ok(None);
        };
        let storage = self.agency().storage();
        let offset_of = |topic: &Name, suffix: &dyn fmt::Display| {
            let key = causation_key(causation, suffix).map_err(AgentError::Storage)?;
            storage
                .key_offset(topic, &key)
                .map_err(|e| AgentError::from_core(self.agency().explain(topic, e)))
        };
        let events_topic = self.inner.events.name();
        if let Some(first_offset) = offset_of(events_topic, &0)? {
            let mut events = 1;
            while offset_of(events_topic, &events)?.is_some() {
                events += 1;
            }
            return Ok(Some(Executed {
                first_offset,
                events,
                version,
                duplicate: true,
            }));
        }
        let topic = self.inner.outcomes.name();
        let Some(offset) = offset_of(topic, &"none")? else {
            return Ok(None);
        };
        storage
            .read(topic, offset, 1, buf)
            .map_err(|e| AgentError::from_core(self.agency().explain(topic, e)))?;
        let decided_at = match buf.get(0).filter(|r| r.offset == offset) {
            Some(record) => {
                postcard::from_bytes::<NoEvents>(record.payload)
                    .map_err(|e| {
                        AgentError::Decode(Error::Decode {
                            topic: topic.clone(),
                            offset,
                            type_name: std::any::type_name::<NoEvents>().into(),
                            reason: e.to_string(),
                        })
                    })?
                    .decided_at
            }
            // An exactly-once topic keeps its records; the key alone tells
            // the command was processed.
            None => version,
        };
        Ok(Some(Executed {
            first_offset: decided_at,
            events: 0,
            version,
            duplicate: true,
        }))
    }

    fn submit(
        &self,
        batch: WriteBatch,
        admission: Admission,
    ) -> Result<Completion, AgentError<S::Error>> {
        let agency = self.agency();
        match agency.storage().submit(batch, admission) {
            Ok(completion) => Ok(completion),
            Err(SubmitError::Full(_)) => Err(AgentError::Storage(Error::Storage(
                crate::StorageError::new(
                    crate::StorageErrorKind::QueueFull,
                    "the storage's write queue is full; try again later",
                ),
            ))),
            Err(SubmitError::Failed(e, _)) => Err(AgentError::from_core(
                agency.explain(self.inner.events.name(), e),
            )),
        }
    }

    /// Applies a committed command; `None` on a conflict (try again).
    fn finish(
        &self,
        outcome: BatchOutcome,
        decided: Decided<S::Event>,
    ) -> Result<Option<Executed>, AgentError<S::Error>> {
        let Decided {
            events,
            version,
            earlier,
        } = decided;
        let appended = match outcome {
            Ok(appended) => appended,
            Err(Error::Conflict { .. }) => return Ok(None),
            Err(e) => {
                return Err(AgentError::from_core(
                    self.agency().explain(self.inner.events.name(), e),
                ));
            }
        };
        if let Some(earlier) = earlier {
            return Ok(Some(earlier));
        }
        // The first append is the first event, or, for a command without
        // events, its record on the outcomes topic (if it has a causation id).
        let duplicate = appended.first().is_some_and(|a| a.duplicate);
        let count = events.len();
        let first_offset = match appended.first() {
            Some(first) if count > 0 => first.offset,
            _ => version,
        };
        let mut loaded = lock(&self.inner.loaded);
        if !duplicate && loaded.version == version {
            // Nobody else moved the state: apply our events without reading them back.
            for event in &events {
                loaded.state.apply(event);
            }
            loaded.version += count as u64;
            self.maybe_snapshot(&loaded, version);
        } else {
            self.catch_up(&mut loaded)?;
        }
        Ok(Some(Executed {
            first_offset,
            events: count,
            version: loaded.version,
            duplicate,
        }))
    }

    /// Loads the latest usable snapshot (first use only), then applies every
    /// committed event after the state's version — whoever wrote them,
    /// including this handle's [`try_execute`](Self::try_execute) — and
    /// stores a snapshot if that crossed a multiple of `snapshot_every`.
    fn catch_up(&self, loaded: &mut Loaded<S>) -> Result<(), AgentError<S::Error>> {
        if !loaded.hydrated {
            self.hydrate(loaded)?;
        }
        let before = loaded.version;
        self.apply_tail(loaded)?;
        self.maybe_snapshot(loaded, before);
        Ok(())
    }

    /// Applies every committed event after the state's version.
    fn apply_tail(&self, loaded: &mut Loaded<S>) -> Result<(), AgentError<S::Error>> {
        let topic = self.inner.events.name();
        let storage = self.agency().storage().clone();
        loop {
            let Loaded {
                state,
                version,
                buf,
                ..
            } = &mut *loaded;
            let info = storage
                .read(topic, *version, CATCH_UP_BATCH, buf)
                .map_err(|e| AgentError::from_core(self.agency().explain(topic, e)))?;
            for record in buf.iter() {
                let event = decode_event::<S>(topic, record.offset, record.payload)
                    .map_err(AgentError::Decode)?;
                state.apply(&event);
                *version = record.offset + 1;
            }
            if buf.is_empty() || *version >= info.next_offset {
                return Ok(());
            }
        }
    }

    fn hydrate(&self, loaded: &mut Loaded<S>) -> Result<(), AgentError<S::Error>> {
        let _span = tracing::debug_span!("rehydrate", agent = %self.inner.name).entered();
        loaded.hydrated = true;
        let topic = self.inner.snapshots.name();
        let storage = self.agency().storage().clone();
        let (_, head) = self
            .inner
            .snapshots
            .bounds()
            .map_err(AgentError::from_core)?;
        if head == 0 {
            return Ok(());
        }
        storage
            .read(topic, head - 1, 1, &mut loaded.buf)
            .map_err(|e| AgentError::from_core(self.agency().explain(topic, e)))?;
        let Some(record) = loaded.buf.get(0) else {
            return Ok(());
        };
        let restored = postcard::from_bytes::<Snapshot>(record.payload)
            .map_err(|e| e.to_string())
            .and_then(|snapshot| {
                snapshot
                    .restore::<S>()
                    .map(|state| (state, snapshot.next_event))
            });
        match restored {
            Ok((state, next_event)) => {
                loaded.state = state;
                loaded.version = next_event;
            }
            Err(reason) => tracing::warn!(
                agent = %self.inner.name,
                %reason,
                "snapshot unusable, replaying every event"
            ),
        }
        Ok(())
    }

    /// Stores a snapshot when the state crossed a multiple of `snapshot_every`
    /// since `before`. A snapshot is an optimisation: it is handed to the
    /// storage without waiting, and a failed one only means a longer replay.
    ///
    /// It is keyed by its format and the multiple crossed, so that the
    /// handles (and processes) that all cross it while catching up store it
    /// once.
    fn maybe_snapshot(&self, loaded: &Loaded<S>, before: u64) {
        let Some(every) = self.inner.options.snapshot_every else {
            return;
        };
        if loaded.version / every == before / every {
            return;
        }
        let crossed = loaded.version / every * every;
        let key = IdempotencyKey::new(&format!("{}@{crossed}", S::SNAPSHOT_VERSION)).ok();
        let encoded = Snapshot::of(&loaded.state, loaded.version)
            .map_err(|e| e.to_string())
            .and_then(|snapshot| {
                self.agency()
                    .encode(self.inner.snapshots.name(), &snapshot)
                    .map_err(|e| e.to_string())
            });
        match encoded {
            Ok(payload) => {
                let batch = WriteBatch::append(
                    Append::new(self.inner.snapshots.name().clone(), payload).with_key(key),
                );
                if let Err(e) = self.agency().storage().submit(batch, Admission::IfRoom) {
                    tracing::warn!(agent = %self.inner.name, error = ?e, "snapshot not stored");
                }
            }
            Err(reason) => {
                tracing::warn!(agent = %self.inner.name, %reason, "snapshot not encoded")
            }
        }
    }
}

/// The idempotency key `<causation>#<suffix>`: an event's index, or `none`.
fn causation_key(causation: &str, suffix: impl fmt::Display) -> crate::Result<IdempotencyKey> {
    IdempotencyKey::new(&format!("{causation}#{suffix}"))
}

/// Decodes an event, falling back to the state's upcaster.
fn decode_event<S: AgentState>(
    topic: &Name,
    offset: u64,
    payload: &[u8],
) -> crate::Result<S::Event> {
    decode_event_payload::<S>(payload).map_err(|reason| Error::Decode {
        topic: topic.clone(),
        offset,
        type_name: std::any::type_name::<S::Event>().into(),
        reason,
    })
}

/// The decoder of an agent's event topic, also used by every cursor on it
/// (projections, mirrors), so that they see upcast events too.
fn decode_event_payload<S: AgentState>(payload: &[u8]) -> Result<S::Event, String> {
    // A payload the current type reads only a prefix of was written by
    // another (longer) shape: it goes to the upcaster, not silently truncated.
    let reason = match postcard::take_from_bytes::<S::Event>(payload) {
        Ok((event, [])) => return Ok(event),
        Ok((_, rest)) => format!("{} bytes left over after the event", rest.len()),
        Err(e) => e.to_string(),
    };
    S::upcast(payload).ok_or(reason)
}

impl<S: AgentState> Clone for Agent<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<S: AgentState> fmt::Debug for Agent<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent")
            .field("name", &self.inner.name)
            .field("state", &std::any::type_name::<S>())
            .finish()
    }
}
