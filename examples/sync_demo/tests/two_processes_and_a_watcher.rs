//! Two `add` processes started at the same moment both succeed, and `watch`
//! in a third process prints both changes.

mod support;

use std::{
    io::{BufRead, BufReader},
    process::Stdio,
    sync::mpsc,
    time::{Duration, Instant},
};

use support::Demo;

#[test]
fn concurrent_adds_both_land_and_a_watcher_sees_them() {
    let demo = Demo::new();
    demo.ok(&["list"]); // create the database first
    let mut watcher = demo
        .command()
        .arg("watch")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn watch");
    let stdout = watcher.stdout.take().expect("stdout");
    let (lines, seen) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send((Instant::now(), line)).is_err() {
                return;
            }
        }
    });
    let (_, ready) = seen
        .recv_timeout(Duration::from_secs(60))
        .expect("watch started");
    assert_eq!(ready, "watching; Ctrl-C to stop");

    let first = demo
        .command()
        .args(["add", "Buy milk"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn add");
    let second = demo
        .command()
        .args(["add", "Walk dog"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn add");
    let first = first.wait_with_output().expect("add 1");
    let second = second.wait_with_output().expect("add 2");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let both_done = Instant::now();

    let mut printed = Vec::new();
    let mut latest = both_done;
    while printed.len() < 2 {
        let (at, line) = seen
            .recv_timeout(Duration::from_secs(60))
            .expect("watch printed both changes");
        latest = latest.max(at);
        printed.push(line);
    }
    watcher.kill().expect("stop watch");
    let _ = watcher.wait();

    // Both adds got distinct ids; which one came first is up to the race.
    printed.sort_unstable_by_key(|line| line.contains("Walk dog"));
    let ids: Vec<&str> = printed.iter().map(|l| &l[6..8]).collect();
    assert!(
        printed[0].starts_with("added #") && printed[0].ends_with(" \"Buy milk\""),
        "{printed:?}"
    );
    assert!(
        printed[1].starts_with("added #") && printed[1].ends_with(" \"Walk dog\""),
        "{printed:?}"
    );
    assert_ne!(ids[0], ids[1]);
    let mut all_ids = ids.clone();
    all_ids.sort_unstable();
    assert_eq!(all_ids, ["#1", "#2"]);
    // The requirement is "within a second"; the bound here is looser so a
    // loaded CI machine does not fail it, and the figure is printed.
    let latency = latest.duration_since(both_done);
    println!("watch printed both changes {latency:?} after both adds returned");
    assert!(latency < Duration::from_secs(5), "watch lagged {latency:?}");
    assert_eq!(
        demo.ok(&["list"]).lines().count(),
        2,
        "both todos are in the shared list"
    );
}
