//! Delivery classes: what a topic promises about storage, retention and loss.

use std::{fmt, time::Duration};

/// The default retention of an at-least-once topic: 7 days.
pub const DEFAULT_RETAIN: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// A topic's delivery class and its options, fixed when the topic is first
/// declared.
///
/// | class | stored | a reader that falls behind |
/// |---|---|---|
/// | [`AtMostOnce`](Delivery::AtMostOnce) | memory, the last `keep` messages | skips ahead and is told how many it missed |
/// | [`AtLeastOnce`](Delivery::AtLeastOnce) | storage, at least `retain` | is told how many were trimmed before it read them |
/// | [`ExactlyOnce`](Delivery::ExactlyOnce) | storage, forever | cannot fall behind |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Delivery {
    /// In memory only; a ring of the last `keep` messages. Publishing never
    /// blocks and never fails for capacity. Process-local.
    AtMostOnce {
        /// How many messages the ring keeps (at least 1: a topic declared
        /// with `keep: 0` keeps 1, and its [`Topic::delivery`](crate::Topic::delivery)
        /// says so).
        keep: usize,
    },
    /// Durable; each message is kept at least `retain`, then trimmed.
    AtLeastOnce {
        /// The minimum time a message is kept.
        retain: Duration,
    },
    /// Durable, kept until the topic is deleted; publishes with the same
    /// idempotency key are appended once.
    ExactlyOnce,
}

/// The class of a [`Delivery`], without its options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryClass {
    /// See [`Delivery::AtMostOnce`].
    AtMostOnce,
    /// See [`Delivery::AtLeastOnce`].
    AtLeastOnce,
    /// See [`Delivery::ExactlyOnce`].
    ExactlyOnce,
}

impl Delivery {
    /// At-most-once keeping the last message only.
    pub const fn at_most_once() -> Self {
        Self::AtMostOnce { keep: 1 }
    }

    /// At-most-once keeping the last `keep` messages (at least 1).
    pub const fn at_most_once_keep(keep: usize) -> Self {
        Self::AtMostOnce {
            keep: if keep == 0 { 1 } else { keep },
        }
    }

    /// At-least-once with the default retention of 7 days.
    pub const fn at_least_once() -> Self {
        Self::AtLeastOnce {
            retain: DEFAULT_RETAIN,
        }
    }

    /// At-least-once keeping each message at least `retain`.
    pub const fn at_least_once_retain(retain: Duration) -> Self {
        Self::AtLeastOnce { retain }
    }

    /// Exactly-once.
    pub const fn exactly_once() -> Self {
        Self::ExactlyOnce
    }

    /// The delivery a topic declared with `self` runs with: options out of
    /// range are brought to their nearest valid value (`keep: 0` → 1), so
    /// that every equal effective delivery compares equal.
    pub(crate) const fn normalized(self) -> Self {
        match self {
            Self::AtMostOnce { keep } => Self::at_most_once_keep(keep),
            other => other,
        }
    }

    /// The class without options.
    pub const fn class(&self) -> DeliveryClass {
        match self {
            Self::AtMostOnce { .. } => DeliveryClass::AtMostOnce,
            Self::AtLeastOnce { .. } => DeliveryClass::AtLeastOnce,
            Self::ExactlyOnce => DeliveryClass::ExactlyOnce,
        }
    }

    /// Whether messages live in the storage (at-least-once, exactly-once).
    pub const fn is_durable(&self) -> bool {
        !matches!(self, Self::AtMostOnce { .. })
    }
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AtMostOnce { keep } => write!(f, "at-most-once (keep {keep})"),
            Self::AtLeastOnce { retain } => write!(f, "at-least-once (retain {retain:?})"),
            Self::ExactlyOnce => f.write_str("exactly-once"),
        }
    }
}
