//! A projection checkpoints only what moved, and each of its effects is
//! committed once, whichever mix of `catch_up`, `catch_up_async` and
//! `try_catch_up` drives it — a cancelled `catch_up_async` included.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::{future::Future, sync::atomic::Ordering};

use omg::{
    Agency, Delivery,
    agent::Projection,
    storage::{Effect, ReadBuf, stored_name},
};
use serde::{Deserialize, Serialize};

#[path = "common/gated.rs"]
mod gated;

use gated::{Tag, gated};

fn head(agency: &Agency, topic: &str) -> omg::Result<u64> {
    let mut buf = ReadBuf::new();
    Ok(agency
        .storage()
        .read(&stored_name(topic)?, u64::MAX, 0, &mut buf)?
        .next_offset)
}

/// A checkpoint stores the model and the source positions; a catch-up that
/// applied nothing has nothing to checkpoint (the checkpoint topic is
/// exactly-once and kept forever: one copy of the model per idle call would
/// grow without bound in a frame loop).
#[test]
fn a_catch_up_that_applied_nothing_writes_no_checkpoint() -> Result<(), Box<dyn std::error::Error>>
{
    let agency = Agency::in_memory();
    let sales = agency.topic::<u32>("sales", Delivery::exactly_once())?;
    sales.publisher().publish(30)?;
    let mut revenue = Projection::<u64>::builder(&agency, "revenue")?
        .source(&sales, |total, sale| *total += u64::from(sale.value))?
        .build()?;
    assert_eq!(revenue.catch_up()?.applied, 1);
    assert_eq!(head(&agency, ".projection/revenue/model")?, 1);
    for _ in 0..3 {
        assert_eq!(revenue.catch_up()?.applied, 0);
        assert_eq!(revenue.try_catch_up()?.applied, 0);
    }
    assert_eq!(
        head(&agency, ".projection/revenue/model")?,
        1,
        "six idle catch-ups must not store six more copies of the model"
    );
    Ok(())
}

fn rows_projection(agency: &Agency, rows: &omg::Topic<u32>) -> omg::Result<Projection<Rows>> {
    Projection::<Rows>::builder(agency, "rows-table")?
        .source(rows, |model: &mut Rows, row| {
            model.count += 1;
            model.unsaved.push(row.value);
        })?
        .effects(|model: &mut Rows| {
            model
                .unsaved
                .drain(..)
                .map(|t| Effect::new(Tag(t)))
                .collect()
        })
        .build()
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Rows {
    count: u64,
    #[serde(skip)]
    unsaved: Vec<u32>,
}

/// A projection's effects commit together with its model and positions —
/// once: a `catch_up` (e.g. at exit) after a `try_catch_up` (frame loop)
/// settles the checkpoint in flight first instead of carrying its effects
/// again.
#[test]
fn each_projection_effect_is_committed_once_when_catch_up_follows_try_catch_up()
-> Result<(), Box<dyn std::error::Error>> {
    let (storage, agency) = gated();
    let rows = agency.topic::<u32>("rows", Delivery::exactly_once())?;
    let publisher = rows.publisher();
    let mut projection = rows_projection(&agency, &rows)?;

    publisher.publish(1)?;
    projection.try_catch_up()?;
    assert_eq!(storage.committed_tags(), [1]);

    publisher.publish(2)?;
    projection.catch_up()?;
    assert_eq!(
        storage.committed_tags(),
        [1, 2],
        "row 1's effect was committed by the first checkpoint already"
    );

    publisher.publish(3)?;
    let later =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| projection.try_catch_up()));
    assert!(later.is_ok(), "try_catch_up panicked");
    assert_eq!(storage.committed_tags(), [1, 2, 3]);
    Ok(())
}

/// Async calls are cancel-safe (DESIGN §3): a `catch_up_async` dropped
/// while its checkpoint is in the storage's queue (a `select!` with a
/// timeout or a shutdown signal) leaves the checkpoint in flight; the next
/// catch-up settles it and does not commit its effects again.
#[test]
fn a_cancelled_catch_up_async_does_not_commit_its_effects_twice()
-> Result<(), Box<dyn std::error::Error>> {
    let (storage, agency) = gated();
    let rows = agency.topic::<u32>("rows", Delivery::exactly_once())?;
    rows.publisher().publish(1)?;
    let mut projection = rows_projection(&agency, &rows)?;

    storage.hold.store(true, Ordering::SeqCst);
    {
        let mut future = std::pin::pin!(projection.catch_up_async());
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(
            future.as_mut().poll(&mut cx).is_pending(),
            "checkpoint held"
        );
        // Dropped here: the checkpoint stays submitted.
    }
    storage.release();
    assert_eq!(storage.committed_tags(), [1]);

    rows.publisher().publish(2)?;
    projection.catch_up()?;
    assert_eq!(
        storage.committed_tags(),
        [1, 2],
        "row 1's effect was committed by the cancelled call's checkpoint"
    );
    Ok(())
}
