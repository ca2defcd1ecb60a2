//! Agent errors.

use crate::Error;

/// Why [`Agent::execute`](super::Agent::execute) did not apply a command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError<E> {
    /// The state refused the command; nothing was appended.
    #[error("command refused: {0}")]
    Domain(#[source] E),
    /// Other writers kept appending first; gave up after `attempts` tries.
    #[error("agent {agent} kept conflicting with other writers ({attempts} attempts)")]
    Conflict {
        /// The agent.
        agent: String,
        /// How many times the command was tried.
        attempts: u32,
    },
    /// A stored event or snapshot does not decode (and no upcast took it).
    #[error(transparent)]
    Decode(Error),
    /// The storage failed, the agency shut down, or a blocking call was made
    /// where blocking is forbidden.
    #[error(transparent)]
    Storage(Error),
}

impl<E> AgentError<E> {
    /// Whether the state refused the command.
    pub fn is_domain(&self) -> bool {
        matches!(self, Self::Domain(_))
    }

    pub(crate) fn from_core(error: Error) -> Self {
        match error {
            Error::Decode { .. } => Self::Decode(error),
            other => Self::Storage(other),
        }
    }
}
