//! The writer's queue. Publishers push one command each; the writer takes
//! everything queued at once by swapping its empty list for the full one.
//!
//! A channel would make the writer either take the lock once per command
//! (contending with every publisher each time) or, taking the whole buffer
//! at once, leave the publishers a new buffer to grow again from nothing
//! (megabytes of fresh pages zeroed by the kernel per transaction). Two
//! lists swapped back and forth keep their capacity and cost one lock per
//! transaction on the writer's side.

use std::{
    mem,
    sync::{
        Condvar, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use crate::writer::Command;

#[derive(Default)]
pub(crate) struct Queue {
    state: Mutex<State>,
    ready: Condvar,
    /// Commands queued, readable without the lock (admission, figures).
    len: AtomicUsize,
}

#[derive(Default)]
struct State {
    commands: Vec<Command>,
    /// The writer sleeps on `ready`: the next push wakes it.
    writer_waiting: bool,
    /// The writer is gone: pushes fail.
    closed: bool,
}

/// What [`Queue::take`] found.
pub(crate) enum Taken {
    /// Commands were moved into the caller's list.
    Commands,
    /// Nothing came before the deadline.
    TimedOut,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `command`; gives it back (boxed: that is rare, and a command
    /// is large) if the writer is gone.
    pub(crate) fn push(&self, command: Command) -> Result<(), Box<Command>> {
        let mut state = self.lock();
        if state.closed {
            return Err(Box::new(command));
        }
        state.commands.push(command);
        self.len.store(state.commands.len(), Ordering::Relaxed);
        // A wake-up is a system call: only when the writer sleeps.
        let wake = mem::take(&mut state.writer_waiting);
        drop(state);
        if wake {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// Waits until `deadline` for commands and moves all of them into
    /// `into`, which the caller emptied (its capacity comes back to the
    /// publishers).
    pub(crate) fn take(&self, into: &mut Vec<Command>, deadline: Instant) -> Taken {
        debug_assert!(into.is_empty(), "the writer's list is drained first");
        let mut state = self.lock();
        loop {
            if !state.commands.is_empty() {
                mem::swap(&mut state.commands, into);
                self.len.store(0, Ordering::Relaxed);
                return Taken::Commands;
            }
            let now = Instant::now();
            if now >= deadline {
                return Taken::TimedOut;
            }
            state.writer_waiting = true;
            state = self
                .ready
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            state.writer_waiting = false;
        }
    }

    /// The writer is gone: later pushes fail, and what is still queued is
    /// dropped (its waiters are told the write was dropped).
    pub(crate) fn close(&self) {
        let left = {
            let mut state = self.lock();
            state.closed = true;
            self.len.store(0, Ordering::Relaxed);
            mem::take(&mut state.commands)
        };
        drop(left);
    }

    /// Commands queued now.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }
}

/// Closes the queue when the writer thread ends, however it ends.
pub(crate) struct CloseOnExit<'q>(pub(crate) &'q Queue);

impl Drop for CloseOnExit<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "test helpers: a failed unwrap is a failed test"
    )]

    use std::{sync::Arc, time::Duration};

    use super::*;

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    #[test]
    fn take_moves_everything_queued_and_leaves_the_queue_empty() {
        let queue = Queue::default();
        assert!(queue.push(Command::Close).is_ok());
        assert!(queue.push(Command::Close).is_ok());
        assert_eq!(queue.len(), 2);
        let mut taken = Vec::new();
        assert!(matches!(queue.take(&mut taken, far()), Taken::Commands));
        assert_eq!((taken.len(), queue.len()), (2, 0));
        taken.clear();
        let soon = Instant::now() + Duration::from_millis(20);
        assert!(matches!(queue.take(&mut taken, soon), Taken::TimedOut));
        assert!(Instant::now() >= soon);
    }

    #[test]
    fn a_push_wakes_the_waiting_writer() {
        let queue = Arc::new(Queue::default());
        let writer = {
            let queue = queue.clone();
            std::thread::spawn(move || {
                let mut taken = Vec::new();
                let outcome = queue.take(&mut taken, far());
                (matches!(outcome, Taken::Commands), taken.len())
            })
        };
        std::thread::sleep(Duration::from_millis(20));
        assert!(queue.push(Command::Close).is_ok());
        assert_eq!(writer.join().unwrap(), (true, 1));
    }

    #[test]
    fn after_close_pushes_fail_and_nothing_stays_queued() {
        let queue = Queue::default();
        assert!(queue.push(Command::Close).is_ok());
        queue.close();
        assert_eq!(queue.len(), 0);
        assert!(matches!(queue.push(Command::Close), Err(c) if matches!(*c, Command::Close)));
    }
}
