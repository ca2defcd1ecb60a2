//! The in-memory storage: every class, no durability across process exit.
//! The default of [`Agency::builder`](crate::Agency::builder), the test
//! backend, and the reference the conformance kit compares others with.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, Ordering},
    },
};

use super::{
    Admission, Appended, Completion, IdempotencyKey, ReadBuf, ReadInfo, Storage, SubmitError,
    TopicInfo, TopicSpec, TopicWatcher, WriteBatch, chunked::Chunked,
};
use crate::{Delivery, Error, Name, Result, StorageError, StorageErrorKind, Timestamp, sync::lock};

/// A topic's watchers, held weakly: a topic's handle owns the storage, not
/// the other way round.
type Watchers = Vec<Weak<dyn TopicWatcher>>;

/// Watchers to tell, after a commit, each with its topic's new head. They
/// are upgraded under the storage's lock and told after it is released.
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

    /// Tells every watcher; call without holding the storage's lock.
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

#[derive(Debug, Default, Clone)]
struct State {
    topics: HashMap<Name, Log>,
    cursors: HashMap<(Name, Name), u64>,
}

#[derive(Clone)]
struct Log {
    spec: TopicSpec,
    records: Chunked,
    keys: HashMap<IdempotencyKey, u64>,
    /// Keys in append order, for trimming them with their retention.
    key_times: VecDeque<(Timestamp, IdempotencyKey)>,
    watchers: Watchers,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("spec", &self.spec)
            .field("first", &self.records.first())
            .field("next", &self.records.next())
            .finish_non_exhaustive()
    }
}

impl Log {
    fn next(&self) -> u64 {
        self.records.next()
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
    fn append(&mut self, append: super::Append) -> Appended {
        if let Some(&offset) = append.key.as_ref().and_then(|k| self.keys.get(k)) {
            return Appended {
                offset,
                duplicate: true,
            };
        }
        let offset = self.next();
        let timestamp = append.timestamp.max(self.last_timestamp());
        if let Some(key) = append.key {
            self.keys.insert(key.clone(), offset);
            if self.retention().is_some() {
                self.key_times.push_back((timestamp, key));
            }
        }
        self.records.push(timestamp, &append.payload);
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
        let mut state = lock(&self.state).clone();
        for log in state.topics.values_mut() {
            log.watchers = Vec::new();
        }
        Self {
            state: Mutex::new(state),
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

    /// Applies a batch atomically; returns the outcome and the watchers to
    /// notify with each touched topic's new head.
    fn apply(&self, mut batch: WriteBatch) -> (Completion, Notifications) {
        let mut state = lock(&self.state);
        if batch.appends.len() == 1
            && batch.commits.is_empty()
            && batch.effects.is_empty()
            && let Some(append) = batch.appends.pop()
        {
            return apply_one(&mut state, append);
        }
        if let Err(e) = validate(&state, &batch) {
            return (Completion::ready(Err(e)), Notifications::default());
        }
        let mut results = Vec::with_capacity(batch.appends.len());
        let mut touched: Vec<Name> = Vec::new();
        for append in batch.appends {
            let Some(log) = state.topics.get_mut(&append.topic) else {
                unreachable!("validate checked every topic exists");
            };
            let topic = append.topic.clone();
            let appended = log.append(append);
            results.push(appended);
            if !appended.duplicate && !touched.contains(&topic) {
                touched.push(topic);
            }
        }
        for commit in batch.commits {
            state
                .cursors
                .insert((commit.topic, commit.cursor), commit.next_offset);
        }
        let mut notify = Notifications::default();
        for name in touched {
            if let Some(log) = state.topics.get_mut(&name) {
                log.notifications(&mut notify);
            }
        }
        (Completion::ready(Ok(results)), notify)
    }
}

/// [`MemoryStorage::apply`] for a batch of one append, the common publish:
/// checking and applying it take one topic lookup.
fn apply_one(state: &mut State, append: super::Append) -> (Completion, Notifications) {
    let failed = |e: Error| (Completion::appended(Err(e)), Notifications::default());
    let Some(log) = state.topics.get_mut(&append.topic) else {
        let topic = append.topic;
        return failed(Error::UnknownTopic { topic });
    };
    let duplicate = append
        .key
        .as_ref()
        .is_some_and(|k| log.keys.contains_key(k));
    if !duplicate
        && let Some(expected) = append.expected_offset
        && expected != log.next()
    {
        return failed(Error::Conflict {
            topic: append.topic,
            expected,
            actual: log.next(),
        });
    }
    let appended = log.append(append);
    let mut notify = Notifications::default();
    if !appended.duplicate {
        log.notifications(&mut notify);
    }
    (Completion::appended(Ok(appended)), notify)
}

/// Checks a batch against the state without changing anything, so that
/// applying it cannot fail halfway.
fn validate(state: &State, batch: &WriteBatch) -> Result<()> {
    if !batch.effects.is_empty() {
        // The in-memory storage has no tables for effects to write to.
        return Err(super::unsupported_effect());
    }
    let mut pending: HashMap<&Name, u64> = HashMap::new();
    let mut batch_keys: Vec<(&Name, &IdempotencyKey)> = Vec::new();
    for append in &batch.appends {
        let log = state
            .topics
            .get(&append.topic)
            .ok_or_else(|| Error::UnknownTopic {
                topic: append.topic.clone(),
            })?;
        let duplicate = append.key.as_ref().is_some_and(|k| {
            log.keys.contains_key(k)
                || batch_keys
                    .iter()
                    .any(|(t, bk)| *t == &append.topic && *bk == k)
        });
        if duplicate {
            continue;
        }
        let next = pending.entry(&append.topic).or_insert_with(|| log.next());
        if let Some(expected) = append.expected_offset
            && expected != *next
        {
            return Err(Error::Conflict {
                topic: append.topic.clone(),
                expected,
                actual: *next,
            });
        }
        *next += 1;
        if let Some(k) = &append.key {
            batch_keys.push((&append.topic, k));
        }
    }
    for commit in &batch.commits {
        if !state.topics.contains_key(&commit.topic) {
            return Err(Error::UnknownTopic {
                topic: commit.topic.clone(),
            });
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
            .or_insert_with(|| Log {
                spec: spec.clone(),
                records: Chunked::default(),
                keys: HashMap::new(),
                key_times: VecDeque::new(),
                watchers: Vec::new(),
            });
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
        self.check_open()?;
        Ok(lock(&self.state)
            .topics
            .get(topic)
            .map(|log| log.spec.clone()))
    }

    fn topics(&self) -> Result<Vec<TopicSpec>> {
        self.check_open()?;
        let mut specs: Vec<TopicSpec> = lock(&self.state)
            .topics
            .values()
            .map(|l| l.spec.clone())
            .collect();
        specs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(specs)
    }

    fn delete_topic(&self, topic: &Name) -> Result<bool> {
        self.check_open()?;
        let removed = {
            let mut state = lock(&self.state);
            state.cursors.retain(|(t, _), _| t != topic);
            state.topics.remove(topic)
        };
        let Some(log) = removed else {
            return Ok(false);
        };
        for watcher in log.watchers.iter().filter_map(Weak::upgrade) {
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

    fn read(&self, topic: &Name, from: u64, max: usize, out: &mut ReadBuf) -> Result<ReadInfo> {
        out.clear();
        self.check_open()?;
        let state = lock(&self.state);
        let log = state.topics.get(topic).ok_or_else(|| Error::UnknownTopic {
            topic: topic.clone(),
        })?;
        for (offset, timestamp, payload) in log.records.iter_from(from, max) {
            out.push(offset, timestamp, payload);
        }
        Ok(ReadInfo {
            first_offset: log.records.first(),
            next_offset: log.next(),
        })
    }

    fn offset_at(&self, topic: &Name, time: Timestamp) -> Result<u64> {
        self.check_open()?;
        let state = lock(&self.state);
        let log = state.topics.get(topic).ok_or_else(|| Error::UnknownTopic {
            topic: topic.clone(),
        })?;
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
        self.check_open()?;
        let state = lock(&self.state);
        let log = state.topics.get(topic).ok_or_else(|| Error::UnknownTopic {
            topic: topic.clone(),
        })?;
        Ok(log.keys.get(key).copied())
    }

    fn trim_expired(&self, now: Timestamp) -> Result<u64> {
        self.check_open()?;
        Ok(lock(&self.state)
            .topics
            .values_mut()
            .map(|log| log.trim(now))
            .sum())
    }

    /// Refuses everything from now on and tells every watcher, so that
    /// readers blocked on the storage — of any agency sharing it — wake.
    fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let watchers: Vec<Arc<dyn TopicWatcher>> = lock(&self.state)
            .topics
            .values()
            .flat_map(|log| log.watchers.iter().filter_map(Weak::upgrade))
            .collect();
        for watcher in watchers {
            watcher.closed();
        }
    }
}
