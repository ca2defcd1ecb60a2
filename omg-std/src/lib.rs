//! # omg-std — omg handlers and agents on plain std threads
//!
//! For sync programs (CLIs, tools, services without async): a [`Host`] runs
//! each [`Handler`] on its own std thread. A handler reads several topics —
//! of different message types and delivery classes — and waits on all of
//! them at once without spinning; it may also tick at a fixed interval.
//! Inside callbacks the blocking omg API is the natural one:
//! [`Publisher::publish`](omg::Publisher::publish) and
//! [`Agent::execute`](omg::agent::Agent::execute) just work.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use omg::{Agency, Delivery, StartAt};
//! use omg_std::{Handler, Host};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let agency = Agency::in_memory();
//! let words = agency.topic::<String>("words", Delivery::exactly_once())?;
//! let lengths = agency.topic::<usize>("lengths", Delivery::at_most_once_keep(16))?;
//! let host = Host::new(&agency);
//!
//! // Stage 1: words → lengths. Its named cursor is committed by the host
//! // only past messages whose callback returned Ok.
//! let out = lengths.publisher();
//! host.spawn_handler(
//!     Handler::new("measure", move || out.clone())
//!         .subscribe(words.named_cursor("measure", StartAt::Earliest)?, |out, e| {
//!             out.publish(e.value().len())?;
//!             Ok(())
//!         }),
//! )?;
//!
//! // Stage 2: collect the lengths.
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let sink = seen.clone();
//! let collect = host.spawn_handler(
//!     Handler::new("collect", move || sink.clone())
//!         .subscribe(lengths.cursor(StartAt::Earliest)?, |seen, e| {
//!             seen.lock().map_err(|_| "poisoned")?.push(e.into_value());
//!             Ok(())
//!         }),
//! )?;
//!
//! let publisher = words.publisher();
//! for word in ["omg", "std", "threads"] {
//!     publisher.publish(word.to_string())?;
//! }
//! while collect.stats().handled < 3 {
//!     std::thread::yield_now();
//! }
//! host.shutdown()?; // finish, commit, join
//! assert_eq!(*seen.lock().map_err(|_| "poisoned")?, vec![3, 3, 7]);
//! # Ok(()) }
//! ```
//!
//! ## Waiting on many topics
//! Every cursor of a handler is polled with
//! [`Cursor::poll_recv`](omg::Cursor::poll_recv) and one
//! [`Waker`](std::task::Waker) that unparks the handler's thread. When
//! nothing is ready, the thread looks again a few times (yielding its time
//! slice in between: the next message of a busy pipeline is usually a few
//! microseconds away), then parks until a message arrives, its next tick is
//! due, or the host shuts down: an idle host uses no CPU. Per topic,
//! messages arrive in offset order; between topics, a busy one yields to the
//! others every 64 messages.
//!
//! Ticks ([`Handler::tick`]) run on the handler's thread between messages,
//! at a fixed rate; a tick that comes due while a callback runs waits for
//! it.
//!
//! ## Failures
//! A callback that panics (caught with `catch_unwind`) or returns an error
//! is a failure. The host applies the handler's [`RestartPolicy`]: stop, or
//! back off and build the state again with the handler's factory. Other
//! handlers keep running. The message in hand on a **durable** topic is
//! delivered again after the restart, with [`Envelope::attempt`] counting
//! the deliveries; on an **at-most-once** topic it is dropped (that class
//! promises at most one delivery) and counted in [`HandlerStats::dropped`].
//! [`HandlerHandle::stats`] reports handled messages, failures, restarts and
//! redeliveries.
//!
//! ## Commits and shutdown
//! Named cursors are switched to [`CommitPolicy::Manual`](omg::CommitPolicy::Manual):
//! the host commits them past handled messages when the cursor runs dry,
//! every 1024 messages, and at shutdown — never past a message whose
//! callback failed. [`HostHandle::shutdown`] lets each handler finish the
//! message in hand, commits and joins; nothing handled is delivered again
//! and nothing unhandled is lost. A process that crashes instead delivers
//! again what was handled but not yet committed (at-least-once). For
//! exactly-once effects, commit the cursor in the same transaction as the
//! effect, e.g. with
//! [`Execute::caused_by_message`](omg::agent::Execute::caused_by_message).
//!
//! ## Ctrl-C
//! omg-std installs no signal handler. Call [`HostHandle::request_shutdown`]
//! from whatever handles signals in your program (for instance the `ctrlc`
//! crate), and [`HostHandle::wait`] in `main`.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod agent;
mod envelope;
mod handler;
mod host;
mod policy;
mod stats;
mod worker;

pub use envelope::Envelope;
pub use handler::{Handler, HandlerError, HandlerResult};
pub use host::{Host, HostBuilder, HostError, HostHandle, ShutdownFailure};
pub use policy::{DEFAULT_INITIAL_BACKOFF, DEFAULT_MAX_BACKOFF, RestartPolicy};
pub use stats::{HandlerHandle, HandlerStats, HandlerStatus};

/// Compile-time proof that the handles cross threads.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    const fn send<T: Send>() {}
    send_sync::<HostHandle>();
    send_sync::<HandlerHandle>();
    send_sync::<Host>();
    send::<Handler<std::rc::Rc<()>>>();
};
