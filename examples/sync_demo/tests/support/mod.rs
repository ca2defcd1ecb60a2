//! Running the real `sync_demo` binary against a temporary database.

#![allow(dead_code, reason = "each test file uses a part")]

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// A temporary database for one test.
#[derive(Debug)]
pub(crate) struct Demo {
    _dir: tempfile::TempDir,
    /// Its path.
    pub(crate) db: PathBuf,
}

impl Demo {
    /// A fresh temporary directory with no database yet.
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("todo.db");
        Self { _dir: dir, db }
    }

    /// `sync_demo --db <db>`, not yet run.
    pub(crate) fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sync_demo"));
        command.env_remove("OMG_TODO_DB").arg("--db").arg(&self.db);
        command
    }

    /// Runs it with `args`.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run sync_demo")
    }

    /// Runs it with `args`, asserting success; returns stdout.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "sync_demo {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8 output")
    }
}

/// Runs `sync_demo` with the given database path and arguments.
pub(crate) fn run_at(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sync_demo"))
        .env_remove("OMG_TODO_DB")
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run sync_demo")
}

/// The one-line error a failed run printed.
pub(crate) fn error_line(output: &Output) -> String {
    assert!(!output.status.success(), "expected a failure, got success");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        stderr.lines().count(),
        1,
        "expected one line of error, got {stderr:?}"
    );
    stderr.trim_end().to_owned()
}
