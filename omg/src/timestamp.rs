//! Message timestamps.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// When a message was published: microseconds since the Unix epoch (UTC).
///
/// Stored as a plain integer so every storage can index and compare it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current wall-clock time.
    #[inline]
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// A timestamp from microseconds since the Unix epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Microseconds since the Unix epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Converts a [`SystemTime`], saturating outside the representable range.
    #[inline]
    pub fn from_system_time(time: SystemTime) -> Self {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Self(micros(after)),
            Err(before) => Self(-micros(before.duration())),
        }
    }

    /// This timestamp as a [`SystemTime`], saturating at the platform's
    /// earliest or latest representable time.
    pub fn to_system_time(self) -> SystemTime {
        let magnitude = Duration::from_micros(self.0.unsigned_abs());
        let moved = if self.0 >= 0 {
            UNIX_EPOCH.checked_add(magnitude)
        } else {
            UNIX_EPOCH.checked_sub(magnitude)
        };
        moved.unwrap_or_else(|| saturated(self.0 >= 0, magnitude))
    }

    /// This timestamp moved back by `by`, saturating.
    pub fn saturating_sub(self, by: Duration) -> Self {
        Self(
            self.0
                .saturating_sub(i64::try_from(by.as_micros()).unwrap_or(i64::MAX)),
        )
    }
}

/// Whole microseconds of `d`, saturating. Seconds and sub-second parts are
/// combined in 64 bits: `Duration::as_micros` works in 128-bit arithmetic,
/// a measurable share of a publish, which stamps every message.
#[inline]
fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_secs())
        .ok()
        .and_then(|secs| secs.checked_mul(1_000_000))
        .and_then(|m| m.checked_add(i64::from(d.subsec_micros())))
        .unwrap_or(i64::MAX)
}

/// The representable time closest to the epoch moved by `magnitude`
/// (forward when `forward`), found by halving the step.
fn saturated(forward: bool, magnitude: Duration) -> SystemTime {
    let mut reached = UNIX_EPOCH;
    let mut step = magnitude;
    while step > Duration::ZERO {
        let next = if forward {
            reached.checked_add(step)
        } else {
            reached.checked_sub(step)
        };
        match next {
            Some(t) => reached = t,
            None => step /= 2,
        }
    }
    reached
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        Self::from_system_time(time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_system_time_to_the_microsecond() {
        let t = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        assert_eq!(Timestamp::from(t).as_micros(), 1_700_000_000_123_456);
        assert_eq!(Timestamp::from(t).to_system_time(), t);
        let before = UNIX_EPOCH - Duration::from_micros(5);
        assert_eq!(Timestamp::from(before).as_micros(), -5);
        assert_eq!(Timestamp::from(before).to_system_time(), before);
    }

    #[test]
    fn the_extremes_convert_without_panicking() {
        for extreme in [i64::MAX, i64::MIN, i64::MIN + 1] {
            let time = Timestamp::from_micros(extreme).to_system_time();
            // Linux represents ±292 000 years: both extremes round-trip.
            assert_eq!(Timestamp::from(time).as_micros(), extreme.max(-i64::MAX));
        }
        // Past the representable range, the latest (earliest) time there is.
        let latest = saturated(true, Duration::MAX);
        assert!(latest > UNIX_EPOCH);
        assert_eq!(latest.checked_add(Duration::from_nanos(1)), None);
        let earliest = saturated(false, Duration::MAX);
        assert!(earliest < UNIX_EPOCH);
        assert_eq!(earliest.checked_sub(Duration::from_nanos(1)), None);
    }
}
