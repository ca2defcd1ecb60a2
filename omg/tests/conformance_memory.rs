//! The in-memory backend passes the whole conformance kit, and the kit
//! catches a backend that forgets what it committed.
#![cfg(feature = "testkit")]

use std::sync::Arc;

use omg::{
    storage::{MemoryStorage, Storage},
    testkit::{Harness, MemoryHarness, Place, run_all},
};

#[test]
fn memory_storage_passes_the_conformance_kit() {
    run_all(&MemoryHarness::default());
}

/// Loses everything on reopen, as a non-durable backend would.
struct Forgetful;

impl Harness for Forgetful {
    fn open(&self, _place: &Place) -> Arc<dyn Storage> {
        Arc::new(MemoryStorage::new())
    }
}

#[test]
#[should_panic(expected = "conformance check `named_cursor_resume` failed")]
fn a_storage_that_forgets_on_reopen_fails_the_kit() {
    run_all(&Forgetful);
}
