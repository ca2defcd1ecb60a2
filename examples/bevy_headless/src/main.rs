//! A headless Bevy app ticking at 60 Hz (`TaskPoolPlugin` +
//! `ScheduleRunnerPlugin`) that reacts to omg topic messages published from
//! another thread, answers on another topic, and exits after a bounded time.
//!
//! A "sensor" thread publishes readings to the durable topic `readings`
//! every 40 ms and blocks on the `alerts` topic for the app's answers. The
//! app reads the readings as `Received<Reading>` messages, publishes an
//! `Alert` with `OmgWriter` for each reading over the threshold, and exits
//! when the sensor's last reading arrives — or, if something went wrong,
//! after a deadline, with an error code.
//!
//! `cargo run -p bevy_headless`; `BEVY_HEADLESS_READINGS` sets the number of
//! readings (default 30).

use std::{
    process::ExitCode,
    time::{Duration, Instant},
};

use bevy_app::{App, AppExit, ScheduleRunnerPlugin, TaskPoolPlugin, Update};
use bevy_ecs::prelude::*;
use omg::{Agency, Delivery, StartAt};
use omg_bevy::{Lagged, OmgAppExt, OmgPlugin, OmgWriter, PublishFailed, Received};
use serde::{Deserialize, Serialize};

/// What the sensor thread publishes.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Reading {
    celsius: f32,
    last: bool,
}

/// What the app publishes for a reading over the threshold.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Alert {
    reading_offset: u64,
    celsius: f32,
}

const THRESHOLD: f32 = 30.0;
const DEADLINE: Duration = Duration::from_secs(10);

/// When the app gives up.
#[derive(Resource)]
struct Deadline(Instant);

/// Frames run and readings seen, for the summary.
#[derive(Resource, Default)]
struct Stats {
    frames: u64,
    readings: u64,
    alerts: u64,
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bevy_headless: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let readings_count: u32 = std::env::var("BEVY_HEADLESS_READINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
        .max(1);
    let agency = Agency::in_memory();
    let readings = agency.topic::<Reading>("readings", Delivery::at_least_once())?;
    let alerts = agency.topic::<Alert>("alerts", Delivery::at_least_once())?;

    // The sensor: a plain thread, blocking calls are fine here.
    let publisher = readings.publisher();
    let mut answers = alerts.cursor(StartAt::Earliest)?;
    let sensor = std::thread::spawn(move || -> omg::Result<usize> {
        for i in 0..readings_count {
            let celsius = 20.0 + (i % 7) as f32 * 3.0;
            publisher.publish(Reading {
                celsius,
                last: i + 1 == readings_count,
            })?;
            std::thread::sleep(Duration::from_millis(40));
        }
        // Collect the app's alerts that arrive within a second.
        let mut got = 0;
        while let Ok(Some(_)) = answers.recv_timeout(Duration::from_millis(200)) {
            got += 1;
        }
        Ok(got)
    });

    let exit = App::new()
        .add_plugins((
            TaskPoolPlugin::default(),
            ScheduleRunnerPlugin::run_loop(Duration::from_secs_f64(1.0 / 60.0)),
            OmgPlugin::new(agency.clone()),
        ))
        .add_omg_reader(readings.cursor(StartAt::Earliest)?)
        .add_omg_writer(alerts.publisher())
        .insert_resource(Deadline(Instant::now() + DEADLINE))
        .init_resource::<Stats>()
        .add_systems(Update, (react, report_problems, stop).chain())
        .run();

    let alerts_seen = sensor.join().map_err(|_| "the sensor thread panicked")??;
    println!("the sensor thread received {alerts_seen} alerts");
    Ok(match exit {
        AppExit::Success => ExitCode::SUCCESS,
        AppExit::Error(_) => ExitCode::FAILURE,
    })
}

/// Publishes an alert for each hot reading; counts frames and readings.
fn react(
    mut readings: MessageReader<'_, '_, Received<Reading>>,
    mut alerts: OmgWriter<'_, Alert>,
    mut stats: ResMut<'_, Stats>,
) {
    stats.frames += 1;
    for reading in readings.read() {
        stats.readings += 1;
        if reading.celsius > THRESHOLD {
            stats.alerts += 1;
            alerts.publish(Alert {
                reading_offset: reading.offset,
                celsius: reading.celsius,
            });
        }
    }
}

/// Nothing is dropped silently: say so when it happens.
fn report_problems(
    mut lagged: MessageReader<'_, '_, Lagged<Reading>>,
    mut failed: MessageReader<'_, '_, PublishFailed<Alert>>,
) {
    for l in lagged.read() {
        eprintln!("missed {} readings", l.missed);
    }
    for f in failed.read() {
        eprintln!("alert {:?} not published: {}", f.ticket, f.error);
    }
}

/// Exits after the last reading, or with an error at the deadline.
fn stop(
    mut readings: MessageReader<'_, '_, Received<Reading>>,
    deadline: Res<'_, Deadline>,
    stats: Res<'_, Stats>,
    mut exit: MessageWriter<'_, AppExit>,
) {
    if readings.read().any(|r| r.last) {
        println!(
            "done after {} frames: {} readings, {} alerts published",
            stats.frames, stats.readings, stats.alerts
        );
        exit.write(AppExit::Success);
    } else if Instant::now() >= deadline.0 {
        eprintln!("deadline passed after {} frames", stats.frames);
        exit.write(AppExit::error());
    }
}
