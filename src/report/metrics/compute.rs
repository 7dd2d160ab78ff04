//! Computing the figures from the state (and the event log when there is one): response
//! times per severity, incidents per week, post-mortem and action-item completion, pages
//! per on-call shift. The definitions are in the module documentation of `metrics`.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};

use super::{
    ActionItemRate, DetectionShare, Durations, MTTD_TARGET_SECS, Metrics, PAGES_PER_SHIFT_TARGET,
    Pages, PostmortemDeadline, PostmortemRates, Rate, SCHEMA, SeverityMetrics, Targeted, WeekCount,
};
use crate::model::oncall::{Layer, Schedule, WorkingHours};
use crate::model::{
    Detection, Event, EventKind, Incident, Milestone, Severity, State, Status, StepAction,
};

/// Most primary shifts walked when counting them (a one-hour rotation over eleven years).
const MAX_SHIFTS: u32 = 100_000;

/// Computes every figure. `events` is the whole log when the caller has it (pages are then
/// counted from it; see the module documentation); `schedule` is the default on-call
/// schedule; `critical` the services the policy lists as critical (MTTD's target is theirs);
/// `since` limits the incidents counted and starts the period; `now` ends it.
pub fn compute(
    state: &State,
    events: Option<&[Event]>,
    schedule: Option<&Schedule>,
    critical: &[String],
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
        postmortems: postmortems(&counted, now),
        action_items: action_items(&counted, now.date_naive()),
        pages: pages(state, events, schedule, period_start, now),
        detection: detection(&counted),
        mttd_critical: {
            let on_critical = counted.iter().filter(|i| {
                i.service
                    .as_deref()
                    .is_some_and(|s| critical.iter().any(|c| c == s))
            });
            let spans: Vec<Duration> = on_critical
                .filter_map(|i| span(i, Milestone::ImpactStarted, None, Milestone::Detected))
                .collect();
            targeted(&spans, Some(MTTD_TARGET_SECS))
        },
    }
}

/// `spans` against `target_secs`: their figures and how many were within it.
fn targeted(spans: &[Duration], target_secs: Option<i64>) -> Targeted {
    let durations = durations(spans.iter().copied());
    let measured = durations.count;
    let within = target_secs.map_or(0, |t| {
        count(
            spans
                .iter()
                .filter(|d| **d >= Duration::zero() && **d <= Duration::seconds(t))
                .count(),
        )
    });
    Targeted {
        durations,
        target_secs,
        within: if target_secs.is_some() {
            Rate::new(within, measured)
        } else {
            Rate::default()
        },
    }
}

fn detection(counted: &[&Incident]) -> DetectionShare {
    let mut d = DetectionShare::default();
    for i in counted {
        match i.detected_by {
            Some(Detection::Monitoring) => d.monitoring += 1,
            Some(Detection::Customer) => d.customer += 1,
            Some(Detection::Engineer) => d.engineer += 1,
            None => d.unknown += 1,
        }
    }
    let known = d.monitoring + d.customer + d.engineer;
    d.customer_share = Rate::new(d.customer, known);
    d.monitoring_share = Rate::new(d.monitoring, known);
    d
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
        mttr: measure(M::Detected, None, M::Resolved),
        mttr_from_impact: measure(M::ImpactStarted, Some(M::Detected), M::Resolved),
        mtta_target: targeted(
            &of.iter()
                .filter_map(|i| span(i, M::Detected, None, M::Acknowledged))
                .collect::<Vec<_>>(),
            severity
                .target_response_minutes()
                .map(|m| i64::from(m) * 60),
        ),
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

fn postmortems(counted: &[&Incident], now: DateTime<Utc>) -> PostmortemRates {
    let mut done = [0u32; 2];
    let mut total = [0u32; 2];
    let mut waived = 0u32;
    let mut deadline = PostmortemDeadline::default();
    for i in counted {
        match (i.postmortem_due_at(), i.postmortem_on_time()) {
            (None, _) => {}
            (Some(_), Some(true)) => deadline.on_time += 1,
            (Some(_), Some(false)) => deadline.late += 1,
            (Some(due), None) if due < now => deadline.overdue += 1,
            (Some(_), None) => deadline.not_due += 1,
        }
    }
    deadline.rate = Rate::new(
        deadline.on_time,
        deadline.on_time + deadline.late + deadline.overdue,
    );
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
        deadline,
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
    let mut times: Vec<DateTime<Utc>> = Vec::new();
    let mut add = |p: &str, at: DateTime<Utc>| {
        *by_person.entry(p.to_string()).or_default() += 1;
        times.push(at);
    };
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
                    add(p, e.at);
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
                    add(p, f.at);
                }
            }
            "state"
        }
    };
    let pages = by_person.values().fold(0u32, |n, k| n.saturating_add(*k));
    let spans = schedule.map(|s| shift_spans(s, from, to));
    let shifts = spans.as_ref().map_or(1, |v| count(v.len())).max(1);
    // A shift over the target: PAGES_PER_SHIFT_TARGET pages or more within it.
    // Sorted, so each shift's pages are found by two binary searches, not a scan of all.
    times.sort_unstable();
    let over_target = spans.as_ref().map_or_else(
        || u32::from(pages >= PAGES_PER_SHIFT_TARGET),
        |v| {
            count(
                v.iter()
                    .filter(|(a, b)| {
                        times.partition_point(|t| t < b) - times.partition_point(|t| t < a)
                            >= PAGES_PER_SHIFT_TARGET as usize
                    })
                    .count(),
            )
        },
    );
    // Off hours: outside the default schedule's working hours, in its time zone (without
    // a schedule, the default working hours in UTC).
    let default_hours = WorkingHours::default();
    let off_hours = count(
        times
            .iter()
            .filter(|t| match schedule {
                Some(s) => !s.is_working_time(**t),
                None => !default_hours.contains(t.naive_utc()),
            })
            .count(),
    );
    Pages {
        pages,
        shifts,
        per_shift: f64::from(pages) / f64::from(shifts),
        schedule: schedule.map(|s| s.name().to_string()),
        source: source.to_string(),
        by_person,
        off_hours,
        shifts_over_target: over_target,
        target_per_shift: PAGES_PER_SHIFT_TARGET,
    }
}

/// How many primary shifts of `s` overlap `[from, to]`: stretches one person is primary,
/// as [`Schedule::on_call`] reports them. Stretches with nobody on call are not shifts.
pub fn primary_shifts(s: &Schedule, from: DateTime<Utc>, to: DateTime<Utc>) -> u32 {
    count(shift_spans(s, from, to).len())
}

/// The primary shifts of `s` overlapping `[from, to]`, each as its start and end.
fn shift_spans(
    s: &Schedule,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    let mut t = from;
    for _ in 0..MAX_SHIFTS {
        let next = match s.on_call(Layer::Primary, t) {
            Some(shift) => {
                out.push((shift.from, shift.until));
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
    out
}
