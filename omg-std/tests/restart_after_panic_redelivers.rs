//! A handler that panics (or returns an error) is restarted with a fresh
//! state; the message in hand on a durable topic is delivered again with a
//! higher delivery count, an at-most-once message is dropped, a handler
//! whose policy says stop stops without committing the failed message, and
//! a bystander handler keeps running throughout.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use omg::{Agency, Delivery, StartAt};
use omg_std::{Handler, HandlerHandle, HandlerStatus, Host, RestartPolicy};

const JOBS: u64 = 10;

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn fast() -> RestartPolicy {
    RestartPolicy::restart().with_backoff(Duration::from_millis(1), Duration::from_millis(4))
}

#[test]
fn failed_messages_are_delivered_again_and_others_keep_running()
-> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let jobs = agency.topic::<u64>("jobs", Delivery::exactly_once())?;
    let pings = agency.topic::<u64>("pings", Delivery::at_most_once_keep(16))?;
    let other = agency.topic::<u64>("other", Delivery::at_least_once())?;
    let fragile_topic = agency.topic::<u64>("fragile", Delivery::exactly_once())?;
    for n in 0..JOBS {
        jobs.publisher().publish(n)?;
    }
    let host = Host::builder(&agency).restart_policy(fast()).build();

    // The worker panics on offset 3 and refuses offset 6, the first time each.
    let builds = Arc::new(AtomicU32::new(0));
    let log: Arc<Mutex<Vec<(u64, u32)>>> = Arc::default();
    let (b, l) = (builds.clone(), log.clone());
    let worker = host.spawn_handler(
        Handler::new("worker", move || {
            b.fetch_add(1, Ordering::SeqCst);
            l.clone()
        })
        .subscribe(jobs.named_cursor("worker", StartAt::Earliest)?, |log, e| {
            log.lock().unwrap().push((e.offset(), e.attempt));
            assert_eq!(e.is_redelivery(), e.attempt > 1);
            match (e.offset(), e.attempt) {
                (3, 1) => panic!("boom at 3"),
                (6, 1) => Err("refused 6".into()),
                _ => Ok(()),
            }
        }),
    )?;

    // At-most-once: the message in hand when it panics is not delivered again.
    let pinged: Arc<Mutex<Vec<(u64, u32)>>> = Arc::default();
    let p = pinged.clone();
    let pinger = host.spawn_handler(Handler::new("pinger", move || p.clone()).subscribe(
        pings.cursor(StartAt::Earliest)?,
        |log, e| {
            log.lock().unwrap().push((*e.value(), e.attempt));
            if *e.value() == 1 {
                panic!("ping 1");
            }
            Ok(())
        },
    ))?;

    // Stop policy: the first failure stops the handler for good.
    fragile_topic.publisher().publish(0)?;
    let fragile = host.spawn_handler(
        Handler::new("fragile", || ())
            .subscribe(
                fragile_topic.named_cursor("fragile", StartAt::Earliest)?,
                |(), _| Err("no".into()),
            )
            .restart(RestartPolicy::stop()),
    )?;

    // A bystander on another topic.
    let bystander = host.spawn_handler(Handler::new("bystander", || ()).subscribe(
        other.named_cursor("bystander", StartAt::Earliest)?,
        |(), _| Ok(()),
    ))?;

    for n in 0..3 {
        pings.publisher().publish(n)?;
        wait_until("a ping handled or dropped", || {
            let s = pinger.stats();
            s.handled + s.dropped == n + 1
        });
    }
    for n in 0..100 {
        other.publisher().publish(n)?;
    }
    wait_until("the worker", || worker.stats().handled == JOBS);
    wait_until("the bystander", || bystander.stats().handled == 100);
    wait_until("the fragile handler", || {
        fragile.status() == HandlerStatus::Failed
    });

    // Still running after every failure around it.
    other.publisher().publish(100)?;
    wait_until("the bystander again", || bystander.stats().handled == 101);
    assert_eq!(bystander.status(), HandlerStatus::Running);

    host.shutdown()?;

    assert_eq!(
        *log.lock().unwrap(),
        vec![
            (0, 1),
            (1, 1),
            (2, 1),
            (3, 1),
            (3, 2),
            (4, 1),
            (5, 1),
            (6, 1),
            (6, 2),
            (7, 1),
            (8, 1),
            (9, 1)
        ]
    );
    assert_eq!(
        builds.load(Ordering::SeqCst),
        3,
        "built once, rebuilt after each failure"
    );
    expect(&worker, (JOBS, 2, 2, 2, 0));
    assert_eq!(worker.last_failure().as_deref(), Some("error: refused 6"));

    assert_eq!(*pinged.lock().unwrap(), vec![(0, 1), (1, 1), (2, 1)]);
    expect(&pinger, (2, 1, 1, 0, 1));
    assert_eq!(pinger.last_failure().as_deref(), Some("panic: ping 1"));

    expect(&fragile, (0, 1, 0, 0, 0));
    assert_eq!(fragile.status(), HandlerStatus::Failed);
    expect(&bystander, (101, 0, 0, 0, 0));

    // Committed: everything the worker handled; nothing of the fragile one.
    assert_eq!(
        jobs.named_cursor("worker", StartAt::Earliest)?.position(),
        JOBS
    );
    assert_eq!(
        fragile_topic
            .named_cursor("fragile", StartAt::Earliest)?
            .position(),
        0
    );
    agency.shutdown();
    Ok(())
}

/// (handled, failures, restarts, redeliveries, dropped)
fn expect(handler: &HandlerHandle, figures: (u64, u64, u64, u64, u64)) {
    let s = handler.stats();
    assert_eq!(
        (s.handled, s.failures, s.restarts, s.redeliveries, s.dropped),
        figures,
        "{}",
        handler.name()
    );
}
