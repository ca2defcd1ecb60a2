//! Projections: a read model checkpointed in the same batch as its cursors
//! resumes exactly after a restart, and can be rebuilt from scratch.

use std::{collections::BTreeMap, sync::Arc};

use omg::{
    Agency, Delivery, Timestamp,
    agent::Projection,
    storage::{MemoryStorage, Storage},
};

type Stock = BTreeMap<String, i64>;

fn agency_over(storage: &Arc<MemoryStorage>) -> Agency {
    let storage: Arc<dyn Storage> = storage.clone();
    Agency::builder().storage(storage).build()
}

fn stock(agency: &Agency) -> omg::Result<Projection<Stock>> {
    let received = agency.topic::<(String, i64)>("received", Delivery::exactly_once())?;
    let shipped = agency.topic::<(String, i64)>("shipped", Delivery::at_least_once())?;
    Projection::<Stock>::builder(agency, "stock")?
        .source(&received, |stock, r| {
            *stock.entry(r.value.0.clone()).or_default() += r.value.1
        })?
        .source(&shipped, |stock, r| {
            *stock.entry(r.value.0.clone()).or_default() -= r.value.1
        })?
        .build()
}

#[test]
fn a_projection_resumes_from_its_checkpoint_without_double_counting() -> omg::Result<()> {
    let storage = Arc::new(MemoryStorage::new());
    let agency = agency_over(&storage);
    let received = agency
        .topic::<(String, i64)>("received", Delivery::exactly_once())?
        .publisher();
    let shipped = agency
        .topic::<(String, i64)>("shipped", Delivery::at_least_once())?
        .publisher();
    received.publish(("apple".into(), 10))?;
    received.publish(("pear".into(), 4))?;
    shipped.publish(("apple".into(), 3))?;

    let mut projection = stock(&agency)?;
    let progress = projection.catch_up()?;
    assert_eq!((progress.applied, progress.missed), (3, 0));
    // Applied after the checkpoint but never checkpointed: lost with the "crash".
    received.publish(("apple".into(), 1))?;
    drop(projection);
    agency.shutdown();

    let agency = agency_over(&Arc::new(storage.reopened()));
    let mut projection = stock(&agency)?;
    assert_eq!(projection.model().get("apple"), Some(&7));
    let progress = projection.catch_up()?;
    assert_eq!(progress.applied, 1);
    assert_eq!(projection.model().get("apple"), Some(&8));
    assert_eq!(projection.model().get("pear"), Some(&4));

    projection.rebuild()?;
    assert!(projection.model().is_empty());
    assert_eq!(projection.catch_up()?.applied, 4);
    assert_eq!(projection.model().get("apple"), Some(&8));
    Ok(())
}

#[test]
fn a_projection_reports_messages_trimmed_before_it_read_them() -> omg::Result<()> {
    let agency = Agency::in_memory();
    let shipped = agency.topic::<(String, i64)>(
        "shipped",
        Delivery::at_least_once_retain(std::time::Duration::ZERO),
    )?;
    let mut projection = Projection::<Stock>::builder(&agency, "stock")?
        .source(&shipped, |stock, r| {
            *stock.entry(r.value.0.clone()).or_default() -= r.value.1
        })?
        .build()?;
    shipped.publisher().publish(("apple".into(), 1))?;
    shipped.publisher().publish(("apple".into(), 2))?;
    let later = Timestamp::from_micros(Timestamp::now().as_micros() + 1_000_000);
    assert_eq!(agency.storage().trim_expired(later)?, 2);
    shipped.publisher().publish(("pear".into(), 5))?;
    let progress = projection.try_catch_up()?;
    assert_eq!((progress.applied, progress.missed), (1, 2));
    assert_eq!(projection.model().get("pear"), Some(&-5));
    assert_eq!(projection.model().get("apple"), None);
    Ok(())
}
