//! A message that writes part of itself through `collect_str` (as
//! `serde_with::DisplayFromStr`, chrono's `DateTime` and `fmt::Arguments`
//! do) publishes to a durable topic at any size: beyond the encoder's stack
//! buffer postcard reports the overflow as a `collect_str` error, not as a
//! full buffer, and the encoder must still move on to its growable buffer.

use std::fmt;

use omg::{Agency, Delivery, StartAt};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A string serialized through `collect_str` (via `Display`).
#[derive(Debug, Clone, PartialEq)]
struct Shown(String);

impl Serialize for Shown {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct D<'a>(&'a str);
        impl fmt::Display for D<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0)
            }
        }
        s.collect_str(&D(&self.0))
    }
}

impl<'de> Deserialize<'de> for Shown {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Shown)
    }
}

#[test]
fn a_collect_str_message_over_128_bytes_publishes_durably() -> omg::Result<()> {
    let agency = Agency::in_memory();
    let topic = agency.topic::<Shown>("shown", Delivery::exactly_once())?;
    let mut cursor = topic.cursor(StartAt::Earliest)?;
    let message = Shown("x".repeat(200));
    let offset = topic.publisher().publish(message.clone())?;
    assert_eq!(offset, 0);
    let record = cursor.try_recv();
    assert_eq!(record.ok().map(|r| r.value), Some(message));
    Ok(())
}

#[test]
fn a_short_collect_str_message_publishes_durably() -> omg::Result<()> {
    let agency = Agency::in_memory();
    let topic = agency.topic::<Shown>("shown", Delivery::exactly_once())?;
    topic.publisher().publish(Shown("x".repeat(20)))?;
    Ok(())
}
