//! The host at its edges: a successful tick ends a run of failures; a shutdown during the state factory's backoff stops without
//! building again, and that backoff shows as `BackingOff`; intervals and
//! backoffs beyond the clock's range do not kill the handler thread.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use omg::{Agency, Delivery, StartAt};
use omg_std::{Handler, HandlerHandle, HandlerStatus, Host, RestartPolicy};

/// Polls `done`; the deadline only guards against a hang.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Failures separated by a successful tick are not consecutive: a handler
/// allowed one restart in a row keeps running when its tick fails every
/// other time.
#[test]
fn a_successful_tick_ends_a_run_of_consecutive_failures() -> Result<(), Box<dyn std::error::Error>>
{
    let agency = Agency::in_memory();
    let host = Host::new(&agency);
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let handler: HandlerHandle = host.spawn_handler(
        Handler::new("ticker", || ())
            .tick(Duration::from_millis(1), move |()| {
                // Calls 1 and 3 fail; every other call succeeds.
                match c.fetch_add(1, Ordering::SeqCst) + 1 {
                    1 | 3 => Err("flaky".into()),
                    _ => Ok(()),
                }
            })
            .restart(
                RestartPolicy::restart()
                    .with_backoff(Duration::from_millis(1), Duration::from_millis(1))
                    .with_max_restarts(1),
            ),
    )?;
    wait_until("three good ticks or the end of the handler", || {
        handler.stats().ticks >= 3 || handler.status().is_finished()
    });
    assert_eq!(
        handler.status(),
        HandlerStatus::Running,
        "two failures separated by a good tick stopped the handler: {:?}",
        handler.stats()
    );
    host.shutdown()?;
    Ok(())
}

/// While the host waits out the backoff after the state factory panicked,
/// the handler reports `BackingOff`.
#[test]
fn status_is_backing_off_while_waiting_to_rebuild_after_a_factory_panic()
-> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let host = Host::new(&agency);
    let handler = host.spawn_handler(
        Handler::new("fragile", || -> () { panic!("no state") }).restart(
            RestartPolicy::restart()
                .with_backoff(Duration::from_secs(3600), Duration::from_secs(3600)),
        ),
    )?;
    wait_until("the handler to back off", || {
        handler.status() == HandlerStatus::BackingOff
    });
    host.shutdown()?;
    Ok(())
}

/// A shutdown that interrupts the backoff after a factory panic stops the
/// handler (status `Stopped`, as for a shutdown during any other backoff),
/// without calling the factory again.
#[test]
fn a_shutdown_during_the_factory_backoff_stops_without_building_again()
-> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let host = Host::new(&agency);
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let handler = host.spawn_handler(
        Handler::new("fragile", move || -> () {
            c.fetch_add(1, Ordering::SeqCst);
            panic!("no state")
        })
        .restart(
            RestartPolicy::restart()
                .with_backoff(Duration::from_secs(3600), Duration::from_secs(3600)),
        ),
    )?;
    wait_until("the first factory failure", || {
        handler.stats().failures >= 1
    });
    host.shutdown()?;
    assert_eq!(
        (
            calls.load(Ordering::SeqCst),
            handler.stats().failures,
            handler.status()
        ),
        (1, 1, HandlerStatus::Stopped),
        "(factory calls, failures, status) after a shutdown during the backoff"
    );
    Ok(())
}

/// A very long tick interval (say `Duration::MAX`, "practically never") is
/// accepted by `Handler::tick`; the handler must still handle its messages.
#[test]
fn a_tick_interval_beyond_the_clock_does_not_kill_the_handler()
-> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let numbers = agency.topic::<u64>("numbers", Delivery::exactly_once())?;
    let host = Host::new(&agency);
    let (tx, rx) = crossbeam_channel::unbounded::<u64>();
    let handler = host.spawn_handler(
        Handler::new("slow-ticker", move || tx.clone())
            .subscribe(numbers.cursor(StartAt::Earliest)?, |tx, e| {
                tx.send(*e.value())?;
                Ok(())
            })
            .tick(Duration::MAX, |_| Ok(())),
    )?;
    numbers.publisher().publish(7)?;
    // The timeout only guards against a hang.
    let got = rx.recv_timeout(Duration::from_secs(10));
    let status = handler.status();
    let outcome = host.shutdown();
    assert_eq!(got.ok(), Some(7), "status {status:?}, shutdown {outcome:?}");
    outcome?;
    Ok(())
}
