//! The run-time figures of DESIGN §8: a topic's retained range, head and
//! storage figures, and each cursor's delivered, missed and lag counts.

use omg::{Agency, Delivery, RecvError, StartAt};

#[test]
fn an_at_most_once_topic_and_its_cursor_count_what_happened()
-> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let topic = agency.topic::<u64>("ring", Delivery::at_most_once_keep(3))?;
    let mut cursor = topic.cursor(StartAt::Earliest)?;
    let publisher = topic.publisher();
    for n in 0..10 {
        publisher.publish(n)?;
    }
    let stats = topic.stats()?;
    assert_eq!((stats.first_offset, stats.next_offset), (7, 10));
    assert_eq!(stats.retained(), 3);
    assert_eq!(stats.pending_writes, 0);
    assert_eq!(stats.last_commit_latency, None);

    assert!(matches!(cursor.recv(), Err(RecvError::Lagged(7))));
    assert_eq!(cursor.recv()?.value, 7);
    assert_eq!(
        (cursor.delivered(), cursor.missed(), cursor.lag()?),
        (1, 7, 2)
    );
    while cursor.try_recv().is_ok() {}
    assert_eq!(
        (cursor.delivered(), cursor.missed(), cursor.lag()?),
        (3, 7, 0)
    );
    Ok(())
}

#[test]
fn a_durable_topic_reports_its_head_and_storage_figures() -> Result<(), Box<dyn std::error::Error>>
{
    let agency = Agency::in_memory();
    let topic = agency.topic::<String>("log", Delivery::ExactlyOnce)?;
    let publisher = topic.publisher();
    for word in ["a", "b", "c", "d"] {
        publisher.publish(word.to_owned())?;
    }
    let stats = topic.stats()?;
    assert_eq!((stats.first_offset, stats.next_offset), (0, 4));
    // The in-memory storage completes every write inline.
    assert_eq!(stats.pending_writes, 0);
    assert_eq!(stats.last_commit_latency, None);

    let mut cursor = topic.cursor(StartAt::Offset(1))?;
    assert_eq!(cursor.recv()?.value, "b");
    assert_eq!(
        (cursor.delivered(), cursor.missed(), cursor.lag()?),
        (1, 0, 2)
    );
    Ok(())
}
