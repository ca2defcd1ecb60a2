//! Projections: read models built from topics, checkpointed atomically with
//! the cursors that fed them.

use std::fmt;

use serde::{Serialize, de::DeserializeOwned};

use crate::{
    Agency, CommitPolicy, Cursor, Delivery, Error, Message, Name, Record, Result, StartAt, Topic,
    TryRecvError, blocking,
    storage::{
        Admission, Append, BatchOutcome, Completion, CursorCommit, Effect, ReadBuf, SubmitError,
        WriteBatch,
    },
};

/// A read model: any serde type with a starting value.
pub trait ReadModel: Default + Serialize + DeserializeOwned + Send + 'static {}

impl<M> ReadModel for M where M: Default + Serialize + DeserializeOwned + Send + 'static {}

/// Builds a read model from one or more topics.
///
/// Each source topic is read through a named cursor (the projection's name).
/// A **checkpoint** stores the model and every source cursor's position in
/// one [`WriteBatch`]: after a crash the projection restarts from its last
/// checkpoint, and the cursors resume exactly after the messages the model
/// already contains — nothing applied twice, nothing lost.
///
/// ```
/// use omg::{Agency, Delivery, agent::Projection};
///
/// let agency = Agency::in_memory();
/// let sales = agency.topic::<u32>("sales", Delivery::exactly_once())?;
/// let refunds = agency.topic::<u32>("refunds", Delivery::at_least_once())?;
/// sales.publisher().publish(30)?;
/// refunds.publisher().publish(5)?;
///
/// let mut revenue = Projection::<i64>::builder(&agency, "revenue")?
///     .source(&sales, |total, sale| *total += i64::from(sale.value))?
///     .source(&refunds, |total, refund| *total -= i64::from(refund.value))?
///     .build()?;
/// revenue.catch_up()?;
/// assert_eq!(*revenue.model(), 25);
/// # Ok::<(), omg::Error>(())
/// ```
pub struct Projection<M> {
    agency: Agency,
    name: Name,
    model: M,
    sources: Vec<Box<dyn Source<M>>>,
    checkpoints: Topic<Vec<u8>>,
    effects: Option<Box<DrainEffects<M>>>,
    /// Effects taken from the model and not yet known to be committed: they
    /// ride in every checkpoint until one succeeds.
    pending_effects: Vec<Effect>,
    /// The checkpoint submitted and not yet settled. Every call settles it
    /// before taking another, so effects ride in one checkpoint at a time,
    /// and a cancelled `catch_up_async` leaves it here to be settled next.
    in_flight: Option<InFlight>,
    /// The next checkpoint is taken even if no position moved
    /// ([`Projection::rebuild`] replaced the model).
    force: bool,
}

/// A submitted checkpoint and what it settles when it commits.
struct InFlight {
    completion: Completion,
    /// How many of the pending effects (from the front) it carries.
    carried: usize,
    /// Per source, the position it commits, if that moved.
    positions: Vec<Option<u64>>,
}

/// Takes the backend effects a model accumulated since the last checkpoint.
type DrainEffects<M> = dyn FnMut(&mut M) -> Vec<Effect> + Send;

/// Builds a [`Projection`].
pub struct ProjectionBuilder<M> {
    agency: Agency,
    name: Name,
    sources: Vec<Box<dyn Source<M>>>,
    effects: Option<Box<DrainEffects<M>>>,
}

/// What one catch-up did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Progress {
    /// Messages applied to the model.
    pub applied: u64,
    /// Messages the sources lost before they were read (retention trimmed
    /// them): reported, never silently skipped.
    pub missed: u64,
}

/// One source topic with its apply function, type-erased over the message.
trait Source<M>: Send {
    fn drain(&mut self, model: &mut M, progress: &mut Progress) -> Result<()>;
    /// The position to commit, if it moved since the last checkpoint.
    fn commit(&self) -> Option<CursorCommit>;
    /// A checkpoint committing `position` succeeded.
    fn checkpointed(&mut self, position: u64);
    fn reset(&mut self) -> Result<()>;
}

struct TypedSource<T, F> {
    cursor: Cursor<T>,
    cursor_name: Name,
    apply: F,
    /// The position the last successful checkpoint stored. Checkpoints
    /// commit through their `WriteBatch`, not `Cursor::commit`, so the
    /// cursor itself does not know it.
    checkpointed: Option<u64>,
}

impl<M, T, F> Source<M> for TypedSource<T, F>
where
    T: Message,
    F: FnMut(&mut M, &Record<T>) + Send,
{
    fn drain(&mut self, model: &mut M, progress: &mut Progress) -> Result<()> {
        loop {
            match self.cursor.try_recv() {
                Ok(record) => {
                    (self.apply)(model, &record);
                    progress.applied += 1;
                }
                Err(TryRecvError::Lagged(n)) => progress.missed += n,
                Err(TryRecvError::Empty) => return Ok(()),
                Err(TryRecvError::Failed(e)) => return Err(e),
            }
        }
    }

    fn commit(&self) -> Option<CursorCommit> {
        (self.checkpointed != Some(self.cursor.position())).then(|| {
            CursorCommit::new(
                self.cursor.topic().name().clone(),
                self.cursor_name.clone(),
                self.cursor.position(),
            )
        })
    }

    fn checkpointed(&mut self, position: u64) {
        self.checkpointed = Some(position);
    }

    fn reset(&mut self) -> Result<()> {
        self.cursor.seek(StartAt::Earliest)
    }
}

impl<M: ReadModel> Projection<M> {
    /// Starts building the projection `name`.
    ///
    /// # Errors
    /// [`Error::InvalidName`].
    pub fn builder(agency: &Agency, name: &str) -> Result<ProjectionBuilder<M>> {
        Ok(ProjectionBuilder {
            agency: agency.clone(),
            name: Name::new(name)?,
            sources: Vec::new(),
            effects: None,
        })
    }

    /// The read model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The projection's name.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// Applies everything available from every source, then checkpoints and
    /// waits until the checkpoint is durable. A catch-up that applied
    /// nothing writes no checkpoint.
    ///
    /// # Errors
    /// A source's read error (decode, deleted, shut down), a storage error,
    /// or [`Error::BlockingForbidden`].
    pub fn catch_up(&mut self) -> Result<Progress> {
        blocking::check("Projection::catch_up")?;
        if let Some(in_flight) = self.in_flight.take() {
            let outcome = in_flight.completion.wait();
            self.settle(in_flight.carried, &in_flight.positions, outcome)?;
        }
        let progress = self.drain()?;
        if let Some(in_flight) = self.checkpoint(Admission::Queue)? {
            let outcome = in_flight.completion.wait();
            self.settle(in_flight.carried, &in_flight.positions, outcome)?;
        }
        Ok(progress)
    }

    /// [`catch_up`](Self::catch_up), waiting asynchronously for the
    /// checkpoint. Cancel-safe: a future dropped while the checkpoint is in
    /// flight leaves it to be settled by the next call, so its effects are
    /// committed once.
    ///
    /// # Errors
    /// See [`catch_up`](Self::catch_up), except `BlockingForbidden`.
    pub async fn catch_up_async(&mut self) -> Result<Progress> {
        self.settle_in_flight_async().await?;
        let progress = self.drain()?;
        self.in_flight = self.checkpoint(Admission::Queue)?;
        self.settle_in_flight_async().await?;
        Ok(progress)
    }

    /// Applies everything available and hands the checkpoint to the storage
    /// without waiting (for frame loops). The previous checkpoint's outcome is
    /// checked first, so a failure is reported on the next call; while one is
    /// still in flight, no new checkpoint is taken.
    ///
    /// # Errors
    /// See [`catch_up`](Self::catch_up), except `BlockingForbidden`.
    pub fn try_catch_up(&mut self) -> Result<Progress> {
        if let Some(in_flight) = &mut self.in_flight {
            let Some(outcome) = in_flight.completion.try_take() else {
                return self.drain();
            };
            if let Some(in_flight) = self.in_flight.take() {
                self.settle(in_flight.carried, &in_flight.positions, outcome)?;
            }
        }
        let progress = self.drain()?;
        match self.checkpoint(Admission::IfRoom) {
            Ok(in_flight) => self.in_flight = in_flight,
            Err(Error::Storage(e)) if e.kind() == crate::StorageErrorKind::QueueFull => {}
            Err(e) => return Err(e),
        }
        Ok(progress)
    }

    /// Forgets the model and re-reads every source from its earliest message
    /// (the next checkpoint replaces the stored model).
    ///
    /// # Errors
    /// A storage error.
    pub fn rebuild(&mut self) -> Result<()> {
        self.model = M::default();
        self.force = true;
        for source in &mut self.sources {
            source.reset()?;
        }
        Ok(())
    }

    fn drain(&mut self) -> Result<Progress> {
        let mut progress = Progress::default();
        for source in &mut self.sources {
            source.drain(&mut self.model, &mut progress)?;
        }
        Ok(progress)
    }

    /// Waits, in place, for the checkpoint in flight and settles it.
    async fn settle_in_flight_async(&mut self) -> Result<()> {
        let Some(in_flight) = &mut self.in_flight else {
            return Ok(());
        };
        let outcome = in_flight.completion.settle_async().await;
        match (self.in_flight.take(), outcome) {
            (Some(in_flight), Some(outcome)) => {
                self.settle(in_flight.carried, &in_flight.positions, outcome)
            }
            _ => Ok(()),
        }
    }

    /// Acts on a checkpoint's outcome: once committed, the effects it
    /// carried are done and its positions are the sources' checkpoints; on
    /// failure both stay pending for the next checkpoint.
    fn settle(
        &mut self,
        carried: usize,
        positions: &[Option<u64>],
        outcome: BatchOutcome,
    ) -> Result<()> {
        outcome.map_err(|e| self.agency.explain(self.checkpoints.name(), e))?;
        self.pending_effects.drain(..carried);
        for (source, position) in self.sources.iter_mut().zip(positions) {
            if let Some(position) = *position {
                source.checkpointed(position);
            }
        }
        Ok(())
    }

    /// Submits the model, its pending effects and the sources' moved
    /// positions as one batch, unless nothing changed.
    fn checkpoint(&mut self, admission: Admission) -> Result<Option<InFlight>> {
        if let Some(drain) = &mut self.effects {
            let fresh = drain(&mut self.model);
            self.pending_effects.extend(fresh);
        }
        let commits: Vec<Option<CursorCommit>> = self.sources.iter().map(|s| s.commit()).collect();
        if !self.force && commits.iter().all(Option::is_none) && self.pending_effects.is_empty() {
            return Ok(None);
        }
        let model = postcard::to_allocvec(&self.model).map_err(|e| Error::Encode {
            topic: self.checkpoints.name().clone(),
            type_name: std::any::type_name::<M>(),
            reason: e.to_string(),
        })?;
        let payload = self.agency.encode(self.checkpoints.name(), &model)?;
        let mut batch = WriteBatch::append(Append::new(self.checkpoints.name().clone(), payload));
        let positions = commits
            .iter()
            .map(|c| c.as_ref().map(|c| c.next_offset))
            .collect();
        for commit in commits.into_iter().flatten() {
            batch.push_commit(commit);
        }
        for effect in &self.pending_effects {
            batch.push_effect(effect.clone());
        }
        let carried = self.pending_effects.len();
        let completion = match self.agency.storage().submit(batch, admission) {
            Ok(completion) => completion,
            Err(SubmitError::Full(_)) => {
                return Err(Error::Storage(crate::StorageError::new(
                    crate::StorageErrorKind::QueueFull,
                    "the storage's write queue is full; checkpoint later",
                )));
            }
            Err(SubmitError::Failed(e, _)) => {
                return Err(self.agency.explain(self.checkpoints.name(), e));
            }
        };
        self.force = false;
        Ok(Some(InFlight {
            completion,
            carried,
            positions,
        }))
    }
}

impl<M: ReadModel> ProjectionBuilder<M> {
    /// Adds a durable source topic and how its messages change the model.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for an at-most-once topic (it cannot be
    /// checkpointed), or the errors of [`Topic::named_cursor`].
    pub fn source<T, F>(mut self, topic: &Topic<T>, apply: F) -> Result<Self>
    where
        T: Message,
        F: FnMut(&mut M, &Record<T>) + Send + 'static,
    {
        let cursor = topic
            .named_cursor(self.name.as_str(), StartAt::Earliest)?
            .with_commit_policy(CommitPolicy::Manual);
        self.sources.push(Box::new(TypedSource {
            checkpointed: cursor.committed(),
            cursor,
            cursor_name: self.name.clone(),
            apply,
        }));
        Ok(self)
    }

    /// Sets how backend effects are taken from the model at each checkpoint:
    /// they are committed in the same transaction as the model and the
    /// sources' positions. With omg-sqlite, a model that collects
    /// `omg_sqlite::SqlEffect`s keeps its read model in its own tables.
    /// Effects stay pending (and ride in the next checkpoint) until a
    /// checkpoint carrying them is committed.
    #[must_use]
    pub fn effects(mut self, drain: impl FnMut(&mut M) -> Vec<Effect> + Send + 'static) -> Self {
        self.effects = Some(Box::new(drain));
        self
    }

    /// Loads the last checkpoint (if any) and returns the projection.
    ///
    /// # Errors
    /// A storage error, or [`Error::Decode`] if the stored model no longer
    /// decodes as `M` (rebuild it with a new projection name, or
    /// [`Projection::rebuild`]).
    pub fn build(self) -> Result<Projection<M>> {
        let checkpoints = self.agency.topic_by_name::<Vec<u8>>(
            Name::reserved(&format!(".projection/{}/model", self.name))?,
            Delivery::exactly_once(),
        )?;
        let (_, head) = checkpoints.bounds()?;
        let model = if head == 0 {
            M::default()
        } else {
            let mut buf = ReadBuf::new();
            self.agency
                .storage()
                .read(checkpoints.name(), head - 1, 1, &mut buf)?;
            let decode_error = |reason: String| Error::Decode {
                topic: checkpoints.name().clone(),
                offset: head - 1,
                type_name: std::any::type_name::<M>().into(),
                reason,
            };
            let record = buf
                .get(0)
                .ok_or_else(|| decode_error("the checkpoint is missing".into()))?;
            let bytes: Vec<u8> =
                postcard::from_bytes(record.payload).map_err(|e| decode_error(e.to_string()))?;
            postcard::from_bytes(&bytes).map_err(|e| decode_error(e.to_string()))?
        };
        Ok(Projection {
            agency: self.agency,
            name: self.name,
            model,
            sources: self.sources,
            checkpoints,
            effects: self.effects,
            pending_effects: Vec::new(),
            in_flight: None,
            force: false,
        })
    }
}

impl<M> fmt::Debug for Projection<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Projection")
            .field("name", &self.name)
            .field("sources", &self.sources.len())
            .finish_non_exhaustive()
    }
}

impl<M> fmt::Debug for ProjectionBuilder<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProjectionBuilder")
            .field("name", &self.name)
            .field("sources", &self.sources.len())
            .finish()
    }
}
