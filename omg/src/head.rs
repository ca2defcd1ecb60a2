//! A durable topic's committed head and the cursors waiting for it to move.
//!
//! The common commit has nobody waiting, so it must not take a lock. The
//! head and a "someone may wait" bit share one atomic word: a cursor sets
//! the bit and reads the head in one read-modify-write (under the waiters'
//! lock), a commit raises the head and reads the bit in another. Two RMWs
//! on one location are totally ordered, so either the commit sees the bit
//! (and takes the list) or the cursor sees the new head (and does not
//! sleep): a wake-up cannot be lost. Checked by the loom model below.

use crate::{
    signal::{Signal, WaitList, Woken},
    sync::{AtomicU64, Mutex, Ordering, lock},
};

/// The "someone may wait" bit; the other 63 bits are the head.
const MAY_WAIT: u64 = 1 << 63;

#[derive(Debug)]
pub(crate) struct Head {
    /// The highest head any commit announced, and [`MAY_WAIT`].
    state: AtomicU64,
    waiters: Mutex<WaitList>,
}

impl Head {
    pub(crate) fn new(next: u64) -> Self {
        Self {
            state: AtomicU64::new(next & !MAY_WAIT),
            waiters: Mutex::new(WaitList::default()),
        }
    }

    /// The offset the next message will get, as last announced.
    #[inline]
    pub(crate) fn get(&self) -> u64 {
        self.state.load(Ordering::Acquire) & !MAY_WAIT
    }

    /// Raises the head to `next` if it is behind; returns the previous state.
    #[inline]
    fn raise(&self, next: u64) -> u64 {
        let mut current = self.state.load(Ordering::Acquire);
        loop {
            let head = (current & !MAY_WAIT).max(next & !MAY_WAIT);
            match self.state.compare_exchange(
                current,
                head | (current & MAY_WAIT),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(previous) => return previous,
                Err(actual) => current = actual,
            }
        }
    }

    /// Raises the head without waking anyone (a read saw further than any
    /// announcement; whoever committed it wakes the waiters).
    pub(crate) fn observe(&self, next: u64) {
        self.raise(next);
    }

    /// Raises the head and wakes every registered waiter.
    #[inline]
    pub(crate) fn advance(&self, next: u64) {
        if self.raise(next) & MAY_WAIT != 0 {
            self.wake_all().notify();
        }
    }

    /// Registers `signal` unless the head passed `position` or `closed()`;
    /// returns whether it registered (the caller may sleep).
    pub(crate) fn register_unless_ready(
        &self,
        position: u64,
        signal: &Signal,
        closed: impl FnOnce() -> bool,
    ) -> bool {
        let mut waiters = lock(&self.waiters);
        let previous = self.state.fetch_or(MAY_WAIT, Ordering::AcqRel);
        if previous & !MAY_WAIT > position || closed() {
            return false;
        }
        waiters.register(signal);
        true
    }

    /// Takes every waiter out, to notify after the lock is released.
    pub(crate) fn wake_all(&self) -> Woken {
        let mut waiters = lock(&self.waiters);
        self.state.fetch_and(!MAY_WAIT, Ordering::AcqRel);
        waiters.take()
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::Head;
    use crate::{signal::Signal, sync::Arc};

    /// A commit thread moves the head 0 → 1 → 2 while a cursor waits for
    /// it: the cursor always ends seeing 2, never sleeping through a commit.
    #[test]
    fn loom_head_no_lost_wakeup() {
        loom::model(|| {
            let head = Arc::new(Head::new(0));
            let committer = {
                let head = head.clone();
                loom::thread::spawn(move || {
                    head.advance(1);
                    head.advance(2);
                })
            };
            let signal = Signal::new();
            let mut position = 0;
            while position < 2 {
                let next = head.get();
                if next > position {
                    position = next;
                } else if head.register_unless_ready(position, &signal, || false) {
                    signal.wait();
                }
            }
            committer.join().unwrap();
            assert_eq!(position, 2);
        });
    }
}
