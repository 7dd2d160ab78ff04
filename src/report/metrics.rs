//! Incident metrics: response times per severity, incidents per week, post-mortem and
//! action-item completion, and pages per on-call shift. Pure: the state (and, when there is
//! one, the event log), the default on-call schedule, the period and the time in; figures
//! out. Everything is derived from the milestones as they stand, so correcting a milestone's
//! time (a second `milestone_set`) changes the figures.
//!
//! # Definitions
//!
//! - **Incidents counted**: those declared at or after `since` (all of them without it).
//!   An incident counts under its *current* severity.
//! - **MTTD** = detected − impact started (only incidents with both milestones).
//! - **MTTA** = acknowledged − detected. The acknowledged milestone is the *first*
//!   acknowledgement.
//! - **MTTM** = mitigated − impact started, or − detected when impact started is not set.
//! - **MTTR** = resolved − impact started, or − detected when impact started is not set.
//!   A reopened incident has no resolved milestone until it is resolved again.
//! - For each severity and each of the four: how many incidents were measured, the mean and
//!   the median (of an even count: the mean of the two middle values), in whole seconds
//!   (rounded to the nearest). Incidents missing a milestone are skipped; a negative
//!   duration (a milestone before the one it is measured from: bad data) is skipped and
//!   counted as `inconsistent`.
//! - **Incidents per week**: counted incidents by the ISO week (UTC) of their declaration
//!   and by severity, every week from the first such week to the last, empty ones included.
//! - **Post-mortem completion**: of the counted SEV1 and SEV2 incidents that are resolved or
//!   closed, those whose post-mortem is complete (a summary and an action item) or waived;
//!   for SEV1, for SEV2, and both together.
//! - **Action-item completion**: over the counted incidents' action items, those done on or
//!   before their due date (the UTC date of `done_at` ≤ `due`) out of those that are done or
//!   whose due date has passed (before today, UTC). An item without a due date is on time
//!   when done; a done item without a recorded `done_at` (older logs) counts as on time. Open
//!   items not yet due are left out.
//! - **Pages per on-call shift**: `step_fired` events with action `page` that reached a
//!   person, recorded within the period, divided by the number of primary shifts of the
//!   default schedule overlapping the period (at least 1). The period runs from `since` (or,
//!   without it, the first declaration) to `now`. A shift is a stretch one person is primary
//!   as [`Schedule::on_call`] reports it: a rotation shift, or an override or the part of a
//!   rotation shift an override leaves. Pages are also counted per person. Without the event
//!   log, the fired steps kept in the state are counted instead: the state keeps only each
//!   incident's last escalation run, so earlier runs' pages are missed.
//!
//! - **Restricted incidents** count like any other for a reader who may see them (a member,
//!   an admin). A reader who may not holds only their references (`State::withheld`) and
//!   `withheld` stand-ins in the log: they are not counted anywhere, pages included.
//!
//! The JSON form is [`Metrics`] serialized: field names are stable, durations are in
//! seconds, and `schema` is `warroom.metrics/1`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::model::oncall::{Layer, Schedule};
use crate::model::{Event, EventKind, Incident, Milestone, Severity, State, Status, StepAction};
use crate::report::format::{table_clock, utc_stamp};

/// The JSON form's schema, for tools that read it.
pub const SCHEMA: &str = "warroom.metrics/1";

/// Most primary shifts walked when counting them (a one-hour rotation over eleven years).
const MAX_SHIFTS: u32 = 100_000;

/// Every figure, as of `generated_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// `warroom.metrics/1`.
    pub schema: String,
    pub generated_at: DateTime<Utc>,
    /// Incidents declared from here on are counted; `null`: all of them.
    pub since: Option<DateTime<Utc>>,
    /// Start of the period pages and shifts are counted over (it ends at `generated_at`).
    pub period_start: DateTime<Utc>,
    /// Incidents counted.
    pub incidents: u32,
    /// Response times, one entry per severity, SEV1 to SEV4.
    pub severities: Vec<SeverityMetrics>,
    /// Incidents per ISO week, oldest first.
    pub weeks: Vec<WeekCount>,
    pub postmortems: PostmortemRates,
    pub action_items: ActionItemRate,
    pub pages: Pages,
}

/// Response times for the incidents of one severity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeverityMetrics {
    /// 1 to 4.
    pub severity: Severity,
    /// Incidents counted with this severity.
    pub incidents: u32,
    pub mttd: Durations,
    pub mtta: Durations,
    pub mttm: Durations,
    pub mttr: Durations,
}

/// One of MTTD / MTTA / MTTM / MTTR over a set of incidents.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Durations {
    /// Incidents measured (both milestones set, in order).
    pub count: u32,
    /// `null` when none were measured.
    pub mean_secs: Option<i64>,
    pub median_secs: Option<i64>,
    /// Incidents skipped because the later milestone is before the earlier one.
    pub inconsistent: u32,
}

/// Incidents declared in one ISO week.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeekCount {
    /// `2026-W45`.
    pub week: String,
    /// The week's Monday.
    pub starts: NaiveDate,
    pub total: u32,
    pub sev1: u32,
    pub sev2: u32,
    pub sev3: u32,
    pub sev4: u32,
}

impl WeekCount {
    /// The count for one severity.
    pub fn of(&self, s: Severity) -> u32 {
        match s {
            Severity::Sev1 => self.sev1,
            Severity::Sev2 => self.sev2,
            Severity::Sev3 => self.sev3,
            Severity::Sev4 => self.sev4,
        }
    }

    fn add(&mut self, s: Severity) {
        let n = match s {
            Severity::Sev1 => &mut self.sev1,
            Severity::Sev2 => &mut self.sev2,
            Severity::Sev3 => &mut self.sev3,
            Severity::Sev4 => &mut self.sev4,
        };
        *n += 1;
        self.total += 1;
    }
}

/// `done` out of `total`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub done: u32,
    pub total: u32,
    /// `done / total`, 0 to 1; `null` when `total` is 0.
    pub rate: Option<f64>,
}

impl Rate {
    fn new(done: u32, total: u32) -> Rate {
        Rate {
            done,
            total,
            rate: (total > 0).then(|| f64::from(done) / f64::from(total)),
        }
    }
}

/// Post-mortems of resolved and closed SEV1 and SEV2 incidents: complete or waived.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PostmortemRates {
    pub sev1: Rate,
    pub sev2: Rate,
    /// SEV1 and SEV2 together.
    pub overall: Rate,
    /// Of `overall.done`, how many were waived rather than complete.
    pub waived: u32,
}

/// Action items done by their due date.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionItemRate {
    /// Done on or before the due date (or done, with no due date).
    pub on_time: u32,
    /// Done after the due date.
    pub late: u32,
    /// Not done, and the due date has passed.
    pub overdue: u32,
    /// Not done and not due yet: left out of the rate.
    pub not_due: u32,
    /// `on_time` out of `on_time + late + overdue`.
    pub rate: Rate,
}

/// Pages and the on-call shifts they fell in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pages {
    /// Pages that reached a person within the period.
    pub pages: u32,
    /// Primary shifts of the default schedule overlapping the period (at least 1).
    pub shifts: u32,
    /// `pages / shifts`.
    pub per_shift: f64,
    /// The schedule the shifts are of; `null`: no schedule (`shifts` is then 1).
    pub schedule: Option<String>,
    /// `events` (the log's `step_fired` events) or `state` (the fired steps kept in the
    /// state: each incident's last escalation run only).
    pub source: String,
    /// Pages per person paged.
    pub by_person: BTreeMap<String, u32>,
}

/// Computes every figure. `events` is the whole log when the caller has it (pages are then
/// counted from it; see the module documentation); `schedule` is the default on-call
/// schedule; `since` limits the incidents counted and starts the period; `now` ends it.
pub fn compute(
    state: &State,
    events: Option<&[Event]>,
    schedule: Option<&Schedule>,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Metrics {
    let counted: Vec<&Incident> = state
        .incidents
        .values()
        .filter(|i| since.is_none_or(|s| i.declared_at >= s))
        .collect();
    let period_start = since
        .or_else(|| counted.iter().map(|i| i.declared_at).min())
        .unwrap_or(now)
        .min(now);
    Metrics {
        schema: SCHEMA.to_string(),
        generated_at: now,
        since,
        period_start,
        incidents: count(counted.len()),
        severities: Severity::ALL
            .iter()
            .map(|&s| severity_metrics(s, &counted))
            .collect(),
        weeks: weeks(&counted),
        postmortems: postmortems(&counted),
        action_items: action_items(&counted, now.date_naive()),
        pages: pages(state, events, schedule, period_start, now),
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The time from milestone `from` (or, when it is not set, `or_from`) to `to`.
fn span(
    inc: &Incident,
    from: Milestone,
    or_from: Option<Milestone>,
    to: Milestone,
) -> Option<Duration> {
    let m = |k: Milestone| inc.milestones.get(&k).copied();
    let start = m(from).or_else(|| or_from.and_then(m))?;
    Some(m(to)? - start)
}

fn severity_metrics(severity: Severity, counted: &[&Incident]) -> SeverityMetrics {
    use Milestone as M;
    let of: Vec<&Incident> = counted
        .iter()
        .copied()
        .filter(|i| i.severity == severity)
        .collect();
    let measure =
        |from, or_from, to| durations(of.iter().filter_map(|i| span(i, from, or_from, to)));
    SeverityMetrics {
        severity,
        incidents: count(of.len()),
        mttd: measure(M::ImpactStarted, None, M::Detected),
        mtta: measure(M::Detected, None, M::Acknowledged),
        mttm: measure(M::ImpactStarted, Some(M::Detected), M::Mitigated),
        mttr: measure(M::ImpactStarted, Some(M::Detected), M::Resolved),
    }
}

/// Count, mean and median of the non-negative spans; negative ones are inconsistent.
fn durations(spans: impl Iterator<Item = Duration>) -> Durations {
    let mut inconsistent = 0u32;
    let mut ms: Vec<i64> = Vec::new();
    for d in spans {
        if d < Duration::zero() {
            inconsistent = inconsistent.saturating_add(1);
        } else {
            ms.push(d.num_milliseconds());
        }
    }
    ms.sort_unstable();
    let n = ms.len();
    let to_secs = |ms: i128| i64::try_from((ms + 500).div_euclid(1000)).unwrap_or(i64::MAX);
    let mean = (n > 0).then(|| {
        let sum: i128 = ms.iter().map(|&x| i128::from(x)).sum();
        // Rounded to the nearest millisecond, then to the nearest second.
        let len = i128::try_from(n).unwrap_or(i128::MAX);
        to_secs((sum * 2 + len) / (len * 2))
    });
    let median = match n {
        0 => None,
        n if n % 2 == 1 => Some(to_secs(i128::from(ms[n / 2]))),
        n => Some(to_secs(
            (i128::from(ms[n / 2 - 1]) + i128::from(ms[n / 2]) + 1) / 2,
        )),
    };
    Durations {
        count: count(n),
        mean_secs: mean,
        median_secs: median,
        inconsistent,
    }
}

/// The Monday of the ISO week `d` is in.
fn monday(d: NaiveDate) -> NaiveDate {
    let w = d.iso_week();
    NaiveDate::from_isoywd_opt(w.year(), w.week(), Weekday::Mon).unwrap_or(d)
}

fn weeks(counted: &[&Incident]) -> Vec<WeekCount> {
    let mut by_week: BTreeMap<NaiveDate, Vec<Severity>> = BTreeMap::new();
    for i in counted {
        by_week
            .entry(monday(i.declared_at.date_naive()))
            .or_default()
            .push(i.severity);
    }
    let (Some(first), Some(last)) = (
        by_week.keys().next().copied(),
        by_week.keys().next_back().copied(),
    ) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut week = first;
    while week <= last {
        let iso = week.iso_week();
        let mut w = WeekCount {
            week: format!("{:04}-W{:02}", iso.year(), iso.week()),
            starts: week,
            total: 0,
            sev1: 0,
            sev2: 0,
            sev3: 0,
            sev4: 0,
        };
        for &s in by_week.get(&week).into_iter().flatten() {
            w.add(s);
        }
        out.push(w);
        match week.checked_add_signed(Duration::days(7)) {
            Some(next) => week = next,
            None => break,
        }
    }
    out
}

fn postmortems(counted: &[&Incident]) -> PostmortemRates {
    let mut done = [0u32; 2];
    let mut total = [0u32; 2];
    let mut waived = 0u32;
    for i in counted {
        let k = match i.severity {
            Severity::Sev1 => 0,
            Severity::Sev2 => 1,
            _ => continue,
        };
        if !matches!(i.status, Status::Resolved | Status::Closed) {
            continue;
        }
        total[k] += 1;
        if i.postmortem.is_complete() {
            done[k] += 1;
        } else if i.postmortem.waived.is_some() {
            done[k] += 1;
            waived += 1;
        }
    }
    PostmortemRates {
        sev1: Rate::new(done[0], total[0]),
        sev2: Rate::new(done[1], total[1]),
        overall: Rate::new(done[0] + done[1], total[0] + total[1]),
        waived,
    }
}

fn action_items(counted: &[&Incident], today: NaiveDate) -> ActionItemRate {
    let mut r = ActionItemRate::default();
    for a in counted.iter().flat_map(|i| &i.postmortem.action_items) {
        if a.done {
            let on_time = match (a.due, a.done_at) {
                (Some(due), Some(at)) => at.date_naive() <= due,
                _ => true,
            };
            if on_time {
                r.on_time += 1;
            } else {
                r.late += 1;
            }
        } else if a.due.is_some_and(|due| due < today) {
            r.overdue += 1;
        } else {
            r.not_due += 1;
        }
    }
    r.rate = Rate::new(r.on_time, r.on_time + r.late + r.overdue);
    r
}

fn pages(
    state: &State,
    events: Option<&[Event]>,
    schedule: Option<&Schedule>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Pages {
    let within = |at: DateTime<Utc>| at >= from && at <= to;
    let mut by_person: BTreeMap<String, u32> = BTreeMap::new();
    let mut add = |p: &str| *by_person.entry(p.to_string()).or_default() += 1;
    let source = match events {
        Some(events) => {
            for e in events {
                // A page of a restricted incident this reader may no longer see (removed
                // from its members after the log was read) is not theirs to count.
                if let EventKind::StepFired {
                    incident,
                    action: StepAction::Page,
                    person: Some(p),
                    ..
                } = &e.kind
                    && within(e.at)
                    && !state.withheld.contains(incident)
                {
                    add(p);
                }
            }
            "events"
        }
        None => {
            let fired = state
                .incidents
                .values()
                .filter_map(|i| i.escalation.as_ref())
                .flat_map(|e| &e.fired);
            for f in fired {
                if f.action == StepAction::Page
                    && within(f.at)
                    && let Some(p) = &f.person
                {
                    add(p);
                }
            }
            "state"
        }
    };
    let pages = by_person.values().fold(0u32, |n, k| n.saturating_add(*k));
    let shifts = schedule.map_or(1, |s| primary_shifts(s, from, to)).max(1);
    Pages {
        pages,
        shifts,
        per_shift: f64::from(pages) / f64::from(shifts),
        schedule: schedule.map(|s| s.name().to_string()),
        source: source.to_string(),
        by_person,
    }
}

/// How many primary shifts of `s` overlap `[from, to]`: stretches one person is primary,
/// as [`Schedule::on_call`] reports them. Stretches with nobody on call are not shifts.
pub fn primary_shifts(s: &Schedule, from: DateTime<Utc>, to: DateTime<Utc>) -> u32 {
    let mut n = 0u32;
    let mut t = from;
    for _ in 0..MAX_SHIFTS {
        let next = match s.on_call(Layer::Primary, t) {
            Some(shift) => {
                n += 1;
                Some(shift.until)
            }
            // Nobody on call now: skip to when somebody is (or give up: nobody ever is).
            None => s
                .handoffs(t, 64)
                .into_iter()
                .find(|h| h.layer == Layer::Primary && h.to.is_some())
                .map(|h| h.at),
        };
        match next {
            Some(next) if next > t && next < to => t = next,
            _ => break,
        }
    }
    n
}

// ---- text ----------------------------------------------------------------------------------

/// `67% (2/3)`; `n/a (0/0)` when there is nothing to count.
pub fn percent(r: &Rate) -> String {
    match r.rate {
        Some(x) => format!("{:.0}% ({}/{})", x * 100.0, r.done, r.total),
        None => format!("n/a ({}/{})", r.done, r.total),
    }
}

/// The response-time table: two header lines, then one line per severity (SEV1 first),
/// 80 columns wide.
pub fn severity_table(m: &Metrics) -> Vec<String> {
    let mut head = format!("{:8}", "");
    let mut sub = format!("{:<4}{:>4}", "SEV", "n");
    for name in ["MTTD", "MTTA", "MTTM", "MTTR"] {
        head.push_str(&format!(" {name:^17}"));
        sub.push_str(&format!(" {:>8} {:>8}", "mean", "median"));
    }
    let mut out = vec![head.trim_end().to_string(), sub];
    for s in &m.severities {
        let mut line = format!("{:<4}{:>4}", s.severity.to_string(), s.incidents);
        for d in [&s.mttd, &s.mtta, &s.mttm, &s.mttr] {
            line.push_str(&format!(
                " {:>8} {:>8}",
                table_clock(d.mean_secs),
                table_clock(d.median_secs)
            ));
        }
        out.push(line);
    }
    out
}

/// Which durations were skipped as inconsistent, for a note under the table.
pub fn inconsistent_note(m: &Metrics) -> Option<String> {
    let mut parts = Vec::new();
    for s in &m.severities {
        for (name, d) in [
            ("MTTD", &s.mttd),
            ("MTTA", &s.mtta),
            ("MTTM", &s.mttm),
            ("MTTR", &s.mttr),
        ] {
            if d.inconsistent > 0 {
                parts.push(format!("{} {name} {}", s.severity, d.inconsistent));
            }
        }
    }
    (!parts.is_empty()).then(|| {
        format!(
            "skipped (a milestone before the one it is measured from): {}",
            parts.join(", ")
        )
    })
}

/// Incidents per week as text bars, at most `bar_width` cells of `█` (one per incident
/// when they fit): `2026-W45  ███   3  SEV1 1 · SEV2 2`.
pub fn week_bars(m: &Metrics, bar_width: usize) -> Vec<String> {
    let width = bar_width.max(1);
    let max = m.weeks.iter().map(|w| w.total).max().unwrap_or(0) as usize;
    let unit = max.div_ceil(width).max(1);
    let cells = max.div_ceil(unit);
    m.weeks
        .iter()
        .map(|w| {
            let bar = "█".repeat((w.total as usize).div_ceil(unit));
            let detail: Vec<String> = Severity::ALL
                .iter()
                .filter(|&&s| w.of(s) > 0)
                .map(|&s| format!("{s} {}", w.of(s)))
                .collect();
            let line = format!(
                "{}  {bar}{} {:>3}  {}",
                w.week,
                " ".repeat(cells.saturating_sub(bar.chars().count())),
                w.total,
                detail.join(" · ")
            );
            line.trim_end().to_string()
        })
        .collect()
}

/// The post-mortem, action-item and paging lines.
pub fn rate_lines(m: &Metrics) -> Vec<String> {
    let pm = &m.postmortems;
    let waived = if pm.waived > 0 {
        format!(" ({} waived)", pm.waived)
    } else {
        String::new()
    };
    let ai = &m.action_items;
    let p = &m.pages;
    let people: Vec<String> = p
        .by_person
        .iter()
        .map(|(who, n)| format!("{who} {n}"))
        .collect();
    let shifts = match &p.schedule {
        Some(s) => format!(
            "{} page{} / {} primary shift{} of {s}",
            p.pages,
            if p.pages == 1 { "" } else { "s" },
            p.shifts,
            if p.shifts == 1 { "" } else { "s" }
        ),
        None => format!(
            "{} page{}; no on-call schedule to divide by",
            p.pages,
            if p.pages == 1 { "" } else { "s" }
        ),
    };
    vec![
        format!(
            "Post-mortems done (resolved SEV1/SEV2, complete or waived): {}{waived} · SEV1 {} · SEV2 {}",
            percent(&pm.overall),
            percent(&pm.sev1),
            percent(&pm.sev2)
        ),
        format!(
            "Action items done by their due date: {} · {} late · {} overdue · {} not due yet",
            percent(&ai.rate),
            ai.late,
            ai.overdue,
            ai.not_due
        ),
        format!(
            "Pages per on-call shift: {:.2} ({shifts}){}",
            p.per_shift,
            if people.is_empty() {
                String::new()
            } else {
                format!(" · {}", people.join(" · "))
            }
        ),
    ]
}

/// What the period covers, in one line.
pub fn heading(m: &Metrics) -> String {
    let since = match m.since {
        Some(s) => format!("declared since {}", s.format("%Y-%m-%d")),
        None => "all time".to_string(),
    };
    format!(
        "{} incident{} ({since}), as of {}",
        m.incidents,
        if m.incidents == 1 { "" } else { "s" },
        utc_stamp(m.generated_at)
    )
}

/// The whole report as text (what `warroom metrics` prints).
pub fn text(m: &Metrics) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", heading(m));
    out.push('\n');
    for l in severity_table(m) {
        let _ = writeln!(out, "{l}");
    }
    if let Some(note) = inconsistent_note(m) {
        let _ = writeln!(out, "{note}");
    }
    out.push('\n');
    let _ = writeln!(out, "Incidents per week");
    let bars = week_bars(m, 40);
    if bars.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for l in bars {
        let _ = writeln!(out, "{l}");
    }
    out.push('\n');
    for l in rate_lines(m) {
        let _ = writeln!(out, "{l}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::IncidentRef;
    use crate::model::access::{Viewer, withheld};
    use crate::model::escalation::{Plan, PlannedStep};

    fn at(min: i64) -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 2, 10, 0, 0).unwrap()
            + Duration::minutes(min)
    }

    /// INC-1 (SEV1, restricted, declared by ana) and INC-2 (SEV2, open to all), each paging
    /// carl once, acknowledged and resolved: the feed's whole log, and its state.
    fn feed() -> (Vec<Event>, State) {
        let r1 = IncidentRef(1);
        let r2 = IncidentRef(2);
        let declared = |r, severity, restricted| EventKind::Declared {
            incident: r,
            title: format!("incident {r}"),
            service: None,
            severity,
            restricted,
            alert_key: None,
        };
        let started = |r, severity| EventKind::EscalationStarted {
            incident: r,
            plan: Plan {
                severity,
                steps: vec![PlannedStep {
                    after_secs: 0,
                    action: StepAction::Page,
                    target: "oncall.primary".into(),
                    expected: None,
                }],
                repeat: 0,
                round_secs: 3600,
                ack_timeout_secs: None,
            },
            reason: "declared".into(),
        };
        let fired = |r, run| EventKind::StepFired {
            incident: r,
            run,
            round: 0,
            step: 0,
            action: StepAction::Page,
            target: "oncall.primary".into(),
            person: Some("carl".into()),
            due_at: at(0),
            late: false,
        };
        let kinds = [
            ("ana", declared(r1, Severity::Sev1, true)),
            ("warroom", started(r1, Severity::Sev1)),
            ("warroom", fired(r1, 2)),
            ("ana", EventKind::Acknowledged { incident: r1 }),
            ("bob", declared(r2, Severity::Sev2, false)),
            ("warroom", started(r2, Severity::Sev2)),
            ("warroom", fired(r2, 6)),
            ("carl", EventKind::Acknowledged { incident: r2 }),
            ("ana", EventKind::Resolved { incident: r1 }),
            ("carl", EventKind::Resolved { incident: r2 }),
        ];
        let mut state = State::default();
        let mut log = Vec::new();
        for (i, (actor, kind)) in kinds.into_iter().enumerate() {
            let e = Event {
                seq: i as u64 + 1,
                at: at(i as i64 * 5),
                actor: actor.into(),
                kind,
            };
            state.apply(&e).expect("the feed's log folds");
            log.push(e);
        }
        (log, state)
    }

    /// What `reader` receives of `log`, judged by `state` (as a catch-up is), folded.
    fn as_read_by(log: &[Event], state: &State, reader: Viewer<'_>) -> (Vec<Event>, State) {
        let seen: Vec<Event> = log.iter().map(|e| state.event_for(e, reader)).collect();
        let folded = State::from_events(&seen).expect("withheld stand-ins fold");
        (seen, folded)
    }

    #[test]
    fn a_non_member_counts_nothing_of_a_restricted_incident_and_a_member_counts_it_all() {
        let (log, server) = feed();
        let now = at(600);
        let bob = Viewer {
            name: "bob",
            sees_all: false,
        };
        let (seen, state) = as_read_by(&log, &server, bob);
        assert!(seen.iter().any(|e| e.kind.name() == "withheld"));
        assert!(state.withheld.contains(&IncidentRef(1)));
        let m = compute(&state, Some(&seen), None, None, now);
        assert_eq!(m.incidents, 1, "only INC-2");
        assert_eq!(m.severities[0].incidents, 0, "no SEV1 counted");
        assert_eq!(m.severities[0].mtta.count, 0);
        assert_eq!(m.severities[1].incidents, 1);
        assert_eq!(m.pages.pages, 1, "INC-1's page is not bob's to count");
        assert_eq!(m.period_start, at(20), "from INC-2's declaration");
        assert!(text(&m).starts_with("1 incident (all time)"));
        // Without the log, from the state alone: the same.
        assert_eq!(compute(&state, None, None, None, now).pages.pages, 1);

        // ana is a member, and an admin sees all: both count both incidents.
        for reader in [
            Viewer {
                name: "ana",
                sees_all: false,
            },
            Viewer {
                name: "root",
                sees_all: true,
            },
        ] {
            let (seen, state) = as_read_by(&log, &server, reader);
            let m = compute(&state, Some(&seen), None, None, now);
            assert_eq!(m.incidents, 2, "{reader:?}");
            assert_eq!(m.severities[0].incidents, 1);
            assert_eq!(m.severities[0].mtta.count, 1);
            assert_eq!(m.pages.pages, 2);
        }
    }

    #[test]
    fn pages_of_an_incident_withheld_since_are_not_counted() {
        // A console that read INC-1 as a member, then was removed from its members: its log
        // holds INC-1's real events, then the stand-in that took INC-1 away.
        let (mut log, _) = feed();
        let removal = Event {
            seq: 11,
            at: at(60),
            actor: "root".into(),
            kind: EventKind::MemberRemoved {
                incident: IncidentRef(1),
                person: "dan".into(),
            },
        };
        log.push(withheld(&removal));
        let state = State::from_events(&log).expect("folds");
        assert!(state.incident(IncidentRef(1)).is_none());
        let m = compute(&state, Some(&log), None, None, at(600));
        assert_eq!(m.incidents, 1);
        assert_eq!(m.pages.pages, 1);
        assert_eq!(m.pages.by_person.get("carl"), Some(&1));
    }
}
