//! The loop of one handler thread.
//!
//! 1. Each subscription is polled with the same [`Waker`], which unparks this
//!    thread; at most [`BUDGET`] messages per subscription per pass, so one
//!    busy topic cannot starve the others.
//! 2. A subscription with nothing to read registers the waker (inside
//!    `Cursor::poll_recv`) and commits what was handled, without waiting.
//! 3. When a few passes in a row (each after a `yield_now`) handled nothing,
//!    the thread parks until a waker fires, the
//!    next tick is due, or a shutdown unparks it. A wake-up that comes
//!    between the poll and the park leaves the park token set, so it is
//!    never lost. The yielding re-polls are bounded: an idle thread parks.
//! 4. A failure (panic or error) applies the restart policy: back off
//!    (interruptibly), build the state again, go on. The message in hand of
//!    a durable topic is delivered again.
//! 5. On shutdown the message in hand is finished (the stop flag is only
//!    looked at between messages), every cursor is committed and waited for.

use std::{
    cell::Cell,
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Wake, Waker},
    thread::{self, Thread},
    time::{Duration, Instant},
};

use omg::{Error, StorageErrorKind};

use crate::{
    Handler, HandlerStatus, RestartPolicy,
    handler::{Step, panic_message},
    stats::Counters,
};

/// Messages taken from one subscription before looking at the others.
const BUDGET: usize = 64;
/// Passes that found nothing, each followed by a `yield_now`, before the
/// thread parks. Bounded, so an idle handler parks after a few microseconds.
const YIELD_PASSES: u32 = 32;
/// Handled messages after which a busy subscription commits anyway.
const COMMIT_EVERY: u64 = 1024;

thread_local! {
    static ON_HANDLER_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is a handler thread of some host.
pub(crate) fn on_handler_thread() -> bool {
    ON_HANDLER_THREAD.get()
}

/// Unparks the handler thread. Given to every cursor of the handler.
pub(crate) struct Unparker {
    pub(crate) thread: Thread,
}

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.thread.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.thread.unpark();
    }
}

/// Why a pass over the subscriptions ended early.
enum Pass {
    /// Handled something, or found a gap: poll again at once.
    Progress,
    /// Nothing to do; park until this instant (or a wake-up).
    Idle(Option<Instant>),
    /// Every subscription ended and there is no tick.
    Ended,
    /// A callback failed.
    Failed,
}

pub(crate) struct Worker<S> {
    pub(crate) handler: Handler<S>,
    pub(crate) policy: RestartPolicy,
    pub(crate) counters: Arc<Counters>,
    pub(crate) stop: Arc<AtomicBool>,
}

impl<S: 'static> Worker<S> {
    /// Runs the handler until shutdown, the end of every topic, or a failure
    /// the policy does not restart. Returns the errors of the final commits
    /// (failed background commits are logged and counted, and superseded by
    /// the final commit).
    pub(crate) fn run(mut self) -> Vec<Error> {
        ON_HANDLER_THREAD.set(true);
        let waker = Waker::from(Arc::new(Unparker {
            thread: thread::current(),
        }));
        let mut cx = Context::from_waker(&waker);
        let mut consecutive = 0_u32;
        let mut next_tick = self
            .handler
            .tick
            .as_ref()
            // An interval beyond the clock's range never comes due.
            .and_then(|(interval, _)| Instant::now().checked_add(*interval));
        let mut state = match self.build_state(&mut consecutive) {
            Some(state) => state,
            None if self.stopping() => return self.finish(HandlerStatus::Stopped),
            None => return self.finish(HandlerStatus::Failed),
        };
        self.counters.set_status(HandlerStatus::Running);
        let mut idle_passes = 0;
        let status = loop {
            if self.stopping() {
                break HandlerStatus::Stopped;
            }
            let pass = self.pass(&mut state, &mut cx, &mut consecutive);
            let pass = match pass {
                Pass::Failed => match self.restart(&mut consecutive) {
                    Some(new) => {
                        drop_contained(std::mem::replace(&mut state, new));
                        continue;
                    }
                    None if self.stopping() => break HandlerStatus::Stopped,
                    None => break HandlerStatus::Failed,
                },
                other => other,
            };
            if let Some(due) = next_tick.filter(|due| Instant::now() >= *due) {
                if self.run_tick(&mut state) {
                    // Failures in a row are what the restart limit counts.
                    consecutive = 0;
                } else {
                    match self.restart(&mut consecutive) {
                        Some(new) => drop_contained(std::mem::replace(&mut state, new)),
                        None if self.stopping() => break HandlerStatus::Stopped,
                        None => break HandlerStatus::Failed,
                    }
                }
                if let Some((interval, _)) = &self.handler.tick {
                    next_tick = following_tick(due, *interval, Instant::now());
                }
                continue;
            }
            match pass {
                Pass::Progress | Pass::Failed => idle_passes = 0,
                Pass::Ended if next_tick.is_none() => break HandlerStatus::Stopped,
                Pass::Idle(_) if idle_passes < YIELD_PASSES => {
                    // A producer usually has the next message ready within
                    // a time slice: look again before paying for a park
                    // and an unpark per message.
                    idle_passes += 1;
                    thread::yield_now();
                }
                Pass::Ended | Pass::Idle(_) => {
                    idle_passes = 0;
                    let until = match pass {
                        Pass::Idle(until) => until,
                        _ => None,
                    };
                    self.park(earliest(until, next_tick));
                }
            }
        };
        drop_contained(state);
        self.finish(status)
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// One pass over every subscription.
    fn pass(&mut self, state: &mut S, cx: &mut Context<'_>, consecutive: &mut u32) -> Pass {
        // Counted here and published once per pass: one atomic add per
        // pass instead of one per message.
        let mut handled = 0;
        let pass = self.pass_counting(state, cx, consecutive, &mut handled);
        Counters::add(&self.counters.handled, handled);
        pass
    }

    fn pass_counting(
        &mut self,
        state: &mut S,
        cx: &mut Context<'_>,
        consecutive: &mut u32,
        handled: &mut u64,
    ) -> Pass {
        let mut progress = false;
        let mut ended = 0;
        let mut wake_at: Option<Instant> = None;
        let sources = self.handler.sources.len();
        for index in 0..sources {
            for _ in 0..BUDGET {
                if self.stopping() {
                    return Pass::Progress;
                }
                let source = &mut self.handler.sources[index];
                match source.step(state, cx) {
                    Step::Handled { attempt } => {
                        progress = true;
                        *consecutive = 0;
                        *handled += 1;
                        if attempt > 1 {
                            Counters::add(&self.counters.redeliveries, 1);
                        }
                        if source.uncommitted() >= COMMIT_EVERY {
                            self.commit_background(index);
                        }
                    }
                    Step::Failed {
                        reason,
                        attempt,
                        redelivered,
                    } => {
                        if attempt > 1 {
                            Counters::add(&self.counters.redeliveries, 1);
                        }
                        if !redelivered {
                            Counters::add(&self.counters.dropped, 1);
                        }
                        tracing::warn!(
                            handler = %self.handler.name,
                            %reason,
                            attempt,
                            redelivered,
                            "handler failed"
                        );
                        self.counters.record_failure(reason);
                        // Commit what was handled before the failure.
                        self.commit_background(index);
                        return Pass::Failed;
                    }
                    Step::Missed(n) => {
                        progress = true;
                        Counters::add(&self.counters.missed, n);
                    }
                    Step::ReadError(e) => {
                        progress = true;
                        Counters::add(&self.counters.errors, 1);
                        tracing::warn!(handler = %self.handler.name, error = %e, "read failed");
                        break;
                    }
                    Step::Idle => {
                        if source.uncommitted() > 0 {
                            self.commit_background(index);
                        }
                        break;
                    }
                    Step::Resting(until) => {
                        wake_at = earliest(wake_at, Some(until));
                        break;
                    }
                    Step::Ended => {
                        ended += 1;
                        break;
                    }
                }
            }
        }
        if progress {
            Pass::Progress
        } else if ended == sources {
            Pass::Ended
        } else {
            Pass::Idle(wake_at)
        }
    }

    /// Commits without waiting. A full write queue is not an error: the
    /// next commit takes the position along.
    fn commit_background(&mut self, index: usize) {
        for e in self.handler.sources[index].commit_in_background() {
            if !matches!(&e, Error::Storage(s) if s.kind() == StorageErrorKind::QueueFull) {
                self.commit_failed(&e);
            }
        }
    }

    fn commit_failed(&self, e: &Error) {
        Counters::add(&self.counters.errors, 1);
        tracing::warn!(handler = %self.handler.name, error = %e, "commit failed");
    }

    /// Runs the tick; `false` if it failed.
    fn run_tick(&mut self, state: &mut S) -> bool {
        let Some((_, tick)) = &mut self.handler.tick else {
            return true;
        };
        let reason = match catch_unwind(AssertUnwindSafe(|| tick(state))) {
            Ok(Ok(())) => {
                Counters::add(&self.counters.ticks, 1);
                return true;
            }
            Ok(Err(e)) => format!("error: {e}"),
            Err(panic) => format!("panic: {}", panic_message(panic.as_ref())),
        };
        tracing::warn!(handler = %self.handler.name, %reason, "tick failed");
        self.counters.record_failure(reason);
        false
    }

    /// Applies the restart policy after a failure: the new state, or `None`
    /// when the handler must stop.
    fn restart(&mut self, consecutive: &mut u32) -> Option<S> {
        *consecutive = consecutive.saturating_add(1);
        if !self.policy.allows(*consecutive) {
            return None;
        }
        if !self.back_off(*consecutive) {
            return None;
        }
        let _span = tracing::debug_span!("restart", handler = %self.handler.name).entered();
        Counters::add(&self.counters.restarts, 1);
        let state = self.build_state(consecutive)?;
        self.counters.set_status(HandlerStatus::Running);
        Some(state)
    }

    /// Builds the state; a panicking factory is a failure too.
    fn build_state(&mut self, consecutive: &mut u32) -> Option<S> {
        loop {
            let factory = &mut self.handler.factory;
            match catch_unwind(AssertUnwindSafe(factory)) {
                Ok(state) => return Some(state),
                Err(panic) => {
                    let reason = format!(
                        "panic in the state factory: {}",
                        panic_message(panic.as_ref())
                    );
                    tracing::warn!(handler = %self.handler.name, %reason, "handler failed");
                    self.counters.record_failure(reason);
                    *consecutive = consecutive.saturating_add(1);
                    if !self.policy.allows(*consecutive) || !self.back_off(*consecutive) {
                        return None;
                    }
                    Counters::add(&self.counters.restarts, 1);
                }
            }
        }
    }

    /// Waits out the backoff before the `consecutive`-th restart, shown as
    /// `BackingOff`; `false` when a shutdown interrupted it. A backoff
    /// beyond the clock's range waits for the shutdown.
    fn back_off(&self, consecutive: u32) -> bool {
        self.counters.set_status(HandlerStatus::BackingOff);
        let until = Instant::now().checked_add(self.policy.backoff(consecutive));
        while until.is_none_or(|until| Instant::now() < until) {
            if self.stopping() {
                return false;
            }
            self.park(until);
        }
        !self.stopping()
    }

    fn park(&self, until: Option<Instant>) {
        match until {
            None => thread::park(),
            Some(until) => {
                let now = Instant::now();
                if until > now {
                    thread::park_timeout(until - now);
                }
            }
        }
    }

    /// Commits every cursor, waits for the commits, and records the status.
    fn finish(mut self, status: HandlerStatus) -> Vec<Error> {
        let mut errors = Vec::new();
        for index in 0..self.handler.sources.len() {
            if let Some(e) = self.handler.sources[index].commit_and_wait() {
                self.commit_failed(&e);
                errors.push(e);
            }
        }
        self.counters.set_status(status);
        errors
    }
}

/// Drops a state, containing a panic of its `Drop`.
fn drop_contained<S>(state: S) {
    let _ = catch_unwind(AssertUnwindSafe(move || drop(state)));
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The first tick after `now` on the grid `due + k * interval` (a tick late
/// by more than an interval is skipped, and the phase is kept).
fn following_tick(due: Instant, interval: Duration, now: Instant) -> Option<Instant> {
    let next = due.checked_add(interval)?;
    if next > now {
        return Some(next);
    }
    let behind = now.duration_since(due).as_nanos() / interval.as_nanos().max(1);
    let steps = u32::try_from(behind.saturating_add(1)).unwrap_or(u32::MAX);
    due.checked_add(interval.saturating_mul(steps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_keep_a_fixed_grid_and_skip_what_is_late() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        // On time: the next tick is one interval after the due one.
        assert_eq!(
            following_tick(start, ms(100), start + ms(5)),
            Some(start + ms(100))
        );
        // Late by less than an interval: still on the grid.
        assert_eq!(
            following_tick(start, ms(100), start + ms(99)),
            Some(start + ms(100))
        );
        // Late by more: the missed ticks are skipped, the phase is kept.
        assert_eq!(
            following_tick(start, ms(100), start + ms(100)),
            Some(start + ms(200))
        );
        assert_eq!(
            following_tick(start, ms(100), start + ms(350)),
            Some(start + ms(400))
        );
        // Beyond the clock's range: never.
        assert_eq!(following_tick(start, Duration::MAX, start), None);
    }

    #[test]
    fn earliest_of_two_deadlines() {
        let now = Instant::now();
        let later = now + Duration::from_secs(1);
        assert_eq!(earliest(Some(now), Some(later)), Some(now));
        assert_eq!(earliest(None, Some(later)), Some(later));
        assert_eq!(earliest(None, None), None);
    }
}
