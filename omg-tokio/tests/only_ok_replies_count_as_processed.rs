//! Only a handler's `Ok` reply counts as processed — for the named
//! cursor's commit and for `SubscriptionStats` — also when the subscription
//! is stopped with asks in flight, or the stopping actor sends queued asks
//! back unhandled (kameo answers them with `ActorNotRunning`).

use std::{future::Future, sync::Arc, task::Poll, time::Duration};

use kameo::{
    Actor,
    actor::{ActorRef, Spawn},
    error::Infallible,
    message::{Context, Message},
};
use omg::{Agency, Delivery, StartAt};
use omg_tokio::{SubscribeOptions, SubscriptionEnd, TopicMessage, subscribe_with};
use tokio::sync::{Notify, mpsc};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const GUARD: Duration = Duration::from_secs(20);

#[derive(Debug)]
#[expect(dead_code, reason = "read through Debug")]
struct Refused(u64);

/// Offset 0: tells the test it started, waits for the gate, then replies Ok
/// (and, if `stop_after_first`, stops the actor for good). Offset 1: replies
/// with an error (or, if `stop_after_first`, would reply Ok).
/// With `panic_first`, offset 0 panics after the gate instead.
struct Gated {
    started: mpsc::UnboundedSender<u64>,
    gate: Arc<Notify>,
    stop_after_first: bool,
    panic_first: bool,
}

impl Actor for Gated {
    type Args = Self;
    type Error = Infallible;

    async fn on_start(gated: Self, _: ActorRef<Self>) -> Result<Self, Infallible> {
        Ok(gated)
    }
}

/// A `Gated` actor (with `stop_after_first` and `panic_first`) subscribed
/// to two messages with a named cursor `gated`, two asks in flight: offset
/// 0 is being handled and waits at the gate, offset 1 waits in the mailbox.
struct Scenario {
    topic: omg::Topic<u64>,
    started: mpsc::UnboundedReceiver<u64>,
    gate: Arc<Notify>,
    actor: ActorRef<Gated>,
    feed: omg_tokio::Subscription,
}

async fn scenario(
    agency: &Agency,
    stop_after_first: bool,
    panic_first: bool,
) -> Result<Scenario, Box<dyn std::error::Error>> {
    let topic = two_messages(agency).await?;
    let (started, mut started_rx) = mpsc::unbounded_channel();
    let gate = Arc::new(Notify::new());
    let actor = Gated::spawn(Gated {
        started,
        gate: gate.clone(),
        stop_after_first,
        panic_first,
    });
    let feed = subscribe_with(
        &actor,
        topic.named_cursor("gated", StartAt::Earliest)?,
        SubscribeOptions::default().in_flight(2),
    )?;
    assert_eq!(
        tokio::time::timeout(GUARD, started_rx.recv()).await?,
        Some(0)
    );
    wait_delivered(&feed, 2).await;
    Ok(Scenario {
        topic,
        started: started_rx,
        gate,
        actor,
        feed,
    })
}

impl Message<TopicMessage<u64>> for Gated {
    type Reply = Result<(), Refused>;

    async fn handle(
        &mut self,
        m: TopicMessage<u64>,
        ctx: &mut Context<Self, Self::Reply>,
    ) -> Self::Reply {
        let _ = self.started.send(m.offset());
        if m.offset() == 0 {
            self.gate.notified().await;
            if self.panic_first {
                panic!("offset 0 panics");
            }
            if self.stop_after_first {
                ctx.stop();
            }
            return Ok(());
        }
        if self.stop_after_first {
            Ok(())
        } else {
            Err(Refused(m.offset()))
        }
    }
}

async fn two_messages(agency: &Agency) -> omg::Result<omg::Topic<u64>> {
    let topic = agency.topic::<u64>("work", Delivery::exactly_once())?;
    for i in 0..2 {
        topic.publisher().publish_async(i).await?;
    }
    Ok(topic)
}

/// Polls `fut` exactly once (so `Subscription::stop` has requested the
/// stop), without waiting for it.
async fn poll_once<F: Future + Unpin>(fut: &mut F) {
    std::future::poll_fn(|cx| {
        let _ = std::pin::Pin::new(&mut *fut).poll(cx);
        Poll::Ready(())
    })
    .await;
}

async fn wait_delivered(feed: &omg_tokio::Subscription, n: u64) {
    tokio::time::timeout(GUARD, async {
        while feed.stats().delivered < n {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("messages were never delivered");
}

/// The first offset a fresh cursor named `name` hands out.
async fn resumes_at(
    topic: &omg::Topic<u64>,
    name: &str,
) -> Result<u64, Box<dyn std::error::Error>> {
    let mut cursor = topic.named_cursor(name, StartAt::Earliest)?;
    let record = tokio::time::timeout(Duration::from_secs(2), cursor.recv_async()).await;
    match record {
        Ok(Ok(r)) => Ok(r.offset),
        Ok(Err(e)) => Err(format!("cursor failed: {e}").into()),
        Err(_) => Err("the cursor resumed past every message (nothing left to read)".into()),
    }
}

/// A handler that replied with an error must never be committed past, even
/// when the subscription is stopped while that reply is in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_with_a_failed_reply_in_flight_does_not_commit_past_it() -> TestResult {
    let agency = Agency::in_memory();
    let Scenario {
        topic, gate, feed, ..
    } = scenario(&agency, false, false).await?;
    let mut stopping = Box::pin(feed.stop());
    poll_once(&mut stopping).await; // the stop is requested now
    gate.notify_one();
    let outcome = tokio::time::timeout(GUARD, stopping).await?;
    assert!(
        matches!(outcome, Ok(SubscriptionEnd::Stopped)),
        "{outcome:?}"
    );

    // Offset 1's handler returned an error: the cursor must resume there.
    assert_eq!(
        resumes_at(&topic, "gated").await?,
        1,
        "the cursor was committed past offset 1, whose handler replied Err"
    );
    Ok(())
}

/// Same root cause with kameo's bounce: an actor that stops for good answers
/// the asks left in its mailbox with `Err(ActorNotRunning)`; such a message
/// was never handled and must not be committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_while_the_actor_bounces_queued_asks_does_not_commit_them() -> TestResult {
    let agency = Agency::in_memory();
    let Scenario {
        topic,
        mut started,
        gate,
        actor,
        feed,
    } = scenario(&agency, true, false).await?;
    let mut stopping = Box::pin(feed.stop());
    poll_once(&mut stopping).await;
    gate.notify_one(); // offset 0 replies Ok and stops the actor
    let outcome = tokio::time::timeout(GUARD, stopping).await?;
    assert!(
        matches!(outcome, Ok(SubscriptionEnd::Stopped)),
        "{outcome:?}"
    );
    tokio::time::timeout(GUARD, actor.wait_for_shutdown()).await?;

    // Offset 1 was never handled (the handler would have told us).
    assert!(
        started.try_recv().is_err(),
        "offset 1 was handled after all"
    );
    assert_eq!(
        resumes_at(&topic, "gated").await?,
        1,
        "the cursor was committed past offset 1, which no handler ran"
    );
    Ok(())
}

/// `SubscriptionStats::processed` counts messages whose handler replied; an
/// ask that kameo bounced (`ActorNotRunning`) is a failure, not processed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounced_asks_after_a_panic_count_as_failures_not_processed() -> TestResult {
    let agency = Agency::in_memory();
    // Not supervised: kameo's default `on_panic` stops it for good.
    let Scenario {
        mut started,
        gate,
        actor,
        feed,
        ..
    } = scenario(&agency, true, true).await?;
    gate.notify_one(); // offset 0 panics; offset 1 is bounced
    tokio::time::timeout(GUARD, actor.wait_for_shutdown()).await?;
    let feed_stats = {
        let f = &feed;
        tokio::time::timeout(GUARD, async {
            while !f.is_finished() {
                tokio::task::yield_now().await;
            }
        })
        .await?;
        f.stats()
    };
    let outcome = feed.join().await;
    assert!(
        matches!(outcome, Ok(SubscriptionEnd::ActorStopped)),
        "{outcome:?}"
    );
    assert!(
        started.try_recv().is_err(),
        "offset 1 was handled after all"
    );
    assert_eq!(
        feed_stats.processed, 0,
        "no handler replied: {feed_stats:?}"
    );
    Ok(())
}
