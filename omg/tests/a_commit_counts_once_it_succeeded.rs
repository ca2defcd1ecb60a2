//! A named cursor believes a position committed only once a commit of it
//! succeeded: a failed commit is written again by the next one, and
//! `committed()` never reports a position nobody committed.

use std::sync::atomic::Ordering;

use omg::{CommitPolicy, StartAt};

#[path = "common/gated.rs"]
mod gated;

use gated::three_messages;

type R = Result<(), Box<dyn std::error::Error>>;

/// A commit that failed is not recorded as done: calling `commit` again
/// writes the position.
#[test]
fn commit_after_a_failed_commit_writes_the_position() -> R {
    let (storage, _agency, mut cursor) = three_messages(CommitPolicy::Manual)?;
    cursor.recv()?;
    cursor.recv()?;
    storage.fail_commits.store(1, Ordering::SeqCst);
    assert!(cursor.commit().is_err(), "the injected failure is reported");
    assert_eq!(
        cursor.committed(),
        Some(0),
        "a failed commit does not count"
    );
    // Retry: must reach the storage.
    cursor.commit()?;
    let stored = storage.stored("t", "c")?;
    assert_eq!(
        stored,
        Some(2),
        "commit() returned Ok after a failed commit without writing anything"
    );
    assert_eq!(cursor.committed(), Some(2));
    Ok(())
}

/// The same through `try_commit`: once the failed receipt's result was
/// taken, the next `try_commit` writes the position again; while a receipt
/// is out, it does not write twice.
#[test]
fn try_commit_after_a_failed_receipt_writes_the_position() -> R {
    let (storage, _agency, mut cursor) = three_messages(CommitPolicy::Manual)?;
    cursor.recv()?;
    storage.fail_commits.store(1, Ordering::SeqCst);
    let mut failed = cursor.try_commit()?.ok_or("a position to commit")?;
    assert!(cursor.try_commit()?.is_none(), "its receipt is still out");
    assert!(matches!(failed.try_result(), Some(Err(_))));
    let retried = cursor.try_commit()?.ok_or("the failed position again")?;
    assert_eq!(retried.wait()?, 1);
    assert_eq!(storage.stored("t", "c")?, Some(1));
    assert!(cursor.try_commit()?.is_none(), "committed now");
    assert_eq!(cursor.committed(), Some(1));
    Ok(())
}

/// `seek` must not make `committed()` report a position nobody committed;
/// the next commit still writes the new position.
#[test]
fn seek_keeps_reporting_the_last_committed_position() -> R {
    let (storage, _agency, mut cursor) = three_messages(CommitPolicy::Manual)?;
    cursor.recv()?;
    cursor.commit()?;
    assert_eq!(cursor.committed(), Some(1));
    cursor.seek(StartAt::Earliest)?;
    assert_eq!(
        cursor.committed(),
        Some(1),
        "after seek, committed() reports a position that was never committed"
    );
    cursor.commit()?;
    assert_eq!(storage.stored("t", "c")?, Some(0));
    assert_eq!(cursor.committed(), Some(0));
    Ok(())
}
