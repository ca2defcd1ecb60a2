//! Child process: publishes keyed messages `k<i>` (i from `<start>` on,
//! forever) blocking to the exactly-once topic `<topic>`, printing each key
//! once its publish returned Ok. Meant to be killed.
//!
//! Usage: `scenario_keyed_publisher <path> <topic> <start>`

use std::io::Write;

use omg::Delivery;
use omg_scenarios::{arg, sqlite_agency};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (path, topic) = (arg(1), arg(2));
    let start: u64 = arg(3).parse()?;
    let agency = sqlite_agency(&path)?;
    let publisher = agency
        .topic::<u64>(&topic, Delivery::ExactlyOnce)?
        .publisher();
    let mut out = std::io::stdout().lock();
    for i in start.. {
        publisher.publish_keyed(&format!("k{i}"), i)?;
        writeln!(out, "k{i}")?;
        out.flush()?;
    }
    Ok(())
}
