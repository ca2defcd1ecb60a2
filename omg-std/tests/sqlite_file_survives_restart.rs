//! On a real SQLite file: a panicking handler gets its message again (read
//! back from the file) with a higher delivery count, the host commits after
//! handling, and a new process on the same file continues exactly after the
//! last handled message.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use omg::{Agency, Delivery, StartAt};
use omg_sqlite::SqliteStorage;
use omg_std::{Handler, HandlerHandle, Host, RestartPolicy};

type Log = Arc<Mutex<Vec<(u64, u32)>>>;

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// One process's life: open the file, publish `publish`, handle until
/// `handled` messages were handled, shut down.
fn process(
    path: &std::path::Path,
    publish: std::ops::Range<u64>,
    handled: u64,
    log: &Log,
) -> Result<HandlerHandle, Box<dyn std::error::Error>> {
    let agency = Agency::builder()
        .storage(Arc::new(SqliteStorage::open(path)?))
        .build();
    let jobs = agency.topic::<u64>("jobs", Delivery::exactly_once())?;
    for n in publish {
        jobs.publisher().publish(n)?;
    }
    let host = Host::builder(&agency)
        .restart_policy(
            RestartPolicy::restart()
                .with_backoff(Duration::from_millis(1), Duration::from_millis(1)),
        )
        .build();
    let log = log.clone();
    let handler = host.spawn_handler(Handler::new("jobs", move || log.clone()).subscribe(
        jobs.named_cursor("jobs", StartAt::Earliest)?,
        |log, e| {
            assert_eq!(*e.value(), e.offset());
            log.lock()
                .map_err(|_| "poisoned")?
                .push((e.offset(), e.attempt));
            if e.offset() == 40 && e.attempt == 1 {
                panic!("offset 40 fails once");
            }
            Ok(())
        },
    ))?;
    wait_until("the jobs", || handler.stats().handled == handled);
    host.shutdown()?;
    agency.shutdown();
    Ok(handler)
}

#[test]
fn a_sqlite_file_keeps_positions_across_failures_and_restarts()
-> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("omg.db");

    let first: Log = Arc::default();
    let handler = process(&path, 0..100, 100, &first)?;
    let mut expected: Vec<(u64, u32)> = (0..=40).map(|o| (o, 1)).collect();
    expected.push((40, 2));
    expected.extend((41..100).map(|o| (o, 1)));
    assert_eq!(*first.lock().unwrap(), expected);
    let s = handler.stats();
    assert_eq!(
        (s.handled, s.failures, s.restarts, s.redeliveries),
        (100, 1, 1, 1)
    );

    let second: Log = Arc::default();
    let handler = process(&path, 100..150, 50, &second)?;
    assert_eq!(
        *second.lock().unwrap(),
        (100..150).map(|o| (o, 1)).collect::<Vec<_>>()
    );
    assert_eq!(handler.stats().failures, 0);
    Ok(())
}
