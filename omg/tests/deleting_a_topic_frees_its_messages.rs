//! Deleting a durable topic frees its messages at once, although the
//! topic's handles (a `Topic` here) keep the in-memory storage's inline log
//! of it: the deleted log empties itself. Measured with the resident set
//! size (Linux's `/proc/self/statm`; the workspace forbids the unsafe code
//! a counting allocator needs), alone in its test binary.

use omg::{Agency, Delivery};

const MB: u64 = 1 << 20;

fn resident() -> Result<u64, Box<dyn std::error::Error>> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm.split_whitespace().nth(1).ok_or("statm")?.parse()?;
    Ok(pages * 4096)
}

#[test]
fn deleting_a_topic_frees_its_messages_while_a_handle_lives()
-> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let topic = agency.topic::<Vec<u8>>("big", Delivery::exactly_once())?;
    let publisher = topic.publisher();
    for _ in 0..400 {
        publisher.publish(vec![7u8; 100_000])?;
    }
    drop(publisher);
    let before = resident()?;
    assert!(agency.delete_topic("big")?);
    let freed = before.saturating_sub(resident()?);
    assert!(
        freed > 30 * MB,
        "deleting ~38 MB of messages freed {} MB while a Topic handle lives",
        freed / MB
    );
    drop(topic);
    Ok(())
}
