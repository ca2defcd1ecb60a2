//! The in-memory backend passes the whole conformance kit.
#![cfg(feature = "testkit")]

use omg::testkit::{MemoryHarness, run_all};

#[test]
fn memory_storage_passes_the_conformance_kit() {
    run_all(&MemoryHarness::default());
}
