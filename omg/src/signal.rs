//! The wake-up path: a cursor that found nothing registers its [`Signal`] in
//! its topic's [`WaitList`], then waits; the publisher that makes the next
//! message visible takes the list and notifies after releasing its locks.
//! The registration is ordered with that publish — the ring and the durable
//! head both put a "someone may wait" bit in their head word: the reader
//! sets it and reads the head in one read-modify-write under the list's
//! lock, the publisher moves the head and reads the bit in another — so
//! either the publisher sees the registration or the reader sees the
//! message: a wake-up cannot be lost. A stale token only causes one
//! spurious re-check.
//!
//! Production builds wait through a flume channel of capacity one, which
//! parks threads, wakes any async executor's tasks and can be polled.
//! Under `--cfg loom` the same protocol runs on loom's `Condvar` so the model
//! checker can explore it.

#[cfg(not(loom))]
mod imp {
    use std::{
        future::Future,
        pin::Pin,
        task::{Context, Poll},
    };

    /// One waiter's wake-up token.
    #[derive(Debug)]
    pub(crate) struct Signal {
        sender: flume::Sender<()>,
        receiver: flume::Receiver<()>,
        waiting: Option<flume::r#async::RecvFut<'static, ()>>,
    }

    /// The notifying half kept in a [`super::WaitList`].
    #[derive(Debug, Clone)]
    pub(crate) struct Notifier(flume::Sender<()>);

    impl Signal {
        pub(crate) fn new() -> Self {
            let (sender, receiver) = flume::bounded(1);
            Self {
                sender,
                receiver,
                waiting: None,
            }
        }

        pub(crate) fn notifier(&self) -> Notifier {
            Notifier(self.sender.clone())
        }

        /// Blocks the thread until notified.
        pub(crate) fn wait(&self) {
            // The signal holds its own sender, so the channel never disconnects.
            let _token = self.receiver.recv();
        }

        /// Blocks until notified or until `deadline`.
        pub(crate) fn wait_until(&self, deadline: std::time::Instant) {
            let _token = self.receiver.recv_deadline(deadline);
        }

        /// Polls for a notification, registering the task's waker.
        pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
            let receiver = &self.receiver;
            let future = self
                .waiting
                .get_or_insert_with(|| receiver.clone().into_recv_async());
            match Pin::new(future).poll(cx) {
                Poll::Ready(_) => {
                    self.waiting = None;
                    Poll::Ready(())
                }
                Poll::Pending => Poll::Pending,
            }
        }
    }

    impl Notifier {
        pub(crate) fn notify(&self) {
            // Full means a token is already pending: the waiter will wake.
            let _ = self.0.try_send(());
        }

        pub(crate) fn same_as(&self, other: &Notifier) -> bool {
            self.0.same_channel(&other.0)
        }
    }
}

#[cfg(loom)]
mod imp {
    use crate::sync::{Arc, Mutex, lock};
    use loom::sync::Condvar;

    #[derive(Debug)]
    pub(crate) struct Signal(Arc<(Mutex<bool>, Condvar)>);

    #[derive(Debug, Clone)]
    pub(crate) struct Notifier(Arc<(Mutex<bool>, Condvar)>);

    impl Signal {
        pub(crate) fn new() -> Self {
            Self(Arc::new((Mutex::new(false), Condvar::new())))
        }

        pub(crate) fn notifier(&self) -> Notifier {
            Notifier(self.0.clone())
        }

        pub(crate) fn wait(&self) {
            let (flag, condvar) = &*self.0;
            let mut token = lock(flag);
            while !*token {
                token = condvar.wait(token).unwrap_or_else(|p| p.into_inner());
            }
            *token = false;
        }
    }

    impl Notifier {
        pub(crate) fn notify(&self) {
            let (flag, condvar) = &*self.0;
            *lock(flag) = true;
            condvar.notify_one();
        }

        pub(crate) fn same_as(&self, other: &Notifier) -> bool {
            Arc::ptr_eq(&self.0, &other.0)
        }
    }
}

pub(crate) use imp::{Notifier, Signal};

/// The waiters of one topic, guarded by the topic's lock.
#[derive(Debug, Default)]
pub(crate) struct WaitList(Vec<Notifier>);

impl WaitList {
    /// Registers `signal` once, however often its cursor polls.
    pub(crate) fn register(&mut self, signal: &Signal) {
        let notifier = signal.notifier();
        if !self.0.iter().any(|n| n.same_as(&notifier)) {
            self.0.push(notifier);
        }
    }

    /// Takes every waiter out, to notify after the lock is released.
    pub(crate) fn take(&mut self) -> Woken {
        Woken(std::mem::take(&mut self.0))
    }
}

/// Waiters taken out of a [`WaitList`]; notify them outside the lock.
#[derive(Debug)]
pub(crate) struct Woken(Vec<Notifier>);

impl Woken {
    pub(crate) fn notify(self) {
        for notifier in self.0 {
            notifier.notify();
        }
    }
}
