//! The feed's cost follows the live work (issue 13), over real WebSockets on a loopback
//! port: a join carries the board (the live work, in summaries, in parts under the frame
//! limit); incidents resolved longer ago than the recent window leave it and come back when
//! touched, with an `incident` frame before their events; a resume from before such a
//! change is sent the board; an incident's room, its older pages, the archive, exports and
//! metrics are queries, each answer under the frame limit and equal to what the whole log
//! says. A client of the first protocol is told to upgrade.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::*;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use warroom::clock::{Clock, FakeClock};
use warroom::model::access::Viewer;
use warroom::model::{Event, IncidentRef, State};
use warroom::protocol::HARD_FRAME_BYTES;
use warroom::report::export::{ExportFormat, export_text};
use warroom::server::{BOARD_KEEP, Limits, RunningServer, ServerConfig};
use warroom::store::{LogReader, SqliteStore};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap()
}

async fn feed(dir: &std::path::Path, clock: Arc<FakeClock>) -> RunningServer {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.to_path_buf());
    cfg.rules = Arc::new(quiet_rules());
    cfg.clock = clock;
    cfg.tick_every = std::time::Duration::from_secs(3600);
    cfg.limits = Limits {
        commands_per_second: 100_000,
        command_burst: 100_000,
        ..Limits::default()
    };
    warroom::server::start(cfg).await.unwrap()
}

const ANYONE: Viewer = Viewer {
    name: "anyone",
    sees_all: false,
};

/// The board a join got: its `snapshot` parts put together (checking the parts' flags).
fn board_of(frames: &[Value]) -> State {
    let parts: Vec<&Value> = frames.iter().filter(|f| f["type"] == "snapshot").collect();
    assert!(!parts.is_empty(), "no snapshot in {frames:?}");
    let mut board: State = serde_json::from_value(parts[0]["state"].clone()).unwrap();
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(
            p.get("more").is_some(),
            i + 1 < parts.len(),
            "`more` on every part but the last"
        );
        let s: State = serde_json::from_value(p["state"].clone()).unwrap();
        assert_eq!(s.seq, board.seq);
        board.incidents.extend(s.incidents);
    }
    board
}

/// Every event of the log, read from the store.
fn whole_log(dir: &std::path::Path) -> Vec<Event> {
    let store = SqliteStore::open(dir).and_then(|s| s.reader()).unwrap();
    store.read_since(0, usize::MAX >> 1).unwrap()
}

/// Sends a query and reads its answers (one `result`, or an export's parts, or an error).
async fn query(c: &mut Raw, id: &str, q: Value) -> Vec<Value> {
    c.send(&json!({"type": "query", "id": id, "query": q}))
        .await;
    let mut out = Vec::new();
    loop {
        let f = c.next().await.expect("closed before the answer");
        if f["id"] != id {
            continue;
        }
        let done =
            f["type"] == "error" || f["result"]["kind"] != "export" || f["result"]["last"] == true;
        out.push(f);
        if done {
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_the_first_protocol_is_told_to_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    for (hello, says) in [
        (
            json!({"type": "hello", "name": "old"}),
            "upgrade the client",
        ),
        (
            json!({"type": "hello", "name": "old", "protocol": 1}),
            "upgrade the client",
        ),
        (
            json!({"type": "hello", "name": "new", "protocol": 3}),
            "upgrade the feed",
        ),
    ] {
        let mut c = Raw::connect(&server.url()).await;
        c.send(&hello).await;
        let f = c.next().await.expect("an answer");
        assert_eq!(f["code"], "unsupported_protocol", "{f}");
        let message = f["message"].as_str().unwrap();
        assert!(
            message.starts_with("this feed speaks protocol 2") && message.contains(says),
            "{message}"
        );
        match tokio::time::timeout(WAIT, c.ws.next()).await.unwrap() {
            Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1002),
            other => panic!("expected close 1002, got {other:?}"),
        }
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archived_incidents_leave_the_board_and_come_back_when_touched() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FakeClock::new(t0()));
    let server = feed(dir.path(), clock.clone()).await;
    let url = server.url();
    let (mut alice, frames) = Raw::join(&url, "alice", None).await;
    assert_eq!(frames[0]["recent_secs"], 7 * 86_400);
    alice.command(declare("Checkout 500s", 2)).await;
    alice.command(note("INC-1", "pool exhausted")).await;
    let resolved = seqs(
        &alice
            .command(json!({"op": "resolve", "incident": "INC-1"}))
            .await,
    )[0];
    alice.command(declare("Search slow", 3)).await;
    let (mut bob, _) = Raw::join(&url, "bob", None).await;

    // A week and a day later, INC-1 has left the live work: no longer on a board.
    clock.advance(Duration::days(8));
    server.tick().await.unwrap();
    let (_, frames) = Raw::join(&url, "carol", None).await;
    let board = board_of(&frames);
    assert_eq!(board.incidents.keys().copied().collect::<Vec<_>>(), [2]);
    assert_eq!(
        board.next_ref, 3,
        "numbering goes on after archived incidents"
    );
    // A resume from before it left is sent the board, not the events since.
    let (_, frames) = Raw::join(&url, "carol", Some(resolved - 1)).await;
    assert_eq!(frames[0]["mode"], "snapshot");
    assert_eq!(board_of(&frames).incidents.len(), 1);
    // It is still there for whoever asks: the room, and the archive.
    let got = query(&mut bob, "o1", json!({"op": "open", "incident": "INC-1"})).await;
    let log = whole_log(dir.path());
    let fold = State::from_events(&log).unwrap();
    assert_eq!(
        got[0]["result"],
        json!({"kind": "incident", "incident": fold.incident(IncidentRef(1)).unwrap()})
    );
    let got = query(
        &mut bob,
        "s1",
        json!({"op": "search", "text": "pool", "active": false}),
    )
    .await;
    assert_eq!(got[0]["result"]["incidents"][0]["reference"], "INC-1");
    assert_eq!(got[0]["result"]["incidents"].as_array().unwrap().len(), 1);
    let head = fold.seq;

    // A note on it brings it back: readers get the incident, then its event.
    let back = seqs(&alice.command(note("INC-1", "it is back")).await)[0];
    assert_eq!(back, head + 1);
    let mut seen = Vec::new();
    while !bob.events.iter().any(|e| e["seq"] == back) {
        seen.push(bob.next_non_presence().await.unwrap());
    }
    let kinds: Vec<&str> = seen.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert!(kinds.ends_with(&["incident", "event"]), "{kinds:?}");
    let incident = &seen[seen.len() - 2]["incident"];
    assert_eq!(incident["reference"], "INC-1");
    assert_eq!(
        incident,
        &serde_json::to_value(fold.incident(IncidentRef(1)).unwrap().summary(BOARD_KEEP)).unwrap(),
        "the incident as it stood before the event that follows"
    );
    // Joins see it again; a resume from before it came back is sent the board.
    let (_, frames) = Raw::join(&url, "dave", None).await;
    assert_eq!(board_of(&frames).incidents.len(), 2);
    let (_, frames) = Raw::join(&url, "dave", Some(head)).await;
    assert_eq!(frames[0]["mode"], "snapshot");
    let (_, frames) = Raw::join(&url, "dave", Some(back)).await;
    assert_eq!(frames[0]["mode"], "events");

    // A restart keeps all of it: the live work, and the floor under resumes.
    server.shutdown().await.unwrap();
    let server = feed(dir.path(), clock.clone()).await;
    let url = server.url();
    let (_, frames) = Raw::join(&url, "erin", None).await;
    let log = whole_log(dir.path());
    let fold = State::from_events(&log).unwrap();
    assert_eq!(board_of(&frames), fold.board_view(ANYONE, BOARD_KEEP));
    let (_, frames) = Raw::join(&url, "erin", Some(head)).await;
    assert_eq!(
        frames[0]["mode"], "snapshot",
        "the floor survives a restart"
    );

    // Another week and a day: it leaves again; a restart then starts without it.
    clock.advance(Duration::days(8));
    server.tick().await.unwrap();
    server.shutdown().await.unwrap();
    let server = feed(dir.path(), clock.clone()).await;
    let (_, frames) = Raw::join(&server.url(), "erin", None).await;
    assert_eq!(
        board_of(&frames)
            .incidents
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        [2]
    );
    // A resume from before INC-1's last event would be sent it without holding INC-1.
    let (_, frames) = Raw::join(&server.url(), "erin", Some(back - 1)).await;
    assert_eq!(
        frames[0]["mode"], "snapshot",
        "an eviction at start-up raises the floor"
    );
    let (_, frames) = Raw::join(&server.url(), "erin", Some(back)).await;
    assert_eq!(frames[0]["mode"], "events");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_history_joins_and_pages_under_the_frame_limit() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FakeClock::new(t0()));
    let server = feed(dir.path(), clock.clone()).await;
    let url = server.url();
    let (mut a, _) = Raw::join(&url, "alice", None).await;
    // Four incidents of 400 long entries, 40 of each kind a summary keeps: each board
    // summary is about 400 KB (so the board is more than a frame), each incident 1.6 MB.
    let long = "x".repeat(3_990);
    let kinds = [
        "note",
        "hypothesis",
        "note",
        "decision",
        "note",
        "ruled_out",
        "note",
        "status_update",
        "note",
        "note",
    ];
    for n in 1..=4 {
        a.command(declare(&format!("Outage {n}"), 2)).await;
        let mut ids = Vec::new();
        for i in 0..400 {
            let id = format!("n{n}-{i}");
            let cmd = json!({"op": "add_entry", "incident": format!("INC-{n}"),
                "entry_kind": kinds[i % kinds.len()], "text": format!("{i:04} {long}")});
            a.send(&json!({"type": "command", "id": id, "command": cmd}))
                .await;
            ids.push(id);
        }
        let mut answered = 0;
        while answered < ids.len() {
            let f = a.next().await.unwrap();
            if f["type"] == "ok" {
                answered += 1;
            }
            assert_ne!(f["type"], "error", "{f}");
        }
    }
    clock.advance(Duration::minutes(5));

    let log = whole_log(dir.path());
    let fold = State::from_events(&log).unwrap();
    let (mut c, frames) = Raw::join(&url, "carol", None).await;
    let parts = frames.iter().filter(|f| f["type"] == "snapshot").count();
    assert!(parts >= 2, "the board came in {parts} part(s)");
    for f in &frames {
        assert!(f.to_string().len() <= HARD_FRAME_BYTES);
    }
    assert_eq!(board_of(&frames), fold.board_view(ANYONE, BOARD_KEEP));
    let history: usize = serde_json::to_string(&fold).unwrap().len();
    let joined: usize = frames.iter().map(|f| f.to_string().len()).sum();
    assert!(
        joined < history / 2,
        "join {joined} bytes, history {history}"
    );

    // The room: the newest page, then older pages back to the first entry.
    let whole = fold.incident(IncidentRef(1)).unwrap();
    let got = query(
        &mut c,
        "o",
        json!({"op": "open", "incident": "INC-1", "limit": 1000}),
    )
    .await;
    assert!(got[0].to_string().len() <= HARD_FRAME_BYTES);
    let opened: warroom::model::Incident =
        serde_json::from_value(got[0]["result"]["incident"].clone()).unwrap();
    assert!(opened.entries.len() < whole.entries.len(), "cut by size");
    assert_eq!(opened, whole.newest(opened.entries.len()));
    let mut entries = opened.entries.clone();
    let mut pages = 1;
    loop {
        let before = entries[0].id;
        let got = query(
            &mut c,
            &format!("t{pages}"),
            json!({"op": "timeline", "incident": "INC-1", "before": before, "limit": 40}),
        )
        .await;
        assert!(got[0].to_string().len() <= HARD_FRAME_BYTES);
        let r = &got[0]["result"];
        assert_eq!(r["kind"], "entries");
        let mut page: Vec<warroom::model::Entry> =
            serde_json::from_value(r["entries"].clone()).unwrap();
        assert!(page.len() <= 40);
        pages += 1;
        page.extend(entries);
        entries = page;
        if r["more"] == false {
            break;
        }
    }
    assert_eq!(entries, whole.entries);
    assert!(pages > 3);

    // Its export, in parts, each under the limit, together what the whole log gives.
    for (format, name) in [(ExportFormat::Markdown, "md"), (ExportFormat::Json, "json")] {
        let got = query(
            &mut c,
            name,
            json!({"op": "export", "incident": "INC-1", "format": name}),
        )
        .await;
        let mut text = String::new();
        for (i, f) in got.iter().enumerate() {
            assert!(f.to_string().len() <= HARD_FRAME_BYTES);
            assert_eq!(f["result"]["part"], i);
            text.push_str(f["result"]["text"].as_str().unwrap());
        }
        assert!(got.len() >= 2, "{name}: {} part(s)", got.len());
        assert_eq!(text, export_text(&log, IncidentRef(1), format).unwrap());
    }

    // Metrics: what `warroom metrics` computed from the whole log.
    let got = query(&mut c, "m", json!({"op": "metrics"})).await;
    let want = warroom::report::metrics::compute(
        &fold,
        Some(&log),
        quiet_rules().policy.schedule_for(None),
        quiet_rules().policy.critical_services(),
        None,
        clock.now(),
    );
    assert_eq!(
        got[0]["result"]["metrics"],
        serde_json::to_value(&want).unwrap()
    );

    // The archive a page at a time, newest first.
    let mut found = Vec::new();
    let mut q = json!({"op": "search", "limit": 1});
    for i in 0.. {
        let got = query(&mut c, &format!("s{i}"), q.clone()).await;
        let r = &got[0]["result"];
        for inc in r["incidents"].as_array().unwrap() {
            found.push(inc["reference"].as_str().unwrap().to_string());
            assert_eq!(inc["entries"], json!([]));
        }
        match r.get("next") {
            Some(next) => q["before"] = next.clone(),
            None => break,
        }
    }
    assert_eq!(found, ["INC-4", "INC-3", "INC-2", "INC-1"]);

    // An incident that does not exist.
    let got = query(&mut c, "x", json!({"op": "open", "incident": "INC-99"})).await;
    assert_eq!(got[0]["code"], "not_found");
    server.shutdown().await.unwrap();
}
