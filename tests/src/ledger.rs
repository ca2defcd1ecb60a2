//! A ledger agent shared by the agent scenarios and their child processes.
//!
//! Every entry records the balance it was decided on (`balance_after`), so a
//! lost update — a command handled against a stale state and appended
//! anyway — shows up as a break in the chain of balances.

use std::convert::Infallible;

use omg::agent::AgentState;
use serde::{Deserialize, Serialize};

/// The ledger: a balance and how many entries made it.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// Sum of every entry's amount.
    pub balance: i64,
    /// How many entries were applied.
    pub entries: u64,
}

/// The command: deposit `amount`, identified by `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deposit {
    /// Unique per command, carried into its event.
    pub id: u64,
    /// The amount (distinct per command in the scenarios).
    pub amount: i64,
}

/// The event: the deposit and the balance it produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The command's id.
    pub id: u64,
    /// The command's amount.
    pub amount: i64,
    /// The balance after this entry, as decided by `handle`.
    pub balance_after: i64,
}

impl AgentState for Ledger {
    type Event = Entry;
    type Command = Deposit;
    type Error = Infallible;

    fn apply(&mut self, entry: &Entry) {
        self.balance += entry.amount;
        self.entries += 1;
    }

    fn handle(&self, deposit: &Deposit) -> Result<Vec<Entry>, Infallible> {
        Ok(vec![Entry {
            id: deposit.id,
            amount: deposit.amount,
            balance_after: self.balance + deposit.amount,
        }])
    }

    fn event_type_name() -> std::borrow::Cow<'static, str> {
        "scenarios.ledger.Entry".into()
    }
}
