//! Inside a frame, blocking omg calls return `BlockingForbidden` instead of
//! stalling it — in startup and update systems alike — while non-blocking
//! calls work; between updates the driving thread may block again.

mod common;

use std::time::Duration;

use bevy_app::{Startup, Update};
use bevy_ecs::prelude::*;
use omg::{Agency, Cursor, Delivery, Publisher, StartAt};

use common::app;

#[derive(Resource)]
struct Handles {
    durable: Publisher<u32>,
    ring: Publisher<u32>,
    cursor: std::sync::Mutex<Cursor<u32>>,
}

/// (call, outcome) pairs as text.
#[derive(Resource, Default)]
struct Outcomes(Vec<String>);

fn describe<T>(call: &str, result: Result<T, String>) -> String {
    match result {
        Ok(_) => format!("{call}: ok"),
        Err(e) => format!("{call}: {e}"),
    }
}

fn try_everything(mut handles: ResMut<'_, Handles>, mut out: ResMut<'_, Outcomes>) {
    assert!(omg_bevy::is_blocking_forbidden());
    let publish = handles.durable.publish(1).map_err(|e| e.to_string());
    out.0.push(describe("publish durable", publish));
    let ring = handles.ring.publish(2).map_err(|e| e.to_string());
    out.0.push(describe("publish ring", ring));
    let try_publish = handles.durable.try_publish(3).map_err(|e| e.to_string());
    out.0.push(describe("try_publish durable", try_publish));
    let cursor = handles
        .cursor
        .get_mut()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let recv = cursor
        .recv_timeout(Duration::from_millis(1))
        .map_err(|e| e.to_string());
    out.0.push(describe("recv_timeout", recv));
}

#[test]
fn blocking_call_in_a_system_is_refused() -> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let durable = agency.topic::<u32>("durable", Delivery::exactly_once())?;
    let ring = agency.topic::<u32>("ring", Delivery::at_most_once())?;

    let mut app = app(&agency);
    app.insert_resource(Handles {
        durable: durable.publisher(),
        ring: ring.publisher(),
        cursor: std::sync::Mutex::new(durable.cursor(StartAt::Earliest)?),
    })
    .init_resource::<Outcomes>()
    .add_systems(Startup, try_everything)
    .add_systems(Update, try_everything);

    assert!(!omg_bevy::is_blocking_forbidden());
    app.update();
    assert!(!omg_bevy::is_blocking_forbidden());

    let refused = |call: &str, method: &str| {
        format!(
            "{call}: blocking call {method} inside a Bevy frame (omg-bevy): \
             use the `_async` or `try_` flavour instead"
        )
    };
    let round = [
        refused("publish durable", "Publisher::publish"),
        "publish ring: ok".to_string(),
        "try_publish durable: ok".to_string(),
        refused("recv_timeout", "Cursor::recv_timeout"),
    ];
    let expected: Vec<String> = round.iter().chain(round.iter()).cloned().collect();
    assert_eq!(app.world().resource::<Outcomes>().0, expected);

    // Between updates, this thread may block.
    assert_eq!(durable.publisher().publish(4)?, 2);
    let mut cursor = durable.cursor(StartAt::Earliest)?;
    let values: Vec<u32> = (0..3)
        .map(|_| cursor.recv().map(|r| r.value))
        .collect::<Result<_, _>>()?;
    assert_eq!(values, [3, 3, 4]);
    Ok(())
}
