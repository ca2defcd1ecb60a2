//! [`SqliteStorage`]: the [`Storage`] implementation.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
};

use omg::{
    Name, Result, Timestamp,
    storage::{
        Admission, Completion, IdempotencyKey, ReadBuf, ReadInfo, Storage, StorageStats,
        SubmitError, TopicInfo, TopicSpec, TopicWatcher, WriteBatch,
    },
};

use crate::{
    error::{closed, io},
    figures::WriterFigures,
    lifecycle::Lifecycle,
    options::SqliteOptions,
    queue::Queue,
    reader::Readers,
    schema::{connect, open_writer},
    watch,
    watchers::Watchers,
    writer::{Command, Writer},
};

/// Durable omg topics in one SQLite file. See the [crate docs](crate).
pub struct SqliteStorage {
    path: PathBuf,
    queue: Arc<Queue>,
    queue_capacity: usize,
    max_message_size: usize,
    readers: Readers,
    closed: AtomicBool,
    stop_watch: Arc<AtomicBool>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    figures: Arc<WriterFigures>,
    life: Arc<Lifecycle>,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.path)
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl SqliteStorage {
    /// Opens (creating if needed, mode 0600) the database at `path` with
    /// the default [`SqliteOptions`].
    ///
    /// # Errors
    /// [`omg::Error::Storage`] naming why: not a database, another
    /// application's database, corrupt, a newer schema, read-only, I/O.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens the database at `path` with `options`.
    ///
    /// # Errors
    /// As [`SqliteStorage::open`].
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let _span = tracing::info_span!("open", path = %path.display()).entered();
        let conn = open_writer(&path, &options)?;
        let readers = (0..options.readers.max(1))
            .map(|_| connect(&path, &options))
            .collect::<Result<Vec<_>>>()?;
        let watch_conn = connect(&path, &options)?;
        let watchers = Arc::new(Watchers::default());
        let queue = Arc::new(Queue::default());
        let figures = Arc::new(WriterFigures::default());
        let life = Arc::new(Lifecycle::default());
        let writer = Writer {
            life: life.clone(),
            figures: figures.clone(),
            conn,
            queue: queue.clone(),
            watchers: watchers.clone(),
            trim_interval: options.retention_check_interval,
            trim_chunk: options.trim_chunk.max(1),
        };
        let writer = std::thread::Builder::new()
            .name("omg-sqlite-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| io("starting the writer thread", e))?;
        let stop_watch = Arc::new(AtomicBool::new(false));
        let stop = stop_watch.clone();
        let every = options.watch_interval;
        let watch_life = life.clone();
        let watcher = std::thread::Builder::new()
            .name("omg-sqlite-watch".into())
            .spawn(move || watch::run(watch_conn, watchers, watch_life, stop, every))
            .map_err(|e| {
                // The writer would otherwise wait for commands forever.
                let _stopped = queue.push(Command::Close);
                io("starting the watch thread", e)
            })?;
        Ok(Self {
            path,
            queue,
            queue_capacity: options.queue_capacity,
            max_message_size: options.max_message_size,
            readers: Readers::new(readers),
            closed: AtomicBool::new(false),
            stop_watch,
            threads: Mutex::new(vec![writer, watcher]),
            figures,
            life,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(closed())
        } else {
            Ok(())
        }
    }

    /// Sends a command that replies on its own channel, and waits.
    fn call<T>(&self, make: impl FnOnce(flume::Sender<Result<T>>) -> Command) -> Result<T> {
        self.check_open()?;
        let (tx, rx) = flume::bounded(1);
        self.queue.push(make(tx)).map_err(|_| closed())?;
        rx.recv().map_err(|_| closed())?
    }
}

impl Storage for SqliteStorage {
    fn declare(&self, spec: &TopicSpec, watcher: Weak<dyn TopicWatcher>) -> Result<TopicInfo> {
        self.call(|tx| Command::Declare(spec.clone(), watcher, tx))
    }

    fn describe(&self, topic: &Name) -> Result<Option<TopicSpec>> {
        self.check_open()?;
        Ok(self.readers.specs(Some(topic))?.into_iter().next())
    }

    fn topics(&self) -> Result<Vec<TopicSpec>> {
        self.check_open()?;
        self.readers.specs(None)
    }

    fn delete_topic(&self, topic: &Name) -> Result<bool> {
        self.call(|tx| Command::Delete(topic.clone(), tx))
    }

    fn submit(&self, batch: WriteBatch, admission: Admission) -> Result<Completion, SubmitError> {
        if let Err(e) = self.check_open() {
            return Err(SubmitError::Failed(e, batch));
        }
        if let Some(append) = batch
            .appends
            .iter()
            .find(|a| a.payload.len() > self.max_message_size)
        {
            let error = omg::Error::TooLarge {
                topic: append.topic.clone(),
                size: append.payload.len(),
                max: self.max_message_size,
            };
            return Err(SubmitError::Failed(error, batch));
        }
        if admission.may_refuse() && self.queue.len() >= self.queue_capacity {
            return Err(SubmitError::Full(batch));
        }
        let (completer, completion) = Completion::pending();
        match self.queue.push(Command::Batch(batch, completer)) {
            Ok(()) => Ok(completion),
            Err(command) => match *command {
                Command::Batch(batch, _) => Err(SubmitError::Failed(closed(), batch)),
                _ => Err(SubmitError::Failed(closed(), WriteBatch::new())),
            },
        }
    }

    fn read(&self, topic: &Name, from: u64, max: usize, out: &mut ReadBuf) -> Result<ReadInfo> {
        out.clear();
        self.check_open()?;
        self.readers.read(topic, from, max, out)
    }

    fn offset_at(&self, topic: &Name, time: Timestamp) -> Result<u64> {
        self.check_open()?;
        self.readers.offset_at(topic, time)
    }

    fn cursor_position(&self, topic: &Name, cursor: &Name) -> Result<Option<u64>> {
        self.check_open()?;
        self.readers.cursor_position(topic, cursor)
    }

    fn key_offset(&self, topic: &Name, key: &IdempotencyKey) -> Result<Option<u64>> {
        self.check_open()?;
        self.readers.key_offset(topic, key.as_str())
    }

    fn trim_expired(&self, now: Timestamp) -> Result<u64> {
        self.call(|tx| Command::Trim(now, u64::MAX, tx))
    }

    fn stats(&self) -> StorageStats {
        StorageStats::new(
            self.queue.len() as u64,
            self.figures.commits(),
            self.figures.last_commit_latency(),
        )
    }

    /// Flushes what was submitted and completes it, tells every watcher the
    /// storage closed ([`TopicWatcher::closed`]), and refuses anything
    /// after. Every caller returns only once that is done — also a second
    /// one racing the first — except on the storage's own threads (where
    /// the last handle may be dropped, by a watcher or with a spent batch):
    /// there it only starts the close, since waiting would wait for the
    /// very thread waiting, and the writer finishes by itself.
    fn close(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            let _writer_may_be_gone = self.queue.push(Command::Close);
            self.stop_watch.store(true, Ordering::Release);
        }
        if self.life.is_own() {
            return;
        }
        self.life.wait_flushed();
        let threads =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        for thread in threads {
            let _panicked_thread_already_reported = thread.join();
        }
    }
}

impl Drop for SqliteStorage {
    fn drop(&mut self) {
        self.close();
    }
}
