//! A message committed by another thread before frame N's read system runs
//! is in `Messages` for frame N's `Update` systems — and for a `PreUpdate`
//! system ordered after `OmgSystems::Read` — not one frame later.

mod common;

use bevy_app::PreUpdate;
use bevy_ecs::prelude::*;
use omg::{Agency, Delivery, StartAt};
use omg_bevy::{OmgAppExt, OmgSystems, Received};

use common::{Frame, Seen, app, collect_received};

#[derive(Resource, Default)]
struct EarlySeen(Vec<(u64, u64)>);

fn early(
    frame: Res<'_, Frame>,
    mut messages: MessageReader<'_, '_, Received<u64>>,
    mut seen: ResMut<'_, EarlySeen>,
) {
    for m in messages.read() {
        seen.0.push((frame.0, m.value));
    }
}

#[test]
fn committed_before_read_is_seen_the_same_frame() -> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let durable = agency.topic::<u64>("orders", Delivery::exactly_once())?;

    let mut app = app(&agency);
    app.add_omg_reader(durable.cursor(StartAt::Earliest)?)
        .init_resource::<EarlySeen>()
        .add_systems(PreUpdate, early.after(OmgSystems::Read));
    collect_received::<u64>(&mut app);

    for frame in 1..=5u64 {
        // Committed on another thread; `join` orders it before the update.
        let publisher = durable.publisher();
        std::thread::spawn(move || publisher.publish(frame * 100))
            .join()
            .map_err(|_| "publisher panicked")??;
        app.update();
        let seen = app.world().resource::<Seen<u64>>();
        assert_eq!(seen.0.last(), Some(&(frame, frame - 1, frame * 100)));
        assert_eq!(seen.in_frame(frame), 1);
    }
    assert_eq!(
        app.world().resource::<EarlySeen>().0,
        [(1, 100), (2, 200), (3, 300), (4, 400), (5, 500)]
    );
    Ok(())
}
