//! The host: one std thread per handler, and their shutdown.

use std::{
    fmt,
    sync::{
        Arc, Condvar, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    thread::{self, JoinHandle, Thread},
};

use omg::Agency;

use crate::{Handler, HandlerHandle, RestartPolicy, stats::Counters, worker::Worker};

/// Why the host refused something, or what went wrong while shutting down.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// [`Host::spawn_handler`] after a shutdown was requested.
    #[error("the host is shutting down")]
    ShuttingDown,
    /// The operating system refused a thread.
    #[error("cannot start the thread of handler {handler}: {source}")]
    Spawn {
        /// The handler.
        handler: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// [`HostHandle::shutdown`] stopped every handler, but some cursors
    /// could not be committed (their messages will be delivered again by
    /// the next process), or a handler thread died outside its callbacks.
    #[error("shutdown finished with {} failure(s): {}", failures.len(), describe(failures))]
    Shutdown {
        /// Each failure with the handler it happened in.
        failures: Vec<(String, ShutdownFailure)>,
    },
}

/// One failure reported by [`HostError::Shutdown`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShutdownFailure {
    /// Committing a cursor failed.
    #[error(transparent)]
    Commit(omg::Error),
    /// The handler thread panicked outside a callback: when the handler's
    /// state or a value its callbacks captured panicked while being dropped
    /// as the thread ended, or through a bug in omg-std.
    #[error("the handler thread panicked: {0}")]
    Thread(String),
}

fn describe(failures: &[(String, ShutdownFailure)]) -> String {
    failures
        .iter()
        .map(|(handler, failure)| format!("{handler}: {failure}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Builds a [`Host`].
#[derive(Debug)]
pub struct HostBuilder {
    agency: Agency,
    policy: RestartPolicy,
}

impl HostBuilder {
    /// The restart policy of handlers that do not set their own
    /// (default: [`RestartPolicy::restart`]).
    #[must_use]
    pub fn restart_policy(mut self, policy: RestartPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Builds the host. It starts no thread until a handler is spawned.
    pub fn build(self) -> Host {
        Host {
            handle: HostHandle {
                shared: Arc::new(Shared {
                    agency: self.agency,
                    policy: self.policy,
                    stop: Arc::new(AtomicBool::new(false)),
                    requested: Mutex::new(false),
                    requested_cv: Condvar::new(),
                    workers: Mutex::new(Vec::new()),
                    joining: Mutex::new(()),
                }),
            },
        }
    }
}

/// Runs handlers on std threads, one thread each.
///
/// Dropping the host shuts it down (see [`HostHandle::shutdown`]); call
/// [`Host::shutdown`] to see the errors.
#[derive(Debug)]
pub struct Host {
    handle: HostHandle,
}

/// A cheap, cloneable handle to a [`Host`], usable from any thread (a
/// Ctrl-C handler, a watchdog, a handler itself).
#[derive(Clone)]
pub struct HostHandle {
    shared: Arc<Shared>,
}

struct Shared {
    agency: Agency,
    policy: RestartPolicy,
    stop: Arc<AtomicBool>,
    requested: Mutex<bool>,
    requested_cv: Condvar,
    workers: Mutex<Vec<Running>>,
    /// Held while a shutdown joins the handler threads.
    joining: Mutex<()>,
}

struct Running {
    handle: HandlerHandle,
    thread: Thread,
    join: JoinHandle<Vec<omg::Error>>,
}

impl Host {
    /// A builder for a host over `agency`.
    pub fn builder(agency: &Agency) -> HostBuilder {
        HostBuilder {
            agency: agency.clone(),
            policy: RestartPolicy::default(),
        }
    }

    /// A host over `agency` with default options.
    pub fn new(agency: &Agency) -> Self {
        Self::builder(agency).build()
    }

    /// The agency the host was built with.
    pub fn agency(&self) -> &Agency {
        &self.handle.shared.agency
    }

    /// Starts `handler` on its own thread, named after it.
    ///
    /// # Errors
    /// [`HostError::ShuttingDown`] after a shutdown was requested;
    /// [`HostError::Spawn`] if the thread cannot be started.
    pub fn spawn_handler<S: 'static>(
        &self,
        handler: Handler<S>,
    ) -> Result<HandlerHandle, HostError> {
        let shared = &self.handle.shared;
        let mut workers = lock(&shared.workers);
        if shared.stop.load(Ordering::Acquire) {
            return Err(HostError::ShuttingDown);
        }
        let name: Arc<str> = Arc::from(handler.name.as_str());
        let counters = Arc::new(Counters::default());
        let handle = HandlerHandle::new(name.clone(), counters.clone());
        let worker = Worker {
            policy: handler.policy.unwrap_or(shared.policy),
            handler,
            counters,
            stop: shared.stop.clone(),
        };
        let join = thread::Builder::new()
            // The thread's name is for debuggers only; std refuses one
            // with a NUL byte by panicking, so drop those.
            .name(name.replace('\0', ""))
            .spawn(move || worker.run())
            .map_err(|source| HostError::Spawn {
                handler: name.to_string(),
                source,
            })?;
        workers.push(Running {
            handle: handle.clone(),
            thread: join.thread().clone(),
            join,
        });
        Ok(handle)
    }

    /// Every handler spawned so far and not yet joined by a shutdown.
    pub fn handlers(&self) -> Vec<HandlerHandle> {
        self.handle.handlers()
    }

    /// A handle to shut the host down from elsewhere.
    pub fn handle(&self) -> HostHandle {
        self.handle.clone()
    }

    /// Shuts the host down; see [`HostHandle::shutdown`].
    ///
    /// # Errors
    /// See [`HostHandle::shutdown`].
    pub fn shutdown(self) -> Result<(), HostError> {
        self.handle.shutdown()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Err(e) = self.handle.shutdown() {
            tracing::warn!(error = %e, "host dropped");
        }
    }
}

impl HostHandle {
    /// Asks every handler to stop without waiting for them. Idempotent.
    pub fn request_shutdown(&self) {
        let shared = &self.shared;
        shared.stop.store(true, Ordering::Release);
        *lock(&shared.requested) = true;
        shared.requested_cv.notify_all();
        for running in lock(&shared.workers).iter() {
            running.thread.unpark();
        }
    }

    /// Whether a shutdown was requested.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.stop.load(Ordering::Acquire)
    }

    /// Blocks until a shutdown is requested (by [`request_shutdown`]
    /// or [`shutdown`] from another thread). A `main` typically spawns its
    /// handlers, waits here, then calls [`shutdown`].
    ///
    /// [`request_shutdown`]: Self::request_shutdown
    /// [`shutdown`]: Self::shutdown
    pub fn wait(&self) {
        let mut requested = lock(&self.shared.requested);
        while !*requested {
            requested = self
                .shared
                .requested_cv
                .wait(requested)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Stops every handler and joins its thread: each finishes the message
    /// in hand (the stop is looked at between messages), commits its named
    /// cursors past what it handled and waits for those commits. The agency
    /// is left open: shut the host down before the agency, or the final
    /// commits fail with [`omg::Error::ShutDown`]. Idempotent.
    ///
    /// Called on a handler thread (of any host), it only requests the stop
    /// and returns `Ok(())`: joining there could wait on itself, or on a
    /// handler that waits on it. The host's owner joins. Elsewhere,
    /// concurrent calls all return after the handlers were joined.
    ///
    /// # Errors
    /// [`HostError::Shutdown`] listing the commits that failed.
    pub fn shutdown(&self) -> Result<(), HostError> {
        self.request_shutdown();
        if crate::worker::on_handler_thread() {
            return Ok(());
        }
        // Concurrent callers wait here until the first one joined everything.
        let _joining = lock(&self.shared.joining);
        let joining: Vec<Running> = lock(&self.shared.workers).drain(..).collect();
        let mut failures = Vec::new();
        for running in joining {
            let name = running.handle.name().to_owned();
            match running.join.join() {
                Ok(errors) => failures.extend(
                    errors
                        .into_iter()
                        .map(|e| (name.clone(), ShutdownFailure::Commit(e))),
                ),
                Err(panic) => failures.push((
                    name,
                    ShutdownFailure::Thread(crate::handler::panic_message(panic.as_ref())),
                )),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(HostError::Shutdown { failures })
        }
    }

    fn handlers(&self) -> Vec<HandlerHandle> {
        lock(&self.shared.workers)
            .iter()
            .map(|r| r.handle.clone())
            .collect()
    }
}

impl fmt::Debug for HostHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostHandle")
            .field("agency", &self.shared.agency)
            .field("policy", &self.shared.policy)
            .field("handlers", &self.handlers())
            .field("shutting_down", &self.is_shutting_down())
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
