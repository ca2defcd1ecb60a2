//! Agents: event-sourced state with optimistic concurrency, causation ids,
//! snapshots and upcasting, on the in-memory storage (two agencies over one
//! storage stand in for two processes over one file).

use std::{
    convert::Infallible,
    sync::{Arc, Barrier},
};

use omg::{
    Agency, Delivery, StartAt,
    agent::{AgentError, AgentOptions, AgentState, Execute, testing::given},
    storage::{MemoryStorage, ReadBuf, Storage, stored_name},
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

/// The next offset of `topic`, one of omg's reserved topics included.
fn head(agency: &Agency, topic: &str) -> omg::Result<u64> {
    let mut buf = ReadBuf::new();
    Ok(agency
        .storage()
        .read(&stored_name(topic)?, u64::MAX, 0, &mut buf)?
        .next_offset)
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
    assert_eq!(
        head(&agency, ".agent/acct/snapshots")?,
        3,
        "one snapshot per 10 events"
    );
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

/// `AgentOptions::snapshot_every` holds for `try_execute`, whose completion
/// the agent does not see: the handle stores the snapshot when it next
/// catches up past a multiple. Handles that cross the same multiple store
/// it once.
#[test]
fn try_execute_stores_a_snapshot_every_n_events() -> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let every_2 = AgentOptions::default().snapshot_every(2);
    let account = agency.agent_with::<Account>("acct", every_2)?;
    // Another handle (another process), loaded before any event.
    let elsewhere = agency.agent_with::<Account>("acct", every_2)?;
    assert_eq!(elsewhere.version()?, 0);
    for n in 0..4 {
        let (decided, receipt) = account.try_execute(Command::Deposit(1))?;
        assert_eq!(decided.first_offset, n);
        let mut receipt = receipt.expect("a receipt");
        assert_eq!(receipt.try_result().transpose()?, Some(n));
        assert_eq!(account.version()?, n + 1);
    }
    // The blocking flavour on the same options stores 2 snapshots for 4 events.
    let reference = agency.agent_with::<Account>("reference", every_2)?;
    for _ in 0..4 {
        reference.execute(Command::Deposit(1))?;
    }
    assert_eq!(head(&agency, ".agent/reference/snapshots")?, 2);
    assert_eq!(
        head(&agency, ".agent/acct/snapshots")?,
        2,
        "4 events with snapshot_every(2) through try_execute"
    );
    // The other handle catches up past 4 as well: that snapshot is stored.
    assert_eq!(elsewhere.version()?, 4);
    assert_eq!(head(&agency, ".agent/acct/snapshots")?, 2);
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
    let (settled, receipt) =
        account.try_execute(Execute::new(Command::Withdraw(8)).caused_by("withdrawal-1"))?;
    assert!(receipt.is_none());
    assert_eq!(settled, retry);
    assert_eq!(account.version()?, 2);
    Ok(())
}

/// `try_execute` hands a repeated message's cursor commit to the storage;
/// its receipt resolves to the earlier command's first event, as the
/// outcome it returns says.
#[test]
fn try_execute_of_an_already_processed_message_resolves_to_the_earlier_first_offset()
-> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let payments = agency.topic::<i64>("payments", Delivery::exactly_once())?;
    payments.publisher().publish(5)?;
    let ledger = omg::Name::new("ledger")?;
    let account = agency.agent::<Account>("acct")?;
    let command =
        || Execute::new(Command::Deposit(5)).caused_by_message(payments.name(), 0, Some(&ledger));

    let (first, receipt) = account.try_execute(command())?;
    assert_eq!((first.first_offset, first.events), (0, 1));
    let mut receipt = receipt.expect("a receipt");
    assert_eq!(receipt.try_result().transpose()?, Some(0));
    // The same message handled again (a redelivery): the earlier outcome.
    let (again, receipt) = account.try_execute(command())?;
    let mut receipt = receipt.expect("a receipt (the cursor commit)");
    assert_eq!(account.version()?, 1, "nothing appended");
    assert_eq!(
        receipt.try_result().transpose()?,
        Some(0),
        "the earlier outcome's first event is at offset 0"
    );
    assert_eq!(
        (again.first_offset, again.events, again.duplicate),
        (0, 1, true)
    );
    assert_eq!(
        agency.storage().cursor_position(payments.name(), &ledger)?,
        Some(1)
    );
    Ok(())
}

/// A seat that can be claimed; claiming a taken seat (or releasing a free
/// one) decides no events.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Seat {
    holder: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum SeatEvent {
    Claimed(String),
    Released,
}

#[derive(Debug, Clone)]
enum SeatCommand {
    Claim(&'static str),
    Release,
}

impl AgentState for Seat {
    type Event = SeatEvent;
    type Command = SeatCommand;
    type Error = Infallible;

    fn apply(&mut self, event: &SeatEvent) {
        match event {
            SeatEvent::Claimed(who) => self.holder = Some(who.clone()),
            SeatEvent::Released => self.holder = None,
        }
    }

    fn handle(&self, command: &SeatCommand) -> Result<Vec<SeatEvent>, Infallible> {
        Ok(match (command, &self.holder) {
            (SeatCommand::Claim(who), None) => vec![SeatEvent::Claimed((*who).to_owned())],
            (SeatCommand::Release, Some(_)) => vec![SeatEvent::Released],
            (SeatCommand::Claim(_), Some(_)) | (SeatCommand::Release, None) => vec![],
        })
    }
}

/// DESIGN §5: "a command whose causation id was already processed is not
/// executed twice" — also when it decided no events, which leave no
/// idempotency key on the event topic: the outcome is recorded on the
/// agent's outcomes topic instead, and the event topic holds only events.
#[test]
fn a_processed_causation_id_is_not_decided_again_even_when_it_produced_no_events()
-> Result<(), Box<dyn std::error::Error>> {
    let storage = Arc::new(MemoryStorage::new());
    let agency = agency_over(&storage);
    let seat = agency.agent::<Seat>("seat")?;
    let claim = |who, causation| Execute::new(SeatCommand::Claim(who)).caused_by(causation);
    seat.execute(SeatCommand::Claim("alice"))?;

    // Request "req-1" from bob is processed: the seat is taken, nothing happens.
    let first = seat.execute(claim("bob", "req-1"))?;
    assert_eq!(
        (first.first_offset, first.events, first.duplicate),
        (1, 0, false)
    );
    seat.execute(SeatCommand::Release)?;

    // The same request delivered again (a retry): it was already processed.
    let again = seat.execute(claim("bob", "req-1"))?;
    assert_eq!(
        (
            again.first_offset,
            again.events,
            again.version,
            again.duplicate
        ),
        (1, 0, 2, true),
        "req-1 was processed already and must not be decided again"
    );
    assert_eq!(seat.state()?.holder, None);
    assert_eq!(
        seat.events().bounds()?,
        (0, 2),
        "only events on the event topic"
    );

    // Another process remembers it too; the non-blocking flavour settles it
    // without a write.
    let other = agency_over(&storage).agent::<Seat>("seat")?;
    let (settled, receipt) = other.try_execute(claim("bob", "req-1"))?;
    assert!(receipt.is_none());
    assert_eq!((settled.events, settled.duplicate), (0, true));

    // A request processed through try_execute with no events is recorded
    // as well, once its receipt resolved.
    other.execute(SeatCommand::Claim("carol"))?;
    let (decided, receipt) = other.try_execute(claim("dave", "req-2"))?;
    assert_eq!((decided.first_offset, decided.events), (3, 0));
    receipt.expect("the record of req-2").wait()?;
    other.execute(SeatCommand::Release)?;
    let again = seat.execute(claim("dave", "req-2"))?;
    assert_eq!(
        (again.first_offset, again.events, again.duplicate),
        (3, 0, true)
    );
    assert_eq!(seat.state()?.holder, None);
    assert_eq!(seat.events().bounds()?, (0, 4));
    assert_eq!(head(&agency, ".agent/seat/outcomes")?, 2);
    Ok(())
}
