//! Shutting a host down stops subscriptions (committing what was handled),
//! lets actors finish what is in their mailboxes (their publishes
//! complete), then shuts the agency down, flushing pending writes.

use std::time::{Duration, Instant};

use omg::{Agency, Delivery, StartAt};
use omg_tokio::{Host, HostOptions, SubscriptionEnd};

mod common;

use common::Doubler;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn outputs(topic: &omg::Topic<u64>) -> omg::Result<Vec<u64>> {
    let mut cursor = topic.cursor(StartAt::Earliest)?;
    let mut values = Vec::new();
    while let Ok(record) = cursor.try_recv() {
        values.push(record.value);
    }
    Ok(values)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_then_resume_then_shutdown_loses_and_repeats_nothing() -> TestResult {
    let agency = Agency::in_memory();
    let input = agency.topic::<u64>("in", Delivery::exactly_once())?;
    let output = agency.topic::<u64>("out", Delivery::exactly_once())?;
    for i in 0..300 {
        input.publisher().publish_async(i).await?;
    }

    // First host: stopped in the middle of the stream.
    let host = Host::with_options(&agency, HostOptions::default().mailbox(8))?;
    let doubler = host
        .supervise::<Doubler>((output.publisher(), Duration::from_millis(1)))
        .await;
    let feed = host.subscribe(&doubler, input.named_cursor("doubler", StartAt::Earliest)?)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while feed.stats().processed < 20 {
        assert!(Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    host.stop().await;
    assert!(!doubler.is_alive(), "the actor stopped");
    assert_eq!(feed.join().await?, SubscriptionEnd::Stopped);

    // Everything sent to the actor was handled and its output is stored;
    // the cursor is committed exactly there.
    let stats = feed_stats_after_stop(&input)?;
    let done = outputs(&output)?;
    assert!(
        done.len() >= 20 && done.len() < 300,
        "stopped midway: {}",
        done.len()
    );
    assert_eq!(
        done,
        (0..done.len() as u64).map(|i| i * 2).collect::<Vec<_>>()
    );
    assert_eq!(stats, done.len() as u64, "committed = handled");

    // Second host: resumes from the commit, then shuts everything down.
    let host = Host::new(&agency)?;
    let doubler = host
        .supervise::<Doubler>((output.publisher(), Duration::from_millis(1)))
        .await;
    let feed = host.subscribe(&doubler, input.named_cursor("doubler", StartAt::Earliest)?)?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while feed.stats().committed != Some(300) {
        assert!(Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(
        outputs(&output)?,
        (0..300).map(|i| i * 2).collect::<Vec<_>>()
    );

    // A write handed over without waiting is flushed by the shutdown.
    let mut receipt = output
        .publisher()
        .try_publish(600)
        .map_err(|e| e.to_string())?;
    host.shutdown().await;
    assert!(agency.is_shut_down());
    assert!(!doubler.is_alive());
    assert_eq!(receipt.try_result().transpose()?, Some(300));
    match output.publisher().publish_async(1).await {
        Err(omg::Error::ShutDown) => {}
        other => panic!("expected ShutDown, got {other:?}"),
    }
    Ok(())
}

/// The named cursor's committed position, read through a fresh cursor.
fn feed_stats_after_stop(input: &omg::Topic<u64>) -> omg::Result<u64> {
    Ok(input.named_cursor("doubler", StartAt::Earliest)?.position())
}
