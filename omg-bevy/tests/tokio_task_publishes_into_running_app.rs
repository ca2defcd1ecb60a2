//! A tokio task publishes with `publish_async` into a running app: every
//! message arrives, in order, exactly once; nothing blocks either side.

mod common;

use std::time::Duration;

use omg::{Agency, Delivery, StartAt};
use omg_bevy::OmgAppExt;

use common::{Seen, app, collect_received, update_until};

#[test]
fn tokio_task_publishes_into_running_app() -> Result<(), Box<dyn std::error::Error>> {
    const N: u64 = 300;
    let agency = Agency::in_memory();
    let topic = agency.topic::<u64>("events", Delivery::exactly_once())?;

    let mut app = app(&agency);
    app.add_omg_reader(topic.cursor(StartAt::Earliest)?);
    collect_received::<u64>(&mut app);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()?;
    let publisher = topic.publisher();
    let task = runtime.spawn(async move {
        let mut offsets = Vec::new();
        for i in 0..N {
            offsets.push(publisher.publish_async(i * 10).await?);
            if i % 25 == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        Ok::<_, omg::Error>(offsets)
    });

    update_until(&mut app, Duration::from_secs(20), |app| {
        app.world().resource::<Seen<u64>>().0.len() == N as usize
    });
    let offsets = runtime.block_on(task)??;
    app.update();

    assert_eq!(offsets, (0..N).collect::<Vec<_>>());
    let seen = app.world().resource::<Seen<u64>>();
    assert_eq!(seen.values(), (0..N).map(|i| i * 10).collect::<Vec<_>>());
    assert_eq!(
        seen.0
            .iter()
            .map(|(_, offset, _)| *offset)
            .collect::<Vec<_>>(),
        offsets
    );
    Ok(())
}
