//! Agent state mirrored into a resource; commands sent from systems.

use std::{fmt, marker::PhantomData, sync::Mutex};

use bevy_ecs::{
    change_detection::{DetectChangesMut, ResMut},
    message::{Message, MessageWriter},
    resource::Resource,
    system::SystemParam,
};
use omg::{
    Cursor, Receipt, StartAt, TryRecvError,
    agent::{Agent, AgentError, AgentState, Execute, Executed},
};

use crate::{Ticket, reader::DEFAULT_READ_BUDGET};

/// A copy of an agent's state, kept in the World and updated in
/// [`OmgSystems::Read`](crate::OmgSystems::Read) each frame from the agent's
/// event topic — whoever wrote the events (a system, another thread,
/// another process on the same storage).
///
/// The mirror folds the events with [`AgentState::apply`] from offset 0,
/// so a long history is replayed over the first frames, at most
/// [`budget`](Self::budget) events per frame. `Res<AgentMirror<S>>` is
/// changed (`is_changed`) exactly in the frames that applied events. A
/// [`CommandExecuted`] waits for the mirror to apply the command's events.
#[derive(Resource)]
pub struct AgentMirror<S: AgentState> {
    agent: Agent<S>,
    state: S,
    version: u64,
    budget: usize,
    // `Cursor` is `Send` but not `Sync`; the system uses `Mutex::get_mut`.
    feed: Mutex<Feed<S::Event>>,
}

enum Feed<E> {
    Open(Box<Cursor<E>>),
    /// Opening failed; reported once, then `Closed`.
    Failed(omg::Error),
    Closed,
}

impl<S: AgentState> AgentMirror<S> {
    pub(crate) fn new(agent: Agent<S>) -> Self {
        let feed = match agent.events().cursor(StartAt::Offset(0)) {
            Ok(cursor) => Feed::Open(Box::new(cursor)),
            Err(error) => Feed::Failed(error),
        };
        Self {
            agent,
            state: S::default(),
            version: 0,
            budget: DEFAULT_READ_BUDGET,
            feed: Mutex::new(feed),
        }
    }

    /// The mirrored state.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// How many events the mirror has applied (the agent's version as of
    /// this frame).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The agent.
    pub fn agent(&self) -> &Agent<S> {
        &self.agent
    }

    /// The most events applied per frame.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Sets the most events applied per frame (at least 1).
    pub fn set_budget(&mut self, budget: usize) {
        self.budget = budget.max(1);
    }

    /// Whether the mirror stopped following the agent after an error
    /// (reported as [`MirrorFailed`]).
    pub fn is_closed(&self) -> bool {
        !matches!(
            *self
                .feed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            Feed::Open(_)
        )
    }
}

impl<S: AgentState> fmt::Debug for AgentMirror<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentMirror")
            .field("agent", &self.agent)
            .field("version", &self.version)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// The mirror of agent `S` stopped: its events could not be read (the
/// agency shut down, a storage error, an event that does not decode).
/// [`AgentMirror::state`] stays at the last applied event.
#[derive(Message, Debug, Clone)]
pub struct MirrorFailed<S: AgentState> {
    /// Why.
    pub error: omg::Error,
    marker: PhantomData<fn() -> S>,
}

/// A command sent with [`AgentCommands::send`] was executed: its events are
/// committed. When this message is read, the [`AgentMirror`] already
/// includes them: it is written in [`OmgSystems::Read`](crate::OmgSystems::Read)
/// once the mirror has applied the command's last event. The mirror keeps
/// to its per-frame budget, so a command with more events than the budget
/// (or one sent while the mirror still replays a long history) is reported
/// in the frame the mirror reaches it, not in the frame it committed. A
/// command without events is reported once the mirror is at the version
/// it was decided on. If the mirror stopped ([`MirrorFailed`]), the
/// commands it can no longer reach are reported without waiting.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandExecuted<S: AgentState> {
    /// The ticket [`AgentCommands::send`] returned.
    pub ticket: Ticket,
    /// The offset of the first event appended (by the earlier command, for a
    /// causation id already processed), or `None` when the command produced
    /// no events.
    pub first_offset: Option<u64>,
    marker: PhantomData<fn() -> S>,
}

/// A command sent with [`AgentCommands::send`] failed after it was handed
/// to the storage: another writer appended first
/// ([`omg::Error::Conflict`]: send it again, it will be decided on the new
/// state) or the storage failed. Nothing of it was appended.
#[derive(Message, Debug, Clone)]
pub struct CommandFailed<S: AgentState> {
    /// The ticket [`AgentCommands::send`] returned.
    pub ticket: Ticket,
    /// Why.
    pub error: omg::Error,
    marker: PhantomData<fn() -> S>,
}

/// The resource behind [`AgentCommands`]: commands handed to the storage
/// and not yet reported.
#[derive(Resource)]
pub struct AgentOutbox<S: AgentState> {
    agent: Agent<S>,
    next_ticket: u64,
    /// Handed to the storage, not committed yet.
    in_flight: Vec<InFlight>,
    /// Committed (or settled without a write), not yet mirrored.
    executed: Vec<Done>,
}

/// A command whose write is in the storage.
struct InFlight {
    ticket: Ticket,
    decided: Executed,
    receipt: Receipt,
}

/// An executed command, reported once the mirror is at `mirrored`.
struct Done {
    ticket: Ticket,
    first_offset: Option<u64>,
    mirrored: u64,
}

impl Done {
    /// `committed_first`: the offset the command's receipt resolved to.
    fn new(ticket: Ticket, decided: &Executed, committed_first: Option<u64>) -> Self {
        if decided.events == 0 {
            return Self {
                ticket,
                first_offset: None,
                mirrored: decided.first_offset,
            };
        }
        // The receipt knows best: another handle may have committed the
        // same causation id first.
        let first = committed_first.unwrap_or(decided.first_offset);
        Self {
            ticket,
            first_offset: Some(first),
            mirrored: first + decided.events as u64,
        }
    }
}

impl<S: AgentState> AgentOutbox<S> {
    pub(crate) fn new(agent: Agent<S>) -> Self {
        Self {
            agent,
            next_ticket: 0,
            in_flight: Vec::new(),
            executed: Vec::new(),
        }
    }

    /// How many commands were handed to the storage and are not committed yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

impl<S: AgentState> fmt::Debug for AgentOutbox<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentOutbox")
            .field("agent", &self.agent)
            .field("next_ticket", &self.next_ticket)
            .field("in_flight", &self.in_flight.len())
            .field("unreported", &self.executed.len())
            .finish_non_exhaustive()
    }
}

/// Sends commands to agent `S` from a system, never blocking the frame
/// (with [`Agent::try_execute`]).
///
/// The command is decided at once on the agent's current state: a refusal
/// by the state ([`AgentError::Domain`]) or a full write queue comes back
/// from [`send`](Self::send) itself, and the command is not sent (send it
/// again next frame). Otherwise its events are handed to the storage and
/// the outcome comes back in a later frame: a [`CommandFailed`] from
/// [`OmgSystems::Flush`](crate::OmgSystems::Flush), or a [`CommandExecuted`]
/// from [`OmgSystems::Read`](crate::OmgSystems::Read) once the
/// [`AgentMirror`] includes the command's events.
#[derive(SystemParam)]
pub struct AgentCommands<'w, S: AgentState> {
    outbox: ResMut<'w, AgentOutbox<S>>,
}

impl<S: AgentState> AgentCommands<'_, S> {
    /// Sends a command (or an [`Execute`] with a causation id).
    ///
    /// # Errors
    /// The errors of [`Agent::try_execute`]: [`AgentError::Domain`] when
    /// the state refuses the command; [`AgentError::Storage`] for a full
    /// write queue or a storage that failed; [`AgentError::Decode`].
    pub fn send(
        &mut self,
        command: impl Into<Execute<S::Command>>,
    ) -> Result<Ticket, AgentError<S::Error>> {
        let outbox = &mut *self.outbox;
        let ticket = Ticket(outbox.next_ticket);
        match outbox.agent.try_execute(command)? {
            (decided, Some(receipt)) => outbox.in_flight.push(InFlight {
                ticket,
                decided,
                receipt,
            }),
            (decided, None) => outbox.executed.push(Done::new(ticket, &decided, None)),
        }
        outbox.next_ticket += 1;
        Ok(ticket)
    }

    /// The agent.
    pub fn agent(&self) -> &Agent<S> {
        &self.outbox.agent
    }
}

impl<S: AgentState> fmt::Debug for AgentCommands<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentCommands")
            .field("outbox", &*self.outbox)
            .finish()
    }
}

/// The [`OmgSystems::Flush`](crate::OmgSystems::Flush) system of an agent's
/// commands: failures are reported at once, committed commands wait for the
/// mirror ([`follow`] reports them).
pub(crate) fn flush_commands<S: AgentState>(
    mut outbox: ResMut<'_, AgentOutbox<S>>,
    mut failed: MessageWriter<'_, CommandFailed<S>>,
) {
    if outbox.in_flight.is_empty() {
        return;
    }
    let AgentOutbox {
        in_flight,
        executed,
        ..
    } = &mut *outbox;
    in_flight.retain_mut(|command| match command.receipt.try_result() {
        None => true,
        Some(Ok(offset)) => {
            executed.push(Done::new(command.ticket, &command.decided, Some(offset)));
            false
        }
        Some(Err(error)) => {
            failed.write(CommandFailed {
                ticket: command.ticket,
                error,
                marker: PhantomData,
            });
            false
        }
    });
}

/// The [`OmgSystems::Read`](crate::OmgSystems::Read) system of a mirror:
/// applies the new events, then reports the executed commands the mirror
/// now includes.
pub(crate) fn follow<S: AgentState>(
    mut mirror: ResMut<'_, AgentMirror<S>>,
    mut outbox: ResMut<'_, AgentOutbox<S>>,
    mut executed: MessageWriter<'_, CommandExecuted<S>>,
    mut failed: MessageWriter<'_, MirrorFailed<S>>,
) {
    apply_events(&mut mirror, &mut failed);
    if outbox.executed.is_empty() {
        return;
    }
    // A stopped mirror never reaches them: report them now.
    let mirrored = if mirror.is_closed() {
        u64::MAX
    } else {
        mirror.version
    };
    outbox.executed.retain(|done| {
        if done.mirrored > mirrored {
            return true;
        }
        executed.write(CommandExecuted {
            ticket: done.ticket,
            first_offset: done.first_offset,
            marker: PhantomData,
        });
        false
    });
}

/// Applies at most the mirror's budget of new events.
fn apply_events<S: AgentState>(
    mirror: &mut ResMut<'_, AgentMirror<S>>,
    failed: &mut MessageWriter<'_, MirrorFailed<S>>,
) {
    let state = mirror.bypass_change_detection();
    let feed = state
        .feed
        .get_mut()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let cursor = match feed {
        Feed::Open(cursor) => cursor,
        Feed::Closed => return,
        Feed::Failed(_) => {
            if let Feed::Failed(error) = std::mem::replace(feed, Feed::Closed) {
                failed.write(MirrorFailed {
                    error,
                    marker: PhantomData,
                });
            }
            return;
        }
    };
    let mut applied = 0usize;
    let mut stop = None;
    while applied < state.budget {
        match cursor.try_recv() {
            Ok(record) => {
                state.state.apply(&record.value);
                state.version = record.offset + 1;
                applied += 1;
            }
            Err(TryRecvError::Empty) => break,
            Err(TryRecvError::Failed(error)) => {
                stop = Some(error);
                break;
            }
            // An exactly-once topic keeps every event: a gap means the
            // mirror can no longer be right.
            Err(other) => {
                stop = Some(omg::Error::Storage(omg::StorageError::new(
                    omg::StorageErrorKind::Other,
                    format!("the agent's event topic reported: {other}"),
                )));
                break;
            }
        }
    }
    if let Some(error) = stop {
        *feed = Feed::Closed;
        failed.write(MirrorFailed {
            error,
            marker: PhantomData,
        });
    }
    if applied > 0 {
        mirror.set_changed();
    }
}
