//! A `recv_async` future dropped before it completes consumes no message:
//! the next receive gets the message the dropped one would have got.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, atomic::Ordering},
    task::{Context, Poll, Waker},
    time::Duration,
};

use omg::{Agency, CommitPolicy, Delivery, Record, RecvError, StartAt, TryRecvError};

mod common;
#[path = "common/gated.rs"]
mod gated;

use common::Wakes;
use gated::gated;

type Received = Result<Record<u64>, RecvError>;

/// Polls `future` as an executor would: again after each wake-up, until a
/// poll leaves the task asleep (a caught-up cursor first wakes itself a few
/// times, then registers to be woken by the next publish).
fn poll_until_asleep(future: &mut Pin<Box<impl Future<Output = Received>>>, wakes: &Arc<Wakes>) {
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    for _ in 0..1000 {
        let before = wakes.count();
        match future.as_mut().poll(&mut cx) {
            Poll::Pending if wakes.count() > before => {}
            Poll::Pending => return,
            Poll::Ready(other) => {
                panic!("nothing was published, got {:?}", other.map(|r| r.offset))
            }
        }
    }
    panic!("a caught-up recv_async keeps waking itself");
}

/// `(offset, value)` of what one poll of `future` returns: it must be ready.
fn poll_ready(future: impl Future<Output = Received>) -> (u64, u64) {
    let mut future = Box::pin(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(Ok(record)) => (record.offset, record.value),
        Poll::Ready(Err(e)) => panic!("{e:?}"),
        Poll::Pending => panic!("a published message was not ready"),
    }
}

/// A `recv_async` future that registered for a wake-up, was woken by a
/// publish and was then dropped without being polled again leaves the
/// message to the next receive, once: to `recv_async` the first time, to
/// `try_recv` the second.
fn woken_then_dropped_loses_nothing(delivery: Delivery) -> omg::Result<()> {
    let agency = Agency::in_memory();
    let topic = agency.topic::<u64>("t", delivery)?;
    let publisher = topic.publisher();
    let mut cursor = topic.cursor(StartAt::Earliest)?;
    let wakes = Arc::new(Wakes::default());

    for (value, next_with_try_recv) in [(10, false), (11, true)] {
        let mut waiting = Box::pin(cursor.recv_async());
        poll_until_asleep(&mut waiting, &wakes);
        let asleep = wakes.count();
        let offset = publisher.publish(value)?;
        assert_eq!(wakes.count(), asleep + 1, "the publish woke the future");
        drop(waiting);

        let next = if next_with_try_recv {
            match cursor.try_recv() {
                Ok(record) => (record.offset, record.value),
                Err(e) => panic!("the woken future's message is gone: {e:?}"),
            }
        } else {
            poll_ready(cursor.recv_async())
        };
        assert_eq!(next, (offset, value), "nothing lost");
        assert!(
            matches!(cursor.try_recv(), Err(TryRecvError::Empty)),
            "nothing duplicated"
        );
    }
    assert_eq!(topic.bounds()?.1, 2);
    agency.shutdown();
    Ok(())
}

#[test]
fn at_most_once_woken_then_dropped() -> omg::Result<()> {
    woken_then_dropped_loses_nothing(Delivery::at_most_once_keep(8))
}

#[test]
fn at_least_once_woken_then_dropped() -> omg::Result<()> {
    woken_then_dropped_loses_nothing(Delivery::at_least_once())
}

#[test]
fn exactly_once_woken_then_dropped() -> omg::Result<()> {
    woken_then_dropped_loses_nothing(Delivery::exactly_once())
}

/// Dropped by a timeout while waiting on an empty topic (polled by the
/// executor, registered, never woken): the messages published afterwards
/// all reach the next receives, in order.
async fn timed_out_wait_loses_nothing(delivery: Delivery) -> omg::Result<()> {
    let agency = Agency::in_memory();
    let topic = agency.topic::<u64>("t", delivery)?;
    let mut cursor = topic.cursor(StartAt::Earliest)?;

    let timed_out = tokio::time::timeout(Duration::from_millis(10), cursor.recv_async()).await;
    assert!(timed_out.is_err(), "nothing was published yet");

    topic.publisher().publish_async(1).await?;
    topic.publisher().publish_async(2).await?;

    let first = cursor.recv_async().await.map(|r| (r.offset, r.value));
    assert!(matches!(first, Ok((0, 1))), "{first:?}");
    let second = cursor.try_recv().map(|r| (r.offset, r.value));
    assert!(matches!(second, Ok((1, 2))), "{second:?}");
    assert!(matches!(cursor.try_recv(), Err(TryRecvError::Empty)));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_once_timed_out() -> omg::Result<()> {
    timed_out_wait_loses_nothing(Delivery::at_most_once_keep(8)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_timed_out() -> omg::Result<()> {
    timed_out_wait_loses_nothing(Delivery::at_least_once()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_timed_out() -> omg::Result<()> {
    timed_out_wait_loses_nothing(Delivery::exactly_once()).await
}

/// Also while a `BeforeProcessing` commit is in flight: the dropped future
/// consumed no message, and the next receive waits for that commit.
#[test]
fn dropped_during_before_processing_commit_consumes_no_message() -> omg::Result<()> {
    let (storage, agency) = gated();
    let topic = agency.topic::<u64>("t", Delivery::exactly_once())?;
    for n in 0..2 {
        topic.publisher().publish(n)?;
    }
    let mut cursor = topic
        .named_cursor("c", StartAt::Earliest)?
        .with_commit_policy(CommitPolicy::BeforeProcessing);
    storage.hold.store(true, Ordering::SeqCst);
    {
        let mut future = Box::pin(cursor.recv_async());
        let polled = future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()));
        assert!(polled.is_pending(), "waits for the commit");
    } // dropped: cancelled
    assert_eq!(
        (cursor.position(), cursor.delivered()),
        (0, 0),
        "nothing taken"
    );
    storage.release();
    assert_eq!(storage.stored("t", "c")?, Some(1), "the commit went on");
    assert_eq!(
        poll_ready(cursor.recv_async()),
        (0, 0),
        "the cancelled recv_async consumed message 0"
    );
    assert_eq!(poll_ready(cursor.recv_async()), (1, 1));
    assert_eq!(storage.stored("t", "c")?, Some(2));
    Ok(())
}
