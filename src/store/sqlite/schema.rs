//! The log's tables, and the migration of a log written by an older warroom.
//!
//! Version 1: `events (seq, body)`, `commands`, `meta`.
//! Version 2 adds, all derived from the events and written with each append:
//! - `events.incident` and `events.kind`, with an index on `(incident, seq)` (an incident's
//!   events, to fold an archived one back) and one on the `step_fired` events (pages, for
//!   metrics);
//! - `incidents`: one row per incident, what search filters on and its summary;
//! - `words`: each incident's distinct words (title, service, entries), for search;
//! - `checkpoints`: the live state folded up to a seq, so a start-up folds only the tail.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use super::index;
use crate::store::StoreError;

/// The schema this warroom writes.
pub const SCHEMA_VERSION: u32 = 2;

const V1: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq  INTEGER PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (
    actor  TEXT NOT NULL,
    id     TEXT NOT NULL,
    answer TEXT NOT NULL,
    PRIMARY KEY (actor, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// What version 2 adds to version 1's tables (the new columns of `events` are added by
/// [`migrate`] on an old log, and are in `FRESH_EVENTS` on a new one).
const V2_INDEXES: &str = "
CREATE INDEX IF NOT EXISTS events_by_incident ON events (incident, seq);
CREATE INDEX IF NOT EXISTS events_fired ON events (seq) WHERE kind = 'step_fired';
CREATE TABLE IF NOT EXISTS incidents (
    ref         INTEGER PRIMARY KEY,
    declared_at INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    severity    INTEGER NOT NULL,
    active      INTEGER NOT NULL,
    service     TEXT,
    restricted  INTEGER NOT NULL,
    members     TEXT NOT NULL,
    last_seq    INTEGER NOT NULL,
    summary     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS words (
    incident INTEGER NOT NULL,
    word     TEXT NOT NULL,
    PRIMARY KEY (incident, word)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    seq   INTEGER PRIMARY KEY,
    state TEXT NOT NULL
);
";

const FRESH_EVENTS: &str = "
CREATE TABLE events (
    seq      INTEGER PRIMARY KEY,
    body     TEXT NOT NULL,
    incident INTEGER NOT NULL,
    kind     TEXT NOT NULL
);
";

/// Creates the tables of a new log, or migrates an older one, in one transaction: a crash
/// during the migration leaves the log as it was.
pub(super) fn prepare(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    let has_events: bool = tx
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if !has_events {
        tx.execute_batch(FRESH_EVENTS)?;
    }
    tx.execute_batch(V1)?;
    let version: Option<String> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    // A log from before the version was recorded is version 1.
    let found = match &version {
        None if !has_events => SCHEMA_VERSION,
        None => 1,
        Some(v) => v.trim().parse::<u32>().map_err(|_| StoreError::Corrupt {
            seq: 0,
            reason: format!("its schema version is {v:?}, not a number"),
        })?,
    };
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            at: path.display().to_string(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    if found < 2 {
        migrate_to_2(&tx)?;
    } else {
        tx.execute_batch(V2_INDEXES)?;
    }
    if version.is_none() || found < SCHEMA_VERSION {
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)",
            [SCHEMA_VERSION.to_string()],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Version 1 to 2: each event's incident and kind read from its body, then every index
/// built by folding the log once.
fn migrate_to_2(tx: &Connection) -> Result<(), StoreError> {
    tracing::info!("migrating the event log to schema version 2: indexing it once");
    tx.execute_batch(
        "ALTER TABLE events ADD COLUMN incident INTEGER;
         ALTER TABLE events ADD COLUMN kind TEXT;
         UPDATE events SET
             kind = json_extract(body, '$.kind'),
             incident = CAST(substr(json_extract(body, '$.incident'), 5) AS INTEGER);",
    )?;
    tx.execute_batch(V2_INDEXES)?;
    crate::store::rows::rebuild(&mut index::Index(tx))
}
