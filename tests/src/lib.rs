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

/// A small xorshift generator for kill timings, seeded from the clock; the
/// seed is printed so that a failing run can be read back.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded from the clock (printed on stderr).
    pub fn from_clock() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        eprintln!("seed {seed}");
        Self(seed)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}
