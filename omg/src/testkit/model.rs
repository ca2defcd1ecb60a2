//! Model-based random operation sequences: publish, publish_keyed, recv,
//! commit, reopen and trim against a reference model.

use std::{
    collections::{BTreeMap, HashMap},
    thread,
    time::Duration,
};

use super::{Harness, Place, checks::agency};
use crate::{Agency, CommitPolicy, Cursor, Delivery, StartAt, Timestamp, Topic, TryRecvError};

/// A small deterministic generator (xorshift64*), so a failure names a
/// reproducible seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// What the topic and its named cursor must look like.
#[derive(Debug, Default)]
struct Model {
    first: u64,
    values: BTreeMap<u64, u64>,
    /// Values trimmed away, which a cursor may still hold in its buffer.
    trimmed: BTreeMap<u64, u64>,
    keys: HashMap<String, u64>,
    committed: Option<u64>,
    position: u64,
}

impl Model {
    fn head(&self) -> u64 {
        self.first + self.values.len() as u64
    }
}

struct Live {
    agency: Agency,
    topic: Topic<u64>,
    cursor: Cursor<u64>,
}

const TOPIC: &str = "model";
const CURSOR: &str = "m";

fn open(harness: &dyn Harness, place: &Place, delivery: Delivery) -> Live {
    let agency = agency(harness, place);
    let topic = agency.topic::<u64>(TOPIC, delivery).expect("declare");
    let cursor = topic
        .named_cursor(CURSOR, StartAt::Earliest)
        .expect("named cursor")
        .with_commit_policy(CommitPolicy::Manual);
    Live {
        agency,
        topic,
        cursor,
    }
}

pub(super) fn random_sequences(harness: &dyn Harness, place: &Place) {
    // Exactly-once keeps everything; at-least-once with a tiny retention
    // loses everything older than a few milliseconds on each trim.
    let classes = [
        Delivery::exactly_once(),
        Delivery::at_least_once_retain(Duration::from_millis(1)),
    ];
    let mut seen = Seen::default();
    for (class, delivery) in classes.into_iter().enumerate() {
        for seed in 1..=6u64 {
            let sub = Place {
                id: place.id * 1000 + class as u64 * 100 + seed,
                dir: place.dir.join(format!("c{class}s{seed}")),
            };
            std::fs::create_dir_all(&sub.dir).expect("testkit: create a sub directory");
            run_sequence(harness, &sub, delivery, seed, &mut seen);
        }
    }
    assert!(
        seen.lags > 0 && seen.duplicates > 0 && seen.reopens > 0 && seen.resumed_mid > 0,
        "the sequences exercised too little: {seen:?}"
    );
}

/// How often the interesting cases came up, so the sequences provably
/// exercise them.
#[derive(Debug, Default)]
struct Seen {
    lags: u32,
    duplicates: u32,
    reopens: u32,
    resumed_mid: u32,
}

fn run_sequence(
    harness: &dyn Harness,
    place: &Place,
    delivery: Delivery,
    seed: u64,
    seen: &mut Seen,
) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut model = Model::default();
    let mut live = open(harness, place, delivery);
    let trims = delivery.class() == crate::DeliveryClass::AtLeastOnce;
    for step in 0..80 {
        let at = format!("{delivery}, seed {seed}, step {step}");
        match rng.below(100) {
            0..30 => {
                let value = rng.below(1000);
                let offset = live.topic.publisher().publish(value).expect("publish");
                assert_eq!(offset, model.head(), "publish offset ({at})");
                model.values.insert(offset, value);
            }
            30..45 => {
                let key = format!("k{}", rng.below(6));
                let value = rng.below(1000);
                let offset = live
                    .topic
                    .publisher()
                    .publish_keyed(&key, value)
                    .expect("publish_keyed");
                let expected = match model.keys.get(&key) {
                    Some(&first) => {
                        seen.duplicates += 1;
                        first
                    }
                    None => {
                        let head = model.head();
                        model.values.insert(head, value);
                        model.keys.insert(key, head);
                        head
                    }
                };
                assert_eq!(offset, expected, "keyed publish offset ({at})");
            }
            45..80 => {
                let got = live.cursor.try_recv();
                if model.position < model.first {
                    // Records the cursor fetched before the trim may still
                    // come from its buffer, in order; anything else is a lag
                    // report covering exactly the trimmed rest.
                    let missed = model.first - model.position;
                    match got {
                        Ok(record) if model.trimmed.contains_key(&record.offset) => {
                            assert_eq!(
                                (record.offset, record.value),
                                (model.position, model.trimmed[&model.position]),
                                "buffered record ({at})"
                            );
                            model.position += 1;
                        }
                        Err(TryRecvError::Lagged(n)) if n == missed => {
                            model.position = model.first;
                            seen.lags += 1;
                        }
                        other => panic!("expected Lagged({missed}), got {other:?} ({at})"),
                    }
                } else if model.position == model.head() {
                    assert!(
                        matches!(got, Err(TryRecvError::Empty)),
                        "expected Empty, got {got:?} ({at})"
                    );
                } else {
                    let record = got.unwrap_or_else(|e| panic!("expected a record: {e:?} ({at})"));
                    assert_eq!(
                        (record.offset, record.value),
                        (model.position, model.values[&model.position]),
                        "record ({at})"
                    );
                    model.position += 1;
                }
            }
            80..90 => {
                live.cursor.commit().expect("commit");
                model.committed = Some(model.position);
            }
            90..95 => {
                let Live { agency, cursor, .. } = live;
                drop(cursor);
                agency.shutdown();
                live = open(harness, place, delivery);
                model.position = model.committed.unwrap_or(model.first);
                // A fresh cursor has no buffer: trimmed records are gone.
                model.trimmed.clear();
                seen.reopens += 1;
                if model.position > model.first && model.position < model.head() {
                    seen.resumed_mid += 1;
                }
                assert_eq!(live.cursor.position(), model.position, "resume ({at})");
            }
            _ => {
                if trims {
                    thread::sleep(Duration::from_millis(3));
                }
                let removed = live
                    .agency
                    .storage()
                    .trim_expired(Timestamp::now())
                    .expect("trim");
                if trims {
                    assert_eq!(removed, model.values.len() as u64, "trimmed ({at})");
                    model.first = model.head();
                    model.trimmed.append(&mut model.values);
                    model.keys.clear();
                } else {
                    assert_eq!(removed, 0, "exactly-once never trims ({at})");
                }
            }
        }
        assert_eq!(
            live.topic.bounds().expect("bounds"),
            (model.first, model.head()),
            "bounds ({at})"
        );
    }
    live.agency.shutdown();
}
