//! The in-memory storage keeps timestamps non-decreasing within a topic (as
//! omg-sqlite does with its stored `last_ts`), also once retention trimmed
//! every record.

use std::{sync::Arc, time::Duration};

use omg::{
    Agency, Delivery, Name, Timestamp,
    storage::{Admission, Append, MemoryStorage, ReadBuf, Storage, WriteBatch},
};

type R = Result<(), Box<dyn std::error::Error>>;

#[test]
fn timestamps_stay_non_decreasing_after_retention_trimmed_everything() -> R {
    let storage = Arc::new(MemoryStorage::new());
    let agency = Agency::builder().storage(storage.clone()).build();
    agency.topic::<u64>("t", Delivery::at_least_once_retain(Duration::from_secs(1)))?;
    let topic = Name::new("t")?;
    // Appends straight to the storage, with a timestamp of our choosing.
    let append = |micros: i64| -> R {
        let mut a = Append::new(topic.clone(), vec![0]);
        a.timestamp = Timestamp::from_micros(micros);
        storage
            .submit(WriteBatch::append(a), Admission::Queue)
            .map_err(|_| "refused")?
            .wait()?;
        Ok(())
    };
    append(10_000_000)?;
    assert_eq!(storage.trim_expired(Timestamp::from_micros(20_000_000))?, 1);
    append(5_000_000)?;
    let mut buf = ReadBuf::new();
    storage.read(&topic, 0, 10, &mut buf)?;
    let ts = buf.get(0).map(|r| (r.offset, r.timestamp.as_micros()));
    assert_eq!(
        ts,
        Some((1, 10_000_000)),
        "offset 1 got a timestamp earlier than offset 0's"
    );
    Ok(())
}
