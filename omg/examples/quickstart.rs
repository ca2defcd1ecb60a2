//! A tour of omg's core on the in-memory storage: three delivery classes,
//! three API flavours.

use omg::{Agency, Delivery, RecvError, StartAt};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let agency = Agency::in_memory();

    let orders = agency.topic::<String>("orders", Delivery::exactly_once())?;
    let publisher = orders.publisher();
    let reader = std::thread::spawn({
        let mut cursor = orders.named_cursor("kitchen", StartAt::Earliest)?;
        move || -> Result<Vec<String>, RecvError> {
            let mut seen = Vec::new();
            for _ in 0..3 {
                let record = cursor.recv()?;
                println!("kitchen got #{} {:?}", record.offset, record.value);
                seen.push(record.value);
            }
            cursor.commit()?;
            Ok(seen)
        }
    });
    publisher.publish_keyed("o-1", "espresso".into())?;
    publisher.publish_keyed("o-1", "espresso".into())?; // a retry: appended once
    publisher.publish("latte".into())?;
    let mut receipt = publisher
        .try_publish("mocha".into())
        .map_err(|e| e.to_string())?;
    println!("try_publish receipt: {:?}", receipt.try_result());
    let seen = reader.join().map_err(|_| "reader panicked")??;
    assert_eq!(seen, ["espresso", "latte", "mocha"]);

    let ticks = agency.topic::<u64>("ticks", Delivery::at_most_once_keep(4))?;
    let mut slow = ticks.cursor(StartAt::Earliest)?;
    for tick in 0..10 {
        ticks.publisher().publish(tick)?;
    }
    match slow.try_recv() {
        Err(omg::TryRecvError::Lagged(missed)) => println!("slow reader missed {missed} ticks"),
        other => println!("unexpected: {other:?}"),
    }
    println!(
        "topics: {:?}",
        agency
            .topics()?
            .iter()
            .map(|t| t.name.to_string())
            .collect::<Vec<_>>()
    );
    agency.shutdown();
    Ok(())
}
