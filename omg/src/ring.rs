//! The at-most-once ring: the last `keep` messages of a topic, in memory.
//!
//! Readers must not slow the publisher down: a reader holding a lock the
//! publisher needs, and preempted there, stalls publishing for a whole time
//! slice, and every lock both sides take on their fast paths bounces its
//! cache line between them. So publisher and readers share no lock:
//!
//! - **Slots.** Offset `o` lives in slot `o % keep`, behind a read-write
//!   lock of its own, together with `o` itself. The publisher write-locks
//!   only the slot it overwrites; a reader read-locks one slot at a time,
//!   just long enough to check the offset in it and clone the value, so it
//!   can only hold up a publisher that is lapping it. Value and offset
//!   change together under the slot's lock: a read is never torn, and a
//!   reader that finds a later offset than the one it wants knows it was
//!   lapped — everything up to that later offset is published, which tells
//!   it where the oldest retained message is and how many it missed (always
//!   reported, never skipped silently). Each slot has a cache line of its
//!   own, so the publisher writing one slot does not disturb readers
//!   reading the one before.
//! - **Head.** The offset the next message gets, and a "someone may wait"
//!   bit ([`MAY_WAIT`]), in one atomic word on a cache line of its own.
//!   The publisher moves it (release) after writing the slot; readers load
//!   it (acquire) to learn what they may read. A reader that is caught up
//!   costs one load and takes no lock.
//! - **Publish lock.** Serialises publishers (offsets are dense: each push
//!   takes the next one) and `close`, and guards the lifecycle. Readers
//!   never take it (only `offset_at` does, to search a still window).
//! - **Waiters lock.** Guards the readers waiting for the head to move.
//!
//! # Wake-up protocol
//!
//! A reader that found nothing takes the waiters lock, sets [`MAY_WAIT`]
//! and reads the head in one read-modify-write, and registers only if the
//! head has not passed its position (and the ring is still open). A push
//! moves the head and reads the bit in one read-modify-write too, and if the
//! bit was set takes the waiters lock, clears the bit and takes every
//! waiter. Read-modify-writes of one word are totally ordered: either the
//! reader's comes first (the publisher sees the bit, and by taking the
//! waiters lock after the reader released it, sees the registration) or the
//! publisher's does (the reader sees the new head and reads instead of
//! registering). A wake-up cannot be lost; a bit set by a reader that then
//! found the head moved only costs one needless look at an empty list. The
//! common push, with nobody waiting, takes no lock besides its own.
//!
//! # Closing
//!
//! `close` stores the lifecycle atomic under the publish lock (no push after
//! it), then clears the slots, then wakes every waiter. A reader registering
//! after that wake-up took the waiters lock after it, so it sees the ring
//! closed; a reader that finds a cleared slot sees it closed as well. A read
//! racing `close` returns either what it copied before or the lifecycle's
//! error, and every call after it fails with that error.
//!
//! Slots are allocated as the ring fills (the first segment when it is
//! built), so a ring declared to keep a million messages that sees a few
//! costs a few. Readers copy *batches* into their own buffers, so most
//! receives touch no slot at all.

use std::{collections::VecDeque, fmt};

use crate::{
    Error, Name, Record, Timestamp,
    life::Life,
    signal::{Signal, WaitList},
    sync::{AtomicU8, AtomicU64, Mutex, OnceLock, Ordering, RwLock, lock, read, write},
};

pub(crate) struct Ring<T> {
    name: Name,
    /// The offset the next message gets, and [`MAY_WAIT`]. The offset moves
    /// only under `publish`, after the message's slot was written. On a
    /// cache line of its own: every push writes it and every reader polls it.
    head: OwnLine<AtomicU64>,
    /// `publish`'s lifecycle as one atomic word, written under `publish`:
    /// every call checks it without a lock, and a cursor handing out
    /// buffered messages checks it per message.
    life: OwnLine<AtomicU8>,
    /// How many messages are retained: the slots' count.
    keep: usize,
    slots: Slots<T>,
    /// Serialises publishers (offsets are dense) and `close`; guards the
    /// lifecycle. Readers never take it, except `offset_at`.
    publish: OwnLine<Mutex<Life>>,
    /// Readers that found nothing and wait for the head to move.
    waiters: Mutex<WaitList>,
}

/// The "someone may wait" bit of [`Ring::head`]; the other 63 bits are the
/// offset the next message gets.
const MAY_WAIT: u64 = 1 << 63;

/// A value alone on its cache line (128 bytes: adjacent-line prefetching
/// pairs 64-byte lines).
#[derive(Debug)]
#[repr(align(128))]
struct OwnLine<T>(T);

/// A slot alone on its cache line: the publisher writing one slot does not
/// disturb readers reading the one before (without it `fanout4_async`
/// measured 1.07–1.43 against 1.32–1.54).
#[repr(align(64))]
struct Line<T>(T);

/// One slot: the message at `offset`, or nothing yet ([`EMPTY`]).
struct Slot<T> {
    offset: u64,
    timestamp: Timestamp,
    value: Option<T>,
}

/// The offset of a slot holding no message: never written, or cleared by
/// `close`. No message gets it (the ring would need 2^64 pushes).
const EMPTY: u64 = u64::MAX;

impl<T> Slot<T> {
    fn empty() -> Self {
        Self {
            offset: EMPTY,
            timestamp: Timestamp::from_micros(0),
            value: None,
        }
    }
}

/// What one [`Ring::fill`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fill {
    /// Messages lost to overwriting before the copied ones.
    pub(crate) missed: u64,
    /// Messages copied.
    pub(crate) copied: usize,
}

impl<T: Clone> Ring<T> {
    pub(crate) fn new(name: Name, keep: usize) -> Self {
        let keep = keep.max(1);
        Self {
            name,
            head: OwnLine(AtomicU64::new(0)),
            life: OwnLine(AtomicU8::new(Life::Open as u8)),
            keep,
            slots: Slots::new(keep),
            publish: OwnLine(Mutex::new(Life::Open)),
            waiters: Mutex::new(WaitList::default()),
        }
    }

    /// `Ok` while the ring is open, else the error its handles report: one
    /// atomic load, no lock.
    pub(crate) fn check(&self) -> Result<(), Error> {
        Life::from_u8(self.life.0.load(Ordering::Acquire)).check(&self.name)
    }

    /// The offset the next message gets.
    fn head(&self) -> u64 {
        self.head.0.load(Ordering::Acquire) & !MAY_WAIT
    }

    /// The slot of `offset`'s index.
    fn index(&self, offset: u64) -> usize {
        // The remainder is below `keep`, a `usize`.
        usize::try_from(offset % self.keep as u64).unwrap_or(0)
    }

    /// Appends `value`; returns its offset.
    /// Gives `value` back if the topic is closed.
    pub(crate) fn push(&self, value: T, timestamp: Timestamp) -> Result<u64, (Error, T)> {
        let life = lock(&self.publish.0);
        if let Err(e) = life.check(&self.name) {
            return Err((e, value));
        }
        // The offset only moves under `publish`, which we hold.
        let offset = self.head.0.load(Ordering::Relaxed) & !MAY_WAIT;
        let overwritten = {
            let mut slot = write(self.slots.get_or_allocate(self.index(offset)));
            slot.offset = offset;
            slot.timestamp = timestamp;
            slot.value.replace(value)
        };
        // After the slot (release): a reader that sees the new head finds the
        // message. One read-modify-write, ordered with every reader's
        // registration: see the module doc.
        let previous = self.head.0.fetch_add(1, Ordering::AcqRel);
        drop(life);
        // No lock held: the overwritten value's drop and the wake-ups (system
        // calls) hold up nobody.
        drop(overwritten);
        if previous & MAY_WAIT != 0 {
            self.wake_all();
        }
        Ok(offset)
    }

    /// Takes every waiter out and wakes it.
    fn wake_all(&self) {
        let mut waiters = lock(&self.waiters);
        self.head.0.fetch_and(!MAY_WAIT, Ordering::AcqRel);
        let woken = waiters.take();
        drop(waiters);
        woken.notify();
    }

    /// Registers `signal` unless the head passed `position`; returns the
    /// head if it did (`None`: registered, the caller may sleep).
    fn register_unless_ready(&self, position: u64, signal: &Signal) -> Result<Option<u64>, Error> {
        let mut waiters = lock(&self.waiters);
        let head = self.head.0.fetch_or(MAY_WAIT, Ordering::AcqRel) & !MAY_WAIT;
        // `close` stores the lifecycle before it takes the waiters.
        self.check()?;
        if head > position {
            return Ok(Some(head));
        }
        waiters.register(signal);
        Ok(None)
    }

    /// Copies up to `max` messages from `*position` into `out`, advancing
    /// `*position`. When nothing is there and `signal` is given, registers it
    /// (see the module doc) before returning.
    pub(crate) fn fill(
        &self,
        position: &mut u64,
        max: usize,
        out: &mut VecDeque<Record<T>>,
        signal: Option<&Signal>,
    ) -> Result<Fill, Error> {
        self.check()?;
        let mut head = self.head();
        if *position >= head {
            let Some(signal) = signal else {
                return Ok(Fill::NOTHING);
            };
            match self.register_unless_ready(*position, signal)? {
                None => return Ok(Fill::NOTHING),
                // Published since the first look: read it, lock-free.
                Some(moved) => head = moved,
            }
        }
        let keep = self.keep as u64;
        let (mut missed, mut copied) = (0, 0);
        loop {
            // Everything before the last `keep` was overwritten.
            let first = head.saturating_sub(keep);
            if *position < first {
                missed += first - *position;
                *position = first;
            }
            // The index follows the offset: one division per jump, not per message.
            let mut index = self.index(*position);
            let later = loop {
                if copied == max || *position >= head {
                    return Ok(Fill { missed, copied });
                }
                let slot = self.slots.get(index).map(read);
                let found = slot
                    .as_deref()
                    .and_then(|s| s.value.as_ref().map(|value| (s.offset, s.timestamp, value)));
                match found {
                    Some((offset, timestamp, value)) if offset == *position => {
                        out.push_back(Record {
                            offset,
                            timestamp,
                            value: value.clone(),
                        });
                        *position += 1;
                        copied += 1;
                        index = if index + 1 == self.keep { 0 } else { index + 1 };
                    }
                    Some((later, ..)) if later > *position => break later,
                    // A slot below the head we loaded was written before that
                    // head was stored, so an empty one was cleared by `close`,
                    // which stored the lifecycle first.
                    _ => {
                        drop(slot);
                        if copied == 0 {
                            self.check()?;
                        }
                        return Ok(Fill { missed, copied });
                    }
                }
            };
            // Lapped since `head` was loaded: `later` replaced the message we
            // wanted, so everything up to it is published and the head is
            // past it. Hand out what was copied first: the gap comes before
            // the next copies, so it waits for the next fill.
            if copied > 0 {
                return Ok(Fill { missed, copied });
            }
            head = (later + 1).max(self.head());
        }
    }

    /// The head (offset of the next message) and the oldest retained offset.
    pub(crate) fn bounds(&self) -> Result<(u64, u64), Error> {
        self.check()?;
        let head = self.head();
        Ok((head.saturating_sub(self.keep as u64), head))
    }

    /// The first retained offset whose timestamp is at or after `time`.
    pub(crate) fn offset_at(&self, time: Timestamp) -> Result<u64, Error> {
        // Under `publish`, no publisher moves the retained window.
        let life = lock(&self.publish.0);
        life.check(&self.name)?;
        let head = self.head();
        let (mut low, mut high) = (head.saturating_sub(self.keep as u64), head);
        // The first offset in `low..high` whose timestamp is not before `time`
        // (timestamps are in publishing order), by bisection.
        while low < high {
            let middle = low + (high - low) / 2;
            let before = self
                .slots
                .get(self.index(middle))
                .is_some_and(|slot| read(slot).timestamp < time);
            if before {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        Ok(low)
    }

    /// Ends the ring for good and wakes every waiter.
    pub(crate) fn close(&self, life: Life) {
        let mut current = lock(&self.publish.0);
        if *current == Life::Open {
            *current = life;
            // Before the slots are cleared and the waiters taken: a reader
            // finding a cleared slot, or registering after, sees the ring
            // closed.
            self.life.0.store(life as u8, Ordering::Release);
        }
        self.slots.clear();
        drop(current);
        self.wake_all();
    }
}

impl Fill {
    const NOTHING: Self = Self {
        missed: 0,
        copied: 0,
    };
}

impl<T> fmt::Debug for Ring<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("name", &self.name)
            .field("keep", &self.keep)
            .field("head", &(self.head.0.load(Ordering::Relaxed) & !MAY_WAIT))
            .field("life", &Life::from_u8(self.life.0.load(Ordering::Relaxed)))
            .finish_non_exhaustive()
    }
}

/// How many slots the first segment has (at most; a smaller ring has
/// `keep`). A power of two.
const FIRST_SEGMENT: usize = 1024;

/// Consecutive slots, each on a cache line of its own.
type Segment<T> = Box<[Line<RwLock<Slot<T>>>]>;

/// A ring's `keep` slots, in segments allocated the first time a push
/// reaches them: segment 0 holds indices `0..FIRST_SEGMENT`, segment `s ≥ 1`
/// holds `FIRST_SEGMENT << (s - 1) .. FIRST_SEGMENT << s` (each as large as
/// all before it), the last one cut at `keep`.
struct Slots<T> {
    keep: usize,
    segments: Box<[OnceLock<Segment<T>>]>,
}

impl<T> Slots<T> {
    fn new(keep: usize) -> Self {
        let count = Self::locate(keep - 1).0 + 1;
        let segments: Box<[_]> = (0..count).map(|_| OnceLock::new()).collect();
        let slots = Self { keep, segments };
        slots.segment(0);
        slots
    }

    /// The segment of slot `index`, and the index in it.
    fn locate(index: usize) -> (usize, usize) {
        if index < FIRST_SEGMENT {
            return (0, index);
        }
        let segment = (usize::BITS - (index / FIRST_SEGMENT).leading_zeros()) as usize;
        (segment, index - (FIRST_SEGMENT << (segment - 1)))
    }

    /// Segment `segment`, allocated if it was not.
    fn segment(&self, segment: usize) -> &[Line<RwLock<Slot<T>>>] {
        self.segments[segment].get_or_init(|| {
            let start = match segment {
                0 => 0,
                s => FIRST_SEGMENT << (s - 1),
            };
            let end = start
                .saturating_add(start.max(FIRST_SEGMENT))
                .min(self.keep);
            (start..end)
                .map(|_| Line(RwLock::new(Slot::empty())))
                .collect()
        })
    }

    /// Slot `index`, allocated if it was not (by a push, under the tail lock).
    fn get_or_allocate(&self, index: usize) -> &RwLock<Slot<T>> {
        let (segment, index) = Self::locate(index);
        &self.segment(segment)[index].0
    }

    /// Slot `index` if it was allocated (a slot a reader may read was).
    fn get(&self, index: usize) -> Option<&RwLock<Slot<T>>> {
        let (segment, index) = Self::locate(index);
        self.segments.get(segment)?.get()?.get(index).map(|l| &l.0)
    }

    /// Empties every slot (dropping the values).
    fn clear(&self) {
        for segment in self.segments.iter().filter_map(OnceLock::get) {
            for slot in segment {
                *write(&slot.0) = Slot::empty();
            }
        }
    }
}

/// Loom models of the ring and its wake-up path. Run with
/// `RUSTFLAGS="--cfg loom" cargo test -p omg --lib --release loom`.
#[cfg(all(test, loom))]
mod loom_tests {
    use std::collections::VecDeque;

    use super::{Fill, Ring};
    use crate::{Error, Name, Record, Timestamp, life::Life, signal::Signal, sync::Arc};

    fn ring(keep: usize) -> Arc<Ring<u64>> {
        Arc::new(Ring::new(Name::new("t").unwrap(), keep))
    }

    /// The value published at `offset`: a torn or misplaced read shows up
    /// as a mismatch.
    fn value_of(offset: u64) -> u64 {
        1000 + offset
    }

    /// A thread pushing offsets `0..count` into `ring`.
    fn publish(ring: &Arc<Ring<u64>>, count: u64) -> loom::thread::JoinHandle<()> {
        let ring = ring.clone();
        loom::thread::spawn(move || {
            for offset in 0..count {
                let pushed = ring.push(value_of(offset), Timestamp::from_micros(0));
                assert_eq!(pushed.ok(), Some(offset));
            }
        })
    }

    /// What a reader saw over its fills.
    #[derive(Default)]
    struct Seen {
        delivered: u64,
        missed: u64,
        last: Option<u64>,
    }

    impl Seen {
        /// Checks and counts one fill's outcome.
        fn take(&mut self, fill: Fill, out: &mut VecDeque<Record<u64>>) {
            assert_eq!(fill.copied, out.len());
            self.missed += fill.missed;
            for record in out.drain(..) {
                assert_eq!(record.value, value_of(record.offset), "torn read");
                assert!(self.last.is_none_or(|l| record.offset > l), "out of order");
                self.last = Some(record.offset);
                self.delivered += 1;
            }
        }
    }

    /// One publisher pushes 2 messages into a keep-1 ring while a reader
    /// fills, and registers then waits when it found nothing. The reader
    /// always ends having seen the last message, every gap reported, every
    /// value matching its offset.
    #[test]
    fn loom_no_lost_wakeup_no_torn_read() {
        loom::model(|| {
            let ring = ring(1);
            let publisher = publish(&ring, 2);
            let signal = Signal::new();
            let mut position = 0;
            let mut out: VecDeque<Record<u64>> = VecDeque::new();
            let mut seen = Seen::default();
            while position < 2 {
                let fill = ring
                    .fill(&mut position, 8, &mut out, Some(&signal))
                    .unwrap();
                seen.take(fill, &mut out);
                if fill.copied == 0 && fill.missed == 0 {
                    // Registered under the tail lock after checking the head
                    // again: a push after this point notifies us, so this
                    // wait cannot hang.
                    signal.wait();
                }
            }
            publisher.join().unwrap();
            assert_eq!(seen.last, Some(1), "the last message is always delivered");
            assert_eq!(
                seen.delivered + seen.missed,
                2,
                "every message delivered or reported"
            );
        });
    }

    /// A reader fills once while the publisher overwrites the only slot of a
    /// keep-1 ring (it may find offset 1 where it looked for 0, after
    /// loading a head of 1), then once more after the publisher is done.
    /// Whatever the interleaving, the gap is reported, never skipped
    /// silently, values match their offsets, and the reader ends at the last
    /// message.
    #[test]
    fn loom_reader_races_overwrite() {
        loom::model(|| {
            let ring = ring(1);
            let publisher = publish(&ring, 2);
            let mut position = 0;
            let mut out = VecDeque::new();
            let mut seen = Seen::default();
            let fill = ring.fill(&mut position, 8, &mut out, None).unwrap();
            seen.take(fill, &mut out);
            assert_eq!(position, seen.delivered + seen.missed);
            publisher.join().unwrap();
            let fill = ring.fill(&mut position, 8, &mut out, None).unwrap();
            seen.take(fill, &mut out);
            assert_eq!(position, 2);
            assert_eq!(seen.last, Some(1), "the last message is always delivered");
            assert_eq!(seen.delivered + seen.missed, 2, "every gap reported");
        });
    }

    /// `close` wakes a reader that registered and waits.
    #[test]
    fn loom_close_wakes_waiting_reader() {
        loom::model(|| {
            let ring = ring(1);
            let reader = {
                let ring = ring.clone();
                loom::thread::spawn(move || {
                    let signal = Signal::new();
                    let mut position = 0;
                    let mut out = VecDeque::new();
                    loop {
                        match ring.fill(&mut position, 8, &mut out, Some(&signal)) {
                            Ok(fill) if fill.copied == 0 && fill.missed == 0 => signal.wait(),
                            Ok(_) => panic!("nothing was published"),
                            Err(e) => return e,
                        }
                    }
                })
            };
            ring.close(Life::ShutDown);
            assert!(matches!(reader.join().unwrap(), Error::ShutDown));
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::collections::VecDeque;

    use proptest::prelude::*;

    use super::{Fill, Ring};
    use std::sync::Arc;

    use crate::{Error, Name, Record, Timestamp, life::Life, signal::Signal};

    fn ring(keep: usize) -> Ring<u64> {
        Ring::new(Name::new("t").unwrap(), keep)
    }

    /// The ring as it was specified before it had per-slot locks: one
    /// deque of the last `keep` messages. The ring must answer every call
    /// as this model does.
    struct Model {
        slots: VecDeque<(Timestamp, u64)>,
        next: u64,
        keep: usize,
    }

    impl Model {
        fn first(&self) -> u64 {
            self.next - self.slots.len() as u64
        }

        fn push(&mut self, value: u64, timestamp: Timestamp) -> u64 {
            if self.slots.len() == self.keep {
                self.slots.pop_front();
            }
            self.slots.push_back((timestamp, value));
            self.next += 1;
            self.next - 1
        }

        fn fill(&self, position: &mut u64, max: usize, out: &mut Vec<Record<u64>>) -> Fill {
            let first = self.first();
            let missed = first.saturating_sub(*position);
            *position = (*position).max(first);
            let start = usize::try_from(*position - first)
                .unwrap_or(usize::MAX)
                .min(self.slots.len());
            let copied = (self.slots.len() - start).min(max);
            for (timestamp, value) in self.slots.range(start..start + copied) {
                out.push(Record {
                    offset: *position,
                    timestamp: *timestamp,
                    value: *value,
                });
                *position += 1;
            }
            Fill { missed, copied }
        }

        fn offset_at(&self, time: Timestamp) -> u64 {
            self.first() + self.slots.partition_point(|(t, _)| *t < time) as u64
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(u64),
        /// Pushes this many, enough to lap rings of several segments.
        PushMany(u64),
        /// Fills from `position` (taken modulo the head plus 3).
        Fill {
            position: u64,
            max: usize,
        },
        OffsetAt(i64),
        Bounds,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..3u64).prop_map(Op::Push),
            1 => (0..3000u64).prop_map(Op::PushMany),
            4 => (any::<u64>(), 1..300usize).prop_map(|(position, max)| Op::Fill { position, max }),
            1 => (-2..8000i64).prop_map(Op::OffsetAt),
            1 => Just(Op::Bounds),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Single-threaded, every call answers as the one-deque model does,
        /// whatever `keep` (one segment or several, cut or not).
        #[test]
        fn answers_as_the_model(
            keep in prop_oneof![1..6usize, 1020..1030usize, Just(2048usize), Just(2500usize)],
            ops in prop::collection::vec(op(), 1..60),
        ) {
            let ring = ring(keep);
            let mut model = Model { slots: VecDeque::new(), next: 0, keep };
            let mut time = 0;
            let mut push = |ring: &Ring<u64>, model: &mut Model, step: u64| {
                // Timestamps never decrease, and repeat.
                time += i64::try_from(step).unwrap();
                let value = model.next * 7 + 3;
                let expected = model.push(value, Timestamp::from_micros(time));
                prop_assert_eq!(ring.push(value, Timestamp::from_micros(time)).ok(), Some(expected));
                Ok(())
            };
            for op in ops {
                match op {
                    Op::Push(step) => push(&ring, &mut model, step)?,
                    Op::PushMany(n) => {
                        for _ in 0..n {
                            push(&ring, &mut model, 1)?;
                        }
                    }
                    Op::Fill { position, max } => {
                        let start = position % (model.next + 3);
                        let (mut ours, mut theirs) = (start, start);
                        let mut out = VecDeque::new();
                        let mut expected = Vec::new();
                        let fill = ring.fill(&mut ours, max, &mut out, None).unwrap();
                        prop_assert_eq!(fill, model.fill(&mut theirs, max, &mut expected));
                        prop_assert_eq!(ours, theirs);
                        prop_assert_eq!(Vec::from(out), expected);
                    }
                    Op::OffsetAt(time) => {
                        let time = Timestamp::from_micros(time);
                        prop_assert_eq!(ring.offset_at(time).unwrap(), model.offset_at(time));
                    }
                    Op::Bounds => {
                        prop_assert_eq!(ring.bounds().unwrap(), (model.first(), model.next));
                    }
                }
            }
        }
    }

    /// After `close`, every call fails with the lifecycle's error (the
    /// first close's), and a push gives its value back.
    #[test]
    fn every_call_after_close_fails() {
        let ring = ring(4);
        for value in 0..6 {
            ring.push(value, Timestamp::from_micros(0)).unwrap();
        }
        ring.close(Life::Deleted);
        ring.close(Life::ShutDown);
        fn deleted<V>(result: Result<V, Error>) -> bool {
            matches!(result, Err(Error::Deleted { .. }))
        }
        assert!(deleted(ring.check()));
        assert!(deleted(ring.bounds()));
        assert!(deleted(ring.offset_at(Timestamp::from_micros(0))));
        let mut position = 2;
        let signal = Signal::new();
        let fill = ring.fill(&mut position, 8, &mut VecDeque::new(), Some(&signal));
        assert!(deleted(fill));
        assert!(matches!(
            ring.push(9, Timestamp::from_micros(0)),
            Err((Error::Deleted { .. }, 9))
        ));
    }

    /// One publisher laps four readers of a small ring, each reading with
    /// batches of a different size and waiting when caught up: each sees
    /// offsets in order, values matching them, every gap reported, and the
    /// last message.
    #[test]
    fn readers_racing_a_lapping_publisher_see_everything_or_its_gap() {
        const N: u64 = 200_000;
        let ring = Arc::new(ring(8));
        let readers: Vec<_> = [1, 3, 8, 256]
            .into_iter()
            .map(|max| {
                let ring = ring.clone();
                std::thread::spawn(move || {
                    let signal = Signal::new();
                    let (mut position, mut seen, mut last) = (0, 0, None);
                    let mut out = VecDeque::new();
                    while position < N {
                        let fill = ring
                            .fill(&mut position, max, &mut out, Some(&signal))
                            .unwrap();
                        seen += fill.missed;
                        assert_eq!(fill.copied, out.len());
                        for record in out.drain(..) {
                            assert_eq!(record.value, record.offset * 7 + 3);
                            assert!(last.is_none_or(|l| record.offset > l));
                            assert_eq!(record.offset, seen, "a gap went unreported");
                            last = Some(record.offset);
                            seen += 1;
                        }
                        if fill.copied == 0 && fill.missed == 0 {
                            signal.wait();
                        }
                    }
                    assert_eq!(last, Some(N - 1));
                    assert_eq!(seen, N);
                })
            })
            .collect();
        for offset in 0..N {
            ring.push(offset * 7 + 3, Timestamp::from_micros(0))
                .unwrap();
        }
        for reader in readers {
            reader.join().unwrap();
        }
    }
}
