//! Given / when / then tests for agent states, without any storage.
//!
//! ```
//! # use omg::agent::{AgentState, testing::given};
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Default, Serialize, Deserialize)] struct Light { on: bool }
//! # #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)] enum Switched { On, Off }
//! # #[derive(Debug, thiserror::Error)] #[error("already so")] struct Already;
//! # impl AgentState for Light {
//! #     type Event = Switched; type Command = bool; type Error = Already;
//! #     fn apply(&mut self, e: &Switched) { self.on = *e == Switched::On; }
//! #     fn handle(&self, on: &bool) -> Result<Vec<Switched>, Already> {
//! #         if *on == self.on { return Err(Already) }
//! #         Ok(vec![if *on { Switched::On } else { Switched::Off }])
//! #     }
//! # }
//! given::<Light>([Switched::On]).when(false).then([Switched::Off]);
//! given::<Light>([Switched::On]).when(true).then_error(|e| e.to_string() == "already so");
//! ```

use std::fmt::Debug;

use super::AgentState;

/// Starts a scenario from the state reached by applying `events` in order.
pub fn given<S: AgentState>(events: impl IntoIterator<Item = S::Event>) -> Given<S> {
    let mut state = S::default();
    for event in events {
        state.apply(&event);
    }
    Given { state }
}

/// A state built from past events.
#[derive(Debug)]
pub struct Given<S> {
    state: S,
}

/// The outcome of a command in a scenario.
#[derive(Debug)]
pub struct When<S: AgentState> {
    state: S,
    outcome: Result<Vec<S::Event>, S::Error>,
}

impl<S: AgentState> Given<S> {
    /// Handles `command` against the given state.
    pub fn when(self, command: S::Command) -> When<S> {
        let outcome = self.state.handle(&command);
        When {
            state: self.state,
            outcome,
        }
    }
}

impl<S: AgentState> When<S>
where
    S::Event: PartialEq + Debug,
{
    /// Asserts the command produced exactly `expected`; returns the state
    /// after applying them, for further checks.
    ///
    /// # Panics
    /// If the command was refused or produced other events.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = S::Event>) -> S {
        let expected: Vec<S::Event> = expected.into_iter().collect();
        match self.outcome {
            Ok(events) => {
                assert_eq!(events, expected, "the command produced other events");
                let mut state = self.state;
                for event in &events {
                    state.apply(event);
                }
                state
            }
            Err(error) => {
                panic!("expected events {expected:?}, but the command was refused: {error}")
            }
        }
    }

    /// Asserts the command was refused with an error that `check` accepts.
    ///
    /// # Panics
    /// If the command produced events or `check` rejects the error.
    #[track_caller]
    pub fn then_error(self, check: impl FnOnce(&S::Error) -> bool) {
        match self.outcome {
            Ok(events) => panic!("expected the command to be refused, but it produced {events:?}"),
            Err(error) => assert!(
                check(&error),
                "the command was refused with an unexpected error: {error}"
            ),
        }
    }
}
