//! The watch thread: notices commits of other processes by polling
//! `PRAGMA data_version` (an in-memory check) and tells the watchers.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use omg::Name;
use rusqlite::Connection;

use crate::{lifecycle::Lifecycle, reader::head, watchers::Watchers};

/// Runs until `stop` is set.
///
/// A topic is told apart from an earlier one of the same name (deleted and
/// declared again, here or in another process) by its id, which is never
/// given out twice: a new id with the same head is news to the new topic's
/// watchers, and tells the old one's that their topic was deleted.
pub(crate) fn run(
    conn: Connection,
    watchers: Arc<Watchers>,
    life: Arc<Lifecycle>,
    stop: Arc<AtomicBool>,
    every: Duration,
) {
    life.enter();
    let mut last_version: Option<i64> = None;
    // What was last announced of each topic: its id and head.
    let mut heads: HashMap<Name, (i64, u64)> = HashMap::new();
    while !stop.load(Ordering::Acquire) {
        std::thread::sleep(every);
        let Ok(version) = conn.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0)) else {
            continue;
        };
        if last_version == Some(version) {
            continue;
        }
        last_version = Some(version);
        // The ids watched are taken before the heads are read: a topic
        // missing from the file afterwards is gone for the watchers of
        // that id, not for those of a later one declared meanwhile.
        for (topic, watched) in watchers.topics() {
            match head(&conn, &topic) {
                Ok(Some((id, next))) => {
                    if heads.get(&topic) != Some(&(id, next)) {
                        heads.insert(topic.clone(), (id, next));
                        watchers.committed(&topic, id, next);
                    }
                }
                Ok(None) => {
                    heads.remove(&topic);
                    watchers.deleted(&topic, watched);
                }
                Err(_) => {}
            }
        }
    }
}
