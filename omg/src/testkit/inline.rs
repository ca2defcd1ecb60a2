//! The conformance check of a storage's [`InlineLog`]s, for storages that
//! offer them ([`Storage::inline_log`]); others pass it trivially.

use std::sync::{Arc, Mutex, Weak};

use super::{Harness, Place, checks::DURABLE};
use crate::{
    Delivery, Error, Name, StorageErrorKind, Timestamp,
    storage::{
        Append, Appended, IdempotencyKey, InlineLog, ReadBuf, Storage, TopicSpec, TopicWatcher,
        WriteBatch,
    },
    sync::lock,
};

/// A watcher that records every head it is told.
#[derive(Default)]
struct Heads(Mutex<Vec<u64>>);

impl Heads {
    fn take(&self) -> Vec<u64> {
        std::mem::take(&mut *lock(&self.0))
    }
}

impl TopicWatcher for Heads {
    fn committed(&self, next_offset: u64) {
        lock(&self.0).push(next_offset);
    }
}

fn spec(name: &str, delivery: Delivery) -> TopicSpec {
    TopicSpec {
        name: Name::new(name).expect("testkit: valid name"),
        delivery,
        message_type: "u64".to_owned(),
    }
}

fn key(key: &str) -> IdempotencyKey {
    IdempotencyKey::new(key).expect("testkit: valid key")
}

fn at(micros: i64) -> Timestamp {
    Timestamp::from_micros(micros)
}

fn new(offset: u64) -> Appended {
    Appended {
        offset,
        duplicate: false,
    }
}

fn duplicate(offset: u64) -> Appended {
    Appended {
        offset,
        duplicate: true,
    }
}

/// A batch of one append, submitted and waited for.
fn submit_one(storage: &dyn Storage, append: Append) -> crate::Result<Appended> {
    let completion = storage
        .submit(WriteBatch::append(append), crate::storage::Admission::Queue)
        .map_err(|_| "submit refused")
        .expect("submit");
    completion.wait().map(|appended| appended[0])
}

/// Appends through an inline log and through batches share one sequence of
/// offsets, one set of idempotency keys and one timestamp order; every
/// watcher but the handle's owner hears of an inline append before it
/// returns; a deleted topic's handle fails (also once the name is declared
/// again) and so does every handle of a closed storage.
pub(super) fn inline_logs(harness: &dyn Harness, place: &Place) {
    let storage = harness.open(place);
    for (i, delivery) in DURABLE.into_iter().enumerate() {
        let spec = spec(&format!("inline{i}"), delivery);
        let (owner, other) = (Arc::new(Heads::default()), Arc::new(Heads::default()));
        let owner_weak: Weak<dyn TopicWatcher> = Arc::downgrade(&owner) as Weak<Heads>;
        let other_weak: Weak<dyn TopicWatcher> = Arc::downgrade(&other) as Weak<Heads>;
        storage.declare(&spec, owner_weak.clone()).expect("declare");
        storage.declare(&spec, other_weak).expect("declare again");
        let Some(log) = storage.inline_log(&spec.name, &owner_weak) else {
            storage.close();
            return;
        };
        let append = |payload: u64, time: i64, k: Option<&str>| {
            let k = k.map(key);
            let bytes = postcard::to_allocvec(&payload).expect("encode");
            log.append(&bytes, at(time), k.as_ref())
        };

        assert_eq!(append(10, 100, None).expect("inline"), new(0));
        assert_eq!(other.take(), [1], "told before the append returned");
        assert_eq!(append(11, 50, None).expect("inline"), new(1));
        assert_eq!(owner.take(), Vec::<u64>::new(), "the owner is left out");
        let batched = Append {
            timestamp: at(40),
            ..Append::new(
                spec.name.clone(),
                postcard::to_allocvec(&12u64).expect("encode"),
            )
        };
        assert_eq!(
            submit_one(storage.as_ref(), batched).expect("batch"),
            new(2)
        );
        assert_eq!(owner.take(), [3], "batches tell every watcher");

        // One set of keys, whichever way a keyed append comes.
        assert_eq!(append(13, 200, Some("k")).expect("keyed"), new(3));
        let keyed = Append::new(spec.name.clone(), vec![0]).with_key(Some(key("k")));
        assert_eq!(
            submit_one(storage.as_ref(), keyed).expect("keyed batch"),
            duplicate(3)
        );
        let keyed = Append::new(spec.name.clone(), vec![0]).with_key(Some(key("j")));
        assert_eq!(
            submit_one(storage.as_ref(), keyed).expect("keyed batch"),
            new(4)
        );
        assert_eq!(append(0, 300, Some("j")).expect("keyed"), duplicate(4));
        assert_eq!(append(0, 300, Some("k")).expect("keyed"), duplicate(3));
        assert_eq!(other.take(), [2, 3, 4, 5], "a duplicate moves no head");

        // An inline append moves the offset a batch expects.
        let stale = Append::new(spec.name.clone(), vec![0]).expecting(4);
        assert!(matches!(
            submit_one(storage.as_ref(), stale),
            Err(Error::Conflict {
                expected: 4,
                actual: 5,
                ..
            })
        ));

        let mut read = ReadBuf::new();
        let info = storage.read(&spec.name, 0, 100, &mut read).expect("read");
        assert_eq!((info.first_offset, info.next_offset), (0, 5));
        let records: Vec<(u64, i64)> = read
            .iter()
            .map(|r| (r.offset, r.timestamp.as_micros()))
            .collect();
        assert_eq!(
            records,
            [(0, 100), (1, 100), (2, 100), (3, 200), (4, records[4].1)],
            "timestamps raised to their predecessor's"
        );
        assert!(records[4].1 >= 200);

        assert!(storage.delete_topic(&spec.name).expect("delete"));
        assert!(matches!(
            append(1, 400, None),
            Err(Error::UnknownTopic { .. })
        ));
        let info = storage.declare(&spec, owner_weak).expect("declare anew");
        assert!(
            matches!(append(1, 400, None), Err(Error::UnknownTopic { .. })),
            "a handle of the deleted topic writes nothing to the new one"
        );
        assert_eq!(info.next_offset, 0);
        let read_info = storage.read(&spec.name, 0, 10, &mut read).expect("read");
        assert_eq!((read_info.next_offset, read.len()), (0, 0));
    }

    let spec = spec("inline-closed", Delivery::exactly_once());
    let watcher = Arc::new(Heads::default());
    let weak: Weak<dyn TopicWatcher> = Arc::downgrade(&watcher) as Weak<Heads>;
    storage.declare(&spec, weak.clone()).expect("declare");
    let log: Option<Arc<dyn InlineLog>> = storage.inline_log(&spec.name, &weak);
    storage.close();
    if let Some(log) = log {
        match log.append(&[1], at(0), None) {
            Err(Error::Storage(e)) => assert_eq!(e.kind(), StorageErrorKind::Closed),
            other => panic!("an append to a closed storage: {other:?}"),
        }
    }
}
