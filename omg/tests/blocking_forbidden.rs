//! With a blocking detector registered, blocking calls fail with
//! `BlockingForbidden` where it says so, and work everywhere else.
//! Its own binary: detectors are process-wide.

use std::cell::Cell;

use omg::{Agency, Delivery, Error, RecvError, StartAt};

thread_local! {
    static FORBIDDEN: Cell<bool> = const { Cell::new(false) };
}

fn detector() -> Option<&'static str> {
    FORBIDDEN.with(Cell::get).then_some("a test frame")
}

#[test]
fn blocking_calls_fail_where_forbidden() -> omg::Result<()> {
    omg::register_blocking_detector(detector);
    let agency = Agency::in_memory();
    let topic = agency.topic::<u64>("b", Delivery::exactly_once())?;
    let publisher = topic.publisher();
    let mut cursor = topic.named_cursor("c", StartAt::Earliest)?;

    assert_eq!(publisher.publish(1)?, 0, "allowed on this thread");

    FORBIDDEN.with(|f| f.set(true));
    assert!(matches!(
        publisher.publish(2),
        Err(Error::BlockingForbidden {
            call: "Publisher::publish",
            context: "a test frame"
        })
    ));
    assert!(matches!(
        cursor.recv(),
        Err(RecvError::Failed(Error::BlockingForbidden { .. }))
    ));
    assert!(matches!(
        cursor.commit(),
        Err(Error::BlockingForbidden { .. })
    ));
    // The non-blocking flavours still work.
    assert_eq!(cursor.try_recv().ok().map(|r| r.value), Some(1));
    let receipt = publisher
        .try_publish(3)
        .map_err(|e| e.error().cloned().unwrap_or(Error::ShutDown))?;
    FORBIDDEN.with(|f| f.set(false));

    assert_eq!(receipt.wait()?, 1, "the refused publish appended nothing");
    assert_eq!(topic.bounds()?, (0, 2));
    Ok(())
}
