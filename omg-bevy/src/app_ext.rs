//! Registering topics and agents with an [`App`].

use bevy_app::{App, PreUpdate};
use bevy_ecs::schedule::IntoScheduleConfigs;
use omg::{
    Cursor, Publisher,
    agent::{Agent, AgentState},
};

use crate::{
    OmgSystems,
    agent::{self, AgentMirror, AgentOutbox, CommandExecuted, CommandFailed, MirrorFailed},
    plugin::configure,
    reader::{self, Lagged, OmgReader, ReadFailed, Received},
    writer::{self, OmgOutbox, PublishFailed, Published},
};

/// Registers omg topics and agents with an [`App`].
///
/// Each registration is keyed by the message (or state) type: one reader
/// and one writer per `T`, one mirror per `S`. To read two topics carrying
/// the same Rust type, give them newtypes (`struct EuChat(String)`), as
/// Bevy does for its own messages.
pub trait OmgAppExt {
    /// Reads `cursor` into Bevy: each frame, in
    /// [`OmgSystems::Read`], up to [`OmgReader::budget`] messages become
    /// [`Received<T>`] messages, gaps become [`Lagged<T>`], errors
    /// [`ReadFailed<T>`]. The cursor's start position and kind (anonymous
    /// or named) are the caller's choice.
    ///
    /// A named cursor with [`CommitPolicy::AfterProcessing`](omg::CommitPolicy)
    /// (the default) or `Manual` is committed by the plugin, without
    /// waiting, at the start of the next frame's read: a message counts as
    /// processed once every system has had a frame to read it, so after a
    /// crash it is delivered again (at-least-once). With `BeforeProcessing`
    /// the cursor commits as it reads (at-most-once).
    ///
    /// # Panics
    /// If a reader of `T` is already registered in this app.
    fn add_omg_reader<T: omg::Message>(&mut self, cursor: Cursor<T>) -> &mut Self;

    /// Lets systems publish with `publisher` through [`OmgWriter<T>`](crate::OmgWriter);
    /// outcomes come back as [`Published<T>`] / [`PublishFailed<T>`].
    ///
    /// # Panics
    /// If a writer of `T` is already registered in this app.
    fn add_omg_writer<T: omg::Message>(&mut self, publisher: Publisher<T>) -> &mut Self;

    /// Mirrors `agent`'s state into the [`AgentMirror<S>`] resource and lets
    /// systems send it commands through [`AgentCommands<S>`](crate::AgentCommands);
    /// outcomes come back as [`CommandExecuted<S>`] / [`CommandFailed<S>`],
    /// a mirror that stopped as [`MirrorFailed<S>`].
    ///
    /// # Panics
    /// If an agent with state `S` is already registered in this app.
    fn add_omg_agent<S: AgentState>(&mut self, agent: Agent<S>) -> &mut Self;
}

impl OmgAppExt for App {
    fn add_omg_reader<T: omg::Message>(&mut self, cursor: Cursor<T>) -> &mut Self {
        configure(self);
        assert!(
            !self.world().contains_resource::<OmgReader<T>>(),
            "omg-bevy: a reader of {} is already registered; wrap one topic's type in a newtype",
            std::any::type_name::<T>(),
        );
        self.insert_resource(OmgReader::new(cursor))
            .add_message::<Received<T>>()
            .add_message::<Lagged<T>>()
            .add_message::<ReadFailed<T>>()
            .add_systems(PreUpdate, reader::drain::<T>.in_set(OmgSystems::Read))
    }

    fn add_omg_writer<T: omg::Message>(&mut self, publisher: Publisher<T>) -> &mut Self {
        configure(self);
        assert!(
            !self.world().contains_resource::<OmgOutbox<T>>(),
            "omg-bevy: a writer of {} is already registered; wrap one topic's type in a newtype",
            std::any::type_name::<T>(),
        );
        self.insert_resource(OmgOutbox::new(publisher))
            .add_message::<Published<T>>()
            .add_message::<PublishFailed<T>>()
            .add_systems(PreUpdate, writer::flush::<T>.in_set(OmgSystems::Flush))
    }

    fn add_omg_agent<S: AgentState>(&mut self, agent: Agent<S>) -> &mut Self {
        configure(self);
        assert!(
            !self.world().contains_resource::<AgentMirror<S>>(),
            "omg-bevy: an agent with state {} is already registered",
            std::any::type_name::<S>(),
        );
        self.insert_resource(AgentOutbox::new(agent.clone()))
            .insert_resource(AgentMirror::new(agent))
            .add_message::<CommandExecuted<S>>()
            .add_message::<CommandFailed<S>>()
            .add_message::<MirrorFailed<S>>()
            .add_systems(
                PreUpdate,
                (
                    agent::flush_commands::<S>.in_set(OmgSystems::Flush),
                    agent::follow::<S>.in_set(OmgSystems::Read),
                ),
            )
    }
}
