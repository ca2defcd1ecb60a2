//! The at-most-once ring: the last `keep` messages of a topic, in memory.
//!
//! Readers must not slow the publisher down, and a reader must not pay a
//! contended atomic operation per message: a reader holding a lock the
//! publisher needs, and preempted there, stalls publishing for a whole time
//! slice (one mutex over the ring measured `fanout4_async` at 0.7 of
//! tokio's broadcast); a read-write lock per slot kept readers off the
//! publisher's way but cost two read-modify-writes per message on cache
//! lines the publisher had just written (a Bevy frame draining 1000
//! messages took twice as long). So messages are written once and never
//! changed in place:
//!
//! - **Chunks.** Messages live in chunks of `chunk_len` consecutive offsets,
//!   each message in a `OnceLock` that the publisher sets once. A chunk is
//!   shared (`Arc`) and immutable once a message is in it: a reader holding
//!   a chunk reads its messages with one acquire load each and clones them,
//!   taking no lock, and keeps the chunk it reads from between calls.
//! - **Table.** The chunks that may still hold retained messages, oldest
//!   first, behind a read-write lock: a reader takes it once per chunk to
//!   find the next one, the publisher once per chunk to add a new one and
//!   drop those wholly before the oldest retained offset. A dropped chunk
//!   lives on while a reader holds it; a reader never hands out an offset
//!   older than `head - keep` as of its look at the head (the gap is
//!   reported instead), so retention is exact.
//! - **Head.** The offset the next message gets, and a "someone may wait"
//!   bit ([`MAY_WAIT`]), in one atomic word on a cache line of its own.
//!   The publisher moves it (release) after setting the message; readers
//!   load it (acquire) to learn what they may read. A reader that is caught
//!   up costs one load and takes no lock.
//! - **Publish lock.** Serialises publishers (offsets are dense: each push
//!   takes the next one) and `close`, and guards the lifecycle and the
//!   chunk being filled. Readers never take it (only `offset_at` does, to
//!   search a still window).
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
//! it), empties the table, then wakes every waiter. A reader registering
//! after that wake-up took the waiters lock after it, so it sees the ring
//! closed; a reader that no longer finds the chunk it needs checks the
//! lifecycle. A read racing `close` returns either what it copied before or
//! the lifecycle's error, and every call after it fails with that error.
//! Messages are dropped with the last chunk holding them: when the table
//! lets go of it and no reader holds it.

use std::{collections::VecDeque, fmt, sync::Arc};

use crate::{
    Error, Name, Record, Timestamp,
    life::Life,
    signal::{Signal, WaitList},
    sync::{AtomicU8, AtomicU64, Mutex, OnceLock, Ordering, RwLock, lock, read, write},
};

/// Offsets per chunk at most. A reader looks a chunk up once per this many
/// messages; the publisher allocates one per this many.
const CHUNK: usize = 256;

/// Offsets per chunk at least, whatever `keep`: a chunk per message made a
/// publish to a `keep` 1 ring three times as slow (an allocation, a table
/// update and a drop per message: 158 ns against 50 before chunks). The
/// price: up to a chunk of messages beyond `keep` stays alive until the
/// chunk goes — and each reader keeps the chunk it last read until its next
/// read.
const MIN_CHUNK: usize = 16;

pub(crate) struct Ring<T> {
    name: Name,
    /// The offset the next message gets, and [`MAY_WAIT`]. The offset moves
    /// only under `publish`, after the message was set. On a cache line of
    /// its own: every push writes it and every reader polls it.
    head: OwnLine<AtomicU64>,
    /// `publish`'s lifecycle as one atomic word, written under `publish`:
    /// every call checks it without a lock, and a cursor handing out
    /// buffered messages checks it per message.
    life: OwnLine<AtomicU8>,
    /// How many messages are retained.
    keep: usize,
    /// Offsets per chunk: `keep` between [`MIN_CHUNK`] and [`CHUNK`], so
    /// that a ring keeps at most about twice its messages alive (plus
    /// `2 * MIN_CHUNK` for a small one).
    chunk_len: usize,
    /// The chunks that may hold retained messages, oldest first.
    table: RwLock<VecDeque<Arc<Chunk<T>>>>,
    /// Serialises publishers (offsets are dense) and `close`; guards the
    /// lifecycle and the chunk being filled. Readers never take it, except
    /// `offset_at`.
    publish: OwnLine<Mutex<Publish<T>>>,
    /// Readers that found nothing and wait for the head to move.
    waiters: Mutex<WaitList>,
}

/// What the publish lock guards.
struct Publish<T> {
    life: Life,
    /// The chunk the next message goes into, unless it is full.
    filling: Option<Arc<Chunk<T>>>,
}

/// The "someone may wait" bit of [`Ring::head`]; the other 63 bits are the
/// offset the next message gets.
const MAY_WAIT: u64 = 1 << 63;

/// A value alone on its cache line (128 bytes: adjacent-line prefetching
/// pairs 64-byte lines).
#[derive(Debug)]
#[repr(align(128))]
struct OwnLine<T>(T);

/// Consecutive offsets from `first`, each message set once.
pub(crate) struct Chunk<T> {
    first: u64,
    messages: Box<[Message<T>]>,
}

/// A message and its timestamp, set once, alone on its cache line: the
/// publisher setting the next message does not disturb readers of this
/// one (`fanout4_async` measured ~1.1 without, ~1.2 with).
#[repr(align(64))]
struct Message<T>(OnceLock<(Timestamp, T)>);

impl<T> Chunk<T> {
    fn new(first: u64, len: usize) -> Self {
        Self {
            first,
            messages: (0..len).map(|_| Message(OnceLock::new())).collect(),
        }
    }

    /// The offset after its last.
    fn end(&self) -> u64 {
        self.first + self.messages.len() as u64
    }

    fn holds(&self, offset: u64) -> bool {
        (self.first..self.end()).contains(&offset)
    }

    /// The message at `offset`, if the chunk holds it and it was set.
    fn get(&self, offset: u64) -> Option<&(Timestamp, T)> {
        let index = usize::try_from(offset.checked_sub(self.first)?).ok()?;
        self.messages.get(index)?.0.get()
    }
}

/// The chunk a reader last read from, kept between its fills so that a
/// reader in the middle of a chunk takes no lock at all.
pub(crate) struct ChunkCache<T>(Option<Arc<Chunk<T>>>);

impl<T> Default for ChunkCache<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<T> fmt::Debug for ChunkCache<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ChunkCache")
            .field(&self.0.as_ref().map(|c| c.first))
            .finish()
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

impl Fill {
    const NOTHING: Self = Self {
        missed: 0,
        copied: 0,
    };
}

impl<T: Clone> Ring<T> {
    pub(crate) fn new(name: Name, keep: usize) -> Self {
        let keep = keep.max(1);
        Self::with_chunk_len(name, keep, keep.clamp(MIN_CHUNK, CHUNK))
    }

    /// A ring whose chunks hold `chunk_len` offsets: tests use tiny chunks
    /// so that few pushes cross chunk boundaries and drop chunks.
    fn with_chunk_len(name: Name, keep: usize, chunk_len: usize) -> Self {
        let keep = keep.max(1);
        Self {
            name,
            head: OwnLine(AtomicU64::new(0)),
            life: OwnLine(AtomicU8::new(Life::Open as u8)),
            keep,
            chunk_len: chunk_len.max(1),
            table: RwLock::new(VecDeque::new()),
            publish: OwnLine(Mutex::new(Publish {
                life: Life::Open,
                filling: None,
            })),
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

    /// Appends `value`; returns its offset.
    /// Gives `value` back if the topic is closed.
    pub(crate) fn push(&self, value: T, timestamp: Timestamp) -> Result<u64, (Error, T)> {
        let mut publish = lock(&self.publish.0);
        if let Err(e) = publish.life.check(&self.name) {
            return Err((e, value));
        }
        // The offset only moves under `publish`, which we hold.
        let offset = self.head.0.load(Ordering::Relaxed) & !MAY_WAIT;
        let mut dropped = Vec::new();
        if !publish.filling.as_ref().is_some_and(|c| c.holds(offset)) {
            let chunk = Arc::new(Chunk::new(offset, self.chunk_len));
            let mut table = write(&self.table);
            table.push_back(chunk.clone());
            // Chunks wholly before the oldest offset retained *now*, before
            // this message is in: a reader that loaded the current head may
            // still want that offset (and one that finds its chunk gone
            // knows the head moved). Dropped after the locks are released.
            let first = offset.saturating_sub(self.keep as u64);
            while table.front().is_some_and(|c| c.end() <= first) {
                dropped.extend(table.pop_front());
            }
            drop(table);
            publish.filling = Some(chunk);
        }
        // Borrowed, not cloned: a reference count changed per message would
        // share its cache line with every reader of the chunk.
        if let Some(chunk) = &publish.filling {
            // A new offset: its message was never set.
            let _unset = chunk.messages[(offset - chunk.first) as usize]
                .0
                .set((timestamp, value));
        }
        // After the message (release): a reader that sees the new head finds
        // it. One read-modify-write, ordered with every reader's
        // registration: see the module doc.
        let previous = self.head.0.fetch_add(1, Ordering::AcqRel);
        drop(publish);
        // No lock held: dropping messages and the wake-ups (system calls)
        // hold up nobody.
        drop(dropped);
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

    /// The chunk holding `offset`, from the table, kept in `cache`.
    fn find<'c>(&self, offset: u64, cache: &'c mut ChunkCache<T>) -> Option<&'c Chunk<T>> {
        if !cache.0.as_ref().is_some_and(|c| c.holds(offset)) {
            let table = read(&self.table);
            let first = table.front()?.first;
            let index = (offset.checked_sub(first)? / self.chunk_len as u64) as usize;
            cache.0 = Some(table.get(index)?.clone());
        }
        cache.0.as_deref().filter(|c| c.holds(offset))
    }

    /// Copies up to `max` messages from `*position` into `out`, advancing
    /// `*position`; `cache` is the reader's own. When nothing is there and
    /// `signal` is given, registers it (see the module doc) before
    /// returning.
    pub(crate) fn fill(
        &self,
        position: &mut u64,
        max: usize,
        out: &mut VecDeque<Record<T>>,
        signal: Option<&Signal>,
        cache: &mut ChunkCache<T>,
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
        let (mut missed, mut copied) = (0, 0);
        loop {
            // Everything before the last `keep` is gone. The gap comes before
            // the messages after it: hand out what was copied first.
            let first = head.saturating_sub(self.keep as u64);
            if *position < first {
                if copied > 0 {
                    return Ok(Fill { missed, copied });
                }
                missed += first - *position;
                *position = first;
            }
            if copied == max || *position >= head {
                return Ok(Fill { missed, copied });
            }
            let Some(chunk) = self.find(*position, cache) else {
                // Dropped since `head` was loaded (lapped), or by `close`.
                let moved = self.head();
                if moved == head {
                    self.check()?;
                    return Ok(Fill { missed, copied });
                }
                head = moved;
                continue;
            };
            while copied < max && *position < head {
                // Below the head, so set before the head was stored; `None`
                // at the chunk's end.
                let Some((timestamp, value)) = chunk.get(*position) else {
                    break;
                };
                out.push_back(Record {
                    offset: *position,
                    timestamp: *timestamp,
                    value: value.clone(),
                });
                *position += 1;
                copied += 1;
            }
            if chunk.holds(*position) && copied < max && *position < head {
                // An unset message below the head: cannot happen; never
                // spin on it.
                return Ok(Fill { missed, copied });
            }
        }
    }

    /// The oldest retained offset and the head (the offset of the next
    /// message).
    pub(crate) fn bounds(&self) -> Result<(u64, u64), Error> {
        self.check()?;
        let head = self.head();
        Ok((head.saturating_sub(self.keep as u64), head))
    }

    /// The first retained offset whose timestamp is at or after `time`.
    pub(crate) fn offset_at(&self, time: Timestamp) -> Result<u64, Error> {
        // Under `publish`, no publisher moves the retained window.
        let publish = lock(&self.publish.0);
        publish.life.check(&self.name)?;
        let head = self.head();
        let (mut low, mut high) = (head.saturating_sub(self.keep as u64), head);
        let mut cache = ChunkCache::default();
        // The first offset in `low..high` whose timestamp is not before `time`
        // (timestamps are in publishing order), by bisection.
        while low < high {
            let middle = low + (high - low) / 2;
            let before = self
                .find(middle, &mut cache)
                .and_then(|chunk| chunk.get(middle))
                .is_some_and(|(timestamp, _)| *timestamp < time);
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
        let mut publish = lock(&self.publish.0);
        if publish.life == Life::Open {
            publish.life = life;
            // Before the table is emptied and the waiters taken: a reader
            // missing its chunk, or registering after, sees the ring closed.
            self.life.0.store(life as u8, Ordering::Release);
        }
        let filling = publish.filling.take();
        let chunks = std::mem::take(&mut *write(&self.table));
        drop(publish);
        drop((filling, chunks));
        self.wake_all();
    }
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

#[cfg(all(test, loom))]
mod loom_tests {
    use std::collections::VecDeque;

    use super::{ChunkCache, Fill, Ring};
    use crate::{Error, Name, Record, Timestamp, life::Life, signal::Signal, sync::Arc};

    /// Chunks of one message: every push adds a chunk and drops one, the
    /// races worth exploring.
    fn ring(keep: usize) -> Arc<Ring<u64>> {
        Arc::new(Ring::with_chunk_len(Name::new("t").unwrap(), keep, 1))
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
            let mut cache = ChunkCache::default();
            let mut out: VecDeque<Record<u64>> = VecDeque::new();
            let mut seen = Seen::default();
            while position < 2 {
                let fill = ring
                    .fill(&mut position, 8, &mut out, Some(&signal), &mut cache)
                    .unwrap();
                seen.take(fill, &mut out);
                if fill.copied == 0 && fill.missed == 0 {
                    // Registered under the waiters lock after checking the head
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

    /// A reader fills once while the publisher replaces the only message of a
    /// keep-1 ring (the chunk of the offset it wants may be dropped between
    /// its look at the head and its look at the table), then once more after
    /// the publisher is done.
    /// Whatever the interleaving, the gap is reported, never skipped
    /// silently, values match their offsets, and the reader ends at the last
    /// message.
    #[test]
    fn loom_reader_races_overwrite() {
        loom::model(|| {
            let ring = ring(1);
            let publisher = publish(&ring, 2);
            let mut position = 0;
            let mut cache = ChunkCache::default();
            let mut out = VecDeque::new();
            let mut seen = Seen::default();
            let fill = ring
                .fill(&mut position, 8, &mut out, None, &mut cache)
                .unwrap();
            seen.take(fill, &mut out);
            assert_eq!(position, seen.delivered + seen.missed);
            publisher.join().unwrap();
            let fill = ring
                .fill(&mut position, 8, &mut out, None, &mut cache)
                .unwrap();
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
                    let mut cache = ChunkCache::default();
                    let mut out = VecDeque::new();
                    loop {
                        match ring.fill(&mut position, 8, &mut out, Some(&signal), &mut cache) {
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

    use super::{ChunkCache, Fill, Ring};
    use std::sync::Arc;

    use crate::{Error, Name, Record, Timestamp, life::Life, signal::Signal};

    fn ring(keep: usize) -> Ring<u64> {
        Ring::new(Name::new("t").unwrap(), keep)
    }

    /// A ring with chunks of `chunk_len`, or of the size `new` picks.
    fn ring_chunked(keep: usize, chunk_len: Option<usize>) -> Ring<u64> {
        match chunk_len {
            Some(len) => Ring::with_chunk_len(Name::new("t").unwrap(), keep, len),
            None => ring(keep),
        }
    }

    /// The ring as it was specified before it had chunks: one
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
        /// Pushes this many, enough to lap rings of several chunks.
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
        /// whatever `keep` (one chunk or several, the last one cut or not).
        #[test]
        fn answers_as_the_model(
            keep in prop_oneof![1..6usize, 1020..1030usize, Just(2048usize), Just(2500usize)],
            chunk_len in prop_oneof![Just(None), (1..5usize).prop_map(Some)],
            ops in prop::collection::vec(op(), 1..60),
        ) {
            let ring = ring_chunked(keep, chunk_len);
            let mut cache = ChunkCache::default();
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
                        let fill = ring.fill(&mut ours, max, &mut out, None, &mut cache).unwrap();
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
        let fill = ring.fill(
            &mut position,
            8,
            &mut VecDeque::new(),
            Some(&signal),
            &mut ChunkCache::default(),
        );
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
        // Chunks of 3 in a ring of 8: chunks come and go every few pushes.
        let ring = Arc::new(ring_chunked(8, Some(3)));
        let readers: Vec<_> = [1, 3, 8, 256]
            .into_iter()
            .map(|max| {
                let ring = ring.clone();
                std::thread::spawn(move || {
                    let signal = Signal::new();
                    let (mut position, mut seen, mut last) = (0, 0, None);
                    let mut cache = ChunkCache::default();
                    let mut out = VecDeque::new();
                    while position < N {
                        let fill = ring
                            .fill(&mut position, max, &mut out, Some(&signal), &mut cache)
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
