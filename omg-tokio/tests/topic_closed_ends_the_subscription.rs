//! A subscription whose topic goes away ends without an error, as
//! `SubscriptionEnd::TopicClosed`: when the topic is deleted, and when the
//! agency shuts down under it. What the actor handled before was committed,
//! and the actor itself goes on.

use std::time::{Duration, Instant};

use kameo::{
    Actor,
    actor::{ActorRef, Spawn},
    error::Infallible,
    message::{Context, Message},
};
use omg::{Agency, Delivery, StartAt};
use omg_tokio::{Subscription, SubscriptionEnd, TopicMessage, subscribe};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Records the values it is fed.
struct Recorder {
    seen: Vec<u64>,
}

impl Actor for Recorder {
    type Args = ();
    type Error = Infallible;

    async fn on_start((): (), _: ActorRef<Self>) -> Result<Self, Infallible> {
        Ok(Self { seen: Vec::new() })
    }
}

impl Message<TopicMessage<u64>> for Recorder {
    type Reply = ();

    async fn handle(&mut self, m: TopicMessage<u64>, _: &mut Context<Self, ()>) {
        self.seen.push(m.into_value());
    }
}

struct Seen;

impl Message<Seen> for Recorder {
    type Reply = Vec<u64>;

    async fn handle(&mut self, _: Seen, _: &mut Context<Self, Vec<u64>>) -> Vec<u64> {
        self.seen.clone()
    }
}

/// Waits for `check`; the deadline only guards against a hang.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A topic `work` holding 10, 20, 30, and `Recorder` subscribed to it with
/// the named cursor `audit`, once it has handled and committed all three.
async fn fed_and_committed(
    agency: &Agency,
) -> Result<(ActorRef<Recorder>, Subscription), Box<dyn std::error::Error>> {
    let topic = agency.topic::<u64>("work", Delivery::exactly_once())?;
    for n in [10, 20, 30] {
        topic.publisher().publish_async(n).await?;
    }
    let actor = Recorder::spawn(());
    let feed = subscribe(&actor, topic.named_cursor("audit", StartAt::Earliest)?)?;
    eventually("the three messages committed", || {
        feed.stats().committed == Some(3)
    })
    .await;
    Ok((actor, feed))
}

/// Waits until `feed` ended, checks its figures (three messages delivered,
/// handled and committed, nothing else), and returns how it ended.
async fn ended(feed: Subscription) -> Result<SubscriptionEnd, Box<dyn std::error::Error>> {
    eventually("the subscription to end", || feed.is_finished()).await;
    let stats = feed.stats();
    assert_eq!(stats.delivered, 3);
    assert_eq!(stats.processed, 3);
    assert_eq!(stats.redelivered, 0);
    assert_eq!(stats.missed, 0);
    assert_eq!(stats.failures, 0);
    assert_eq!(stats.committed, Some(3));
    Ok(feed.join().await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_topic_ends_the_subscription_as_topic_closed() -> TestResult {
    let agency = Agency::in_memory();
    let (actor, feed) = fed_and_committed(&agency).await?;

    assert!(agency.delete_topic("work")?);
    assert_eq!(ended(feed).await?, SubscriptionEnd::TopicClosed);
    assert!(actor.is_alive(), "a closed topic does not stop the actor");
    assert_eq!(actor.ask(Seen).await?, [10, 20, 30]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_the_agency_down_ends_the_subscription_as_topic_closed() -> TestResult {
    let agency = Agency::in_memory();
    let (actor, feed) = fed_and_committed(&agency).await?;

    agency.shutdown();
    assert_eq!(ended(feed).await?, SubscriptionEnd::TopicClosed);
    assert!(actor.is_alive(), "a closed agency does not stop the actor");
    assert_eq!(actor.ask(Seen).await?, [10, 20, 30]);
    Ok(())
}
