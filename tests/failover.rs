//! A feed's replicas, as its clients see them: `--server` (and the config's `server`) lists
//! several addresses; a client goes to the next when the one it is on fails and resumes by
//! `seq` there, every event once and in order, its queued commands answered once.
//!
//! Replicas here are feeds on one log: the first is stopped and a second started on the
//! same data directory at another loopback port (the same `feed_id`, the same `seq`s), as a
//! replica on the shared database takes over.

mod common;

use std::time::Duration;

use common::{WAIT, note, start_on, start_server};
use warroom::client::{Client, ClientConfig, ConnState, Update};
use warroom::model::{Command, EventKind, IncidentRef};
use warroom::protocol::{Answer, SyncMode};

/// A loopback port with nothing listening on it (bound, then let go).
fn free_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    addr
}

/// Reads updates until `stop` says so; returns them all.
async fn until(c: &mut Client, mut stop: impl FnMut(&Update) -> bool) -> Vec<Update> {
    let mut seen = Vec::new();
    tokio::time::timeout(WAIT, async {
        loop {
            let u = c.next().await.expect("the client stopped");
            if let Update::Conn(ConnState::Stopped { reason }) = &u {
                panic!("the client gave up: {reason}");
            }
            let done = stop(&u);
            seen.push(u);
            if done {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("waited {WAIT:?}; saw {seen:#?}"));
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_goes_past_a_dead_replica_to_a_live_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let dead = format!("ws://{}/feed", free_port());
    let mut cfg = ClientConfig::new(dead.clone(), "ann");
    cfg.fallbacks = vec![server.url()];
    let mut c = Client::start(cfg);
    let seen = until(&mut c, |u| matches!(u, Update::Synced(_))).await;
    let addresses: Vec<&String> = seen
        .iter()
        .filter_map(|u| match u {
            Update::Address(a) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(addresses, [&dead, &server.url()], "tried in order");
    // The move to the next replica is a short reconnect, naming both.
    let failover = seen
        .iter()
        .find_map(|u| match u {
            Update::Conn(ConnState::Reconnecting {
                retry_at, reason, ..
            }) => Some((*retry_at, reason.clone())),
            _ => None,
        })
        .expect("a reconnect between the two");
    assert!(
        failover.1.contains(&dead) && failover.1.contains(&server.url()),
        "{}",
        failover.1
    );
    assert!(
        failover.0 <= tokio::time::Instant::now() + Duration::from_millis(500),
        "no backoff before the next replica"
    );
    drop(c);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_replica_hands_the_client_to_the_next_which_resumes_by_seq() {
    let dir = tempfile::tempdir().unwrap();
    let a = start_server(dir.path()).await;
    let b_addr = free_port();
    let b_url = format!("ws://{b_addr}/feed");
    let mut cfg = ClientConfig::new(a.url(), "ann");
    cfg.fallbacks = vec![b_url.clone()];
    let mut c = Client::start(cfg);
    until(&mut c, |u| matches!(u, Update::Synced(_))).await;
    let (_, declared) = c.submit(Command::Declare {
        title: "Checkout 500s".into(),
        severity: warroom::model::Severity::Sev2,
        service: Some("checkout".into()),
        restricted: false,
        detected_by: None,
    });
    let answer = tokio::time::timeout(WAIT, declared).await.unwrap().unwrap();
    assert!(matches!(answer, Answer::Ok { .. }), "{answer:?}");
    let mut seqs: Vec<u64> = Vec::new();

    // Replica A goes away; the same log is served at B (as a replica on the shared
    // database takes over). Commands typed meanwhile wait in the queue.
    a.shutdown().await.unwrap();
    let inc = IncidentRef(1);
    let (_, noted) = c.submit(Command::AddEntry {
        incident: inc,
        entry_kind: warroom::model::EntryKind::Note,
        text: "typed during the failover".into(),
        occurred_at: None,
        next_update_secs: None,
        public: false,
        briefing: None,
    });
    let b = start_on(dir.path(), &b_addr).await;
    let seen = until(&mut c, |u| matches!(u, Update::Synced(_))).await;
    assert!(
        seen.iter()
            .any(|u| matches!(u, Update::Address(x) if *x == b_url)),
        "{seen:#?}"
    );
    let mode = seen.iter().find_map(|u| match u {
        Update::Welcome { mode, .. } => Some(*mode),
        _ => None,
    });
    assert_eq!(
        mode,
        Some(SyncMode::Events),
        "resumed by seq, not a new board"
    );
    for u in &seen {
        if let Update::Event(e) = u {
            seqs.push(e.seq);
        }
    }
    let answer = tokio::time::timeout(WAIT, noted).await.unwrap().unwrap();
    assert!(matches!(answer, Answer::Ok { .. }), "{answer:?}");
    // Every event once, in order, across the move.
    let (_, more) = c.submit(Command::AddEntry {
        incident: inc,
        entry_kind: warroom::model::EntryKind::Note,
        text: "after the failover".into(),
        occurred_at: None,
        next_update_secs: None,
        public: false,
        briefing: None,
    });
    tokio::time::timeout(WAIT, more).await.unwrap().unwrap();
    let rest = until(&mut c, |u| {
        matches!(u, Update::Event(e) if matches!(&e.kind, EventKind::EntryAdded { text, .. } if text == "after the failover"))
    })
    .await;
    for u in &rest {
        if let Update::Event(e) = u {
            seqs.push(e.seq);
        }
    }
    let head = *seqs.last().unwrap();
    let first = seqs[0];
    assert_eq!(
        seqs,
        (first..=head).collect::<Vec<_>>(),
        "events after the move, once each, in order"
    );
    // The note typed during the failover is in the log once.
    let (mut raw, frames) = common::Raw::join(&b.url(), "check", Some(0)).await;
    let notes = frames
        .iter()
        .filter(|f| f["event"]["text"] == "typed during the failover")
        .count();
    assert_eq!(notes, 1);
    raw.command(note("INC-1", "still here")).await;
    drop(c);
    b.shutdown().await.unwrap();
}

#[test]
fn the_cli_tries_each_replica_and_names_every_one_that_failed() {
    let dir = tempfile::tempdir().unwrap();
    let feed = common::ServeProcess::start(&dir.path().join("feed"));
    let dead = free_port();
    let warroom = |server: &str, args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
            .args(["--server", server])
            .args(args)
            .env("WARROOM_NAME", "cli")
            .env_remove("WARROOM_TOKEN")
            .output()
            .unwrap()
    };
    let out = warroom(
        &format!("{dead},{}", feed.addr),
        &["declare", "Checkout 500s", "--severity", "2"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = warroom(&format!("{dead},{}", feed.addr), &["incidents"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Checkout 500s"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let other = free_port();
    let out = warroom(&format!("{dead},{other}"), &["incidents"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&dead) && err.contains(&other) && err.contains("connection refused"),
        "{err}"
    );
}
