//! Reader connections: reads run in their own WAL snapshot, so they see
//! committed data only and never wait for the writer.

use std::sync::{
    Mutex, MutexGuard, PoisonError,
    atomic::{AtomicUsize, Ordering},
};

use omg::{
    Error, Name, Result, Timestamp,
    storage::{ReadBuf, ReadInfo, TopicSpec},
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::{
    error::sql,
    schema::{MessageTable, decode_delivery},
};

/// A small pool of reader connections.
pub(crate) struct Readers {
    pool: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers")
            .field("connections", &self.pool.len())
            .finish()
    }
}

/// A topic's row as a reader sees it.
struct Row {
    id: i64,
    first: u64,
    next: u64,
}

impl Readers {
    /// A pool of `connections` (at least one).
    pub(crate) fn new(connections: Vec<Connection>) -> Self {
        Self {
            pool: connections.into_iter().map(Mutex::new).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// A free connection if there is one, else the next in turn.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        for slot in &self.pool {
            if let Ok(guard) = slot.try_lock() {
                return guard;
            }
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.pool.len();
        self.pool[i].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// See [`Storage::read`](omg::storage::Storage::read).
    pub(crate) fn read(
        &self,
        topic: &Name,
        from: u64,
        max: usize,
        out: &mut ReadBuf,
    ) -> Result<ReadInfo> {
        out.clear();
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| sql("starting a read", e))?;
        let row = row(&tx, topic)?.ok_or_else(|| Error::UnknownTopic {
            topic: topic.clone(),
        })?;
        let start = from.max(row.first);
        let end = start
            .saturating_add(u64::try_from(max).unwrap_or(u64::MAX))
            .min(row.next);
        if start < end {
            let mut statement = tx
                .prepare_cached(&MessageTable(row.id).range())
                .map_err(|e| sql("reading", e))?;
            let mut rows = statement
                .query(params![start as i64, end as i64])
                .map_err(|e| sql("reading", e))?;
            // Offsets are dense between `first_offset` and `next_offset`:
            // the n-th row is `start + n`, which the count below confirms.
            let mut offset = start;
            while let Some(r) = rows.next().map_err(|e| sql("reading", e))? {
                let ts: i64 = r.get(0).map_err(|e| sql("reading", e))?;
                let payload = r.get_ref(1).map_err(|e| sql("reading", e))?;
                let bytes = payload.as_blob().map_err(|_| {
                    crate::error::named(
                        omg::StorageErrorKind::Corrupt,
                        format!(
                            "topic {topic:?}: the payload at offset {offset} is not a blob (a damaged or foreign row)"
                        ),
                    )
                })?;
                out.push(offset, Timestamp::from_micros(ts), bytes);
                offset += 1;
            }
            if offset != end {
                out.clear();
                return Err(crate::error::named(
                    omg::StorageErrorKind::Corrupt,
                    format!(
                        "topic {topic} has {} messages between offsets {start} and {end}: the file is damaged",
                        offset - start
                    ),
                ));
            }
        }
        Ok(ReadInfo {
            first_offset: row.first,
            next_offset: row.next,
        })
    }

    /// See [`Storage::offset_at`](omg::storage::Storage::offset_at).
    pub(crate) fn offset_at(&self, topic: &Name, time: Timestamp) -> Result<u64> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| sql("starting a read", e))?;
        let row = row(&tx, topic)?.ok_or_else(|| Error::UnknownTopic {
            topic: topic.clone(),
        })?;
        let timestamp_at = MessageTable(row.id).timestamp_at();
        let (mut lo, mut hi) = (row.first, row.next);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let ts: Option<i64> = tx
                .prepare_cached(&timestamp_at)
                .and_then(|mut s| s.query_row([mid as i64], |r| r.get(0)).optional())
                .map_err(|e| sql("searching by time", e))?;
            if ts.is_some_and(|t| t < time.as_micros()) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// See [`Storage::cursor_position`](omg::storage::Storage::cursor_position).
    pub(crate) fn cursor_position(&self, topic: &Name, cursor: &Name) -> Result<Option<u64>> {
        let conn = self.conn();
        conn.prepare_cached(
            "SELECT c.next_offset FROM cursors c JOIN topics t ON t.id = c.topic_id
             WHERE t.name = ?1 AND c.name = ?2",
        )
        .and_then(|mut s| {
            s.query_row([topic.as_str(), cursor.as_str()], |r| r.get::<_, i64>(0))
                .optional()
        })
        .map(|o| o.map(|v| v as u64))
        .map_err(|e| sql("reading a cursor", e))
    }

    /// See [`Storage::key_offset`](omg::storage::Storage::key_offset).
    pub(crate) fn key_offset(&self, topic: &Name, key: &str) -> Result<Option<u64>> {
        let conn = self.conn();
        conn.prepare_cached(
            "SELECT k.offset FROM keys k JOIN topics t ON t.id = k.topic_id
             WHERE t.name = ?1 AND k.key = ?2",
        )
        .and_then(|mut s| {
            s.query_row([topic.as_str(), key], |r| r.get::<_, i64>(0))
                .optional()
        })
        .map(|o| o.map(|v| v as u64))
        .map_err(|e| sql("looking up an idempotency key", e))
    }

    /// Every topic, by name; or the one named `only`.
    pub(crate) fn specs(&self, only: Option<&Name>) -> Result<Vec<TopicSpec>> {
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached(
                "SELECT name, class, retain_secs, retain_nanos, message_type FROM topics
                 WHERE ?1 IS NULL OR name = ?1 ORDER BY name",
            )
            .map_err(|e| sql("listing topics", e))?;
        let rows = statement
            .query_map([only.map(Name::as_str)], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(|e| sql("listing topics", e))?;
        let mut specs = Vec::new();
        for r in rows {
            let (name, class, secs, nanos, message_type) =
                r.map_err(|e| sql("listing topics", e))?;
            let delivery = decode_delivery(&name, class, secs, nanos)?;
            let name = omg::storage::stored_name(&name).map_err(|e| {
                crate::error::named(
                    omg::StorageErrorKind::Corrupt,
                    format!("a topic is stored under an invalid name: {e}"),
                )
            })?;
            specs.push(TopicSpec {
                name,
                delivery,
                message_type,
            });
        }
        Ok(specs)
    }
}

/// The id and head of `topic`, if it exists (used by the watch thread).
pub(crate) fn head(conn: &Connection, topic: &Name) -> Result<Option<(i64, u64)>> {
    Ok(row(conn, topic)?.map(|r| (r.id, r.next)))
}

fn row(conn: &Connection, topic: &Name) -> Result<Option<Row>> {
    conn.prepare_cached("SELECT id, first_offset, next_offset FROM topics WHERE name = ?1")
        .and_then(|mut s| {
            s.query_row([topic.as_str()], |r| {
                Ok(Row {
                    id: r.get(0)?,
                    first: r.get::<_, i64>(1)? as u64,
                    next: r.get::<_, i64>(2)? as u64,
                })
            })
            .optional()
        })
        .map_err(|e| sql("reading a topic", e))
}
