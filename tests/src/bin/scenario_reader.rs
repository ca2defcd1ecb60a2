//! Child process: reads `<count>` messages of the exactly-once topic
//! `<topic>` from the start, printing `<offset> <message>` per line.
//!
//! Usage: `scenario_reader <path> <topic> <count>`

use std::io::Write;

use omg::{Delivery, StartAt};
use omg_scenarios::{arg, sqlite_agency};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (path, topic) = (arg(1), arg(2));
    let count: u64 = arg(3).parse()?;
    let agency = sqlite_agency(&path)?;
    let mut cursor = agency
        .topic::<String>(&topic, Delivery::ExactlyOnce)?
        .cursor(StartAt::Earliest)?;
    println!("ready");
    std::io::stdout().flush()?;
    let mut out = std::io::stdout().lock();
    for _ in 0..count {
        let record = cursor.recv()?;
        writeln!(out, "{} {}", record.offset, record.value)?;
    }
    out.flush()?;
    agency.shutdown();
    Ok(())
}
