//! `warroom update` and `warroom milestone` end to end against a real `warroom serve`: a
//! script posts status updates (with the SEV1 briefing, marked public) and sets the
//! milestones the post-mortem's times are measured between.

mod common;

use std::process::Output;

use common::ServeProcess;
use common::cli::{ok, warroom};
use serde_json::Value;

fn refused(out: Output) -> String {
    assert!(
        !out.status.success(),
        "expected a refusal, got: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

fn export(s: &str) -> Value {
    serde_json::from_str(&ok(warroom(
        s,
        "alice",
        &["export", "INC-1", "--format", "json"],
    )))
    .unwrap()
}

#[test]
fn a_script_posts_status_updates_with_the_briefing_a_sev1_needs() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(dir.path());
    let s = server.addr.clone();
    ok(warroom(
        &s,
        "alice",
        &[
            "declare",
            "Checkout 500s",
            "-s",
            "1",
            "--service",
            "payments",
        ],
    ));
    let err = refused(warroom(&s, "carol", &["update", "INC-1", "Rolling back."]));
    assert!(
        err.contains("SEV1") && err.contains("executive briefing"),
        "{err}"
    );
    let err = refused(warroom(
        &s,
        "carol",
        &[
            "update",
            "INC-1",
            "Rolling back.",
            "--impact",
            "15% of payments fail",
        ],
    ));
    assert!(err.contains("give --eta and --at-risk as well"), "{err}");
    let err = refused(warroom(
        &s,
        "carol",
        &["update", "INC-1", "Rolling back.", "--next", "20 minutes"],
    ));
    assert!(err.contains("not a duration"), "{err}");
    let out = ok(warroom(
        &s,
        "carol",
        &[
            "update",
            "INC-1",
            "Rolling back deploy 4471.",
            "--next",
            "20m",
            "--public",
            "--impact",
            "15% of payments fail",
            "--eta",
            "about 40 minutes",
            "--at-risk",
            "the EU merchants' SLA",
        ],
    ));
    assert!(out.ends_with("recorded (public)\n"), "{out}");
    let x = export(&s);
    let entries = x["incident"]["entries"].as_array().unwrap();
    let update = entries
        .iter()
        .find(|e| e["kind"] == "status_update")
        .unwrap();
    assert_eq!(update["text"], "Rolling back deploy 4471.");
    assert_eq!(update["public"], true);
    assert_eq!(update["briefing"]["eta"], "about 40 minutes");
    assert_eq!(update["briefing"]["at_risk"], "the EU merchants' SLA");
    let ev = x["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "entry_added" && e["entry_kind"] == "status_update")
        .unwrap();
    assert_eq!(ev["next_update_secs"], 1200, "--next 20m");
    let md = ok(warroom(&s, "alice", &["export", "INC-1"]));
    assert!(md.contains("| status update, public |"), "{md}");
    assert!(
        md.contains(
            "| | executive briefing | | impact: 15% of payments fail; ETA: about 40 minutes"
        ),
        "{md}"
    );
}

#[test]
fn a_script_sets_milestones_so_the_export_has_its_times() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(dir.path());
    let s = server.addr.clone();
    ok(warroom(&s, "alice", &["declare", "Search slow", "-s", "3"]));
    let md = ok(warroom(&s, "alice", &["export", "INC-1"]));
    assert!(md.contains("impact started (not set)"), "{md}");
    let when = (chrono::Utc::now() - chrono::Duration::minutes(30))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(
        ok(warroom(
            &s,
            "alice",
            &["milestone", "INC-1", "impact-started", "--at", &when]
        )),
        format!("INC-1: impact started at {when}\n")
    );
    let out = ok(warroom(&s, "alice", &["milestone", "INC-1", "mitigated"]));
    assert!(out.starts_with("INC-1: mitigated at "), "{out}");
    let x = export(&s);
    assert_eq!(x["incident"]["milestones"]["impact_started"], when.as_str());
    let md = ok(warroom(&s, "alice", &["export", "INC-1"]));
    assert!(!md.contains("impact started (not set)"), "{md}");
    let err = refused(warroom(&s, "alice", &["milestone", "INC-1", "resolved"]));
    assert!(err.contains("use resolve"), "{err}");
    let err = refused(warroom(&s, "alice", &["milestone", "INC-1", "begun"]));
    assert!(err.contains("begun"), "{err}");
}
