//! Making blocking omg calls fail inside a frame.
//!
//! omg's blocking calls (`Publisher::publish` on a durable topic,
//! `Cursor::recv`, `Receipt::wait`, `Agent::execute`, …) ask the registered
//! [`BlockingDetector`](omg::BlockingDetector)s whether the current thread may
//! block. omg-bevy's detector answers from a thread-local flag:
//!
//! - [`OmgPlugin`](crate::OmgPlugin) adds two systems to Bevy's
//!   [`Main`](bevy_app::Main) schedule, one ordered before
//!   [`Main::run_main`](bevy_app::Main::run_main) that sets the flag and one
//!   after it that clears it. Everything `Main` runs — the startup schedules,
//!   `First` … `Last`, `FixedUpdate` — therefore runs with the flag set, and a
//!   blocking omg call there returns [`omg::Error::BlockingForbidden`].
//! - Between two `App::update` calls the flag is clear, so the thread that
//!   drives the app (a test, a custom runner) may block as it likes.
//!
//! Limits, by design: schedules run by hand outside `Main`
//! (`world.run_schedule(Update)`) are not covered, and a panic that unwinds
//! out of `App::update` leaves the flag set on that thread until the next
//! update ends. With bevy_ecs's `multi_threaded` feature, systems also run on
//! the compute task pool's threads: pass [`forbid_blocking_on_this_thread`]
//! as that pool's `on_thread_spawn` (see `bevy_app::TaskPoolOptions`) to
//! cover them too.

use std::cell::Cell;

thread_local! {
    static IN_FRAME: Cell<bool> = const { Cell::new(false) };
    static ALWAYS: Cell<bool> = const { Cell::new(false) };
}

/// What [`omg::Error::BlockingForbidden`] names as the context.
const CONTEXT: &str = "a Bevy frame (omg-bevy)";

/// The detector registered with [`omg::register_blocking_detector`].
fn detect() -> Option<&'static str> {
    (IN_FRAME.with(Cell::get) || ALWAYS.with(Cell::get)).then_some(CONTEXT)
}

/// Registers the detector (once per process; later calls do nothing).
pub(crate) fn register() {
    omg::register_blocking_detector(detect);
}

/// Runs in `Main` before `Main::run_main`.
pub(crate) fn enter_frame() {
    IN_FRAME.with(|flag| flag.set(true));
}

/// Runs in `Main` after `Main::run_main`.
pub(crate) fn leave_frame() {
    IN_FRAME.with(|flag| flag.set(false));
}

/// Forbids blocking omg calls on the current thread for the rest of its
/// life: they return [`omg::Error::BlockingForbidden`]. Meant for threads
/// that only ever run systems, such as the compute task pool's threads under
/// bevy_ecs's `multi_threaded` feature (pass it as their `on_thread_spawn`).
pub fn forbid_blocking_on_this_thread() {
    register();
    ALWAYS.with(|flag| flag.set(true));
}

/// Whether a blocking omg call on the current thread would be refused by
/// omg-bevy (inside a frame, or on a thread marked with
/// [`forbid_blocking_on_this_thread`]).
pub fn is_blocking_forbidden() -> bool {
    detect().is_some()
}
