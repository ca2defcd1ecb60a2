//! With `CommitPolicy::BeforeProcessing` a named cursor commits past a
//! message before handing it out, in every flavour — and a message whose
//! commit failed is not lost: the call reports the failure and the next
//! receive returns the message.

use std::{
    pin::Pin,
    sync::atomic::Ordering,
    task::{Context, Poll, Waker},
};

use futures_core::Stream;
use omg::{CommitPolicy, RecvError, TryRecvError};

#[path = "common/gated.rs"]
mod gated;

use gated::three_messages;

type R = Result<(), Box<dyn std::error::Error>>;

/// Read as a `Stream`, the cursor commits past what it yields, as `recv`,
/// `recv_async`, `try_recv` and the `Iterator` do.
#[test]
fn stream_with_before_processing_commits_what_it_yields() -> R {
    let (storage, _agency, mut cursor) = three_messages(CommitPolicy::BeforeProcessing)?;
    let mut cx = Context::from_waker(Waker::noop());
    for n in 0..3 {
        match Pin::new(&mut cursor).poll_next(&mut cx) {
            Poll::Ready(Some(Ok(record))) => assert_eq!(record.value, n),
            other => panic!("expected message {n}, got {other:?}"),
        }
        assert_eq!(
            storage.stored("t", "c")?,
            Some(n + 1),
            "committed before yielding"
        );
    }
    // Keep polling until it is idle: nothing else is committed.
    for _ in 0..40 {
        assert!(Pin::new(&mut cursor).poll_next(&mut cx).is_pending());
    }
    let stored = storage.stored("t", "c")?;
    assert_eq!(
        stored,
        Some(3),
        "the stream yielded 0..3 but committed {stored:?}"
    );
    assert_eq!(cursor.committed(), Some(3));
    Ok(())
}

/// A `recv` whose commit failed did not hand the message out; the next
/// `recv` returns it (committing again) instead of skipping past it.
#[test]
fn before_processing_recv_whose_commit_failed_does_not_skip_the_message() -> R {
    let (storage, _agency, mut cursor) = three_messages(CommitPolicy::BeforeProcessing)?;
    storage.fail_commits.store(1, Ordering::SeqCst);
    assert!(matches!(cursor.recv(), Err(RecvError::Failed(_))));
    assert_eq!(
        (cursor.position(), cursor.delivered()),
        (0, 0),
        "nothing taken"
    );
    let next = cursor.recv();
    assert!(
        matches!(next, Ok(ref r) if r.offset == 0),
        "message 0 was not delivered after its failed commit: got {next:?}"
    );
    assert_eq!(storage.stored("t", "c")?, Some(1));
    Ok(())
}

/// A `try_recv` that reports an earlier background commit's failure takes
/// no message; the next one returns the message after the last handed out.
#[test]
fn before_processing_try_recv_reporting_a_failed_commit_does_not_drop_a_message() -> R {
    let (storage, _agency, mut cursor) = three_messages(CommitPolicy::BeforeProcessing)?;
    storage.fail_commits.store(1, Ordering::SeqCst);
    assert_eq!(cursor.try_recv().ok().map(|r| r.offset), Some(0));
    // The failure of the commit past 0 is reported now.
    assert!(matches!(cursor.try_recv(), Err(TryRecvError::Failed(_))));
    let next = cursor.try_recv();
    assert!(
        matches!(next, Ok(ref r) if r.offset == 1),
        "message 1 was not delivered after the reported failure: got {next:?}"
    );
    assert_eq!(storage.stored("t", "c")?, Some(2));
    Ok(())
}
