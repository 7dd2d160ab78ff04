//! The escalation engine under a fake clock, on a real feed server over loopback: each step
//! fires at its minute and names the person it resolved to; none fires after an
//! acknowledgement; raising the severity restarts the clock on the new policy; a restart
//! neither repeats nor loses a step; repeat rounds; a step with nobody on call is skipped
//! and the next one does not wait; an acknowledgement with no progress lapses.

mod common;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::*;
use serde_json::json;
use warroom::clock::FakeClock;
use warroom::model::escalation::StopReason;
use warroom::model::policy::Policy;
use warroom::model::{Incident, State, StepAction};
use warroom::server::{Rules, RunningServer};

/// Mondays 09:00 UTC handoffs; on 2026-11-26 ana is primary and ben secondary.
const POLICY: &str = r#"
[escalation.sev1]
steps = [
  { after = "0m", page = "oncall.primary" },
  { after = "5m", page = "oncall.secondary" },
  { after = "10m", page = "engineering-manager" },
  { after = "20m", page = "vp-engineering" },
  { after = "30m", page = "cto" },
]

[escalation.sev2]
steps = [
  { after = "0m", page = "oncall.primary" },
  { after = "15m", page = "oncall.secondary" },
]
ack_timeout = "10m"

[escalation.sev3]
steps = [
  { after = "0m", notify = "oncall.primary" },
  { after = "60m", notify = "team-lead" },
]

[escalation.sev4]
steps = [
  { after = "0m", page = "oncall.primary" },
  { after = "5m", page = "oncall.secondary" },
]
repeat = 1

[targets]
engineering-manager = "dana"
vp-engineering = "ines"
cto = "ruth"
team-lead = "marco"
nobody-yet = "empty.primary"

[oncall]
default_schedule = "platform"
services = { ghost = "empty" }

[[schedule]]
name = "platform"
start = "2026-11-23"
primary = ["ana", "carl"]
secondary = ["ben", "dora"]

[[schedule]]
name = "empty"
start = "2026-11-23"
primary = []
"#;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap()
}

fn rules(text: &str) -> Arc<Rules> {
    Arc::new(Rules {
        policy: Policy::parse(text).unwrap_or_else(|e| panic!("{e:?}")),
        runbooks: Default::default(),
    })
}

async fn start(dir: &std::path::Path, clock: &Arc<FakeClock>, rules: &Arc<Rules>) -> RunningServer {
    let mut cfg = server_config("127.0.0.1:0".parse().unwrap(), dir.to_path_buf());
    cfg.clock = clock.clone();
    cfg.rules = rules.clone();
    // Only the test's ticks move the engine (and the tick at start-up).
    cfg.tick_every = StdDuration::from_secs(3600);
    warroom::server::start(cfg).await.unwrap()
}

async fn state(server: &RunningServer) -> State {
    let (_c, frames) = Raw::join(&server.url(), "observer", None).await;
    let snap = frames.iter().find(|f| f["type"] == "snapshot").unwrap();
    serde_json::from_value(snap["state"].clone()).unwrap()
}

async fn incident(server: &RunningServer, n: u32) -> Incident {
    state(server)
        .await
        .incidents
        .get(&n)
        .cloned()
        .unwrap_or_else(|| panic!("INC-{n} missing"))
}

/// (step, person) of every fired step of the current run.
fn fired(inc: &Incident) -> Vec<(u32, u32, Option<String>)> {
    inc.escalation
        .as_ref()
        .map(|e| {
            e.fired
                .iter()
                .map(|f| (f.round, f.step, f.person.clone()))
                .collect()
        })
        .unwrap_or_default()
}

async fn at(server: &RunningServer, clock: &FakeClock, minutes_from_t0: i64) {
    clock.set(t0() + Duration::minutes(minutes_from_t0));
    server.tick().await.unwrap();
}

fn p(s: &str) -> Option<String> {
    Some(s.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_step_fires_at_its_minute_and_names_its_person() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FakeClock::new(t0()));
    let server = start(dir.path(), &clock, &rules(POLICY)).await;
    let (mut c, _) = Raw::join(&server.url(), "alice", None).await;
    let ok = c.command(declare("Checkout down", 1)).await;
    assert_eq!(ok["type"], "ok", "{ok}");

    // The 0-minute step fires with the declaration itself.
    let inc = incident(&server, 1).await;
    assert_eq!(fired(&inc), vec![(0, 0, p("ana"))]);
    let esc = inc.escalation.as_ref().unwrap();
    assert_eq!(esc.plan.steps.len(), 5);
    assert_eq!(esc.plan.steps[1].expected.as_deref(), Some("ben"));
    let next = esc.next().unwrap();
    assert_eq!(next.due_at, t0() + Duration::minutes(5));
    assert_eq!(next.target, "oncall.secondary");

    clock.set(t0() + Duration::minutes(5) - Duration::seconds(1));
    server.tick().await.unwrap();
    assert_eq!(
        fired(&incident(&server, 1).await).len(),
        1,
        "not before 5:00"
    );

    let expected = [
        (5, p("ben")),
        (10, p("dana")),
        (20, p("ines")),
        (30, p("ruth")),
    ];
    for (i, (minute, person)) in expected.iter().enumerate() {
        at(&server, &clock, *minute).await;
        let inc = incident(&server, 1).await;
        let f = fired(&inc);
        assert_eq!(f.len(), i + 2, "at {minute} min: {f:?}");
        assert_eq!(f.last().unwrap(), &(0, i as u32 + 1, person.clone()));
        let step = inc.escalation.as_ref().unwrap().fired.last().unwrap();
        assert_eq!(step.at, t0() + Duration::minutes(*minute));
        assert!(!step.late);
        assert_eq!(step.action, StepAction::Page);
    }
    let inc = incident(&server, 1).await;
    let esc = inc.escalation.as_ref().unwrap();
    assert_eq!(esc.stopped.as_ref().unwrap().reason, StopReason::Exhausted);
    // The timeline names the step and the person.
    let texts: Vec<&str> = inc.entries.iter().map(|e| e.text.as_str()).collect();
    assert!(
        texts.contains(&"paged ana as oncall.primary (step 1 of 5)"),
        "{texts:?}"
    );
    assert!(
        texts.contains(&"paged ruth as cto (step 5 of 5)"),
        "{texts:?}"
    );
    at(&server, &clock, 90).await;
    assert_eq!(
        fired(&incident(&server, 1).await).len(),
        5,
        "nothing after the last step"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_fires_after_an_acknowledgement_and_resolving_cancels() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FakeClock::new(t0()));
    let server = start(dir.path(), &clock, &rules(POLICY)).await;
    let (mut c, _) = Raw::join(&server.url(), "ana", None).await;
    c.command(declare("Checkout down", 1)).await;
    c.command(declare("Search slow", 1)).await;
    at(&server, &clock, 2).await;
    let ok = c
        .command(json!({"op": "acknowledge", "incident": "INC-1"}))
        .await;
    assert_eq!(ok["type"], "ok", "{ok}");
    let ok = c
        .command(json!({"op": "resolve", "incident": "INC-2"}))
        .await;
    assert_eq!(ok["type"], "ok", "{ok}");
    at(&server, &clock, 120).await;
    let s = state(&server).await;
    for n in [1, 2] {
        let inc = &s.incidents[&n];
        assert_eq!(fired(inc), vec![(0, 0, p("ana"))], "INC-{n}");
        let stop = inc.escalation.as_ref().unwrap().stopped.as_ref().unwrap();
        assert_eq!(stop.at, t0() + Duration::minutes(2));
        let reason = if n == 1 {
            StopReason::Acknowledged
        } else {
            StopReason::Resolved
        };
        assert_eq!(stop.reason, reason);
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_restarts_the_clock_on_the_new_policy_and_lowering_pages_nobody_new() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FakeClock::new(t0()));
    let server = start(dir.path(), &clock, &rules(POLICY)).await;
    let (mut c, _) = Raw::join(&server.url(), "alice", None).await;
    c.command(declare("Latency creeping", 3)).await;
    let inc = incident(&server, 1).await;
    assert_eq!(fired(&inc), vec![(0, 0, p("ana"))]);
    assert_eq!(
        inc.escalation.as_ref().unwrap().fired[0].action,
        StepAction::Notify
    );

    at(&server, &clock, 12).await;
    let ok = c
        .command(json!({"op": "set_severity", "incident": "INC-1", "severity": 1}))
        .await;
    assert_eq!(ok["type"], "ok", "{ok}");
    let inc = incident(&server, 1).await;
    let esc = inc.escalation.as_ref().unwrap();
    assert_eq!(esc.plan.severity, warroom::model::Severity::Sev1);
    assert_eq!(
        esc.started_at,
        t0() + Duration::minutes(12),
        "the clock restarted"
    );
    assert_eq!(fired(&inc), vec![(0, 0, p("ana"))], "SEV1 step 1 at once");
    assert_eq!(esc.fired[0].action, StepAction::Page);
    at(&server, &clock, 16).await;
    assert_eq!(
        fired(&incident(&server, 1).await).len(),
        1,
        "5 min from the raise, not from the declaration"
    );
    at(&server, &clock, 17).await;
    assert_eq!(fired(&incident(&server, 1).await)[1], (0, 1, p("ben")));

    // Lowering: the run stops, nobody new is paged.
    c.command(json!({"op": "set_severity", "incident": "INC-1", "severity": 2}))
        .await;
    at(&server, &clock, 200).await;
    let inc = incident(&server, 1).await;
    assert_eq!(fired(&inc).len(), 2);
    let stop = inc.escalation.as_ref().unwrap().stopped.as_ref().unwrap();
    assert_eq!(stop.reason, StopReason::Lowered);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_a_restart_no_step_fires_twice_and_a_missed_one_fires_late() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FakeClock::new(t0()));
    let rules = rules(POLICY);
    let server = start(dir.path(), &clock, &rules).await;
    let (mut c, _) = Raw::join(&server.url(), "alice", None).await;
    c.command(declare("Checkout down", 1)).await;
    at(&server, &clock, 5).await;
    assert_eq!(fired(&incident(&server, 1).await).len(), 2);
    drop(c);
    server.shutdown().await.unwrap();

    // Down from 5:00 to 12:30: the 10-minute step was missed.
    clock.set(t0() + Duration::minutes(12) + Duration::seconds(30));
    let server = start(dir.path(), &clock, &rules).await;
    // The tick at start-up fires it, marked late; nothing earlier fires again.
    let inc = incident(&server, 1).await;
    assert_eq!(
        fired(&inc),
        vec![(0, 0, p("ana")), (0, 1, p("ben")), (0, 2, p("dana"))]
    );
    let late = &inc.escalation.as_ref().unwrap().fired[2];
    assert!(late.late);
    assert_eq!(late.due_at, t0() + Duration::minutes(10));
    assert!(
        inc.entries
            .iter()
            .any(|e| e.text == "paged dana as engineering-manager (step 3 of 5, late by 2:30)"),
        "{:?}",
        inc.entries.iter().map(|e| &e.text).collect::<Vec<_>>()
    );
    server.tick().await.unwrap();
    server.shutdown().await.unwrap();
    // Restarted again at the same instant: nothing new.
    let server = start(dir.path(), &clock, &rules).await;
    server.tick().await.unwrap();
    assert_eq!(fired(&incident(&server, 1).await).len(), 3);
    let s = state(&server).await;
    let steps = s.incidents[&1]
        .entries
        .iter()
        .filter(|e| e.text.starts_with("paged "))
        .count();
    assert_eq!(steps, 3, "each step is on the timeline once");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeat_runs_the_policy_again_while_nobody_acknowledges() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FakeClock::new(t0()));
    let server = start(dir.path(), &clock, &rules(POLICY)).await;
    let (mut c, _) = Raw::join(&server.url(), "alice", None).await;
    c.command(declare("Typo on the status page", 4)).await;
    // Round length defaults to the last step's time plus the last gap: 5 + 5 = 10 min.
    for (minute, count) in [(5, 2), (9, 2), (10, 3), (15, 4), (60, 4)] {
        at(&server, &clock, minute).await;
        assert_eq!(
            fired(&incident(&server, 1).await).len(),
            count,
            "at {minute}"
        );
    }
    assert_eq!(
        fired(&incident(&server, 1).await),
        vec![
            (0, 0, p("ana")),
            (0, 1, p("ben")),
            (1, 0, p("ana")),
            (1, 1, p("ben"))
        ]
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_with_nobody_on_call_is_skipped_and_the_next_does_not_wait() {
    let text = POLICY.replace(
        r#"{ after = "5m", page = "oncall.secondary" },
  { after = "10m", page = "engineering-manager" },"#,
        r#"{ after = "5m", page = "nobody-yet" },
  { after = "10m", page = "engineering-manager" },"#,
    );
    assert_ne!(text, POLICY);
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FakeClock::new(t0()));
    let server = start(dir.path(), &clock, &rules(&text)).await;
    let (mut c, _) = Raw::join(&server.url(), "alice", None).await;
    c.command(declare("Checkout down", 1)).await;
    at(&server, &clock, 5).await;
    let inc = incident(&server, 1).await;
    assert_eq!(
        fired(&inc),
        vec![(0, 0, p("ana")), (0, 1, None), (0, 2, p("dana"))],
        "the manager is paged at 5:00, not 10:00"
    );
    assert!(
        inc.entries
            .iter()
            .any(|e| e.text == "skipped step 2 of 5: nobody on call for nobody-yet")
    );
    // A service whose schedule is empty: its first step is skipped too.
    c.command(json!({"op": "declare", "title": "Ghost", "severity": 1, "service": "ghost"}))
        .await;
    let inc = incident(&server, 2).await;
    assert_eq!(fired(&inc)[0], (0, 0, None));
    assert_eq!(fired(&inc)[1], (0, 1, None), "nobody.secondary either");
    assert_eq!(fired(&inc)[2], (0, 2, p("dana")));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledgement_without_progress_lapses_and_escalation_starts_again() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FakeClock::new(t0()));
    let server = start(dir.path(), &clock, &rules(POLICY)).await;
    let (mut c, _) = Raw::join(&server.url(), "ana", None).await;
    c.command(declare("Checkout slow", 2)).await;
    c.command(declare("Search slow", 2)).await;
    at(&server, &clock, 1).await;
    c.command(json!({"op": "acknowledge", "incident": "INC-1"}))
        .await;
    c.command(json!({"op": "acknowledge", "incident": "INC-2"}))
        .await;
    at(&server, &clock, 5).await;
    // Progress on INC-2 only.
    c.command(note("INC-2", "pool at 100%, restarting pods"))
        .await;
    at(&server, &clock, 11).await;
    let s = state(&server).await;
    let one = &s.incidents[&1];
    assert_eq!(one.acknowledged_by, None, "the acknowledgement lapsed");
    let esc = one.escalation.as_ref().unwrap();
    assert_eq!(esc.started_at, t0() + Duration::minutes(11));
    assert_eq!(fired(one), vec![(0, 0, p("ana"))], "a new run pages again");
    assert!(one.entries.iter().any(
        |e| e.text == "acknowledgement by ana lapsed: no progress for 10:00; escalating again"
    ));
    let two = &s.incidents[&2];
    assert_eq!(
        two.acknowledged_by.as_deref(),
        Some("ana"),
        "progress keeps it"
    );
    // It can be acknowledged again; MTTA still counts from the first acknowledgement.
    at(&server, &clock, 12).await;
    let ok = c
        .command(json!({"op": "acknowledge", "incident": "INC-1"}))
        .await;
    assert_eq!(ok["type"], "ok", "{ok}");
    let one = incident(&server, 1).await;
    assert_eq!(
        one.milestones[&warroom::model::Milestone::Acknowledged],
        t0() + Duration::minutes(1)
    );
    assert_eq!(one.acknowledged_at, Some(t0() + Duration::minutes(12)));
    // The new acknowledgement lapses in its turn, counted from itself.
    at(&server, &clock, 21).await;
    assert!(incident(&server, 1).await.is_acknowledged());
    at(&server, &clock, 22).await;
    assert!(!incident(&server, 1).await.is_acknowledged());
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raise_after_the_run_ended_and_a_reopening_page_again() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FakeClock::new(t0()));
    let server = start(dir.path(), &clock, &rules(POLICY)).await;
    let (mut c, _) = Raw::join(&server.url(), "alice", None).await;
    c.command(declare("Typo", 4)).await;
    at(&server, &clock, 30).await;
    let inc = incident(&server, 1).await;
    let stop = inc.escalation.as_ref().unwrap().stopped.clone().unwrap();
    assert_eq!(stop.reason, StopReason::Exhausted);
    c.command(json!({"op": "set_severity", "incident": "INC-1", "severity": 1}))
        .await;
    let inc = incident(&server, 1).await;
    assert!(
        inc.entries
            .iter()
            .any(|e| e.text == "escalation started: SEV1 policy, 5 steps (severity raised to SEV1)"),
        "{:?}",
        inc.entries.iter().map(|e| &e.text).collect::<Vec<_>>()
    );
    // Resolved before anyone acknowledged, then reopened: it pages again.
    c.command(json!({"op": "resolve", "incident": "INC-1"}))
        .await;
    at(&server, &clock, 40).await;
    let ok = c
        .command(json!({"op": "set_status", "incident": "INC-1", "status": "investigating"}))
        .await;
    assert_eq!(ok["type"], "ok", "{ok}");
    let inc = incident(&server, 1).await;
    let esc = inc.live_escalation().expect("a new run");
    assert_eq!(esc.started_at, t0() + Duration::minutes(40));
    assert_eq!(fired(&inc), vec![(0, 0, p("ana"))]);
    server.shutdown().await.unwrap();
}
