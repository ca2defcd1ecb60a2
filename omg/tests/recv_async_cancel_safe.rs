//! A `recv_async` future dropped before it completes consumes no message:
//! the next receive gets the message the dropped one would have got.

use std::time::Duration;

use omg::{Agency, Delivery, StartAt};

async fn dropped_wait_loses_nothing(delivery: Delivery, name: &str) -> omg::Result<()> {
    let agency = Agency::in_memory();
    let topic = agency.topic::<u64>(name, delivery)?;
    let mut cursor = topic.cursor(StartAt::Earliest)?;

    // Dropped while waiting on an empty topic.
    let timed_out = tokio::time::timeout(Duration::from_millis(10), cursor.recv_async()).await;
    assert!(timed_out.is_err(), "nothing was published yet");

    topic.publisher().publish_async(1).await?;
    topic.publisher().publish_async(2).await?;

    // Dropped after being polled once with messages available but before
    // being awaited to completion: create it, never poll it, drop it.
    drop(cursor.recv_async());

    // Dropped in a select! that another branch wins.
    tokio::select! {
        biased;
        () = std::future::ready(()) => {}
        _ = cursor.recv_async() => panic!("the ready branch is polled first"),
    }

    let first = cursor
        .recv_async()
        .await
        .map_err(|e| omg::Error::Unsupported {
            what: "recv_async",
            why: if matches!(e, omg::RecvError::Lagged(_)) {
                "lagged"
            } else {
                "failed"
            },
        })?;
    assert_eq!((first.offset, first.value), (0, 1));
    let second = cursor.try_recv().ok().map(|r| r.value);
    assert_eq!(second, Some(2));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_once() -> omg::Result<()> {
    dropped_wait_loses_nothing(Delivery::at_most_once_keep(8), "amo").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once() -> omg::Result<()> {
    dropped_wait_loses_nothing(Delivery::at_least_once(), "alo").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once() -> omg::Result<()> {
    dropped_wait_loses_nothing(Delivery::exactly_once(), "eo").await
}
