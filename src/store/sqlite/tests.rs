//! SQLite's own: the files it makes, and logs written by older warrooms. The tests both
//! backends pass are in `store::tests`.

use std::path::Path;

use rusqlite::{Connection, params};

use super::*;
use crate::store::tests::{Log, answers, batch, build, ev, folded};

#[cfg(unix)]
#[test]
fn a_new_log_and_its_directory_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("feed");
    let mut store = SqliteStore::open(&dir).unwrap();
    let events = [ev(1)];
    store
        .append(&batch(&events, &[], &folded(&events)))
        .unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("events.db")), 0o600);
    assert_eq!(mode(&dir.join("events.db-wal")), 0o600);
}

/// A log written by the first schema (events and answers only) is indexed when opened.
#[test]
fn a_version_1_log_is_migrated_and_a_newer_one_refused() {
    let log = Log::sqlite();
    let f = build(&log);
    let want = answers(f.store.open_reader().unwrap().as_ref(), f.now, 6);
    let events = f.events.clone();
    let now = f.now;
    drop(f);
    // The same log as warroom 0.1 wrote it.
    let old = tempfile::tempdir().unwrap();
    {
        let conn = Connection::open(old.path().join("events.db")).unwrap();
        conn.execute_batch(
            "CREATE TABLE events (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
             CREATE TABLE commands (actor TEXT NOT NULL, id TEXT NOT NULL, answer TEXT NOT NULL,
                 PRIMARY KEY (actor, id)) WITHOUT ROWID;
             CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO meta VALUES ('schema_version', '1'), ('feed_id', 'old-feed');",
        )
        .unwrap();
        for e in &events {
            conn.execute(
                "INSERT INTO events (seq, body) VALUES (?1, ?2)",
                params![e.seq as i64, serde_json::to_string(e).unwrap()],
            )
            .unwrap();
        }
    }
    let s = SqliteStore::open(old.path()).unwrap();
    assert_eq!(s.feed_id().unwrap(), "old-feed");
    let got = answers(&s.reader().unwrap(), now, 6);
    assert_eq!(got.summaries, want.summaries);
    assert_eq!(got.pages, want.pages);
    assert_eq!(got.live, want.live);
    assert_eq!(got.fired, want.fired);
    let version: String = s
        .conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, "2");
    // Opening again migrates nothing more.
    drop(s);
    let s = SqliteStore::open(old.path()).unwrap();
    assert_eq!(s.summaries().unwrap(), want.summaries);

    s.conn
        .execute(
            "UPDATE meta SET value = '3' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    drop(s);
    let err = SqliteStore::open(old.path()).err().expect("refused");
    let msg = err.to_string();
    assert!(
        msg.contains("schema version 3") && msg.contains("knows (2)"),
        "{msg}"
    );
}
