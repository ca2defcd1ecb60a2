//! Closing: which threads are the storage's own, and when the flush that
//! [`close`](omg::storage::Storage::close) promises is done.

use std::{
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError},
    thread::ThreadId,
};

use crate::watchers::Watchers;

/// Shared by the storage handle and its threads.
#[derive(Debug, Default)]
pub(crate) struct Lifecycle {
    /// The writer, notifier and watch threads.
    own: Mutex<Vec<ThreadId>>,
    /// The writer thread has ended: everything submitted is completed.
    flushed: Mutex<bool>,
    ended: Condvar,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Lifecycle {
    /// Counts the calling thread as one of the storage's own.
    pub(crate) fn enter(&self) {
        lock(&self.own).push(std::thread::current().id());
    }

    /// Whether the calling thread is one of the storage's own. The last
    /// handle may be dropped on one (a watcher or a spent batch holding the
    /// storage): waiting there for the flush would wait for itself.
    pub(crate) fn is_own(&self) -> bool {
        lock(&self.own).contains(&std::thread::current().id())
    }

    /// Waits until the writer thread has ended.
    pub(crate) fn wait_flushed(&self) {
        let mut flushed = lock(&self.flushed);
        while !*flushed {
            flushed = self
                .ended
                .wait(flushed)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Held by the writer thread: when it ends, however it ends (its write
/// connection closed and every reply delivered first), tells every watcher
/// the storage closed, then wakes whoever waits in
/// [`Lifecycle::wait_flushed`].
pub(crate) struct EndOnExit(pub(crate) Arc<Lifecycle>, pub(crate) Arc<Watchers>);

impl Drop for EndOnExit {
    fn drop(&mut self) {
        self.1.closed();
        *lock(&self.0.flushed) = true;
        self.0.ended.notify_all();
    }
}
