//! A handler's final commit fails when the agency was shut down before the
//! host: the host's shutdown still stops and joins every handler, then
//! reports the commit that failed as `HostError::Shutdown`, naming the
//! handler — whether the handler was still holding its message when the
//! agency shut down, or had already seen its topic end.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use omg::{Agency, Delivery, StartAt};
use omg_std::{Handler, HandlerHandle, HandlerStatus, Host, HostError, ShutdownFailure};

/// A host whose handler `audit` holds message 7 of `orders` (named cursor
/// `audit`) until the test sends on the returned sender, once the handler
/// has taken it: in hand, not reading its cursor.
fn holding_message_7(
    agency: &Agency,
) -> Result<(Host, HandlerHandle, Sender<()>), Box<dyn std::error::Error>> {
    let orders = agency.topic::<u64>("orders", Delivery::exactly_once())?;
    orders.publisher().publish(7)?;
    let host = Host::new(agency);
    let (entered_tx, entered) = crossbeam_channel::unbounded::<u64>();
    let (release, release_rx): (Sender<()>, Receiver<()>) = crossbeam_channel::unbounded();
    let audit = host.spawn_handler(
        Handler::new("audit", move || (entered_tx.clone(), release_rx.clone())).subscribe(
            orders.named_cursor("audit", StartAt::Earliest)?,
            |(entered, release), e| {
                entered.send(*e.value())?;
                release.recv()?;
                Ok(())
            },
        ),
    )?;
    // The timeout only guards against a hang.
    assert_eq!(entered.recv_timeout(Duration::from_secs(60))?, 7);
    Ok((host, audit, release))
}

/// Checks `outcome` reports exactly one failed commit, of `audit`, refused
/// because the agency shut down, and that the message itself was handled.
fn assert_audit_commit_failed(outcome: Result<(), HostError>, audit: &HandlerHandle) {
    let Err(error) = outcome else {
        panic!(
            "message 7 was handled but never committed, yet shutdown returned {outcome:?} \
             (stats {:?})",
            audit.stats()
        );
    };
    assert_eq!(
        error.to_string(),
        "shutdown finished with 1 failure(s): audit: the agency was shut down"
    );
    match &error {
        HostError::Shutdown { failures } => match failures.as_slice() {
            [(handler, ShutdownFailure::Commit(omg::Error::ShutDown))] => {
                assert_eq!(handler, "audit");
            }
            other => panic!("expected one ShutDown commit failure, got {other:?}"),
        },
        other => panic!("expected HostError::Shutdown, got {other:?}"),
    }
    assert_eq!(audit.stats().handled, 1);
}

#[test]
fn a_commit_refused_by_a_shut_down_agency_is_a_shutdown_error()
-> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let (host, audit, release) = holding_message_7(&agency)?;
    agency.shutdown();
    host.handle().request_shutdown();
    release.send(())?;
    assert_audit_commit_failed(host.shutdown(), &audit);
    // The message in hand was finished; only its commit failed.
    assert_eq!(audit.status(), HandlerStatus::Stopped);
    let stats = audit.stats();
    assert_eq!(stats.failures, 0);
    assert_eq!(stats.errors, 1);
    Ok(())
}

/// The handler reads on after the agency shut down, finds its topic ended
/// and stops by itself, its message still uncommitted: the host's shutdown
/// reports that commit too, rather than returning `Ok`.
#[test]
fn an_uncommitted_message_is_reported_even_when_the_cursor_saw_the_agency_end()
-> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let (host, audit, release) = holding_message_7(&agency)?;
    agency.shutdown();
    release.send(())?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !audit.status().is_finished() {
        assert!(Instant::now() < deadline, "the handler never stopped");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_audit_commit_failed(host.shutdown(), &audit);
    Ok(())
}
