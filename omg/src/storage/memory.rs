//! The in-memory storage: every class, no durability across process exit.
//! The default of [`Agency::builder`](crate::Agency::builder), the test
//! backend, and the reference the conformance kit compares others with.
//!
//! Each topic's log has a lock of its own, so that the core can publish to
//! it through an [`InlineLog`] without going through the topic map, and
//! publishers of different topics do not contend. The storage's lock
//! guards the map and the cursor positions; it is always taken before a
//! log's, and a batch locks the logs it touches in address order, so
//! locks are never taken in opposite orders.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex, MutexGuard, Weak,
        atomic::{AtomicBool, Ordering},
    },
};

use super::{
    Admission, Appended, Completion, IdempotencyKey, InlineLog, ReadBuf, ReadInfo, Storage,
    SubmitError, TopicInfo, TopicSpec, TopicWatcher, WriteBatch, chunked::Chunked,
};
use crate::{Delivery, Error, Name, Result, StorageError, StorageErrorKind, Timestamp, sync::lock};

/// A topic's watchers, held weakly: a topic's handle owns the storage, not
/// the other way round.
type Watchers = Vec<Weak<dyn TopicWatcher>>;

/// Watchers to tell, after a commit, each with its topic's new head. They
/// are upgraded under the log's lock and told after it is released.
/// The first is kept inline: a publish touches one topic with one watcher,
/// and a list for it would cost more than the append itself.
#[derive(Default)]
struct Notifications {
    first: Option<(Arc<dyn TopicWatcher>, u64)>,
    more: Vec<(Arc<dyn TopicWatcher>, u64)>,
}

impl Notifications {
    fn push(&mut self, watcher: Arc<dyn TopicWatcher>, head: u64) {
        if self.first.is_none() {
            self.first = Some((watcher, head));
        } else {
            self.more.push((watcher, head));
        }
    }

    /// Tells every watcher; call without holding any of the storage's locks.
    fn notify(self) {
        for (watcher, head) in self.first.into_iter().chain(self.more) {
            watcher.committed(head);
        }
    }
}

/// Durable topics kept in memory. Completes every write inline.
///
/// [`MemoryStorage::reopened`] simulates a process restart: a new storage
/// with the same committed data and nothing else (no watchers).
#[derive(Debug, Default)]
pub struct MemoryStorage {
    state: Mutex<State>,
    closed: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    topics: HashMap<Name, Arc<TopicLog>>,
    cursors: HashMap<(Name, Name), u64>,
}

/// One topic's log behind its own lock; also the topic's [`InlineLog`].
#[derive(Debug)]
struct TopicLog(Mutex<Log>);

#[derive(Clone)]
struct Log {
    spec: TopicSpec,
    /// Why the log takes no more writes, if it does not: an inline handle
    /// outlives its topic's deletion and the storage's closing.
    ended: Option<Ended>,
    records: Chunked,
    keys: HashMap<IdempotencyKey, u64>,
    /// Keys in append order, for trimming them with their retention.
    key_times: VecDeque<(Timestamp, IdempotencyKey)>,
    watchers: Watchers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Deleted,
    Closed,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("spec", &self.spec)
            .field("ended", &self.ended)
            .field("first", &self.records.first())
            .field("next", &self.records.next())
            .finish_non_exhaustive()
    }
}

impl TopicLog {
    fn new(spec: TopicSpec) -> Self {
        Self(Mutex::new(Log {
            spec,
            ended: None,
            records: Chunked::default(),
            keys: HashMap::new(),
            key_times: VecDeque::new(),
            watchers: Vec::new(),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        lock(&self.0)
    }
}

/// A topic's [`InlineLog`], on behalf of one of its watchers.
#[derive(Debug)]
struct Inline {
    log: Arc<TopicLog>,
    /// Left out of the notifications: it advances its own head.
    owner: Weak<dyn TopicWatcher>,
}

impl InlineLog for Inline {
    fn append(
        &self,
        payload: &[u8],
        timestamp: Timestamp,
        key: Option<&IdempotencyKey>,
    ) -> Result<Appended> {
        let mut log = self.log.lock();
        log.check_open()?;
        let appended = log.append(payload, timestamp, key);
        // The owner is alive (it is appending) and among the watchers: one
        // watcher means nobody else to tell, the common case.
        if appended.duplicate || log.watchers.len() <= 1 {
            return Ok(appended);
        }
        // Others: another agency sharing this storage.
        let mut notify = Notifications::default();
        log.notifications_except(&self.owner, &mut notify);
        drop(log);
        notify.notify();
        Ok(appended)
    }
}

impl Log {
    fn next(&self) -> u64 {
        self.records.next()
    }

    fn check_open(&self) -> Result<()> {
        match self.ended {
            None => Ok(()),
            Some(Ended::Deleted) => Err(Error::UnknownTopic {
                topic: self.spec.name.clone(),
            }),
            Some(Ended::Closed) => Err(closed()),
        }
    }

    /// The timestamp of the last record ever appended (also once trimming
    /// removed it), so a new one never goes backwards.
    fn last_timestamp(&self) -> Timestamp {
        self.records
            .last_timestamp()
            .unwrap_or(Timestamp::from_micros(i64::MIN))
    }

    fn retention(&self) -> Option<std::time::Duration> {
        match self.spec.delivery {
            Delivery::AtLeastOnce { retain } => Some(retain),
            _ => None,
        }
    }

    /// Appends one validated message, or reports the offset its key has.
    fn append(
        &mut self,
        payload: &[u8],
        timestamp: Timestamp,
        key: Option<&IdempotencyKey>,
    ) -> Appended {
        if let Some(&offset) = key.and_then(|k| self.keys.get(k)) {
            return Appended {
                offset,
                duplicate: true,
            };
        }
        let offset = self.next();
        let timestamp = timestamp.max(self.last_timestamp());
        if let Some(key) = key {
            self.keys.insert(key.clone(), offset);
            if self.retention().is_some() {
                self.key_times.push_back((timestamp, key.clone()));
            }
        }
        self.records.push(timestamp, payload);
        Appended {
            offset,
            duplicate: false,
        }
    }

    /// Adds this topic's watchers, with its head, to `notify`.
    fn notifications(&self, notify: &mut Notifications) {
        let head = self.next();
        for watcher in self.watchers.iter().filter_map(Weak::upgrade) {
            notify.push(watcher, head);
        }
    }

    /// [`notifications`](Self::notifications) for every watcher but `owner`.
    fn notifications_except(&self, owner: &Weak<dyn TopicWatcher>, notify: &mut Notifications) {
        let head = self.next();
        let others = self.watchers.iter().filter(|w| !Weak::ptr_eq(w, owner));
        for watcher in others.filter_map(Weak::upgrade) {
            notify.push(watcher, head);
        }
    }

    fn trim(&mut self, now: Timestamp) -> u64 {
        let Some(retain) = self.retention() else {
            return 0;
        };
        let cutoff = now.saturating_sub(retain);
        let removed = self.records.trim_before(cutoff);
        while self.key_times.front().is_some_and(|(t, _)| *t < cutoff) {
            if let Some((_, key)) = self.key_times.pop_front() {
                self.keys.remove(&key);
            }
        }
        removed
    }
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new, open storage holding this one's committed topics, messages,
    /// keys and cursor positions, as a restarted process would find them.
    pub fn reopened(&self) -> Self {
        let state = lock(&self.state);
        let topics = state
            .topics
            .iter()
            .map(|(name, log)| {
                let mut log = log.lock().clone();
                log.watchers = Vec::new();
                log.ended = None;
                (name.clone(), Arc::new(TopicLog(Mutex::new(log))))
            })
            .collect();
        Self {
            state: Mutex::new(State {
                topics,
                cursors: state.cursors.clone(),
            }),
            closed: AtomicBool::new(false),
        }
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(closed())
        } else {
            Ok(())
        }
    }

    /// The log of `topic`, taken out of the map (its own lock is not held).
    fn log(&self, topic: &Name) -> Result<Arc<TopicLog>> {
        self.check_open()?;
        lock(&self.state)
            .topics
            .get(topic)
            .cloned()
            .ok_or_else(|| Error::UnknownTopic {
                topic: topic.clone(),
            })
    }

    /// Applies a batch atomically; returns the outcome and the watchers to
    /// notify with each touched topic's new head.
    fn apply(&self, batch: WriteBatch) -> (Completion, Notifications) {
        let failed = |e| (Completion::ready(Err(e)), Notifications::default());
        let mut state = lock(&self.state);
        let logs = match touched_logs(&state, &batch) {
            Ok(logs) => logs,
            Err(e) => return failed(e),
        };
        // Held until the batch is applied: an inline append to one of these
        // topics cannot slip between checking an expected offset and using it.
        let mut logs: Vec<MutexGuard<'_, Log>> = logs.iter().map(|log| log.lock()).collect();
        if let Err(e) = validate(&logs, &batch) {
            return failed(e);
        }
        let mut results = Vec::with_capacity(batch.appends.len());
        let mut touched = vec![false; logs.len()];
        for append in &batch.appends {
            let Some(index) = position(&logs, &append.topic) else {
                unreachable!("touched_logs locked every topic of the batch");
            };
            let appended =
                logs[index].append(&append.payload, append.timestamp, append.key.as_ref());
            touched[index] |= !appended.duplicate;
            results.push(appended);
        }
        for commit in batch.commits {
            state
                .cursors
                .insert((commit.topic, commit.cursor), commit.next_offset);
        }
        let mut notify = Notifications::default();
        for (log, touched) in logs.iter().zip(touched) {
            if touched {
                log.notifications(&mut notify);
            }
        }
        (Completion::ready(Ok(results)), notify)
    }
}

/// The logs of every topic a batch names, each once, in address order (the
/// order any two batches lock them in). Fails if a topic does not exist.
fn touched_logs(state: &State, batch: &WriteBatch) -> Result<Vec<Arc<TopicLog>>> {
    let names = batch
        .appends
        .iter()
        .map(|a| &a.topic)
        .chain(batch.commits.iter().map(|c| &c.topic));
    let mut logs: Vec<Arc<TopicLog>> = Vec::new();
    for name in names {
        let log = state.topics.get(name).ok_or_else(|| Error::UnknownTopic {
            topic: name.clone(),
        })?;
        if !logs.iter().any(|l| Arc::ptr_eq(l, log)) {
            logs.push(log.clone());
        }
    }
    logs.sort_by_key(|log| Arc::as_ptr(log) as usize);
    Ok(logs)
}

/// Where `topic`'s log is among the locked ones.
fn position(logs: &[MutexGuard<'_, Log>], topic: &Name) -> Option<usize> {
    logs.iter().position(|log| log.spec.name == *topic)
}

/// Checks a batch against its locked logs without changing anything, so
/// that applying it cannot fail halfway.
fn validate(logs: &[MutexGuard<'_, Log>], batch: &WriteBatch) -> Result<()> {
    if !batch.effects.is_empty() {
        // The in-memory storage has no tables for effects to write to.
        return Err(super::unsupported_effect());
    }
    for log in logs {
        log.check_open()?;
    }
    // Each touched log's next offset as the batch's earlier appends leave it.
    let mut next: Vec<u64> = logs.iter().map(|log| log.next()).collect();
    let mut batch_keys: Vec<(&Name, &IdempotencyKey)> = Vec::new();
    for append in &batch.appends {
        let Some(index) = position(logs, &append.topic) else {
            unreachable!("touched_logs locked every topic of the batch");
        };
        let duplicate = append.key.as_ref().is_some_and(|k| {
            logs[index].keys.contains_key(k)
                || batch_keys
                    .iter()
                    .any(|(t, bk)| *t == &append.topic && *bk == k)
        });
        if duplicate {
            continue;
        }
        if let Some(expected) = append.expected_offset
            && expected != next[index]
        {
            return Err(Error::Conflict {
                topic: append.topic.clone(),
                expected,
                actual: next[index],
            });
        }
        next[index] += 1;
        if let Some(k) = &append.key {
            batch_keys.push((&append.topic, k));
        }
    }
    Ok(())
}

fn closed() -> Error {
    Error::Storage(StorageError::new(
        StorageErrorKind::Closed,
        "the in-memory storage is closed",
    ))
}

impl Storage for MemoryStorage {
    fn declare(&self, spec: &TopicSpec, watcher: Weak<dyn TopicWatcher>) -> Result<TopicInfo> {
        self.check_open()?;
        if !spec.delivery.is_durable() {
            return Err(Error::Unsupported {
                what: "storing an at-most-once topic",
                why: "at-most-once topics live in memory only",
            });
        }
        let mut state = lock(&self.state);
        let log = state
            .topics
            .entry(spec.name.clone())
            .or_insert_with(|| Arc::new(TopicLog::new(spec.clone())));
        let mut log = log.lock();
        if log.spec != *spec {
            return Err(Error::TopicMismatch {
                topic: spec.name.clone(),
                existing: log.spec.describe(),
                requested: spec.describe(),
            });
        }
        log.watchers.retain(|w| w.strong_count() > 0);
        log.watchers.push(watcher);
        Ok(TopicInfo {
            first_offset: log.records.first(),
            next_offset: log.next(),
        })
    }

    fn describe(&self, topic: &Name) -> Result<Option<TopicSpec>> {
        match self.log(topic) {
            Ok(log) => Ok(Some(log.lock().spec.clone())),
            Err(Error::UnknownTopic { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn topics(&self) -> Result<Vec<TopicSpec>> {
        self.check_open()?;
        let mut specs: Vec<TopicSpec> = lock(&self.state)
            .topics
            .values()
            .map(|log| log.lock().spec.clone())
            .collect();
        specs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(specs)
    }

    fn delete_topic(&self, topic: &Name) -> Result<bool> {
        self.check_open()?;
        let watchers = {
            let mut state = lock(&self.state);
            state.cursors.retain(|(t, _), _| t != topic);
            let Some(log) = state.topics.remove(topic) else {
                return Ok(false);
            };
            let mut log = log.lock();
            log.ended = Some(Ended::Deleted);
            // Inline handles outlive the topic (in every `Topic` handle
            // until it is dropped): they must not keep its messages.
            log.records = Chunked::default();
            log.keys = HashMap::new();
            log.key_times = VecDeque::new();
            std::mem::take(&mut log.watchers)
        };
        for watcher in watchers.iter().filter_map(Weak::upgrade) {
            watcher.deleted();
        }
        Ok(true)
    }

    fn submit(&self, batch: WriteBatch, _admission: Admission) -> Result<Completion, SubmitError> {
        if let Err(e) = self.check_open() {
            return Err(SubmitError::Failed(e, batch));
        }
        let (completion, notify) = self.apply(batch);
        notify.notify();
        Ok(completion)
    }

    fn inline_log(
        &self,
        topic: &Name,
        watcher: &Weak<dyn TopicWatcher>,
    ) -> Option<Arc<dyn InlineLog>> {
        Some(Arc::new(Inline {
            log: self.log(topic).ok()?,
            owner: watcher.clone(),
        }))
    }

    fn read(&self, topic: &Name, from: u64, max: usize, out: &mut ReadBuf) -> Result<ReadInfo> {
        out.clear();
        let log = self.log(topic)?;
        let log = log.lock();
        log.check_open()?;
        log.records.read_into(from, max, out);
        Ok(ReadInfo {
            first_offset: log.records.first(),
            next_offset: log.next(),
        })
    }

    fn offset_at(&self, topic: &Name, time: Timestamp) -> Result<u64> {
        let log = self.log(topic)?;
        let log = log.lock();
        log.check_open()?;
        Ok(log.records.offset_at(time))
    }

    fn cursor_position(&self, topic: &Name, cursor: &Name) -> Result<Option<u64>> {
        self.check_open()?;
        Ok(lock(&self.state)
            .cursors
            .get(&(topic.clone(), cursor.clone()))
            .copied())
    }

    fn key_offset(&self, topic: &Name, key: &IdempotencyKey) -> Result<Option<u64>> {
        let log = self.log(topic)?;
        let log = log.lock();
        log.check_open()?;
        Ok(log.keys.get(key).copied())
    }

    fn trim_expired(&self, now: Timestamp) -> Result<u64> {
        self.check_open()?;
        Ok(lock(&self.state)
            .topics
            .values()
            .map(|log| log.lock().trim(now))
            .sum())
    }

    /// Refuses everything from now on — also through the topics' inline
    /// logs — and tells every watcher, so that readers blocked on the
    /// storage, of any agency sharing it, wake.
    fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut watchers: Vec<Arc<dyn TopicWatcher>> = Vec::new();
        for log in lock(&self.state).topics.values() {
            let mut log = log.lock();
            log.ended.get_or_insert(Ended::Closed);
            watchers.extend(log.watchers.iter().filter_map(Weak::upgrade));
        }
        for watcher in watchers {
            watcher.closed();
        }
    }
}
