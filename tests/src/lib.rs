//! Helpers shared by the scenario tests and their child processes.

pub mod ledger;

use std::sync::Arc;

use omg::{Agency, Result};
use omg_sqlite::SqliteStorage;

/// An agency on the SQLite file at `path`.
///
/// # Errors
/// When the file cannot be opened.
pub fn sqlite_agency(path: &str) -> Result<Agency> {
    Ok(Agency::builder()
        .storage(Arc::new(SqliteStorage::open(path)?))
        .build())
}

/// The `index`-th command-line argument.
///
/// # Panics
/// When it is missing: the child was started wrongly.
pub fn arg(index: usize) -> String {
    std::env::args()
        .nth(index)
        .unwrap_or_else(|| panic!("missing argument {index}"))
}

/// Wall-clock microseconds since the Unix epoch, comparable across the
/// processes of one machine.
pub fn now_micros() -> i64 {
    omg::Timestamp::now().as_micros()
}
