//! omg-sqlite passes omg's backend conformance kit, unchanged.

use std::sync::Arc;

use omg::{
    storage::Storage,
    testkit::{Harness, Place, run_all},
};
use omg_sqlite::SqliteStorage;

/// Each place is a database file in the kit's temporary directory; opening
/// it again after a close is a restart.
struct SqliteHarness;

impl Harness for SqliteHarness {
    fn open(&self, place: &Place) -> Arc<dyn Storage> {
        let storage =
            SqliteStorage::open(place.dir.join("omg.db")).expect("open the place's database");
        Arc::new(storage)
    }
}

#[test]
fn sqlite_storage_passes_the_conformance_kit() {
    run_all(&SqliteHarness);
}
