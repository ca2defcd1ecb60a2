//! A handler's final commit fails when the agency was shut down before the
//! host: the host's shutdown still stops and joins every handler, then
//! reports the commit that failed as `HostError::Shutdown`, naming the
//! handler.

use std::time::Duration;

use omg::{Agency, Delivery, StartAt};
use omg_std::{Handler, HandlerStatus, Host, HostError, ShutdownFailure};

#[test]
fn a_commit_refused_by_a_shut_down_agency_is_a_shutdown_error()
-> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let orders = agency.topic::<u64>("orders", Delivery::exactly_once())?;
    orders.publisher().publish(7)?;

    let host = Host::new(&agency);
    let (entered_tx, entered) = crossbeam_channel::unbounded::<u64>();
    let (release, release_rx) = crossbeam_channel::unbounded::<()>();
    // The callback holds its message until the test lets it go, so the
    // handler is in hand (not reading its cursor) when the agency shuts down.
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

    agency.shutdown();
    host.handle().request_shutdown();
    release.send(())?;
    let outcome = host.shutdown();

    let Err(error) = outcome else {
        panic!("expected the final commit to fail, got {outcome:?}");
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
    // The message in hand was finished; only its commit failed.
    assert_eq!(audit.status(), HandlerStatus::Stopped);
    let stats = audit.stats();
    assert_eq!(stats.handled, 1);
    assert_eq!(stats.failures, 0);
    assert_eq!(stats.errors, 1);
    Ok(())
}
