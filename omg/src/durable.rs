//! The core's side of a durable topic: the committed head as last announced
//! by the storage, and the cursors waiting for it to move.

use std::sync::Arc;

use crate::{
    Error, Name,
    life::Life,
    signal::{Signal, WaitList},
    storage::{Storage, TopicWatcher},
    sync::{AtomicBool, AtomicU8, AtomicU64, Mutex, Ordering, lock},
};

#[derive(Debug)]
pub(crate) struct DurableTopic {
    pub(crate) name: Name,
    pub(crate) storage: Arc<dyn Storage>,
    /// Highest head any commit announced. Cursors read the storage only when
    /// it is past their position, so an idle `try_recv` touches no storage.
    head: AtomicU64,
    life: AtomicU8,
    /// Set (under `waiters`' lock) before a cursor re-checks the head and
    /// registers; cleared when a commit takes the list. A commit that finds
    /// it clear skips the lock: with both sides `SeqCst` (store then load,
    /// on each side), either the commit sees the flag or the cursor sees
    /// the new head — a wake-up cannot be lost.
    may_wait: AtomicBool,
    waiters: Mutex<WaitList>,
}

impl DurableTopic {
    pub(crate) fn new(name: Name, storage: Arc<dyn Storage>, head: u64) -> Self {
        Self {
            name,
            storage,
            head: AtomicU64::new(head),
            life: AtomicU8::new(Life::Open as u8),
            may_wait: AtomicBool::new(false),
            waiters: Mutex::new(WaitList::default()),
        }
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        Life::from_u8(self.life.load(Ordering::Acquire)).check(&self.name)
    }

    pub(crate) fn head(&self) -> u64 {
        self.head.load(Ordering::Acquire)
    }

    /// Raises the known head (a read saw further than any announcement).
    pub(crate) fn observe_head(&self, head: u64) {
        self.head.fetch_max(head, Ordering::AcqRel);
    }

    /// Registers `signal` unless the head already passed `position` or the
    /// topic closed; returns whether it registered (the caller may sleep).
    pub(crate) fn register_unless_ready(&self, position: u64, signal: &Signal) -> bool {
        let mut waiters = lock(&self.waiters);
        self.may_wait.store(true, Ordering::SeqCst);
        // Re-checked after raising the flag that `committed` reads after
        // raising the head (see `may_wait`).
        if self.head.load(Ordering::SeqCst) > position || self.check().is_err() {
            return false;
        }
        waiters.register(signal);
        true
    }

    pub(crate) fn close(&self, life: Life) {
        let _ = self.life.compare_exchange(
            Life::Open as u8,
            life as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        let woken = lock(&self.waiters).take();
        woken.notify();
    }
}

impl TopicWatcher for DurableTopic {
    fn committed(&self, next_offset: u64) {
        self.head.fetch_max(next_offset, Ordering::SeqCst);
        // The common publish with nobody blocked takes no lock.
        if !self.may_wait.load(Ordering::SeqCst) {
            return;
        }
        let mut waiters = lock(&self.waiters);
        self.may_wait.store(false, Ordering::SeqCst);
        if waiters.is_empty() {
            return;
        }
        let woken = waiters.take();
        drop(waiters);
        woken.notify();
    }

    fn deleted(&self) {
        self.close(Life::Deleted);
    }
}
