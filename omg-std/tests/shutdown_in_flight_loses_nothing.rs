//! Shutting the host down while messages are in flight finishes the message
//! in hand, commits what was handled, and loses nothing on durable topics:
//! a restarted process (the same storage, reopened) handles exactly the
//! rest, once.

#![expect(
    clippy::unwrap_used,
    reason = "helpers of a test fail loudly on a poisoned lock"
)]

use std::{
    sync::{Arc, Mutex, mpsc},
    time::{Duration, Instant},
};

use omg::{Agency, Delivery, StartAt, Topic, storage::MemoryStorage};
use omg_std::{Handler, HandlerHandle, Host};

const N: u64 = 50;
const FIRST: u64 = 20;
const IN_HAND: u64 = 10;

type Log = Arc<Mutex<Vec<(&'static str, u64)>>>;

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

struct Topics {
    orders: Topic<u64>,
    audit: Topic<String>,
}

fn topics(agency: &Agency) -> omg::Result<Topics> {
    Ok(Topics {
        orders: agency.topic("orders", Delivery::exactly_once())?,
        audit: agency.topic("audit", Delivery::at_least_once())?,
    })
}

/// The consumer; `gate` (if any) is called with each order's offset while
/// it is in hand.
fn consumer(
    host: &Host,
    topics: &Topics,
    log: &Log,
    gate: impl Fn(u64) + Send + Clone + 'static,
) -> Result<HandlerHandle, Box<dyn std::error::Error>> {
    let log = log.clone();
    Ok(host.spawn_handler(
        Handler::new("consumer", move || (log.clone(), gate.clone()))
            .subscribe(
                topics.orders.named_cursor("consumer", StartAt::Earliest)?,
                |(log, gate), e| {
                    gate(e.offset());
                    log.lock().unwrap().push(("orders", e.offset()));
                    Ok(())
                },
            )
            .subscribe(
                topics.audit.named_cursor("consumer", StartAt::Earliest)?,
                |(log, _), e| {
                    assert_eq!(e.value(), &format!("audit {}", e.offset()));
                    log.lock().unwrap().push(("audit", e.offset()));
                    Ok(())
                },
            ),
    )?)
}

fn publish(topics: &Topics, range: std::ops::Range<u64>) -> omg::Result<()> {
    for n in range {
        topics.orders.publisher().publish(n)?;
        topics.audit.publisher().publish(format!("audit {n}"))?;
    }
    Ok(())
}

fn of(log: &Log, topic: &str) -> Vec<u64> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|(t, _)| *t == topic)
        .map(|(_, o)| *o)
        .collect()
}

#[test]
fn shutdown_with_messages_in_flight_then_restart_loses_nothing()
-> Result<(), Box<dyn std::error::Error>> {
    let storage = Arc::new(MemoryStorage::new());

    // First process: the consumer is holding order 10 when shutdown starts.
    let agency = Agency::builder().storage(storage.clone()).build();
    let first = topics(&agency)?;
    publish(&first, 0..FIRST)?;
    let host = Host::new(&agency);
    let (in_hand_tx, in_hand_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Arc::new(Mutex::new(release_rx));
    let log1: Log = Arc::default();
    let handler1 = consumer(&host, &first, &log1, move |offset| {
        if offset == IN_HAND {
            in_hand_tx.send(()).unwrap();
            release_rx.lock().unwrap().recv().unwrap();
        }
    })?;
    in_hand_rx.recv_timeout(Duration::from_secs(60))?;
    let handle = host.handle();
    let stopping = std::thread::spawn(move || host.shutdown());
    wait_until("the shutdown request", || handle.is_shutting_down());
    // Messages in flight: published while the consumer is stopping.
    publish(&first, FIRST..N)?;
    release_tx.send(())?;
    stopping.join().map_err(|_| "shutdown panicked")??;
    let orders1 = of(&log1, "orders");
    let audit1 = of(&log1, "audit");
    // The message in hand was finished; nothing after it was started.
    assert_eq!(orders1, (0..=IN_HAND).collect::<Vec<_>>());
    assert_eq!(
        handler1.stats().handled,
        orders1.len() as u64 + audit1.len() as u64
    );
    agency.shutdown();

    // Second process: the same storage, reopened.
    let agency = Agency::builder()
        .storage(Arc::new(storage.reopened()))
        .build();
    let second = topics(&agency)?;
    assert_eq!(second.orders.bounds()?, (0, N));
    assert_eq!(second.audit.bounds()?, (0, N));
    let host = Host::new(&agency);
    let log2: Log = Arc::default();
    let handler2 = consumer(&host, &second, &log2, |_| {})?;
    let expected = 2 * N - orders1.len() as u64 - audit1.len() as u64;
    wait_until("the rest", || handler2.stats().handled == expected);
    host.shutdown()?;

    // Every message exactly once across both processes, in offset order.
    let all: Vec<u64> = (0..N).collect();
    assert_eq!([orders1, of(&log2, "orders")].concat(), all);
    assert_eq!([audit1, of(&log2, "audit")].concat(), all);
    assert_eq!(handler2.stats().redeliveries, 0);
    assert_eq!(
        second
            .orders
            .named_cursor("consumer", StartAt::Earliest)?
            .position(),
        N
    );
    assert_eq!(
        second
            .audit
            .named_cursor("consumer", StartAt::Earliest)?
            .position(),
        N
    );
    agency.shutdown();
    Ok(())
}
