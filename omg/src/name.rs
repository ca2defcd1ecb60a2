//! Validated names for topics, agents and cursors.

use std::{borrow::Borrow, fmt, sync::Arc};

use crate::Error;

/// The longest name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 200;

/// A validated name of a topic, agent or cursor.
///
/// A name is 1 to [`MAX_NAME_LEN`] bytes of ASCII letters, digits and
/// `. _ - : /`, and does not start with `.` (names starting with `.` are
/// reserved for omg's own topics). Names are always bound as parameters by
/// storages, never formatted into queries. Cloning is cheap.
///
/// ```
/// # use omg::Name;
/// assert!(Name::new("orders.v2").is_ok());
/// assert!(Name::new("no spaces").is_err());
/// ```
#[derive(Clone, Eq, PartialOrd, Ord)]
pub struct Name(Arc<str>);

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        // Names are cloned from one handle, so most comparisons (map
        // lookups on every publish) are of the same allocation.
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // As `str` hashes, which `Borrow<str>` lookups rely on.
        self.0.hash(state);
    }
}

impl Name {
    /// Validates `name`.
    ///
    /// # Errors
    /// [`Error::InvalidName`] when it is empty, too long, starts with `.` or
    /// contains a character outside the allowed set.
    pub fn new(name: &str) -> Result<Self, Error> {
        Self::check(name, false)
    }

    /// A name in omg's reserved namespace (leading `.`), for omg's own topics.
    #[cfg_attr(
        all(loom, not(test)),
        expect(dead_code, reason = "agents are not compiled under loom")
    )]
    pub(crate) fn reserved(name: &str) -> Result<Self, Error> {
        Self::check(name, true)
    }

    fn check(name: &str, allow_reserved: bool) -> Result<Self, Error> {
        let invalid = |reason: &'static str| Error::InvalidName {
            name: name.chars().take(MAX_NAME_LEN + 8).collect(),
            reason,
        };
        if name.is_empty() {
            return Err(invalid("a name cannot be empty"));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(invalid("a name is at most 200 bytes long"));
        }
        if name.starts_with('.') && !allow_reserved {
            return Err(invalid("names starting with '.' are reserved for omg"));
        }
        let allowed =
            |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/');
        if !name.chars().all(allowed) {
            return Err(invalid(
                "a name may contain only ASCII letters, digits and . _ - : /",
            ));
        }
        Ok(Self(Arc::from(name)))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for Name {
    type Error = Error;
    fn try_from(value: &str) -> Result<Self, Error> {
        Self::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_names_with_a_reason() {
        for bad in ["", " ", "a b", "drop table;", ".hidden", "é"] {
            let err = Name::new(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidName { .. }), "{bad:?}: {err}");
        }
        assert!(Name::new(&"x".repeat(MAX_NAME_LEN + 1)).is_err());
        assert_eq!(
            Name::new(&"x".repeat(MAX_NAME_LEN)).unwrap().as_str().len(),
            MAX_NAME_LEN
        );
        assert_eq!(Name::new("a-b_c.d:e/f").unwrap().as_str(), "a-b_c.d:e/f");
        assert!(Name::reserved(".agent.x").is_ok());
    }
}
