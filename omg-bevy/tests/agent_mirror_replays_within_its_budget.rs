//! An agent with a long history is replayed into its mirror over several
//! frames, at most the mirror's budget of events per frame; the resource is
//! marked changed exactly in the frames that applied events.

mod common;

use bevy_app::Update;
use bevy_ecs::prelude::*;
use omg::{Agency, agent::AgentState};
use omg_bevy::{AgentMirror, OmgAppExt};
use serde::{Deserialize, Serialize};

use common::app;

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
        Ok(vec![*n])
    }
}

/// (version, changed) as seen by a system each frame.
#[derive(Resource, Default)]
struct Observed(Vec<(u64, bool)>);

fn observe(mirror: Res<'_, AgentMirror<Tally>>, mut seen: ResMut<'_, Observed>) {
    seen.0.push((mirror.version(), mirror.is_changed()));
}

#[test]
fn agent_mirror_replays_within_its_budget() -> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let tally = agency.agent::<Tally>("tally")?;
    for n in 0..10 {
        tally.execute(n)?;
    }

    let mut app = app(&agency);
    app.add_omg_agent(tally.clone())
        .init_resource::<Observed>()
        .add_systems(Update, observe);
    app.world_mut()
        .resource_mut::<AgentMirror<Tally>>()
        .set_budget(4);
    for _ in 0..5 {
        app.update();
    }
    // Frame 1 also sees the resource as newly added.
    assert_eq!(
        app.world().resource::<Observed>().0,
        [(4, true), (8, true), (10, true), (10, false), (10, false)]
    );
    let mirror = app.world().resource::<AgentMirror<Tally>>();
    assert_eq!(mirror.state().events, (0..10).collect::<Vec<_>>());
    assert!(!mirror.is_closed());
    Ok(())
}
