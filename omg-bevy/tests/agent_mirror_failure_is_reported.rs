//! An `AgentMirror` that can no longer follow its agent reports it once as
//! `MirrorFailed<S>` and stops, keeping the state of the last event it
//! applied: for a stored event that no longer decodes (written by an older
//! event type under the same stable name), and for an agency shut down
//! under a running app.

mod common;

use std::sync::Arc;

use omg::{
    Agency,
    agent::AgentState,
    storage::{MemoryStorage, Storage},
};
use omg_bevy::{AgentMirror, MirrorFailed, OmgAppExt};
use serde::{Deserialize, Serialize};

use common::{app, this_frame};

#[derive(Debug, thiserror::Error)]
#[error("never")]
struct Never;

/// The event type the agent's stored events were written with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum LevelV1 {
    Raised(u32),
}

/// Its incompatible replacement under the same stable name, without an
/// upcaster: a `u32` below 128 is one byte, as a `u8` is, but 200 is two,
/// so an old `Raised(200)` leaves a byte over.
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
    type Error = Never;
    fn apply(&mut self, LevelV1::Raised(n): &LevelV1) {
        self.0 += u64::from(*n);
    }
    fn handle(&self, n: &u32) -> Result<Vec<LevelV1>, Never> {
        Ok(vec![LevelV1::Raised(*n)])
    }
    fn event_type_name() -> std::borrow::Cow<'static, str> {
        "test.LevelEvent".into()
    }
}

impl AgentState for Level {
    type Event = LevelV2;
    type Command = u8;
    type Error = Never;
    fn apply(&mut self, LevelV2::Raised(n): &LevelV2) {
        self.0 += u64::from(*n);
    }
    fn handle(&self, n: &u8) -> Result<Vec<LevelV2>, Never> {
        Ok(vec![LevelV2::Raised(*n)])
    }
    fn event_type_name() -> std::borrow::Cow<'static, str> {
        "test.LevelEvent".into()
    }
}

fn agency_over(storage: &Arc<MemoryStorage>) -> Agency {
    let storage: Arc<dyn Storage> = storage.clone();
    Agency::builder().storage(storage).build()
}

/// (mirrored level, version, closed).
fn mirror(app: &bevy_app::App) -> (u64, u64, bool) {
    let mirror = app.world().resource::<AgentMirror<Level>>();
    (mirror.state().0, mirror.version(), mirror.is_closed())
}

#[test]
fn an_event_that_no_longer_decodes_stops_the_mirror() -> Result<(), Box<dyn std::error::Error>> {
    // A previous run stored Raised(5) and Raised(200) with the old type.
    let storage = Arc::new(MemoryStorage::new());
    {
        let agency = agency_over(&storage);
        let old = agency.agent::<OldLevel>("level")?;
        old.execute(5)?;
        old.execute(200)?;
        agency.shutdown();
    }
    let agency = agency_over(&Arc::new(storage.reopened()));
    let mut app = app(&agency);
    app.add_omg_agent(agency.agent::<Level>("level")?);

    // Frame 1 applies offset 0, then stops at offset 1 and says why.
    app.update();
    assert_eq!(mirror(&app), (5, 1, true));
    let failed = this_frame::<MirrorFailed<Level>>(&app);
    assert_eq!(failed.len(), 1);
    match &failed[0].error {
        omg::Error::Decode {
            topic,
            offset,
            type_name,
            reason,
        } => {
            assert_eq!(topic.as_str(), ".agent/level/events");
            assert_eq!(*offset, 1);
            assert_eq!(type_name, std::any::type_name::<LevelV2>());
            assert_eq!(reason, "1 bytes left over after the event");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }

    // Reported once; the mirror keeps the last state it could build.
    app.update();
    assert!(this_frame::<MirrorFailed<Level>>(&app).is_empty());
    assert_eq!(mirror(&app), (5, 1, true));
    Ok(())
}

#[test]
fn agency_shutdown_stops_the_mirror() -> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let level = agency.agent::<Level>("level")?;
    level.execute(3)?;
    level.execute(4)?;
    let mut app = app(&agency);
    app.add_omg_agent(level);
    app.update();
    assert_eq!(mirror(&app), (7, 2, false));
    assert!(this_frame::<MirrorFailed<Level>>(&app).is_empty());

    agency.shutdown();
    app.update();
    let failed = this_frame::<MirrorFailed<Level>>(&app);
    assert_eq!(failed.len(), 1);
    assert!(
        matches!(failed[0].error, omg::Error::ShutDown),
        "{:?}",
        failed[0].error
    );
    assert_eq!(mirror(&app), (7, 2, true));

    app.update();
    assert!(this_frame::<MirrorFailed<Level>>(&app).is_empty());
    assert_eq!(mirror(&app), (7, 2, true));
    Ok(())
}
