//! Registered [`TopicWatcher`]s, shared by the writer and the watch thread.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, Weak},
};

use omg::{Name, storage::TopicWatcher};

/// Watchers by topic, held weakly.
#[derive(Default)]
pub(crate) struct Watchers {
    map: Mutex<HashMap<Name, Vec<Weak<dyn TopicWatcher>>>>,
}

impl std::fmt::Debug for Watchers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchers").finish_non_exhaustive()
    }
}

impl Watchers {
    fn lock(&self) -> MutexGuard<'_, HashMap<Name, Vec<Weak<dyn TopicWatcher>>>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers `watcher` for `topic`, dropping dead ones.
    pub(crate) fn register(&self, topic: &Name, watcher: Weak<dyn TopicWatcher>) {
        let mut map = self.lock();
        let list = map.entry(topic.clone()).or_default();
        list.retain(|w| w.strong_count() > 0);
        list.push(watcher);
    }

    /// The topics someone watches.
    pub(crate) fn topics(&self) -> Vec<Name> {
        self.lock().keys().cloned().collect()
    }

    /// Tells `topic`'s watchers its head is `next_offset` (without holding the lock while calling).
    pub(crate) fn committed(&self, topic: &Name, next_offset: u64) {
        let live: Vec<_> = self
            .lock()
            .get(topic)
            .map(|l| l.iter().filter_map(Weak::upgrade).collect())
            .unwrap_or_default();
        for watcher in live {
            watcher.committed(next_offset);
        }
    }

    /// Tells `topic`'s watchers it was deleted and forgets them.
    pub(crate) fn deleted(&self, topic: &Name) {
        let removed = self.lock().remove(topic).unwrap_or_default();
        for watcher in removed.iter().filter_map(Weak::upgrade) {
            watcher.deleted();
        }
    }
}
