//! An agent's state is mirrored into `AgentMirror<S>`, updated in the frame
//! its events arrive — whoever wrote them — and systems send commands with
//! `AgentCommands<S>` without blocking: refusals come back at once,
//! completions as `CommandExecuted` (with the mirror already up to date),
//! storage failures as `CommandFailed`.

mod common;

use bevy_app::Update;
use bevy_ecs::prelude::*;
use omg::{StorageError, StorageErrorKind, agent::AgentState};
use omg_bevy::{AgentCommands, AgentMirror, CommandExecuted, CommandFailed, OmgAppExt, Ticket};
use serde::{Deserialize, Serialize};

use common::{GatedStorage, app, this_frame};

#[derive(Default, Clone, Debug, Serialize, Deserialize)]
struct Counter {
    value: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Event {
    Added(i64),
}

#[derive(Debug, thiserror::Error)]
#[error("the counter must stay below 100")]
struct TooBig;

impl AgentState for Counter {
    type Event = Event;
    type Command = i64;
    type Error = TooBig;
    fn apply(&mut self, Event::Added(n): &Event) {
        self.value += n;
    }
    fn handle(&self, n: &i64) -> Result<Vec<Event>, TooBig> {
        if self.value + n >= 100 {
            return Err(TooBig);
        }
        Ok(if *n == 0 {
            vec![]
        } else {
            vec![Event::Added(*n)]
        })
    }
}

/// Commands for the system to send this frame, and what `send` returned.
#[derive(Resource, Default)]
struct Orders {
    todo: Vec<i64>,
    sent: Vec<Result<Ticket, String>>,
}

fn send_orders(mut orders: ResMut<'_, Orders>, mut counter: AgentCommands<'_, Counter>) {
    let todo = std::mem::take(&mut orders.todo);
    for n in todo {
        let sent = counter.send(n).map_err(|e| e.to_string());
        orders.sent.push(sent);
    }
}

/// The mirrored value each time a `CommandExecuted` was read.
#[derive(Resource, Default)]
struct AtCompletion(Vec<(Ticket, Option<u64>, i64)>);

fn on_executed(
    mut executed: MessageReader<'_, '_, CommandExecuted<Counter>>,
    mirror: Res<'_, AgentMirror<Counter>>,
    mut log: ResMut<'_, AtCompletion>,
) {
    for e in executed.read() {
        log.0.push((e.ticket, e.first_offset, mirror.state().value));
    }
}

fn mirror(app: &bevy_app::App) -> (i64, u64) {
    let mirror = app.world().resource::<AgentMirror<Counter>>();
    (mirror.state().value, mirror.version())
}

#[test]
fn agent_state_mirrored_into_a_resource() -> Result<(), Box<dyn std::error::Error>> {
    let (agency, storage) = GatedStorage::agency();
    // Events from before the app started are replayed into the mirror.
    let elsewhere = agency.agent::<Counter>("counter")?;
    elsewhere.execute(10)?;

    let mut app = app(&agency);
    app.add_omg_agent(agency.agent::<Counter>("counter")?)
        .init_resource::<Orders>()
        .init_resource::<AtCompletion>()
        .add_systems(Update, (send_orders, on_executed));
    app.update();
    assert_eq!(mirror(&app), (10, 1));

    // Another handle (another thread here) executes: the next frame mirrors it.
    std::thread::spawn(move || elsewhere.execute(5))
        .join()
        .map_err(|_| "executor panicked")??;
    app.update();
    assert_eq!(mirror(&app), (15, 2));

    // A system sends three commands: one applies, one is refused at once,
    // one produces no events.
    app.world_mut().resource_mut::<Orders>().todo = vec![20, 90, 0];
    storage.hold();
    app.update();
    assert_eq!(
        app.world().resource::<Orders>().sent,
        [
            Ok(Ticket(0)),
            Err("command refused: the counter must stay below 100".to_string()),
            Ok(Ticket(1)),
        ]
    );
    // Not committed yet: the mirror has not moved.
    assert_eq!(mirror(&app), (15, 2));
    app.update();
    assert_eq!(mirror(&app), (15, 2));
    assert_eq!(
        app.world().resource::<AtCompletion>().0,
        [(Ticket(1), None, 15)]
    );

    // The storage commits; the completion and the new state arrive together.
    storage.release();
    app.update();
    assert_eq!(mirror(&app), (35, 3));
    assert_eq!(
        app.world().resource::<AtCompletion>().0[1..],
        [(Ticket(0), Some(2), 35)]
    );

    // A storage failure after the hand-over comes back as CommandFailed.
    storage.fail_next(omg::Error::Storage(StorageError::new(
        StorageErrorKind::Io,
        "disk on fire",
    )));
    app.world_mut().resource_mut::<Orders>().todo = vec![1];
    app.update();
    app.update();
    let failed = this_frame::<CommandFailed<Counter>>(&app);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].ticket, Ticket(2));
    assert!(matches!(&failed[0].error, omg::Error::Storage(e) if e.kind() == StorageErrorKind::Io));
    assert_eq!(mirror(&app), (35, 3));
    Ok(())
}
