//! Helpers shared by the scenario tests: a frame counter, a collector of
//! received messages, and a storage whose commits the test controls.
#![allow(dead_code, reason = "each scenario uses a part of the helpers")]

use std::{
    sync::{Arc, Mutex, Weak},
    time::{Duration, Instant},
};

use bevy_app::{App, First, Update};
use bevy_ecs::prelude::*;
use omg::{
    Agency, Name, Timestamp,
    storage::{
        Admission, Completer, Completion, MemoryStorage, ReadBuf, ReadInfo, Storage, SubmitError,
        TopicInfo, TopicSpec, TopicWatcher, WriteBatch,
    },
};
use omg_bevy::{OmgPlugin, Received};

/// The number of the frame being run: 1 in the first `App::update`.
#[derive(Resource, Default, Debug)]
pub(crate) struct Frame(pub u64);

fn count_frames(mut frame: ResMut<'_, Frame>) {
    frame.0 += 1;
}

/// Every `Received<T>` seen by a system that runs every frame in `Update`:
/// (frame, offset, value).
#[derive(Resource, Debug)]
pub(crate) struct Seen<T>(pub Vec<(u64, u64, T)>);

impl<T> Default for Seen<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T: Clone> Seen<T> {
    /// The values, in order.
    pub(crate) fn values(&self) -> Vec<T> {
        self.0.iter().map(|(_, _, v)| v.clone()).collect()
    }

    /// How many were seen in `frame`.
    pub(crate) fn in_frame(&self, frame: u64) -> usize {
        self.0.iter().filter(|(f, _, _)| *f == frame).count()
    }
}

fn collect<T: omg::Message>(
    frame: Res<'_, Frame>,
    mut messages: MessageReader<'_, '_, Received<T>>,
    mut seen: ResMut<'_, Seen<T>>,
) {
    for message in messages.read() {
        seen.0
            .push((frame.0, message.offset, message.value.clone()));
    }
}

/// An app with `OmgPlugin`, a frame counter in `First`.
pub(crate) fn app(agency: &Agency) -> App {
    let mut app = App::new();
    app.add_plugins(OmgPlugin::new(agency.clone()))
        .init_resource::<Frame>()
        .add_systems(First, count_frames);
    app
}

/// Collects `Received<T>` into `Seen<T>` every frame.
pub(crate) fn collect_received<T: omg::Message>(app: &mut App) {
    app.init_resource::<Seen<T>>()
        .add_systems(Update, collect::<T>);
}

/// Updates the app until `done` or `timeout`; returns the frames run.
pub(crate) fn update_until(app: &mut App, timeout: Duration, done: impl Fn(&App) -> bool) -> u64 {
    let deadline = Instant::now() + timeout;
    let mut frames = 0;
    while !done(app) {
        assert!(
            Instant::now() < deadline,
            "not done after {frames} frames ({timeout:?})"
        );
        app.update();
        frames += 1;
        std::thread::sleep(Duration::from_millis(1));
    }
    frames
}

/// The messages of type `M` written since the last `First` (this frame's).
pub(crate) fn this_frame<M: Message + Clone>(app: &App) -> Vec<M> {
    app.world()
        .resource::<Messages<M>>()
        .iter_current_update_messages()
        .cloned()
        .collect()
}

/// A memory storage whose commits the test controls: it can refuse
/// `IfRoom` batches as if its queue were full, hold batches until
/// [`GatedStorage::release`], or fail the next batch.
#[derive(Debug, Default)]
pub(crate) struct GatedStorage {
    inner: MemoryStorage,
    gate: Mutex<Gate>,
}

#[derive(Debug, Default)]
struct Gate {
    refuse: usize,
    held: bool,
    queue: Vec<(WriteBatch, Completer)>,
    fail_next: Option<omg::Error>,
}

impl GatedStorage {
    /// An agency over a new gated storage, and the storage.
    pub(crate) fn agency() -> (Agency, Arc<Self>) {
        let storage = Arc::new(Self::default());
        let agency = Agency::builder().storage(storage.clone()).build();
        (agency, storage)
    }

    /// Refuses the next `n` batches submitted with `Admission::IfRoom`.
    pub(crate) fn refuse_next(&self, n: usize) {
        self.gate().refuse = n;
    }

    /// Holds every batch until [`release`](Self::release).
    pub(crate) fn hold(&self) {
        self.gate().held = true;
    }

    /// Commits the held batches in order and stops holding; returns how many.
    pub(crate) fn release(&self) -> usize {
        let queue = {
            let mut gate = self.gate();
            gate.held = false;
            std::mem::take(&mut gate.queue)
        };
        let n = queue.len();
        for (batch, completer) in queue {
            completer.complete(self.commit(batch));
        }
        n
    }

    /// Fails the next batch with `error` (reported through its completion).
    pub(crate) fn fail_next(&self, error: omg::Error) {
        self.gate().fail_next = Some(error);
    }

    fn commit(&self, batch: WriteBatch) -> omg::storage::BatchOutcome {
        match self.inner.submit(batch, Admission::Queue) {
            Ok(completion) => completion.wait(),
            Err(SubmitError::Failed(e, _)) => Err(e),
            Err(SubmitError::Full(_)) => unreachable!("memory storage queues everything"),
        }
    }

    fn gate(&self) -> std::sync::MutexGuard<'_, Gate> {
        self.gate
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Storage for GatedStorage {
    fn declare(&self, spec: &TopicSpec, watcher: Weak<dyn TopicWatcher>) -> omg::Result<TopicInfo> {
        self.inner.declare(spec, watcher)
    }

    fn describe(&self, topic: &Name) -> omg::Result<Option<TopicSpec>> {
        self.inner.describe(topic)
    }

    fn topics(&self) -> omg::Result<Vec<TopicSpec>> {
        self.inner.topics()
    }

    fn delete_topic(&self, topic: &Name) -> omg::Result<bool> {
        self.inner.delete_topic(topic)
    }

    fn submit(&self, batch: WriteBatch, admission: Admission) -> Result<Completion, SubmitError> {
        let mut gate = self.gate();
        if gate.refuse > 0 && admission.may_refuse() {
            gate.refuse -= 1;
            return Err(SubmitError::Full(batch));
        }
        if let Some(error) = gate.fail_next.take() {
            return Ok(Completion::ready(Err(error)));
        }
        if gate.held {
            let (completer, completion) = Completion::pending();
            gate.queue.push((batch, completer));
            return Ok(completion);
        }
        drop(gate);
        self.inner.submit(batch, admission)
    }

    fn read(
        &self,
        topic: &Name,
        from: u64,
        max: usize,
        out: &mut ReadBuf,
    ) -> omg::Result<ReadInfo> {
        self.inner.read(topic, from, max, out)
    }

    fn offset_at(&self, topic: &Name, time: Timestamp) -> omg::Result<u64> {
        self.inner.offset_at(topic, time)
    }

    fn cursor_position(&self, topic: &Name, cursor: &Name) -> omg::Result<Option<u64>> {
        self.inner.cursor_position(topic, cursor)
    }

    fn trim_expired(&self, now: Timestamp) -> omg::Result<u64> {
        self.inner.trim_expired(now)
    }

    fn close(&self) {
        self.release();
        self.inner.close();
    }
}
