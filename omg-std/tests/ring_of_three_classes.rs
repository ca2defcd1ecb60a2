//! Three handlers on three threads pass a token around a ring through all
//! three delivery classes (exactly-once → at-least-once → at-most-once), and
//! the third one executes an agent command per message from its handler.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex, mpsc},
    time::Duration,
};

use omg::{
    Agency, Delivery, StartAt,
    agent::{AgentState, Execute},
};
use omg_std::{Handler, Host};
use serde::{Deserialize, Serialize};

const ROUNDS: u64 = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Hop {
    round: u64,
    by: String,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Tally {
    sum: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Added(u64);

#[derive(Debug, thiserror::Error)]
#[error("never")]
struct Never;

impl AgentState for Tally {
    type Event = Added;
    type Command = u64;
    type Error = Never;
    fn apply(&mut self, Added(n): &Added) {
        self.sum += n;
    }
    fn handle(&self, n: &u64) -> Result<Vec<Added>, Never> {
        Ok(vec![Added(*n)])
    }
}

type Log<T> = Arc<Mutex<Vec<T>>>;

#[test]
fn a_token_goes_around_three_threads_through_three_classes()
-> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let a_to_b = agency.topic::<u64>("a-to-b", Delivery::exactly_once())?;
    let b_to_c = agency.topic::<Hop>("b-to-c", Delivery::at_least_once())?;
    let c_to_a = agency.topic::<String>("c-to-a", Delivery::at_most_once_keep(4))?;
    let tally = agency.agent::<Tally>("tally")?;
    let host = Host::new(&agency);

    // (handler thread, offset, value, attempt, missed) per handler.
    let seen_a: Log<(String, u64, String, u32, u64)> = Arc::default();
    let seen_b: Log<(String, u64, u64, u32, u64)> = Arc::default();
    let seen_c: Log<(String, u64, Hop, u32, u64)> = Arc::default();
    let thread = || std::thread::current().name().unwrap_or("?").to_owned();

    // B: exactly-once u64 → at-least-once Hop.
    let (log, out) = (seen_b.clone(), b_to_c.publisher());
    let b = host.spawn_handler(
        Handler::new("b", move || (log.clone(), out.clone())).subscribe(
            a_to_b.named_cursor("b", StartAt::Earliest)?,
            move |(log, out), e| {
                log.lock()
                    .unwrap()
                    .push((thread(), e.offset(), *e.value(), e.attempt, e.missed));
                out.publish(Hop {
                    round: *e.value(),
                    by: "b".into(),
                })?;
                Ok(())
            },
        ),
    )?;

    // C: at-least-once Hop → agent command (same transaction as the cursor
    // commit) → at-most-once String.
    let (log, out, agent) = (seen_c.clone(), c_to_a.publisher(), tally.clone());
    let cursor_name = omg::Name::new("c")?;
    let c = host.spawn_handler(
        Handler::new("c", move || {
            (log.clone(), out.clone(), agent.clone(), cursor_name.clone())
        })
        .subscribe(
            b_to_c.named_cursor("c", StartAt::Earliest)?,
            move |(log, out, agent, cursor), e| {
                log.lock().unwrap().push((
                    thread(),
                    e.offset(),
                    e.value().clone(),
                    e.attempt,
                    e.missed,
                ));
                let command = Execute::new(e.value().round).caused_by_message(
                    &e.topic,
                    e.offset(),
                    Some(cursor),
                );
                agent.execute(command)?;
                out.publish(format!("round {}", e.value().round))?;
                Ok(())
            },
        ),
    )?;

    // A: at-most-once String → the next round on exactly-once u64.
    let (done_tx, done_rx) = mpsc::channel();
    let (log, out) = (seen_a.clone(), a_to_b.publisher());
    let a = host.spawn_handler(
        Handler::new("a", move || (log.clone(), out.clone(), done_tx.clone())).subscribe(
            c_to_a.cursor(StartAt::Earliest)?,
            move |(log, out, done), e| {
                log.lock().unwrap().push((
                    thread(),
                    e.offset(),
                    e.value().clone(),
                    e.attempt,
                    e.missed,
                ));
                let round: u64 = e.value().trim_start_matches("round ").parse()?;
                if round + 1 < ROUNDS {
                    out.publish(round + 1)?;
                } else {
                    done.send(())?;
                }
                Ok(())
            },
        ),
    )?;

    a_to_b.publisher().publish(0)?;
    done_rx.recv_timeout(Duration::from_secs(60))?;
    host.shutdown()?;

    let seen_a = seen_a.lock().unwrap().clone();
    let seen_b = seen_b.lock().unwrap().clone();
    let seen_c = seen_c.lock().unwrap().clone();
    let rounds: Vec<u64> = (0..ROUNDS).collect();
    assert_eq!(
        seen_b
            .iter()
            .map(|s| (s.1, s.2, s.3, s.4))
            .collect::<Vec<_>>(),
        rounds.iter().map(|&r| (r, r, 1, 0)).collect::<Vec<_>>()
    );
    assert_eq!(
        seen_c
            .iter()
            .map(|s| (s.1, s.2.clone(), s.3, s.4))
            .collect::<Vec<_>>(),
        rounds
            .iter()
            .map(|&r| (
                r,
                Hop {
                    round: r,
                    by: "b".into()
                },
                1,
                0
            ))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        seen_a
            .iter()
            .map(|s| (s.1, s.2.clone(), s.3, s.4))
            .collect::<Vec<_>>(),
        rounds
            .iter()
            .map(|&r| (r, format!("round {r}"), 1, 0))
            .collect::<Vec<_>>()
    );
    // Each handler ran on its own thread, always the same one.
    for (name, threads) in [
        (
            "a",
            seen_a.iter().map(|s| s.0.clone()).collect::<BTreeSet<_>>(),
        ),
        ("b", seen_b.iter().map(|s| s.0.clone()).collect()),
        ("c", seen_c.iter().map(|s| s.0.clone()).collect()),
    ] {
        assert_eq!(threads, BTreeSet::from([name.to_owned()]));
    }
    // The agent saw each round once.
    assert_eq!(tally.state()?.sum, rounds.iter().sum::<u64>());
    assert_eq!(tally.version()?, ROUNDS);
    for handler in [&a, &b, &c] {
        let stats = handler.stats();
        assert_eq!(
            (stats.handled, stats.failures, stats.restarts, stats.missed),
            (ROUNDS, 0, 0, 0),
            "{}",
            handler.name()
        );
        assert_eq!(handler.status(), omg_std::HandlerStatus::Stopped);
    }
    // Named cursors were committed past everything handled.
    assert_eq!(
        a_to_b.named_cursor("b", StartAt::Earliest)?.position(),
        ROUNDS
    );
    assert_eq!(
        b_to_c.named_cursor("c", StartAt::Earliest)?.position(),
        ROUNDS
    );
    agency.shutdown();
    Ok(())
}
