//! Hosting an agent: a handler that executes a topic of commands.

use omg::{
    Cursor, Message,
    agent::{Agent, AgentError, AgentState, Execute},
};

use crate::Handler;

impl<S> Handler<Agent<S>>
where
    S: AgentState,
    S::Command: Message,
{
    /// A handler called `name` that executes every message `commands`
    /// reads as a command of `agent`, in offset order.
    ///
    /// Each command carries its message (`topic@offset`) as causation, so a
    /// command delivered again (after a failure or a crash) is not applied
    /// twice; with a named cursor, the cursor is committed past the message
    /// **in the same transaction** as the agent's events
    /// ([`Execute::caused_by_message`]). A command the state refuses
    /// ([`AgentError::Domain`]) is logged and counts as handled: executing
    /// it again would be refused again. Any other error is a failure (the
    /// restart policy applies and the command is delivered again).
    ///
    /// ```
    /// use omg::{Agency, Delivery, StartAt, agent::AgentState};
    /// use omg_std::{Handler, Host};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Default, Clone, Serialize, Deserialize)]
    /// # struct Total { sum: u64 }
    /// # #[derive(Clone, Serialize, Deserialize)]
    /// # struct Added(u64);
    /// # #[derive(Debug, thiserror::Error)]
    /// # #[error("refused")]
    /// # struct Refused;
    /// # impl AgentState for Total {
    /// #     type Event = Added;
    /// #     type Command = u64;
    /// #     type Error = Refused;
    /// #     fn apply(&mut self, Added(n): &Added) { self.sum += n; }
    /// #     fn handle(&self, n: &u64) -> Result<Vec<Added>, Refused> { Ok(vec![Added(*n)]) }
    /// # }
    ///
    /// let agency = Agency::in_memory();
    /// let commands = agency.topic::<u64>("amounts", Delivery::exactly_once())?;
    /// let total = agency.agent::<Total>("total")?;
    /// let host = Host::new(&agency);
    /// let handler = host.spawn_handler(Handler::agent(
    ///     "total",
    ///     total.clone(),
    ///     commands.named_cursor("total", StartAt::Earliest)?,
    /// ))?;
    /// for n in [1, 2, 3] {
    ///     commands.publisher().publish(n)?;
    /// }
    /// while handler.stats().handled < 3 {
    ///     std::thread::yield_now();
    /// }
    /// host.shutdown()?;
    /// assert_eq!(total.state()?.sum, 6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn agent(name: impl Into<String>, agent: Agent<S>, commands: Cursor<S::Command>) -> Self {
        let cursor = commands.name().cloned();
        Handler::new(name, move || agent.clone()).subscribe(commands, move |agent, e| {
            let offset = e.offset();
            let command =
                Execute::new(e.record.value).caused_by_message(&e.topic, offset, cursor.as_ref());
            match agent.execute(command) {
                Ok(_) => Ok(()),
                Err(AgentError::Domain(refusal)) => {
                    tracing::info!(
                        agent = %agent.name(),
                        topic = %e.topic,
                        offset,
                        reason = %refusal,
                        "command refused"
                    );
                    Ok(())
                }
                Err(other) => Err(Box::new(other)),
            }
        })
    }
}
