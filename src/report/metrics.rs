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
//! - **MTTR** = resolved − detected: "time between detection and service restoration", as
//!   the seed guide defines it. A reopened incident has no resolved milestone until it is
//!   resolved again. Beside it, **MTTR from impact** = resolved − impact started (or −
//!   detected when impact started is not set): how long users were hurt.
//! - **Targets** (the seed guide's): MTTA under each severity's response target (SEV1 5
//!   minutes, SEV2 15, SEV3 60, SEV4 none), with the share of measured incidents within it;
//!   MTTD under 5 minutes for critical services (incidents whose service the policy lists as
//!   critical), likewise. MTTR has no target in the guide: it is tracked per severity.
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
//!   as [`Schedule::on_call`](crate::model::oncall::Schedule::on_call) reports it: a
//!   rotation shift, or an override or the part of a rotation shift an override leaves. Pages are also counted per person. Without the event
//!   log, the fired steps kept in the state are counted instead: the state keeps only each
//!   incident's last escalation run, so earlier runs' pages are missed.
//!
//!   **Off-hours pages** are those outside the default schedule's working hours in its time
//!   zone (`working_hours`, by default weekdays 09:00-17:00). **Shifts over the target**
//!   are the primary shifts with 2 pages or more: the seed guides' target is fewer than 2
//!   a shift, more meaning the alerting needs tuning.
//!
//! - **Restricted incidents** count like any other for a reader who may see them (a member,
//!   an admin). A reader who may not holds only their references (`State::withheld`) and
//!   `withheld` stand-ins in the log: they are not counted anywhere, pages included.
//!
//! The JSON form is [`Metrics`] serialized: field names are stable, durations are in
//! seconds, and `schema` is `warroom.metrics/1`.
//!
//! The figures are computed in `compute` and written out for people in `text` (what
//! `warroom metrics` prints and the console's metrics screen shows); this file holds the
//! figures themselves, whose serialized form is the JSON.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::model::Severity;

mod compute;
mod text;

pub use compute::{compute, primary_shifts};
pub use text::{
    heading, inconsistent_note, percent, rate_lines, severity_table, severity_table_medians,
    target_lines, text, week_bars,
};

/// Pages per on-call shift the seed guides hold healthy: fewer than 2 ("more than that
/// indicates noisy alerts or systemic issues").
pub const PAGES_PER_SHIFT_TARGET: u32 = 2;

/// MTTD's target for critical services (seed guide: under 5 minutes).
pub const MTTD_TARGET_SECS: i64 = 5 * 60;

/// The JSON form's schema, for tools that read it.
pub const SCHEMA: &str = "warroom.metrics/1";

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
    /// MTTD over the counted incidents on critical services, against its target.
    #[serde(default)]
    pub mttd_critical: Targeted,
    /// Who found the incidents (seed architecture: customer-detected means monitoring gaps).
    #[serde(default)]
    pub detection: DetectionShare,
}

/// How the counted incidents were detected.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectionShare {
    /// Found by monitoring (an alert opened it, or triage says so).
    pub monitoring: u32,
    /// Reported by a customer.
    pub customer: u32,
    /// Noticed by an engineer.
    pub engineer: u32,
    /// Not recorded.
    pub unknown: u32,
    /// `customer` of the incidents whose source is recorded: the lower, the better.
    pub customer_share: Rate,
    /// `monitoring` of the incidents whose source is recorded.
    pub monitoring_share: Rate,
}

/// Durations against a target: how many of those measured were within it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Targeted {
    pub durations: Durations,
    /// The target, in seconds; `null`: none.
    pub target_secs: Option<i64>,
    /// Measured at or under the target, of those measured.
    pub within: Rate,
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
    /// From detection (the guide's definition).
    pub mttr: Durations,
    /// From impact start, or detection when it is not set.
    #[serde(default)]
    pub mttr_from_impact: Durations,
    /// MTTA against this severity's response target.
    #[serde(default)]
    pub mtta_target: Targeted,
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
    /// Post-mortems of every severity against their deadline, 48 hours after resolution
    /// (seed guide G390).
    #[serde(default)]
    pub deadline: PostmortemDeadline,
}

/// Post-mortems done within 48 hours of resolution, of resolved and closed incidents of
/// every severity whose post-mortem was not waived.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PostmortemDeadline {
    /// Marked done (or closed) within 48 hours of resolution.
    pub on_time: u32,
    /// Done after its 48 hours.
    pub late: u32,
    /// Not done, and its 48 hours have passed.
    pub overdue: u32,
    /// Not done and not due yet: left out of the rate.
    pub not_due: u32,
    /// `on_time` out of `on_time + late + overdue`.
    pub rate: Rate,
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
    /// Of `pages`, those outside the default schedule's working hours (in its time zone;
    /// without a schedule, weekdays 09:00-17:00 UTC).
    #[serde(default)]
    pub off_hours: u32,
    /// Primary shifts with `target_per_shift` pages or more (without a schedule: 1 when
    /// the whole period had that many).
    #[serde(default)]
    pub shifts_over_target: u32,
    /// The seed guide's target: fewer than this many pages a shift.
    #[serde(default = "pages_target")]
    pub target_per_shift: u32,
}

fn pages_target() -> u32 {
    PAGES_PER_SHIFT_TARGET
}

#[cfg(test)]
mod tests;
