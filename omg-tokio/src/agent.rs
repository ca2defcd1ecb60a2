//! Agents hosted as kameo actors.

use std::fmt;

use kameo::{
    Actor,
    actor::ActorRef,
    message::{Context, Message},
};
use omg::{
    Agency,
    agent::{Agent, AgentError, AgentOptions, AgentState, Execute, Executed},
};

use crate::TopicMessage;

/// An omg [`Agent`] running as a kameo actor.
///
/// | message | reply |
/// |---|---|
/// | [`Execute<S::Command>`](Execute) | `Result<Executed, AgentError<S::Error>>` (events published with [`Agent::execute_async`]) |
/// | [`GetState`] | `Result<S, AgentError<S::Error>>` |
/// | [`Query<F>`] | `Result<R, AgentError<S::Error>>` for `F: FnOnce(&S) -> R` |
/// | [`TopicMessage<S::Command>`](TopicMessage) | `Result<Handled<S::Error>, AgentError<S::Error>>` |
///
/// With `ask`, a refused command comes back as
/// `SendError::HandlerError(AgentError::Domain(..))` and the actor goes on.
/// Commands read from a topic (through [`subscribe`](crate::subscribe)) are
/// executed with the message as causation and commit the subscription's
/// named cursor in the same transaction as the events
/// ([`Execute::caused_by_message`]), so a redelivered message is not applied
/// twice; a refusal counts as processed ([`Handled::Refused`]).
///
/// Each start (first or after a supervised restart) opens a fresh agent
/// handle, so the state is rebuilt from the event topic: whatever a
/// panicking handler left half-done in memory is dropped.
pub struct AgentActor<S: AgentState> {
    agent: Agent<S>,
}

impl<S: AgentState> AgentActor<S> {
    /// The hosted agent.
    pub fn agent(&self) -> &Agent<S> {
        &self.agent
    }
}

impl<S: AgentState> fmt::Debug for AgentActor<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentActor")
            .field("agent", &self.agent)
            .finish()
    }
}

/// What an [`AgentActor`] is started from: the agency, the agent's name and
/// its options. Cloned for every restart.
#[derive(Debug, Clone)]
pub struct AgentSpec {
    agency: Agency,
    name: String,
    options: AgentOptions,
}

impl AgentSpec {
    /// The agent `name` of `agency`, with default options.
    pub fn new(agency: &Agency, name: &str) -> Self {
        Self {
            agency: agency.clone(),
            name: name.to_owned(),
            options: AgentOptions::default(),
        }
    }

    /// Sets the agent's options.
    #[must_use]
    pub fn options(mut self, options: AgentOptions) -> Self {
        self.options = options;
        self
    }

    /// The agent's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<S: AgentState> Actor for AgentActor<S> {
    type Args = AgentSpec;
    type Error = AgentError<S::Error>;

    fn name() -> &'static str {
        "omg_tokio::AgentActor"
    }

    async fn on_start(spec: AgentSpec, _actor_ref: ActorRef<Self>) -> Result<Self, Self::Error> {
        crate::install();
        let agent = spec
            .agency
            .agent_with::<S>(&spec.name, spec.options)
            .map_err(AgentError::Storage)?;
        // Rehydrate now, so that a restart starts from the stored events.
        let version = agent.version()?;
        tracing::debug!(agent = %agent.name(), version, "agent actor started");
        Ok(Self { agent })
    }
}

impl<S: AgentState> Message<Execute<S::Command>> for AgentActor<S> {
    type Reply = Result<Executed, AgentError<S::Error>>;

    async fn handle(
        &mut self,
        command: Execute<S::Command>,
        _ctx: &mut Context<Self, Self::Reply>,
    ) -> Self::Reply {
        self.agent.execute_async(command).await
    }
}

/// Asks an [`AgentActor`] for a copy of its state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GetState;

impl<S: AgentState + Clone> Message<GetState> for AgentActor<S> {
    type Reply = Result<S, AgentError<S::Error>>;

    async fn handle(&mut self, _: GetState, _ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        self.agent.state()
    }
}

/// Asks an [`AgentActor`] to compute something from its state:
/// `agent_ref.ask(Query(|s: &Counter| s.value)).await`.
pub struct Query<F>(pub F);

impl<F> fmt::Debug for Query<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Query")
    }
}

impl<S, F, R> Message<Query<F>> for AgentActor<S>
where
    S: AgentState,
    F: FnOnce(&S) -> R + Send + 'static,
    R: Send + 'static,
{
    type Reply = Result<R, AgentError<S::Error>>;

    async fn handle(
        &mut self,
        Query(f): Query<F>,
        _ctx: &mut Context<Self, Self::Reply>,
    ) -> Self::Reply {
        self.agent.read(f)
    }
}

/// What an [`AgentActor`] did with a command read from a topic.
#[derive(Debug)]
#[non_exhaustive]
pub enum Handled<E> {
    /// The command was executed (or found already executed: see
    /// [`Executed::duplicate`]).
    Executed(Executed),
    /// The state refused the command; nothing was appended.
    Refused(E),
}

impl<S> Message<TopicMessage<S::Command>> for AgentActor<S>
where
    S: AgentState,
    S::Command: omg::Message,
{
    type Reply = Result<Handled<S::Error>, AgentError<S::Error>>;

    async fn handle(
        &mut self,
        message: TopicMessage<S::Command>,
        _ctx: &mut Context<Self, Self::Reply>,
    ) -> Self::Reply {
        let offset = message.offset();
        let command = Execute::new(message.record.value).caused_by_message(
            &message.topic,
            offset,
            message.cursor.as_ref(),
        );
        match self.agent.execute_async(command).await {
            Ok(executed) => Ok(Handled::Executed(executed)),
            Err(AgentError::Domain(refusal)) => {
                tracing::debug!(agent = %self.agent.name(), offset, "command from topic refused");
                Ok(Handled::Refused(refusal))
            }
            Err(other) => Err(other),
        }
    }
}
