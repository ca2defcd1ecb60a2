//! Every bad input gets its named error, and nothing is half-done.

use std::{sync::atomic::Ordering, thread, time::Duration};

use omg::{
    Agency, Delivery, Error, MAX_KEY_LEN, MAX_NAME_LEN, Name, RecvError, StartAt,
    TryPublishFailure, TryRecvError,
};

#[path = "common/gated.rs"]
mod gated;

use gated::gated;

#[test]
fn redeclaring_with_another_class_options_or_type_is_a_mismatch() -> omg::Result<()> {
    let agency = Agency::in_memory();
    agency.topic::<u64>("ring", Delivery::at_most_once_keep(4))?;
    agency.topic::<u64>("log", Delivery::exactly_once())?;
    let ring = "at-most-once (keep 4) of u64";
    let log = "exactly-once of u64";
    for (refused, topic, existing, requested) in [
        (
            agency
                .topic::<u64>("ring", Delivery::at_most_once_keep(5))
                .map(drop),
            "ring",
            ring,
            "at-most-once (keep 5) of u64",
        ),
        (
            agency
                .topic::<u64>("ring", Delivery::exactly_once())
                .map(drop),
            "ring",
            ring,
            "exactly-once of u64",
        ),
        (
            agency
                .topic::<String>("ring", Delivery::at_most_once_keep(4))
                .map(drop),
            "ring",
            ring,
            "at-most-once (keep 4) of alloc::string::String",
        ),
        (
            agency
                .topic::<u64>("log", Delivery::at_least_once())
                .map(drop),
            "log",
            log,
            "at-least-once (retain 604800s) of u64",
        ),
        (
            agency
                .topic::<u64>("log", Delivery::at_most_once())
                .map(drop),
            "log",
            log,
            "at-most-once (keep 1) of u64",
        ),
        (
            agency
                .topic::<i64>("log", Delivery::exactly_once())
                .map(drop),
            "log",
            log,
            "exactly-once of i64",
        ),
    ] {
        match refused {
            Err(Error::TopicMismatch {
                topic: t,
                existing: e,
                requested: r,
            }) => assert_eq!(
                (t.as_str(), e.as_str(), r.as_str()),
                (topic, existing, requested)
            ),
            other => panic!("expected TopicMismatch on {topic}, got {other:?}"),
        }
    }
    // The same declaration again is fine.
    agency.topic::<u64>("ring", Delivery::at_most_once_keep(4))?;
    agency.topic::<u64>("log", Delivery::exactly_once())?;
    Ok(())
}

/// `Delivery::AtMostOnce { keep: 0 }` is declared as keep 1 (the documented
/// minimum): redeclaring with the same effective options is not a mismatch,
/// and the topic reports what it runs with.
#[test]
fn at_most_once_with_keep_zero_redeclares_as_keep_one() -> omg::Result<()> {
    let agency = Agency::in_memory();
    let first = agency.topic::<u64>("t", Delivery::AtMostOnce { keep: 0 })?;
    assert_eq!(first.delivery(), Delivery::at_most_once());
    let again = agency.topic::<u64>("t", Delivery::at_most_once_keep(0))?;
    assert_eq!(again.delivery(), Delivery::at_most_once());
    agency.topic::<u64>("t", Delivery::at_most_once())?;
    let listed = agency.topics()?;
    assert_eq!(
        listed.iter().map(|s| s.delivery).collect::<Vec<_>>(),
        [Delivery::at_most_once()]
    );
    Ok(())
}

#[test]
fn every_handle_fails_with_shut_down() -> omg::Result<()> {
    let agency = Agency::in_memory();
    let ring = agency.topic::<u64>("ring", Delivery::at_most_once_keep(4))?;
    let log = agency.topic::<u64>("log", Delivery::exactly_once())?;
    let mut ring_cursor = ring.cursor(StartAt::Earliest)?;
    let mut log_cursor = log.named_cursor("c", StartAt::Earliest)?;
    log.publisher().publish(1)?;
    assert_eq!(log_cursor.recv().map(|r| r.value).ok(), Some(1));
    agency.shutdown();
    agency.shutdown(); // idempotent
    assert!(agency.is_shut_down());
    assert!(matches!(
        agency.topic::<u64>("new", Delivery::exactly_once()),
        Err(Error::ShutDown)
    ));
    for topic in [&ring, &log] {
        assert!(matches!(topic.publisher().publish(2), Err(Error::ShutDown)));
        assert!(matches!(
            topic.cursor(StartAt::Earliest),
            Err(Error::ShutDown)
        ));
        let refused = topic.publisher().try_publish(3).err().map(|e| {
            let shut = matches!(e.error(), Some(Error::ShutDown));
            (shut, e.into_inner())
        });
        assert_eq!(
            refused,
            Some((true, 3)),
            "try_publish gives the message back"
        );
    }
    assert!(matches!(
        ring_cursor.recv(),
        Err(RecvError::Failed(Error::ShutDown))
    ));
    assert!(matches!(
        log_cursor.recv(),
        Err(RecvError::Failed(Error::ShutDown))
    ));
    assert!(matches!(log_cursor.commit(), Err(Error::ShutDown)));
    Ok(())
}

#[test]
fn a_message_over_the_maximum_is_too_large() -> omg::Result<()> {
    let agency = Agency::builder().max_message_size(16).build();
    assert_eq!(agency.max_message_size(), 16);
    for (i, delivery) in [Delivery::at_least_once(), Delivery::exactly_once()]
        .into_iter()
        .enumerate()
    {
        let topic = agency.topic::<Vec<u8>>(&format!("big{i}"), delivery)?;
        // postcard: one length byte + 15 bytes = 16, the maximum.
        assert_eq!(topic.publisher().publish(vec![0; 15])?, 0);
        match topic.publisher().publish(vec![0; 16]) {
            Err(Error::TooLarge { size, max, .. }) => assert_eq!((size, max), (17, 16)),
            other => panic!("expected TooLarge, got {other:?}"),
        }
        // One length byte + 40 bytes.
        match topic.publisher().try_publish(vec![1; 40]) {
            Err(refused) => {
                match refused.reason() {
                    TryPublishFailure::Failed(Error::TooLarge {
                        topic: t,
                        size,
                        max,
                    }) => assert_eq!((t.as_str(), *size, *max), (topic.name().as_str(), 41, 16)),
                    other => panic!("expected TooLarge, got {other:?}"),
                }
                assert_eq!(refused.into_inner(), vec![1; 40], "the message comes back");
            }
            Ok(_) => panic!("a message over the maximum was accepted"),
        }
        assert_eq!(
            topic.bounds()?.1,
            1,
            "nothing of the refused messages was appended"
        );
    }
    // At-most-once messages are never encoded: the limit does not apply.
    let ring = agency.topic::<Vec<u8>>("ring", Delivery::at_most_once())?;
    assert_eq!(ring.publisher().publish(vec![0; 100])?, 0);
    Ok(())
}

#[test]
fn publishing_to_or_reading_from_a_deleted_topic_fails() -> omg::Result<()> {
    let agency = Agency::in_memory();
    for (i, delivery) in [Delivery::at_most_once_keep(2), Delivery::at_least_once()]
        .into_iter()
        .enumerate()
    {
        let name = format!("gone{i}");
        let topic = agency.topic::<u64>(&name, delivery)?;
        let mut blocked = topic.cursor(StartAt::Latest)?;
        let waiter = thread::spawn(move || blocked.recv());
        thread::sleep(Duration::from_millis(20));
        assert!(agency.delete_topic(&name)?);
        assert!(!agency.delete_topic(&name)?, "already gone");
        assert!(matches!(
            waiter.join().map_err(|_| Error::ShutDown)?,
            Err(RecvError::Failed(Error::Deleted { .. }))
        ));
        assert!(matches!(
            topic.publisher().publish(1),
            Err(Error::Deleted { .. })
        ));
        assert!(matches!(
            topic.cursor(StartAt::Earliest),
            Err(Error::Deleted { .. })
        ));
        assert!(
            agency
                .topics()?
                .iter()
                .all(|spec| spec.name.as_str() != name)
        );
    }
    Ok(())
}

/// `try_recv` on a cursor of a deleted durable topic fails with the
/// deletion (not `Empty`), and keeps failing.
#[test]
fn try_recv_on_a_deleted_durable_topic_fails() -> omg::Result<()> {
    let agency = Agency::in_memory();
    for (i, delivery) in [Delivery::at_least_once(), Delivery::exactly_once()]
        .into_iter()
        .enumerate()
    {
        let name = format!("deleted{i}");
        let topic = agency.topic::<u64>(&name, delivery)?;
        topic.publisher().publish(1)?;
        let mut cursor = topic.cursor(StartAt::Earliest)?;
        assert_eq!(
            cursor.try_recv().map(|r| (r.offset, r.value)).ok(),
            Some((0, 1))
        );
        assert!(matches!(cursor.try_recv(), Err(TryRecvError::Empty)));
        assert!(agency.delete_topic(&name)?);
        for _ in 0..2 {
            match cursor.try_recv() {
                Err(TryRecvError::Failed(Error::Deleted { topic })) => {
                    assert_eq!(topic.as_str(), name);
                }
                other => panic!("expected Failed(Deleted), got {other:?}"),
            }
        }
        assert_eq!(cursor.position(), 1);
    }
    Ok(())
}

#[test]
fn invalid_names_and_keys_are_refused() -> omg::Result<()> {
    let agency = Agency::in_memory();
    let too_long = "n".repeat(MAX_NAME_LEN + 1);
    for bad in ["", ".reserved", "has space", "ünïcode", too_long.as_str()] {
        assert!(
            matches!(
                agency.topic::<u64>(bad, Delivery::exactly_once()),
                Err(Error::InvalidName { .. })
            ),
            "{bad:?}"
        );
        assert!(matches!(Name::new(bad), Err(Error::InvalidName { .. })));
    }
    let topic = agency.topic::<u64>("ok", Delivery::exactly_once())?;
    assert!(matches!(
        topic.named_cursor("bad name", StartAt::Earliest),
        Err(Error::InvalidName { .. })
    ));
    let long_key = "k".repeat(MAX_KEY_LEN + 1);
    for key in ["", long_key.as_str()] {
        assert!(matches!(
            topic.publisher().publish_keyed(key, 1),
            Err(Error::InvalidKey { .. })
        ));
    }
    assert_eq!(
        topic
            .publisher()
            .publish_keyed(&"k".repeat(MAX_KEY_LEN), 1)?,
        0
    );
    assert_eq!(
        topic.bounds()?,
        (0, 1),
        "refused keyed publishes appended nothing"
    );
    Ok(())
}

#[test]
fn keys_and_named_cursors_on_at_most_once_are_unsupported() -> omg::Result<()> {
    let agency = Agency::in_memory();
    let ring = agency.topic::<u64>("ring", Delivery::at_most_once_keep(4))?;
    const KEYED: &str = "an idempotency key on an at-most-once topic";
    match ring.publisher().publish_keyed("k", 1) {
        Err(Error::Unsupported { what, .. }) => assert_eq!(what, KEYED),
        other => panic!("expected Unsupported, got {other:?}"),
    }
    match ring.named_cursor("c", StartAt::Earliest) {
        Err(Error::Unsupported { what, .. }) => {
            assert_eq!(what, "a named cursor on an at-most-once topic");
        }
        Err(other) => panic!("expected Unsupported, got {other:?}"),
        Ok(_) => panic!("a named cursor was opened on an at-most-once topic"),
    }
    match ring.publisher().try_publish_keyed("k", 5) {
        Err(refused) => {
            match refused.reason() {
                TryPublishFailure::Failed(Error::Unsupported { what, .. }) => {
                    assert_eq!(*what, KEYED);
                }
                other => panic!("expected Unsupported, got {other:?}"),
            }
            assert_eq!(refused.into_inner(), 5, "the message comes back");
        }
        Ok(_) => panic!("a keyed message was accepted on an at-most-once topic"),
    }
    assert_eq!(ring.bounds()?, (0, 0));
    Ok(())
}

#[test]
fn try_publish_on_a_full_queue_gives_the_message_back() -> omg::Result<()> {
    let (storage, agency) = gated();
    storage.full.store(true, Ordering::SeqCst);
    for (i, delivery) in [Delivery::at_least_once(), Delivery::exactly_once()]
        .into_iter()
        .enumerate()
    {
        let topic = agency.topic::<String>(&format!("full{i}"), delivery)?;
        let refused = topic.publisher().try_publish("kept".to_owned()).err();
        let refused = refused.map(|e| (e.is_full(), e.error().is_none(), e.into_inner()));
        assert_eq!(refused, Some((true, true, "kept".to_owned())));
        assert_eq!(topic.bounds()?, (0, 0), "nothing appended");
        // The blocking flavour queues regardless and succeeds.
        assert_eq!(topic.publisher().publish("queued".to_owned())?, 0);
    }
    Ok(())
}

/// A message whose `Serialize` impl always fails.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
struct Unencodable(u32);

impl serde::Serialize for Unencodable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this message refuses to be encoded",
        ))
    }
}

/// What [`Error::Encode`] carries for an [`Unencodable`] on `topic`.
fn is_encode_error(error: &Error, topic: &str) -> bool {
    match error {
        Error::Encode {
            topic: t,
            type_name,
            reason,
        } => {
            assert_eq!(t.as_str(), topic);
            assert_eq!(*type_name, std::any::type_name::<Unencodable>());
            // postcard replaces a custom serialisation error by its own
            // fixed text.
            assert_eq!(reason, "Serde Serialization Error");
            true
        }
        _ => false,
    }
}

#[test]
fn a_message_that_fails_to_serialize_is_an_encode_error() -> omg::Result<()> {
    let agency = Agency::in_memory();
    for (i, delivery) in [Delivery::at_least_once(), Delivery::exactly_once()]
        .into_iter()
        .enumerate()
    {
        let name = format!("unencodable{i}");
        let topic = agency.topic::<Unencodable>(&name, delivery)?;
        match topic.publisher().publish(Unencodable(1)) {
            Err(e) => assert!(is_encode_error(&e, &name), "expected Encode, got {e:?}"),
            Ok(offset) => panic!("an unencodable message was stored at {offset}"),
        }
        match topic.publisher().try_publish(Unencodable(2)) {
            Err(refused) => {
                match refused.reason() {
                    TryPublishFailure::Failed(e) if is_encode_error(e, &name) => {}
                    other => panic!("expected Encode, got {other:?}"),
                }
                assert_eq!(
                    refused.into_inner(),
                    Unencodable(2),
                    "the message comes back"
                );
            }
            Ok(_) => panic!("an unencodable message was accepted"),
        }
        assert_eq!(topic.bounds()?, (0, 0), "nothing was appended");
    }
    // At-most-once messages are never encoded: the failing impl is not run.
    let ring = agency.topic::<Unencodable>("ring", Delivery::at_most_once())?;
    assert_eq!(ring.publisher().publish(Unencodable(3))?, 0);
    Ok(())
}

/// `recv_timeout(Duration::MAX)` ("wait as long as it takes") is no
/// overflow: it returns a ready message, and waits for one that is not.
#[test]
fn recv_timeout_with_duration_max_returns_the_ready_message() -> omg::Result<()> {
    let agency = Agency::in_memory();
    let topic = agency.topic::<u64>("t", Delivery::exactly_once())?;
    topic.publisher().publish(7)?;
    let mut cursor = topic.cursor(StartAt::Earliest)?;
    let got = cursor.recv_timeout(Duration::MAX);
    assert_eq!(got.ok().flatten().map(|r| r.value), Some(7));
    let publisher = topic.publisher();
    let later = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        publisher.publish(8)
    });
    let got = cursor.recv_timeout(Duration::MAX);
    assert_eq!(got.ok().flatten().map(|r| r.value), Some(8));
    later.join().map_err(|_| Error::ShutDown)??;
    Ok(())
}
