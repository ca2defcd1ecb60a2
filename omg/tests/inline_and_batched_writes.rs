//! The in-memory storage takes single publishes inline, straight into the
//! topic's log, and batches (agents, commits, `Storage::submit`) under its
//! own lock: the two paths must agree on offsets and atomicity, and an
//! inline publish must still wake the readers of every agency sharing the
//! storage.

use std::{
    sync::{
        Arc, Barrier,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::Duration,
};

use omg::{
    Agency, Delivery, Error, StartAt,
    storage::{Admission, Append, CursorCommit, MemoryStorage, Storage, WriteBatch},
};

type R = Result<(), Box<dyn std::error::Error>>;

/// A reader of agency B, blocked on an empty topic, wakes when agency A
/// publishes to it; so does one of A itself.
#[test]
fn a_publish_through_one_agency_wakes_readers_of_every_agency() -> R {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let a = Agency::builder().storage(storage.clone()).build();
    let b = Agency::builder().storage(storage).build();
    let ta = a.topic::<u64>("t", Delivery::exactly_once())?;
    let tb = b.topic::<u64>("t", Delivery::exactly_once())?;
    let readers: Vec<_> = [ta.cursor(StartAt::Earliest)?, tb.cursor(StartAt::Earliest)?]
        .into_iter()
        .map(|mut cursor| thread::spawn(move || cursor.recv().map(|r| (r.offset, r.value))))
        .collect();
    // Let both block: the wake-up, not a lucky first look, must deliver.
    thread::sleep(Duration::from_millis(50));
    assert_eq!(ta.publisher().publish(7)?, 0);
    for reader in readers {
        let got = reader.join().map_err(|_| "reader panicked")?;
        assert_eq!(got.ok(), Some((0, 7)));
    }
    assert_eq!(tb.bounds()?, (0, 1), "the other agency's head moved");
    Ok(())
}

fn encoded(value: u64) -> Result<Vec<u8>, postcard::Error> {
    postcard::to_allocvec(&value)
}

/// Two threads publish inline to topics `a` and `b` for as long as a third
/// submits batches appending to both at the offsets it just saw, with a
/// cursor commit. Every batch either conflicts or lands exactly where it
/// expected, whole; offsets stay dense; nothing deadlocks.
#[test]
fn batches_racing_inline_publishes_land_where_they_expect_or_conflict() -> R {
    const BATCHES: u64 = 3_000;
    const BATCHED: u64 = 1 << 40;
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let agency = Agency::builder().storage(storage.clone()).build();
    let a = agency.topic::<u64>("a", Delivery::exactly_once())?;
    let b = agency.topic::<u64>("b", Delivery::at_least_once())?;
    let start = Arc::new(Barrier::new(3));
    let done = Arc::new(AtomicBool::new(false));
    let publishers: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|topic| {
            let (start, done) = (start.clone(), done.clone());
            thread::spawn(move || -> Result<u64, Error> {
                let publisher = topic.publisher();
                start.wait();
                let mut published = 0;
                while !done.load(Ordering::Relaxed) {
                    publisher.publish(published)?;
                    published += 1;
                }
                Ok(published)
            })
        })
        .collect();
    start.wait();
    let mut landed = Vec::new();
    for i in 0..BATCHES {
        let (_, head_a) = a.bounds()?;
        let (_, head_b) = b.bounds()?;
        let mut batch = WriteBatch::new();
        batch
            .push_append(Append::new(a.name().clone(), encoded(BATCHED + i)?).expecting(head_a))
            .push_append(Append::new(b.name().clone(), encoded(BATCHED + i)?).expecting(head_b))
            .push_commit(CursorCommit::new(
                a.name().clone(),
                omg::Name::new("c")?,
                head_a + 1,
            ));
        let outcome = storage
            .submit(batch, Admission::Queue)
            .map_err(|_| "submit refused")?
            .wait();
        match outcome {
            Ok(appended) => {
                let offsets: Vec<u64> = appended.iter().map(|x| x.offset).collect();
                assert_eq!(offsets, [head_a, head_b], "batch {i}");
                landed.push((i, head_a, head_b));
            }
            Err(Error::Conflict { .. }) => {}
            Err(other) => return Err(other.into()),
        }
    }
    done.store(true, Ordering::Relaxed);
    let mut published = Vec::new();
    for publisher in publishers {
        published.push(publisher.join().map_err(|_| "publisher panicked")??);
    }
    assert!(!landed.is_empty(), "no batch landed: the race was not run");
    for ((topic, pick), inline) in [(&a, 1), (&b, 2)].into_iter().zip(published) {
        let total = inline + landed.len() as u64;
        assert_eq!(topic.bounds()?, (0, total), "dense offsets");
        let mut cursor = topic.cursor(StartAt::Earliest)?;
        let values: Vec<u64> = (0..total)
            .map(|_| cursor.recv().map(|r| r.value))
            .collect::<Result<_, _>>()?;
        let inline: Vec<u64> = values.iter().copied().filter(|v| *v < BATCHED).collect();
        assert_eq!(
            inline,
            (0..inline.len() as u64).collect::<Vec<_>>(),
            "order"
        );
        for &(i, head_a, head_b) in &landed {
            let offset = if pick == 1 { head_a } else { head_b };
            assert_eq!(values[offset as usize], BATCHED + i, "batch {i} in place");
        }
    }
    let last = landed.last().map(|&(_, head_a, _)| head_a + 1);
    assert_eq!(
        storage.cursor_position(a.name(), &omg::Name::new("c")?)?,
        last
    );
    Ok(())
}
