//! # omg — one vocabulary for sync, async and non-blocking code
//!
//! omg lets std threads, async tasks (tokio, kameo) and frame loops (Bevy,
//! egui) publish, subscribe and keep state through one set of types:
//!
//! - an [`Agency`] owns a type-erased [`Storage`](storage::Storage) and
//!   declares **topics**;
//! - a [`Topic<T>`] is a Kafka-like log of `T` in one of three delivery
//!   classes ([`Delivery`]): at-most-once (a ring in memory), at-least-once
//!   (stored, trimmed after `retain`), exactly-once (stored forever, with
//!   idempotent publishing);
//! - a [`Publisher<T>`] appends; a [`Cursor<T>`] reads from its own position.
//!
//! Every call comes in three flavours named like flume's: `publish` /
//! `publish_async` / `try_publish`, `recv` / `recv_async` / `try_recv`.
//!
//! ```
//! use omg::{Agency, Delivery, StartAt, RecvError};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let agency = Agency::in_memory();
//! let orders = agency.topic::<String>("orders", Delivery::exactly_once())?;
//! let publisher = orders.publisher();
//!
//! // An idempotency key makes a retried publish harmless.
//! let first = publisher.publish_keyed("order-1", "espresso".to_string())?;
//! let again = publisher.publish_keyed("order-1", "espresso".to_string())?;
//! assert_eq!(first, again);
//!
//! // A named cursor resumes where it last committed.
//! let mut cursor = orders.named_cursor("barista", StartAt::Earliest)?;
//! let record = cursor.recv()?;
//! assert_eq!((record.offset, record.value.as_str()), (0, "espresso"));
//! cursor.commit()?;
//!
//! // An at-most-once ring reports what a slow reader missed.
//! let ticks = agency.topic::<u64>("ticks", Delivery::at_most_once_keep(2))?;
//! let mut slow = ticks.cursor(StartAt::Earliest)?;
//! for t in 0..5 {
//!     ticks.publisher().publish(t)?;
//! }
//! assert!(matches!(slow.recv(), Err(RecvError::Lagged(3))));
//! assert_eq!(slow.recv()?.value, 3);
//! # Ok(()) }
//! ```
//!
//! ## Ordering
//! Every message of a topic gets a dense offset (0, 1, 2, …) when it is
//! committed; all readers see the topic in that one order.
//!
//! ## Lagging
//! A reader never skips silently: a gap (ring overwritten, retention trimmed)
//! is reported as `Lagged(n)` on every flavour, then reading resumes at the
//! oldest message still there.
//!
//! ## Durability
//! On a durable topic, `Ok` from `publish` means committed with the storage's
//! durability; readers never see a message before it is committed.
//! Exactly-once is at-least-once delivery plus idempotent effects: keys make
//! publishing idempotent, and a consumer whose effects live in the same
//! storage commits its cursor in the same [`WriteBatch`](storage::WriteBatch)
//! as those effects. For effects outside the storage, omg offers
//! at-least-once plus the key.
//!
//! ## Closing
//! [`Agency::shutdown`] and [`Agency::delete_topic`] wake every blocked
//! reader with [`Error::ShutDown`] / [`Error::Deleted`].
//!
//! ## Blocking where it must not
//! Bridges register a [`BlockingDetector`]; blocking calls then fail with
//! [`Error::BlockingForbidden`] instead of stalling an executor or a frame.

#![cfg_attr(test, allow(clippy::unwrap_used))]
#![cfg_attr(
    loom,
    allow(
        dead_code,
        unused_imports,
        reason = "under loom only the modules the models need are built"
    )
)]

mod encode;
mod error;
mod head;
mod life;
mod name;
mod record;
mod ring;
mod signal;
mod sync;
mod timestamp;

#[cfg(not(loom))]
mod agency;
#[cfg(not(loom))]
pub mod agent;
#[cfg(not(loom))]
mod blocking;
#[cfg(not(loom))]
mod common;
#[cfg(not(loom))]
mod cursor;
#[cfg(not(loom))]
mod delivery;
#[cfg(not(loom))]
mod durable;
#[cfg(not(loom))]
mod publisher;
#[cfg(not(loom))]
mod receipt;
#[cfg(not(loom))]
mod stats;
#[cfg(not(loom))]
pub mod storage;
#[cfg(all(feature = "testkit", not(loom)))]
pub mod testkit;
#[cfg(not(loom))]
mod topic;

pub use error::{
    Error, RecvError, Result, StorageError, StorageErrorKind, TryPublishError, TryPublishFailure,
    TryRecvError,
};
pub use name::{MAX_NAME_LEN, Name};
pub use record::{Message, Record};
pub use timestamp::Timestamp;

#[cfg(not(loom))]
pub use {
    agency::{Agency, AgencyBuilder, DEFAULT_MAX_MESSAGE_SIZE},
    blocking::{BlockingDetector, register_blocking_detector},
    common::CommonState,
    cursor::{CommitPolicy, Cursor, StartAt},
    delivery::{DEFAULT_RETAIN, Delivery, DeliveryClass},
    publisher::Publisher,
    receipt::Receipt,
    stats::TopicStats,
    storage::{IdempotencyKey, MAX_KEY_LEN},
    topic::Topic,
};

/// Compile-time proof that the public handles cross threads.
#[cfg(not(loom))]
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Agency>();
    send_sync::<Topic<String>>();
    send_sync::<Publisher<String>>();
    // Sync too: Bevy keeps cursors and receipts in resources.
    send_sync::<Cursor<String>>();
    send_sync::<Receipt>();
    send_sync::<storage::Completion>();
    send_sync::<Error>();
};
