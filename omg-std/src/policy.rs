//! What the host does when a handler fails.

use std::time::Duration;

/// Default first backoff of [`RestartPolicy::restart`].
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(10);
/// Default longest backoff of [`RestartPolicy::restart`].
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the host does when a handler panics or returns an error.
///
/// A failure never takes down other handlers. With a restart, the handler's
/// state is built again by its factory after a backoff that doubles with
/// each consecutive failure (from `initial_backoff` up to `max_backoff`) and
/// goes back to `initial_backoff` after a message is handled successfully.
///
/// ```
/// use std::time::Duration;
/// use omg_std::RestartPolicy;
///
/// let policy = RestartPolicy::restart()
///     .with_backoff(Duration::from_millis(1), Duration::from_millis(100))
///     .with_max_restarts(5);
/// assert_eq!(policy.backoff(1), Duration::from_millis(1));
/// assert_eq!(policy.backoff(3), Duration::from_millis(4));
/// assert_eq!(policy.backoff(20), Duration::from_millis(100));
/// assert!(!RestartPolicy::stop().restarts());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    restart: bool,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_restarts: Option<u32>,
}

impl RestartPolicy {
    /// Stop the handler at its first failure (its cursors are committed up
    /// to the last message it handled; the failed one is not committed).
    pub const fn stop() -> Self {
        Self {
            restart: false,
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            max_restarts: None,
        }
    }

    /// Restart after each failure, with the default backoff (10 ms doubling
    /// up to 5 s) and no limit. The default.
    pub const fn restart() -> Self {
        Self {
            restart: true,
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            max_restarts: None,
        }
    }

    /// Sets the first and the longest backoff.
    #[must_use]
    pub const fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// Gives up (stops the handler) after `restarts` consecutive failures
    /// each followed by a restart.
    #[must_use]
    pub const fn with_max_restarts(mut self, restarts: u32) -> Self {
        self.max_restarts = Some(restarts);
        self
    }

    /// Whether failures restart the handler.
    pub const fn restarts(&self) -> bool {
        self.restart
    }

    /// Whether the handler restarts after `consecutive` failures in a row.
    pub fn allows(&self, consecutive: u32) -> bool {
        self.restart && self.max_restarts.is_none_or(|max| consecutive <= max)
    }

    /// The wait before the restart that follows `consecutive` failures in a
    /// row (1 for the first).
    pub fn backoff(&self, consecutive: u32) -> Duration {
        let doublings = consecutive.saturating_sub(1).min(31);
        self.initial_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self::restart()
    }
}
