//! A task whose cursor has caught up is re-polled a few times (it wakes
//! itself: the next message usually comes within a few turns of the
//! executor, and a publish that has to wake a sleeping reader costs the
//! publisher a system call), then registers and stays asleep until a
//! publish wakes it: an idle topic costs no CPU.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::{
    sync::Arc,
    task::{Context, Poll, Waker},
};

use omg::{Agency, Cursor, Delivery, Message, StartAt};

mod common;

use common::Wakes;

/// Polls `cursor` as an executor would: again after each wake-up, until a
/// poll leaves the task asleep. Returns how many polls that took.
fn poll_until_asleep<T: Message>(cursor: &mut Cursor<T>, wakes: &Arc<Wakes>) -> usize {
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    let mut polls = 0;
    loop {
        let before = wakes.count();
        polls += 1;
        match cursor.poll_recv(&mut cx) {
            Poll::Pending if wakes.count() > before => {}
            Poll::Pending => return polls,
            Poll::Ready(other) => {
                panic!("nothing was published, got {:?}", other.map(|r| r.offset))
            }
        }
        assert!(polls < 1000, "a caught-up cursor keeps waking itself");
    }
}

fn yields_then_sleeps_until_a_publish(delivery: Delivery) {
    let agency = Agency::in_memory();
    let topic = agency.topic::<u32>("t", delivery).unwrap();
    let mut cursor = topic.cursor(StartAt::Latest).unwrap();
    let wakes = Arc::new(Wakes::default());

    let polls = poll_until_asleep(&mut cursor, &wakes);
    assert_eq!(
        polls, 17,
        "sixteen polls that yield, then one that registers"
    );
    assert_eq!(wakes.count(), 16);

    topic.publisher().publish(7).unwrap();
    assert_eq!(wakes.count(), 17, "the publish woke the sleeping task");
    let waker = Waker::from(wakes.clone());
    match cursor.poll_recv(&mut Context::from_waker(&waker)) {
        Poll::Ready(Ok(record)) => assert_eq!(record.value, 7),
        other => panic!("{other:?}"),
    }

    // Caught up again: the same bounded turns, counted afresh.
    assert_eq!(poll_until_asleep(&mut cursor, &wakes), 17);
    agency.shutdown();
}

#[test]
fn an_at_most_once_reader_yields_then_sleeps() {
    yields_then_sleeps_until_a_publish(Delivery::at_most_once());
}

#[test]
fn an_exactly_once_reader_yields_then_sleeps() {
    yields_then_sleeps_until_a_publish(Delivery::ExactlyOnce);
}
