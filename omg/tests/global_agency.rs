//! The process-wide agency: `get` before `set` is a clear error, it is set
//! once, a second `set` is refused, and `get` returns the one that was set.
//! One test only: the global is process-wide.

use omg::{Agency, Delivery, Error};

#[test]
fn global_agency_is_set_once() -> omg::Result<()> {
    assert!(matches!(Agency::global(), Err(Error::GlobalNotSet)));

    let first = Agency::in_memory();
    first.topic::<u64>("marker", Delivery::exactly_once())?;
    first.set_global()?;

    let second = Agency::in_memory();
    assert!(matches!(second.set_global(), Err(Error::GlobalAlreadySet)));

    let global = Agency::global()?;
    let names: Vec<String> = global
        .topics()?
        .into_iter()
        .map(|spec| spec.name.as_str().to_owned())
        .collect();
    assert_eq!(names, ["marker"], "global() is the first agency");
    Ok(())
}
