//! Registered [`TopicWatcher`]s, shared by the writer and the watch thread.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, Weak},
};

use omg::{Name, storage::TopicWatcher};

/// The watchers of one topic, and which incarnation of it they watch: the
/// topic's id (`topics.id`), which a deleted and re-created topic never
/// shares with its predecessor (see [`crate::schema`]).
struct Watched {
    id: i64,
    list: Vec<Weak<dyn TopicWatcher>>,
}

/// Watchers by topic, held weakly.
///
/// A topic is known by name, but a name may outlive its topic: deleted and
/// declared again (by this process or another), it is a new topic with a
/// new, larger id. Every call says which id it speaks of, so that the
/// watchers of a deleted topic are told so instead of hearing the new
/// topic's heads as if they continued the old one.
#[derive(Default)]
pub(crate) struct Watchers {
    map: Mutex<HashMap<Name, Watched>>,
}

impl std::fmt::Debug for Watchers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchers").finish_non_exhaustive()
    }
}

/// Watchers to call once the lock is released.
type Live = Vec<Arc<dyn TopicWatcher>>;

fn live(list: &[Weak<dyn TopicWatcher>]) -> Live {
    list.iter().filter_map(Weak::upgrade).collect()
}

impl Watchers {
    fn lock(&self) -> MutexGuard<'_, HashMap<Name, Watched>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers `watcher` for `topic`, whose id is `id`, dropping dead ones.
    /// Watchers of an older topic of that name are told it was deleted; a
    /// watcher of a topic the watch thread already saw replaced is told so
    /// at once.
    pub(crate) fn register(&self, topic: &Name, id: i64, watcher: Weak<dyn TopicWatcher>) {
        let gone = {
            let mut map = self.lock();
            let watched = map.entry(topic.clone()).or_insert_with(|| Watched {
                id,
                list: Vec::new(),
            });
            if watched.id > id {
                watcher.upgrade().into_iter().collect()
            } else {
                let gone = if watched.id < id {
                    watched.id = id;
                    live(&std::mem::take(&mut watched.list))
                } else {
                    Live::new()
                };
                watched.list.retain(|w| w.strong_count() > 0);
                watched.list.push(watcher);
                gone
            }
        };
        for watcher in gone {
            watcher.deleted();
        }
    }

    /// The topics someone watches, with the ids of the topics watched.
    pub(crate) fn topics(&self) -> Vec<(Name, i64)> {
        self.lock()
            .iter()
            .map(|(name, watched)| (name.clone(), watched.id))
            .collect()
    }

    /// Tells the watchers of `topic` (whose id is `id`) its head is
    /// `next_offset`, without holding the lock while calling. Watchers of
    /// an older topic of that name are told it was deleted instead; a
    /// stale report (of a topic older than the one watched) is ignored.
    pub(crate) fn committed(&self, topic: &Name, id: i64, next_offset: u64) {
        let (told, gone) = {
            let mut map = self.lock();
            match map.get_mut(topic) {
                Some(watched) if watched.id == id => (live(&watched.list), Live::new()),
                Some(watched) if watched.id < id => {
                    watched.id = id;
                    (Live::new(), live(&std::mem::take(&mut watched.list)))
                }
                _ => return,
            }
        };
        for watcher in told {
            watcher.committed(next_offset);
        }
        for watcher in gone {
            watcher.deleted();
        }
    }

    /// Tells the watchers of `topic` that it was deleted and forgets them,
    /// if they watch the topic with id `id` (or an older one).
    pub(crate) fn deleted(&self, topic: &Name, id: i64) {
        let removed = {
            let mut map = self.lock();
            match map.get(topic) {
                Some(watched) if watched.id <= id => map.remove(topic),
                _ => None,
            }
        };
        for watcher in removed.iter().flat_map(|w| live(&w.list)) {
            watcher.deleted();
        }
    }

    /// Tells every watcher the storage closed, once: they are forgotten.
    pub(crate) fn closed(&self) {
        let all: Live = self
            .lock()
            .drain()
            .flat_map(|(_, watched)| live(&watched.list))
            .collect();
        for watcher in all {
            watcher.closed();
        }
    }
}
