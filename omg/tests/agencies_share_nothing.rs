//! Two agencies in one process share no topics, messages or shutdown.

use omg::{Agency, Delivery, Error, StartAt, TryRecvError};

#[test]
fn agencies_share_nothing() -> omg::Result<()> {
    let a = Agency::in_memory();
    let b = Agency::in_memory();
    for (i, delivery) in [Delivery::at_most_once_keep(4), Delivery::exactly_once()]
        .into_iter()
        .enumerate()
    {
        let name = format!("same{i}");
        let in_a = a.topic::<u64>(&name, delivery)?;
        // Another class under the same name is fine in another agency.
        let in_b = b.topic::<String>(&name, Delivery::at_least_once())?;
        let mut cursor_b = in_b.cursor(StartAt::Earliest)?;
        assert_eq!(in_a.publisher().publish(1)?, 0);
        assert!(matches!(cursor_b.try_recv(), Err(TryRecvError::Empty)));
        assert_eq!(in_b.publisher().publish("b".into())?, 0);
    }
    a.shutdown();
    assert!(matches!(
        a.topic::<u64>("x", Delivery::exactly_once()),
        Err(Error::ShutDown)
    ));
    assert!(!b.is_shut_down());
    let topic = b.topic::<u64>("x", Delivery::exactly_once())?;
    assert_eq!(topic.publisher().publish(7)?, 0);
    Ok(())
}
