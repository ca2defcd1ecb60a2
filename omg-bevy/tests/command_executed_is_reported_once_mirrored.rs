//! `CommandExecuted` reports what the mirror shows: it is read only once
//! the `AgentMirror` includes the command's events — held back while the
//! mirror, at its per-frame budget, has not applied them yet — and a
//! command without events has no first offset.

mod common;

use bevy_app::Update;
use bevy_ecs::prelude::*;
use omg::{
    Agency, Delivery, Name,
    agent::{AgentState, Execute},
};
use omg_bevy::{AgentCommands, AgentMirror, CommandExecuted, OmgAppExt};
use serde::{Deserialize, Serialize};

use common::app;

/// Command `n` appends `n` events (`0..n`).
#[derive(Default, Clone, Debug, Serialize, Deserialize)]
struct Tally {
    events: Vec<u32>,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
struct Never;

impl AgentState for Tally {
    type Event = u32;
    type Command = u32;
    type Error = Never;
    fn apply(&mut self, event: &u32) {
        self.events.push(*event);
    }
    fn handle(&self, n: &u32) -> Result<Vec<u32>, Never> {
        Ok((0..*n).collect())
    }
}

/// Commands for the system to send this frame.
#[derive(Resource, Default)]
struct Orders(Vec<Execute<u32>>);

fn send_orders(mut orders: ResMut<'_, Orders>, mut tally: AgentCommands<'_, Tally>) {
    for command in std::mem::take(&mut orders.0) {
        tally.send(command).expect("sent");
    }
}

/// (first_offset, mirror version) each time a `CommandExecuted` was read.
#[derive(Resource, Default)]
struct AtCompletion(Vec<(Option<u64>, u64)>);

fn on_executed(
    mut executed: MessageReader<'_, '_, CommandExecuted<Tally>>,
    mirror: Res<'_, AgentMirror<Tally>>,
    mut log: ResMut<'_, AtCompletion>,
) {
    for e in executed.read() {
        log.0.push((e.first_offset, mirror.version()));
    }
}

fn tally_app(agency: &Agency) -> Result<bevy_app::App, Box<dyn std::error::Error>> {
    let mut app = app(agency);
    app.add_omg_agent(agency.agent::<Tally>("tally")?)
        .init_resource::<Orders>()
        .init_resource::<AtCompletion>()
        .add_systems(Update, (send_orders, on_executed).chain());
    Ok(app)
}

/// A command with more events than the mirror's budget is reported in the
/// frame the mirror applied its last event, and the mirror kept its budget.
#[test]
fn a_command_reported_executed_is_already_in_the_mirror() -> Result<(), Box<dyn std::error::Error>>
{
    let agency = Agency::in_memory();
    let mut app = tally_app(&agency)?;
    app.world_mut()
        .resource_mut::<AgentMirror<Tally>>()
        .set_budget(2);
    app.update();

    app.world_mut().resource_mut::<Orders>().0 = vec![Execute::new(5)];
    // (mirror version, reports so far) after each frame.
    let mut frames = Vec::new();
    for _ in 0..4 {
        app.update();
        frames.push((
            app.world().resource::<AgentMirror<Tally>>().version(),
            app.world().resource::<AtCompletion>().0.len(),
        ));
    }
    assert_eq!(
        frames,
        [(0, 0), (2, 0), (4, 0), (5, 1)],
        "2 events per frame; reported once all 5 are mirrored"
    );
    let log = &app.world().resource::<AtCompletion>().0;
    assert_eq!(log.len(), 1, "one CommandExecuted");
    assert_eq!(
        log[0],
        (Some(0), 5),
        "the mirror must include all 5 events when CommandExecuted is read"
    );
    Ok(())
}

/// A command caused by a message whose cursor it commits, and which
/// produces no events, is reported without a first offset — also when the
/// message is handled again.
#[test]
fn a_command_without_events_reports_no_first_offset() -> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let orders = agency.topic::<u32>("orders", Delivery::exactly_once())?;
    orders.publisher().publish(0)?;
    let consumer = Name::new("tally-consumer")?;
    let mut app = tally_app(&agency)?;
    app.update();

    let command = || Execute::new(0).caused_by_message(orders.name(), 0, Some(&consumer));
    app.world_mut().resource_mut::<Orders>().0 = vec![command()];
    for _ in 0..3 {
        app.update();
    }
    assert_eq!(
        agency.agent::<Tally>("tally")?.version()?,
        0,
        "nothing appended"
    );
    assert_eq!(
        app.world().resource::<AtCompletion>().0,
        [(None, 0)],
        "no event was appended, so no first offset"
    );
    assert_eq!(
        agency.storage().cursor_position(orders.name(), &consumer)?,
        Some(1)
    );

    // Handled again (a redelivery): the earlier outcome, still no events.
    app.world_mut().resource_mut::<Orders>().0 = vec![command()];
    for _ in 0..3 {
        app.update();
    }
    assert_eq!(
        app.world().resource::<AtCompletion>().0,
        [(None, 0), (None, 0)]
    );
    Ok(())
}
