//! The database layout, its version, and opening connections to it.

use std::{fs::OpenOptions, os::unix::fs::OpenOptionsExt, path::Path};

use omg::{Delivery, Result, StorageErrorKind};
use rusqlite::{Connection, OpenFlags};

use crate::{
    error::{io, named, sql},
    options::{Durability, SqliteOptions},
};

/// `PRAGMA application_id` of an omg database: "omg" and 0x01.
pub(crate) const APPLICATION_ID: i32 = 0x6f6d_6701;

/// `PRAGMA user_version` of the layout this crate writes. Version 1 kept
/// every topic's messages in one `messages` table keyed by
/// `(topic_id, offset)`; version 2 gives each topic a table of its own (see
/// [`MessageTable`]). Opening a version 1 file moves its messages over.
pub(crate) const SCHEMA_VERSION: i32 = 2;

const CREATE: &str = "
CREATE TABLE IF NOT EXISTS topics (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    class INTEGER NOT NULL,
    retain_secs INTEGER NOT NULL,
    retain_nanos INTEGER NOT NULL,
    message_type TEXT NOT NULL,
    first_offset INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    last_ts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS keys (
    topic_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    offset INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    PRIMARY KEY (topic_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cursors (
    topic_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic_id, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deleted_topics (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    last_id INTEGER NOT NULL
);
";

/// Inserts a topic unless one of that name exists. Parameters: name,
/// class, retention seconds and nanoseconds, message type, last timestamp.
///
/// Its id is one more than any topic's id ever, deleted ones included (the
/// largest deleted id is kept in `deleted_topics`): SQLite's own choice,
/// one more than the largest id *present*, would give a topic deleted and
/// declared again the id of its predecessor when that had the largest id,
/// and the watchers of this and other processes tell a topic from its
/// predecessor of the same name by its id. Version 2 files written before
/// `deleted_topics` existed gain it at open; the layout is otherwise the
/// same, and a build that does not know the table ignores it.
pub(crate) const INSERT_TOPIC: &str = "
INSERT INTO topics (id, name, class, retain_secs, retain_nanos, message_type,
                    first_offset, next_offset, last_ts)
VALUES (1 + max(coalesce((SELECT max(id) FROM topics), 0),
                coalesce((SELECT last_id FROM deleted_topics), 0)),
        ?1, ?2, ?3, ?4, ?5, 0, 0, ?6)
ON CONFLICT (name) DO NOTHING";

/// Remembers that the topic with the id (the parameter) was deleted: see
/// [`INSERT_TOPIC`].
pub(crate) const REMEMBER_DELETED: &str = "
INSERT INTO deleted_topics (one, last_id) VALUES (1, ?1)
ON CONFLICT (one) DO UPDATE SET last_id = max(last_id, excluded.last_id)";

/// The table holding one topic's messages, `messages_<topic id>`: the
/// offset is the rowid, so an append adds a row at the right end of the
/// table's B-tree, the cheapest insert SQLite has, and a read is a rowid
/// range scan. The name is built from the topic's integer id, never from
/// its name, so no user input reaches the SQL text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MessageTable(pub(crate) i64);

impl MessageTable {
    pub(crate) fn create(self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS messages_{} (
                offset INTEGER PRIMARY KEY,
                ts INTEGER NOT NULL,
                payload BLOB NOT NULL
            )",
            self.0
        )
    }

    pub(crate) fn drop_table(self) -> String {
        format!("DROP TABLE IF EXISTS messages_{}", self.0)
    }

    /// Parameters: offset, timestamp, payload.
    pub(crate) fn insert(self) -> String {
        format!(
            "INSERT INTO messages_{} (offset, ts, payload) VALUES (?1, ?2, ?3)",
            self.0
        )
    }

    /// Parameters: first offset, end offset (exclusive).
    pub(crate) fn range(self) -> String {
        format!(
            "SELECT ts, payload FROM messages_{} WHERE offset >= ?1 AND offset < ?2 ORDER BY offset",
            self.0
        )
    }

    /// Parameter: offset.
    pub(crate) fn timestamp_at(self) -> String {
        format!("SELECT ts FROM messages_{} WHERE offset = ?1", self.0)
    }

    /// Parameter: the first offset to keep.
    pub(crate) fn delete_before(self) -> String {
        format!("DELETE FROM messages_{} WHERE offset < ?1", self.0)
    }
}

/// Moves a version 1 file's messages into per-topic tables, inside the
/// caller's write transaction.
fn migrate_from_v1(conn: &Connection) -> rusqlite::Result<()> {
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM topics ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in ids {
        let table = MessageTable(id);
        conn.execute_batch(&table.create())?;
        conn.execute(
            &format!(
                "INSERT INTO messages_{id} (offset, ts, payload)
                 SELECT offset, ts, payload FROM messages WHERE topic_id = ?1 ORDER BY offset"
            ),
            [id],
        )?;
    }
    conn.execute_batch("DROP TABLE messages")
}

/// Delivery class codes stored in `topics.class`.
pub(crate) const CLASS_AT_LEAST_ONCE: i64 = 1;
/// See [`CLASS_AT_LEAST_ONCE`].
pub(crate) const CLASS_EXACTLY_ONCE: i64 = 2;

/// `(class, retain_secs, retain_nanos)` of a durable delivery. A retention
/// beyond `i64::MAX` seconds (some 292 billion years; `Duration::MAX` means
/// "forever") is stored as `i64::MAX` seconds, so a declaration compares
/// deliveries as stored, never a stored one with the unclipped request.
pub(crate) fn encode_delivery(delivery: &Delivery) -> (i64, i64, i64) {
    match delivery {
        Delivery::AtLeastOnce { retain } => (
            CLASS_AT_LEAST_ONCE,
            i64::try_from(retain.as_secs()).unwrap_or(i64::MAX),
            i64::from(retain.subsec_nanos()),
        ),
        _ => (CLASS_EXACTLY_ONCE, 0, 0),
    }
}

/// The inverse of [`encode_delivery`]. A class this version does not know
/// or a negative retention is a damaged row (or a newer omg's): reported as
/// `Corrupt`, never read as something else.
pub(crate) fn decode_delivery(topic: &str, class: i64, secs: i64, nanos: i64) -> Result<Delivery> {
    let corrupt = |what: String| {
        named(
            StorageErrorKind::Corrupt,
            format!("topic {topic:?} is stored with {what}"),
        )
    };
    match class {
        CLASS_AT_LEAST_ONCE => {
            let secs = u64::try_from(secs)
                .map_err(|_| corrupt(format!("a negative retention ({secs} s)")))?;
            let nanos = u32::try_from(nanos)
                .ok()
                .filter(|n| *n < 1_000_000_000)
                .ok_or_else(|| corrupt(format!("an invalid retention ({nanos} ns)")))?;
            Ok(Delivery::AtLeastOnce {
                retain: std::time::Duration::new(secs, nanos),
            })
        }
        CLASS_EXACTLY_ONCE => Ok(Delivery::ExactlyOnce),
        other => Err(corrupt(format!("an unknown delivery class ({other})"))),
    }
}

/// Creates the file (mode 0600) if it does not exist, checks it is an omg
/// database of a version this crate reads (creating the schema in an empty
/// one), and returns the write connection. Nothing is written to a file
/// that fails the checks.
pub(crate) fn open_writer(path: &Path, options: &SqliteOptions) -> Result<Connection> {
    if !path.exists() {
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            // Another process may have created it since.
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(&format!("creating {}", path.display()), e)),
        }
    }
    let conn = connect(path, options)?;
    if conn
        .is_readonly(rusqlite::MAIN_DB)
        .map_err(|e| sql("opening", e))?
    {
        return Err(named(
            StorageErrorKind::ReadOnly,
            format!("{} is read-only", path.display()),
        ));
    }
    check(&conn, path)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(|e| sql("enabling WAL", e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(named(
            StorageErrorKind::Other,
            format!("{} cannot use WAL mode (got {mode})", path.display()),
        ));
    }
    let sync = match options.durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync)
        .map_err(|e| sql("setting synchronous", e))?;
    if let Some(pages) = options.max_page_count {
        let granted: i64 = conn
            .query_row(
                "PRAGMA max_page_count = ?1",
                [i64::try_from(pages).unwrap_or(i64::MAX)],
                |r| r.get(0),
            )
            .or_else(|_| {
                conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
                    r.get(0)
                })
            })
            .map_err(|e| sql("setting max_page_count", e))?;
        if u64::try_from(granted).ok() != Some(pages) {
            tracing::info!(
                requested = pages,
                granted,
                "max_page_count is below the file's size: the file may not grow, but keeps its pages"
            );
        }
    }
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| sql("creating the schema", e))?;
    let created = (|| {
        // Read again under the write lock: another process may have
        // created or migrated the file since `check`.
        let version: i32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        conn.execute_batch(CREATE)?;
        if version == 1 {
            tracing::info!(path = %path.display(), "moving a version 1 file's messages into per-topic tables");
            migrate_from_v1(&conn)?;
        }
        conn.pragma_update(None, "application_id", APPLICATION_ID)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        conn.execute_batch("COMMIT")
    })();
    if let Err(e) = created {
        let _already_failed = conn.execute_batch("ROLLBACK");
        return Err(sql("creating the schema", e));
    }
    Ok(conn)
}

/// Opens another connection (a reader or the watcher) to a checked file.
pub(crate) fn connect(path: &Path, options: &SqliteOptions) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| sql(&format!("opening {}", path.display()), e))?;
    conn.busy_timeout(options.busy_timeout)
        .map_err(|e| sql("setting busy_timeout", e))?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// Checks that the file is empty or an omg database this crate can read.
fn check(conn: &Connection, path: &Path) -> Result<()> {
    let app: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(|e| sql(&format!("reading {}", path.display()), e))?;
    let version: i32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| sql(&format!("reading {}", path.display()), e))?;
    let objects: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(|e| sql(&format!("reading {}", path.display()), e))?;
    let _integrity: String = conn
        .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
        .map_err(|e| sql(&format!("checking {}", path.display()), e))
        .and_then(|s: String| {
            if s == "ok" {
                Ok(s)
            } else {
                Err(named(
                    StorageErrorKind::Corrupt,
                    format!("{} is corrupt: {s}", path.display()),
                ))
            }
        })?;
    if app == 0 && objects == 0 {
        return Ok(());
    }
    if app != APPLICATION_ID {
        return Err(named(
            StorageErrorKind::Foreign,
            format!(
                "{} is a SQLite database of another application (application_id {app:#x})",
                path.display()
            ),
        ));
    }
    if version > SCHEMA_VERSION {
        return Err(named(
            StorageErrorKind::NewerSchema,
            format!(
                "{} has omg schema version {version}; this build reads up to {SCHEMA_VERSION}",
                path.display()
            ),
        ));
    }
    Ok(())
}
