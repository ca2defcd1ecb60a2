//! A topic feeds an actor through its bounded mailbox: a slow actor slows
//! the cursor, nothing is dropped, and a named cursor commits only what the
//! handler finished.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use kameo::{
    Actor,
    actor::{ActorRef, Spawn},
    error::Infallible,
    mailbox,
    message::{Context, Message},
};
use omg::{Agency, Delivery, StartAt};
use omg_tokio::{SubscribeOptions, SubscriptionEnd, TopicMessage, subscribe_with};
use tokio::sync::Semaphore;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Records offsets; each message waits for a permit (the test's throttle).
struct Slow {
    seen: Vec<u64>,
    gate: Arc<Semaphore>,
}

impl Actor for Slow {
    type Args = Arc<Semaphore>;
    type Error = Infallible;

    async fn on_start(gate: Arc<Semaphore>, _: ActorRef<Self>) -> Result<Self, Infallible> {
        Ok(Self {
            seen: Vec::new(),
            gate,
        })
    }
}

impl Message<TopicMessage<u64>> for Slow {
    type Reply = ();

    async fn handle(&mut self, m: TopicMessage<u64>, _: &mut Context<Self, ()>) {
        assert_eq!(m.missed, 0);
        assert_eq!(*m.value(), m.offset() * 10);
        self.gate
            .acquire()
            .await
            .expect("the gate stays open")
            .forget();
        self.seen.push(m.offset());
    }
}

struct Seen;

impl Message<Seen> for Slow {
    type Reply = Vec<u64>;

    async fn handle(&mut self, _: Seen, _: &mut Context<Self, Vec<u64>>) -> Vec<u64> {
        self.seen.clone()
    }
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn committed(topic: &omg::Topic<u64>, name: &str) -> omg::Result<u64> {
    Ok(topic.named_cursor(name, StartAt::Earliest)?.position())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_actor_slows_the_cursor_and_commits_follow_the_handler() -> TestResult {
    let agency = Agency::in_memory();
    let topic = agency.topic::<u64>("work", Delivery::exactly_once())?;
    for i in 0..200 {
        topic.publisher().publish_async(i * 10).await?;
    }
    let gate = Arc::new(Semaphore::new(0));
    let actor = Slow::spawn_with_mailbox(gate.clone(), mailbox::bounded(4));
    let options = SubscribeOptions::default().in_flight(8).commit_every(16);
    let feed = subscribe_with(
        &actor,
        topic.named_cursor("slow", StartAt::Earliest)?,
        options,
    )?;

    // The handler is stuck on the first message: the mailbox (4) fills and
    // the forwarder waits for room; nothing is committed.
    eventually("the mailbox to fill", || feed.stats().delivered == 5).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        feed.stats().delivered,
        5,
        "the full mailbox holds the cursor"
    );
    assert_eq!(feed.stats().processed, 0);
    assert_eq!(
        committed(&topic, "slow")?,
        0,
        "nothing committed before handling"
    );

    // Let 20 through: the commit follows, at a position the handler reached.
    gate.add_permits(20);
    eventually("20 processed", || feed.stats().processed == 20).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let position = committed(&topic, "slow")?;
    assert!(position <= 20, "committed {position} past the handled 20");
    assert!(position >= 16, "commit_every 16 committed only {position}");
    assert!(feed.stats().delivered <= 20 + 8);

    // Let everything through: all 200, in order, committed at the end.
    gate.add_permits(10_000);
    eventually("all processed", || feed.stats().processed == 200).await;
    let seen = actor.ask(Seen).await?;
    assert_eq!(seen, (0..200).collect::<Vec<_>>());
    eventually("the final commit", || feed.stats().committed == Some(200)).await;
    assert_eq!(committed(&topic, "slow")?, 200);
    assert_eq!(feed.stop().await?, SubscriptionEnd::Stopped);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_commits_what_was_handled_and_a_new_subscription_resumes_there() -> TestResult {
    let agency = Agency::in_memory();
    let topic = agency.topic::<u64>("jobs", Delivery::at_least_once())?;
    for i in 0..50 {
        topic.publisher().publish_async(i * 10).await?;
    }
    let gate = Arc::new(Semaphore::new(30));
    let first = Slow::spawn_with_mailbox(gate.clone(), mailbox::bounded(4));
    let feed = subscribe_with(
        &first,
        topic.named_cursor("jobs-reader", StartAt::Earliest)?,
        SubscribeOptions::default().in_flight(4),
    )?;
    eventually("30 processed", || feed.stats().processed == 30).await;
    // 30 handled; up to 4 more are in flight, stuck on the gate. Stop waits
    // for them, so release a few more while it settles.
    let stopping = tokio::spawn(feed.stop());
    tokio::time::sleep(Duration::from_millis(20)).await;
    gate.add_permits(4);
    assert_eq!(stopping.await??, SubscriptionEnd::Stopped);
    let handled = first.ask(Seen).await?;
    let position = committed(&topic, "jobs-reader")?;
    assert_eq!(position, handled.len() as u64);
    assert_eq!(handled, (0..position).collect::<Vec<_>>());

    // A new actor on the same named cursor starts right after.
    let second = Slow::spawn_with_mailbox(Arc::new(Semaphore::new(1000)), mailbox::bounded(4));
    let feed = subscribe_with(
        &second,
        topic.named_cursor("jobs-reader", StartAt::Earliest)?,
        SubscribeOptions::default(),
    )?;
    eventually("the rest", || feed.stats().processed == 50 - position).await;
    assert_eq!(second.ask(Seen).await?, (position..50).collect::<Vec<_>>());
    feed.stop().await?;
    assert_eq!(committed(&topic, "jobs-reader")?, 50);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_actor_ends_the_subscription_without_losing_its_messages() -> TestResult {
    let agency = Agency::in_memory();
    let topic = agency.topic::<u64>("orphans", Delivery::exactly_once())?;
    for i in 0..10 {
        topic.publisher().publish_async(i * 10).await?;
    }
    let gate = Arc::new(Semaphore::new(3));
    let actor = Slow::spawn_with_mailbox(gate.clone(), mailbox::bounded(2));
    let feed = subscribe_with(
        &actor,
        topic.named_cursor("orphan", StartAt::Earliest)?,
        SubscribeOptions::default().in_flight(2),
    )?;
    eventually("3 processed", || feed.stats().processed == 3).await;
    actor.kill();
    actor.wait_for_shutdown().await;
    assert_eq!(feed.join().await?, SubscriptionEnd::ActorStopped);
    assert_eq!(
        committed(&topic, "orphan")?,
        3,
        "only handled messages committed"
    );
    Ok(())
}
