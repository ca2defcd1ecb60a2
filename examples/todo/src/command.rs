//! What users ask of the list, and why it may refuse.

use crate::MAX_TITLE_CHARS;

/// A command to the todo list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Add a todo.
    Add {
        /// Its title (trimmed; 1 to [`MAX_TITLE_CHARS`] characters).
        title: String,
    },
    /// Mark a todo done.
    Complete {
        /// Its id.
        id: u64,
    },
    /// Mark a done todo not done.
    Reopen {
        /// Its id.
        id: u64,
    },
    /// Give a todo a new title.
    Rename {
        /// Its id.
        id: u64,
        /// The new title.
        title: String,
    },
    /// Remove a todo.
    Remove {
        /// Its id.
        id: u64,
    },
    /// Remove every done todo.
    ClearCompleted,
}

impl Command {
    /// `Add` with `title`.
    pub fn add(title: impl Into<String>) -> Self {
        Self::Add {
            title: title.into(),
        }
    }
}

/// Why the list refused a command. The messages are written for end users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TodoError {
    /// The title is empty after trimming.
    #[error("a title cannot be empty")]
    EmptyTitle,
    /// The title is too long.
    #[error("a title is at most {max} characters (this one has {len})")]
    TitleTooLong {
        /// Its length in characters.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// No todo has this id.
    #[error("there is no todo #{0}")]
    UnknownId(u64),
    /// The todo is already done.
    #[error("todo #{0} is already done")]
    AlreadyDone(u64),
    /// The todo is not done.
    #[error("todo #{0} is not done")]
    NotDone(u64),
}

/// Trims and checks a title.
pub(crate) fn valid_title(title: &str) -> Result<String, TodoError> {
    let title = title.trim();
    let len = title.chars().count();
    if len == 0 {
        return Err(TodoError::EmptyTitle);
    }
    if len > MAX_TITLE_CHARS {
        return Err(TodoError::TitleTooLong {
            len,
            max: MAX_TITLE_CHARS,
        });
    }
    Ok(title.to_owned())
}
