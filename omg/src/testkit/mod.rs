//! The backend conformance kit (feature `testkit`): the same semantic tests
//! run against any [`Storage`].
//!
//! A backend implements [`Harness`] (how to open a storage at a [`Place`])
//! and calls [`run_all`], which panics naming the first failed check.

mod checks;
mod inline;
mod model;

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
};

use crate::storage::{MemoryStorage, Storage};

/// Where a storage lives: an id unique within one [`run_all`] and a fresh
/// directory a file-backed storage may use.
#[derive(Debug, Clone)]
pub struct Place {
    /// Unique per place within a run.
    pub id: u64,
    /// A fresh, empty directory (removed after the check).
    pub dir: PathBuf,
}

/// Opens storages for the conformance kit.
pub trait Harness: Sync {
    /// Opens the storage at `place`. Opening the same place again after the
    /// previous storage was closed must show everything committed through it.
    fn open(&self, place: &Place) -> Arc<dyn Storage>;
}

/// The [`Harness`] of [`MemoryStorage`]: reopening a place gives
/// [`MemoryStorage::reopened`] of the last storage opened there.
#[derive(Debug, Default)]
pub struct MemoryHarness {
    opened: Mutex<HashMap<u64, Arc<MemoryStorage>>>,
}

impl Harness for MemoryHarness {
    fn open(&self, place: &Place) -> Arc<dyn Storage> {
        let mut opened = crate::sync::lock(&self.opened);
        let storage = match opened.get(&place.id) {
            Some(last) => Arc::new(last.reopened()),
            None => Arc::new(MemoryStorage::new()),
        };
        opened.insert(place.id, Arc::clone(&storage));
        storage
    }
}

/// Runs every check against `harness`; panics with a message naming the
/// failed check.
pub fn run_all(harness: &dyn Harness) {
    for (id, (name, check)) in (1..).zip(checks::ALL) {
        let dir = tempfile::tempdir().expect("testkit: cannot create a temporary directory");
        let place = Place {
            id,
            dir: dir.path().to_path_buf(),
        };
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(harness, &place)));
        if let Err(panic) = outcome {
            let why = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(non-string panic)");
            panic!("conformance check `{name}` failed: {why}");
        }
    }
}
