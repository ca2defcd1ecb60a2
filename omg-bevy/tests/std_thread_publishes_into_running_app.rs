//! A plain std thread publishes into a running app, on an exactly-once and
//! an at-most-once topic, while the app keeps updating: every message
//! arrives, in order, exactly once — and in the frames after it was
//! published. The thread publishes half, waits until the app received that
//! half, then publishes the rest: the second half can only arrive in later
//! frames of the same running app.

mod common;

use std::{sync::mpsc, time::Duration};

use omg::{Agency, Delivery, StartAt};
use omg_bevy::OmgAppExt;

use common::{Frame, Seen, app, collect_received, update_until};

/// Distinct message types: one reader per type.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Score(u32);

#[test]
fn std_thread_publishes_into_running_app() -> Result<(), Box<dyn std::error::Error>> {
    const N: u32 = 500;
    const HALF: u32 = N / 2;
    let agency = Agency::in_memory();
    let durable = agency.topic::<u32>("scores", Delivery::exactly_once())?;
    let ring = agency.topic::<Score>("live", Delivery::at_most_once_keep(N as usize))?;

    let mut app = app(&agency);
    app.add_omg_reader(durable.cursor(StartAt::Latest)?)
        .add_omg_reader(ring.cursor(StartAt::Latest)?);
    collect_received::<u32>(&mut app);
    collect_received::<Score>(&mut app);
    // Frame 1 runs before the thread exists.
    app.update();

    let (durable_pub, ring_pub) = (durable.publisher(), ring.publisher());
    let (go, wait_for_go) = mpsc::channel::<()>();
    let producer = std::thread::spawn(move || -> omg::Result<()> {
        for i in 0..N {
            if i == HALF {
                wait_for_go.recv().expect("the test sends go");
            }
            durable_pub.publish(i)?;
            ring_pub.publish(Score(i))?;
            if i % 50 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        Ok(())
    });

    let received = |n: u32| {
        move |app: &bevy_app::App| {
            app.world().resource::<Seen<u32>>().0.len() == n as usize
                && app.world().resource::<Seen<Score>>().0.len() == n as usize
        }
    };
    update_until(&mut app, Duration::from_secs(20), received(HALF));
    // The first half is in; the rest is published only from now on.
    let half_frame = app.world().resource::<Frame>().0;
    go.send(())?;
    update_until(&mut app, Duration::from_secs(20), received(N));
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
    // Every message arrived in a frame after frame 1, the first half by
    // `half_frame` and the second half after it: across frames of an app
    // that kept updating.
    let frames: Vec<(u64, u32)> = seen.0.iter().map(|(frame, _, v)| (*frame, *v)).collect();
    let live_frames: Vec<(u64, u32)> = live.0.iter().map(|(frame, _, s)| (*frame, s.0)).collect();
    for (frame, value) in frames.into_iter().chain(live_frames) {
        assert!(
            frame > 1,
            "{value} arrived in frame {frame}, before the thread started"
        );
        assert_eq!(
            frame <= half_frame,
            value < HALF,
            "{value} arrived in frame {frame}; the first half was in by frame {half_frame}"
        );
    }
    Ok(())
}
