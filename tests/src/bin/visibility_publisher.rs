//! Child process of the `cross_process` benchmark: every `<interval_ms>`,
//! writes one row carrying the wall-clock time (µs) just before the write,
//! `<count>` times, to the SQLite file `<path>` — through omg (blocking
//! publish to the exactly-once topic `visible`) or raw rusqlite (one
//! transaction per row, `synchronous=FULL`, into table `visible`).
//!
//! Usage: `visibility_publisher <omg|raw> <path> <count> <interval_ms>`

use std::time::Duration;

use omg::Delivery;
use omg_scenarios::{arg, now_micros, sqlite_agency};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mode, path) = (arg(1), arg(2));
    let count: u64 = arg(3).parse()?;
    let interval = Duration::from_millis(arg(4).parse()?);
    match mode.as_str() {
        "omg" => {
            let agency = sqlite_agency(&path)?;
            let publisher = agency
                .topic::<i64>("visible", Delivery::ExactlyOnce)?
                .publisher();
            for _ in 0..count {
                publisher.publish(now_micros())?;
                std::thread::sleep(interval);
            }
            agency.shutdown();
        }
        _ => {
            let conn = rusqlite::Connection::open(&path)?;
            conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")?;
            conn.busy_timeout(Duration::from_secs(5))?;
            for _ in 0..count {
                conn.execute("INSERT INTO visible (sent) VALUES (?1)", [now_micros()])?;
                std::thread::sleep(interval);
            }
        }
    }
    Ok(())
}
