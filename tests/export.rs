//! `warroom export`: a scripted incident (declared; notes backdated; a correction; role
//! changes; the post-mortem filled in) exported by the real binary from a running feed, the
//! Markdown compared with `tests/golden/export.md` and the JSON parsed back and checked.
//! Set `WARROOM_UPDATE_GOLDEN=1` to rewrite the golden file after an intended change.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::*;
use serde_json::{Value, json};
use warroom::clock::FakeClock;
use warroom::model::{Milestone, State, Status};
use warroom::report::export::{JSON_SCHEMA, JsonExport};
use warroom::server::{RunningServer, ServerConfig};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 14, 2, 7, 31).unwrap()
}

/// Plays the script: each step at its offset in seconds from t0, as its author.
async fn script(server: &RunningServer, clock: &FakeClock) {
    let url = server.url();
    let mut people = std::collections::HashMap::new();
    for name in ["alice", "bob", "carol", "dave"] {
        people.insert(name, Raw::join(&url, name, None).await.0);
    }
    let at = |h: u32, m: u32| {
        Utc.with_ymd_and_hms(2026, 3, 14, h, m, 0)
            .unwrap()
            .to_rfc3339()
    };
    let steps: Vec<(i64, &str, Value)> = vec![
        (
            0,
            "alice",
            json!({"op": "declare", "title": "Checkout returns 500s", "severity": 2, "service": "checkout"}),
        ),
        (
            31,
            "alice",
            json!({"op": "assign_role", "incident": "INC-1", "role": "incident_commander", "person": "me"}),
        ),
        (69, "bob", json!({"op": "acknowledge", "incident": "INC-1"})),
        (
            104,
            "alice",
            json!({"op": "set_milestone", "incident": "INC-1", "milestone": "impact_started", "occurred_at": at(1, 52)}),
        ),
        (
            154,
            "bob",
            json!({"op": "assign_role", "incident": "INC-1", "role": "tech_lead", "person": "me"}),
        ),
        (
            239,
            "bob",
            json!({"op": "add_entry", "incident": "INC-1", "entry_kind": "hypothesis", "text": "Connection pool exhausted since deploy 4471"}),
        ),
        (
            319,
            "alice",
            json!({"op": "set_severity", "incident": "INC-1", "severity": 1}),
        ),
        (
            400,
            "bob",
            // Backdated from the command line, as a script or a scribe would.
            json!({"cli": ["note", "INC-1", "Rolling back deploy 4471", "--kind", "action", "--at", at(2, 14)]}),
        ),
        (
            401,
            "alice",
            json!({"op": "pin_entry", "incident": "INC-1", "entry": 8}),
        ),
        (
            451,
            "alice",
            json!({"op": "assign_role", "incident": "INC-1", "role": "comms_lead", "person": "carol"}),
        ),
        (
            539,
            "carol",
            json!({"op": "add_entry", "incident": "INC-1", "entry_kind": "status_update", "text": "Some customers cannot pay. A rollback is under way; next update 02:45 UTC.", "public": true, "briefing": {"impact": "about 15% of card payments fail", "eta": "02:45 UTC", "at_risk": "none"}}),
        ),
        (
            730,
            "bob",
            json!({"op": "add_entry", "incident": "INC-1", "text": "Error rate back under 1% at 02:17"}),
        ),
        (
            756,
            "bob",
            json!({"op": "correct_entry", "incident": "INC-1", "entry": 12, "text": "Error rate back under 1% at 02:19 | checked on the LB dashboard"}),
        ),
        (
            779,
            "alice",
            json!({"op": "set_status", "incident": "INC-1", "status": "monitoring"}),
        ),
        (
            1001,
            "bob",
            json!({"op": "assign_role", "incident": "INC-1", "role": "tech_lead", "person": "dave"}),
        ),
        (2687, "alice", json!({"op": "resolve", "incident": "INC-1"})),
        (
            3000,
            "alice",
            json!({"op": "edit_postmortem", "incident": "INC-1", "section": "summary", "text": "Deploy 4471 halved the payments connection pool. Checkout failed for 27 minutes until the rollback."}),
        ),
        (
            3010,
            "alice",
            json!({"op": "set_whys", "incident": "INC-1", "whys": [
                {"why": "Why did checkout return 500s?", "because": "Payments ran out of database connections."},
                {"why": "Why did it run out of connections?", "because": "Deploy 4471 lowered the pool size from 50 to 25."},
                {"why": "Why did the lower pool size ship?", "because": "The config change was not reviewed against production load."}
            ]}),
        ),
        (
            3020,
            "bob",
            json!({"op": "edit_postmortem", "incident": "INC-1", "section": "contributing_factors", "text": "No alert on pool saturation.\nThe deploy went out at 01:45, outside business hours."}),
        ),
        (
            3030,
            "carol",
            json!({"op": "edit_postmortem", "incident": "INC-1", "section": "went_well", "text": "The rollback took four minutes."}),
        ),
        (
            3040,
            "carol",
            json!({"op": "edit_postmortem", "incident": "INC-1", "section": "went_poorly", "text": "Detection took 15 minutes: the first page came from a customer ticket."}),
        ),
        (
            3050,
            "alice",
            json!({"op": "edit_postmortem", "incident": "INC-1", "section": "lessons", "text": "Pool sizes are production capacity: review them like capacity changes."}),
        ),
        (
            3060,
            "alice",
            json!({"op": "add_action_item", "incident": "INC-1", "text": "Alert when the pool is above 80% for 2 minutes", "owner": "bob", "due": "2026-03-21"}),
        ),
        (
            3070,
            "alice",
            json!({"op": "add_action_item", "incident": "INC-1", "text": "Require review of pool-size changes", "owner": "me", "due": "2026-03-28"}),
        ),
        (
            3600,
            "bob",
            json!({"op": "update_action_item", "incident": "INC-1", "item": 24, "done": true}),
        ),
    ];
    for (offset, who, cmd) in steps {
        clock.set(t0() + Duration::seconds(offset));
        if let Some(args) = cmd["cli"].as_array() {
            let args: Vec<String> = args
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            let addr = server.addr.to_string();
            let who = who.to_string();
            let out = tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
                    .args(&args)
                    .args(["--server", &addr, "--name", &who])
                    .output()
                    .unwrap()
            })
            .await
            .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            continue;
        }
        let c = people.get_mut(who).unwrap();
        let answer = c.command(cmd.clone()).await;
        assert_eq!(answer["type"], "ok", "{who}: {cmd}: {answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_incident_exports_as_the_expected_markdown_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FakeClock::new(t0()));
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().into());
    cfg.clock = clock.clone();
    cfg.rules = Arc::new(quiet_rules());
    let server = warroom::server::start(cfg).await.unwrap();
    script(&server, &clock).await;

    let md = tokio::task::spawn_blocking({
        let addr = server.addr;
        move || {
            let s = RunningServerAddr(addr);
            s.export("md")
        }
    })
    .await
    .unwrap();
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/export.md");
    if std::env::var_os("WARROOM_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &md).unwrap();
    }
    let expected = std::fs::read_to_string(&golden).unwrap();
    assert_eq!(md, expected, "the export differs from {}", golden.display());

    let json_text = tokio::task::spawn_blocking({
        let addr = server.addr;
        move || RunningServerAddr(addr).export("json")
    })
    .await
    .unwrap();
    let doc: JsonExport = serde_json::from_str(&json_text).unwrap();
    assert_eq!(doc.schema, JSON_SCHEMA);
    // The events fold back to the exported state.
    let state = State::from_events(&doc.events).unwrap();
    assert_eq!(state.incident(doc.incident.reference), Some(&doc.incident));
    assert_eq!(doc.events.len(), 25);
    assert_eq!(doc.as_of_seq, 25);
    let inc = &doc.incident;
    assert_eq!(inc.status, Status::Resolved);
    // The post-mortem is due 48 hours after resolution, with every responder invited.
    assert_eq!(
        doc.postmortem_due_at.map(|t| t.to_rfc3339()),
        Some("2026-03-16T02:52:18+00:00".to_string())
    );
    assert_eq!(doc.attendees, ["alice", "bob", "carol", "dave"]);
    assert_eq!(
        inc.milestones[&Milestone::ImpactStarted],
        Utc.with_ymd_and_hms(2026, 3, 14, 1, 52, 0).unwrap()
    );
    assert_eq!(doc.times.detect_secs, Some(15 * 60 + 31));
    assert_eq!(doc.times.acknowledge_secs, Some(69));
    assert_eq!(doc.times.resolve_secs, Some(2687 + 15 * 60 + 31));
    assert_eq!(inc.postmortem.whys.len(), 3);
    assert_eq!(inc.postmortem.action_items.len(), 2);
    assert!(!inc.postmortem.action_items[0].done);
    assert!(inc.postmortem.action_items[1].done);
    server.shutdown().await.unwrap();
}

/// Runs the real binary against a server's address (off the async runtime).
struct RunningServerAddr(std::net::SocketAddr);

impl RunningServerAddr {
    fn export(&self, format: &str) -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
            .args(["export", "INC-1", "--format", format])
            .args(["--server", &self.0.to_string()])
            .args(["--name", "exporter"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporting_an_unknown_incident_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let addr = server.addr;
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
            .args([
                "export",
                "INC-9",
                "--format",
                "md",
                "--server",
                &addr.to_string(),
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("INC-9 does not exist"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["export", "INC-1", "--format", "pdf"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("'pdf' is not an export format"));
    server.shutdown().await.unwrap();
}
