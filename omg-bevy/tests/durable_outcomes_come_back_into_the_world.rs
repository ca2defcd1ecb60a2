//! The outcome of every durable publish comes back into the World: a
//! `Published` when the storage committed it (polled each frame, however
//! many frames that takes), a `PublishFailed` when it failed — with the
//! message given back when the storage never took it.

mod common;

use bevy_app::Update;
use bevy_ecs::prelude::*;
use omg::{Agency, Delivery, StartAt, StorageError, StorageErrorKind};
use omg_bevy::{OmgAppExt, OmgOutbox, OmgWriter, PublishFailed, Published, Ticket};

use common::{Frame, GatedStorage, Seen, app, collect_received, this_frame};

/// What to publish in which frame.
#[derive(Resource, Default)]
struct Script(Vec<(u64, String)>);

fn publish_script(frame: Res<'_, Frame>, script: Res<'_, Script>, mut out: OmgWriter<'_, String>) {
    for (f, text) in &script.0 {
        if *f == frame.0 {
            out.publish(text.clone());
        }
    }
}

#[test]
fn commits_are_reported_when_the_storage_completes_them() -> Result<(), Box<dyn std::error::Error>>
{
    let (agency, storage) = GatedStorage::agency();
    let topic = agency.topic::<String>("log", Delivery::exactly_once())?;
    let mut app = app(&agency);
    app.add_omg_writer(topic.publisher())
        .add_omg_reader(topic.cursor(StartAt::Earliest)?)
        .insert_resource(Script(vec![
            (1, "x".into()),
            (1, "y".into()),
            (1, "z".into()),
        ]))
        .add_systems(Update, publish_script);
    collect_received::<String>(&mut app);

    storage.hold();
    app.update();
    assert_eq!(app.world().resource::<OmgOutbox<String>>().in_flight(), 3);
    for _ in 0..3 {
        app.update();
        assert!(this_frame::<Published<String>>(&app).is_empty());
        assert!(app.world().resource::<Seen<String>>().0.is_empty());
    }

    // The storage commits between frames 4 and 5.
    assert_eq!(storage.release(), 3);
    app.update();
    let published: Vec<(Ticket, u64)> = this_frame::<Published<String>>(&app)
        .iter()
        .map(|p| (p.ticket, p.offset))
        .collect();
    assert_eq!(published, [(Ticket(0), 0), (Ticket(1), 1), (Ticket(2), 2)]);
    assert_eq!(app.world().resource::<OmgOutbox<String>>().in_flight(), 0);
    // The reader of the same topic saw them in that same frame.
    let seen = app.world().resource::<Seen<String>>();
    assert_eq!(seen.values(), ["x", "y", "z"]);
    assert_eq!(seen.in_frame(5), 3);
    Ok(())
}

#[test]
fn failures_are_reported_with_the_message_when_it_was_not_taken()
-> Result<(), Box<dyn std::error::Error>> {
    let (agency, storage) = {
        let storage = std::sync::Arc::new(GatedStorage::default());
        let agency = Agency::builder()
            .storage(storage.clone())
            .max_message_size(16)
            .build();
        (agency, storage)
    };
    let topic = agency.topic::<String>("log", Delivery::exactly_once())?;
    let mut app = app(&agency);
    app.add_omg_writer(topic.publisher())
        .insert_resource(Script(vec![
            (1, "fits".into()),
            (1, "far too long for sixteen bytes".into()),
            (2, "lost in I/O".into()),
        ]))
        .add_systems(Update, publish_script);

    app.update();
    // Frame 2's publish is failed by the storage through its completion.
    storage.fail_next(omg::Error::Storage(StorageError::new(
        StorageErrorKind::Io,
        "disk on fire",
    )));
    app.update();
    let published = this_frame::<Published<String>>(&app);
    assert_eq!(published.len(), 1);
    assert_eq!((published[0].ticket, published[0].offset), (Ticket(0), 0));
    let failed = this_frame::<PublishFailed<String>>(&app);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].ticket, Ticket(1));
    assert!(matches!(
        failed[0].error,
        omg::Error::TooLarge { max: 16, .. }
    ));
    assert_eq!(
        failed[0].message.as_deref(),
        Some("far too long for sixteen bytes")
    );

    app.update();
    let failed = this_frame::<PublishFailed<String>>(&app);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].ticket, Ticket(2));
    assert!(matches!(&failed[0].error, omg::Error::Storage(e) if e.kind() == StorageErrorKind::Io));
    assert_eq!(failed[0].message, None);
    assert_eq!(topic.bounds()?, (0, 1));
    Ok(())
}
