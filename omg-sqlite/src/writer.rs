//! The writer thread: owns the write connection and group-commits every
//! queued command in one transaction, with a savepoint per command that
//! needs one. A transaction SQLite rolls back as a whole fails only the
//! command that caused it; the ones before it are applied again.

use std::{
    sync::{Arc, Weak},
    time::{Duration, Instant},
};

use omg::{
    Error, Name, Result, StorageErrorKind, Timestamp,
    storage::{Append, Appended, Completer, TopicInfo, TopicSpec, TopicWatcher, WriteBatch},
};
use rusqlite::{CachedStatement, Connection, OptionalExtension, params};

use crate::{
    error::{named, sql},
    figures::WriterFigures,
    heads::{Head, HeadMap, Heads},
    lifecycle::{EndOnExit, Lifecycle},
    queue::{CloseOnExit, Queue, Taken},
    schema::{
        CLASS_AT_LEAST_ONCE, INSERT_TOPIC, MessageTable, REMEMBER_DELETED, decode_delivery,
        encode_delivery,
    },
    watchers::Watchers,
};

/// A request to the writer thread.
pub(crate) enum Command {
    /// Apply a batch atomically.
    Batch(WriteBatch, Completer),
    /// Create or check a topic and register a watcher.
    Declare(
        TopicSpec,
        Weak<dyn TopicWatcher>,
        flume::Sender<Result<TopicInfo>>,
    ),
    /// Delete a topic.
    Delete(Name, flume::Sender<Result<bool>>),
    /// Trim what expired at the timestamp, at most the count per topic
    /// (`u64::MAX`: everything).
    Trim(Timestamp, u64, flume::Sender<Result<u64>>),
    /// Flush and stop.
    Close,
}

/// What to reply after the transaction commits.
enum Reply {
    /// The outcome, and the batch to hand back with it.
    Batch(Completer, Result<Vec<Appended>>, WriteBatch),
    /// A batch of one plain append (the publish path): no list.
    One(Completer, Result<Appended>, WriteBatch),
    /// The outcome carries the topic's id, to register the watcher under.
    Declare(
        flume::Sender<Result<TopicInfo>>,
        Result<(TopicInfo, i64)>,
        TopicSpec,
        Weak<dyn TopicWatcher>,
    ),
    /// The outcome is the deleted topic's id, `None` if there was none.
    Delete(flume::Sender<Result<bool>>, Result<Option<i64>>, Name),
    /// The trim's time and chunk are kept to run it again.
    Trim(flume::Sender<Result<u64>>, Result<u64>, Timestamp, u64),
}

/// The offset and timestamp `append` gets at `head`, or the conflict with
/// its expected offset. Timestamps never go backwards within a topic.
fn place(append: &Append, head: &Head) -> Result<(u64, i64)> {
    if let Some(expected) = append.expected_offset
        && expected != head.next
    {
        return Err(Error::Conflict {
            topic: append.topic.clone(),
            expected,
            actual: head.next,
        });
    }
    Ok((head.next, append.timestamp.as_micros().max(head.last_ts)))
}

/// The one append of `batch` if that is all it is — no key, no cursor
/// commit, no effect: one INSERT, atomic by itself, needing no savepoint.
fn plain_append(batch: &WriteBatch) -> Option<&Append> {
    match batch.appends.as_slice() {
        [append]
            if append.key.is_none() && batch.commits.is_empty() && batch.effects.is_empty() =>
        {
            Some(append)
        }
        _ => None,
    }
}

/// The writer thread's state.
pub(crate) struct Writer {
    pub(crate) conn: Connection,
    pub(crate) queue: Arc<Queue>,
    pub(crate) watchers: Arc<Watchers>,
    pub(crate) trim_interval: Duration,
    pub(crate) trim_chunk: u64,
    pub(crate) figures: Arc<WriterFigures>,
    pub(crate) life: Arc<Lifecycle>,
}

/// Room the writer's list of commands starts with. A drain takes everything
/// queued (publishers that may be refused stop at
/// [`SqliteOptions::queue_capacity`](crate::SqliteOptions::queue_capacity)).
const DRAIN_CAPACITY: usize = 8192;

impl Writer {
    /// Runs until [`Command::Close`], then tells the watchers the storage
    /// closed and marks the flush done ([`EndOnExit`]) — after the write
    /// connection is closed and every reply delivered.
    pub(crate) fn run(self) {
        self.life.enter();
        let _end = EndOnExit(self.life.clone(), self.watchers.clone());
        self.serve_with_notifier();
    }

    /// Completions are delivered by a second thread: waking 32 blocked
    /// publishers costs 32 futex calls, and on the writer they would delay
    /// the next transaction's fsync by as much as the fsync itself.
    fn serve_with_notifier(self) {
        std::thread::scope(|scope| {
            let (deliver, delivered) = flume::unbounded::<Vec<Reply>>();
            let life = &self.life;
            let notifier = std::thread::Builder::new()
                .name("omg-sqlite-notify".into())
                .spawn_scoped(scope, move || {
                    life.enter();
                    for replies in delivered {
                        deliver_replies(replies);
                    }
                });
            match notifier {
                Ok(_) => self.serve(&deliver),
                // No second thread: deliver on this one.
                Err(_) => self.serve(&flume::unbounded().0),
            }
        });
    }

    fn serve(&self, deliver: &flume::Sender<Vec<Reply>>) {
        let _close = CloseOnExit(&self.queue);
        let mut next_trim = Instant::now() + self.trim_interval;
        let mut commands = Vec::with_capacity(DRAIN_CAPACITY);
        loop {
            // Everything queued, taken under one lock.
            if let Taken::TimedOut = self.queue.take(&mut commands, next_trim) {
                next_trim = Instant::now() + self.trim_interval;
                let chunk = self.trim_chunk;
                self.background_trim(chunk, deliver);
                continue;
            }
            let closing = commands.iter().any(|c| matches!(c, Command::Close));
            let mut pending = commands.drain(..);
            while pending.len() > 0 {
                self.transaction(&mut pending, deliver);
            }
            drop(pending);
            if closing {
                return;
            }
            if Instant::now() >= next_trim {
                next_trim = Instant::now() + self.trim_interval;
                let chunk = self.trim_chunk;
                self.background_trim(chunk, deliver);
            }
        }
    }

    fn background_trim(&self, chunk: u64, deliver: &flume::Sender<Vec<Reply>>) {
        let (tx, _rx) = flume::bounded(1);
        let mut commands = vec![Command::Trim(Timestamp::now(), chunk, tx)];
        self.transaction(&mut commands.drain(..), deliver);
    }

    /// Applies commands from `pending` in one transaction, as many as fit
    /// its budget, and replies to each. Replies go to `deliver`, or are
    /// delivered here if nobody receives.
    fn transaction(
        &self,
        pending: &mut std::vec::Drain<'_, Command>,
        deliver: &flume::Sender<Vec<Reply>>,
    ) {
        let _span = tracing::debug_span!("commit", queued = pending.len()).entered();
        let began_at = Instant::now();
        let mut budget = Budget::default();
        let mut replies = Vec::with_capacity(pending.len().min(MAX_TRANSACTION_COMMANDS));
        let mut heads = Heads::default();
        let mut touched: Vec<Name> = Vec::new();
        // Reused per batch: its capacity outlives the batches.
        let mut local = HeadMap::default();
        // A declare or delete in this drain: watchers to register or drop.
        let mut topics_changed = false;
        let began = self.run_cached("BEGIN IMMEDIATE");
        if let Err(e) = began {
            let error = sql("starting a write transaction", e);
            for command in pending {
                fail(command, &error);
            }
            return;
        }
        // Held for the whole drain, for the last topic appended to: the
        // statement cache's lookup (building the SQL, hashing it) would cost
        // more than binding the row.
        let mut insert: Option<(MessageTable, CachedStatement<'_>)> = None;
        let mut until_warm = 0;
        // Commands of a transaction SQLite rolled back, to apply again
        // before `pending`; the next is last.
        let mut replay: Vec<Command> = Vec::new();
        while !budget.spent() || !replay.is_empty() {
            if until_warm == 0 {
                until_warm = WARM_AHEAD;
                std::hint::black_box(warm(pending.as_slice()));
            }
            until_warm -= 1;
            let Some(command) = replay.pop().or_else(|| pending.next()) else {
                break;
            };
            budget.charge(&command);
            let reply = match command {
                Command::Close => continue,
                Command::Batch(batch, completer) => {
                    if let Some(append) = plain_append(&batch) {
                        let outcome =
                            self.append_plain(append, &mut heads, &mut touched, &mut insert);
                        Reply::One(completer, outcome, batch)
                    } else {
                        local.clear();
                        let outcome = self.savepoint(|w| {
                            w.apply(&batch, heads.settled(), &mut local, &mut touched)
                        });
                        if outcome.is_ok() {
                            heads.settled().extend(local.drain());
                        }
                        Reply::Batch(completer, outcome, batch)
                    }
                }
                Command::Declare(spec, watcher, tx) => {
                    topics_changed = true;
                    let outcome = self
                        .write_heads(heads.settled(), &touched)
                        .and_then(|()| self.savepoint(|w| w.declare(&spec)));
                    if matches!(heads.settled().get(&spec.name), Some(None)) {
                        heads.settled().remove(&spec.name);
                    }
                    Reply::Declare(tx, outcome, spec, watcher)
                }
                Command::Delete(name, tx) => {
                    topics_changed = true;
                    let outcome = self
                        .write_heads(heads.settled(), &touched)
                        .and_then(|()| self.savepoint(|w| w.delete(&name)));
                    if matches!(outcome, Ok(Some(_))) {
                        heads.settled().insert(name.clone(), None);
                        touched.retain(|t| *t != name);
                    }
                    Reply::Delete(tx, outcome, name)
                }
                Command::Trim(now, chunk, tx) => {
                    let full = chunk == u64::MAX;
                    let outcome = self
                        .write_heads(heads.settled(), &touched)
                        .and_then(|()| self.savepoint(|w| w.trim(now, chunk, full)));
                    Reply::Trim(tx, outcome, now, chunk)
                }
            };
            if self.conn.is_autocommit() {
                // SQLite rolled the whole transaction back (SQLITE_FULL
                // without a statement journal, I/O errors): nothing of it
                // is committed. The command that failed fails alone, with
                // its own error; the ones before it, not yet answered, are
                // applied again in a new transaction (offsets are assigned
                // afresh, so they stay dense).
                let error = reply.error().unwrap_or_else(|| {
                    named(StorageErrorKind::Other, "the transaction was rolled back")
                });
                fail_reply(reply, &error);
                replay.extend(replies.drain(..).rev().map(Reply::into_command));
                heads.clear();
                touched.clear();
                insert = None;
                // Charged again as they are applied again.
                budget = Budget::default();
                if let Err(e) = self.run_cached("BEGIN IMMEDIATE") {
                    let error = sql("starting a write transaction", e);
                    for command in replay.into_iter().rev().chain(pending) {
                        fail(command, &error);
                    }
                    return;
                }
                continue;
            }
            replies.push(reply);
        }
        drop(insert);
        let heads = heads.settled();
        if let Err(error) = self.write_heads(heads, &touched) {
            let _already_failed = self.conn.execute_batch("ROLLBACK");
            fail_replies(replies, &error);
            return;
        }
        let committed = self.run_cached("COMMIT").map_err(|e| sql("committing", e));
        if let Err(error) = &committed {
            tracing::warn!(%error, "commit failed; its writes are reported failed");
            let _already_failed = self.conn.execute_batch("ROLLBACK");
            fail_replies(replies, error);
            return;
        }
        self.figures.committed(began_at.elapsed());
        // Watchers change here, in the order of the commands, before the
        // heads are announced: a watcher declared in this transaction
        // watches its topic when the appends after its declaration commit
        // (it may hear of earlier ones of the transaction too: they are
        // committed all the same), and one registered after the next
        // transaction would miss that commit's announcement.
        for reply in replies.iter().filter(|_| topics_changed) {
            match reply {
                Reply::Declare(_, Ok((_, id)), spec, watcher) => {
                    self.watchers.register(&spec.name, *id, watcher.clone());
                }
                Reply::Delete(_, Ok(Some(id)), name) => self.watchers.deleted(name, *id),
                _ => {}
            }
        }
        // Watchers before completions, as the in-memory storage does: when
        // a publish returns, its topic's cursors have been told.
        for name in touched {
            if let Some(Some(head)) = heads.get(&name) {
                self.watchers.committed(&name, head.id, head.next);
            }
        }
        if let Err(flume::SendError(replies)) = deliver.send(replies) {
            deliver_replies(replies);
        }
    }

    /// Runs a statement without parameters through the statement cache:
    /// `execute_batch` would parse it again for every transaction.
    fn run_cached(&self, statement: &str) -> rusqlite::Result<()> {
        self.conn
            .prepare_cached(statement)
            .and_then(|mut s| s.execute([]))
            .map(drop)
    }

    /// Writes the moved heads of `touched` topics.
    fn write_heads(&self, heads: &HeadMap, touched: &[Name]) -> Result<()> {
        for name in touched {
            if let Some(Some(head)) = heads.get(name) {
                self.conn
                    .prepare_cached(
                        "UPDATE topics SET next_offset = ?2, last_ts = ?3 WHERE id = ?1",
                    )
                    .and_then(|mut s| s.execute(params![head.id, head.next as i64, head.last_ts]))
                    .map_err(|e| sql("moving a topic's head", e))?;
            }
        }
        Ok(())
    }

    /// Runs `f` inside a savepoint, rolled back if it fails.
    fn savepoint<T>(&self, f: impl FnOnce(&Self) -> Result<T>) -> Result<T> {
        self.conn
            .prepare_cached("SAVEPOINT batch")
            .and_then(|mut s| s.execute([]))
            .map_err(|e| sql("starting a savepoint", e))?;
        match f(self) {
            Ok(value) => {
                self.conn
                    .prepare_cached("RELEASE batch")
                    .and_then(|mut s| s.execute([]))
                    .map_err(|e| sql("releasing a savepoint", e))?;
                Ok(value)
            }
            Err(error) => {
                let _best_effort = self.conn.execute_batch("ROLLBACK TO batch; RELEASE batch");
                Err(error)
            }
        }
    }

    fn head(&self, topic: &Name, heads: &HeadMap, local: &mut HeadMap) -> Result<Option<Head>> {
        if let Some(head) = local.get(topic).or_else(|| heads.get(topic)) {
            return Ok(*head);
        }
        let head = self
            .conn
            .prepare_cached("SELECT id, next_offset, last_ts FROM topics WHERE name = ?1")
            .and_then(|mut s| {
                s.query_row([topic.as_str()], |r| {
                    Ok(Head {
                        id: r.get(0)?,
                        next: r.get::<_, i64>(1)? as u64,
                        last_ts: r.get(2)?,
                        touched: false,
                    })
                })
                .optional()
            })
            .map_err(|e| sql("reading a topic", e))?;
        local.insert(topic.clone(), head);
        Ok(head)
    }

    /// Appends one message with no key (see [`plain_append`]): one INSERT
    /// through the drain's held statement, the head updated in place.
    fn append_plain<'c>(
        &'c self,
        append: &Append,
        heads: &mut Heads,
        touched: &mut Vec<Name>,
        insert: &mut Option<(MessageTable, CachedStatement<'c>)>,
    ) -> Result<Appended> {
        let head = match heads.hot(&append.topic) {
            Some(head) => head,
            None => {
                let map = heads.settled();
                if !map.contains_key(&append.topic) {
                    let mut local = HeadMap::default();
                    let head = self.head(&append.topic, map, &mut local)?;
                    map.insert(append.topic.clone(), head);
                }
                let Some(Some(head)) = map.get(&append.topic).copied() else {
                    return Err(Error::UnknownTopic {
                        topic: append.topic.clone(),
                    });
                };
                heads.heat(&append.topic, head)
            }
        };
        let (offset, ts) = place(append, head)?;
        let table = MessageTable(head.id);
        let statement = match insert {
            Some((held, statement)) if *held == table => statement,
            _ => {
                let statement = self
                    .conn
                    .prepare_cached(&table.insert())
                    .map_err(|e| sql("appending", e))?;
                &mut insert.insert((table, statement)).1
            }
        };
        statement
            .execute(params![offset as i64, ts, append.payload.as_slice()])
            .map_err(|e| sql("appending", e))?;
        head.next += 1;
        head.last_ts = ts;
        if !head.touched {
            head.touched = true;
            if !touched.contains(&append.topic) {
                touched.push(append.topic.clone());
            }
        }
        Ok(Appended {
            offset,
            duplicate: false,
        })
    }

    fn apply(
        &self,
        batch: &WriteBatch,
        heads: &HeadMap,
        local: &mut HeadMap,
        touched: &mut Vec<Name>,
    ) -> Result<Vec<Appended>> {
        let mut results = Vec::with_capacity(batch.appends.len());
        let mut changed: Vec<Name> = Vec::new();
        for append in &batch.appends {
            let Some(mut head) = self.head(&append.topic, heads, local)? else {
                return Err(Error::UnknownTopic {
                    topic: append.topic.clone(),
                });
            };
            if let Some(key) = &append.key {
                let existing: Option<i64> = self
                    .conn
                    .prepare_cached("SELECT offset FROM keys WHERE topic_id = ?1 AND key = ?2")
                    .and_then(|mut s| {
                        s.query_row(params![head.id, key.as_str()], |r| r.get(0))
                            .optional()
                    })
                    .map_err(|e| sql("checking an idempotency key", e))?;
                if let Some(offset) = existing {
                    results.push(Appended {
                        offset: offset as u64,
                        duplicate: true,
                    });
                    continue;
                }
            }
            let (offset, ts) = place(append, &head)?;
            self.conn
                .prepare_cached(&MessageTable(head.id).insert())
                .and_then(|mut s| s.execute(params![offset as i64, ts, append.payload.as_slice()]))
                .map_err(|e| sql("appending", e))?;
            if let Some(key) = &append.key {
                self.conn
                    .prepare_cached(
                        "INSERT INTO keys (topic_id, key, offset, ts) VALUES (?1, ?2, ?3, ?4)",
                    )
                    .and_then(|mut s| s.execute(params![head.id, key.as_str(), offset as i64, ts]))
                    .map_err(|e| sql("storing an idempotency key", e))?;
            }
            head.next += 1;
            head.last_ts = ts;
            local.insert(append.topic.clone(), Some(head));
            if !changed.contains(&append.topic) {
                changed.push(append.topic.clone());
            }
            results.push(Appended {
                offset,
                duplicate: false,
            });
        }
        for commit in &batch.commits {
            let Some(head) = self.head(&commit.topic, heads, local)? else {
                return Err(Error::UnknownTopic {
                    topic: commit.topic.clone(),
                });
            };
            self.conn
                .prepare_cached(
                    "INSERT INTO cursors (topic_id, name, next_offset) VALUES (?1, ?2, ?3)
                     ON CONFLICT (topic_id, name) DO UPDATE SET next_offset = excluded.next_offset",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        head.id,
                        commit.cursor.as_str(),
                        commit.next_offset as i64
                    ])
                })
                .map_err(|e| sql("committing a cursor", e))?;
        }
        for effect in &batch.effects {
            let Some(sql_effect) = effect.downcast_ref::<crate::SqlEffect>() else {
                return Err(omg::storage::unsupported_effect());
            };
            sql_effect.run(&self.conn)?;
        }
        // Heads are written to `topics` once per drain (and before any
        // declare, delete or trim), not per batch.
        for name in changed {
            if !touched.contains(&name) {
                touched.push(name);
            }
        }
        Ok(results)
    }

    /// Creates or checks the topic; returns its range and id.
    fn declare(&self, spec: &TopicSpec) -> Result<(TopicInfo, i64)> {
        if !spec.delivery.is_durable() {
            return Err(Error::Unsupported {
                what: "storing an at-most-once topic",
                why: "at-most-once topics live in memory only",
            });
        }
        let requested = encode_delivery(&spec.delivery);
        self.conn
            .prepare_cached(INSERT_TOPIC)
            .and_then(|mut s| {
                s.execute(params![
                    spec.name.as_str(),
                    requested.0,
                    requested.1,
                    requested.2,
                    spec.message_type,
                    i64::MIN
                ])
            })
            .map_err(|e| sql("declaring a topic", e))?;
        let stored = self
            .conn
            .prepare_cached(
                "SELECT id, class, retain_secs, retain_nanos, message_type, first_offset,
                 next_offset FROM topics WHERE name = ?1",
            )
            .and_then(|mut s| {
                s.query_row([spec.name.as_str()], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        (r.get(1)?, r.get(2)?, r.get(3)?),
                        r.get::<_, String>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, i64>(6)?,
                    ))
                })
            })
            .map_err(|e| sql("declaring a topic", e))?;
        let (id, (class, secs, nanos), message_type, first, next) = stored;
        let existing = TopicSpec {
            name: spec.name.clone(),
            delivery: decode_delivery(spec.name.as_str(), class, secs, nanos)?,
            message_type,
        };
        // Compared as stored (see `encode_delivery`).
        let same = encode_delivery(&existing.delivery) == requested
            && existing.message_type == spec.message_type;
        if !same {
            return Err(Error::TopicMismatch {
                topic: spec.name.clone(),
                existing: existing.describe(),
                requested: spec.describe(),
            });
        }
        // A no-op when the table exists (the schema, and with it every
        // connection's prepared statements, changes only when it is new).
        self.conn
            .execute_batch(&MessageTable(id).create())
            .map_err(|e| sql("declaring a topic", e))?;
        let info = TopicInfo {
            first_offset: first as u64,
            next_offset: next as u64,
        };
        Ok((info, id))
    }

    /// Deletes the topic; returns its id, `None` if there was none.
    fn delete(&self, name: &Name) -> Result<Option<i64>> {
        let id: Option<i64> = self
            .conn
            .prepare_cached("SELECT id FROM topics WHERE name = ?1")
            .and_then(|mut s| s.query_row([name.as_str()], |r| r.get(0)).optional())
            .map_err(|e| sql("deleting a topic", e))?;
        let Some(id) = id else {
            return Ok(None);
        };
        self.conn
            .execute_batch(&MessageTable(id).drop_table())
            .map_err(|e| sql("deleting a topic", e))?;
        for statement in [
            "DELETE FROM keys WHERE topic_id = ?1",
            "DELETE FROM cursors WHERE topic_id = ?1",
            "DELETE FROM topics WHERE id = ?1",
            REMEMBER_DELETED,
        ] {
            self.conn
                .prepare_cached(statement)
                .and_then(|mut s| s.execute([id]))
                .map_err(|e| sql("deleting a topic", e))?;
        }
        Ok(Some(id))
    }

    /// Trims expired messages of at-least-once topics, at most `chunk` per
    /// topic unless `full`.
    fn trim(&self, now: Timestamp, chunk: u64, full: bool) -> Result<u64> {
        let _span = tracing::debug_span!("trim", chunk, full).entered();
        let topics: Vec<(i64, i64, i64, i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT id, retain_secs, retain_nanos, first_offset, next_offset
                 FROM topics WHERE class = ?1",
            )
            .and_then(|mut s| {
                s.query_map([CLASS_AT_LEAST_ONCE], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect()
            })
            .map_err(|e| sql("trimming", e))?;
        let mut removed = 0u64;
        for (id, secs, nanos, first, next) in topics {
            let retain = std::time::Duration::new(
                u64::try_from(secs).unwrap_or(0),
                u32::try_from(nanos).unwrap_or(0),
            );
            let cutoff = now.saturating_sub(retain).as_micros();
            // Timestamps never decrease within a topic: binary search the
            // first offset at or after the cutoff.
            let limit = if full {
                next
            } else {
                first
                    .saturating_add(i64::try_from(chunk).unwrap_or(i64::MAX))
                    .min(next)
            };
            let table = MessageTable(id);
            let timestamp_at = table.timestamp_at();
            let (mut lo, mut hi) = (first, limit);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                let ts: Option<i64> = self
                    .conn
                    .prepare_cached(&timestamp_at)
                    .and_then(|mut s| s.query_row([mid], |r| r.get(0)).optional())
                    .map_err(|e| sql("trimming", e))?;
                if ts.is_some_and(|t| t < cutoff) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            let new_first = lo;
            if new_first > first {
                self.conn
                    .prepare_cached(&table.delete_before())
                    .and_then(|mut s| s.execute([new_first]))
                    .map_err(|e| sql("trimming", e))?;
                self.conn
                    .prepare_cached("UPDATE topics SET first_offset = ?2 WHERE id = ?1")
                    .and_then(|mut s| s.execute(params![id, new_first]))
                    .map_err(|e| sql("trimming", e))?;
                removed += (new_first - first) as u64;
            }
            self.conn
                .prepare_cached("DELETE FROM keys WHERE topic_id = ?1 AND ts < ?2")
                .and_then(|mut s| s.execute(params![id, cutoff]))
                .map_err(|e| sql("trimming keys", e))?;
        }
        Ok(removed)
    }
}

/// Most commands in one transaction. With the payload bytes below, this
/// keeps a transaction's new pages within SQLite's page cache (2 MiB by
/// default): a larger one spills pages mid-transaction and reads them back.
const MAX_TRANSACTION_COMMANDS: usize = 8192;
/// Payload bytes after which a transaction takes no more commands.
const MAX_TRANSACTION_BYTES: usize = 1 << 19;

/// What a transaction has taken on so far.
#[derive(Default)]
struct Budget {
    commands: usize,
    bytes: usize,
}

impl Budget {
    fn charge(&mut self, command: &Command) {
        self.commands += 1;
        if let Command::Batch(batch, _) = command {
            self.bytes += batch.payload_bytes();
        }
    }

    fn spent(&self) -> bool {
        self.commands >= MAX_TRANSACTION_COMMANDS || self.bytes >= MAX_TRANSACTION_BYTES
    }
}

/// How many queued batches [`warm`] reads ahead.
const WARM_AHEAD: usize = 16;

/// Reads what the writer will read of the next [`WARM_AHEAD`] batches:
/// their first append (it spans two cache lines) and the first and last
/// byte of its payload. They were written on the publisher's core and
/// arrive here as cache misses; taken one by one inside the insert they
/// stall the writer in turn, while these independent loads overlap.
fn warm(commands: &[Command]) -> u8 {
    commands
        .iter()
        .take(WARM_AHEAD)
        .filter_map(|command| match command {
            Command::Batch(batch, _) => batch.appends.first(),
            _ => None,
        })
        .fold(0, |acc, append| {
            let payload = append.payload.as_slice();
            acc ^ u8::from(append.key.is_some())
                ^ u8::from(append.expected_offset.is_some())
                ^ payload.first().copied().unwrap_or(0)
                ^ payload.last().copied().unwrap_or(0)
        })
}

impl Reply {
    /// The error this reply carries, if it failed.
    fn error(&self) -> Option<Error> {
        match self {
            Reply::Batch(_, Err(e), _)
            | Reply::One(_, Err(e), _)
            | Reply::Declare(_, Err(e), ..)
            | Reply::Delete(_, Err(e), _)
            | Reply::Trim(_, Err(e), ..) => Some(e.clone()),
            _ => None,
        }
    }

    /// The command again, its outcome dropped: its transaction rolled back.
    fn into_command(self) -> Command {
        match self {
            Reply::Batch(c, _, batch) | Reply::One(c, _, batch) => Command::Batch(batch, c),
            Reply::Declare(tx, _, spec, watcher) => Command::Declare(spec, watcher, tx),
            Reply::Delete(tx, _, name) => Command::Delete(name, tx),
            Reply::Trim(tx, _, now, chunk) => Command::Trim(now, chunk, tx),
        }
    }
}

/// Delivers the replies of a committed transaction, in order (the
/// watchers were told already).
fn deliver_replies(replies: Vec<Reply>) {
    for reply in replies {
        match reply {
            Reply::Batch(c, outcome, spent) => c.complete_returning(outcome, spent),
            Reply::One(c, outcome, spent) => c.complete_one_returning(outcome, spent),
            Reply::Declare(tx, outcome, ..) => drop(tx.send(outcome.map(|(info, _)| info))),
            Reply::Delete(tx, outcome, _) => drop(tx.send(outcome.map(|id| id.is_some()))),
            Reply::Trim(tx, outcome, ..) => drop(tx.send(outcome)),
        }
    }
}

/// Fails every reply with `error`: their transaction did not commit.
fn fail_replies(replies: Vec<Reply>, error: &Error) {
    for reply in replies {
        fail_reply(reply, error);
    }
}

/// Fails a reply with `error`: its command did not commit.
fn fail_reply(reply: Reply, error: &Error) {
    match reply {
        Reply::Batch(c, _, spent) => c.complete_returning(Err(error.clone()), spent),
        Reply::One(c, _, spent) => c.complete_one_returning(Err(error.clone()), spent),
        Reply::Declare(tx, ..) => drop(tx.send(Err(error.clone()))),
        Reply::Delete(tx, ..) => drop(tx.send(Err(error.clone()))),
        Reply::Trim(tx, ..) => drop(tx.send(Err(error.clone()))),
    }
}

/// Fails a command that could not run.
fn fail(command: Command, error: &Error) {
    match command {
        Command::Batch(_, c) => c.complete(Err(error.clone())),
        Command::Declare(_, _, tx) => drop(tx.send(Err(error.clone()))),
        Command::Delete(_, tx) => drop(tx.send(Err(error.clone()))),
        Command::Trim(_, _, tx) => drop(tx.send(Err(error.clone()))),
        Command::Close => {}
    }
}
