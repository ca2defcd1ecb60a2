//! # omg-bevy — omg topics and agents inside a Bevy app
//!
//! Systems read omg topics as Bevy [`Message`](bevy_ecs::message::Message)s,
//! publish to them, and see agent state as a resource — without ever
//! blocking a frame. Built on `bevy_app` and `bevy_ecs` only: it runs
//! headless and in tests driven by `App::update()`.
//!
//! - [`OmgPlugin`] puts the [`Agency`](omg::Agency) into the World
//!   ([`OmgAgency`]).
//! - [`OmgAppExt::add_omg_reader`] drains a cursor into [`Received<T>`]
//!   messages every frame, with a per-frame budget; gaps arrive as
//!   [`Lagged<T>`], errors as [`ReadFailed<T>`].
//! - [`OmgAppExt::add_omg_writer`] lets systems publish through the
//!   [`OmgWriter<T>`] parameter with `try_publish`; a full write queue keeps
//!   the message for the next frame; outcomes arrive as [`Published<T>`] /
//!   [`PublishFailed<T>`].
//! - [`OmgAppExt::add_omg_agent`] mirrors an agent's state into
//!   [`AgentMirror<S>`] and sends commands through [`AgentCommands<S>`].
//!
//! ```
//! use bevy_app::{App, Update};
//! use bevy_ecs::prelude::*;
//! use omg::{Agency, Delivery, StartAt};
//! use omg_bevy::{OmgAppExt, OmgPlugin, OmgWriter, Published, Received};
//!
//! #[derive(Resource, Default)]
//! struct Seen(Vec<String>);
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let agency = Agency::in_memory();
//! let chat = agency.topic::<String>("chat", Delivery::exactly_once())?;
//! let lengths = agency.topic::<u32>("lengths", Delivery::exactly_once())?;
//!
//! let mut app = App::new();
//! app.add_plugins(OmgPlugin::new(agency.clone()))
//!     .add_omg_reader(chat.cursor(StartAt::Earliest)?)
//!     .add_omg_writer(lengths.publisher())
//!     .init_resource::<Seen>()
//!     .add_systems(
//!         Update,
//!         |mut lines: MessageReader<Received<String>>,
//!          mut seen: ResMut<Seen>,
//!          mut out: OmgWriter<u32>| {
//!             for line in lines.read() {
//!                 seen.0.push(line.value.clone());
//!                 out.publish(line.len() as u32);
//!             }
//!         },
//!     );
//!
//! // Committed before the frame's read system runs: seen in that frame.
//! chat.publisher().publish("hello".to_string())?;
//! app.update();
//! assert_eq!(app.world().resource::<Seen>().0, ["hello"]);
//!
//! // The system's publish is committed; any cursor reads it.
//! let mut reader = lengths.cursor(StartAt::Earliest)?;
//! assert_eq!(reader.try_recv()?.value, 5);
//!
//! // Its outcome comes back into the World at the start of the next frame.
//! app.update();
//! let published = app.world().resource::<Messages<Published<u32>>>();
//! let offsets: Vec<u64> = published.iter_current_update_messages().map(|p| p.offset).collect();
//! assert_eq!(offsets, [0]);
//! # Ok(()) }
//! ```
//!
//! ## Schedules
//! Everything omg-bevy does per frame happens in [`PreUpdate`](bevy_app::PreUpdate),
//! in two chained sets ([`OmgSystems`]):
//!
//! 1. `OmgSystems::Flush` — messages refused by a full write queue are
//!    published again (in order); receipts of durable publishes and agent
//!    commands are polled; their outcomes are written as messages (a
//!    command's failure at once).
//! 2. `OmgSystems::Read` — every reader's cursor is drained with
//!    `try_recv` into `Messages`, up to its budget; agent mirrors apply new
//!    events, and a committed command's `CommandExecuted` is written once its
//!    mirror holds the command's events.
//!
//! Publishing itself happens where a system calls [`OmgWriter::publish`]:
//! the message is handed to the topic at once (`try_publish`).
//!
//! **Visibility:** a message committed by another thread before frame N's
//! `OmgSystems::Read` runs — for instance one whose blocking `publish`
//! returned before `App::update` was called — is in `Messages` for frame
//! N's `Update`, `PostUpdate` and `Last` systems, unless the reader's budget
//! was used up by older messages (the rest then follows in the next frames,
//! in order). A `PreUpdate` system sees it if ordered
//! `.after(OmgSystems::Read)`.
//!
//! ## Message lifetime
//! Bevy keeps a message for two updates and then drops it silently. omg
//! messages are not subject to that while they wait: they stay in the omg
//! cursor until the read system moves them into `Messages`, at most the
//! budget per frame, so a backlog never ages out of Bevy's buffers. A
//! reader that runs **every frame** after `OmgSystems::Read` therefore sees
//! every message exactly once.
//!
//! A reader that does **not** run every frame — a run condition that is
//! sometimes false, a `FixedUpdate` system in a frame without a fixed step,
//! a system of an inactive state — misses whatever Bevy dropped in between;
//! that is Bevy's rule for all messages. Such a system should own a
//! [`Cursor`](omg::Cursor) (in a resource or a `Local`) and call
//! `try_recv` when it runs: the cursor keeps its position however long the
//! system sleeps, and any gap (an at-most-once ring overwrote old messages)
//! is reported as `Lagged`, never silently.
//!
//! ## Named cursors
//! A named cursor given to [`OmgAppExt::add_omg_reader`] keeps
//! at-least-once processing across restarts: the plugin commits its
//! position one frame after reading it (at the start of the next
//! `OmgSystems::Read`, without waiting), once every system has had its
//! frame to see the messages. A message read in the frame a process dies in
//! is delivered again after the restart. A cursor with
//! `CommitPolicy::BeforeProcessing` keeps committing as it reads.
//!
//! ## Lag and errors
//! A reader never skips silently: each gap is one [`Lagged<T>`] message
//! (and [`OmgReader::missed`] counts them). A failed read is a
//! [`ReadFailed<T>`]; after a terminal error (agency shut down, topic
//! deleted) the reader stops ([`OmgReader::is_closed`]).
//!
//! ## Blocking
//! [`OmgPlugin`] registers an omg blocking detector backed by a thread-local
//! flag that is set while Bevy's `Main` schedule runs (a system before
//! `Main::run_main` sets it, one after clears it). So inside any system,
//! blocking omg calls — `publish` on a durable topic, `recv`,
//! `Receipt::wait`, `Agent::execute` — return
//! [`omg::Error::BlockingForbidden`] instead of stalling the frame; between
//! updates, the thread driving the app may block. Limits and the
//! `multi_threaded` case: [`forbid_blocking_on_this_thread`].

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod agent;
mod app_ext;
mod blocking;
mod plugin;
mod reader;
mod writer;

pub use agent::{
    AgentCommands, AgentMirror, AgentOutbox, CommandExecuted, CommandFailed, MirrorFailed,
};
pub use app_ext::OmgAppExt;
pub use blocking::{forbid_blocking_on_this_thread, is_blocking_forbidden};
pub use plugin::{OmgAgency, OmgPlugin, OmgSystems};
pub use reader::{DEFAULT_READ_BUDGET, Lagged, OmgReader, ReadFailed, Received};
pub use writer::{OmgOutbox, OmgWriter, PublishFailed, Published, Ticket};

/// The types most apps need.
pub mod prelude {
    pub use crate::{
        AgentCommands, AgentMirror, CommandExecuted, CommandFailed, Lagged, OmgAgency, OmgAppExt,
        OmgPlugin, OmgSystems, OmgWriter, PublishFailed, Published, ReadFailed, Received,
    };
}
