//! A handler's name is free text: one with a NUL byte (which std refuses in
//! a thread's name, by panicking) runs like any other and keeps its name.

use std::sync::mpsc;

use omg::{Agency, Delivery, StartAt};
use omg_std::{Handler, HandlerStatus, Host};

#[test]
fn a_handler_named_with_a_nul_byte_runs() -> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let topic = agency.topic::<u8>("in", Delivery::exactly_once())?;
    let host = Host::new(&agency);
    let (seen, got) = mpsc::channel();
    let handler = host.spawn_handler(Handler::new("odd\0name", move || seen.clone()).subscribe(
        topic.cursor(StartAt::Earliest)?,
        |seen, message| {
            seen.send(*message.value()).ok();
            Ok(())
        },
    ))?;
    topic.publisher().publish(7)?;
    assert_eq!(got.recv_timeout(std::time::Duration::from_secs(10))?, 7);
    assert_eq!(handler.name(), "odd\0name");
    host.handle().shutdown()?;
    assert_eq!(handler.status(), HandlerStatus::Stopped);
    assert_eq!(handler.stats().handled, 1);
    Ok(())
}
