//! Two agencies may share one storage: what one does to the storage —
//! deleting a topic, closing the storage at shutdown — reaches the other's
//! handles, which fail or wake with a named error instead of going stale.

use std::{sync::Arc, time::Duration};

use omg::{
    Agency, Delivery, Error, RecvError, StartAt, StorageErrorKind,
    storage::{MemoryStorage, Storage},
};

type R = Result<(), Box<dyn std::error::Error>>;

/// Two agencies over one new in-memory storage.
fn two_agencies() -> (Agency, Agency) {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let a = Agency::builder().storage(storage.clone()).build();
    let b = Agency::builder().storage(storage).build();
    (a, b)
}

/// After one agency deletes a topic, the other declaring the name again gets
/// a new, usable topic, not its old handle that fails with `Deleted` forever.
#[test]
fn redeclaring_a_topic_deleted_through_another_agency_gives_a_live_topic() -> R {
    let (a, b) = two_agencies();
    let _ta = a.topic::<u64>("t", Delivery::exactly_once())?;
    let tb = b.topic::<u64>("t", Delivery::exactly_once())?;
    tb.publisher().publish(1)?;
    a.delete_topic("t")?;
    assert!(matches!(
        tb.publisher().publish(2),
        Err(Error::Deleted { .. })
    ));
    let again = b.topic::<u64>("t", Delivery::exactly_once())?;
    let published = again.publisher().publish(3);
    assert_eq!(published.ok(), Some(0), "redeclared topic is not a new one");
    // The old handle stays dead; the other agency sees the new topic.
    assert!(matches!(
        tb.publisher().publish(4),
        Err(Error::Deleted { .. })
    ));
    let in_a = a.topic::<u64>("t", Delivery::exactly_once())?;
    let mut cursor = in_a.cursor(StartAt::Earliest)?;
    assert_eq!(cursor.try_recv().map(|r| r.value).ok(), Some(3));
    Ok(())
}

/// A topic one agency deleted no longer exists for the other either.
#[test]
fn deleting_a_topic_another_agency_deleted_reports_it_did_not_exist() -> R {
    let (a, b) = two_agencies();
    let _ta = a.topic::<u64>("t", Delivery::exactly_once())?;
    let _tb = b.topic::<u64>("t", Delivery::exactly_once())?;
    assert!(a.delete_topic("t")?);
    assert!(!b.delete_topic("t")?);
    Ok(())
}

/// When one agency shuts down it closes the storage. A reader of the other
/// agency blocked in `recv` wakes with the storage's `Closed` error (its own
/// agency did not shut down); once that agency shuts down too, it reports
/// `ShutDown` like every handle of a shut-down agency.
#[test]
fn blocked_reader_wakes_when_its_shared_storage_is_closed() -> R {
    let (a, b) = two_agencies();
    let topic = b.topic::<u64>("t", Delivery::exactly_once())?;
    let mut cursor = topic.cursor(StartAt::Latest)?;
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let _ = tx.send(cursor.recv().map(|r| r.value));
        cursor
    });
    std::thread::sleep(Duration::from_millis(50));
    a.shutdown();
    let woke = rx.recv_timeout(Duration::from_secs(2));
    assert!(
        matches!(
            &woke,
            Ok(Err(RecvError::Failed(Error::Storage(e)))) if e.kind() == StorageErrorKind::Closed
        ),
        "the reader did not wake with the storage's Closed error: {woke:?}"
    );
    assert!(!b.is_shut_down());
    assert!(matches!(
        topic.publisher().publish(1),
        Err(Error::Storage(e)) if e.kind() == StorageErrorKind::Closed
    ));
    let mut cursor = reader.join().map_err(|_| "reader panicked")?;
    assert!(
        cursor.next().is_none(),
        "a closed storage ends the cursor's iterator (Closed is terminal)"
    );
    b.shutdown();
    assert!(matches!(
        cursor.recv(),
        Err(RecvError::Failed(Error::ShutDown))
    ));
    assert!(matches!(topic.publisher().publish(1), Err(Error::ShutDown)));
    Ok(())
}
