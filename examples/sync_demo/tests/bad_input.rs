//! Bad arguments and bad database paths: a one-line error, a non-zero exit,
//! and the file left exactly as it was.

mod support;

use std::os::unix::fs::PermissionsExt;

use support::{Demo, error_line, run_at};

#[test]
fn bad_arguments_are_refused_by_the_parser() {
    let demo = Demo::new();
    let output = demo.run(&["done", "not-a-number"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid value 'not-a-number'"));
    let output = demo.run(&["frobnicate"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        !demo.db.exists(),
        "a refused command line creates no database"
    );
}

#[test]
fn help_explains_the_database_location() {
    let demo = Demo::new();
    let help = demo.ok(&["--help"]);
    assert!(help.contains("--db <PATH>"), "{help}");
    assert!(help.contains("OMG_TODO_DB"), "{help}");
    assert!(help.contains(".local/share/omg/todo.db"), "{help}");
}

#[test]
fn a_missing_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("missing").join("todo.db");
    let line = error_line(&run_at(&db, &["list"]));
    assert!(line.starts_with("sync_demo: cannot open "), "{line}");
    assert!(line.contains("No such file or directory"), "{line}");
    assert!(!db.exists());
}

/// Runs `sync_demo` so that file modes apply: as `nobody` when the tests
/// run as root (root ignores modes), as the current user otherwise.
fn run_unprivileged(db: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut command = if is_root() {
        let mut c = std::process::Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_sync_demo"),
        ]);
        c
    } else {
        std::process::Command::new(env!("CARGO_BIN_EXE_sync_demo"))
    };
    command
        .env_remove("OMG_TODO_DB")
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run sync_demo")
}

/// A temporary directory others may enter (so `nobody` can reach it).
fn open_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

#[test]
fn a_read_only_directory_is_a_clear_error() {
    let dir = open_tempdir();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).expect("mkdir");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let db = ro.join("todo.db");
    let line = error_line(&run_unprivileged(&db, &["add", "x"]));
    assert!(line.starts_with("sync_demo: cannot open "), "{line}");
    assert!(
        line.contains("ermission denied") || line.contains("read-only"),
        "{line}"
    );
    assert!(!db.exists());
}

#[test]
fn a_read_only_database_file_is_a_clear_error_and_stays_unchanged() {
    let dir = open_tempdir();
    let db = dir.path().join("todo.db");
    assert!(run_at(&db, &["add", "kept"]).status.success());
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).expect("chmod");
    let before = std::fs::read(&db).expect("read");
    let line = error_line(&run_unprivileged(&db, &["add", "refused"]));
    assert!(line.starts_with("sync_demo: cannot open "), "{line}");
    assert_eq!(std::fs::read(&db).expect("read"), before);
    let list = run_at(&db, &["list"]);
    assert_eq!(String::from_utf8_lossy(&list.stdout), "   1 [ ] kept\n");
}

#[test]
fn a_corrupt_database_is_refused_and_left_untouched() {
    let demo = Demo::new();
    let garbage = b"this is not a database, just bytes that must survive".repeat(100);
    std::fs::write(&demo.db, &garbage).expect("write");
    let line = error_line(&demo.run(&["add", "x"]));
    assert!(line.starts_with("sync_demo: cannot open "), "{line}");
    assert_eq!(std::fs::read(&demo.db).expect("read"), garbage);
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}
