//! A hosted agent executes a topic of commands in order from its handler
//! thread; refused commands count as handled; delivering every command
//! again (a new cursor from the start, after a simulated restart) applies
//! nothing twice.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use omg::{Agency, Delivery, StartAt, agent::AgentState, storage::MemoryStorage};
use omg_std::{Handler, HandlerHandle, Host};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Account {
    balance: u64,
    deposits: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Deposited(u64);

#[derive(Debug, thiserror::Error)]
#[error("deposits above 100 are refused")]
struct TooLarge;

impl AgentState for Account {
    type Event = Deposited;
    type Command = u64;
    type Error = TooLarge;
    fn apply(&mut self, Deposited(n): &Deposited) {
        self.balance += n;
        self.deposits.push(*n);
    }
    fn handle(&self, n: &u64) -> Result<Vec<Deposited>, TooLarge> {
        if *n > 100 {
            Err(TooLarge)
        } else {
            Ok(vec![Deposited(*n)])
        }
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn run(
    agency: &Agency,
    cursor: &str,
    expected: u64,
) -> Result<HandlerHandle, Box<dyn std::error::Error>> {
    let commands = agency.topic::<u64>("deposits", Delivery::exactly_once())?;
    let account = agency.agent::<Account>("account")?;
    let host = Host::new(agency);
    let handler = host.spawn_handler(Handler::agent(
        "account",
        account,
        commands.named_cursor(cursor, StartAt::Earliest)?,
    ))?;
    wait_until("the commands", || handler.stats().handled == expected);
    host.shutdown()?;
    Ok(handler)
}

#[test]
fn commands_from_a_topic_apply_once() -> Result<(), Box<dyn std::error::Error>> {
    let storage = Arc::new(MemoryStorage::new());
    let agency = Agency::builder().storage(storage.clone()).build();
    let commands = agency.topic::<u64>("deposits", Delivery::exactly_once())?;
    for n in [10, 20, 500, 30] {
        commands.publisher().publish(n)?;
    }
    let handler = run(&agency, "account", 4)?;
    let stats = handler.stats();
    assert_eq!((stats.handled, stats.failures), (4, 0));
    let account = agency.agent::<Account>("account")?;
    assert_eq!(account.state()?.deposits, vec![10, 20, 30]);
    assert_eq!(account.version()?, 3);
    agency.shutdown();

    // A restarted process reads every command again through a new cursor.
    let agency = Agency::builder()
        .storage(Arc::new(storage.reopened()))
        .build();
    let handler = run(&agency, "replay", 4)?;
    assert_eq!(handler.stats().failures, 0);
    let account = agency.agent::<Account>("account")?;
    assert_eq!(account.state()?.deposits, vec![10, 20, 30]);
    assert_eq!(account.state()?.balance, 60);
    assert_eq!(account.version()?, 3);
    agency.shutdown();
    Ok(())
}
