//! Metrics over a small hand-built history with known answers; the `warroom metrics` CLI
//! against a real `warroom serve`; and the console's `:metrics` screen.

mod common;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use common::cli::ok;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::Value;
use warroom::client::{ConnState, Update};
use warroom::model::escalation::{Plan, PlannedStep};
use warroom::model::oncall::Schedule;
use warroom::model::policy::Policy;
use warroom::model::{
    Event, EventKind, IncidentRef, Milestone, PmSection, Severity, State, Status, StepAction,
};
use warroom::protocol::{Query, QueryResult};
use warroom::report::metrics::{self, Durations, Metrics, compute};
use warroom::tui::app::{App, Effect, Msg, Screen};
use warroom::tui::keymap::Keymap;
use warroom::tui::theme::Theme;

fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap()
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

/// "Now" for every figure: Wednesday 25 November 2026, 12:00 UTC.
fn now() -> DateTime<Utc> {
    at(25, 12, 0)
}

/// An event log built by hand, folded as it grows.
#[derive(Default)]
struct Log {
    events: Vec<Event>,
    state: State,
}

impl Log {
    fn push(&mut self, t: DateTime<Utc>, who: &str, kind: EventKind) -> u64 {
        let e = Event {
            seq: self.state.seq + 1,
            at: t,
            actor: who.into(),
            kind,
        };
        self.state.apply(&e).unwrap();
        self.events.push(e);
        self.state.seq
    }
    fn declare(&mut self, n: u32, sev: Severity, t: DateTime<Utc>) {
        self.push(
            t,
            "alice",
            EventKind::Declared {
                incident: IncidentRef(n),
                title: format!("incident {n}"),
                service: None,
                severity: sev,
                restricted: false,
                alert_key: None,
            },
        );
    }
    fn milestone(&mut self, n: u32, m: Milestone, when: DateTime<Utc>, recorded: DateTime<Utc>) {
        self.push(
            recorded,
            "alice",
            EventKind::MilestoneSet {
                incident: IncidentRef(n),
                milestone: m,
                occurred_at: when,
            },
        );
    }
    fn ack(&mut self, n: u32, t: DateTime<Utc>) {
        self.push(
            t,
            "bob",
            EventKind::Acknowledged {
                incident: IncidentRef(n),
            },
        );
    }
    fn resolve(&mut self, n: u32, t: DateTime<Utc>) {
        self.push(
            t,
            "bob",
            EventKind::Resolved {
                incident: IncidentRef(n),
            },
        );
    }
    fn status(&mut self, n: u32, from: Status, to: Status, t: DateTime<Utc>) {
        self.push(
            t,
            "bob",
            EventKind::StatusChanged {
                incident: IncidentRef(n),
                from,
                to,
            },
        );
    }
    /// Starts an escalation run; returns its run number.
    fn escalate(&mut self, n: u32, sev: Severity, t: DateTime<Utc>) -> u64 {
        let step = |target: &str| PlannedStep {
            after_secs: 0,
            action: StepAction::Page,
            target: target.into(),
            expected: None,
        };
        self.push(
            t,
            "warroom",
            EventKind::EscalationStarted {
                incident: IncidentRef(n),
                plan: Plan {
                    severity: sev,
                    steps: vec![
                        step("oncall.primary"),
                        step("oncall.secondary"),
                        step("team-lead"),
                    ],
                    repeat: 0,
                    round_secs: 3600,
                    ack_timeout_secs: None,
                },
                reason: "declared".into(),
            },
        )
    }
    fn fire(
        &mut self,
        n: u32,
        run: u64,
        step: u32,
        action: StepAction,
        person: Option<&str>,
        t: DateTime<Utc>,
    ) {
        self.push(
            t,
            "warroom",
            EventKind::StepFired {
                incident: IncidentRef(n),
                run,
                round: 0,
                step,
                action,
                target: "oncall.primary".into(),
                person: person.map(str::to_string),
                due_at: t,
                late: false,
            },
        );
    }
    fn summary(&mut self, n: u32, t: DateTime<Utc>) {
        self.push(
            t,
            "alice",
            EventKind::PostmortemEdited {
                incident: IncidentRef(n),
                section: PmSection::Summary,
                text: "what happened".into(),
            },
        );
    }
    fn item(&mut self, n: u32, due: Option<NaiveDate>, t: DateTime<Utc>) -> u64 {
        self.push(
            t,
            "alice",
            EventKind::ActionItemAdded {
                incident: IncidentRef(n),
                text: "fix it".into(),
                owner: "alice".into(),
                due,
            },
        )
    }
    fn done(&mut self, n: u32, item: u64, due: Option<NaiveDate>, t: DateTime<Utc>) {
        self.push(
            t,
            "alice",
            EventKind::ActionItemUpdated {
                incident: IncidentRef(n),
                item,
                text: "fix it".into(),
                owner: "alice".into(),
                due,
                done: true,
            },
        );
    }
}

/// Five incidents over three ISO weeks (W45, none in W46, W47), with known answers:
///
/// | inc | sev | declared    | impact | ack   | mitigated | resolved |
/// |-----|-----|-------------|--------|-------|-----------|----------|
/// | 1   | 1   | 11-02 10:00 | 09:50  | 10:02 | 10:30     | 11:00    |
/// | 2   | 1   | 11-03 12:00 | 11:40  | 12:05 | (13:00)   | 13:00    |
/// | 3   | 2   | 11-04 15:00 | 14:30  | 15:15 | 16:00     | 17:30    |
/// | 4   | 1   | 11-17 08:00 | -      | 08:10 | (09:00)   | 09:00    |
/// | 5   | 2   | 11-18 20:00 | -      | 20:20 | -         | -        |
///
/// (mitigated in brackets: set by the resolution.) Pages: INC-1 ana (first run) and carl
/// (second run); INC-2 ana, and a skipped step; INC-3 carl; INC-4 ana; and a notify to
/// marco, which is not a page.
fn history() -> Log {
    use Milestone as M;
    let mut l = Log::default();
    // INC-1, SEV1: two escalation runs (the state keeps only the second).
    l.declare(1, Severity::Sev1, at(2, 10, 0));
    l.milestone(1, M::ImpactStarted, at(2, 9, 50), at(2, 10, 1));
    let run = l.escalate(1, Severity::Sev1, at(2, 10, 0));
    l.fire(1, run, 0, StepAction::Page, Some("ana"), at(2, 10, 0));
    l.fire(1, run, 1, StepAction::Notify, Some("marco"), at(2, 10, 0));
    let run = l.escalate(1, Severity::Sev1, at(2, 10, 1));
    l.fire(1, run, 0, StepAction::Page, Some("carl"), at(2, 10, 1));
    l.ack(1, at(2, 10, 2));
    l.status(1, Status::Investigating, Status::Monitoring, at(2, 10, 30));
    l.resolve(1, at(2, 11, 0));
    // INC-2, SEV1: mitigated when resolved.
    l.declare(2, Severity::Sev1, at(3, 12, 0));
    let run = l.escalate(2, Severity::Sev1, at(3, 12, 0));
    l.fire(2, run, 0, StepAction::Page, Some("ana"), at(3, 12, 0));
    l.fire(2, run, 1, StepAction::Page, None, at(3, 12, 0));
    l.milestone(2, M::ImpactStarted, at(3, 11, 40), at(3, 12, 3));
    l.ack(2, at(3, 12, 5));
    l.resolve(2, at(3, 13, 0));
    // INC-3, SEV2: mitigated set by hand.
    l.declare(3, Severity::Sev2, at(4, 15, 0));
    let run = l.escalate(3, Severity::Sev2, at(4, 15, 0));
    l.fire(3, run, 0, StepAction::Page, Some("carl"), at(4, 15, 0));
    l.milestone(3, M::ImpactStarted, at(4, 14, 30), at(4, 15, 5));
    l.ack(3, at(4, 15, 15));
    l.milestone(3, M::Mitigated, at(4, 16, 0), at(4, 16, 5));
    l.resolve(3, at(4, 17, 30));
    // INC-4, SEV1, no impact time: mitigation and resolution measured from detection.
    l.declare(4, Severity::Sev1, at(17, 8, 0));
    let run = l.escalate(4, Severity::Sev1, at(17, 8, 0));
    l.fire(4, run, 0, StepAction::Page, Some("ana"), at(17, 8, 0));
    l.ack(4, at(17, 8, 10));
    l.resolve(4, at(17, 9, 0));
    // INC-5, SEV2, still active.
    l.declare(5, Severity::Sev2, at(18, 20, 0));
    l.ack(5, at(18, 20, 20));
    l
}

/// One severity's figures.
fn sev(m: &Metrics, s: Severity) -> &metrics::SeverityMetrics {
    m.severities.iter().find(|x| x.severity == s).unwrap()
}

fn d(count: u32, mean: i64, median: i64) -> Durations {
    Durations {
        count,
        mean_secs: Some(mean),
        median_secs: Some(median),
        inconsistent: 0,
    }
}

fn none() -> Durations {
    Durations::default()
}

fn schedule() -> Schedule {
    // Weekly, 09:00 UTC handoffs from Monday 2 November: ana, carl, ana, carl, …
    let p = Policy::parse(
        r#"
[oncall]
default_schedule = "platform"

[[schedule]]
name = "other"
start = "2026-01-05"
rotation = "1d"
primary = ["x", "y"]

[[schedule]]
name = "platform"
start = "2026-11-02"
primary = ["ana", "carl"]
"#,
    )
    .unwrap();
    p.schedule_for(None).unwrap().clone()
}

#[test]
fn response_times_per_severity_have_the_known_means_and_medians() {
    let l = history();
    let m = compute(&l.state, Some(&l.events), None, &[], None, now());
    assert_eq!(m.schema, "warroom.metrics/1");
    assert_eq!(m.incidents, 5);
    let s1 = sev(&m, Severity::Sev1);
    assert_eq!(s1.incidents, 3);
    // MTTD: 10m (INC-1), 20m (INC-2); INC-4 has no impact time.
    assert_eq!(s1.mttd, d(2, 900, 900));
    // MTTA: 2m, 5m, 10m.
    assert_eq!(s1.mtta, d(3, 340, 300));
    // MTTM from impact (or detection): 40m, 80m, 60m.
    assert_eq!(s1.mttm, d(3, 3600, 3600));
    // MTTR from detection, as the guide defines it: 60m, 60m, 60m; from impact (or
    // detection): 70m, 80m, 60m.
    assert_eq!(s1.mttr, d(3, 3600, 3600));
    assert_eq!(s1.mttr_from_impact, d(3, 4200, 4200));
    // Against the 5-minute response target: 2m and 5m within, 10m not.
    assert_eq!(s1.mtta_target.target_secs, Some(300));
    assert_eq!(
        (s1.mtta_target.within.done, s1.mtta_target.within.total),
        (2, 3)
    );

    let s2 = sev(&m, Severity::Sev2);
    assert_eq!(s2.incidents, 2);
    assert_eq!(s2.mttd, d(1, 1800, 1800));
    // 15m and 20m: an even count's median is the mean of the middle two.
    assert_eq!(s2.mtta, d(2, 1050, 1050));
    assert_eq!(s2.mttm, d(1, 5400, 5400));
    assert_eq!(s2.mttr, d(1, 9000, 9000));
    assert_eq!(s2.mttr_from_impact, d(1, 10800, 10800));
    // 15m is within the 15-minute target, 20m is not.
    assert_eq!(
        (s2.mtta_target.within.done, s2.mtta_target.within.total),
        (1, 2)
    );
    assert_eq!(sev(&m, Severity::Sev3).mtta_target.target_secs, Some(3600));
    assert_eq!(sev(&m, Severity::Sev4).mtta_target.target_secs, None);
    // No critical services named: nothing measured against MTTD's target.
    assert_eq!(m.mttd_critical.durations.count, 0);
    assert_eq!(m.mttd_critical.target_secs, Some(300));

    for s in [Severity::Sev3, Severity::Sev4] {
        let x = sev(&m, s);
        assert_eq!(x.incidents, 0);
        assert_eq!(
            [&x.mttd, &x.mtta, &x.mttm, &x.mttr],
            [&none(), &none(), &none(), &none()]
        );
    }
}

#[test]
fn a_corrected_milestone_changes_the_figures() {
    let mut l = history();
    // INC-1's impact actually started at 09:30, not 09:50.
    l.milestone(1, Milestone::ImpactStarted, at(2, 9, 30), at(20, 10, 0));
    let m = compute(&l.state, Some(&l.events), None, &[], None, now());
    let s1 = sev(&m, Severity::Sev1);
    // MTTD: 30m and 20m.
    assert_eq!(s1.mttd, d(2, 1500, 1500));
    // MTTM: 60m, 80m, 60m; MTTR from impact: 90m, 80m, 60m; from detection unchanged.
    assert_eq!(s1.mttm, d(3, 4000, 3600));
    assert_eq!(s1.mttr_from_impact, d(3, 4600, 4800));
    assert_eq!(s1.mttr, d(3, 3600, 3600));
    // MTTA is measured from detection, which did not move.
    assert_eq!(s1.mtta, d(3, 340, 300));

    // A corrected detection time moves MTTD and MTTA both.
    l.milestone(1, Milestone::Detected, at(2, 9, 40), at(20, 10, 1));
    let m = compute(&l.state, Some(&l.events), None, &[], None, now());
    let s1 = sev(&m, Severity::Sev1);
    assert_eq!(s1.mttd, d(2, 900, 900)); // 10m, 20m
    assert_eq!(s1.mtta, d(3, 740, 600)); // 22m, 5m, 10m
}

#[test]
fn a_milestone_before_the_one_it_is_measured_from_is_skipped_as_inconsistent() {
    let mut l = history();
    // INC-5's impact "started" after it was detected: bad data.
    l.milestone(5, Milestone::ImpactStarted, at(18, 20, 10), at(18, 21, 0));
    let m = compute(&l.state, Some(&l.events), None, &[], None, now());
    let s2 = sev(&m, Severity::Sev2);
    assert_eq!(
        s2.mttd,
        Durations {
            count: 1,
            mean_secs: Some(1800),
            median_secs: Some(1800),
            inconsistent: 1,
        }
    );
    let text = metrics::text(&m);
    assert!(text.contains("SEV2 MTTD 1"), "{text}");
}

#[test]
fn incidents_per_week_include_empty_weeks_between_the_first_and_the_last() {
    let l = history();
    let m = compute(&l.state, None, None, &[], None, now());
    let weeks: Vec<(&str, u32, u32, u32)> = m
        .weeks
        .iter()
        .map(|w| (w.week.as_str(), w.total, w.sev1, w.sev2))
        .collect();
    assert_eq!(
        weeks,
        [
            ("2026-W45", 3, 2, 1),
            ("2026-W46", 0, 0, 0),
            ("2026-W47", 2, 1, 1)
        ]
    );
    assert_eq!(m.weeks[1].starts, day(9));
    let bars = metrics::week_bars(&m, 40);
    assert_eq!(
        bars,
        [
            "2026-W45  ███   3  SEV1 2 · SEV2 1",
            "2026-W46        0",
            "2026-W47  ██    2  SEV1 1 · SEV2 1",
        ]
    );
    // Scaled down when the busiest week is wider than the bars.
    let bars = metrics::week_bars(&m, 2);
    assert_eq!(bars[0], "2026-W45  ██   3  SEV1 2 · SEV2 1");
    assert_eq!(bars[2], "2026-W47  █    2  SEV1 1 · SEV2 1");
}

#[test]
fn since_limits_the_incidents_counted_and_the_period() {
    let l = history();
    let since = Utc.with_ymd_and_hms(2026, 11, 10, 0, 0, 0).unwrap();
    let s = schedule();
    let m = compute(&l.state, Some(&l.events), Some(&s), &[], Some(since), now());
    assert_eq!(m.incidents, 2);
    assert_eq!(m.period_start, since);
    assert_eq!(m.weeks.len(), 1);
    assert_eq!(m.weeks[0].week, "2026-W47");
    assert_eq!(sev(&m, Severity::Sev1).mtta, d(1, 600, 600));
    assert_eq!(sev(&m, Severity::Sev2).mtta, d(1, 1200, 1200));
    // Shifts overlapping 10-25 November: carl (9-16), ana (16-23), carl (23-30).
    assert_eq!(m.pages.shifts, 3);
    assert_eq!(m.pages.pages, 1);
    assert_eq!(m.pages.by_person.get("ana"), Some(&1));
    // INC-4's post-mortem is the only one that counts now (INC-5 is active).
    assert_eq!(m.postmortems.overall.total, 1);
}

#[test]
fn postmortem_completion_counts_resolved_and_closed_sev1_and_sev2_complete_or_waived() {
    let mut l = history();
    // INC-1: complete (a summary and an action item), then closed.
    l.summary(1, at(5, 10, 0));
    l.item(1, None, at(5, 10, 1));
    l.status(1, Status::Resolved, Status::Closed, at(5, 10, 2));
    // INC-2: waived.
    l.push(
        at(5, 11, 0),
        "alice",
        EventKind::PostmortemWaived {
            incident: IncidentRef(2),
            reason: "duplicate of INC-1".into(),
        },
    );
    // INC-4 (SEV1): a summary only. INC-3 (SEV2): an action item only.
    l.summary(4, at(18, 10, 0));
    l.item(3, None, at(6, 10, 0));
    // INC-5 (SEV2) is still active: not counted, however complete.
    l.summary(5, at(19, 10, 0));
    l.item(5, None, at(19, 10, 1));

    let m = compute(&l.state, None, None, &[], None, now());
    let pm = &m.postmortems;
    assert_eq!((pm.sev1.done, pm.sev1.total), (2, 3));
    assert_eq!((pm.sev2.done, pm.sev2.total), (0, 1));
    assert_eq!((pm.overall.done, pm.overall.total), (2, 4));
    assert_eq!(pm.overall.rate, Some(0.5));
    assert_eq!(pm.sev2.rate, Some(0.0));
    assert_eq!(pm.waived, 1);
    assert_eq!(metrics::percent(&pm.sev1), "67% (2/3)");
}

#[test]
fn action_items_count_as_done_on_time_by_the_date_they_were_done() {
    let mut l = history();
    // Done the day before it was due: on time.
    let a = l.item(1, Some(day(10)), at(5, 9, 0));
    l.done(1, a, Some(day(10)), at(9, 16, 0));
    // Done two days late.
    let b = l.item(1, Some(day(12)), at(5, 9, 1));
    l.done(1, b, Some(day(12)), at(14, 9, 0));
    // Done late in the evening of its due date: on time.
    let g = l.item(1, Some(day(15)), at(5, 9, 2));
    l.done(1, g, Some(day(15)), at(15, 23, 0));
    // Not done, due last week: overdue.
    l.item(3, Some(day(20)), at(5, 9, 3));
    // Not done, due next week or today: not due yet, left out.
    l.item(
        3,
        Some(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()),
        at(5, 9, 4),
    );
    l.item(3, Some(day(25)), at(5, 9, 5));
    // No due date, done: on time.
    let e = l.item(3, None, at(5, 9, 6));
    l.done(3, e, None, at(21, 9, 0));
    // No due date, not done: never overdue.
    l.item(3, None, at(5, 9, 7));

    let m = compute(&l.state, None, None, &[], None, now());
    let ai = &m.action_items;
    assert_eq!((ai.on_time, ai.late, ai.overdue, ai.not_due), (3, 1, 1, 3));
    assert_eq!((ai.rate.done, ai.rate.total), (3, 5));
    assert_eq!(ai.rate.rate, Some(0.6));
}

#[test]
fn pages_per_shift_come_from_the_log_or_else_from_the_state() {
    let l = history();
    let s = schedule();
    assert_eq!(s.name(), "platform", "the policy's default, not the first");
    let m = compute(&l.state, Some(&l.events), Some(&s), &[], None, now());
    // The period runs from the first declaration (2 Nov 10:00) to now (25 Nov 12:00):
    // ana 2-9, carl 9-16, ana 16-23, carl 23-30.
    assert_eq!(m.period_start, at(2, 10, 0));
    assert_eq!(m.pages.shifts, 4);
    // Pages that reached someone: ana ×3, carl ×2 (the notify and the skipped step are not).
    assert_eq!(m.pages.pages, 5);
    assert_eq!(m.pages.per_shift, 1.25);
    assert_eq!(m.pages.source, "events");
    assert_eq!(m.pages.schedule.as_deref(), Some("platform"));
    let people: Vec<(&str, u32)> = m
        .pages
        .by_person
        .iter()
        .map(|(p, n)| (p.as_str(), *n))
        .collect();
    assert_eq!(people, [("ana", 3), ("carl", 2)]);

    // From the state, INC-1's first run (ana's page) is gone.
    let m = compute(&l.state, None, Some(&s), &[], None, now());
    assert_eq!(m.pages.source, "state");
    assert_eq!(m.pages.pages, 4);
    assert_eq!(m.pages.per_shift, 1.0);

    // Without a schedule, the pages are divided by one.
    let m = compute(&l.state, Some(&l.events), None, &[], None, now());
    assert_eq!((m.pages.shifts, m.pages.per_shift), (1, 5.0));
    assert_eq!(m.pages.schedule, None);
}

#[test]
fn an_override_is_a_shift_of_its_own() {
    let p = Policy::parse(
        r#"
[[schedule]]
name = "platform"
start = "2026-11-02"
primary = ["ana", "carl"]

[[schedule.override]]
layer = "primary"
person = "sam"
from = "2026-11-03 18:00"
until = "2026-11-04 09:00"
"#,
    )
    .unwrap();
    let s = &p.schedules()[0];
    // 2-9 Nov: ana until the override, sam, ana again; then carl from the 9th.
    assert_eq!(metrics::primary_shifts(s, at(2, 10, 0), at(10, 0, 0)), 4);
    assert_eq!(metrics::primary_shifts(s, at(5, 0, 0), at(6, 0, 0)), 1);
    // A period that is an instant still overlaps one shift.
    assert_eq!(metrics::primary_shifts(s, at(5, 0, 0), at(5, 0, 0)), 1);
}

#[test]
fn no_incidents_gives_empty_figures_not_errors() {
    let s = schedule();
    let m = compute(&State::default(), Some(&[]), Some(&s), &[], None, now());
    assert_eq!(m.incidents, 0);
    assert!(m.weeks.is_empty());
    assert_eq!(m.postmortems.overall.rate, None);
    assert_eq!(m.action_items.rate.rate, None);
    assert_eq!((m.pages.pages, m.pages.shifts), (0, 1));
    let text = metrics::text(&m);
    assert!(text.contains("n/a (0/0)"), "{text}");
    assert!(text.starts_with("0 incidents (all time)"), "{text}");
}

#[test]
fn the_json_form_has_stable_names_and_durations_in_seconds() {
    let l = history();
    let s = schedule();
    let m = compute(&l.state, Some(&l.events), Some(&s), &[], None, now());
    let v: Value = serde_json::to_value(&m).unwrap();
    assert_eq!(v["schema"], "warroom.metrics/1");
    assert_eq!(v["since"], Value::Null);
    assert_eq!(v["incidents"], 5);
    assert_eq!(v["severities"][0]["severity"], 1);
    assert_eq!(v["severities"][0]["mtta"]["mean_secs"], 340);
    assert_eq!(v["severities"][0]["mtta"]["median_secs"], 300);
    assert_eq!(v["severities"][0]["mttd"]["count"], 2);
    assert_eq!(v["severities"][2]["mttd"]["mean_secs"], Value::Null);
    assert_eq!(v["weeks"][1]["week"], "2026-W46");
    assert_eq!(v["weeks"][1]["starts"], "2026-11-09");
    assert_eq!(v["pages"]["per_shift"], 1.25);
    assert_eq!(v["pages"]["by_person"]["ana"], 3);
    assert_eq!(v["postmortems"]["overall"]["total"], 4);
    assert_eq!(v["action_items"]["rate"]["rate"], Value::Null);
    let back: Metrics = serde_json::from_value(v).unwrap();
    assert_eq!(back, m);
}

#[test]
fn the_text_report_is_an_aligned_table_bars_and_rates() {
    let l = history();
    let s = schedule();
    let m = compute(&l.state, Some(&l.events), Some(&s), &[], None, now());
    let text = metrics::text(&m);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "5 incidents (all time), as of 2026-11-25 12:00 UTC"
    );
    assert_eq!(
        lines[2],
        "               MTTD              MTTA              MTTM              MTTR"
    );
    assert_eq!(
        lines[3],
        "SEV    n     mean   median     mean   median     mean   median     mean   median"
    );
    assert_eq!(
        lines[4],
        "SEV1   3    15:00    15:00    05:40    05:00  1:00:00  1:00:00  1:00:00  1:00:00"
    );
    assert_eq!(
        lines[5],
        "SEV2   2    30:00    30:00    17:30    17:30  1:30:00  1:30:00  2:30:00  2:30:00"
    );
    assert_eq!(
        lines[6],
        "SEV3   0        -        -        -        -        -        -        -        -"
    );
    assert!(text.contains(
        "MTTA within the response target: SEV1 (under 5m) 67% (2/3) · SEV2 (under 15m) 50% (1/2) · SEV3 (under 1h) n/a (0/0)\n"
    ));
    assert!(text.contains(
        "MTTD on critical services: median - (n 0), target under 5m: n/a (0/0) within\n"
    ));
    assert!(text.contains(
        "MTTR is from detection (no target: tracked per severity); from impact start, median: SEV1 1:10:00 · SEV2 3:00:00\n"
    ));
    assert!(text.contains("Incidents per week\n2026-W45  ███   3  SEV1 2 · SEV2 1\n"));
    assert!(text.contains(
        "Pages per on-call shift: 1.25 (5 pages / 4 primary shifts of platform) · ana 3 · carl 2"
    ));
    assert!(text.contains("Post-mortems done (resolved SEV1/SEV2, complete or waived): 0% (0/4)"));
}

// ---- the CLI against a real feed ---------------------------------------------------------

fn warroom(server: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(args)
        .env("WARROOM_SERVER", server)
        .env("WARROOM_NAME", "alice")
        .env_remove("WARROOM_TOKEN")
        .env_remove("WARROOM_POLICY")
        .output()
        .unwrap()
}

#[test]
fn warroom_metrics_json_against_a_real_feed() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::ServeProcess::start(dir.path());
    let s = server.addr.clone();
    assert_eq!(
        ok(warroom(&s, &["declare", "Checkout down", "-s", "1"])),
        "INC-1\n"
    );
    assert_eq!(
        ok(warroom(&s, &["declare", "Search slow", "-s", "2"])),
        "INC-2\n"
    );
    assert_eq!(ok(warroom(&s, &["declare", "Typo", "-s", "4"])), "INC-3\n");
    ok(warroom(&s, &["ack", "INC-1"]));
    ok(warroom(&s, &["resolve", "INC-1", "--verified"]));
    ok(warroom(&s, &["ack", "INC-2"]));

    let out = ok(warroom(&s, &["metrics", "--json"]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema"], "warroom.metrics/1");
    assert_eq!(v["incidents"], 3);
    let sevs = v["severities"].as_array().unwrap();
    let n = |i: usize, k: &str| sevs[i][k].clone();
    assert_eq!(
        (
            n(0, "incidents"),
            n(1, "incidents"),
            n(2, "incidents"),
            n(3, "incidents")
        ),
        (1.into(), 1.into(), 0.into(), 1.into())
    );
    assert_eq!(sevs[0]["mtta"]["count"], 1);
    assert_eq!(sevs[0]["mttr"]["count"], 1);
    assert!(sevs[0]["mttr"]["mean_secs"].as_i64().unwrap() >= 0);
    assert_eq!(sevs[0]["mttd"]["count"], 0, "no impact time was given");
    assert_eq!(sevs[1]["mtta"]["count"], 1);
    assert_eq!(sevs[1]["mttr"]["count"], 0);
    assert_eq!(v["weeks"].as_array().unwrap().len(), 1);
    assert_eq!(v["weeks"][0]["total"], 3);
    assert_eq!(v["postmortems"]["sev1"]["total"], 1);
    assert_eq!(v["postmortems"]["sev1"]["done"], 0);
    // Pages come from the log, divided by the built-in policy's default schedule.
    assert_eq!(v["pages"]["source"], "events");
    assert_eq!(v["pages"]["schedule"], "platform");
    let by_person: u64 = v["pages"]["by_person"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(v["pages"]["pages"].as_u64().unwrap(), by_person);

    // The text form.
    let text = ok(warroom(&s, &["metrics", "--since", "2000-01-01"]));
    assert!(
        text.starts_with("3 incidents (declared since 2000-01-01)"),
        "{text}"
    );
    assert!(text.contains("SEV1   1"), "{text}");
    // Nothing declared from the far future on.
    let out = ok(warroom(&s, &["metrics", "--json", "--since", "2999-01-01"]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["incidents"], 0);
    // A bad date names what was typed.
    let out = warroom(&s, &["metrics", "--since", "2026-13-01"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'2026-13-01' is not a date"), "{err}");
}

// ---- the console -------------------------------------------------------------------------

#[test]
fn the_metrics_screen_renders_in_the_console_and_esc_goes_back() {
    let l = history();
    let mut app = App::new(
        "ws://127.0.0.1:7654/feed".into(),
        Keymap::default(),
        now(),
        FixedOffset::east_opt(0).unwrap(),
        "s".into(),
    );
    app.update(Msg::Resize(100, 30));
    app.update(Msg::Feed(Update::Welcome {
        name: "alice".into(),
        head_seq: l.state.seq,
        mode: warroom::protocol::SyncMode::Snapshot,
        recent_secs: 7 * 86_400,
    }));
    app.update(Msg::Feed(Update::Snapshot(l.state.clone())));
    app.update(Msg::Feed(Update::Synced(l.state.seq)));
    app.update(Msg::Feed(Update::Conn(ConnState::Live)));
    let key = |c: KeyCode| Msg::Key(KeyEvent::new(c, KeyModifiers::NONE));
    for c in ":metrics".chars() {
        app.update(key(KeyCode::Char(c)));
    }
    let fx = app.update(key(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Metrics);
    // The console asks the feed, which computes the figures from its store; here the
    // answer is computed as the feed would from this history (no log: pages from the state).
    let id = match &fx[..] {
        [
            Effect::Focus(None),
            Effect::Query {
                id,
                query: Query::Metrics { since: None },
            },
        ]
        | [
            Effect::Query {
                id,
                query: Query::Metrics { since: None },
            },
        ] => id.clone(),
        other => panic!("expected the metrics asked of the feed, got {other:?}"),
    };
    let figures = compute(&l.state, None, None, &[], None, now());
    app.update(Msg::Feed(Update::Result {
        id,
        result: QueryResult::Metrics {
            metrics: Box::new(figures),
        },
    }));

    let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let theme = Theme::plain();
    term.draw(|f| warroom::tui::ui::render(&app, &theme, f.area(), f.buffer_mut()))
        .unwrap();
    let buf = term.backend().buffer();
    let lines: Vec<String> = (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect();
    let all = lines.join("\n");
    for needle in [
        "metrics · 5 incidents (all time)",
        "MTTD",
        "SEV1   3    15:00    15:00    05:40    05:00  1:00:00  1:00:00  1:00:00  1:00:00",
        "MTTA within the response target: SEV1 (under 5m) 67% (2/3)",
        "Incidents per week",
        "2026-W45  ███   3  SEV1 2 · SEV2 1",
        "2026-W46        0",
        "Post-mortems done",
        // No log in the console: INC-1's first run is not in the state.
        "Pages per on-call shift: 4.00 (4 pages; no on-call schedule to divide by)",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }

    app.update(key(KeyCode::Esc));
    assert_eq!(app.screen, Screen::Board);
}

#[test]
fn detection_on_critical_services_is_measured_against_five_minutes() {
    let mut l = history();
    for (n, service) in [(1, "payments"), (2, "search"), (3, "payments")] {
        l.state.incidents.get_mut(&n).unwrap().service = Some(service.into());
    }
    let critical = ["payments".to_string()];
    // INC-1 detected 10m after impact, INC-3 30m; INC-2 is not on a critical service.
    let m = compute(&l.state, Some(&l.events), None, &critical, None, now());
    assert_eq!(m.mttd_critical.durations, d(2, 1200, 1200));
    assert_eq!(
        (m.mttd_critical.within.done, m.mttd_critical.within.total),
        (0, 2)
    );
    // INC-1's detection corrected to 3 minutes after impact: within the target.
    l.milestone(1, Milestone::Detected, at(2, 9, 53), at(20, 10, 0));
    let m = compute(&l.state, Some(&l.events), None, &critical, None, now());
    assert_eq!(
        (m.mttd_critical.within.done, m.mttd_critical.within.total),
        (1, 2)
    );
    assert!(metrics::text(&m).contains(
        "MTTD on critical services: median 16:30 (n 2), target under 5m: 50% (1/2) within"
    ));
}

#[test]
fn shifts_over_the_page_target_and_off_hours_pages_are_flagged() {
    let l = history();
    let s = schedule();
    let m = compute(&l.state, Some(&l.events), Some(&s), &[], None, now());
    // The first week's shift took four pages (INC-1 twice, INC-2, INC-3); the third week's
    // one (INC-4). The guide's target is under two a shift.
    assert_eq!(m.pages.shifts_over_target, 1);
    assert_eq!(m.pages.target_per_shift, 2);
    // INC-4's page at 08:00 UTC on a Tuesday is before the schedule's 09:00 start of work.
    assert_eq!(m.pages.off_hours, 1);
    let text = metrics::text(&m);
    assert!(text.contains("· ana 3 · carl 2 · 1 off hours\n"), "{text}");
    assert!(text.contains(
        "Over the target of under 2 pages a shift: 1 shift — the alerting needs tuning, not the engineer"
    ));

    // Working hours from 07:00: no page is off hours.
    let p = Policy::parse(
        r#"
[[schedule]]
name = "platform"
start = "2026-11-02"
primary = ["ana", "carl"]
working_hours = "mon-fri 07:00-19:00"
"#,
    )
    .unwrap();
    let early = p.schedule_for(None).unwrap();
    let m = compute(&l.state, Some(&l.events), Some(early), &[], None, now());
    assert_eq!(m.pages.off_hours, 0);
}

#[test]
fn the_handoff_flags_a_shift_over_the_page_target() {
    let l = history();
    let s = schedule();
    let week3 = chrono::Utc.with_ymd_and_hms(2026, 11, 16, 9, 0, 0).unwrap();
    let b = warroom::report::handoff::brief(&l.state, std::slice::from_ref(&s), week3, now());
    // INC-4's page at 08:00 UTC, before the day's work starts.
    assert_eq!(
        (b.pages.pages, b.pages.off_hours, b.pages.over_target),
        (1, 1, false)
    );
    let text = warroom::report::handoff::text(&b);
    assert!(
        text.contains("1 page this shift (1 off hours): within the target of under 2 a shift"),
        "{text}"
    );
    // From the first week: every kept page (each incident's latest run) counts.
    let week1 = chrono::Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let b = warroom::report::handoff::brief(&l.state, std::slice::from_ref(&s), week1, now());
    assert_eq!((b.pages.pages, b.pages.over_target), (4, true));
    let md = warroom::report::handoff::markdown(&b);
    assert!(md.contains(
        "4 pages this shift (1 off hours): over the target of under 2 a shift, the alerting needs tuning."
    ));
}
