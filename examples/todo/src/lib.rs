//! The todo-list domain shared by omg's demos (the CLI on std threads, the
//! web app on tokio, the egui app): one [`TodoList`] agent whose state is
//! rebuilt from its events, so every process sharing the database sees the
//! same list.
//!
//! ```
//! use todo::{Command, TodoList};
//!
//! let agency = omg::Agency::in_memory();
//! let list = agency.agent::<TodoList>(todo::AGENT)?;
//! list.execute(Command::add("Buy milk"))?;
//! list.execute(Command::Complete { id: 1 })?;
//! let state = list.state()?;
//! assert!(state.get(1).is_some_and(|t| t.done));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod command;
mod event;
mod state;

pub use command::{Command, TodoError};
pub use event::Event;
pub use state::{Todo, TodoList};

/// The agent name every demo uses for the shared list.
pub const AGENT: &str = "todo-list";

/// The longest title accepted, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
