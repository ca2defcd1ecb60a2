//! A cursor's `Iterator` and `Stream` end (`None`) when the agency shuts
//! down, after handing out everything delivered before.

use std::{future::poll_fn, pin::Pin, thread, time::Duration};

use futures_core::Stream;
use omg::{Agency, Delivery, StartAt};

#[test]
fn iterator_ends_on_shutdown() -> omg::Result<()> {
    for (i, delivery) in [Delivery::at_most_once_keep(4), Delivery::exactly_once()]
        .into_iter()
        .enumerate()
    {
        let agency = Agency::in_memory();
        let topic = agency.topic::<u64>(&format!("it{i}"), delivery)?;
        let cursor = topic.cursor(StartAt::Earliest)?;
        topic.publisher().publish(1)?;
        topic.publisher().publish(2)?;
        let reader = thread::spawn(move || {
            cursor
                .map(|item| item.map(|r| r.value).map_err(|e| e.to_string()))
                .collect::<Vec<_>>()
        });
        thread::sleep(Duration::from_millis(20));
        agency.shutdown();
        let seen = reader.join().map_err(|_| omg::Error::ShutDown)?;
        assert_eq!(seen, [Ok(1), Ok(2)], "{delivery}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_ends_on_shutdown() -> omg::Result<()> {
    for (i, delivery) in [Delivery::at_most_once_keep(4), Delivery::exactly_once()]
        .into_iter()
        .enumerate()
    {
        let agency = Agency::in_memory();
        let topic = agency.topic::<u64>(&format!("st{i}"), delivery)?;
        let mut cursor = topic.cursor(StartAt::Earliest)?;
        topic.publisher().publish_async(1).await?;
        let reader = tokio::spawn(async move {
            let mut seen = Vec::new();
            while let Some(item) = poll_fn(|cx| Pin::new(&mut cursor).poll_next(cx)).await {
                seen.push(item.map(|r| r.value).map_err(|e| e.to_string()));
            }
            seen
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        agency.shutdown();
        let seen = reader.await.map_err(|_| omg::Error::ShutDown)?;
        assert_eq!(seen, [Ok(1)], "{delivery}");
    }
    Ok(())
}
