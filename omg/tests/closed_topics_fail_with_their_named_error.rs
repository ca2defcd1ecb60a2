//! Once the agency shut down or a topic was deleted, every path of its
//! handles fails with `ShutDown` or `Deleted` — cursors with messages still
//! buffered, commits, receipts completing later — and a deleted topic's
//! cursor never writes into a new topic of the same name.

use omg::{Agency, CommitPolicy, Delivery, Error, StartAt, TryRecvError};

#[path = "common/gated.rs"]
mod gated;

use gated::gated;

type R = Result<(), Box<dyn std::error::Error>>;

/// After `shutdown`, every cursor fails with `ShutDown` "from now on" —
/// also one that still holds messages it copied before.
#[test]
fn cursor_fails_with_shut_down_after_shutdown_even_with_buffered_messages() -> R {
    for delivery in [Delivery::at_most_once_keep(10), Delivery::exactly_once()] {
        let agency = Agency::in_memory();
        let topic = agency.topic::<u64>("t", delivery)?;
        for n in 0..5 {
            topic.publisher().publish(n)?;
        }
        let mut cursor = topic.cursor(StartAt::Earliest)?;
        cursor.recv()?;
        agency.shutdown();
        let result = cursor.try_recv();
        assert!(
            matches!(result, Err(TryRecvError::Failed(Error::ShutDown))),
            "{delivery}: got {result:?}"
        );
    }
    Ok(())
}

/// After `delete_topic`, a cursor does not go on handing out deleted
/// messages from its buffer, on every class.
#[test]
fn cursor_fails_with_deleted_after_delete_even_with_buffered_messages() -> R {
    for delivery in [Delivery::at_most_once_keep(10), Delivery::exactly_once()] {
        let agency = Agency::in_memory();
        let topic = agency.topic::<u64>("t", delivery)?;
        for n in 0..5 {
            topic.publisher().publish(n)?;
        }
        let mut cursor = topic.cursor(StartAt::Earliest)?;
        cursor.recv()?;
        agency.delete_topic("t")?;
        let result = cursor.try_recv();
        assert!(
            matches!(&result, Err(TryRecvError::Failed(Error::Deleted { topic })) if topic.as_str() == "t"),
            "{delivery}: got {result:?}"
        );
    }
    Ok(())
}

/// A cursor of a deleted topic must not write its old position into a new
/// topic declared under the same name: a named cursor of the new topic
/// would silently skip its first messages.
#[test]
fn stale_cursor_of_a_deleted_topic_does_not_commit_into_its_successor() -> R {
    let (storage, agency) = gated();
    let old = agency.topic::<u64>("t", Delivery::exactly_once())?;
    for n in 0..3 {
        old.publisher().publish(n)?;
    }
    let mut stale = old.named_cursor("c", StartAt::Earliest)?;
    for _ in 0..3 {
        stale.recv()?;
    }
    agency.delete_topic("t")?;
    let new = agency.topic::<u64>("t", Delivery::exactly_once())?;
    for n in 10..13 {
        new.publisher().publish(n)?;
    }
    // The old handle fails with Deleted, as documented...
    assert!(matches!(
        stale.try_recv(),
        Err(TryRecvError::Failed(Error::Deleted { .. }))
    ));
    assert!(matches!(stale.commit(), Err(Error::Deleted { .. })));
    assert!(matches!(stale.try_commit(), Err(Error::Deleted { .. })));
    // ...and wrote nothing into the new topic.
    assert_eq!(storage.stored("t", "c")?, None);
    let mut fresh = new.named_cursor("c", StartAt::Earliest)?;
    let first = fresh.try_recv().map(|r| (r.offset, r.value));
    assert_eq!(
        first.ok(),
        Some((0, 10)),
        "the new topic's cursor \"c\" starts at {} (committed by the deleted topic's cursor)",
        fresh.position()
    );
    Ok(())
}

/// `Cursor::commit` on a deleted topic reports `Error::Deleted` (its
/// documented errors), not the storage's internal `UnknownTopic`.
#[test]
fn commit_on_a_deleted_topic_reports_deleted() -> R {
    let agency = Agency::in_memory();
    let topic = agency.topic::<u64>("t", Delivery::exactly_once())?;
    topic.publisher().publish(1)?;
    let mut cursor = topic
        .named_cursor("c", StartAt::Earliest)?
        .with_commit_policy(CommitPolicy::Manual);
    cursor.recv()?;
    agency.delete_topic("t")?;
    let result = cursor.commit();
    assert!(
        matches!(result, Err(Error::Deleted { .. })),
        "got {result:?}"
    );
    Ok(())
}

/// A `try_publish` receipt that completes after the topic was deleted
/// reports `Error::Deleted`, as `publish` does for the same write.
#[test]
fn pending_receipt_of_a_deleted_topic_reports_deleted() -> R {
    let (storage, agency) = gated();
    let topic = agency.topic::<u64>("t", Delivery::exactly_once())?;
    storage
        .hold
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let receipt = topic
        .publisher()
        .try_publish(1)
        .map_err(|e| e.to_string())?;
    agency.delete_topic("t")?;
    storage.release();
    let result = receipt.wait();
    assert!(
        matches!(result, Err(Error::Deleted { .. })),
        "got {result:?}"
    );
    assert_eq!(storage.stored("t", "c")?, None);
    Ok(())
}
