//! The embedded SQLite event log: WAL journal, `synchronous=FULL`, one transaction (one
//! fsync) per group of commands, the indexes written in the same transaction. Here: opening
//! (and migrating), appending, reading the log. `schema` holds the tables and the migration
//! from older logs; `index` writes and reads the indexes (incident rows, words, checkpoints)
//! and rebuilds them from the events.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::rows::Indexer;
use super::{Append, CommandRecord, EventStore, LogReader, SearchPage, StoreError};
use crate::model::access::Viewer;
use crate::model::{Event, Incident, IncidentRef, State};
use crate::protocol::{Answer, Search};

mod index;
mod schema;
#[cfg(test)]
mod tests;

pub use schema::SCHEMA_VERSION;

/// A connection to the log file `events.db` in the data directory.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) the log in `dir` for writing. A log of an older schema is
    /// migrated (its indexes built from its events, once); one of a newer schema is refused.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let data_dir_error = |source| StoreError::DataDir {
            path: dir.display().to_string(),
            source,
        };
        let fresh = !dir.exists();
        std::fs::create_dir_all(dir).map_err(data_dir_error)?;
        let path = dir.join("events.db");
        // The log holds every incident, security ones included: a directory and a log that
        // warroom creates are readable by their owner only. (Ones an operator made are left
        // as they are.) SQLite gives the -wal and -shm files the log's own mode.
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            if fresh {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(data_dir_error)?;
            }
            if !path.exists() {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .map_err(data_dir_error)?;
            }
        }
        #[cfg(not(unix))]
        let _ = fresh;
        let mut conn = Connection::open(&path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        schema::prepare(&mut conn, &path)?;
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('feed_id', ?1)",
            [uuid::Uuid::new_v4().to_string()],
        )?;
        Ok(SqliteStore { conn, path })
    }

    /// Another connection to the same log, for reading while the writer appends.
    pub fn reader(&self) -> Result<Self, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(SqliteStore {
            conn,
            path: self.path.clone(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Up to `limit` remembered answers after `after` (by actor, then command id), in that
    /// order: every answer, a page at a time, for copying the log elsewhere.
    pub fn answers_after(
        &self,
        after: Option<&(String, String)>,
        limit: usize,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        let (actor, id) = after.map_or(("", ""), |(a, i)| (a.as_str(), i.as_str()));
        let mut stmt = self.conn.prepare_cached(
            "SELECT actor, id, answer FROM commands WHERE (actor, id) > (?1, ?2) \
             ORDER BY actor, id LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![actor, id, limit as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (actor, id, body) = row?;
            let answer = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
                seq: 0,
                reason: format!("stored answer to command {id}: {e}"),
            })?;
            out.push(CommandRecord { actor, id, answer });
        }
        Ok(out)
    }
}

fn decode(seq: u64, body: &str) -> Result<Event, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        seq,
        reason: e.to_string(),
    })
}

fn head(conn: &Connection) -> Result<u64, StoreError> {
    let head: Option<i64> = conn.query_row("SELECT MAX(seq) FROM events", [], |r| r.get(0))?;
    Ok(head.unwrap_or(0) as u64)
}

fn read_since(conn: &Connection, after: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT seq, body FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
    let rows = stmt.query_map(params![after as i64, limit as i64], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, body) = row?;
        out.push(decode(seq as u64, &body)?);
    }
    Ok(out)
}

fn incident_events(
    conn: &Connection,
    incident: IncidentRef,
    upto: u64,
) -> Result<Vec<Event>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, body FROM events WHERE incident = ?1 AND seq <= ?2 ORDER BY seq",
    )?;
    let upto = i64::try_from(upto).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![incident.0, upto], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, body) = row?;
        out.push(decode(seq as u64, &body)?);
    }
    Ok(out)
}

impl EventStore for SqliteStore {
    fn append(&mut self, batch: &Append<'_>) -> Result<(), StoreError> {
        if let Some(first) = batch.events.first() {
            let head = self.head()?;
            if first.seq != head + 1 {
                return Err(StoreError::NotContiguous {
                    head,
                    first: first.seq,
                });
            }
        }
        let tx = self.conn.transaction()?;
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO events (seq, body, incident, kind) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for e in batch.events {
                let body = serde_json::to_string(e).map_err(|err| StoreError::Corrupt {
                    seq: e.seq,
                    reason: err.to_string(),
                })?;
                ins.execute(params![
                    e.seq as i64,
                    body,
                    crate::store::event_incident(e),
                    e.kind.name()
                ])?;
            }
            let mut cmd = tx.prepare_cached(
                "INSERT OR IGNORE INTO commands (actor, id, answer) VALUES (?1, ?2, ?3)",
            )?;
            for c in batch.commands {
                let answer =
                    serde_json::to_string(&c.answer).map_err(|err| StoreError::Corrupt {
                        seq: 0,
                        reason: err.to_string(),
                    })?;
                cmd.execute(params![c.actor, c.id, answer])?;
            }
        }
        index::Index(&tx).write(batch)?;
        tx.commit()?;
        Ok(())
    }

    fn answer(&self, actor: &str, id: &str) -> Result<Option<Answer>, StoreError> {
        let body: Option<String> = self
            .conn
            .query_row(
                "SELECT answer FROM commands WHERE actor = ?1 AND id = ?2",
                params![actor, id],
                |r| r.get(0),
            )
            .optional()?;
        match body {
            None => Ok(None),
            Some(b) => serde_json::from_str(&b)
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    seq: 0,
                    reason: format!("stored answer to command {id}: {e}"),
                }),
        }
    }

    fn answers(&self, keys: &[(String, String)]) -> Result<Vec<Option<Answer>>, StoreError> {
        // A local file: one cached statement per key costs no more than one query.
        let mut stmt = self
            .conn
            .prepare_cached("SELECT answer FROM commands WHERE actor = ?1 AND id = ?2")?;
        let mut out = Vec::with_capacity(keys.len());
        for (actor, id) in keys {
            let body: Option<String> = stmt
                .query_row(params![actor, id], |r| r.get(0))
                .optional()?;
            out.push(match body {
                None => None,
                Some(b) => Some(serde_json::from_str(&b).map_err(|e| StoreError::Corrupt {
                    seq: 0,
                    reason: format!("stored answer to command {id}: {e}"),
                })?),
            });
        }
        Ok(out)
    }

    fn open_reader(&self) -> Result<Box<dyn LogReader>, StoreError> {
        Ok(Box::new(self.reader()?))
    }

    fn rebuild_indexes(&mut self) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        crate::store::rows::rebuild(&mut index::Index(&tx))?;
        tx.commit()?;
        Ok(())
    }
}

impl LogReader for SqliteStore {
    fn feed_id(&self) -> Result<String, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'feed_id'", [], |r| {
                r.get(0)
            })?)
    }

    fn head(&self) -> Result<u64, StoreError> {
        head(&self.conn)
    }

    fn read_since(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        read_since(&self.conn, after, limit)
    }

    fn incident_events(&self, incident: IncidentRef, upto: u64) -> Result<Vec<Event>, StoreError> {
        incident_events(&self.conn, incident, upto)
    }

    fn last_seq_of(&self, incident: IncidentRef) -> Result<Option<u64>, StoreError> {
        index::last_seq_of(&self.conn, incident)
    }

    fn latest_checkpoint(&self) -> Result<Option<State>, StoreError> {
        index::latest_checkpoint(&self.conn)
    }

    fn live_refs(
        &self,
        updated_after: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<IncidentRef>, StoreError> {
        index::live_refs(&self.conn, updated_after)
    }

    fn search(
        &self,
        query: &Search,
        viewer: Viewer<'_>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<SearchPage, StoreError> {
        index::search(&self.conn, query, viewer, limit, max_bytes)
    }

    fn summaries(&self) -> Result<Vec<Incident>, StoreError> {
        index::summaries(&self.conn)
    }

    fn summary(&self, incident: IncidentRef) -> Result<Option<Incident>, StoreError> {
        index::summary(&self.conn, incident)
    }

    fn fired_steps(&self) -> Result<Vec<Event>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, body FROM events WHERE kind = 'step_fired' ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, body) = row?;
            out.push(decode(seq as u64, &body)?);
        }
        Ok(out)
    }

    fn resume_floor(&self) -> Result<u64, StoreError> {
        index::resume_floor(&self.conn)
    }
}
