//! A projection keeps its read model in its own SQLite tables, written in
//! the same transaction as its cursor positions: rows and positions never
//! disagree, even when a write fails.

use std::sync::Arc;

use omg::{Agency, Delivery, Name, agent::Projection};
use omg_sqlite::{SqlEffect, SqliteStorage};
use serde::{Deserialize, Serialize};

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
