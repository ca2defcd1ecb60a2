//! A reader that falls behind an at-most-once ring is told how many
//! messages it missed: a `Lagged` message in the frame the gap is found —
//! the frame that delivers the messages after the gap — whose count is
//! exactly the jump from the reader's position to the first offset
//! delivered after it, and in `OmgReader::missed`.
//!
//! `Lagged` and `Received` are two Bevy message types: a system cannot see
//! an order between them, only which frame each came in. So the frames are
//! logged apart, and the gap is checked by the offsets.

mod common;

use bevy_app::Update;
use bevy_ecs::prelude::*;
use omg::{Agency, Delivery, StartAt};
use omg_bevy::{Lagged, OmgAppExt, OmgReader, Received};

use common::{Frame, app};

/// What the reader got in one frame.
#[derive(Debug, PartialEq)]
struct FrameLog {
    frame: u64,
    /// Each `Lagged::missed`.
    lagged: Vec<u64>,
    /// Each `Received` as (value, offset).
    received: Vec<(u32, u64)>,
}

/// Every frame in which the reader got something.
#[derive(Resource, Default, Debug)]
struct Log(Vec<FrameLog>);

fn log(
    frame: Res<'_, Frame>,
    mut lagged: MessageReader<'_, '_, Lagged<u32>>,
    mut received: MessageReader<'_, '_, Received<u32>>,
    mut log: ResMut<'_, Log>,
) {
    let entry = FrameLog {
        frame: frame.0,
        lagged: lagged.read().map(|l| l.missed).collect(),
        received: received.read().map(|r| (r.value, r.offset)).collect(),
    };
    if !entry.lagged.is_empty() || !entry.received.is_empty() {
        log.0.push(entry);
    }
}

/// The reader's position and counters: (position, received, missed).
fn counters(app: &bevy_app::App) -> (u64, u64, u64) {
    let reader = app.world().resource::<OmgReader<u32>>();
    (reader.position(), reader.received(), reader.missed())
}

/// A frame that started at position `from` and found a gap: what it reports
/// missed is exactly the jump to the first offset it delivered, after which
/// the offsets are consecutive.
fn assert_gap_accounted(from: u64, entry: &FrameLog) {
    let missed: u64 = entry.lagged.iter().sum();
    let offsets: Vec<u64> = entry.received.iter().map(|(_, offset)| *offset).collect();
    let first = from + missed;
    assert_eq!(
        offsets,
        (first..first + offsets.len() as u64).collect::<Vec<_>>(),
        "frame {}: from {from}, {missed} missed",
        entry.frame
    );
}

#[test]
fn lag_is_reported_never_silent() -> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let topic = agency.topic::<u32>("ticks", Delivery::at_most_once_keep(4))?;

    let mut app = app(&agency);
    app.add_omg_reader(topic.cursor(StartAt::Earliest)?)
        .init_resource::<Log>()
        .add_systems(Update, log);

    // The ring keeps 4 of 10: 0..=5 are gone before the first frame.
    for i in 0..10 {
        topic.publisher().publish(i)?;
    }
    let before = counters(&app);
    assert_eq!(before, (0, 0, 0));
    app.update();
    assert_eq!(
        app.world().resource::<Log>().0,
        [FrameLog {
            frame: 1,
            lagged: vec![6],
            received: vec![(6, 6), (7, 7), (8, 8), (9, 9)],
        }]
    );
    assert_gap_accounted(before.0, &app.world().resource::<Log>().0[0]);
    assert_eq!(counters(&app), (10, 4, 6));

    // A frame with nothing new reports nothing.
    app.update();
    assert_eq!(app.world().resource::<Log>().0.len(), 1);

    // Falling behind again later is reported again, in that frame: 10 was
    // overwritten, 11..=14 are delivered.
    for i in 10..15 {
        topic.publisher().publish(i)?;
    }
    let before = counters(&app);
    app.update();
    assert_eq!(
        app.world().resource::<Log>().0[1..],
        [FrameLog {
            frame: 3,
            lagged: vec![1],
            received: vec![(11, 11), (12, 12), (13, 13), (14, 14)],
        }]
    );
    assert_gap_accounted(before.0, &app.world().resource::<Log>().0[1]);
    assert_eq!(counters(&app), (15, 8, 7));
    Ok(())
}
