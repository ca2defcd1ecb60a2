//! An at-most-once ring reports exactly how many messages a slow reader
//! missed, on every reading flavour, then continues at the oldest kept one.

use std::{future::poll_fn, pin::Pin};

use futures_core::Stream;
use omg::{Agency, Delivery, RecvError, StartAt, Topic, TryRecvError};

/// Publishes 0..10 into a keep-3 ring: a reader at 0 missed 7.
fn filled(agency: &Agency, name: &str) -> omg::Result<Topic<u64>> {
    let topic = agency.topic::<u64>(name, Delivery::at_most_once_keep(3))?;
    Ok(topic)
}

fn publish_ten(topic: &Topic<u64>) -> omg::Result<()> {
    for n in 0..10 {
        topic.publisher().publish(n)?;
    }
    Ok(())
}

#[test]
fn recv_reports_lag() -> omg::Result<()> {
    let agency = Agency::in_memory();
    let topic = filled(&agency, "recv")?;
    let mut cursor = topic.cursor(StartAt::Earliest)?;
    publish_ten(&topic)?;
    assert!(matches!(cursor.recv(), Err(RecvError::Lagged(7))));
    for n in 7..10 {
        assert_eq!(cursor.recv().ok().map(|r| r.value), Some(n));
    }
    Ok(())
}

#[test]
fn try_recv_reports_lag() -> omg::Result<()> {
    let agency = Agency::in_memory();
    let topic = filled(&agency, "try")?;
    let mut cursor = topic.cursor(StartAt::Earliest)?;
    publish_ten(&topic)?;
    assert!(matches!(cursor.try_recv(), Err(TryRecvError::Lagged(7))));
    for n in 7..10 {
        assert_eq!(cursor.try_recv().ok().map(|r| r.value), Some(n));
    }
    assert!(matches!(cursor.try_recv(), Err(TryRecvError::Empty)));
    // A second overrun is reported again, with its own count.
    for n in 10..15 {
        topic.publisher().publish(n)?;
    }
    assert!(matches!(cursor.try_recv(), Err(TryRecvError::Lagged(2))));
    assert_eq!(cursor.try_recv().ok().map(|r| r.offset), Some(12));
    Ok(())
}

#[test]
fn iterator_reports_lag() -> omg::Result<()> {
    let agency = Agency::in_memory();
    let topic = filled(&agency, "iter")?;
    let cursor = topic.cursor(StartAt::Earliest)?;
    publish_ten(&topic)?;
    let seen: Vec<Result<u64, u64>> = cursor
        .take(4)
        .map(|item| match item {
            Ok(record) => Ok(record.value),
            Err(RecvError::Lagged(n)) => Err(n),
            Err(other) => panic!("unexpected {other}"),
        })
        .collect();
    assert_eq!(seen, [Err(7), Ok(7), Ok(8), Ok(9)]);
    Ok(())
}

#[tokio::test]
async fn recv_async_reports_lag() -> omg::Result<()> {
    let agency = Agency::in_memory();
    let topic = filled(&agency, "async")?;
    let mut cursor = topic.cursor(StartAt::Earliest)?;
    publish_ten(&topic)?;
    assert!(matches!(
        cursor.recv_async().await,
        Err(RecvError::Lagged(7))
    ));
    for n in 7..10 {
        assert_eq!(cursor.recv_async().await.ok().map(|r| r.value), Some(n));
    }
    Ok(())
}

#[tokio::test]
async fn stream_reports_lag() -> omg::Result<()> {
    let agency = Agency::in_memory();
    let topic = filled(&agency, "stream")?;
    let mut cursor = topic.cursor(StartAt::Earliest)?;
    publish_ten(&topic)?;
    let mut seen = Vec::new();
    for _ in 0..4 {
        let item = poll_fn(|cx| Pin::new(&mut cursor).poll_next(cx)).await;
        seen.push(match item {
            Some(Ok(record)) => Ok(record.value),
            Some(Err(RecvError::Lagged(n))) => Err(n),
            other => panic!("unexpected {other:?}"),
        });
    }
    assert_eq!(seen, [Err(7), Ok(7), Ok(8), Ok(9)]);
    Ok(())
}
