//! The individual checks of [`run_all`](super::run_all).

use std::{sync::Arc, thread, time::Duration};

use super::{Harness, Place, model};
use crate::{
    Agency, CommitPolicy, Cursor, Delivery, Error, Name, RecvError, StartAt, Timestamp,
    TryRecvError,
    storage::{Append, CursorCommit, Storage, TopicSpec, TopicWatcher, WriteBatch, stored_name},
};

/// A check: its name and its body.
pub(super) type Check = (&'static str, fn(&dyn Harness, &Place));

/// Every check, in the order [`run_all`](super::run_all) runs them.
pub(super) const ALL: &[Check] = &[
    ("ordering_and_dense_offsets", ordering_and_dense_offsets),
    ("read_committed", read_committed),
    ("lag_reporting", lag_reporting),
    ("named_cursor_resume", named_cursor_resume),
    ("idempotency_keys", idempotency_keys),
    ("expected_offset_conflict", expected_offset_conflict),
    ("commit_with_appends", commit_with_appends),
    ("start_positions", start_positions),
    ("deletion", deletion),
    ("listing", listing),
    ("topic_mismatch", topic_mismatch),
    ("shutdown_wakes_readers", shutdown_wakes_readers),
    ("inline_logs", super::inline::inline_logs),
    ("model_random_sequences", model::random_sequences),
];

/// Both durable classes.
pub(super) const DURABLE: [Delivery; 2] = [Delivery::at_least_once(), Delivery::exactly_once()];

pub(super) fn agency(harness: &dyn Harness, place: &Place) -> Agency {
    Agency::builder().storage(harness.open(place)).build()
}

fn name(s: &str) -> Name {
    Name::new(s).expect("testkit: valid name")
}

fn ordering_and_dense_offsets(harness: &dyn Harness, place: &Place) {
    let agency = agency(harness, place);
    for (i, delivery) in DURABLE.into_iter().enumerate() {
        let topic = agency
            .topic::<u64>(&format!("order{i}"), delivery)
            .expect("declare");
        let publisher = topic.publisher();
        for n in 0..20u64 {
            assert_eq!(
                publisher.publish(n * 10).expect("publish"),
                n,
                "dense offsets"
            );
        }
        let mut cursor = topic.cursor(StartAt::Earliest).expect("cursor");
        for n in 0..20u64 {
            let record = cursor.recv().expect("recv");
            assert_eq!((record.offset, record.value), (n, n * 10), "publish order");
        }
        assert!(matches!(cursor.try_recv(), Err(TryRecvError::Empty)));
        assert_eq!(topic.bounds().expect("bounds"), (0, 20));
    }
    agency.shutdown();
}

/// The next record `cursor` has without waiting, as (offset, value).
fn try_next(cursor: &mut Cursor<u64>) -> Option<(u64, u64)> {
    match cursor.try_recv() {
        Ok(record) => Some((record.offset, record.value)),
        Err(TryRecvError::Empty) => None,
        Err(other) => panic!("unexpected {other:?}"),
    }
}

/// Reads never return uncommitted records. Checked on every run, whatever
/// the timing: a write that completes `Ok` is visible at once afterwards
/// (watchers are told before completions), with the offset it completed
/// with; a batch that fails is never visible, neither while it is in flight
/// nor after. While a write is in flight (a backend that completes inline
/// has no such moment), the cursor and the storage are read on every turn.
fn read_committed(harness: &dyn Harness, place: &Place) {
    let storage = harness.open(place);
    let agency = Agency::builder().storage(Arc::clone(&storage)).build();
    for (i, delivery) in DURABLE.into_iter().enumerate() {
        let topic = agency
            .topic::<u64>(&format!("rc{i}"), delivery)
            .expect("declare");
        let elsewhere = agency
            .topic::<u64>(&format!("rc-elsewhere{i}"), delivery)
            .expect("declare");
        let mut cursor = topic.cursor(StartAt::Earliest).expect("cursor");
        let mut out = crate::storage::ReadBuf::new();

        // A write that succeeds: whatever is seen before it completes is
        // that write, and once it completed it is seen without waiting.
        let mut receipt = topic.publisher().try_publish(7).expect("try_publish");
        let mut seen = None;
        let offset = loop {
            if let Some(result) = receipt.try_result() {
                break result.expect("committed");
            }
            if seen.is_none() {
                seen = try_next(&mut cursor);
            }
            thread::yield_now();
        };
        assert_eq!(offset, 0);
        let seen = seen.or_else(|| try_next(&mut cursor));
        assert_eq!(
            seen,
            Some((0, 7)),
            "a write that completed Ok is visible at once, at its offset"
        );
        assert_eq!(try_next(&mut cursor), None, "seen once");

        // A batch that fails: its first append is written before its second
        // conflicts, and must never be read.
        let mut failing = WriteBatch::new();
        failing
            .push_append(Append::new(topic.name().clone(), payload(8)))
            .push_append(Append::new(elsewhere.name().clone(), payload(9)).expecting(5));
        let mut completion = storage
            .submit(failing, crate::storage::Admission::Queue)
            .map_err(|_| "submit refused")
            .expect("submit");
        let outcome = loop {
            // Taken first: the reads below are of a batch in flight unless
            // it completed already.
            let done = completion.try_take();
            assert_eq!(try_next(&mut cursor), None, "a failing batch was seen");
            storage.read(topic.name(), 1, 10, &mut out).expect("read");
            assert!(
                out.is_empty(),
                "a record of a failing batch was read at offset {:?}",
                out.get(0).map(|r| r.offset)
            );
            if let Some(outcome) = done {
                break outcome;
            }
            thread::yield_now();
        };
        match outcome {
            Err(Error::Conflict {
                topic: t,
                expected,
                actual,
            }) => assert_eq!((t, expected, actual), (elsewhere.name().clone(), 5, 0)),
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!(topic.bounds().expect("bounds"), (0, 1));
        let info = storage.read(topic.name(), 0, 10, &mut out).expect("read");
        assert_eq!((out.len(), info.next_offset), (1, 1), "{info:?}");

        // The failed batch took no offset: the next write gets offset 1.
        assert_eq!(topic.publisher().publish(10).expect("publish"), 1);
        assert_eq!(try_next(&mut cursor), Some((1, 10)));
    }
    agency.shutdown();
}

fn lag_reporting(harness: &dyn Harness, place: &Place) {
    let storage = harness.open(place);
    let agency = Agency::builder().storage(Arc::clone(&storage)).build();
    let topic = agency
        .topic::<u64>(
            "lag",
            Delivery::at_least_once_retain(Duration::from_millis(1)),
        )
        .expect("declare");
    let publisher = topic.publisher();
    for n in 0..5 {
        publisher.publish(n).expect("publish");
    }
    // A cursor that has fetched nothing yet: what it may still deliver from
    // its own buffer is not a loss, so the check keeps the buffer empty.
    let mut cursor = topic.cursor(StartAt::Offset(2)).expect("cursor");
    thread::sleep(Duration::from_millis(20));
    let removed = storage.trim_expired(Timestamp::now()).expect("trim");
    assert_eq!(removed, 5, "every expired message is trimmed");
    let got = cursor.recv();
    assert!(matches!(got, Err(RecvError::Lagged(3))), "{got:?}");
    assert!(matches!(cursor.try_recv(), Err(TryRecvError::Empty)));
    assert_eq!(
        publisher.publish(5).expect("publish"),
        5,
        "offsets continue"
    );
    let record = cursor.recv().expect("recv after lag");
    assert_eq!((record.offset, record.value), (5, 5));
    agency.shutdown();
}

fn named_cursor_resume(harness: &dyn Harness, place: &Place) {
    for (i, delivery) in DURABLE.into_iter().enumerate() {
        let topic_name = format!("resume{i}");
        let agency = agency(harness, place);
        let topic = agency.topic::<u64>(&topic_name, delivery).expect("declare");
        for n in 0..6 {
            topic.publisher().publish(n).expect("publish");
        }
        let mut cursor = topic
            .named_cursor("reader", StartAt::Earliest)
            .expect("cursor")
            .with_commit_policy(CommitPolicy::Manual);
        for n in 0..3 {
            assert_eq!(cursor.recv().expect("recv").offset, n);
        }
        cursor.commit().expect("commit");
        assert_eq!(
            cursor.recv().expect("recv").offset,
            3,
            "read, not committed"
        );
        drop(cursor);
        agency.shutdown();

        let agency = self::agency(harness, place);
        let topic = agency
            .topic::<u64>(&topic_name, delivery)
            .expect("redeclare");
        assert_eq!(topic.bounds().expect("bounds"), (0, 6));
        let mut cursor = topic
            .named_cursor("reader", StartAt::Latest)
            .expect("cursor");
        assert_eq!(cursor.committed(), Some(3));
        for n in 3..6 {
            let record = cursor.recv().expect("redelivery");
            assert_eq!((record.offset, record.value), (n, n));
        }
        agency.shutdown();
    }
}

fn idempotency_keys(harness: &dyn Harness, place: &Place) {
    for (i, delivery) in DURABLE.into_iter().enumerate() {
        let topic_name = format!("keys{i}");
        let agency = agency(harness, place);
        let topic = agency.topic::<u64>(&topic_name, delivery).expect("declare");
        let publisher = topic.publisher();
        assert_eq!(publisher.publish(1).expect("publish"), 0);
        assert_eq!(publisher.publish_keyed("k", 2).expect("keyed"), 1);
        assert_eq!(publisher.publish_keyed("k", 3).expect("retry"), 1);
        assert_eq!(topic.bounds().expect("bounds"), (0, 2), "nothing appended");
        agency.shutdown();

        let agency = self::agency(harness, place);
        let topic = agency
            .topic::<u64>(&topic_name, delivery)
            .expect("redeclare");
        assert_eq!(topic.publisher().publish_keyed("k", 4).expect("retry"), 1);
        assert_eq!(topic.publisher().publish_keyed("j", 5).expect("new"), 2);
        let key = |k: &str| crate::IdempotencyKey::new(k).expect("key");
        let storage = agency.storage();
        assert_eq!(
            storage.key_offset(topic.name(), &key("k")).expect("lookup"),
            Some(1)
        );
        assert_eq!(
            storage.key_offset(topic.name(), &key("j")).expect("lookup"),
            Some(2)
        );
        assert_eq!(
            storage
                .key_offset(topic.name(), &key("never"))
                .expect("lookup"),
            None
        );
        let mut cursor = topic.cursor(StartAt::Earliest).expect("cursor");
        let values: Vec<u64> = (0..3).map(|_| cursor.recv().expect("recv").value).collect();
        assert_eq!(values, [1, 2, 5]);
        agency.shutdown();
    }
}

fn submit(storage: &dyn Storage, batch: WriteBatch) -> crate::storage::BatchOutcome {
    storage
        .submit(batch, crate::storage::Admission::Queue)
        .map_err(|_| "submit refused")
        .expect("submit")
        .wait()
}

fn payload(value: u64) -> Vec<u8> {
    postcard::to_allocvec(&value).expect("encode")
}

fn expected_offset_conflict(harness: &dyn Harness, place: &Place) {
    let storage = harness.open(place);
    let agency = Agency::builder().storage(Arc::clone(&storage)).build();
    for (i, delivery) in DURABLE.into_iter().enumerate() {
        let a = agency
            .topic::<u64>(&format!("cfa{i}"), delivery)
            .expect("a");
        let b = agency
            .topic::<u64>(&format!("cfb{i}"), delivery)
            .expect("b");
        let ok = WriteBatch::append(Append::new(a.name().clone(), payload(1)).expecting(0));
        let appended = submit(storage.as_ref(), ok).expect("expected offset 0 fits");
        assert_eq!(appended[0].offset, 0);

        let mut bad = WriteBatch::new();
        bad.push_append(Append::new(b.name().clone(), payload(2)))
            .push_append(Append::new(a.name().clone(), payload(3)).expecting(0))
            .push_commit(CursorCommit::new(a.name().clone(), name("c"), 1));
        match submit(storage.as_ref(), bad) {
            Err(Error::Conflict {
                expected, actual, ..
            }) => assert_eq!((expected, actual), (0, 1)),
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!(a.bounds().expect("a"), (0, 1), "failed batch appended");
        assert_eq!(b.bounds().expect("b"), (0, 0), "failed batch is atomic");
        assert_eq!(
            storage.cursor_position(a.name(), &name("c")).expect("pos"),
            None,
            "failed batch committed a cursor"
        );
    }
    agency.shutdown();
}

fn commit_with_appends(harness: &dyn Harness, place: &Place) {
    let storage = harness.open(place);
    let agency = Agency::builder().storage(Arc::clone(&storage)).build();
    for (i, delivery) in DURABLE.into_iter().enumerate() {
        let input = agency
            .topic::<u64>(&format!("in{i}"), delivery)
            .expect("in");
        let output = agency
            .topic::<u64>(&format!("out{i}"), delivery)
            .expect("out");
        input.publisher().publish(5).expect("publish");
        let mut batch = WriteBatch::new();
        batch
            .push_append(Append::new(output.name().clone(), payload(50)))
            .push_commit(CursorCommit::new(input.name().clone(), name("proj"), 1));
        submit(storage.as_ref(), batch).expect("batch");
        assert_eq!(
            storage
                .cursor_position(input.name(), &name("proj"))
                .expect("pos"),
            Some(1)
        );
        let cursor = input
            .named_cursor("proj", StartAt::Earliest)
            .expect("cursor");
        assert_eq!(cursor.position(), 1);
        let mut out = output.cursor(StartAt::Earliest).expect("out cursor");
        assert_eq!(out.recv().expect("recv").value, 50);
    }
    agency.shutdown();
}

fn start_positions(harness: &dyn Harness, place: &Place) {
    let agency = agency(harness, place);
    for (i, delivery) in DURABLE.into_iter().enumerate() {
        let topic = agency
            .topic::<u64>(&format!("start{i}"), delivery)
            .expect("t");
        let publisher = topic.publisher();
        for n in 0..3 {
            publisher.publish(n).expect("publish");
        }
        thread::sleep(Duration::from_millis(5));
        let middle = Timestamp::now();
        thread::sleep(Duration::from_millis(5));
        for n in 3..6 {
            publisher.publish(n).expect("publish");
        }
        let first = |start| {
            let mut cursor = topic.cursor(start).expect("cursor");
            cursor.try_recv().map(|r| r.offset).ok()
        };
        assert_eq!(first(StartAt::Earliest), Some(0));
        assert_eq!(first(StartAt::Latest), None);
        assert_eq!(first(StartAt::Offset(4)), Some(4));
        assert_eq!(first(StartAt::Time(middle)), Some(3));
        let mut latest = topic.cursor(StartAt::Latest).expect("cursor");
        publisher.publish(6).expect("publish");
        assert_eq!(latest.recv().expect("recv").offset, 6);
    }
    agency.shutdown();
}

/// A watcher for topics declared straight on a storage, which nobody reads.
struct NoWatcher;

impl TopicWatcher for NoWatcher {
    fn committed(&self, _next_offset: u64) {}
}

/// Every topic is listed with its declaration, omg's reserved names (the
/// topics of agents and projections) included, and again after a reopen.
fn listing(harness: &dyn Harness, place: &Place) {
    let storage = harness.open(place);
    let agency = Agency::builder().storage(Arc::clone(&storage)).build();
    agency
        .topic::<u64>("list-b", Delivery::at_least_once())
        .expect("declare");
    agency
        .topic::<String>("list-a", Delivery::exactly_once())
        .expect("declare");
    let reserved = TopicSpec {
        name: stored_name(".agent/list/events").expect("a reserved name"),
        delivery: Delivery::exactly_once(),
        message_type: "testkit.Event".to_owned(),
    };
    let no_watcher: std::sync::Weak<dyn TopicWatcher> = std::sync::Weak::<NoWatcher>::new();
    storage
        .declare(&reserved, no_watcher)
        .expect("declare a reserved topic");
    let expected = vec![
        reserved.clone(),
        TopicSpec {
            name: name("list-a"),
            delivery: Delivery::exactly_once(),
            message_type: std::any::type_name::<String>().to_owned(),
        },
        TopicSpec {
            name: name("list-b"),
            delivery: Delivery::at_least_once(),
            message_type: std::any::type_name::<u64>().to_owned(),
        },
    ];
    assert_eq!(storage.topics().expect("topics"), expected);
    assert_eq!(agency.topics().expect("agency topics"), expected);
    agency.shutdown();

    let storage = harness.open(place);
    assert_eq!(storage.topics().expect("topics after reopen"), expected);
    assert_eq!(
        storage.describe(&reserved.name).expect("describe"),
        Some(reserved)
    );
    storage.close();
}

fn deletion(harness: &dyn Harness, place: &Place) {
    let storage = harness.open(place);
    let agency = Agency::builder().storage(Arc::clone(&storage)).build();
    for (i, delivery) in DURABLE.into_iter().enumerate() {
        let topic_name = format!("del{i}");
        let topic = agency.topic::<u64>(&topic_name, delivery).expect("declare");
        let publisher = topic.publisher();
        publisher.publish_keyed("k", 1).expect("publish");
        let mut named = topic.named_cursor("c", StartAt::Earliest).expect("c");
        named.recv().expect("recv");
        named.commit().expect("commit");
        let mut blocked = topic.cursor(StartAt::Latest).expect("cursor");
        let waiter = thread::spawn(move || blocked.recv());
        thread::sleep(Duration::from_millis(20));
        assert!(agency.delete_topic(&topic_name).expect("delete"));
        match waiter.join().expect("reader thread") {
            Err(RecvError::Failed(Error::Deleted { .. })) => {}
            other => panic!("blocked reader woke with {other:?}"),
        }
        assert!(matches!(publisher.publish(2), Err(Error::Deleted { .. })));
        assert!(matches!(
            named.recv(),
            Err(RecvError::Failed(Error::Deleted { .. }))
        ));
        assert_eq!(storage.describe(topic.name()).expect("describe"), None);

        let topic = agency
            .topic::<u64>(&topic_name, delivery)
            .expect("redeclare");
        assert_eq!(
            topic.bounds().expect("bounds"),
            (0, 0),
            "empty after delete"
        );
        assert_eq!(
            storage
                .cursor_position(topic.name(), &name("c"))
                .expect("pos"),
            None
        );
        assert_eq!(
            topic.publisher().publish_keyed("k", 3).expect("key gone"),
            0
        );
    }
    agency.shutdown();
}

fn topic_mismatch(harness: &dyn Harness, place: &Place) {
    let agency = agency(harness, place);
    agency
        .topic::<u64>("mm", Delivery::exactly_once())
        .expect("declare");
    agency
        .topic::<u64>("mm2", Delivery::at_least_once())
        .expect("declare");
    let mismatch = |r: crate::Result<crate::Topic<u64>>| {
        assert!(matches!(r, Err(Error::TopicMismatch { .. })), "{r:?}")
    };
    mismatch(agency.topic::<u64>("mm", Delivery::at_least_once()));
    mismatch(agency.topic::<u64>(
        "mm2",
        Delivery::at_least_once_retain(Duration::from_secs(1)),
    ));
    assert!(matches!(
        agency.topic::<String>("mm", Delivery::exactly_once()),
        Err(Error::TopicMismatch { .. })
    ));
    agency.shutdown();
    let agency = self::agency(harness, place);
    mismatch(agency.topic::<u64>("mm", Delivery::at_least_once()));
    assert!(matches!(
        agency.topic::<String>("mm2", Delivery::at_least_once()),
        Err(Error::TopicMismatch { .. })
    ));
    agency
        .topic::<u64>("mm", Delivery::exactly_once())
        .expect("same declaration after reopen");
    agency.shutdown();
}

fn shutdown_wakes_readers(harness: &dyn Harness, place: &Place) {
    let agency = agency(harness, place);
    let mut waiters = Vec::new();
    for (i, delivery) in DURABLE.into_iter().enumerate() {
        let topic = agency.topic::<u64>(&format!("sd{i}"), delivery).expect("t");
        let mut cursor = topic.cursor(StartAt::Latest).expect("cursor");
        waiters.push(thread::spawn(move || cursor.recv()));
    }
    thread::sleep(Duration::from_millis(20));
    agency.shutdown();
    for waiter in waiters {
        match waiter.join().expect("reader thread") {
            Err(RecvError::Failed(Error::ShutDown)) => {}
            other => panic!("blocked reader woke with {other:?}"),
        }
    }
}
