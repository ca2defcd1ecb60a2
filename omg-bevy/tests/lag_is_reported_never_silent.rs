//! A reader that falls behind an at-most-once ring is told how many
//! messages it missed, with a `Lagged` message placed before the messages
//! after the gap, and in `OmgReader::missed`.

mod common;

use bevy_app::Update;
use bevy_ecs::prelude::*;
use omg::{Agency, Delivery, StartAt};
use omg_bevy::{Lagged, OmgAppExt, OmgReader, Received};

use common::app;

/// Everything the reader saw, in the order it saw it.
#[derive(Resource, Default, Debug, PartialEq)]
struct Log(Vec<String>);

fn log(
    mut lagged: MessageReader<'_, '_, Lagged<u32>>,
    mut received: MessageReader<'_, '_, Received<u32>>,
    mut log: ResMut<'_, Log>,
) {
    for l in lagged.read() {
        log.0.push(format!("lagged {}", l.missed));
    }
    for r in received.read() {
        log.0.push(format!("{}@{}", r.value, r.offset));
    }
}

#[test]
fn lag_is_reported_never_silent() -> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let topic = agency.topic::<u32>("ticks", Delivery::at_most_once_keep(4))?;

    let mut app = app(&agency);
    app.add_omg_reader(topic.cursor(StartAt::Earliest)?)
        .init_resource::<Log>()
        .add_systems(Update, log);

    for i in 0..10 {
        topic.publisher().publish(i)?;
    }
    app.update();
    assert_eq!(
        app.world().resource::<Log>().0,
        ["lagged 6", "6@6", "7@7", "8@8", "9@9"]
    );
    let reader = app.world().resource::<OmgReader<u32>>();
    assert_eq!((reader.received(), reader.missed()), (4, 6));

    // Falling behind again later is reported again.
    for i in 10..15 {
        topic.publisher().publish(i)?;
    }
    app.update();
    assert_eq!(
        app.world().resource::<Log>().0[5..],
        ["lagged 1", "11@11", "12@12", "13@13", "14@14"]
    );
    let reader = app.world().resource::<OmgReader<u32>>();
    assert_eq!(
        (reader.received(), reader.missed(), reader.position()),
        (8, 7, 15)
    );
    Ok(())
}
