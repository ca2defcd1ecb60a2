//! A subscription ends with an error when its cursor fails (a stored
//! message that does not decode: `SubscriptionError::Cursor`, the named
//! cursor committed up to that message) or when its task does not run to
//! its end (the runtime it ran on shut down: `SubscriptionError::Task`).

use kameo::{
    Actor,
    actor::{ActorRef, Spawn},
    error::Infallible,
    message::{Context, Message},
};
use omg::{Agency, Delivery, StartAt};
use omg_tokio::{SubscribeOptions, SubscriptionError, TopicMessage, subscribe, subscribe_with};
use serde::{Deserialize, Serialize};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Stored as its number, but 13 is refused when read back: a published 13
/// is a message that does not decode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "u32")]
struct Reading(u32);

impl TryFrom<u32> for Reading {
    type Error = String;

    fn try_from(n: u32) -> Result<Self, String> {
        if n == 13 {
            Err("13 is not a reading".to_owned())
        } else {
            Ok(Self(n))
        }
    }
}

/// Records the readings it is fed.
struct Recorder {
    seen: Vec<u32>,
}

impl Actor for Recorder {
    type Args = ();
    type Error = Infallible;

    async fn on_start((): (), _: ActorRef<Self>) -> Result<Self, Infallible> {
        Ok(Self { seen: Vec::new() })
    }
}

impl Message<TopicMessage<Reading>> for Recorder {
    type Reply = ();

    async fn handle(&mut self, m: TopicMessage<Reading>, _: &mut Context<Self, ()>) {
        self.seen.push(m.into_value().0);
    }
}

struct Seen;

impl Message<Seen> for Recorder {
    type Reply = Vec<u32>;

    async fn handle(&mut self, _: Seen, _: &mut Context<Self, Vec<u32>>) -> Vec<u32> {
        self.seen.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_does_not_decode_ends_the_subscription_with_a_cursor_error() -> TestResult {
    let agency = Agency::in_memory();
    let topic = agency.topic::<Reading>("readings", Delivery::exactly_once())?;
    for n in [10, 11, 13, 14] {
        topic.publisher().publish_async(Reading(n)).await?;
    }
    let actor = Recorder::spawn(());
    // One message in flight: 10 and 11 are handled before the cursor reads
    // offset 2, so the commit does not depend on when their replies come.
    let feed = subscribe_with(
        &actor,
        topic.named_cursor("audit", StartAt::Earliest)?,
        SubscribeOptions::default().in_flight(1),
    )?;
    let error = match feed.join().await {
        Err(error @ SubscriptionError::Cursor(_)) => error,
        other => panic!("expected a cursor error, got {other:?}"),
    };
    assert_eq!(
        error.to_string(),
        format!(
            "cannot decode offset 2 of topic readings as {}: Serde Deserialization Error",
            std::any::type_name::<Reading>()
        )
    );
    match error {
        SubscriptionError::Cursor(omg::Error::Decode {
            topic,
            offset,
            type_name,
            reason,
        }) => {
            assert_eq!(topic.as_str(), "readings");
            assert_eq!(offset, 2);
            assert_eq!(type_name, std::any::type_name::<Reading>());
            assert_eq!(reason, "Serde Deserialization Error");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert_eq!(actor.ask(Seen).await?, [10, 11]);
    assert!(actor.is_alive(), "a cursor error does not stop the actor");
    // Committed up to the message that does not decode, not past it.
    assert_eq!(
        topic.named_cursor("audit", StartAt::Earliest)?.position(),
        2
    );
    Ok(())
}

/// With many messages in flight, the cursor can fail on offset 2 before the
/// replies for 0 and 1 arrived: on one thread the forwarder hands out all
/// three without yielding (they were read in one refill), so the actor has
/// not run yet. The replies that settle afterwards still count: the commit
/// goes up to the message that does not decode.
#[tokio::test(flavor = "current_thread")]
async fn replies_that_settle_after_the_cursor_failed_are_committed() -> TestResult {
    let agency = Agency::in_memory();
    let topic = agency.topic::<Reading>("readings", Delivery::exactly_once())?;
    for n in [10, 11, 13, 14] {
        topic.publisher().publish_async(Reading(n)).await?;
    }
    let actor = Recorder::spawn(());
    let feed = subscribe(&actor, topic.named_cursor("audit", StartAt::Earliest)?)?;
    match feed.join().await {
        Err(SubscriptionError::Cursor(omg::Error::Decode { offset: 2, .. })) => {}
        other => panic!("expected a decode error at offset 2, got {other:?}"),
    }
    assert_eq!(actor.ask(Seen).await?, [10, 11]);
    assert_eq!(
        topic.named_cursor("audit", StartAt::Earliest)?.position(),
        2,
        "10 and 11 were processed: committed"
    );
    Ok(())
}

#[test]
fn a_subscription_whose_runtime_shut_down_reports_its_task_cancelled() -> TestResult {
    let agency = Agency::in_memory();
    let topic = agency.topic::<Reading>("readings", Delivery::exactly_once())?;
    let first = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let feed = first.block_on(async {
        let actor = Recorder::spawn(());
        subscribe(&actor, topic.cursor(StartAt::Earliest)?)
    })?;
    // Shutting the runtime down cancels every task on it, the
    // subscription's forwarder among them.
    drop(first);

    let second = tokio::runtime::Builder::new_current_thread().build()?;
    let reason = match second.block_on(feed.join()) {
        Err(SubscriptionError::Task(reason)) => reason,
        other => panic!("expected a task error, got {other:?}"),
    };
    // tokio's wording, with the task's id (which the test cannot know).
    let id = reason
        .strip_prefix("task ")
        .and_then(|rest| rest.strip_suffix(" was cancelled"))
        .unwrap_or_else(|| panic!("not a cancelled task: {reason:?}"));
    assert!(id.parse::<u64>().is_ok(), "task id {id:?} in {reason:?}");
    assert_eq!(
        SubscriptionError::Task(reason.clone()).to_string(),
        format!("the subscription's task failed: {reason}")
    );
    Ok(())
}
