//! Handlers that fail in ways a restart does not fix: a returned error
//! ends the subscription at once, a message that keeps panicking ends it
//! after `max_redeliveries`; either way the cursor is committed up to the
//! failed message and not past it.

use std::ops::ControlFlow;

use kameo::{
    Actor,
    actor::{ActorRef, Spawn, WeakActorRef},
    error::{ActorStopReason, Infallible, PanicError},
    message::{Context, Message},
};
use omg::{Agency, Delivery, StartAt};
use omg_tokio::{SubscribeOptions, SubscriptionError, TopicMessage, subscribe, subscribe_with};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[derive(Debug)]
#[expect(dead_code, reason = "read through Debug, in the subscription's error")]
struct Refused(u64);

/// Fails on one offset: by returning an error, or by panicking (and then
/// carrying on, as its `on_panic` says).
struct Picky {
    bad: u64,
    panics: bool,
}

impl Actor for Picky {
    type Args = (u64, bool);
    type Error = Infallible;

    async fn on_start((bad, panics): (u64, bool), _: ActorRef<Self>) -> Result<Self, Infallible> {
        Ok(Self { bad, panics })
    }

    async fn on_panic(
        &mut self,
        _: WeakActorRef<Self>,
        _: PanicError,
    ) -> Result<ControlFlow<ActorStopReason>, Infallible> {
        Ok(ControlFlow::Continue(()))
    }
}

impl Message<TopicMessage<u64>> for Picky {
    type Reply = Result<(), Refused>;

    async fn handle(
        &mut self,
        m: TopicMessage<u64>,
        _: &mut Context<Self, Self::Reply>,
    ) -> Self::Reply {
        if m.offset() == self.bad {
            if self.panics {
                panic!("offset {} always panics", m.offset());
            }
            return Err(Refused(m.offset()));
        }
        Ok(())
    }
}

async fn topic_of(agency: &Agency, n: u64) -> omg::Result<omg::Topic<u64>> {
    let topic = agency.topic::<u64>("work", Delivery::exactly_once())?;
    for i in 0..n {
        topic.publisher().publish_async(i).await?;
    }
    Ok(topic)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_error_ends_the_subscription_before_the_failed_message() -> TestResult {
    let agency = Agency::in_memory();
    let topic = topic_of(&agency, 10).await?;
    let actor = Picky::spawn((5, false));
    let feed = subscribe(&actor, topic.named_cursor("picky", StartAt::Earliest)?)?;
    match feed.join().await {
        Err(SubscriptionError::Handler { offset: 5, error }) => {
            assert_eq!(error, "Refused(5)");
        }
        other => panic!("expected a handler error on 5, got {other:?}"),
    }
    assert_eq!(
        topic.named_cursor("picky", StartAt::Earliest)?.position(),
        5
    );
    assert!(actor.is_alive(), "an ask's error does not stop the actor");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_always_panics_is_given_up_as_poison() -> TestResult {
    let agency = Agency::in_memory();
    let topic = topic_of(&agency, 10).await?;
    let actor = Picky::spawn((3, true));
    let feed = subscribe_with(
        &actor,
        topic.named_cursor("picky", StartAt::Earliest)?,
        SubscribeOptions::default().max_redeliveries(4),
    )?;
    match feed.join().await {
        Err(SubscriptionError::Poison {
            offset: 3,
            attempts: 5,
        }) => {}
        other => panic!("expected offset 3 as poison, got {other:?}"),
    }
    assert_eq!(
        topic.named_cursor("picky", StartAt::Earliest)?.position(),
        3
    );
    Ok(())
}

#[test]
fn subscribing_or_hosting_outside_a_runtime_is_refused() -> TestResult {
    let agency = Agency::in_memory();
    let host = omg_tokio::Host::new(&agency);
    assert!(matches!(
        host,
        Err(omg::Error::Unsupported {
            what: "a host outside a tokio runtime",
            ..
        })
    ));
    // An actor ref needs a runtime to exist; make one, then leave it.
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let actor = runtime.block_on(async { Picky::spawn((0, false)) });
    let topic = agency.topic::<u64>("outside", Delivery::exactly_once())?;
    let refused = subscribe(&actor, topic.cursor(StartAt::Earliest)?);
    assert!(matches!(
        refused,
        Err(omg::Error::Unsupported {
            what: "subscribing an actor outside a tokio runtime",
            ..
        })
    ));
    Ok(())
}
