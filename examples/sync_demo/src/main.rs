//! `sync_demo`: a todo list in a SQLite file, on omg's blocking API.
//!
//! Every command is one process: it opens the file, executes one command on
//! the `todo-list` agent (rebuilt from its events), prints, and exits.
//! Several processes may share the file; `watch` prints what the others do.

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use clap::{Parser, Subcommand};
use omg::{Agency, RecvError, StartAt, TryRecvError, agent::AgentError};
use omg_sqlite::SqliteStorage;
use todo::{Command, TodoList};

/// The environment variable that overrides the default database path.
const DB_ENV: &str = "OMG_TODO_DB";

#[derive(Parser)]
#[command(
    name = "sync_demo",
    version,
    about = "A todo list kept as events in one SQLite file, shared live by every process that opens it.",
    after_help = "The database is, in order of precedence: --db PATH, the OMG_TODO_DB environment \
                  variable, or $XDG_DATA_HOME/omg/todo.db (~/.local/share/omg/todo.db)."
)]
struct Cli {
    /// The database file (created if missing; its directory must exist).
    #[arg(long, env = DB_ENV, value_name = "PATH")]
    db: Option<PathBuf>,
    #[command(subcommand)]
    command: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Add a todo.
    Add {
        /// Its title.
        title: String,
    },
    /// List the todos: id, done state, title.
    List,
    /// Mark a todo done.
    Done {
        /// Its id.
        id: u64,
    },
    /// Mark a done todo not done.
    Undo {
        /// Its id.
        id: u64,
    },
    /// Rename a todo.
    Rename {
        /// Its id.
        id: u64,
        /// The new title.
        title: String,
    },
    /// Remove a todo.
    Rm {
        /// Its id.
        id: u64,
    },
    /// Remove every done todo.
    ClearDone,
    /// Print the event log with timestamps.
    History,
    /// Block and print changes as they happen (from any process), until Ctrl-C.
    Watch,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("sync_demo: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let path = database_path(cli.db)?;
    let storage =
        SqliteStorage::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let agency = Agency::builder().storage(Arc::new(storage)).build();
    let list = agency
        .agent::<TodoList>(todo::AGENT)
        .map_err(|e| e.to_string())?;
    let execute = |command: Command| -> Result<(), String> {
        list.execute(command).map(drop).map_err(|e| match e {
            AgentError::Domain(refused) => refused.to_string(),
            other => other.to_string(),
        })
    };
    let outcome = match cli.command {
        Action::Add { title } => execute(Command::Add { title }).and_then(|()| print_last(&list)),
        Action::List => print_list(&list),
        Action::Done { id } => execute(Command::Complete { id }),
        Action::Undo { id } => execute(Command::Reopen { id }),
        Action::Rename { id, title } => execute(Command::Rename { id, title }),
        Action::Rm { id } => execute(Command::Remove { id }),
        Action::ClearDone => execute(Command::ClearCompleted),
        Action::History => history(&list),
        Action::Watch => watch(&list),
    };
    agency.shutdown();
    outcome
}

/// `--db`, then the environment (handled by clap), then the per-user default.
fn database_path(explicit: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return Ok(path);
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
        .ok_or_else(|| format!("no home directory: pass --db PATH or set {DB_ENV}"))?;
    let dir = data.join("omg");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir.join("todo.db"))
}

fn print_last(list: &omg::agent::Agent<TodoList>) -> Result<(), String> {
    let state = list.state().map_err(|e| e.to_string())?;
    if let Some(todo) = state.todos().last() {
        println!("added #{} {}", todo.id, todo.title);
    }
    Ok(())
}

fn print_list(list: &omg::agent::Agent<TodoList>) -> Result<(), String> {
    let state = list.state().map_err(|e| e.to_string())?;
    if state.is_empty() {
        println!("(no todos)");
    }
    for todo in state.todos() {
        let mark = if todo.done { "x" } else { " " };
        println!("{:>4} [{mark}] {}", todo.id, todo.title);
    }
    Ok(())
}

fn history(list: &omg::agent::Agent<TodoList>) -> Result<(), String> {
    let mut cursor = list
        .events()
        .cursor(StartAt::Earliest)
        .map_err(|e| e.to_string())?;
    loop {
        match cursor.try_recv() {
            Ok(record) => println!(
                "{} #{:<5} {}",
                humantime::format_rfc3339_micros(record.timestamp.to_system_time()),
                record.offset,
                record.value
            ),
            Err(TryRecvError::Empty) => return Ok(()),
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn watch(list: &omg::agent::Agent<TodoList>) -> Result<(), String> {
    let mut cursor = list
        .events()
        .cursor(StartAt::Latest)
        .map_err(|e| e.to_string())?;
    println!("watching; Ctrl-C to stop");
    loop {
        match cursor.recv() {
            Ok(record) => println!("{}", record.value),
            Err(RecvError::Lagged(n)) => println!("(missed {n} changes)"),
            Err(e) => return Err(e.to_string()),
        }
    }
}
