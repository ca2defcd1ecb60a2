//! Writes `tests/fixtures/agent_events_v1.db`: the agent `wallet` whose
//! events were stored by the **first** version of its event type
//! (`fixture.WalletEvent`, amounts in whole units, no memos), with a snapshot
//! of the first version of its state. `tests/tests/agent_upcasting_fixture.rs`
//! loads it with the current types. The types below are frozen: never change
//! them, or the fixture no longer shows what older versions wrote.
//!
//! Regenerate (only if the fixture must change):
//! `cargo run -p omg-scenarios --bin make_agent_fixture [<path>]`
//!
//! The database is left checkpointed (no `-wal` file), so the `.db` alone
//! is complete.

use std::{borrow::Cow, path::PathBuf};

use omg::agent::{AgentOptions, AgentState, Execute};
use omg_scenarios::sqlite_agency;
use serde::{Deserialize, Serialize};

/// Version 1 of the wallet's state.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Wallet {
    balance: i64,
    operations: u64,
    frozen: bool,
}

/// Version 1 of the wallet's events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum WalletEvent {
    Deposited(i64),
    Withdrew(i64),
    Frozen,
}

#[derive(Debug)]
enum Command {
    Deposit(i64),
    Withdraw(i64),
    Freeze,
}

#[derive(Debug)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("refused")
    }
}

impl std::error::Error for Refused {}

impl AgentState for Wallet {
    type Event = WalletEvent;
    type Command = Command;
    type Error = Refused;

    fn apply(&mut self, event: &WalletEvent) {
        match event {
            WalletEvent::Deposited(n) => self.balance += n,
            WalletEvent::Withdrew(n) => self.balance -= n,
            WalletEvent::Frozen => self.frozen = true,
        }
        self.operations += 1;
    }

    fn handle(&self, command: &Command) -> Result<Vec<WalletEvent>, Refused> {
        match *command {
            Command::Deposit(n) => Ok(vec![WalletEvent::Deposited(n)]),
            Command::Withdraw(n) if n <= self.balance => Ok(vec![WalletEvent::Withdrew(n)]),
            Command::Withdraw(_) => Err(Refused),
            Command::Freeze => Ok(vec![WalletEvent::Frozen]),
        }
    }

    fn event_type_name() -> Cow<'static, str> {
        "fixture.WalletEvent".into()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/agent_events_v1.db"),
        PathBuf::from,
    );
    let sidecar = |suffix: &str| {
        let mut name = path.clone().into_os_string();
        name.push(suffix);
        PathBuf::from(name)
    };
    for file in [path.clone(), sidecar("-wal"), sidecar("-shm")] {
        if file.exists() {
            std::fs::remove_file(&file)?;
        }
    }
    {
        let agency = sqlite_agency(path.to_str().ok_or("the path is not UTF-8")?)?;
        let wallet =
            agency.agent_with::<Wallet>("wallet", AgentOptions::default().snapshot_every(4))?;
        wallet.execute(Command::Deposit(100))?;
        wallet.execute(Command::Deposit(250))?;
        wallet.execute(Command::Withdraw(30))?;
        wallet.execute(Execute::new(Command::Deposit(5)).caused_by("invoice-9"))?;
        wallet.execute(Command::Withdraw(75))?;
        wallet.execute(Command::Freeze)?;
        assert_eq!(wallet.version()?, 6);
        agency.shutdown();
    }
    // Every connection is closed: SQLite checkpointed the WAL into the file.
    if sidecar("-wal").exists() {
        return Err(format!("{} was left behind", sidecar("-wal").display()).into());
    }
    println!("wrote {}", path.display());
    Ok(())
}
