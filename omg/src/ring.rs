//! The at-most-once ring: the last `keep` messages of a topic, in memory.
//!
//! One mutex guards the ring, its head and its waiters. Publishing is a
//! push under the lock (never blocks on readers, never fails for capacity).
//! Readers copy *batches* out under the lock into their own buffers, so a
//! reader takes the lock once per batch, not once per message; a reader
//! whose position was overwritten jumps to the oldest retained message and
//! is told how many it missed.

use std::collections::VecDeque;

use crate::{
    Error, Name, Record, Timestamp,
    life::Life,
    signal::{Signal, WaitList, Woken},
    sync::{AtomicU8, Mutex, Ordering, lock},
};

#[derive(Debug)]
pub(crate) struct Ring<T> {
    name: Name,
    state: Mutex<RingState<T>>,
    /// `state.life` as one atomic word, written under the lock: a cursor
    /// handing out buffered messages checks it without taking the lock. On
    /// a cache line of its own: every reader loads it per message, and the
    /// publisher writes the mutex beside it per message.
    life: OwnLine<AtomicU8>,
}

/// A value alone on its cache line (128 bytes: adjacent-line prefetching
/// pairs 64-byte lines).
#[derive(Debug)]
#[repr(align(128))]
struct OwnLine<T>(T);

#[derive(Debug)]
struct RingState<T> {
    slots: VecDeque<(Timestamp, T)>,
    /// Offset the next message gets.
    next: u64,
    keep: usize,
    waiters: WaitList,
    life: Life,
}

impl<T> RingState<T> {
    fn first(&self) -> u64 {
        self.next - self.slots.len() as u64
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
            state: Mutex::new(RingState {
                slots: VecDeque::with_capacity(keep.min(1 << 16)),
                next: 0,
                keep,
                waiters: WaitList::default(),
                life: Life::Open,
            }),
            life: OwnLine(AtomicU8::new(Life::Open as u8)),
        }
    }

    /// `Ok` while the ring is open, else the error its handles report: one
    /// atomic load, no lock.
    pub(crate) fn check(&self) -> Result<(), Error> {
        Life::from_u8(self.life.0.load(Ordering::Acquire)).check(&self.name)
    }

    /// Appends `value`; returns its offset.
    /// Gives `value` back if the topic is closed.
    pub(crate) fn push(&self, value: T, timestamp: Timestamp) -> Result<u64, (Error, T)> {
        let mut state = lock(&self.state);
        if let Err(e) = state.life.check(&self.name) {
            return Err((e, value));
        }
        if state.slots.len() == state.keep {
            state.slots.pop_front();
        }
        state.slots.push_back((timestamp, value));
        let offset = state.next;
        state.next += 1;
        let woken = if state.waiters.is_empty() {
            Woken::none()
        } else {
            state.waiters.take()
        };
        drop(state);
        woken.notify();
        Ok(offset)
    }

    /// Copies up to `max` messages from `*position` into `out`, advancing
    /// `*position`. When nothing is there and `signal` is given, registers it
    /// before releasing the lock.
    pub(crate) fn fill(
        &self,
        position: &mut u64,
        max: usize,
        out: &mut VecDeque<Record<T>>,
        signal: Option<&Signal>,
    ) -> Result<Fill, Error> {
        let mut state = lock(&self.state);
        state.life.check(&self.name)?;
        let first = state.first();
        let missed = first.saturating_sub(*position);
        *position = (*position).max(first);
        let start = usize::try_from(*position - first)
            .unwrap_or(usize::MAX)
            .min(state.slots.len());
        let copied = (state.slots.len() - start).min(max);
        for (timestamp, value) in state.slots.range(start..start + copied) {
            out.push_back(Record {
                offset: *position,
                timestamp: *timestamp,
                value: value.clone(),
            });
            *position += 1;
        }
        if copied == 0
            && missed == 0
            && let Some(signal) = signal
        {
            state.waiters.register(signal);
        }
        Ok(Fill { missed, copied })
    }

    /// The head (offset of the next message) and the oldest retained offset.
    pub(crate) fn bounds(&self) -> Result<(u64, u64), Error> {
        let state = lock(&self.state);
        state.life.check(&self.name)?;
        Ok((state.first(), state.next))
    }

    /// The first retained offset whose timestamp is at or after `time`.
    pub(crate) fn offset_at(&self, time: Timestamp) -> Result<u64, Error> {
        let state = lock(&self.state);
        state.life.check(&self.name)?;
        let index = state.slots.partition_point(|(t, _)| *t < time);
        Ok(state.first() + index as u64)
    }

    /// Ends the ring for good and wakes every waiter.
    pub(crate) fn close(&self, life: Life) {
        let mut state = lock(&self.state);
        if state.life == Life::Open {
            state.life = life;
            self.life.0.store(life as u8, Ordering::Release);
        }
        state.slots.clear();
        let woken = state.waiters.take();
        drop(state);
        woken.notify();
    }
}

/// Loom models of the ring and its wake-up path. Run with
/// `RUSTFLAGS="--cfg loom" cargo test -p omg --lib --release loom`.
#[cfg(all(test, loom))]
mod loom_tests {
    use std::collections::VecDeque;

    use super::Ring;
    use crate::{Error, Name, Record, Timestamp, life::Life, signal::Signal, sync::Arc};

    fn ring(keep: usize) -> Arc<Ring<u64>> {
        Arc::new(Ring::new(Name::new("t").unwrap(), keep))
    }

    /// The value published at `offset`: a torn or misplaced read shows up
    /// as a mismatch.
    fn value_of(offset: u64) -> u64 {
        1000 + offset
    }

    /// One publisher pushes 2 messages into a keep-1 ring while a reader
    /// fills, and registers then waits when it found nothing. The reader
    /// always ends having seen the last message, every gap reported, every
    /// value matching its offset.
    #[test]
    fn loom_no_lost_wakeup_no_torn_read() {
        loom::model(|| {
            let ring = ring(1);
            let publisher = {
                let ring = ring.clone();
                loom::thread::spawn(move || {
                    for offset in 0..2 {
                        let pushed = ring.push(value_of(offset), Timestamp::from_micros(0));
                        assert_eq!(pushed.ok(), Some(offset));
                    }
                })
            };
            let signal = Signal::new();
            let mut position = 0;
            let mut out: VecDeque<Record<u64>> = VecDeque::new();
            let (mut delivered, mut missed) = (0, 0);
            let mut last = None;
            while position < 2 {
                let fill = ring
                    .fill(&mut position, 8, &mut out, Some(&signal))
                    .unwrap();
                missed += fill.missed;
                for record in out.drain(..) {
                    assert_eq!(record.value, value_of(record.offset), "torn read");
                    assert!(last.is_none_or(|l| record.offset > l), "out of order");
                    last = Some(record.offset);
                    delivered += 1;
                }
                if fill.copied == 0 && fill.missed == 0 {
                    // Registered under the ring's lock: a push after this
                    // point notifies us, so this wait cannot hang.
                    signal.wait();
                }
            }
            publisher.join().unwrap();
            assert_eq!(last, Some(1), "the last message is always delivered");
            assert_eq!(delivered + missed, 2, "every message delivered or reported");
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
