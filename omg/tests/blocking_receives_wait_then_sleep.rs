//! Blocking receives look a few times, yielding their thread, before they
//! register and sleep: whatever the moment a message arrives — while the
//! reader yields or after it fell asleep — it is received, and a deadline is
//! kept.

use std::{
    thread,
    time::{Duration, Instant},
};

use omg::{Agency, Delivery, StartAt};

type R = Result<(), Box<dyn std::error::Error>>;

/// Every class: the ring and the durable path wait differently.
const CLASSES: [Delivery; 3] = [
    Delivery::at_most_once_keep(8),
    Delivery::at_least_once(),
    Delivery::exactly_once(),
];

#[test]
fn recv_timeout_gives_up_at_its_deadline_and_no_earlier() -> R {
    let agency = Agency::in_memory();
    for (i, delivery) in CLASSES.into_iter().enumerate() {
        let topic = agency.topic::<u64>(&format!("t{i}"), delivery)?;
        let mut cursor = topic.cursor(StartAt::Earliest)?;
        assert!(cursor.recv_timeout(Duration::ZERO)?.is_none());
        let began = Instant::now();
        assert!(cursor.recv_timeout(Duration::from_millis(30))?.is_none());
        assert!(began.elapsed() >= Duration::from_millis(30), "{delivery}");
    }
    Ok(())
}

/// A reader that has long been asleep, and one that has only just started
/// waiting, both receive the next publish.
#[test]
fn a_reader_receives_a_publish_whether_it_yields_or_sleeps() -> R {
    let agency = Agency::in_memory();
    for (i, delivery) in CLASSES.into_iter().enumerate() {
        let topic = agency.topic::<u64>(&format!("t{i}"), delivery)?;
        for (value, pause) in [(1u64, Duration::from_millis(100)), (2, Duration::ZERO)] {
            let mut cursor = topic.cursor(StartAt::Latest)?;
            let reader = thread::spawn(move || cursor.recv().map(|r| r.value));
            thread::sleep(pause);
            topic.publisher().publish(value)?;
            let got = reader.join().map_err(|_| "reader panicked")?;
            assert_eq!(got.ok(), Some(value), "{delivery} after {pause:?}");
        }
        let mut cursor = topic.cursor(StartAt::Latest)?;
        let reader = thread::spawn(move || cursor.recv_timeout(Duration::from_secs(10)));
        thread::sleep(Duration::from_millis(100));
        topic.publisher().publish(3)?;
        let got = reader.join().map_err(|_| "reader panicked")??;
        assert_eq!(got.map(|r| r.value), Some(3), "{delivery}");
    }
    Ok(())
}
