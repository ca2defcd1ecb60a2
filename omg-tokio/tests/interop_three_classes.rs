//! One process, three modes: a std thread publishes with the blocking API,
//! a kameo actor transforms and republishes with the async API, a plain
//! tokio task reads with `recv_async` — through each delivery class.

use std::{thread, time::Duration};

use kameo::{
    Actor,
    message::{Context, Message},
};
use omg::{Agency, Delivery, RecvError, StartAt};
use omg_tokio::{Host, TopicMessage};

mod common;

use common::Doubler;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const N: u64 = 2_000;

async fn pipeline(delivery: Delivery) -> TestResult {
    let agency = Agency::in_memory();
    let input = agency.topic::<u64>("numbers", delivery)?;
    let output = agency.topic::<u64>("doubled", delivery)?;
    let host = Host::new(&agency)?;

    // The reader: a plain tokio task. Its cursor exists before anything is
    // published, so an at-most-once ring large enough loses nothing.
    let mut reader_cursor = output.cursor(StartAt::Earliest)?;
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        let mut missed = 0;
        while (got.len() as u64) < N {
            match reader_cursor.recv_async().await {
                Ok(record) => got.push(record.value),
                Err(RecvError::Lagged(n)) => missed += n,
                Err(e) => return Err(e),
            }
        }
        Ok((got, missed))
    });

    // The actor, subscribed before the thread publishes.
    let doubler = host
        .supervise::<Doubler>((output.publisher(), Duration::ZERO))
        .await;
    let cursor = if delivery.is_durable() {
        input.named_cursor("doubler", StartAt::Earliest)?
    } else {
        input.cursor(StartAt::Earliest)?
    };
    let feed = host.subscribe(&doubler, cursor)?;

    // The writer: a std thread with the blocking API.
    let publisher = input.publisher();
    let writer = thread::spawn(move || -> omg::Result<()> {
        for i in 0..N {
            publisher.publish(i)?;
        }
        Ok(())
    });
    tokio::task::spawn_blocking(move || writer.join())
        .await?
        .map_err(|_| "the writer thread panicked")??;

    let (got, missed) = tokio::time::timeout(Duration::from_secs(20), reader).await???;
    assert_eq!(missed, 0);
    assert_eq!(got, (0..N).map(|i| i * 2).collect::<Vec<_>>());
    // Stopping settles the last replies (the reader may see the last output
    // before the forwarder saw the handler's reply).
    host.stop().await;
    let stats = feed.stats();
    assert_eq!((stats.processed, stats.missed, stats.failures), (N, 0, 0));
    if delivery.is_durable() {
        assert_eq!(
            input.named_cursor("doubler", StartAt::Earliest)?.position(),
            N
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_once_with_a_ring_large_enough() -> TestResult {
    pipeline(Delivery::at_most_once_keep(N as usize)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once() -> TestResult {
    pipeline(Delivery::at_least_once()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once() -> TestResult {
    pipeline(Delivery::exactly_once()).await
}

/// Records what it receives, with the reported gaps.
#[derive(Actor, Clone, Default)]
struct Recorder {
    got: Vec<(u64, u64)>,
}

impl Message<TopicMessage<u64>> for Recorder {
    type Reply = ();

    async fn handle(&mut self, m: TopicMessage<u64>, _: &mut Context<Self, ()>) {
        self.got.push((m.offset(), m.missed));
    }
}

struct Got;

impl Message<Got> for Recorder {
    type Reply = Vec<(u64, u64)>;

    async fn handle(&mut self, _: Got, _: &mut Context<Self, Self::Reply>) -> Self::Reply {
        self.got.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overwritten_ring_reaches_the_actor_as_an_exact_gap() -> TestResult {
    let agency = Agency::in_memory();
    let ticks = agency.topic::<u64>("ticks", Delivery::at_most_once_keep(4))?;
    let host = Host::new(&agency)?;
    let cursor = ticks.cursor(StartAt::Earliest)?;
    for i in 0..10 {
        ticks.publisher().publish_async(i).await?;
    }
    let recorder = host.supervise::<Recorder>(Recorder::default()).await;
    let feed = host.subscribe(&recorder, cursor)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while feed.stats().processed < 4 {
        assert!(tokio::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Offsets 0..6 were overwritten: the first message says so, exactly.
    assert_eq!(
        recorder.ask(Got).await?,
        vec![(6, 6), (7, 0), (8, 0), (9, 0)]
    );
    assert_eq!(feed.stats().missed, 6);
    host.stop().await;
    Ok(())
}
