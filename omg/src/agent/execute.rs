//! A command with its causation, and what executing it produced.

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
    /// outcome and appends nothing.
    #[must_use]
    pub fn caused_by(mut self, causation: impl Into<String>) -> Self {
        self.causation = Some(causation.into());
        self
    }

    /// Caused by the message at `offset` of `topic`; also commits the named
    /// cursor `cursor` of that topic past it **in the same transaction** as the
    /// events, so a consumer crash can neither lose nor repeat the effect.
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
    /// Offset of the first event appended (or found, for a duplicate).
    pub first_offset: u64,
    /// How many events the command produced.
    pub events: usize,
    /// The agent's version (next event offset) after the command.
    pub version: u64,
    /// The causation id was already processed: nothing was appended.
    pub duplicate: bool,
}
