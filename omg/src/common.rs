//! Common state: typed values shared by every agent and host of an agency.

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    fmt,
    sync::{Arc, PoisonError, RwLock},
};

/// A typed map holding at most one value per type, shared by everything that
/// holds the [`Agency`](crate::Agency) (see [`Agency::common`](crate::Agency::common)).
/// Values are handed out as `Arc<T>`; replace a value to change it.
///
/// ```
/// # use omg::Agency;
/// #[derive(Debug, PartialEq)]
/// struct Config { tick_hz: u32 }
///
/// let agency = Agency::in_memory();
/// agency.common().insert(Config { tick_hz: 60 });
/// assert_eq!(agency.common().get::<Config>().map(|c| c.tick_hz), Some(60));
/// ```
#[derive(Default)]
pub struct CommonState {
    values: RwLock<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl CommonState {
    /// Stores `value`, returning the value of that type it replaced.
    pub fn insert<T: Send + Sync + 'static>(&self, value: T) -> Option<Arc<T>> {
        let previous = self
            .values
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(TypeId::of::<T>(), Arc::new(value));
        previous.and_then(|v| v.downcast::<T>().ok())
    }

    /// The value of type `T`, if one is stored.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        let values = self.values.read().unwrap_or_else(PoisonError::into_inner);
        values
            .get(&TypeId::of::<T>())
            .cloned()
            .and_then(|v| v.downcast::<T>().ok())
    }

    /// Removes and returns the value of type `T`.
    pub fn remove<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        let removed = self
            .values
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&TypeId::of::<T>());
        removed.and_then(|v| v.downcast::<T>().ok())
    }

    /// Replaces the value of type `T` with `f(current)` atomically with
    /// respect to other updates; returns the new value.
    pub fn update<T: Send + Sync + 'static>(&self, f: impl FnOnce(Option<&T>) -> T) -> Arc<T> {
        let mut values = self.values.write().unwrap_or_else(PoisonError::into_inner);
        let current = values
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref::<T>());
        let next = Arc::new(f(current));
        values.insert(TypeId::of::<T>(), next.clone());
        next
    }
}

impl fmt::Debug for CommonState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.values.read().map_or(0, |v| v.len());
        f.debug_struct("CommonState").field("values", &len).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_one_value_per_type_and_updates_atomically() {
        let common = CommonState::default();
        assert!(common.get::<u32>().is_none());
        assert!(common.insert(1u32).is_none());
        assert_eq!(common.insert(2u32).as_deref(), Some(&1));
        common.insert(String::from("x"));
        assert_eq!(*common.update::<u32>(|n| n.copied().unwrap_or(0) + 40), 42);
        assert_eq!(common.get::<u32>().as_deref(), Some(&42));
        assert_eq!(
            common.remove::<String>().as_deref().map(String::as_str),
            Some("x")
        );
        assert!(common.get::<String>().is_none());
    }
}
