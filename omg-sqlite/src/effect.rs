//! SQL effects: a consumer's own writes, committed in the same transaction
//! as the appends and cursor commits of its batch.

use std::{
    fmt,
    panic::{AssertUnwindSafe, catch_unwind},
    sync::Arc,
};

use omg::{StorageErrorKind, storage::Effect};

use crate::error::{named, sql};

type Apply = dyn Fn(&rusqlite::Connection) -> rusqlite::Result<()> + Send + Sync;

/// SQL run inside a batch's transaction (after its appends and cursor
/// commits): a projection keeps its tables in the same file, and its cursor
/// position and its rows can never disagree.
///
/// Within one batch the function runs once, unless SQLite rolls back the
/// whole transaction because of a batch applied with it (`SQLITE_FULL`, an
/// I/O error): the other batches are then applied again in a new
/// transaction, and so the function runs again (what it wrote the first time
/// was rolled back). It must not begin or commit transactions itself. An
/// error fails the whole batch (nothing of it is applied) and is reported as
/// a storage error; so does a panic (of kind
/// [`Other`](omg::StorageErrorKind::Other), naming the panic's message), which
/// fails only this batch and leaves the storage working.
///
/// ```
/// use omg_sqlite::SqlEffect;
///
/// let effect = SqlEffect::new(|conn| {
///     conn.execute("CREATE TABLE IF NOT EXISTS seen (n INTEGER)", [])?;
///     conn.execute("INSERT INTO seen (n) VALUES (?1)", [42])?;
///     Ok(())
/// });
/// let mut batch = omg::storage::WriteBatch::new();
/// batch.push_effect(effect.into());
/// ```
#[derive(Clone)]
pub struct SqlEffect(Arc<Apply>);

impl SqlEffect {
    /// An effect running `apply` on the write connection, inside the batch's
    /// transaction.
    pub fn new(
        apply: impl Fn(&rusqlite::Connection) -> rusqlite::Result<()> + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(apply))
    }

    /// Runs the function; its error or panic becomes the batch's error.
    pub(crate) fn run(&self, conn: &rusqlite::Connection) -> omg::Result<()> {
        // Unwind safety: after a panic the caller rolls the batch's
        // savepoint back, and `conn` is used only through SQL from then on.
        match catch_unwind(AssertUnwindSafe(|| (self.0)(conn))) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(sql("running a batch's SQL effect", e)),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("(not a string)");
                Err(named(
                    StorageErrorKind::Other,
                    format!("a batch's SQL effect panicked: {message}"),
                ))
            }
        }
    }
}

impl From<SqlEffect> for Effect {
    fn from(effect: SqlEffect) -> Self {
        Effect::new(effect)
    }
}

impl fmt::Debug for SqlEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlEffect").finish_non_exhaustive()
    }
}
