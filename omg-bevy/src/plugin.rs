//! The plugin, the Agency resource and the schedule sets.

use std::ops::Deref;

use bevy_app::{App, Main, Plugin, PreUpdate};
use bevy_ecs::{
    resource::Resource,
    schedule::{IntoScheduleConfigs, SystemSet},
};
use omg::Agency;

use crate::blocking;

/// Puts an [`Agency`] into the World as the [`OmgAgency`] resource,
/// configures the [`OmgSystems`] sets in [`PreUpdate`], and makes blocking
/// omg calls inside a frame fail (see [the `blocking` docs](crate#blocking)).
///
/// Topics are then registered with [`OmgAppExt`](crate::OmgAppExt).
#[derive(Debug, Clone)]
pub struct OmgPlugin {
    agency: Agency,
}

impl OmgPlugin {
    /// A plugin for `agency`.
    pub fn new(agency: Agency) -> Self {
        Self { agency }
    }
}

impl Plugin for OmgPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(OmgAgency(self.agency.clone()));
        configure(app);
    }
}

/// The app's [`Agency`], as a resource. Derefs to the agency.
#[derive(Resource, Debug, Clone)]
pub struct OmgAgency(pub Agency);

impl Deref for OmgAgency {
    type Target = Agency;

    fn deref(&self) -> &Agency {
        &self.0
    }
}

/// The system sets omg-bevy's systems run in, both in [`PreUpdate`], in
/// this order:
///
/// 1. [`Flush`](OmgSystems::Flush): publishes the messages a full write
///    queue refused last frame, polls the receipts of durable publishes and
///    agent commands, and writes their outcomes as
///    [`Published`](crate::Published) / [`PublishFailed`](crate::PublishFailed)
///    / [`CommandFailed`](crate::CommandFailed) messages.
/// 2. [`Read`](OmgSystems::Read): drains every registered cursor into
///    [`Received`](crate::Received) messages (and [`Lagged`](crate::Lagged) /
///    [`ReadFailed`](crate::ReadFailed)), applies new agent events to
///    their [`AgentMirror`](crate::AgentMirror)s, and writes
///    [`CommandExecuted`](crate::CommandExecuted) for each committed command
///    once its mirror holds the command's events (a command with more events
///    than the mirror's per-frame budget is reported in the frame its last
///    event is applied).
///
/// Systems in `Update`, `PostUpdate` and `Last` see this frame's messages;
/// a `PreUpdate` system must be ordered `.after(OmgSystems::Read)` to.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OmgSystems {
    /// Retries refused publishes and reports completed writes.
    Flush,
    /// Drains cursors into Messages and updates agent mirrors.
    Read,
}

/// Marks an app whose sets and blocking guard are configured.
#[derive(Resource)]
struct Configured;

/// Configures the sets and the blocking guard once per app. Called by the
/// plugin and by every [`OmgAppExt`](crate::OmgAppExt) method, so the order
/// in which they are added does not matter.
pub(crate) fn configure(app: &mut App) {
    if app.world().contains_resource::<Configured>() {
        return;
    }
    app.insert_resource(Configured);
    app.configure_sets(PreUpdate, (OmgSystems::Flush, OmgSystems::Read).chain());
    blocking::register();
    app.add_systems(
        Main,
        (
            blocking::enter_frame.before(Main::run_main),
            blocking::leave_frame.after(Main::run_main),
        ),
    );
}
