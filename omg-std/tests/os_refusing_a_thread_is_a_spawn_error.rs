//! When the operating system refuses a handler's thread,
//! `Host::spawn_handler` returns `HostError::Spawn` naming the handler and
//! carrying the OS error, and the host stays usable.
//!
//! The refusal is provoked in a child process: the test re-runs itself with
//! `RUST_MIN_STACK` set to 1 EiB, more address space than any Linux process
//! has, so every thread std starts there fails with `EAGAIN`. (libtest then
//! runs the test on its main thread instead.) Linux only: the way the OS
//! refuses such a stack is platform specific.
#![cfg(target_os = "linux")]

use std::{io::ErrorKind, process::Command};

use omg::Agency;
use omg_std::{Handler, Host, HostError};

/// Set in the child process, where the refusal is checked.
const CHILD: &str = "OMG_STD_TEST_SPAWN_REFUSED_CHILD";
/// A default thread stack no process can map: 1 EiB.
const HUGE_STACK: u64 = 1 << 60;
/// Printed by the child once every check passed.
const CHECKED: &str = "spawn refusal checked";
const NAME: &str = "a_thread_the_os_refuses_is_a_spawn_error";

#[test]
fn a_thread_the_os_refuses_is_a_spawn_error() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os(CHILD).is_some() {
        return refused_in_this_process();
    }
    let output = Command::new(std::env::current_exe()?)
        .args([NAME, "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD, "1")
        .env("RUST_MIN_STACK", HUGE_STACK.to_string())
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the child failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains(CHECKED) && stdout.contains("test result: ok. 1 passed"),
        "the child did not run the checks:\n{stdout}\n{stderr}"
    );
    Ok(())
}

fn refused_in_this_process() -> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let host = Host::new(&agency);
    let error = match host.spawn_handler(Handler::new("refused", || ())) {
        Err(error) => error,
        Ok(handle) => panic!("the OS started the thread of {}", handle.name()),
    };
    let HostError::Spawn { handler, source } = &error else {
        panic!("expected HostError::Spawn, got {error:?}");
    };
    assert_eq!(handler, "refused");
    assert_eq!(source.kind(), ErrorKind::WouldBlock, "{source}");
    assert_eq!(
        error.to_string(),
        format!("cannot start the thread of handler refused: {source}")
    );
    // Nothing was registered, and the host shuts down cleanly.
    assert!(host.handlers().is_empty());
    host.shutdown()?;
    println!("{CHECKED}");
    Ok(())
}
