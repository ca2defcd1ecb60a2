//! When the agency shuts down, a reader reports it once as `ReadFailed` and
//! stops; a publish reports `PublishFailed` with the message given back.

mod common;

use bevy_app::Update;
use bevy_ecs::prelude::*;
use omg::{Agency, Delivery, StartAt};
use omg_bevy::{OmgAppExt, OmgReader, OmgWriter, PublishFailed, ReadFailed, Ticket};

use common::{Frame, app, this_frame};

fn publish_in_frame_two(frame: Res<'_, Frame>, mut out: OmgWriter<'_, u8>) {
    if frame.0 == 2 {
        out.publish(42);
    }
}

#[test]
fn agency_shutdown_is_reported() -> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let topic = agency.topic::<u8>("bytes", Delivery::exactly_once())?;
    let mut app = app(&agency);
    app.add_omg_reader(topic.cursor(StartAt::Earliest)?)
        .add_omg_writer(topic.publisher())
        .add_systems(Update, publish_in_frame_two);
    app.update();

    agency.shutdown();
    app.update();
    let failed = this_frame::<ReadFailed<u8>>(&app);
    assert_eq!(failed.len(), 1);
    assert!(failed[0].error.is_shut_down());
    assert!(app.world().resource::<OmgReader<u8>>().is_closed());

    app.update();
    assert!(this_frame::<ReadFailed<u8>>(&app).is_empty());
    let failed = this_frame::<PublishFailed<u8>>(&app);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].ticket, Ticket(0));
    assert!(failed[0].error.is_shut_down());
    assert_eq!(failed[0].message, Some(42));
    Ok(())
}
