//! The synchronisation primitives the core uses, routed through one place so
//! that `RUSTFLAGS="--cfg loom"` swaps them for loom's model-checked versions.

#[cfg(loom)]
pub(crate) use loom::sync::{
    Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
    atomic::{AtomicU8, AtomicU64, Ordering},
};
#[cfg(not(loom))]
pub(crate) use std::sync::{
    Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
    atomic::{AtomicU8, AtomicU64, Ordering},
};

/// A cell written once. Loom has no model of it, so both builds use std's:
/// the ring sets each message's cell once, under its publish lock and
/// before the head store that makes the message reachable; the orderings
/// the loom models check come from the modelled head and locks.
pub(crate) use std::sync::OnceLock;

/// Locks `mutex`, ignoring poisoning.
///
/// Every critical section in the core leaves its data consistent before any
/// call that could panic, so a poisoned lock still guards valid state.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(loom)]
    {
        mutex
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
    #[cfg(not(loom))]
    {
        mutex
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Read-locks `lock`, ignoring poisoning (see [`lock`]).
pub(crate) fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    #[cfg(loom)]
    {
        lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
    #[cfg(not(loom))]
    {
        lock.read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Write-locks `lock`, ignoring poisoning (see [`lock`]).
pub(crate) fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    #[cfg(loom)]
    {
        lock.write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
    #[cfg(not(loom))]
    {
        lock.write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
