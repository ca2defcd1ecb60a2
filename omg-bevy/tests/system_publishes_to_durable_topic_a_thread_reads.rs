//! A system publishes to a durable topic with `OmgWriter`; a plain std
//! thread consuming a named cursor with blocking `recv` reads every message
//! in order, and each publish's outcome comes back into the World as a
//! `Published` message carrying the message's offset.

mod common;

use std::time::Duration;

use bevy_app::Update;
use bevy_ecs::prelude::*;
use omg::{Agency, Delivery, StartAt};
use omg_bevy::{OmgAppExt, OmgWriter, Published, Ticket};

use common::{Frame, app, update_until};

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Shot {
    frame: u64,
    n: u32,
}

/// Tickets and offsets seen in `Published<Shot>`.
#[derive(Resource, Default)]
struct Outcomes(Vec<(Ticket, u64)>);

fn shoot(frame: Res<'_, Frame>, mut shots: OmgWriter<'_, Shot>) {
    if frame.0 <= 10 {
        for n in 0..3 {
            shots.publish(Shot { frame: frame.0, n });
        }
    }
}

fn outcomes(mut published: MessageReader<'_, '_, Published<Shot>>, mut out: ResMut<'_, Outcomes>) {
    for p in published.read() {
        out.0.push((p.ticket, p.offset));
    }
}

#[test]
fn system_publishes_to_durable_topic_a_thread_reads() -> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let topic = agency.topic::<Shot>("shots", Delivery::at_least_once())?;

    // The consumer: a plain thread, blocking on a named cursor.
    let mut cursor = topic.named_cursor("scoreboard", StartAt::Earliest)?;
    let consumer = std::thread::spawn(move || -> Result<Vec<(u64, Shot)>, omg::RecvError> {
        let mut got = Vec::new();
        while got.len() < 30 {
            let record = cursor.recv()?;
            got.push((record.offset, record.value));
        }
        cursor.commit()?;
        Ok(got)
    });

    let mut app = app(&agency);
    app.add_omg_writer(topic.publisher())
        .init_resource::<Outcomes>()
        .add_systems(Update, (shoot, outcomes));
    update_until(&mut app, Duration::from_secs(10), |app| {
        app.world().resource::<Outcomes>().0.len() == 30
    });

    let got = consumer.join().map_err(|_| "consumer panicked")??;
    let expected: Vec<(u64, Shot)> = (1..=10u64)
        .flat_map(|frame| (0..3).map(move |n| Shot { frame, n }))
        .enumerate()
        .map(|(i, shot)| (i as u64, shot))
        .collect();
    assert_eq!(got, expected);
    // Ticket i was published at offset i, and reported once.
    let outcomes = &app.world().resource::<Outcomes>().0;
    assert_eq!(
        *outcomes,
        (0..30u64).map(|i| (Ticket(i), i)).collect::<Vec<_>>()
    );
    assert_eq!(
        topic
            .named_cursor("scoreboard", StartAt::Earliest)?
            .position(),
        30
    );
    Ok(())
}
