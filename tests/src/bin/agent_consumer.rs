//! Child process: consumes the exactly-once topic `<topic>` of deposits with
//! the named cursor `<cursor>` (manual commits only) and executes each on the
//! ledger agent `<agent>`, with the message as causation and the cursor
//! committed past it **in the same batch** as the events. Prints
//! `start <offset>` (where the cursor resumed), then `applied <offset>` or
//! `duplicate <offset>` per message, and `done` once it executed the message
//! at `<count> - 1`. Meant to be killed.
//!
//! Usage: `agent_consumer <path> <topic> <cursor> <agent> <count>`

use std::io::Write;

use omg::{CommitPolicy, Delivery, StartAt, agent::Execute};
use omg_scenarios::{
    arg,
    ledger::{Deposit, Ledger},
    sqlite_agency,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (path, topic, cursor_name, agent) = (arg(1), arg(2), arg(3), arg(4));
    let count: u64 = arg(5).parse()?;
    let agency = sqlite_agency(&path)?;
    let ledger = agency.agent::<Ledger>(&agent)?;
    let topic = agency.topic::<Deposit>(&topic, Delivery::ExactlyOnce)?;
    let mut cursor = topic
        .named_cursor(&cursor_name, StartAt::Earliest)?
        .with_commit_policy(CommitPolicy::Manual);
    let cursor_name = cursor.name().cloned().ok_or("the cursor has no name")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "start {}", cursor.position())?;
    out.flush()?;
    while cursor.position() < count {
        let record = cursor.recv()?;
        let executed = ledger.execute(Execute::new(record.value).caused_by_message(
            topic.name(),
            record.offset,
            Some(&cursor_name),
        ))?;
        let what = if executed.duplicate {
            "duplicate"
        } else {
            "applied"
        };
        writeln!(out, "{what} {}", record.offset)?;
        out.flush()?;
    }
    writeln!(out, "done")?;
    out.flush()?;
    agency.shutdown();
    Ok(())
}
