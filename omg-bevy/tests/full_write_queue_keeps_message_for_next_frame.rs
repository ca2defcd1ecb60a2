//! When the storage's write queue is full, `OmgWriter::publish` keeps the
//! message and publishes it in a later frame, in publish order; messages
//! published meanwhile wait behind it. Nothing is lost or reordered.

mod common;

use bevy_app::Update;
use bevy_ecs::prelude::*;
use omg::{Delivery, StartAt};
use omg_bevy::{OmgAppExt, OmgOutbox, OmgWriter, Published, Ticket};

use common::{Frame, GatedStorage, app, this_frame};

fn publish_in_frame_one(frame: Res<'_, Frame>, mut out: OmgWriter<'_, String>) {
    if frame.0 == 1 {
        for word in ["a", "b", "c"] {
            out.publish(word.to_string());
        }
    }
}

#[test]
fn full_write_queue_keeps_message_for_next_frame() -> Result<(), Box<dyn std::error::Error>> {
    let (agency, storage) = GatedStorage::agency();
    let topic = agency.topic::<String>("words", Delivery::exactly_once())?;

    let mut app = app(&agency);
    app.add_omg_writer(topic.publisher())
        .add_systems(Update, publish_in_frame_one);

    // Frame 1: "a" is refused (full), "b" and "c" queue behind it.
    storage.refuse_next(2);
    app.update();
    assert_eq!(app.world().resource::<OmgOutbox<String>>().waiting(), 3);
    assert_eq!(topic.bounds()?, (0, 0));

    // Frame 2: the retry of "a" is refused again; all three still wait.
    app.update();
    assert_eq!(app.world().resource::<OmgOutbox<String>>().waiting(), 3);
    assert!(this_frame::<Published<String>>(&app).is_empty());

    // Frame 3: room again; all three go out, in order, reported this frame.
    app.update();
    assert_eq!(app.world().resource::<OmgOutbox<String>>().waiting(), 0);
    let published: Vec<(Ticket, u64)> = this_frame::<Published<String>>(&app)
        .iter()
        .map(|p| (p.ticket, p.offset))
        .collect();
    assert_eq!(published, [(Ticket(0), 0), (Ticket(1), 1), (Ticket(2), 2)]);

    let mut cursor = topic.cursor(StartAt::Earliest)?;
    let words: Vec<String> = (0..3)
        .map(|_| cursor.try_recv().map(|r| r.value))
        .collect::<Result<_, _>>()?;
    assert_eq!(words, ["a", "b", "c"]);
    assert!(matches!(cursor.try_recv(), Err(omg::TryRecvError::Empty)));
    Ok(())
}
