//! The host: supervises agent and subscriber actors, and shuts them down
//! gracefully.

use std::{
    fmt,
    future::Future,
    ops::ControlFlow,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use kameo::{
    Actor,
    actor::{ActorId, ActorRef, Spawn, WeakActorRef},
    error::{ActorStopReason, Infallible},
    mailbox,
    message::Message,
    supervision::{RestartPolicy, SupervisionStrategy},
};
use omg::{
    Agency, Cursor,
    agent::{AgentOptions, AgentState},
};

use crate::{
    AgentActor, AgentSpec, SubscribeOptions, Subscription, TopicMessage,
    subscription::{Shared, subscribe_with},
};

/// Default of [`HostOptions::mailbox`].
pub const DEFAULT_MAILBOX: usize = 64;

/// How a [`Host`] runs its actors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostOptions {
    /// Capacity of each hosted actor's bounded mailbox (at least 1).
    pub mailbox: usize,
    /// Restarts allowed within [`restart_window`](Self::restart_window)
    /// before a failing actor is left stopped.
    pub max_restarts: u32,
    /// See [`max_restarts`](Self::max_restarts).
    pub restart_window: Duration,
    /// Options of the subscriptions made with [`Host::subscribe`].
    pub subscribe: SubscribeOptions,
}

impl Default for HostOptions {
    fn default() -> Self {
        Self {
            mailbox: DEFAULT_MAILBOX,
            max_restarts: 5,
            restart_window: Duration::from_secs(5),
            subscribe: SubscribeOptions::default(),
        }
    }
}

impl HostOptions {
    /// Sets [`mailbox`](Self::mailbox).
    #[must_use]
    pub fn mailbox(mut self, capacity: usize) -> Self {
        self.mailbox = capacity.max(1);
        self
    }

    /// Sets the restart limit: `restarts` within `window`.
    #[must_use]
    pub fn restart_limit(mut self, restarts: u32, window: Duration) -> Self {
        self.max_restarts = restarts;
        self.restart_window = window;
        self
    }

    /// Sets [`subscribe`](Self::subscribe).
    #[must_use]
    pub fn subscribe(mut self, options: SubscribeOptions) -> Self {
        self.subscribe = options;
        self
    }
}

/// The supervisor of a host's actors: restarts a failed one alone.
struct Supervisor;

impl Actor for Supervisor {
    type Args = ();
    type Error = Infallible;

    fn name() -> &'static str {
        "omg_tokio::Supervisor"
    }

    fn supervision_strategy() -> SupervisionStrategy {
        SupervisionStrategy::OneForOne
    }

    async fn on_start(_: (), _actor_ref: ActorRef<Self>) -> Result<Self, Infallible> {
        Ok(Self)
    }

    /// A child that is not restarted (normal stop, restart limit reached)
    /// stays stopped; the host and its other actors go on. (kameo's default
    /// would stop the supervisor, and with it every other hosted actor.)
    async fn on_link_died(
        &mut self,
        _actor_ref: WeakActorRef<Self>,
        id: ActorId,
        reason: ActorStopReason,
    ) -> Result<ControlFlow<ActorStopReason>, Infallible> {
        if !matches!(
            reason,
            ActorStopReason::Normal | ActorStopReason::SupervisorRestart
        ) {
            tracing::warn!(%id, ?reason, "hosted actor stopped for good");
        }
        Ok(ControlFlow::Continue(()))
    }
}

type StopFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Stops one hosted actor gracefully and waits until it stopped.
type Stopper = Box<dyn FnOnce() -> StopFuture + Send>;

/// Runs omg agents and topic subscribers as kameo actors on tokio.
///
/// Actors spawned by a host are supervised: a panicking handler stops the
/// actor and kameo restarts it with the same mailbox (restart policy
/// [`RestartPolicy::Transient`], up to [`HostOptions::max_restarts`] within
/// [`HostOptions::restart_window`]). A subscription notices the failed
/// delivery and delivers again from the failed message, so nothing is lost.
///
/// [`Host::shutdown`] stops everything in order: subscriptions (settling
/// what is in flight and committing it), then actors (after the messages
/// already in their mailboxes), then the agency (flushing pending writes).
pub struct Host {
    agency: Agency,
    options: HostOptions,
    supervisor: ActorRef<Supervisor>,
    subscriptions: Mutex<Vec<Arc<Shared>>>,
    actors: Mutex<Vec<Stopper>>,
}

impl Host {
    /// A host for `agency`'s agents and topics, with default options.
    ///
    /// # Errors
    /// [`omg::Error::Unsupported`] outside a tokio runtime.
    pub fn new(agency: &Agency) -> omg::Result<Self> {
        Self::with_options(agency, HostOptions::default())
    }

    /// A host with `options`. Installs the blocking detector
    /// ([`install`](crate::install)).
    ///
    /// # Errors
    /// [`omg::Error::Unsupported`] outside a tokio runtime.
    pub fn with_options(agency: &Agency, options: HostOptions) -> omg::Result<Self> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(omg::Error::Unsupported {
                what: "a host outside a tokio runtime",
                why: "kameo actors run as tokio tasks; create the host inside the runtime",
            });
        }
        crate::install();
        Ok(Self {
            agency: agency.clone(),
            options: HostOptions {
                mailbox: options.mailbox.max(1),
                ..options
            },
            supervisor: Supervisor::spawn(()),
            subscriptions: Mutex::new(Vec::new()),
            actors: Mutex::new(Vec::new()),
        })
    }

    /// The agency.
    pub fn agency(&self) -> &Agency {
        &self.agency
    }

    /// Spawns the agent `name` with state `S` as a supervised actor.
    ///
    /// # Errors
    /// Those of [`Agency::agent`] (an invalid name, another event type under
    /// that name, a shut-down agency).
    pub async fn spawn_agent<S: AgentState>(
        &self,
        name: &str,
    ) -> omg::Result<ActorRef<AgentActor<S>>> {
        self.spawn_agent_with(name, AgentOptions::default()).await
    }

    /// [`spawn_agent`](Self::spawn_agent) with agent options.
    ///
    /// # Errors
    /// See [`spawn_agent`](Self::spawn_agent).
    pub async fn spawn_agent_with<S: AgentState>(
        &self,
        name: &str,
        options: AgentOptions,
    ) -> omg::Result<ActorRef<AgentActor<S>>> {
        // Fail here, not in the actor's start, for a bad name or type.
        self.agency.agent_with::<S>(name, options)?;
        let spec = AgentSpec::new(&self.agency, name).options(options);
        Ok(self.supervise::<AgentActor<S>>(spec).await)
    }

    /// Spawns actor `A` under the host's supervisor: restarted with `args`
    /// (cloned) after a panic, stopped by [`shutdown`](Self::shutdown).
    pub async fn supervise<A>(&self, args: A::Args) -> ActorRef<A>
    where
        A: Actor,
        A::Args: Clone + Sync,
    {
        let actor = A::supervise(&self.supervisor, args)
            .restart_policy(RestartPolicy::Transient)
            .restart_limit(self.options.max_restarts, self.options.restart_window)
            .spawn_with_mailbox(mailbox::bounded(self.options.mailbox))
            .await;
        let stopping = actor.clone();
        let stopper: Stopper = Box::new(move || {
            Box::pin(async move {
                // An actor that already stopped has nothing left to do.
                let _ = stopping.stop_gracefully().await;
                stopping.wait_for_shutdown().await;
            })
        });
        lock(&self.actors).push(stopper);
        actor
    }

    /// Subscribes `actor` to `cursor`'s topic with the host's
    /// [`SubscribeOptions`]; see [`subscribe_with`](crate::subscribe_with).
    /// The host stops the subscription on shutdown.
    ///
    /// # Errors
    /// See [`subscribe_with`](crate::subscribe_with).
    pub fn subscribe<A, T>(
        &self,
        actor: &ActorRef<A>,
        cursor: Cursor<T>,
    ) -> omg::Result<Subscription>
    where
        A: Actor + Message<TopicMessage<T>>,
        T: omg::Message,
    {
        self.subscribe_with(actor, cursor, self.options.subscribe)
    }

    /// [`subscribe`](Self::subscribe) with other options.
    ///
    /// # Errors
    /// See [`subscribe_with`](crate::subscribe_with).
    pub fn subscribe_with<A, T>(
        &self,
        actor: &ActorRef<A>,
        cursor: Cursor<T>,
        options: SubscribeOptions,
    ) -> omg::Result<Subscription>
    where
        A: Actor + Message<TopicMessage<T>>,
        T: omg::Message,
    {
        let subscription = subscribe_with(actor, cursor, options)?;
        lock(&self.subscriptions).push(subscription.shared().clone());
        Ok(subscription)
    }

    /// Stops the host's subscriptions and actors, leaving the agency open:
    ///
    /// 1. every subscription stops sending, awaits the replies in flight and
    ///    commits what was processed;
    /// 2. every actor handles what is already in its mailbox (their
    ///    publishes complete) and stops;
    /// 3. the supervisor stops.
    pub async fn stop(&self) {
        let subscriptions = std::mem::take(&mut *lock(&self.subscriptions));
        for subscription in &subscriptions {
            subscription.request_stop();
        }
        for subscription in &subscriptions {
            subscription.finished().await;
        }
        let actors = std::mem::take(&mut *lock(&self.actors));
        for stop in actors {
            stop().await;
        }
        let _ = self.supervisor.stop_gracefully().await;
        self.supervisor.wait_for_shutdown().await;
        tracing::debug!(
            subscriptions = subscriptions.len(),
            "omg-tokio host stopped"
        );
    }

    /// [`stop`](Self::stop), then shuts the agency down: pending writes
    /// (try-publishes, background commits) are flushed to the storage,
    /// which is closed. The closing runs on a blocking thread, never on an
    /// executor thread.
    pub async fn shutdown(self) {
        self.stop().await;
        let agency = self.agency.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || agency.shutdown()).await {
            tracing::error!(error = %e, "shutting the agency down failed");
        }
    }
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Host")
            .field("agency", &self.agency)
            .field("options", &self.options)
            .field("subscriptions", &lock(&self.subscriptions).len())
            .field("actors", &lock(&self.actors).len())
            .finish()
    }
}

/// The host's lists stay consistent across a panic, so poisoning is ignored.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
