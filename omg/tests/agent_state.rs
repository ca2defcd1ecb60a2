//! Agents: event-sourced state with optimistic concurrency, causation ids,
//! snapshots and upcasting, on the in-memory storage (two agencies over one
//! storage stand in for two processes over one file).

use std::sync::{Arc, Barrier};

use omg::{
    Agency, Delivery, StartAt,
    agent::{AgentError, AgentOptions, AgentState, Execute, testing::given},
    storage::{MemoryStorage, Storage},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Account {
    balance: i64,
    deposits: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum AccountEvent {
    Deposited(i64),
    Withdrew(i64),
}

#[derive(Debug, Clone)]
enum Command {
    Deposit(i64),
    Withdraw(i64),
    Nothing,
    /// A deposit decided only once every party of the barrier is deciding
    /// too (a test device: `handle` waits on the barrier), so that all of
    /// them decide on the same version.
    DepositTogether(i64, Arc<Barrier>),
}

#[derive(Debug, PartialEq, thiserror::Error)]
enum Refused {
    #[error("amount must be positive")]
    NotPositive,
    #[error("insufficient funds: balance {balance}, asked {asked}")]
    Insufficient { balance: i64, asked: i64 },
}

impl AgentState for Account {
    type Event = AccountEvent;
    type Command = Command;
    type Error = Refused;

    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Deposited(n) => {
                self.balance += n;
                self.deposits += 1;
            }
            AccountEvent::Withdrew(n) => self.balance -= n,
        }
    }

    fn handle(&self, command: &Command) -> Result<Vec<AccountEvent>, Refused> {
        match *command {
            Command::Deposit(n) | Command::Withdraw(n) if n <= 0 => Err(Refused::NotPositive),
            Command::Deposit(n) => Ok(vec![AccountEvent::Deposited(n)]),
            Command::Withdraw(n) if n > self.balance => Err(Refused::Insufficient {
                balance: self.balance,
                asked: n,
            }),
            Command::Withdraw(n) => Ok(vec![AccountEvent::Withdrew(n)]),
            Command::Nothing => Ok(vec![]),
            Command::DepositTogether(n, ref together) => {
                together.wait();
                Ok(vec![AccountEvent::Deposited(n)])
            }
        }
    }
}

fn agency_over(storage: &Arc<MemoryStorage>) -> Agency {
    let storage: Arc<dyn Storage> = storage.clone();
    Agency::builder().storage(storage).build()
}

#[test]
fn given_when_then_describes_the_domain() {
    given::<Account>([AccountEvent::Deposited(10)])
        .when(Command::Withdraw(4))
        .then([AccountEvent::Withdrew(4)]);
    given::<Account>([AccountEvent::Deposited(10)])
        .when(Command::Withdraw(11))
        .then_error(|e| {
            *e == Refused::Insufficient {
                balance: 10,
                asked: 11,
            }
        });
    given::<Account>([])
        .when(Command::Deposit(0))
        .then_error(|e| *e == Refused::NotPositive);
    let state = given::<Account>([])
        .when(Command::Deposit(3))
        .then([AccountEvent::Deposited(3)]);
    assert_eq!(state.balance, 3);
}

#[test]
fn a_refused_command_appends_nothing_and_names_the_domain_error()
-> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let account = agency.agent::<Account>("acct")?;
    account.execute(Command::Deposit(5))?;
    let err = account.execute(Command::Withdraw(9)).unwrap_err();
    assert!(matches!(
        err,
        AgentError::Domain(Refused::Insufficient {
            balance: 5,
            asked: 9
        })
    ));
    assert_eq!(account.version()?, 1);
    let nothing = account.execute(Command::Nothing)?;
    assert_eq!((nothing.events, nothing.version), (0, 1));
    Ok(())
}

#[test]
fn state_survives_a_restart_and_events_are_a_topic() -> Result<(), Box<dyn std::error::Error>> {
    let storage = Arc::new(MemoryStorage::new());
    {
        let agency = agency_over(&storage);
        let account = agency.agent::<Account>("acct")?;
        for n in 1..=5 {
            account.execute(Command::Deposit(n))?;
        }
        account.execute(Command::Withdraw(3))?;
        let mut events = account.events().cursor(StartAt::Earliest)?;
        assert_eq!(events.recv()?.value, AccountEvent::Deposited(1));
        agency.shutdown();
    }
    let reopened = Arc::new(storage.reopened());
    let agency = agency_over(&reopened);
    let account = agency.agent::<Account>("acct")?;
    assert_eq!(
        account.state()?,
        Account {
            balance: 12,
            deposits: 5
        }
    );
    assert_eq!(account.version()?, 6);
    Ok(())
}

/// Four agencies over one storage, a writer thread on each: every accepted
/// command is applied exactly once, none is lost.
///
/// Each writer's first command is decided while all four are deciding (a
/// barrier inside `handle`), so all four decide on version 0 and append
/// expecting offset 0: exactly one succeeds and the other three conflict —
/// with one attempt allowed, they report it. The remaining commands race
/// freely; whether they conflict is up to the scheduler, so only their
/// accounting is checked.
#[test]
fn concurrent_writers_lose_no_update() -> Result<(), Box<dyn std::error::Error>> {
    const WRITERS: i64 = 4;
    const PER_WRITER: i64 = 200;
    let storage = Arc::new(MemoryStorage::new());
    let together = Arc::new(Barrier::new(WRITERS as usize));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| -> omg::Result<_> {
            let agency = agency_over(&storage);
            let once =
                agency.agent_with::<Account>("shared", AgentOptions::default().max_attempts(1))?;
            let account =
                agency.agent_with::<Account>("shared", AgentOptions::default().max_attempts(2))?;
            let together = together.clone();
            Ok(std::thread::spawn(
                move || -> Result<(Option<i64>, i64, u64), AgentError<Refused>> {
                    let first_amount = w * 1000 + 500;
                    let first = match once.execute(Command::DepositTogether(first_amount, together))
                    {
                        Ok(done) => {
                            assert_eq!(
                                (done.first_offset, done.events, done.version, done.duplicate),
                                (0, 1, 1, false),
                                "the one first command that got through was decided on version 0"
                            );
                            Some(first_amount)
                        }
                        Err(AgentError::Conflict { agent, attempts }) => {
                            assert_eq!((agent.as_str(), attempts), ("shared", 1));
                            None
                        }
                        Err(other) => return Err(other),
                    };
                    let (mut accepted, mut conflicts) = (0, 0);
                    for i in 0..PER_WRITER {
                        let amount = w * 1000 + i + 1;
                        match account.execute(Command::Deposit(amount)) {
                            Ok(done) => {
                                assert!(!done.duplicate);
                                accepted += amount;
                            }
                            Err(AgentError::Conflict { attempts: 2, .. }) => conflicts += 1,
                            Err(other) => return Err(other),
                        }
                    }
                    Ok((first, accepted, conflicts))
                },
            ))
        })
        .collect::<Result<_, _>>()?;
    let mut first_winners = Vec::new();
    let mut accepted_total = 0;
    let mut accepted_count = 0;
    for writer in writers {
        let (first, accepted, conflicts) = writer.join().expect("writer panicked")?;
        first_winners.extend(first);
        accepted_total += accepted + first.unwrap_or(0);
        accepted_count += PER_WRITER as u64 - conflicts + u64::from(first.is_some());
    }
    assert_eq!(
        first_winners.len(),
        1,
        "of four commands decided on version 0, exactly one is appended: {first_winners:?}"
    );
    let account = agency_over(&storage).agent::<Account>("shared")?;
    let state = account.state()?;
    assert_eq!(state.balance, accepted_total);
    assert_eq!(state.deposits, accepted_count);
    assert_eq!(account.version()?, state.deposits);
    let mut events = account.events().cursor(StartAt::Earliest)?;
    assert_eq!(
        events.recv()?.value,
        AccountEvent::Deposited(first_winners[0]),
        "the first command that got through is the first event"
    );
    Ok(())
}

#[test]
fn a_repeated_causation_id_returns_the_first_outcome_and_appends_nothing()
-> Result<(), Box<dyn std::error::Error>> {
    let storage = Arc::new(MemoryStorage::new());
    let agency = agency_over(&storage);
    let account = agency.agent::<Account>("acct")?;
    let first = account.execute(Execute::new(Command::Deposit(7)).caused_by("payment-1"))?;
    account.execute(Command::Deposit(1))?;
    let again = account.execute(Execute::new(Command::Deposit(7)).caused_by("payment-1"))?;
    assert!(!first.duplicate);
    assert!(again.duplicate);
    assert_eq!(again.first_offset, first.first_offset);
    assert_eq!(account.state()?.balance, 8);
    // Another process (agency) sees the same dedup.
    let other = agency_over(&storage).agent::<Account>("acct")?;
    let third = other.execute(Execute::new(Command::Deposit(7)).caused_by("payment-1"))?;
    assert!(third.duplicate);
    assert_eq!(other.state()?.balance, 8);
    Ok(())
}

/// A topic consumer driving an agent commits its cursor in the same batch as
/// the events: after a crash at any point it neither repeats nor loses.
#[test]
fn a_consumer_commits_its_cursor_with_the_events() -> Result<(), Box<dyn std::error::Error>> {
    let storage = Arc::new(MemoryStorage::new());
    let agency = agency_over(&storage);
    let payments = agency.topic::<i64>("payments", Delivery::exactly_once())?;
    for amount in 1..=10 {
        payments.publisher().publish(amount)?;
    }
    let cursor_name = omg::Name::new("ledger")?;
    let account = agency.agent::<Account>("acct")?;
    let mut cursor = payments
        .named_cursor("ledger", StartAt::Earliest)?
        .with_commit_policy(omg::CommitPolicy::Manual);
    for _ in 0..4 {
        let record = cursor.recv()?;
        let command = Execute::new(Command::Deposit(record.value)).caused_by_message(
            payments.name(),
            record.offset,
            Some(&cursor_name),
        );
        account.execute(command)?;
    }
    // "Crash": the fifth message is received and its effect applied, but the
    // process dies before anything else; the effect and the cursor commit
    // were one batch, so a restart resumes after it.
    let record = cursor.recv()?;
    account.execute(
        Execute::new(Command::Deposit(record.value)).caused_by_message(
            payments.name(),
            record.offset,
            Some(&cursor_name),
        ),
    )?;
    drop((cursor, account, payments));
    agency.shutdown();

    let agency = agency_over(&Arc::new(storage.reopened()));
    let payments = agency.topic::<i64>("payments", Delivery::exactly_once())?;
    let mut cursor = payments.named_cursor("ledger", StartAt::Earliest)?;
    assert_eq!(cursor.position(), 5);
    let account = agency.agent::<Account>("acct")?;
    // Redelivering an already applied message is harmless too.
    let replay = account.execute(Execute::new(Command::Deposit(5)).caused_by_message(
        payments.name(),
        4,
        None,
    ))?;
    assert!(replay.duplicate);
    assert_eq!(account.state()?.balance, 15);
    assert_eq!(cursor.recv()?.value, 6);
    Ok(())
}

#[test]
fn snapshots_bound_rehydration_and_a_stale_one_falls_back_to_replay()
-> Result<(), Box<dyn std::error::Error>> {
    let storage = Arc::new(MemoryStorage::new());
    {
        let agency = agency_over(&storage);
        let account =
            agency.agent_with::<Account>("acct", AgentOptions::default().snapshot_every(10))?;
        for n in 1..=35 {
            account.execute(Command::Deposit(n))?;
        }
        let snapshots = agency.storage().describe(&omg::Name::new("acct")?)?;
        assert!(
            snapshots.is_none(),
            "agent topics live in the reserved namespace"
        );
        agency.shutdown();
    }
    let reopened = Arc::new(storage.reopened());
    let agency = agency_over(&reopened);
    let specs = agency.topics()?;
    let snapshot_topic = specs
        .iter()
        .find(|t| t.name.as_str() == ".agent/acct/snapshots")
        .expect("snapshot topic exists");
    let mut buf = omg::storage::ReadBuf::new();
    let info = agency
        .storage()
        .read(&snapshot_topic.name, 0, 100, &mut buf)?;
    assert_eq!(info.next_offset, 3, "one snapshot per 10 events");
    let account = agency.agent::<Account>("acct")?;
    assert_eq!(account.state()?.balance, (1..=35).sum::<i64>());
    assert_eq!(account.version()?, 35);

    // Whether the snapshot at version 30 was used shows in a state that
    // counts the events it applied itself (`applied` is not in snapshots):
    // with the snapshot, only the last five are replayed.
    let agency = agency_over(&Arc::new(reopened.reopened()));
    let counted = agency.agent::<Counted>("acct")?;
    assert_eq!(
        counted.state()?,
        Counted {
            balance: (1..=35).sum(),
            deposits: 35,
            applied: 5,
        }
    );

    // A state whose shape changed: the stored snapshot would decode as a
    // wrong state — with the snapshot format it was written with, it is used
    // and the wrong state shows; with a new format, it is ignored and every
    // event is replayed into the right state.
    let agency = agency_over(&Arc::new(reopened.reopened()));
    let misread = agency.agent::<Reordered<1>>("acct")?;
    assert_eq!(
        misread.state()?,
        Reordered {
            // The snapshot's balance 465 (zigzag 930) read as the deposits,
            // its 30 deposits (zigzag for 15) read as the balance, then the
            // five events after it.
            deposits: 930 + 5,
            balance: 15 + (31..=35).sum::<i64>(),
            applied: 5,
        },
        "a snapshot of the same format is used, even when it misdecodes"
    );
    let agency = agency_over(&Arc::new(reopened.reopened()));
    let v2 = agency.agent::<Reordered<2>>("acct")?;
    assert_eq!(
        v2.state()?,
        Reordered {
            deposits: 35,
            balance: (1..=35).sum(),
            applied: 35,
        },
        "a snapshot of an older format is ignored: full replay"
    );
    assert_eq!(v2.version()?, 35);
    Ok(())
}

/// [`Account`] with the same snapshot encoding, plus a count of the events
/// this handle applied, which snapshots do not store.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Counted {
    balance: i64,
    deposits: u64,
    #[serde(skip)]
    applied: u64,
}

impl AgentState for Counted {
    type Event = AccountEvent;
    type Command = ();
    type Error = Refused;
    fn apply(&mut self, event: &AccountEvent) {
        if let AccountEvent::Deposited(n) = event {
            self.balance += n;
            self.deposits += 1;
        }
        self.applied += 1;
    }
    fn handle(&self, (): &()) -> Result<Vec<AccountEvent>, Refused> {
        Ok(vec![])
    }
}

/// [`Counted`] with its stored fields in the other order, so that an
/// [`Account`] snapshot decodes without error into the wrong state.
/// `FORMAT` is its [`AgentState::SNAPSHOT_VERSION`].
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Reordered<const FORMAT: u32> {
    deposits: u64,
    balance: i64,
    #[serde(skip)]
    applied: u64,
}

impl<const FORMAT: u32> AgentState for Reordered<FORMAT> {
    type Event = AccountEvent;
    type Command = ();
    type Error = Refused;
    const SNAPSHOT_VERSION: u32 = FORMAT;
    fn apply(&mut self, event: &AccountEvent) {
        if let AccountEvent::Deposited(n) = event {
            self.balance += n;
            self.deposits += 1;
        }
        self.applied += 1;
    }
    fn handle(&self, (): &()) -> Result<Vec<AccountEvent>, Refused> {
        Ok(vec![])
    }
}

mod upcasting {
    use super::*;

    /// The first version of the event: amounts were unsigned 32-bit.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub(super) enum EventV1 {
        Added(u32),
    }

    /// The current version: a signed amount and a note.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub(super) enum EventV2 {
        Added { amount: i64, note: String },
    }

    #[derive(Debug, Default, Serialize, Deserialize)]
    pub(super) struct OldTotal(pub(super) u64);

    #[derive(Debug, Default, Clone, Serialize, Deserialize)]
    pub(super) struct Total {
        pub(super) sum: i64,
        pub(super) notes: Vec<String>,
    }

    impl AgentState for OldTotal {
        type Event = EventV1;
        type Command = u32;
        type Error = Refused;
        fn apply(&mut self, EventV1::Added(n): &EventV1) {
            self.0 += u64::from(*n);
        }
        fn handle(&self, n: &u32) -> Result<Vec<EventV1>, Refused> {
            Ok(vec![EventV1::Added(*n)])
        }
        fn event_type_name() -> std::borrow::Cow<'static, str> {
            "test.TotalEvent".into()
        }
    }

    impl AgentState for Total {
        type Event = EventV2;
        type Command = i64;
        type Error = Refused;
        fn apply(&mut self, EventV2::Added { amount, note }: &EventV2) {
            self.sum += amount;
            self.notes.push(note.clone());
        }
        fn handle(&self, n: &i64) -> Result<Vec<EventV2>, Refused> {
            Ok(vec![EventV2::Added {
                amount: *n,
                note: "v2".into(),
            }])
        }
        fn event_type_name() -> std::borrow::Cow<'static, str> {
            "test.TotalEvent".into()
        }
        fn upcast(payload: &[u8]) -> Option<EventV2> {
            let EventV1::Added(n) = postcard::from_bytes(payload).ok()?;
            Some(EventV2::Added {
                amount: i64::from(n),
                note: "v1".into(),
            })
        }
    }
}

#[test]
fn events_of_an_older_type_load_through_the_upcaster() -> Result<(), Box<dyn std::error::Error>> {
    use upcasting::{OldTotal, Total};
    let storage = Arc::new(MemoryStorage::new());
    {
        let agency = agency_over(&storage);
        let old = agency.agent::<OldTotal>("total")?;
        old.execute(4)?;
        old.execute(5)?;
        agency.shutdown();
    }
    let agency = agency_over(&Arc::new(storage.reopened()));
    let total = agency.agent::<Total>("total")?;
    total.execute(-2)?;
    let state = total.state()?;
    assert_eq!(state.sum, 7);
    assert_eq!(state.notes, ["v1", "v1", "v2"]);
    // Subscribers of the agent's events (projections, mirrors) see the
    // upcast events too, not decode errors.
    let mut events = total.events().cursor(StartAt::Earliest)?;
    let seen: Vec<upcasting::EventV2> = (0..3)
        .map(|_| events.recv().map(|r| r.value))
        .collect::<Result<_, _>>()?;
    assert_eq!(
        seen,
        [
            upcasting::EventV2::Added {
                amount: 4,
                note: "v1".into()
            },
            upcasting::EventV2::Added {
                amount: 5,
                note: "v1".into()
            },
            upcasting::EventV2::Added {
                amount: -2,
                note: "v2".into()
            },
        ]
    );
    Ok(())
}

/// The event type an agent's stored events were written with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum LevelV1 {
    Raised(u32),
}

/// An incompatible replacement under the same stable name, without an
/// upcaster: a `u32` below 128 is one byte, as a `u8` is, but 200 is two.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum LevelV2 {
    Raised(u8),
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct OldLevel(u64);

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Level(u64);

impl AgentState for OldLevel {
    type Event = LevelV1;
    type Command = u32;
    type Error = Refused;
    fn apply(&mut self, LevelV1::Raised(n): &LevelV1) {
        self.0 += u64::from(*n);
    }
    fn handle(&self, n: &u32) -> Result<Vec<LevelV1>, Refused> {
        Ok(vec![LevelV1::Raised(*n)])
    }
    fn event_type_name() -> std::borrow::Cow<'static, str> {
        "test.LevelEvent".into()
    }
}

impl AgentState for Level {
    type Event = LevelV2;
    type Command = u8;
    type Error = Refused;
    fn apply(&mut self, LevelV2::Raised(n): &LevelV2) {
        self.0 += u64::from(*n);
    }
    fn handle(&self, n: &u8) -> Result<Vec<LevelV2>, Refused> {
        Ok(vec![LevelV2::Raised(*n)])
    }
    fn event_type_name() -> std::borrow::Cow<'static, str> {
        "test.LevelEvent".into()
    }
}

#[test]
fn a_stored_event_that_no_longer_decodes_is_a_decode_error()
-> Result<(), Box<dyn std::error::Error>> {
    let storage = Arc::new(MemoryStorage::new());
    {
        let agency = agency_over(&storage);
        let old = agency.agent::<OldLevel>("level")?;
        old.execute(5)?;
        old.execute(200)?;
        agency.shutdown();
    }
    let agency = agency_over(&Arc::new(storage.reopened()));
    let level = agency.agent::<Level>("level")?;
    let decode_error = |outcome: Result<String, AgentError<Refused>>| match outcome {
        Err(AgentError::Decode(omg::Error::Decode {
            topic,
            offset,
            type_name,
            reason,
        })) => (topic.to_string(), offset, type_name.into_owned(), reason),
        other => panic!("expected a Decode error, got {other:?}"),
    };
    let expected = (
        ".agent/level/events".to_owned(),
        1,
        std::any::type_name::<LevelV2>().to_owned(),
        "1 bytes left over after the event".to_owned(),
    );
    // Reading the state, and deciding a command on it, both stop at the
    // event that does not decode (offset 0 still does); nothing is appended.
    assert_eq!(decode_error(level.read(|l| format!("{l:?}"))), expected);
    assert_eq!(
        decode_error(level.execute(1).map(|done| format!("{done:?}"))),
        expected
    );
    assert_eq!(level.events().bounds()?, (0, 2));
    Ok(())
}

#[test]
fn a_repeated_causation_id_returns_the_earlier_outcome_even_after_the_state_moved_on()
-> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let account = agency.agent::<Account>("acct")?;
    account.execute(Command::Deposit(10))?;
    let first = account.execute(Execute::new(Command::Withdraw(8)).caused_by("withdrawal-1"))?;
    assert_eq!(
        (first.first_offset, first.events, first.duplicate),
        (1, 1, false)
    );
    // Deciding again now would refuse (balance 2 < 8): the earlier outcome
    // is returned instead, and nothing is appended.
    let retry = account.execute(Execute::new(Command::Withdraw(8)).caused_by("withdrawal-1"))?;
    assert_eq!(
        (retry.first_offset, retry.events, retry.duplicate),
        (1, 1, true)
    );
    assert_eq!(account.state()?.balance, 2);
    assert_eq!(account.version()?, 2);
    // The same through the non-blocking flavour: settled without a write.
    assert!(
        account
            .try_execute(Execute::new(Command::Withdraw(8)).caused_by("withdrawal-1"))?
            .is_none()
    );
    assert_eq!(account.version()?, 2);
    Ok(())
}
