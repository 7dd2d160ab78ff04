//! The event log in PostgreSQL, with the real binary: `warroom store copy` takes a feed's
//! SQLite log into an empty database (once: a second copy is refused), and `warroom serve
//! --store URL` then serves it as it was; a database that cannot be reached is named
//! without its password. Needs `WARROOM_TEST_POSTGRES` (skipped without it), but for the
//! last test.

mod common;

use chrono::Utc;
use common::pg::TestDb;
use common::*;
use warroom::model::{Command, EntryKind, Event, Severity, State};
use warroom::protocol::Answer;
use warroom::store::{Append, CommandRecord, EventStore, LogReader, SqliteStore};

fn warroom(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(args)
        .env_remove("WARROOM_STORE")
        .output()
        .expect("run warroom")
}

/// A small SQLite log: three incidents, notes, and a remembered answer.
fn sqlite_log(dir: &std::path::Path) -> (String, u64) {
    let mut store = SqliteStore::open(dir).unwrap();
    let mut state = State::default();
    let now = Utc::now();
    for (i, title) in ["Checkout 500s", "Replica lag", "Login storm"]
        .iter()
        .enumerate()
    {
        let declare = Command::Declare {
            title: title.to_string(),
            severity: Severity::Sev2,
            service: Some("payments".into()),
            restricted: i == 2,
            detected_by: None,
        };
        let mut events = Vec::new();
        for kind in state.decide("ana", now, &declare).unwrap() {
            let e = Event {
                seq: state.seq + 1,
                at: now,
                actor: "ana".into(),
                kind,
            };
            state.apply(&e).unwrap();
            events.push(e);
        }
        let r = state.next_reference().0 - 1;
        let note = Command::AddEntry {
            incident: warroom::model::IncidentRef(r),
            entry_kind: EntryKind::Note,
            text: format!("looking at {title}"),
            occurred_at: None,
            next_update_secs: None,
            public: false,
            briefing: None,
        };
        for kind in state.decide("ana", now, &note).unwrap() {
            let e = Event {
                seq: state.seq + 1,
                at: now,
                actor: "ana".into(),
                kind,
            };
            state.apply(&e).unwrap();
            events.push(e);
        }
        let answer = CommandRecord {
            actor: "ana".into(),
            id: format!("ana-{i}"),
            answer: Answer::Ok {
                seqs: events.iter().map(|e| e.seq).collect(),
                incident: None,
            },
        };
        store
            .append(&Append {
                events: &events,
                commands: &[answer],
                state: &state,
                checkpoint: i == 1,
                resume_floor: 0,
            })
            .unwrap();
    }
    (store.feed_id().unwrap(), state.seq)
}

#[tokio::test]
async fn a_copied_log_is_served_from_postgres_as_it_was() {
    let Some(db) = TestDb::create(
        "a_copied_log_is_served_from_postgres_as_it_was",
        "warroom_t",
        "",
    ) else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let (feed_id, head) = sqlite_log(data.path());
    let from = data.path().to_str().unwrap();

    let out = warroom(&["store", "copy", "--from", from, "--to", &db.url]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains(&format!("{head} events")) && stdout.contains("3 command answers"),
        "{stdout}"
    );
    assert!(stdout.contains(&feed_id), "{stdout}");
    let again = warroom(&["store", "copy", "--from", from, "--to", &db.url]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success());
    assert!(
        stderr.contains(&format!("its head is seq {head}")),
        "{stderr}"
    );

    // Served from the copy (tokens would stay in the data directory).
    let other = tempfile::tempdir().unwrap();
    let feed = ServeProcess::start_with(other.path(), "127.0.0.1:0", &["--store", &db.url]);
    let (_c, frames) = Raw::join(&feed.url, "bob", None).await;
    let welcome = frames.iter().find(|f| f["type"] == "welcome").unwrap();
    assert_eq!(welcome["feed_id"], feed_id.as_str());
    // (The built-in policy's escalation starts on the copied incidents as the feed starts.)
    assert!(welcome["head_seq"].as_u64().unwrap() >= head);
    let shown: Vec<&str> = frames
        .iter()
        .filter(|f| f["type"] == "snapshot")
        .flat_map(|f| f["state"]["incidents"].as_array().unwrap())
        .map(|i| i["title"].as_str().unwrap_or(""))
        .collect();
    assert!(
        shown.contains(&"Checkout 500s") && shown.contains(&"Replica lag"),
        "{shown:?}"
    );
    assert!(
        !shown.contains(&"Login storm"),
        "restricted: bob is not a member"
    );
    drop(feed);
}

#[test]
fn a_store_that_cannot_be_reached_is_named_without_its_password() {
    let data = tempfile::tempdir().unwrap();
    let out = warroom(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data",
        data.path().to_str().unwrap(),
        "--store",
        "postgres://root:hunter2@127.0.0.1:1/test",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("cannot connect to the event log at postgres://root@127.0.0.1:1/test: "),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
    let out = warroom(&[
        "store",
        "copy",
        "--from",
        data.path().to_str().unwrap(),
        "--to",
        "postgres://root:hunter2@127.0.0.1:1/test",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("no event log"), "{stderr}");
}
