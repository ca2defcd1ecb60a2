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

use crate::{reader::head, watchers::Watchers};

/// Runs until `stop` is set.
pub(crate) fn run(
    conn: Connection,
    watchers: Arc<Watchers>,
    stop: Arc<AtomicBool>,
    every: Duration,
) {
    let mut last_version: Option<i64> = None;
    let mut heads: HashMap<Name, u64> = HashMap::new();
    while !stop.load(Ordering::Acquire) {
        std::thread::sleep(every);
        let Ok(version) = conn.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0)) else {
            continue;
        };
        if last_version == Some(version) {
            continue;
        }
        last_version = Some(version);
        for topic in watchers.topics() {
            match head(&conn, &topic) {
                Ok(Some(next)) => {
                    if heads.get(&topic) != Some(&next) {
                        heads.insert(topic.clone(), next);
                        watchers.committed(&topic, next);
                    }
                }
                Ok(None) => {
                    heads.remove(&topic);
                    watchers.deleted(&topic);
                }
                Err(_) => {}
            }
        }
    }
}
