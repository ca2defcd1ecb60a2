//! An actor receiving 1M messages: from an omg topic through a
//! subscription, and from a plain flume channel through kameo's
//! `attach_stream` (the peer). Prints both throughputs and their ratio.
//!
//! `cargo bench -p omg-tokio`. Both feeds drain 1M messages that are
//! already there (a ring keeping all of them, an in-memory exactly-once
//! topic, a flume channel) into the same actor type with the default
//! mailbox (64); throughputs are medians of 9 rounds, and the ratio is the
//! median of the per-round ratios (each round runs both sides back to back).

use std::time::{Duration, Instant};

use kameo::{
    Actor,
    actor::{ActorRef, Spawn},
    error::Infallible,
    message::{Context, Message, StreamMessage},
};
use omg::{Agency, Delivery, StartAt};
use omg_tokio::{SubscribeOptions, TopicMessage, subscribe_with};
use tokio::sync::oneshot;

const MESSAGES: u64 = 1_000_000;
const ROUNDS: usize = 9;

/// Sums what it receives and reports when it saw `MESSAGES`.
struct Sink {
    seen: u64,
    sum: u64,
    done: Option<oneshot::Sender<u64>>,
}

impl Actor for Sink {
    type Args = oneshot::Sender<u64>;
    type Error = Infallible;

    async fn on_start(done: Self::Args, _: ActorRef<Self>) -> Result<Self, Infallible> {
        Ok(Self {
            seen: 0,
            sum: 0,
            done: Some(done),
        })
    }
}

impl Sink {
    fn take(&mut self, value: u64) {
        self.seen += 1;
        self.sum = self.sum.wrapping_add(value);
        if self.seen == MESSAGES
            && let Some(done) = self.done.take()
        {
            let _ = done.send(self.sum);
        }
    }
}

impl Message<TopicMessage<u64>> for Sink {
    type Reply = ();

    async fn handle(&mut self, m: TopicMessage<u64>, _: &mut Context<Self, ()>) {
        self.take(*m.value());
    }
}

impl Message<StreamMessage<u64, (), ()>> for Sink {
    type Reply = ();

    async fn handle(&mut self, m: StreamMessage<u64, (), ()>, _: &mut Context<Self, ()>) {
        if let StreamMessage::Next(value) = m {
            self.take(value);
        }
    }
}

const EXPECTED: u64 = MESSAGES * (MESSAGES - 1) / 2;

/// omg: a topic holding 1M messages, drained into the actor.
async fn omg_feed(topic: &omg::Topic<u64>, named: Option<&str>) -> Duration {
    let (done, finished) = oneshot::channel();
    let actor = Sink::spawn(done);
    let cursor = match named {
        Some(name) => topic.named_cursor(name, StartAt::Earliest),
        None => topic.cursor(StartAt::Earliest),
    }
    .expect("cursor");
    let start = Instant::now();
    let feed = subscribe_with(&actor, cursor, SubscribeOptions::default()).expect("subscribe");
    let sum = finished.await.expect("the sink finishes");
    let elapsed = start.elapsed();
    assert_eq!(sum, EXPECTED);
    feed.stop().await.expect("the subscription stops");
    actor.stop_gracefully().await.expect("the sink stops");
    actor.wait_for_shutdown().await;
    elapsed
}

/// The peer: a flume channel holding 1M messages, attached as a stream.
async fn kameo_stream() -> Duration {
    let (tx, rx) = flume::unbounded();
    for i in 0..MESSAGES {
        tx.send(i).expect("send");
    }
    drop(tx);
    let (done, finished) = oneshot::channel();
    let actor = Sink::spawn(done);
    let start = Instant::now();
    let _stream = actor.attach_stream(rx.into_stream(), (), ());
    let sum = finished.await.expect("the sink finishes");
    let elapsed = start.elapsed();
    assert_eq!(sum, EXPECTED);
    actor.stop_gracefully().await.expect("the sink stops");
    actor.wait_for_shutdown().await;
    elapsed
}

fn rate(d: Duration) -> f64 {
    MESSAGES as f64 / d.as_secs_f64()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let agency = Agency::in_memory();
    let ring = agency
        .topic::<u64>("feed-ring", Delivery::at_most_once_keep(MESSAGES as usize))
        .expect("topic");
    let durable = agency
        .topic::<u64>("feed-durable", Delivery::exactly_once())
        .expect("topic");
    for i in 0..MESSAGES {
        ring.publisher().publish(i).expect("publish");
        durable.publisher().try_publish(i).expect("publish");
    }
    let (mut omg_ring, mut omg_durable, mut peer) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ring_ratios, mut durable_ratios) = (Vec::new(), Vec::new());
    runtime.block_on(async {
        for round in 0..ROUNDS {
            // Each round measures the peer and omg back to back, so that the
            // ratio of a round sees the same machine load on both sides.
            let p = kameo_stream().await;
            let r = omg_feed(&ring, None).await;
            let name = format!("bench-{round}");
            let d = omg_feed(&durable, Some(&name)).await;
            ring_ratios.push(rate(r) / rate(p));
            durable_ratios.push(rate(d) / rate(p));
            peer.push(p);
            omg_ring.push(r);
            omg_durable.push(d);
        }
    });
    println!(
        "actor_feed omg at-most-once ring, anonymous cursor: {:.2} M msg/s",
        rate(median(omg_ring)) / 1e6
    );
    println!(
        "actor_feed omg exactly-once (memory storage), named cursor: {:.2} M msg/s",
        rate(median(omg_durable)) / 1e6
    );
    println!(
        "actor_feed kameo attach_stream (flume unbounded): {:.2} M msg/s",
        rate(median(peer)) / 1e6
    );
    println!(
        "ratio actor_feed omg/kameo_stream {:.2}",
        median_f64(ring_ratios)
    );
    println!(
        "ratio actor_feed omg_durable/kameo_stream {:.2}",
        median_f64(durable_ratios)
    );
}

fn median_f64(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
