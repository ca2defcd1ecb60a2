//! Child process: `<threads>` threads, each with its own handle on the
//! ledger agent `<agent>` of the SQLite file `<path>`, each executing
//! `<per_thread>` deposits as fast as it can. Prints `ready`, waits for a
//! line on stdin (so that every process starts hammering at once), then
//! prints `ok <id> <amount>` for each accepted command and
//! `conflict <id> <amount>` for each that exhausted its retries.
//!
//! Ids are `<child> * 1_000_000 + thread * 10_000 + i`; the amount is `id + 1`.
//!
//! Usage: `agent_hammer <path> <agent> <child> <threads> <per_thread>`

use std::io::{BufRead, Write};

use omg::agent::AgentError;
use omg_scenarios::{
    arg,
    ledger::{Deposit, Ledger},
    sqlite_agency,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (path, agent) = (arg(1), arg(2));
    let child: u64 = arg(3).parse()?;
    let threads: u64 = arg(4).parse()?;
    let per_thread: u64 = arg(5).parse()?;
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
    std::io::stdin().lock().lines().next();

    std::thread::scope(|s| {
        let workers: Vec<_> = handles
            .into_iter()
            .enumerate()
            .map(|(thread, ledger)| {
                s.spawn(
                    move || -> Result<(), AgentError<std::convert::Infallible>> {
                        for i in 0..per_thread {
                            let id = child * 1_000_000 + thread as u64 * 10_000 + i;
                            let amount = id as i64 + 1;
                            let outcome = match ledger.execute(Deposit { id, amount }) {
                                Ok(_) => "ok",
                                Err(AgentError::Conflict { .. }) => "conflict",
                                Err(e) => return Err(e),
                            };
                            println!("{outcome} {id} {amount}");
                        }
                        Ok(())
                    },
                )
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("a hammer thread panicked"))
    })?;
    std::io::stdout().flush()?;
    agency.shutdown();
    Ok(())
}
