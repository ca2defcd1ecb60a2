//! A panicking handler restarts its actor through kameo's supervision, and
//! the subscription delivers again from the failed message: nothing is lost
//! on durable topics, and a named cursor resumes from its last commit.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use kameo::{
    Actor,
    actor::ActorRef,
    error::{Infallible, SendError},
    message::{Context, Message},
};
use omg::{
    Agency, Delivery, StartAt,
    agent::{AgentError, AgentState, Execute},
};
use omg_tokio::{
    GetState, Host, HostOptions, Query, SubscribeOptions, SubscriptionEnd, TopicMessage,
};
use serde::{Deserialize, Serialize};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// What the actor instances share with the test (survives restarts).
#[derive(Clone, Default)]
struct Log {
    starts: Arc<AtomicUsize>,
    /// (offset, redelivered) in handling order.
    handled: Arc<Mutex<Vec<(u64, bool)>>>,
    /// Panic once on this offset.
    poison: Option<u64>,
    panicked: Arc<AtomicBool>,
    /// Panic on it every time.
    always: bool,
}

impl Log {
    fn handled(&self) -> Vec<(u64, bool)> {
        self.handled.lock().expect("log").clone()
    }

    fn offsets(&self) -> Vec<u64> {
        let mut offsets: Vec<u64> = self.handled().into_iter().map(|(o, _)| o).collect();
        offsets.sort_unstable();
        offsets.dedup();
        offsets
    }
}

struct Worker {
    log: Log,
}

impl Actor for Worker {
    type Args = Log;
    type Error = Infallible;

    async fn on_start(log: Log, _: ActorRef<Self>) -> Result<Self, Infallible> {
        log.starts.fetch_add(1, Ordering::SeqCst);
        Ok(Self { log })
    }
}

impl Message<TopicMessage<String>> for Worker {
    type Reply = ();

    async fn handle(&mut self, m: TopicMessage<String>, _: &mut Context<Self, ()>) {
        assert_eq!(m.value(), &format!("job-{}", m.offset()));
        if Some(m.offset()) == self.log.poison
            && (self.log.always || !self.log.panicked.swap(true, Ordering::SeqCst))
        {
            panic!("handler panics on offset {}", m.offset());
        }
        self.log
            .handled
            .lock()
            .expect("log")
            .push((m.offset(), m.redelivered));
    }
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn publish_jobs(topic: &omg::Topic<String>, n: u64) -> omg::Result<()> {
    for i in 0..n {
        topic.publisher().publish_async(format!("job-{i}")).await?;
    }
    Ok(())
}

async fn panicking_handler_is_restarted_and_loses_nothing(delivery: Delivery) -> TestResult {
    let agency = Agency::in_memory();
    let topic = agency.topic::<String>("jobs", delivery)?;
    publish_jobs(&topic, 50).await?;
    let host = Host::new(&agency)?;
    let log = Log {
        poison: Some(7),
        ..Log::default()
    };
    let worker = host.supervise::<Worker>(log.clone()).await;
    let feed = host.subscribe(&worker, topic.named_cursor("workers", StartAt::Earliest)?)?;

    eventually("all 50 handled", || log.offsets().len() == 50).await;
    assert_eq!(log.offsets(), (0..50).collect::<Vec<_>>());
    assert_eq!(
        log.starts.load(Ordering::SeqCst),
        2,
        "restarted once by kameo"
    );
    let handled = log.handled();
    // 0..7 once; 7 is handled only after the restart, as a redelivery.
    assert_eq!(
        handled[..7].iter().map(|(o, _)| *o).collect::<Vec<_>>(),
        (0..7).collect::<Vec<_>>()
    );
    assert!(
        handled.contains(&(7, true)),
        "offset 7 redelivered: {handled:?}"
    );
    assert!(!handled.contains(&(7, false)));
    let stats = feed.stats();
    // The panic, plus any message kameo bounced while restarting.
    assert!(stats.failures >= 1);
    assert!(stats.redelivered >= 1);

    eventually("the commit", || feed.stats().committed == Some(50)).await;
    assert_eq!(
        topic.named_cursor("workers", StartAt::Earliest)?.position(),
        50
    );
    host.shutdown().await;
    assert!(agency.is_shut_down());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_topic_survives_a_panicking_handler() -> TestResult {
    panicking_handler_is_restarted_and_loses_nothing(Delivery::exactly_once()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_topic_survives_a_panicking_handler() -> TestResult {
    panicking_handler_is_restarted_and_loses_nothing(Delivery::at_least_once()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_message_in_flight_keeps_the_order_across_a_restart() -> TestResult {
    let agency = Agency::in_memory();
    let topic = agency.topic::<String>("jobs", Delivery::exactly_once())?;
    publish_jobs(&topic, 20).await?;
    let host = Host::with_options(
        &agency,
        HostOptions::default().subscribe(SubscribeOptions::default().in_flight(1)),
    )?;
    let log = Log {
        poison: Some(7),
        ..Log::default()
    };
    let worker = host.supervise::<Worker>(log.clone()).await;
    let _feed = host.subscribe(&worker, topic.named_cursor("workers", StartAt::Earliest)?)?;
    eventually("all 20 handled", || log.handled().len() == 20).await;
    let expected: Vec<(u64, bool)> = (0..20).map(|o| (o, o == 7)).collect();
    assert_eq!(log.handled(), expected, "strict order, 7 redelivered once");
    assert_eq!(log.starts.load(Ordering::SeqCst), 2);
    host.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actor_that_stays_dead_leaves_its_cursor_at_the_failed_message() -> TestResult {
    let agency = Agency::in_memory();
    let topic = agency.topic::<String>("jobs", Delivery::exactly_once())?;
    publish_jobs(&topic, 20).await?;
    // No restarts allowed: the first panic stops the actor for good.
    let host = Host::with_options(
        &agency,
        HostOptions::default().restart_limit(0, Duration::from_secs(5)),
    )?;
    let log = Log {
        poison: Some(7),
        always: true,
        ..Log::default()
    };
    let worker = host.supervise::<Worker>(log.clone()).await;
    let feed = host.subscribe(&worker, topic.named_cursor("workers", StartAt::Earliest)?)?;
    assert_eq!(feed.join().await?, SubscriptionEnd::ActorStopped);
    assert_eq!(log.offsets(), (0..7).collect::<Vec<_>>());
    assert_eq!(
        topic.named_cursor("workers", StartAt::Earliest)?.position(),
        7,
        "committed up to the failed message, not past it"
    );

    // A fixed worker resumes from the last commit: the failed message first.
    let fixed = Log::default();
    let worker = host.supervise::<Worker>(fixed.clone()).await;
    let feed = host.subscribe(&worker, topic.named_cursor("workers", StartAt::Earliest)?)?;
    eventually("the rest", || fixed.offsets().len() == 13).await;
    assert_eq!(fixed.offsets(), (7..20).collect::<Vec<_>>());
    assert_eq!(feed.stop().await?, SubscriptionEnd::Stopped);
    assert_eq!(
        topic.named_cursor("workers", StartAt::Earliest)?.position(),
        20
    );
    host.stop().await;
    Ok(())
}

// --- An agent fed by a topic, panicking once -------------------------------

static LEDGER_PANICKED: AtomicBool = AtomicBool::new(false);

#[derive(Default, Clone, Debug, Serialize, Deserialize)]
struct Ledger {
    total: u64,
    applied: Vec<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Added(u64);

#[derive(Debug, thiserror::Error)]
#[error("zero is not an amount")]
struct Zero;

impl AgentState for Ledger {
    type Event = Added;
    type Command = u64;
    type Error = Zero;

    fn apply(&mut self, Added(n): &Added) {
        self.total += n;
        self.applied.push(*n);
    }

    fn handle(&self, n: &u64) -> Result<Vec<Added>, Zero> {
        if *n == 13 && !LEDGER_PANICKED.swap(true, Ordering::SeqCst) {
            panic!("the ledger panics on 13 once");
        }
        if *n == 0 {
            return Err(Zero);
        }
        Ok(vec![Added(*n)])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_actor_restarts_and_applies_each_command_once() -> TestResult {
    let agency = Agency::in_memory();
    let host = Host::new(&agency)?;
    let ledger = host.spawn_agent::<Ledger>("ledger").await?;

    // Commands as kameo messages; refusals come back as handler errors.
    let executed = ledger.ask(Execute::new(100)).await?;
    assert_eq!(executed.version, 1);
    match ledger.ask(Execute::new(0)).await {
        Err(SendError::HandlerError(AgentError::Domain(Zero))) => {}
        other => panic!("expected the state's refusal, got {other:?}"),
    }

    // Commands from a topic, with a panic on 13.
    let commands = agency.topic::<u64>("ledger-commands", Delivery::exactly_once())?;
    for n in (1..=20).chain([0]) {
        commands.publisher().publish_async(n).await?;
    }
    let feed = host.subscribe(&ledger, commands.named_cursor("ledger", StartAt::Earliest)?)?;
    eventually("21 commands processed", || {
        feed.stats().committed == Some(21)
    })
    .await;
    assert!(LEDGER_PANICKED.load(Ordering::SeqCst));
    assert!(feed.stats().failures >= 1);

    let state = ledger.ask(GetState).await?;
    // Commands already in the mailbox behind 13 ran on the restarted actor
    // before 13 came again, and their redeliveries were recognised by their
    // causation ids: each command is applied exactly once.
    let mut applied = state.applied.clone();
    applied.sort_unstable();
    let mut expected: Vec<u64> = (1..=20).collect();
    expected.push(100);
    assert_eq!(applied, expected, "each command applied exactly once");
    assert_eq!(state.total, 100 + 210);
    let events = ledger.ask(Query(|s: &Ledger| s.applied.len())).await?;
    assert_eq!(events, 21);
    assert_eq!(ledger.agent_events_head(&agency).await?, 21);
    host.shutdown().await;
    Ok(())
}

/// The number of events stored for the ledger, read through a fresh handle.
trait EventsHead {
    async fn agent_events_head(&self, agency: &Agency) -> omg::Result<u64>;
}

impl EventsHead for ActorRef<omg_tokio::AgentActor<Ledger>> {
    async fn agent_events_head(&self, agency: &Agency) -> omg::Result<u64> {
        let fresh = agency.agent::<Ledger>("ledger")?;
        Ok(fresh.events().bounds()?.1)
    }
}
