//! A plain std thread publishes into a running app, on an exactly-once and
//! an at-most-once topic, while the app keeps updating: every message
//! arrives, in order, exactly once.

mod common;

use std::time::Duration;

use omg::{Agency, Delivery, StartAt};
use omg_bevy::OmgAppExt;

use common::{Seen, app, collect_received, update_until};

/// Distinct message types: one reader per type.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Score(u32);

#[test]
fn std_thread_publishes_into_running_app() -> Result<(), Box<dyn std::error::Error>> {
    const N: u32 = 500;
    let agency = Agency::in_memory();
    let durable = agency.topic::<u32>("scores", Delivery::exactly_once())?;
    let ring = agency.topic::<Score>("live", Delivery::at_most_once_keep(N as usize))?;

    let mut app = app(&agency);
    app.add_omg_reader(durable.cursor(StartAt::Latest)?)
        .add_omg_reader(ring.cursor(StartAt::Latest)?);
    collect_received::<u32>(&mut app);
    collect_received::<Score>(&mut app);
    app.update();

    let (durable_pub, ring_pub) = (durable.publisher(), ring.publisher());
    let producer = std::thread::spawn(move || -> omg::Result<()> {
        for i in 0..N {
            durable_pub.publish(i)?;
            ring_pub.publish(Score(i))?;
            if i % 50 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        Ok(())
    });

    let frames = update_until(&mut app, Duration::from_secs(20), |app| {
        app.world().resource::<Seen<u32>>().0.len() == N as usize
            && app.world().resource::<Seen<Score>>().0.len() == N as usize
    });
    producer.join().map_err(|_| "producer panicked")??;
    // A few more frames deliver nothing new.
    for _ in 0..3 {
        app.update();
    }

    let seen = app.world().resource::<Seen<u32>>();
    assert_eq!(seen.values(), (0..N).collect::<Vec<_>>());
    assert!(seen.0.iter().all(|(_, offset, v)| *offset == u64::from(*v)));
    let live = app.world().resource::<Seen<Score>>();
    assert_eq!(live.values(), (0..N).map(Score).collect::<Vec<_>>());
    assert!(frames > 1, "the messages arrived while the app was running");
    Ok(())
}
