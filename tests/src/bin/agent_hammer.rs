//! Child process: `<threads>` threads, each with its own handle on the
//! ledger agent `<agent>` of the SQLite file `<path>`, each executing
//! `<per_thread>` deposits as fast as it can, in two phases. Prints `ready`,
//! waits for a line on stdin (so that every process starts hammering at
//! once), runs the first `<pause_after>` deposits of every thread, prints
//! `paused`, waits for another line on stdin (so that no process starts the
//! second phase before every process finished the first), then runs the
//! rest. Prints `ok <id> <amount>` for each accepted command and
//! `conflict <id> <amount>` for each that exhausted its retries.
//!
//! Ids are `<child> * 1_000_000 + thread * 10_000 + i`; the amount is `id + 1`.
//!
//! Usage: `agent_hammer <path> <agent> <child> <threads> <per_thread> <pause_after>`

use std::{
    io::{BufRead, Write},
    ops::Range,
    sync::Barrier,
};

use omg::agent::{Agent, AgentError};
use omg_scenarios::{
    arg,
    ledger::{Deposit, Ledger},
    sqlite_agency,
};

type Outcome = Result<(), AgentError<std::convert::Infallible>>;

/// Executes the deposits `range` of `thread`, printing each outcome.
fn hammer(ledger: &Agent<Ledger>, child: u64, thread: u64, range: Range<u64>) -> Outcome {
    for i in range {
        let id = child * 1_000_000 + thread * 10_000 + i;
        let amount = id as i64 + 1;
        let outcome = match ledger.execute(Deposit { id, amount }) {
            Ok(_) => "ok",
            Err(AgentError::Conflict { .. }) => "conflict",
            Err(e) => return Err(e),
        };
        println!("{outcome} {id} {amount}");
    }
    Ok(())
}

/// Waits for the next line on stdin.
fn wait_for_line() {
    std::io::stdin().lock().lines().next();
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (path, agent) = (arg(1), arg(2));
    let child: u64 = arg(3).parse()?;
    let threads: u64 = arg(4).parse()?;
    let per_thread: u64 = arg(5).parse()?;
    let pause_after: u64 = arg(6).parse()?;
    let agency = sqlite_agency(&path)?;
    let handles = (0..threads)
        .map(|_| agency.agent::<Ledger>(&agent))
        .collect::<omg::Result<Vec<_>>>()?;
    // Load the state before the start signal.
    for handle in &handles {
        handle.version()?;
    }
    println!("ready");
    std::io::stdout().flush()?;
    wait_for_line();

    // Every worker and this thread meet between the phases, even a worker
    // whose first phase failed (so that nobody waits forever).
    let (paused, resumed) = (
        Barrier::new(threads as usize + 1),
        Barrier::new(threads as usize + 1),
    );
    std::thread::scope(|s| {
        let workers: Vec<_> = handles
            .into_iter()
            .zip(0..)
            .map(|(ledger, thread)| {
                let (paused, resumed) = (&paused, &resumed);
                s.spawn(move || -> Outcome {
                    let first = hammer(&ledger, child, thread, 0..pause_after);
                    paused.wait();
                    resumed.wait();
                    first?;
                    hammer(&ledger, child, thread, pause_after..per_thread)
                })
            })
            .collect();
        paused.wait();
        println!("paused");
        let flushed = std::io::stdout().flush();
        wait_for_line();
        resumed.wait();
        flushed?;
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("a hammer thread panicked"))
            .map_err(Box::<dyn std::error::Error>::from)
    })?;
    std::io::stdout().flush()?;
    agency.shutdown();
    Ok(())
}
