//! The storage contract, checked directly and through an agency.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]
use std::{sync::Arc, time::Duration};

use omg::{
    Agency, Delivery, Error, StartAt, StorageErrorKind, Timestamp,
    storage::{
        Admission, Append, CursorCommit, IdempotencyKey, ReadBuf, Storage, SubmitError, WriteBatch,
    },
};
use omg_sqlite::{SqliteOptions, SqliteStorage};

mod common;

use common::{append, declare, name, nobody, payloads, spec, submit};

#[test]
fn appends_get_dense_offsets_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omg.db");
    let s = SqliteStorage::open(&path).unwrap();
    let heads = declare(&s, &spec("t", Delivery::ExactlyOnce));
    for i in 0..10u8 {
        let out = submit(&s, WriteBatch::append(append("t", i))).unwrap();
        assert_eq!(out[0].offset, u64::from(i));
    }
    assert_eq!(heads.head(), 10);
    s.close();
    let s = SqliteStorage::open(&path).unwrap();
    let info = s
        .declare(&spec("t", Delivery::ExactlyOnce), nobody())
        .unwrap();
    assert_eq!((info.first_offset, info.next_offset), (0, 10));
    let expected: Vec<_> = (0..10u8).map(|i| (u64::from(i), vec![i])).collect();
    assert_eq!(payloads(&s, "t"), expected);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn a_key_appends_once_and_reports_the_first_offset() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStorage::open(dir.path().join("omg.db")).unwrap();
    declare(&s, &spec("t", Delivery::ExactlyOnce));
    let key = IdempotencyKey::new("k").unwrap();
    let a = submit(
        &s,
        WriteBatch::append(append("t", 1).with_key(Some(key.clone()))),
    )
    .unwrap();
    submit(&s, WriteBatch::append(append("t", 2))).unwrap();
    let b = submit(&s, WriteBatch::append(append("t", 3).with_key(Some(key)))).unwrap();
    assert_eq!((a[0].offset, a[0].duplicate), (0, false));
    assert_eq!((b[0].offset, b[0].duplicate), (0, true));
    assert_eq!(payloads(&s, "t"), vec![(0, vec![1]), (1, vec![2])]);
}

#[test]
fn a_conflicting_batch_fails_alone_and_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStorage::open(dir.path().join("omg.db")).unwrap();
    declare(&s, &spec("t", Delivery::ExactlyOnce));
    let mut bad = WriteBatch::new();
    bad.push_append(append("t", 9));
    bad.push_append(append("t", 9).expecting(5));
    bad.push_commit(CursorCommit::new(name("t"), name("c"), 1));
    // Queue both before the writer drains, so they share a transaction.
    let c1 = s.submit(bad, Admission::Queue).unwrap();
    let c2 = s
        .submit(
            WriteBatch::append(append("t", 1).expecting(0)),
            Admission::Queue,
        )
        .unwrap();
    match c1.wait() {
        Err(Error::Conflict {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (5, 1)),
        other => panic!("{other:?}"),
    }
    assert_eq!(c2.wait().unwrap()[0].offset, 0);
    assert_eq!(payloads(&s, "t"), vec![(0, vec![1])]);
    assert_eq!(s.cursor_position(&name("t"), &name("c")).unwrap(), None);
}

#[test]
fn cursor_commits_ride_with_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omg.db");
    let s = SqliteStorage::open(&path).unwrap();
    declare(&s, &spec("in", Delivery::ExactlyOnce));
    declare(&s, &spec("out", Delivery::ExactlyOnce));
    let mut batch = WriteBatch::append(append("out", 1));
    batch.push_commit(CursorCommit::new(name("in"), name("agent"), 7));
    submit(&s, batch).unwrap();
    submit(
        &s,
        WriteBatch::commit(CursorCommit::new(name("in"), name("agent"), 8)),
    )
    .unwrap();
    s.close();
    let s = SqliteStorage::open(&path).unwrap();
    assert_eq!(
        s.cursor_position(&name("in"), &name("agent")).unwrap(),
        Some(8)
    );
    assert_eq!(payloads(&s, "out"), vec![(0, vec![1])]);
}

#[test]
fn unknown_topics_mismatches_and_at_most_once_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStorage::open(dir.path().join("omg.db")).unwrap();
    assert!(matches!(
        submit(&s, WriteBatch::append(append("nope", 1))),
        Err(Error::UnknownTopic { .. })
    ));
    declare(&s, &spec("t", Delivery::ExactlyOnce));
    let other = spec(
        "t",
        Delivery::AtLeastOnce {
            retain: Duration::from_secs(1),
        },
    );
    match s.declare(&other, nobody()) {
        Err(Error::TopicMismatch {
            topic,
            existing,
            requested,
        }) => assert_eq!(
            (topic.as_str(), existing.as_str(), requested.as_str()),
            (
                "t",
                "exactly-once of bytes",
                "at-least-once (retain 1s) of bytes"
            )
        ),
        other => panic!("expected TopicMismatch, got {other:?}"),
    }
    assert!(matches!(
        s.declare(&spec("m", Delivery::at_most_once()), nobody()),
        Err(Error::Unsupported {
            what: "storing an at-most-once topic",
            ..
        })
    ));
    assert_eq!(
        s.describe(&name("t")).unwrap(),
        Some(spec("t", Delivery::ExactlyOnce))
    );
    assert_eq!(s.topics().unwrap(), vec![spec("t", Delivery::ExactlyOnce)]);
    assert!(s.delete_topic(&name("t")).unwrap());
    assert!(!s.delete_topic(&name("t")).unwrap());
    assert_eq!(s.describe(&name("t")).unwrap(), None);
}

/// A retention longer than `i64::MAX` seconds (`Duration::MAX`: keep
/// "forever") is stored clipped to `i64::MAX` seconds; a declaration
/// compares deliveries as stored, so the topic is declarable (as in the
/// in-memory storage), declarable again, also after a reopen, and still
/// refuses another retention.
#[test]
fn an_at_least_once_topic_with_a_very_long_retention_can_be_declared() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omg.db");
    let t = spec("t", Delivery::at_least_once_retain(Duration::MAX));
    let memory = omg::storage::MemoryStorage::new();
    assert!(memory.declare(&t, nobody()).is_ok());
    for attempt in 0..3 {
        let s = SqliteStorage::open(&path).unwrap();
        for again in 0..2 {
            let declared = s.declare(&t, nobody());
            assert!(
                declared.is_ok(),
                "declaration {attempt}.{again}: {declared:?}"
            );
        }
    }
    let s = SqliteStorage::open(&path).unwrap();
    let shorter = spec("t", Delivery::at_least_once_retain(Duration::from_secs(1)));
    assert!(matches!(
        s.declare(&shorter, nobody()),
        Err(Error::TopicMismatch { .. })
    ));
}

#[test]
fn timestamps_never_go_backwards_and_offset_at_finds_them() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStorage::open(dir.path().join("omg.db")).unwrap();
    declare(&s, &spec("t", Delivery::ExactlyOnce));
    for micros in [100, 50, 200, 300] {
        let mut a = append("t", 0);
        a.timestamp = Timestamp::from_micros(micros);
        submit(&s, WriteBatch::append(a)).unwrap();
    }
    let mut buf = ReadBuf::new();
    s.read(&name("t"), 0, 10, &mut buf).unwrap();
    let ts: Vec<i64> = buf.iter().map(|r| r.timestamp.as_micros()).collect();
    assert_eq!(ts, vec![100, 100, 200, 300]);
    assert_eq!(
        s.offset_at(&name("t"), Timestamp::from_micros(150))
            .unwrap(),
        2
    );
    assert_eq!(
        s.offset_at(&name("t"), Timestamp::from_micros(0)).unwrap(),
        0
    );
    assert_eq!(
        s.offset_at(&name("t"), Timestamp::from_micros(999))
            .unwrap(),
        4
    );
}

#[test]
fn trimming_removes_expired_messages_and_keys_and_moves_first_offset() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStorage::open(dir.path().join("omg.db")).unwrap();
    declare(
        &s,
        &spec(
            "t",
            Delivery::AtLeastOnce {
                retain: Duration::from_secs(10),
            },
        ),
    );
    declare(&s, &spec("e", Delivery::ExactlyOnce));
    for (i, secs) in [1i64, 2, 3, 20].into_iter().enumerate() {
        let mut a =
            append("t", i as u8).with_key(Some(IdempotencyKey::new(&format!("k{i}")).unwrap()));
        a.timestamp = Timestamp::from_micros(secs * 1_000_000);
        submit(&s, WriteBatch::append(a.clone())).unwrap();
        a.topic = name("e");
        submit(&s, WriteBatch::append(a)).unwrap();
    }
    let removed = s.trim_expired(Timestamp::from_micros(13_000_000)).unwrap();
    assert_eq!(removed, 2);
    let mut buf = ReadBuf::new();
    let info = s.read(&name("t"), 0, 10, &mut buf).unwrap();
    assert_eq!((info.first_offset, info.next_offset), (2, 4));
    assert_eq!(buf.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![2, 3]);
    // The trimmed key is forgotten: publishing it again appends.
    let again = submit(
        &s,
        WriteBatch::append(append("t", 9).with_key(Some(IdempotencyKey::new("k0").unwrap()))),
    )
    .unwrap();
    assert_eq!((again[0].offset, again[0].duplicate), (4, false));
    assert_eq!(payloads(&s, "e").len(), 4);
}

#[test]
fn background_trimming_runs_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions::new().retention_check_interval(Duration::from_millis(20));
    let s = SqliteStorage::open_with(dir.path().join("omg.db"), options).unwrap();
    declare(
        &s,
        &spec(
            "t",
            Delivery::AtLeastOnce {
                retain: Duration::from_millis(1),
            },
        ),
    );
    for i in 0..5 {
        let mut a = append("t", i);
        a.timestamp = Timestamp::from_micros(1);
        submit(&s, WriteBatch::append(a)).unwrap();
    }
    let mut buf = ReadBuf::new();
    for _ in 0..200 {
        if s.read(&name("t"), 0, 10, &mut buf).unwrap().first_offset == 5 {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("not trimmed within 2 s");
}

#[test]
fn if_room_refuses_when_the_queue_is_full_and_close_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions::new().queue_capacity(1);
    let s = SqliteStorage::open_with(dir.path().join("omg.db"), options).unwrap();
    declare(&s, &spec("t", Delivery::ExactlyOnce));
    let mut completions = Vec::new();
    let mut refused = 0;
    for i in 0..2000u32 {
        match s.submit(WriteBatch::append(append("t", i as u8)), Admission::IfRoom) {
            Ok(c) => completions.push(c),
            Err(SubmitError::Full(batch)) => {
                assert_eq!(batch.appends.len(), 1);
                refused += 1;
            }
            Err(SubmitError::Failed(e, _)) => panic!("{e}"),
        }
    }
    assert!(refused > 0, "a queue of 1 never filled");
    s.close();
    let n = completions.len();
    let offsets: Vec<u64> = completions
        .into_iter()
        .map(|c| c.wait().unwrap()[0].offset)
        .collect();
    assert_eq!(offsets, (0..n as u64).collect::<Vec<_>>());
    match s.submit(WriteBatch::append(append("t", 0)), Admission::Queue) {
        Err(SubmitError::Failed(Error::Storage(e), _)) => {
            assert_eq!(e.kind(), StorageErrorKind::Closed)
        }
        other => panic!("{other:?}"),
    }
    let mut buf = ReadBuf::new();
    assert!(
        matches!(s.read(&name("t"), 0, 1, &mut buf), Err(Error::Storage(e)) if e.kind() == StorageErrorKind::Closed)
    );
}

#[test]
fn another_storage_on_the_same_file_sees_commits_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omg.db");
    let a = SqliteStorage::open(&path).unwrap();
    let b = SqliteStorage::open(&path).unwrap();
    declare(&a, &spec("t", Delivery::ExactlyOnce));
    let heads = declare(&b, &spec("t", Delivery::ExactlyOnce));
    submit(&a, WriteBatch::append(append("t", 1))).unwrap();
    submit(&b, WriteBatch::append(append("t", 2))).unwrap();
    submit(&a, WriteBatch::append(append("t", 3))).unwrap();
    for _ in 0..100 {
        if heads.head() == 3 {
            assert_eq!(
                payloads(&b, "t"),
                vec![(0, vec![1]), (1, vec![2]), (2, vec![3])]
            );
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("b's watcher was not told within 1 s");
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
struct Order {
    id: u32,
    item: String,
}

#[test]
fn an_agency_publishes_and_reads_back_through_named_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omg.db");
    {
        let agency = Agency::builder()
            .storage(Arc::new(SqliteStorage::open(&path).unwrap()))
            .build();
        let topic = agency
            .topic::<Order>("orders", Delivery::ExactlyOnce)
            .unwrap();
        let publisher = topic.publisher();
        let mut cursor = topic.named_cursor("shipper", StartAt::Earliest).unwrap();
        for id in 0..5 {
            let offset = publisher
                .publish_keyed(
                    &format!("o{id}"),
                    Order {
                        id,
                        item: "tea".into(),
                    },
                )
                .unwrap();
            assert_eq!(offset, u64::from(id));
        }
        assert_eq!(
            publisher
                .publish_keyed(
                    "o1",
                    Order {
                        id: 1,
                        item: "tea".into()
                    }
                )
                .unwrap(),
            1
        );
        for id in 0..3 {
            assert_eq!(cursor.recv().unwrap().value.id, id);
        }
        cursor.commit().unwrap();
        agency.shutdown();
    }
    let agency = Agency::builder()
        .storage(Arc::new(SqliteStorage::open(&path).unwrap()))
        .build();
    let topic = agency
        .topic::<Order>("orders", Delivery::ExactlyOnce)
        .unwrap();
    let mut cursor = topic.named_cursor("shipper", StartAt::Earliest).unwrap();
    assert_eq!(cursor.recv().unwrap().offset, 3);
    assert_eq!(cursor.recv().unwrap().offset, 4);
    assert_eq!(topic.bounds().unwrap(), (0, 5));
    agency.shutdown();
}

#[test]
fn a_declare_queued_behind_appends_sees_them_and_heads_persist() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omg.db");
    let s = SqliteStorage::open(&path).unwrap();
    let t = spec("t", Delivery::ExactlyOnce);
    declare(&s, &t);
    let pending: Vec<_> = (0..100u8)
        .map(|i| {
            s.submit(WriteBatch::append(append("t", i)), Admission::Queue)
                .unwrap()
        })
        .collect();
    let info = s.declare(&t, nobody()).unwrap();
    assert_eq!(info.next_offset, 100);
    let more = submit(&s, WriteBatch::append(append("t", 100))).unwrap();
    assert_eq!(more[0].offset, 100);
    for (i, c) in pending.into_iter().enumerate() {
        assert_eq!(c.wait().unwrap()[0].offset, i as u64);
    }
    assert!(s.delete_topic(&name("t")).unwrap());
    declare(&s, &t);
    assert_eq!(
        submit(&s, WriteBatch::append(append("t", 0))).unwrap()[0].offset,
        0
    );
    s.close();
    let s = SqliteStorage::open(&path).unwrap();
    let info = s.declare(&t, nobody()).unwrap();
    assert_eq!((info.first_offset, info.next_offset), (0, 1));
}

#[test]
fn run_time_figures_count_commits_and_time_the_last() {
    let dir = tempfile::tempdir().unwrap();
    // No background trim during the test: every commit is one of ours.
    let options = SqliteOptions::default().retention_check_interval(Duration::from_secs(3600));
    let storage = Arc::new(SqliteStorage::open_with(dir.path().join("omg.db"), options).unwrap());
    assert_eq!(storage.stats().commits, 0);
    assert_eq!(storage.stats().last_commit_latency, None);
    let agency = Agency::builder().storage(storage.clone()).build();
    let topic = agency.topic::<u64>("t", Delivery::ExactlyOnce).unwrap();
    let declared = storage.stats().commits;
    let publisher = topic.publisher();
    for n in 0..3 {
        publisher.publish(n).unwrap();
    }
    let stats = topic.stats().unwrap();
    assert_eq!((stats.first_offset, stats.next_offset), (0, 3));
    // Each blocking publish waited for its own transaction.
    assert_eq!(storage.stats().commits, declared + 3);
    let latency = stats.last_commit_latency.unwrap();
    assert!(latency > Duration::ZERO && latency < Duration::from_secs(10));
    assert_eq!(stats.pending_writes, 0);
}

#[test]
fn a_backlog_larger_than_a_transaction_commits_in_order_over_several() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStorage::open(dir.path().join("omg.db")).unwrap();
    declare(&s, &spec("t", Delivery::ExactlyOnce));
    let before = s.stats().commits;
    // 20 000 appends of 100 bytes: more commands and more bytes than one
    // transaction takes (8 192 commands, 512 KiB).
    let completions: Vec<_> = (0..20_000u32)
        .map(|i| {
            let payload = vec![(i % 251) as u8; 100];
            let batch = WriteBatch::append(Append::new(name("t"), payload));
            s.submit(batch, Admission::Queue).unwrap()
        })
        .collect();
    let offsets: Vec<u64> = completions
        .into_iter()
        .map(|c| c.wait().unwrap()[0].offset)
        .collect();
    assert_eq!(offsets, (0..20_000).collect::<Vec<u64>>());
    assert!(s.stats().commits - before >= 4, "{:?}", s.stats());
    let stored = payloads(&s, "t");
    assert_eq!(stored.len(), 20_000);
    assert!(
        stored
            .iter()
            .all(|(offset, p)| *p == vec![(*offset % 251) as u8; 100])
    );
}
