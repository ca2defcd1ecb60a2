//! An idle host parks its threads: over an idle second the whole process
//! uses almost no CPU, although its handlers wait on topics of every class
//! and one of them ticks every 100 ms.

use std::{
    fs,
    time::{Duration, Instant},
};

use omg::{Agency, Delivery, StartAt};
use omg_std::{Handler, Host};

/// CPU time used by the process so far: the sum of its threads' run times
/// from /proc/self/task/*/schedstat (nanoseconds), or utime + stime from
/// /proc/self/stat (clock ticks of 10 ms) where schedstat is missing.
fn cpu_time() -> Duration {
    let mut total = 0_u64;
    let mut found = false;
    if let Ok(tasks) = fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let Ok(text) = fs::read_to_string(task.path().join("schedstat")) else {
                continue;
            };
            if let Some(ns) = text
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
            {
                total += ns;
                found = true;
            }
        }
    }
    if found {
        return Duration::from_nanos(total);
    }
    let stat = fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which may contain spaces): state is
    // field 3, utime field 14, stime field 15.
    let rest = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|f| f.parse().expect("a number"))
        .collect();
    Duration::from_millis((fields[0] + fields[1]) * 10)
}

#[test]
fn an_idle_host_uses_almost_no_cpu() -> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let once = agency.topic::<u64>("once", Delivery::exactly_once())?;
    let least = agency.topic::<String>("least", Delivery::at_least_once())?;
    let most = agency.topic::<u32>("most", Delivery::at_most_once())?;
    let host = Host::new(&agency);
    let mut handlers = Vec::new();
    for name in ["h1", "h2", "h3"] {
        let mut handler = Handler::new(name, || ())
            .subscribe(once.named_cursor(name, StartAt::Earliest)?, |(), _| Ok(()))
            .subscribe(least.named_cursor(name, StartAt::Earliest)?, |(), _| Ok(()))
            .subscribe(most.cursor(StartAt::Earliest)?, |(), _| Ok(()));
        if name == "h1" {
            handler = handler.tick(Duration::from_millis(100), |()| Ok(()));
        }
        handlers.push(host.spawn_handler(handler)?);
    }
    // Some traffic first, so the cursors have been through their paths.
    once.publisher().publish(1)?;
    least.publisher().publish("x".into())?;
    most.publisher().publish(2)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while handlers.iter().any(|h| h.stats().handled < 3) {
        assert!(
            Instant::now() < deadline,
            "handlers did not handle the warm-up"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(100));

    let before = cpu_time();
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_time() - before;
    eprintln!("idle host: {used:?} of CPU over one second");

    assert!(
        used < Duration::from_millis(50),
        "an idle host used {used:?} of CPU in one second"
    );
    assert!(handlers[0].stats().ticks >= 1, "the tick ran while idle");
    host.shutdown()?;
    agency.shutdown();
    Ok(())
}
