//! Snapshots: an agent's encoded state at a version, so rehydration replays
//! only the events after it.

use serde::{Deserialize, Serialize};

use super::AgentState;

/// One stored snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    /// [`AgentState::SNAPSHOT_VERSION`] of the encoder.
    pub(crate) format: u32,
    /// The next event offset the state has not applied.
    pub(crate) next_event: u64,
    /// The postcard-encoded state.
    pub(crate) state: Vec<u8>,
}

impl Snapshot {
    pub(crate) fn of<S: AgentState>(state: &S, next_event: u64) -> Result<Self, postcard::Error> {
        Ok(Self {
            format: S::SNAPSHOT_VERSION,
            next_event,
            state: postcard::to_allocvec(state)?,
        })
    }

    /// The state, if this snapshot was written by the current format and decodes.
    pub(crate) fn restore<S: AgentState>(&self) -> Result<S, String> {
        if self.format != S::SNAPSHOT_VERSION {
            return Err(format!(
                "snapshot format {} is not the current {}",
                self.format,
                S::SNAPSHOT_VERSION
            ));
        }
        postcard::from_bytes(&self.state).map_err(|e| e.to_string())
    }
}
