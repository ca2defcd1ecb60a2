//! # omg-tokio — omg agents and subscribers as kameo actors
//!
//! This crate hosts omg on tokio with [kameo](https://docs.rs/kameo) 0.22:
//!
//! - [`subscribe`] feeds a topic into an actor's mailbox as
//!   [`TopicMessage<T>`]. The bounded mailbox is the backpressure: a slow
//!   actor slows the cursor and nothing is dropped. A named cursor commits
//!   only past messages whose handler replied.
//! - [`AgentActor<S>`] runs an omg agent as an actor: commands are kameo
//!   messages ([`Execute`](omg::agent::Execute)), state is read with
//!   [`GetState`] and [`Query`], events are published with the async API.
//! - [`Host`] supervises those actors (a panicking handler restarts its
//!   actor, and its subscription delivers the failed message again) and
//!   shuts everything down in order, flushing pending writes.
//! - [`install`] makes blocking omg calls inside the runtime fail with
//!   [`omg::Error::BlockingForbidden`] instead of stalling an executor.
//!
//! ```
//! use kameo::{Actor, message::{Context, Message}};
//! use omg::{Agency, Delivery, StartAt, agent::{AgentState, Execute}};
//! use omg_tokio::{GetState, Host, TopicMessage};
//! use serde::{Deserialize, Serialize};
//!
//! // An event-sourced counter.
//! #[derive(Default, Clone, Debug, Serialize, Deserialize)]
//! struct Counter { total: u64 }
//!
//! #[derive(Clone, Debug, Serialize, Deserialize)]
//! struct Added(u64);
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("too much")]
//! struct TooMuch;
//!
//! impl AgentState for Counter {
//!     type Event = Added;
//!     type Command = u64;
//!     type Error = TooMuch;
//!     fn apply(&mut self, Added(n): &Added) { self.total += n; }
//!     fn handle(&self, n: &u64) -> Result<Vec<Added>, TooMuch> {
//!         if *n > 100 { Err(TooMuch) } else { Ok(vec![Added(*n)]) }
//!     }
//! }
//!
//! // A plain actor that records what it sees on a topic.
//! #[derive(Actor, Default, Clone)]
//! struct Audit { seen: Vec<u64> }
//!
//! impl Message<TopicMessage<u64>> for Audit {
//!     type Reply = ();
//!     async fn handle(&mut self, m: TopicMessage<u64>, _: &mut Context<Self, ()>) {
//!         self.seen.push(*m.value());
//!     }
//! }
//!
//! impl Message<&'static str> for Audit {
//!     type Reply = usize;
//!     async fn handle(&mut self, _: &'static str, _: &mut Context<Self, usize>) -> usize {
//!         self.seen.len()
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let agency = Agency::in_memory();
//! let host = Host::new(&agency)?;
//!
//! // Commands through the mailbox; the reply is the outcome.
//! let counter = host.spawn_agent::<Counter>("counter").await?;
//! counter.ask(Execute::new(5)).await?;
//! assert!(counter.ask(Execute::new(500)).await.is_err()); // refused
//! assert_eq!(counter.ask(GetState).await?.total, 5);
//!
//! // A topic delivered into an actor's mailbox, committed after handling.
//! let topic = agency.topic::<u64>("amounts", Delivery::exactly_once())?;
//! for n in 1..=3 {
//!     topic.publisher().publish_async(n).await?;
//! }
//! let audit = host.supervise::<Audit>(Audit::default()).await;
//! let feed = host.subscribe(&audit, topic.named_cursor("audit", StartAt::Earliest)?)?;
//! while feed.stats().processed < 3 {
//!     tokio::task::yield_now().await;
//! }
//! assert_eq!(audit.ask("count").await?, 3);
//!
//! // Subscriptions commit, actors drain their mailboxes, writes are flushed.
//! host.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! ## Delivery into a mailbox
//! See [`subscribe_with`] for the steps. Each message is sent with `ask`;
//! up to [`SubscribeOptions::in_flight`] replies may be pending, and a named
//! cursor commits when nothing is in flight (so only handled messages are
//! committed). A gap in the topic reaches the actor as
//! [`TopicMessage::missed`].
//!
//! ## Failures
//! A handler that panics drops its reply: the subscription lets the
//! messages in flight settle, rewinds to the failed message and delivers
//! again from there ([`TopicMessage::redelivered`]). Under a [`Host`],
//! kameo restarts the actor with the same mailbox, so the new instance gets
//! the redelivery; nothing is lost on durable topics. Messages that were
//! already in the mailbox behind the failed one are handled first (see the
//! [`subscribe_with`] notes on order; `in_flight(1)` keeps strict order). A
//! handler that *returns* an error through `ask` ends the subscription with
//! [`SubscriptionError::Handler`], its message not committed. An actor that
//! stops for good ends its subscription with
//! [`SubscriptionEnd::ActorStopped`], its cursor committed up to the first
//! message not handled.
//!
//! ## Blocking
//! Nothing in this crate blocks a thread: every wait is an `.await`.

mod agent;
mod host;
mod install;
mod message;
mod subscription;

pub use agent::{AgentActor, AgentSpec, GetState, Handled, Query};
pub use host::{DEFAULT_MAILBOX, Host, HostOptions};
pub use install::install;
pub use message::TopicMessage;
pub use subscription::{
    DEFAULT_COMMIT_EVERY, DEFAULT_IN_FLIGHT, DEFAULT_MAX_REDELIVERIES, SubscribeOptions,
    Subscription, SubscriptionEnd, SubscriptionError, SubscriptionStats, subscribe, subscribe_with,
};

/// Compile-time proof that the public handles cross threads.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Host>();
    send_sync::<Subscription>();
    send_sync::<TopicMessage<String>>();
};
