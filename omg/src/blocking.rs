//! Catching blocking calls where blocking is a bug.
//!
//! `omg` depends on no runtime, so it cannot know on its own that a thread is
//! an async executor's. Bridges register a *detector* (omg-tokio: "is there a
//! current tokio runtime?"); every blocking call (`publish`, `recv`,
//! `Receipt::wait`, `commit`, …) asks the detectors first and fails with
//! [`Error::BlockingForbidden`] instead of stalling an executor or a frame.

use std::sync::{
    RwLock,
    atomic::{AtomicBool, Ordering},
};

use crate::Error;

/// Says why the current thread must not block, or `None` if it may.
pub type BlockingDetector = fn() -> Option<&'static str>;

static ANY: AtomicBool = AtomicBool::new(false);
static DETECTORS: RwLock<Vec<BlockingDetector>> = RwLock::new(Vec::new());

/// Registers a detector, once per function; later calls with the same
/// function do nothing.
pub fn register_blocking_detector(detector: BlockingDetector) {
    let mut detectors = DETECTORS
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !detectors.iter().any(|d| std::ptr::fn_addr_eq(*d, detector)) {
        detectors.push(detector);
    }
    ANY.store(true, Ordering::Release);
}

/// Fails if any detector forbids blocking on this thread.
pub(crate) fn check(call: &'static str) -> Result<(), Error> {
    if !ANY.load(Ordering::Acquire) {
        return Ok(());
    }
    let detectors = DETECTORS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match detectors.iter().find_map(|detect| detect()) {
        Some(context) => Err(Error::BlockingForbidden { call, context }),
        None => Ok(()),
    }
}
