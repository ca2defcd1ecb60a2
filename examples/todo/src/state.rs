//! The list as rebuilt from its events.

use std::collections::BTreeMap;

use omg::agent::AgentState;
use serde::{Deserialize, Serialize};

use crate::{Command, Event, TodoError, command::valid_title};

/// One todo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Todo {
    /// Its id, unique for the life of the list.
    pub id: u64,
    /// Its title.
    pub title: String,
    /// Whether it is done.
    pub done: bool,
}

/// The todo list: an omg agent state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TodoList {
    todos: BTreeMap<u64, Todo>,
    last_id: u64,
}

impl TodoList {
    /// The todos in id order.
    pub fn todos(&self) -> impl Iterator<Item = &Todo> {
        self.todos.values()
    }

    /// The todo `id`.
    pub fn get(&self, id: u64) -> Option<&Todo> {
        self.todos.get(&id)
    }

    /// How many todos there are.
    pub fn len(&self) -> usize {
        self.todos.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.todos.is_empty()
    }

    fn existing(&self, id: u64) -> Result<&Todo, TodoError> {
        self.todos.get(&id).ok_or(TodoError::UnknownId(id))
    }
}

impl AgentState for TodoList {
    type Event = Event;
    type Command = Command;
    type Error = TodoError;

    fn apply(&mut self, event: &Event) {
        match event {
            Event::Added { id, title } => {
                self.last_id = self.last_id.max(*id);
                self.todos.insert(
                    *id,
                    Todo {
                        id: *id,
                        title: title.clone(),
                        done: false,
                    },
                );
            }
            Event::Completed { id } | Event::Reopened { id } => {
                if let Some(todo) = self.todos.get_mut(id) {
                    todo.done = matches!(event, Event::Completed { .. });
                }
            }
            Event::Renamed { id, title } => {
                if let Some(todo) = self.todos.get_mut(id) {
                    todo.title.clone_from(title);
                }
            }
            Event::Removed { id } => {
                self.todos.remove(id);
            }
        }
    }

    fn handle(&self, command: &Command) -> Result<Vec<Event>, TodoError> {
        Ok(match command {
            Command::Add { title } => vec![Event::Added {
                id: self.last_id + 1,
                title: valid_title(title)?,
            }],
            Command::Complete { id } => {
                if self.existing(*id)?.done {
                    return Err(TodoError::AlreadyDone(*id));
                }
                vec![Event::Completed { id: *id }]
            }
            Command::Reopen { id } => {
                if !self.existing(*id)?.done {
                    return Err(TodoError::NotDone(*id));
                }
                vec![Event::Reopened { id: *id }]
            }
            Command::Rename { id, title } => {
                self.existing(*id)?;
                vec![Event::Renamed {
                    id: *id,
                    title: valid_title(title)?,
                }]
            }
            Command::Remove { id } => {
                self.existing(*id)?;
                vec![Event::Removed { id: *id }]
            }
            Command::ClearCompleted => self
                .todos
                .values()
                .filter(|t| t.done)
                .map(|t| Event::Removed { id: t.id })
                .collect(),
        })
    }

    fn event_type_name() -> std::borrow::Cow<'static, str> {
        "omg.examples.todo.Event".into()
    }
}

#[cfg(test)]
mod tests {
    use omg::agent::testing::given;

    use super::*;

    fn added(id: u64, title: &str) -> Event {
        Event::Added {
            id,
            title: title.into(),
        }
    }

    #[test]
    fn adding_gives_the_next_id_and_a_trimmed_title() {
        given::<TodoList>([])
            .when(Command::add("  Buy milk "))
            .then([added(1, "Buy milk")]);
        given::<TodoList>([added(1, "a"), Event::Removed { id: 1 }])
            .when(Command::add("b"))
            .then([added(2, "b")]);
    }

    #[test]
    fn titles_are_validated() {
        given::<TodoList>([])
            .when(Command::add("   "))
            .then_error(|e| *e == TodoError::EmptyTitle);
        let long = "x".repeat(crate::MAX_TITLE_CHARS + 1);
        given::<TodoList>([])
            .when(Command::add(long))
            .then_error(|e| *e == TodoError::TitleTooLong { len: 201, max: 200 });
        given::<TodoList>([added(1, "a")])
            .when(Command::Rename {
                id: 1,
                title: String::new(),
            })
            .then_error(|e| *e == TodoError::EmptyTitle);
    }

    #[test]
    fn completing_and_reopening_toggle_done() {
        let state = given::<TodoList>([added(1, "a")])
            .when(Command::Complete { id: 1 })
            .then([Event::Completed { id: 1 }]);
        assert!(state.get(1).unwrap().done);
        given::<TodoList>([added(1, "a"), Event::Completed { id: 1 }])
            .when(Command::Complete { id: 1 })
            .then_error(|e| *e == TodoError::AlreadyDone(1));
        given::<TodoList>([added(1, "a")])
            .when(Command::Reopen { id: 1 })
            .then_error(|e| *e == TodoError::NotDone(1));
        given::<TodoList>([added(1, "a"), Event::Completed { id: 1 }])
            .when(Command::Reopen { id: 1 })
            .then([Event::Reopened { id: 1 }]);
    }

    #[test]
    fn unknown_ids_are_refused() {
        for command in [
            Command::Complete { id: 9 },
            Command::Reopen { id: 9 },
            Command::Remove { id: 9 },
            Command::Rename {
                id: 9,
                title: "x".into(),
            },
        ] {
            given::<TodoList>([added(1, "a")])
                .when(command)
                .then_error(|e| *e == TodoError::UnknownId(9));
        }
    }

    #[test]
    fn renaming_and_clearing_completed() {
        let state = given::<TodoList>([added(1, "a")])
            .when(Command::Rename {
                id: 1,
                title: "b".into(),
            })
            .then([Event::Renamed {
                id: 1,
                title: "b".into(),
            }]);
        assert_eq!(state.get(1).unwrap().title, "b");
        let state = given::<TodoList>([
            added(1, "a"),
            added(2, "b"),
            added(3, "c"),
            Event::Completed { id: 1 },
            Event::Completed { id: 3 },
        ])
        .when(Command::ClearCompleted)
        .then([Event::Removed { id: 1 }, Event::Removed { id: 3 }]);
        assert_eq!(state.todos().map(|t| t.id).collect::<Vec<_>>(), [2]);
        given::<TodoList>([added(1, "a")])
            .when(Command::ClearCompleted)
            .then([]);
    }
}
