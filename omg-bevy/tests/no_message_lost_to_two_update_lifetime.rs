//! Bevy drops a message two updates after it was written. omg messages wait
//! in the cursor instead: a backlog far larger than one frame's budget is
//! delivered over many frames, and a reader that runs every frame sees all
//! of it, exactly once, in order.
//!
//! A reader that does not run every frame loses what Bevy dropped while it
//! slept — exactly the messages of the frames it skipped — as the crate
//! docs say; the same reader holding its own omg `Cursor` loses nothing.

mod common;

use bevy_app::Update;
use bevy_ecs::prelude::*;
use omg::{Agency, Cursor, Delivery, StartAt};
use omg_bevy::{OmgAppExt, OmgReader, Received};

use common::{Frame, Seen, app, collect_received};

/// What the every-third-frame system saw through `MessageReader`.
#[derive(Resource, Default)]
struct Sleepy(Vec<u64>);

/// The every-third-frame system's own cursor, and what it read.
#[derive(Resource)]
struct OwnCursor {
    cursor: std::sync::Mutex<Cursor<u64>>,
    seen: Vec<u64>,
    lagged: u64,
}

fn every_third(frame: Res<'_, Frame>) -> bool {
    frame.0.is_multiple_of(3)
}

fn sleepy_reader(mut messages: MessageReader<'_, '_, Received<u64>>, mut seen: ResMut<'_, Sleepy>) {
    seen.0.extend(messages.read().map(|m| m.value));
}

fn sleepy_own_cursor(mut own: ResMut<'_, OwnCursor>) {
    let own = &mut *own;
    let cursor = own
        .cursor
        .get_mut()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        match cursor.try_recv() {
            Ok(record) => own.seen.push(record.value),
            Err(omg::TryRecvError::Lagged(n)) => own.lagged += n,
            Err(omg::TryRecvError::Empty) => break,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn no_message_lost_to_two_update_lifetime() -> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let topic = agency.topic::<u64>("bursts", Delivery::at_most_once_keep(100))?;

    let mut app = app(&agency);
    app.add_omg_reader(topic.cursor(StartAt::Latest)?)
        .init_resource::<Sleepy>()
        .insert_resource(OwnCursor {
            cursor: std::sync::Mutex::new(topic.cursor(StartAt::Latest)?),
            seen: Vec::new(),
            lagged: 0,
        })
        .add_systems(
            Update,
            (sleepy_reader, sleepy_own_cursor).run_if(every_third),
        );
    collect_received::<u64>(&mut app);
    app.world_mut()
        .resource_mut::<OmgReader<u64>>()
        .set_budget(4);

    // 30 messages at once: 4 per frame, so they reach Bevy over 8 frames,
    // long after two updates.
    for i in 0..30 {
        topic.publisher().publish(i)?;
    }
    for _ in 0..12 {
        app.update();
    }

    let seen = app.world().resource::<Seen<u64>>();
    assert_eq!(seen.values(), (0..30).collect::<Vec<_>>());
    let per_frame: Vec<usize> = (1..=12).map(|f| seen.in_frame(f)).collect();
    assert_eq!(per_frame, [4, 4, 4, 4, 4, 4, 4, 2, 0, 0, 0, 0]);
    assert_eq!(app.world().resource::<OmgReader<u64>>().received(), 30);
    assert_eq!(app.world().resource::<OmgReader<u64>>().missed(), 0);

    // Runs in frames 3, 6, 9, 12 and sees what was written in that frame
    // and the one before: frames 2-3, 5-6, 8. Frames 1, 4, 7 were dropped
    // by Bevy before it ran.
    let sleepy = &app.world().resource::<Sleepy>().0;
    let expected: Vec<u64> = (4..12).chain(16..24).chain(28..30).collect();
    assert_eq!(*sleepy, expected);

    // The same schedule with its own cursor: everything, nothing lagged.
    let own = app.world().resource::<OwnCursor>();
    assert_eq!(own.seen, (0..30).collect::<Vec<_>>());
    assert_eq!(own.lagged, 0);
    Ok(())
}
