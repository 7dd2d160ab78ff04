//! The embedded SQLite event log: WAL journal, `synchronous=FULL`, one transaction (one
//! fsync) per group of commands.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{CommandRecord, EventStore, LogReader, StoreError};
use crate::model::Event;
use crate::protocol::Answer;

const SCHEMA: &str = "
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
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1');
";

/// A connection to the log file `events.db` in the data directory.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) the log in `dir` for writing.
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
        let conn = Connection::open(&path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
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
}

fn decode(seq: u64, body: &str) -> Result<Event, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        seq,
        reason: e.to_string(),
    })
}

impl EventStore for SqliteStore {
    fn append(&mut self, events: &[Event], commands: &[CommandRecord]) -> Result<(), StoreError> {
        if let Some(first) = events.first() {
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
            let mut ins = tx.prepare_cached("INSERT INTO events (seq, body) VALUES (?1, ?2)")?;
            for e in events {
                let body = serde_json::to_string(e).map_err(|err| StoreError::Corrupt {
                    seq: e.seq,
                    reason: err.to_string(),
                })?;
                ins.execute(params![e.seq as i64, body])?;
            }
            let mut cmd = tx.prepare_cached(
                "INSERT OR IGNORE INTO commands (actor, id, answer) VALUES (?1, ?2, ?3)",
            )?;
            for c in commands {
                let answer =
                    serde_json::to_string(&c.answer).map_err(|err| StoreError::Corrupt {
                        seq: 0,
                        reason: err.to_string(),
                    })?;
                cmd.execute(params![c.actor, c.id, answer])?;
            }
        }
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

    fn open_reader(&self) -> Result<Box<dyn LogReader>, StoreError> {
        Ok(Box::new(self.reader()?))
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
        let head: Option<i64> = self
            .conn
            .query_row("SELECT MAX(seq) FROM events", [], |r| r.get(0))?;
        Ok(head.unwrap_or(0) as u64)
    }

    fn read_since(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, body FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventKind, IncidentRef, Severity};
    use chrono::{TimeZone, Utc};

    fn ev(seq: u64) -> Event {
        Event {
            seq,
            at: Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap(),
            actor: "alice".into(),
            kind: EventKind::Declared {
                incident: IncidentRef(seq as u32),
                title: format!("incident {seq}"),
                service: None,
                severity: Severity::Sev2,
                restricted: false,
                alert_key: None,
            },
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_new_log_and_its_directory_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("feed");
        let mut store = SqliteStore::open(&dir).unwrap();
        store.append(&[ev(1)], &[]).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("events.db")), 0o600);
        assert_eq!(mode(&dir.join("events.db-wal")), 0o600);
    }

    #[test]
    fn appends_reads_and_remembers_answers() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(s.head().unwrap(), 0);
        let rec = CommandRecord {
            actor: "alice".into(),
            id: "c1".into(),
            answer: Answer::Ok {
                seqs: vec![1, 2],
                incident: None,
            },
        };
        let two = ev(2);
        s.append(&[ev(1), two.clone()], &[rec]).unwrap();
        assert_eq!(s.head().unwrap(), 2);
        let r = s.reader().unwrap();
        assert_eq!(r.read_since(1, 10).unwrap(), vec![two]);
        assert!(matches!(
            r.answer("alice", "c1").unwrap(),
            Some(Answer::Ok { .. })
        ));
        assert!(r.answer("bob", "c1").unwrap().is_none());
        // A gap is refused and nothing of it is written.
        assert!(matches!(
            s.append(&[ev(4)], &[]),
            Err(StoreError::NotContiguous { head: 2, first: 4 })
        ));
        assert_eq!(s.head().unwrap(), 2);
        drop(s);
        let s = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(s.read_since(0, 10).unwrap().len(), 2);
    }
}
