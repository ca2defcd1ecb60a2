//! A named cursor handed to the plugin is committed one frame after the
//! messages were read, never before the frame's systems ran: an app that
//! stops right after reading gets the messages again from its named cursor
//! (at-least-once), and one that ran another frame does not.

mod common;

use bevy_app::App;
use omg::{Agency, CommitPolicy, Delivery, StartAt, Topic};
use omg_bevy::OmgAppExt;

use common::{Seen, app, collect_received};

fn game(agency: &Agency, topic: &Topic<u32>) -> Result<App, omg::Error> {
    let mut app = app(agency);
    app.add_omg_reader(topic.named_cursor("game", StartAt::Earliest)?);
    collect_received::<u32>(&mut app);
    Ok(app)
}

fn committed(topic: &Topic<u32>) -> Result<u64, omg::Error> {
    Ok(topic.named_cursor("game", StartAt::Earliest)?.position())
}

#[test]
fn named_cursor_commits_after_the_frame() -> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let topic = agency.topic::<u32>("moves", Delivery::exactly_once())?;
    for i in 0..3 {
        topic.publisher().publish(i)?;
    }

    // Stops after the frame that read the messages: nothing committed yet.
    let mut first = game(&agency, &topic)?;
    first.update();
    assert_eq!(first.world().resource::<Seen<u32>>().values(), [0, 1, 2]);
    drop(first);
    assert_eq!(committed(&topic)?, 0);

    // A restart reads them again; one more frame commits them.
    let mut second = game(&agency, &topic)?;
    second.update();
    assert_eq!(second.world().resource::<Seen<u32>>().values(), [0, 1, 2]);
    assert_eq!(committed(&topic)?, 0);
    topic.publisher().publish(3)?;
    second.update();
    assert_eq!(committed(&topic)?, 3);
    assert_eq!(
        second.world().resource::<Seen<u32>>().values(),
        [0, 1, 2, 3]
    );
    drop(second);

    // Only the message of the last frame comes again.
    let mut third = game(&agency, &topic)?;
    third.update();
    assert_eq!(third.world().resource::<Seen<u32>>().values(), [3]);

    // BeforeProcessing keeps committing as it reads.
    let mut eager = common::app(&agency);
    eager.add_omg_reader(
        topic
            .named_cursor("eager", StartAt::Earliest)?
            .with_commit_policy(CommitPolicy::BeforeProcessing),
    );
    eager.update();
    drop(eager);
    // The background commit of the last message is in the storage now.
    assert_eq!(
        topic.named_cursor("eager", StartAt::Earliest)?.position(),
        4
    );
    Ok(())
}
