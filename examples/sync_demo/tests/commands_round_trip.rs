//! Every command, end to end, through the real binary and one SQLite file.

mod support;

use support::{Demo, error_line};

#[test]
fn every_command_changes_the_shared_list() {
    let demo = Demo::new();
    assert_eq!(demo.ok(&["list"]), "(no todos)\n");
    assert_eq!(demo.ok(&["add", "Buy milk"]), "added #1 Buy milk\n");
    assert_eq!(demo.ok(&["add", "Walk dog"]), "added #2 Walk dog\n");
    assert_eq!(demo.ok(&["add", "Call mum"]), "added #3 Call mum\n");
    // Commands that change an existing todo print nothing on success.
    assert_eq!(demo.ok(&["done", "1"]), "");
    assert_eq!(demo.ok(&["done", "3"]), "");
    assert_eq!(demo.ok(&["undo", "3"]), "");
    assert_eq!(demo.ok(&["rename", "2", "Walk the dog"]), "");
    assert_eq!(
        demo.ok(&["list"]),
        "   1 [x] Buy milk\n   2 [ ] Walk the dog\n   3 [ ] Call mum\n"
    );
    assert_eq!(demo.ok(&["clear-done"]), "");
    assert_eq!(
        demo.ok(&["list"]),
        "   2 [ ] Walk the dog\n   3 [ ] Call mum\n"
    );
    assert_eq!(demo.ok(&["rm", "3"]), "");
    assert_eq!(demo.ok(&["list"]), "   2 [ ] Walk the dog\n");

    let history = demo.ok(&["history"]);
    let events: Vec<&str> = history
        .lines()
        .map(|l| l.split_once(' ').expect("timestamp").1.trim())
        .collect();
    assert_eq!(
        events,
        [
            "#0     added #1 \"Buy milk\"",
            "#1     added #2 \"Walk dog\"",
            "#2     added #3 \"Call mum\"",
            "#3     completed #1",
            "#4     completed #3",
            "#5     reopened #3",
            "#6     renamed #2 to \"Walk the dog\"",
            "#7     removed #1",
            "#8     removed #3",
        ]
    );
    assert!(
        history
            .lines()
            .all(|l| l.starts_with("20") && l.contains('T')),
        "{history}"
    );
}

#[test]
fn refused_commands_print_one_line_and_change_nothing() {
    let demo = Demo::new();
    demo.ok(&["add", "a"]);
    assert_eq!(
        error_line(&demo.run(&["done", "7"])),
        "sync_demo: there is no todo #7"
    );
    assert_eq!(
        error_line(&demo.run(&["undo", "1"])),
        "sync_demo: todo #1 is not done"
    );
    assert_eq!(
        error_line(&demo.run(&["add", "   "])),
        "sync_demo: a title cannot be empty"
    );
    let long = "x".repeat(201);
    assert_eq!(
        error_line(&demo.run(&["add", &long])),
        "sync_demo: a title is at most 200 characters (this one has 201)"
    );
    assert_eq!(demo.ok(&["list"]), "   1 [ ] a\n");
    assert_eq!(demo.ok(&["history"]).lines().count(), 1);
}
