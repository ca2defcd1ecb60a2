//! A command with its causation, and what executing it produced.

use serde::{Deserialize, Serialize};

/// A command plus how it was caused. `T` converts into it, so
/// `agent.execute(command)` works for plain commands.
#[derive(Debug, Clone)]
pub struct Execute<C> {
    pub(crate) command: C,
    pub(crate) causation: Option<String>,
    pub(crate) cursor: Option<crate::storage::CursorCommit>,
}

impl<C> Execute<C> {
    /// A command without causation.
    pub fn new(command: C) -> Self {
        Self {
            command,
            causation: None,
            cursor: None,
        }
    }

    /// A causation id (a user key, or a topic message as `topic@offset`):
    /// a command whose causation id was already processed returns the earlier
    /// outcome and appends nothing — also when that outcome was no events.
    ///
    /// The outcome is remembered in the storage, forever: through the
    /// idempotency keys of the command's events (`<causation>#<i>` on the
    /// event topic), or, for a command that decided no events, by a record
    /// keyed `<causation>#none` on the agent's reserved topic
    /// `.agent/<name>/outcomes`, so the event topic holds only events. The
    /// causation id with such a suffix must fit an idempotency key (256
    /// bytes); a longer one is refused with
    /// [`Error::InvalidKey`](crate::Error::InvalidKey).
    ///
    /// One limit: a command that decides no events writes no event, so it
    /// cannot conflict with other writers. Two handles (processes) deciding
    /// the same causation id at the same moment — one deciding no events on
    /// a state that another writer then moves on, the other deciding events
    /// on the moved state — both record their outcome; later repetitions
    /// report the one with events. (Two deciders that both produce events
    /// are settled by the event topic's expected offsets: one commits, the
    /// other finds its outcome when it retries.)
    #[must_use]
    pub fn caused_by(mut self, causation: impl Into<String>) -> Self {
        self.causation = Some(causation.into());
        self
    }

    /// Caused by the message at `offset` of `topic` (causation id
    /// `topic@offset`, see [`caused_by`](Self::caused_by)); also commits the
    /// named cursor `cursor` of that topic past it **in the same
    /// transaction** as the events (or the record of a command without
    /// events), so a consumer crash can neither lose nor repeat the effect.
    #[must_use]
    pub fn caused_by_message(
        mut self,
        topic: &crate::Name,
        offset: u64,
        cursor: Option<&crate::Name>,
    ) -> Self {
        self.causation = Some(format!("{topic}@{offset}"));
        self.cursor =
            cursor.map(|c| crate::storage::CursorCommit::new(topic.clone(), c.clone(), offset + 1));
        self
    }
}

impl<C> From<C> for Execute<C> {
    fn from(command: C) -> Self {
        Self::new(command)
    }
}

/// What an executed command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Executed {
    /// Offset of the first event appended (or found, for a duplicate). For a
    /// command without events: the agent's version it was decided on.
    pub first_offset: u64,
    /// How many events the command produced.
    pub events: usize,
    /// The agent's version (next event offset) after the command.
    pub version: u64,
    /// The causation id was already processed: nothing was appended.
    pub duplicate: bool,
}

/// The record of a caused command that decided no events, on the agent's
/// `.agent/<name>/outcomes` topic, keyed `<causation>#none`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NoEvents {
    /// The agent's version the command was decided on.
    pub(crate) decided_at: u64,
}
