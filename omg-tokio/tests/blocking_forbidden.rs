//! Blocking omg calls inside the tokio runtime fail with a clear error
//! instead of stalling an executor thread; outside it they work.

use kameo::{
    Actor,
    actor::{ActorRef, Spawn},
    error::Infallible,
    message::{Context, Message},
};
use omg::{
    Agency, Delivery, Error, Publisher, RecvError, StartAt, TryRecvError,
    agent::{AgentError, AgentState},
};
use serde::{Deserialize, Serialize};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn is_forbidden(error: &Error, expected_call: &str) -> bool {
    matches!(error, Error::BlockingForbidden { call, context }
        if *call == expected_call && *context == "a tokio runtime")
}

#[derive(Default, Clone, Serialize, Deserialize)]
struct Tally {
    n: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
struct Never;

impl AgentState for Tally {
    type Event = u64;
    type Command = u64;
    type Error = Never;
    fn apply(&mut self, n: &u64) {
        self.n += n;
    }
    fn handle(&self, n: &u64) -> Result<Vec<u64>, Never> {
        Ok(vec![*n])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_calls_in_a_task_fail_and_async_ones_work() -> TestResult {
    omg_tokio::install();
    let agency = Agency::in_memory();
    let topic = agency.topic::<u64>("orders", Delivery::exactly_once())?;
    let publisher = topic.publisher();

    let refused = publisher
        .publish(1)
        .expect_err("publish must not block here");
    assert!(is_forbidden(&refused, "Publisher::publish"), "{refused:?}");
    let message = refused.to_string();
    assert!(
        message.contains("Publisher::publish") && message.contains("_async"),
        "the message tells what to do instead: {message}"
    );

    let mut cursor = topic.named_cursor("reader", StartAt::Earliest)?;
    match cursor.recv() {
        Err(RecvError::Failed(e)) => assert!(is_forbidden(&e, "Cursor::recv"), "{e:?}"),
        other => panic!("recv must not block here: {other:?}"),
    }
    let e = cursor.commit().expect_err("commit must not block here");
    assert!(is_forbidden(&e, "Cursor::commit"), "{e:?}");

    let agent = agency.agent::<Tally>("tally")?;
    match agent.execute(1) {
        Err(AgentError::Storage(e)) => assert!(is_forbidden(&e, "Agent::execute"), "{e:?}"),
        other => panic!("execute must not block here: {other:?}"),
    }

    // The async and non-blocking flavours work in the same place.
    assert_eq!(publisher.publish_async(7).await?, 0);
    assert_eq!(cursor.recv_async().await?.value, 7);
    cursor.commit_async().await?;
    assert_eq!(agent.execute_async(1).await?.version, 1);
    match cursor.try_recv() {
        Err(TryRecvError::Empty) => {}
        other => panic!("the only message was received: {other:?}"),
    }

    // A plain thread outside the runtime may block.
    let publisher = topic.publisher();
    let offset = tokio::task::spawn_blocking(move || {
        std::thread::spawn(move || publisher.publish(8))
            .join()
            .map_err(|_| "the thread panicked")
    })
    .await???;
    assert_eq!(offset, 1);
    Ok(())
}

/// An actor whose handler (wrongly) uses the blocking API.
struct Careless {
    out: Publisher<u64>,
}

impl Actor for Careless {
    type Args = Publisher<u64>;
    type Error = Infallible;

    async fn on_start(out: Publisher<u64>, _: ActorRef<Self>) -> Result<Self, Infallible> {
        Ok(Self { out })
    }
}

impl Message<u64> for Careless {
    type Reply = Result<u64, Error>;

    async fn handle(&mut self, n: u64, _: &mut Context<Self, Self::Reply>) -> Self::Reply {
        self.out.publish(n)
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_blocking_call_in_an_actor_handler_fails_instead_of_deadlocking() -> TestResult {
    omg_tokio::install();
    let agency = Agency::in_memory();
    let topic = agency.topic::<u64>("careless", Delivery::at_least_once())?;
    let actor = Careless::spawn(topic.publisher());
    match actor.ask(5).await {
        Err(kameo::error::SendError::HandlerError(e)) => {
            assert!(is_forbidden(&e, "Publisher::publish"), "{e:?}");
        }
        other => panic!("expected BlockingForbidden, got {other:?}"),
    }
    assert_eq!(topic.bounds()?, (0, 0), "nothing was published");
    Ok(())
}
