//! The demo's scenario plays to the end against a real feed with nothing refused, and
//! leaves the war room in the state the story describes.

mod common;

use std::time::Duration;

use chrono::Utc;
use warroom::demo;
use warroom::model::{EntryKind, IncidentRef, Milestone, Role, Severity, State, Status};
use warroom::store::{LogReader, SqliteStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_payments_outage_plays_out() {
    let now = Utc::now();
    let steps = demo::scenario(now);
    let total = steps.last().unwrap().after;
    assert!(
        (Duration::from_secs(120)..=Duration::from_secs(300)).contains(&total),
        "{total:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    // The default policy: the alerts are classified, escalation pages until priya acks.
    let cfg = warroom::server::ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().into());
    let server = warroom::server::start(cfg).await.unwrap();
    // A thousand times faster: the whole script in about a fifth of a second.
    let summary = tokio::time::timeout(
        common::WAIT,
        demo::play(&server.url(), steps.clone(), 1000.0),
    )
    .await
    .expect("the scenario finishes");
    assert!(summary.rejected.is_empty(), "{:#?}", summary.rejected);
    assert_eq!(summary.steps, steps.len());

    // The war room as the log has it (a console's board holds only each incident's newest
    // and key entries; the story's checks read the whole timeline).
    let log = SqliteStore::open(dir.path())
        .and_then(|s| s.reader())
        .and_then(|r| r.read_since(0, 1_000_000))
        .unwrap();
    let state = State::from_events(&log).unwrap();
    let s = &state;
    assert_eq!(s.incidents.len(), 2);
    let pay = s.incident(IncidentRef(1)).unwrap();
    assert_eq!(
        (pay.severity, pay.status),
        (Severity::Sev1, Status::Resolved)
    );
    assert_eq!(pay.acknowledged_by.as_deref(), Some("priya"));
    let holder = |r: Role| pay.roles.get(&r).map(String::as_str);
    assert_eq!(holder(Role::IncidentCommander), Some("priya"));
    assert_eq!(holder(Role::TechLead), Some("marco"));
    assert_eq!(holder(Role::CommsLead), Some("sam"));
    assert_eq!(holder(Role::Scribe), Some("lee"));
    assert!(
        pay.entries
            .iter()
            .any(|e| e.pinned && e.kind == EntryKind::Decision)
    );
    let impact = pay
        .entries
        .iter()
        .find(|e| e.text.starts_with("impact started:"))
        .unwrap();
    assert!(
        impact.occurred_at < pay.declared_at,
        "backdated before the declaration"
    );
    for kind in [
        EntryKind::Decision,
        EntryKind::Hypothesis,
        EntryKind::RuledOut,
        EntryKind::Action,
        EntryKind::StatusUpdate,
    ] {
        assert!(pay.entries.iter().any(|e| e.kind == kind), "{kind:?}");
    }
    assert!(pay.milestones.contains_key(&Milestone::Mitigated));
    assert_eq!(
        pay.milestones.get(&Milestone::ImpactStarted),
        Some(&impact.occurred_at)
    );
    // Opened by Alertmanager, classified, deduplicated, escalated.
    assert_eq!(pay.declared_by, "alertmanager");
    assert_eq!(
        pay.alert_count, 5,
        "five firing alerts in four notifications, one incident"
    );
    assert!(
        pay.entries
            .iter()
            .any(|e| e.text == "classified SEV2: error rate 12.4% on a revenue-impacting service")
    );
    assert!(pay.entries.iter().any(|e| e.text.starts_with("paged ")));
    assert_eq!(
        pay.runbook.as_ref().map(|r| r.name.as_str()),
        Some("payments")
    );
    let search = s.incident(IncidentRef(2)).unwrap();
    assert!(search.is_active());
    server.shutdown().await.unwrap();
}
