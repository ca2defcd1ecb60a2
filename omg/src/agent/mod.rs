//! Agents: named participants whose typed state is saved by event sourcing.
//!
//! An agent's state is rebuilt from its own exactly-once event topic
//! `.agent/<name>/events` (and its latest snapshot, on
//! `.agent/<name>/snapshots`); a command with a causation id that decided no
//! events is remembered on `.agent/<name>/outcomes`, so a repeat returns
//! that outcome instead of deciding again. Deciding stays pure and synchronous — [`AgentState::handle`]
//! turns a command into events, [`AgentState::apply`] folds an event into the
//! state — so it runs the same from threads, tasks and frames.
//!
//! ```
//! use omg::{Agency, agent::{AgentState, Execute}};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Default, Clone, Serialize, Deserialize)]
//! struct Counter { value: i64 }
//!
//! #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
//! enum Event { Added(i64) }
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("counter would overflow")]
//! struct Overflow;
//!
//! impl AgentState for Counter {
//!     type Event = Event;
//!     type Command = i64;
//!     type Error = Overflow;
//!     fn apply(&mut self, Event::Added(n): &Event) { self.value += n; }
//!     fn handle(&self, n: &i64) -> Result<Vec<Event>, Overflow> {
//!         self.value.checked_add(*n).ok_or(Overflow)?;
//!         Ok(vec![Event::Added(*n)])
//!     }
//! }
//!
//! let agency = Agency::in_memory();
//! let counter = agency.agent::<Counter>("counter")?;
//! counter.execute(5)?;
//! // A command caused by something already processed is not applied twice.
//! counter.execute(Execute::new(3).caused_by("invoice-7"))?;
//! let again = counter.execute(Execute::new(3).caused_by("invoice-7"))?;
//! assert!(again.duplicate);
//! assert_eq!(counter.state()?.value, 8);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod execute;
mod handle;
mod projection;
mod snapshot;
mod state;
pub mod testing;

pub use error::AgentError;
pub use execute::{Execute, Executed};
pub use handle::{Agent, AgentOptions, DEFAULT_MAX_ATTEMPTS};
pub use projection::{Progress, Projection, ProjectionBuilder, ReadModel};
pub use state::AgentState;
