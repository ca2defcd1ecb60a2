//! A projection keeps its read model in its own SQLite tables, written in
//! the same transaction as its cursor positions: rows and positions never
//! disagree, even when a write fails — and an effect that fails, even by
//! panicking, fails its own batch only.

use std::{sync::Arc, time::Duration};

use omg::{
    Agency, Delivery, Name, StorageErrorKind,
    agent::Projection,
    storage::{Admission, Storage, SubmitError, WriteBatch},
};
use omg_sqlite::{SqlEffect, SqliteStorage};
use serde::{Deserialize, Serialize};

mod common;

use common::{append, blocker, declare, options, payloads, queue, spec};

/// The model keeps only the SQL it still has to write.
#[derive(Debug, Default, Serialize, Deserialize)]
struct StockSql {
    #[serde(skip)]
    pending: Vec<SqlEffect>,
}

fn upsert(item: String, qty: i64) -> SqlEffect {
    SqlEffect::new(move |conn| {
        conn.execute(
            "CREATE TABLE IF NOT EXISTS stock (item TEXT PRIMARY KEY, qty INTEGER NOT NULL CHECK (qty >= 0))",
            [],
        )?;
        // Update first: SQLite checks CHECK constraints on an UPSERT's
        // candidate row before it sees the conflict.
        let updated = conn.execute(
            "UPDATE stock SET qty = qty + ?2 WHERE item = ?1",
            rusqlite::params![item, qty],
        )?;
        if updated == 0 {
            conn.execute(
                "INSERT INTO stock (item, qty) VALUES (?1, ?2)",
                rusqlite::params![item, qty],
            )?;
        }
        Ok(())
    })
}

fn open(path: &std::path::Path) -> Result<(Agency, Projection<StockSql>), omg::Error> {
    let agency = Agency::builder()
        .storage(Arc::new(SqliteStorage::open(path)?))
        .build();
    let moves = agency.topic::<(String, i64)>("moves", Delivery::exactly_once())?;
    let projection = Projection::<StockSql>::builder(&agency, "stock")?
        .source(&moves, |sql, r| {
            sql.pending.push(upsert(r.value.0.clone(), r.value.1))
        })?
        .effects(|sql| sql.pending.drain(..).map(Into::into).collect())
        .build()?;
    Ok((agency, projection))
}

fn stock(path: &std::path::Path) -> Vec<(String, i64)> {
    let conn = rusqlite::Connection::open(path).expect("open");
    let mut statement = conn
        .prepare("SELECT item, qty FROM stock ORDER BY item")
        .expect("prepare");
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn position(agency: &Agency) -> Option<u64> {
    agency
        .storage()
        .cursor_position(
            &Name::new("moves").expect("name"),
            &Name::new("stock").expect("name"),
        )
        .expect("position")
}

#[test]
fn rows_and_positions_commit_together() -> Result<(), omg::Error> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("omg.db");
    {
        let (agency, mut projection) = open(&path)?;
        let moves = agency
            .topic::<(String, i64)>("moves", Delivery::exactly_once())?
            .publisher();
        moves.publish(("apple".into(), 10))?;
        moves.publish(("pear".into(), 3))?;
        moves.publish(("apple".into(), -4))?;
        let progress = projection.catch_up()?;
        assert_eq!(progress.applied, 3);
        assert_eq!(
            stock(&path),
            [("apple".to_string(), 6), ("pear".to_string(), 3)]
        );
        assert_eq!(position(&agency), Some(3));

        // A move the table refuses (stock would go negative) fails the whole
        // checkpoint: no row changes and the cursor does not move.
        moves.publish(("pear".into(), -5)).expect("publish pear");
        let err = projection.catch_up().unwrap_err();
        assert!(err.to_string().contains("CHECK constraint failed"), "{err}");
        assert_eq!(
            stock(&path),
            [("apple".to_string(), 6), ("pear".to_string(), 3)]
        );
        assert_eq!(position(&agency), Some(3));
        agency.shutdown();
    }
    // After a restart the refused move is read again (at-least-once), and the
    // rows already written are not written twice.
    let (agency, mut projection) = open(&path)?;
    let moves = agency
        .topic::<(String, i64)>("moves", Delivery::exactly_once())?
        .publisher();
    moves.publish(("plum".into(), 1))?;
    let err = projection.catch_up().unwrap_err();
    assert!(err.to_string().contains("CHECK constraint failed"), "{err}");
    assert_eq!(
        stock(&path),
        [("apple".to_string(), 6), ("pear".to_string(), 3)]
    );
    assert_eq!(position(&agency), Some(3));
    Ok(())
}

#[test]
fn the_in_memory_storage_refuses_sql_effects_instead_of_dropping_them() -> Result<(), omg::Error> {
    let agency = Agency::in_memory();
    let moves = agency.topic::<(String, i64)>("moves", Delivery::exactly_once())?;
    let mut projection = Projection::<StockSql>::builder(&agency, "stock")?
        .source(&moves, |sql, r| {
            sql.pending.push(upsert(r.value.0.clone(), r.value.1))
        })?
        .effects(|sql| sql.pending.drain(..).map(Into::into).collect())
        .build()?;
    moves.publisher().publish(("apple".into(), 1))?;
    let err = projection.catch_up().unwrap_err();
    assert!(
        matches!(
            err,
            omg::Error::Unsupported {
                what: "a backend effect of this type",
                ..
            }
        ),
        "{err}"
    );
    let stored = agency
        .storage()
        .cursor_position(&Name::new("moves")?, &Name::new("stock")?)?;
    assert_eq!(stored, None, "the failed checkpoint committed nothing");
    Ok(())
}

/// A batch whose SQL effect panics fails alone, with a storage error naming
/// the panic: the batches around it in the same transaction commit, and
/// the storage keeps working.
#[test]
fn a_panicking_sql_effect_fails_only_its_own_batch() -> Result<(), omg::Error> {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStorage::open_with(dir.path().join("omg.db"), options(Duration::from_millis(5)))?;
    let _t = declare(&s, &spec("t", Delivery::ExactlyOnce));
    let busy = queue(&s, blocker(200));
    std::thread::sleep(Duration::from_millis(50));
    let before = queue(&s, WriteBatch::append(append("t", 1)));
    let mut bad = WriteBatch::append(append("t", 9));
    bad.push_effect(SqlEffect::new(|_| panic!("a bug in a projection's SQL effect")).into());
    let bad = queue(&s, bad);
    let after = queue(&s, WriteBatch::append(append("t", 2)));
    busy.wait()?;
    match bad.wait() {
        Err(omg::Error::Storage(e)) => {
            assert_eq!(e.kind(), StorageErrorKind::Other);
            assert!(
                e.to_string()
                    .contains("SQL effect panicked: a bug in a projection's SQL effect"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(before.wait()?[0].offset, 0);
    assert_eq!(after.wait()?[0].offset, 1);
    let later = match s.submit(WriteBatch::append(append("t", 3)), Admission::Queue) {
        Ok(c) => c.wait()?,
        Err(SubmitError::Failed(e, _)) => return Err(e),
        Err(SubmitError::Full(_)) => panic!("full"),
    };
    assert_eq!(later[0].offset, 2);
    assert_eq!(
        payloads(&s, "t"),
        [(0, vec![1]), (1, vec![2]), (2, vec![3])]
    );
    Ok(())
}
