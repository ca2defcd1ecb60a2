//! Handlers may shut their own host down: two handlers asking at once do
//! not wait on each other, `wait` in the owner returns, the owner's
//! shutdown joins them, and the host then refuses new handlers.

use std::sync::{Arc, Barrier};

use omg::{Agency, Delivery, StartAt};
use omg_std::{Handler, HandlerStatus, Host, HostError};

#[test]
fn handlers_can_shut_their_host_down() -> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();
    let go = agency.topic::<u8>("go", Delivery::exactly_once())?;
    let host = Host::new(&agency);
    // Both hold their message when they ask, so both finish it.
    let both = Arc::new(Barrier::new(2));
    let mut handlers = Vec::new();
    for name in ["first", "second"] {
        let (handle, both) = (host.handle(), both.clone());
        handlers.push(host.spawn_handler(
            Handler::new(name, move || (handle.clone(), both.clone())).subscribe(
                go.named_cursor(name, StartAt::Earliest)?,
                |(handle, both), _| {
                    both.wait();
                    Ok(handle.shutdown()?)
                },
            ),
        )?);
    }
    go.publisher().publish(1)?;
    host.handle().wait();
    assert!(host.handle().is_shutting_down());
    host.handle().shutdown()?;
    for handler in &handlers {
        assert_eq!(
            handler.status(),
            HandlerStatus::Stopped,
            "{}",
            handler.name()
        );
        assert_eq!(handler.stats().handled, 1, "{}", handler.name());
    }
    assert!(matches!(
        host.spawn_handler(Handler::new("late", || ())),
        Err(HostError::ShuttingDown)
    ));
    // The message each handled was committed.
    for name in ["first", "second"] {
        assert_eq!(go.named_cursor(name, StartAt::Earliest)?.position(), 1);
    }
    Ok(())
}
