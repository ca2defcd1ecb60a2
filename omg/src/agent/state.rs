//! The [`AgentState`] trait: how commands become events and events become state.

use serde::{Serialize, de::DeserializeOwned};

use crate::Message;

/// The typed state of an agent, rebuilt by applying its events in order.
///
/// `handle` and `apply` must be pure and synchronous: the same events always
/// give the same state, in every process and every mode.
pub trait AgentState: Default + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// What happened; stored forever on the agent's exactly-once topic.
    type Event: Message;
    /// What is asked of the agent.
    type Command: Send + Sync + 'static;
    /// Why a command is refused (a domain error, not a failure).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Folds one event into the state.
    fn apply(&mut self, event: &Self::Event);

    /// Decides which events a command produces, or refuses it.
    ///
    /// # Errors
    /// The domain error refusing the command.
    fn handle(&self, command: &Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    /// Version of the state's snapshot encoding. Bump it when the state's
    /// shape changes: older snapshots are then ignored (full replay).
    const SNAPSHOT_VERSION: u32 = 1;

    /// The name the event topic records for [`Self::Event`], checked when
    /// the agent is opened. Defaults to the Rust type's path; give a stable
    /// name (e.g. `"shop.OrderEvent"`) if the type may move or be replaced
    /// by a new version that upcasts the old one.
    fn event_type_name() -> std::borrow::Cow<'static, str> {
        std::any::type_name::<Self::Event>().into()
    }

    /// Turns an event stored by an older version of [`Self::Event`] into the
    /// current one (upcasting). Called only when `payload` does not decode as
    /// the current type, or decodes leaving bytes over (an older, longer
    /// shape); `None` reports a decode error.
    fn upcast(payload: &[u8]) -> Option<Self::Event> {
        let _ = payload;
        None
    }
}
