//! 4 publisher threads × 4 reader threads on each class: every reader sees
//! strictly increasing offsets and per-publisher sequence numbers, every gap
//! is covered by a `Lagged` report, and the counts add up.

use std::thread;

use omg::{Agency, Delivery, RecvError, StartAt};

const PUBLISHERS: u64 = 4;
const READERS: usize = 4;
const PER_PUBLISHER: u64 = if cfg!(miri) { 20 } else { 10_000 };
const TOTAL: u64 = PUBLISHERS * PER_PUBLISHER;

/// What one reader saw.
#[derive(Debug, Default)]
struct Tally {
    delivered: u64,
    lagged: u64,
}

fn run(delivery: Delivery) -> omg::Result<Vec<Tally>> {
    let agency = Agency::in_memory();
    let topic = agency.topic::<(u64, u64)>("stress", delivery)?;
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let mut cursor = topic.cursor(StartAt::Earliest)?;
            Ok(thread::spawn(move || {
                let mut tally = Tally::default();
                let mut next_offset = 0u64;
                let mut last_seq = [None::<u64>; PUBLISHERS as usize];
                while tally.delivered + tally.lagged < TOTAL {
                    match cursor.recv() {
                        Ok(record) => {
                            assert_eq!(record.offset, next_offset, "gap without a lag report");
                            next_offset += 1;
                            let (publisher, seq) = record.value;
                            let last = &mut last_seq[publisher as usize];
                            assert!(
                                last.is_none_or(|l| seq > l),
                                "publisher {publisher} out of order"
                            );
                            *last = Some(seq);
                            tally.delivered += 1;
                        }
                        Err(RecvError::Lagged(n)) => {
                            assert!(n > 0, "an empty lag report");
                            next_offset += n;
                            tally.lagged += n;
                        }
                        Err(e) => panic!("reader failed: {e}"),
                    }
                }
                assert_eq!(next_offset, TOTAL, "the reader ends at the head");
                tally
            }))
        })
        .collect::<omg::Result<_>>()?;
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let publisher = topic.publisher();
            thread::spawn(move || {
                for seq in 0..PER_PUBLISHER {
                    publisher.publish((p, seq)).expect("publish");
                }
            })
        })
        .collect();
    for publisher in publishers {
        publisher.join().expect("publisher thread");
    }
    assert_eq!(topic.bounds()?.1, TOTAL, "offsets are dense");
    let tallies = readers
        .into_iter()
        .map(|r| r.join().expect("reader thread"))
        .collect();
    agency.shutdown();
    Ok(tallies)
}

#[test]
fn at_most_once_keep_64() -> omg::Result<()> {
    for tally in run(Delivery::at_most_once_keep(64))? {
        assert_eq!(tally.delivered + tally.lagged, TOTAL, "{tally:?}");
        assert!(
            tally.delivered >= 64,
            "the last 64 are always there: {tally:?}"
        );
    }
    Ok(())
}

#[test]
fn at_least_once() -> omg::Result<()> {
    for tally in run(Delivery::at_least_once())? {
        assert_eq!((tally.delivered, tally.lagged), (TOTAL, 0));
    }
    Ok(())
}

#[test]
fn exactly_once() -> omg::Result<()> {
    for tally in run(Delivery::exactly_once())? {
        assert_eq!((tally.delivered, tally.lagged), (TOTAL, 0));
    }
    Ok(())
}
