//! SQL effects: a consumer's own writes, committed in the same transaction
//! as the appends and cursor commits of its batch.

use std::{fmt, sync::Arc};

use omg::storage::Effect;

type Apply = dyn Fn(&rusqlite::Connection) -> rusqlite::Result<()> + Send + Sync;

/// SQL run inside a batch's transaction (after its appends and cursor
/// commits): a projection keeps its tables in the same file, and its cursor
/// position and its rows can never disagree.
///
/// The function may run more than once only if the batch is retried by the
/// caller; within one batch it runs once. It must not begin or commit
/// transactions itself. An error fails the whole batch (nothing of it is
/// applied) and is reported as a storage error.
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

    pub(crate) fn run(&self, conn: &rusqlite::Connection) -> rusqlite::Result<()> {
        (self.0)(conn)
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
