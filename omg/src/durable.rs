//! The core's side of a durable topic: the committed head as last announced
//! by the storage, and the cursors waiting for it to move.

use std::sync::{Arc, OnceLock, Weak};

use crate::{
    Error, Name,
    head::Head,
    life::Life,
    signal::Signal,
    storage::{InlineLog, Storage, TopicWatcher},
    sync::{AtomicU8, Ordering},
};

#[derive(Debug)]
pub(crate) struct DurableTopic {
    pub(crate) name: Name,
    pub(crate) storage: Arc<dyn Storage>,
    /// The storage's inline handle on this topic, if it offers one
    /// ([`Storage::inline_log`]): single publishes go through it. Set once,
    /// right after the storage declared the topic (this is its watcher, so
    /// it exists before).
    inline: OnceLock<Arc<dyn InlineLog>>,
    /// Highest head any commit announced. Cursors read the storage only when
    /// it is past their position, so an idle `try_recv` touches no storage.
    head: Head,
    life: AtomicU8,
}

impl DurableTopic {
    pub(crate) fn new(name: Name, storage: Arc<dyn Storage>, head: u64) -> Self {
        Self {
            name,
            storage,
            inline: OnceLock::new(),
            head: Head::new(head),
            life: AtomicU8::new(Life::Open as u8),
        }
    }

    #[inline]
    pub(crate) fn check(&self) -> Result<(), Error> {
        Life::from_u8(self.life.load(Ordering::Acquire)).check(&self.name)
    }

    /// Asks the storage for its inline handle on the topic; call once the
    /// storage declared it with `this`, a weak handle on `self`.
    pub(crate) fn attach_inline_log(&self, this: &Weak<dyn TopicWatcher>) {
        if let Some(log) = self.storage.inline_log(&self.name, this) {
            let _first = self.inline.set(log);
        }
    }

    #[inline]
    pub(crate) fn inline_log(&self) -> Option<&Arc<dyn InlineLog>> {
        self.inline.get()
    }

    #[inline]
    pub(crate) fn head(&self) -> u64 {
        self.head.get()
    }

    /// Raises the known head (a read saw further than any announcement).
    pub(crate) fn observe_head(&self, head: u64) {
        self.head.observe(head);
    }

    /// Registers `signal` unless the head already passed `position` or the
    /// topic closed; returns whether it registered (the caller may sleep).
    pub(crate) fn register_unless_ready(&self, position: u64, signal: &Signal) -> bool {
        self.head
            .register_unless_ready(position, signal, || self.check().is_err())
    }

    /// Ends the topic for its handles with `life`'s error and wakes every
    /// waiter. The first end wins, except that this agency's own shutdown
    /// replaces a closed storage: after [`Agency::shutdown`](crate::Agency::shutdown)
    /// every handle reports [`Error::ShutDown`], as documented there.
    pub(crate) fn close(&self, life: Life) {
        let (acq_rel, acquire) = (Ordering::AcqRel, Ordering::Acquire);
        let first = self
            .life
            .compare_exchange(Life::Open as u8, life as u8, acq_rel, acquire);
        if let Err(now) = first
            && life == Life::ShutDown
            && Life::from_u8(now) == Life::StorageClosed
        {
            let _ = self
                .life
                .compare_exchange(now, life as u8, acq_rel, acquire);
        }
        self.head.wake_all().notify();
    }

    /// Whether the topic is still open (not deleted, shut down or closed
    /// under it).
    pub(crate) fn is_open(&self) -> bool {
        Life::from_u8(self.life.load(Ordering::Acquire)) == Life::Open
    }
}

impl TopicWatcher for DurableTopic {
    #[inline]
    fn committed(&self, next_offset: u64) {
        self.head.advance(next_offset);
    }

    fn deleted(&self) {
        self.close(Life::Deleted);
    }

    fn closed(&self) {
        self.close(Life::StorageClosed);
    }
}
