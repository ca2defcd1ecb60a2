//! Child process: publishes `<count>` messages `<tag>-<i>` blocking to the
//! exactly-once topic `<topic>` of the SQLite file `<path>`.
//!
//! Usage: `scenario_writer <path> <topic> <tag> <count>`

use omg::Delivery;
use omg_scenarios::{arg, sqlite_agency};

fn main() -> omg::Result<()> {
    let (path, topic, tag) = (arg(1), arg(2), arg(3));
    let count: u64 = arg(4).parse().map_err(|_| omg::Error::Unsupported {
        what: "a count that is not a number",
        why: "usage: scenario_writer <path> <topic> <tag> <count>",
    })?;
    let agency = sqlite_agency(&path)?;
    let publisher = agency
        .topic::<String>(&topic, Delivery::ExactlyOnce)?
        .publisher();
    for i in 0..count {
        publisher.publish(format!("{tag}-{i}"))?;
    }
    agency.shutdown();
    Ok(())
}
