//! The handoff briefing: what the incoming on-call engineer or incident commander needs at
//! shift change. Every active incident (severity, status, age, roles, the last status update
//! and when the next is due, open and ruled-out hypotheses, open action items, the pending
//! escalation step, the key timeline entries); who is on call now and next; what was
//! resolved during the outgoing shift; and the shift's noisiest alert sources. A restricted
//! incident the reader is a member of is marked and carries its breach-notice deadline; one
//! they are not a member of is only counted and named by reference (need to know).
//!
//! Pure: the state, the on-call schedules and two instants in; a [`Briefing`] (serialisable,
//! for scripts) and its Markdown ([`markdown`]) or plain-text ([`text`]) rendering out.
//!
//! **The shift** runs from [`shift_start`] to now: the start of the current primary stretch
//! of the *default schedule* (`schedules[0]`; [`schedules_default_first`] orders a policy's
//! schedules that way), else the last [`FALLBACK_SHIFT_HOURS`] hours when there is no
//! schedule or nobody is primary. **The shift change** ([`shift_change`]) is the nearer of
//! the default schedule's last primary change and its next: run before a change, the person
//! on call now hands over to the next one; after it, the one before hands over to the one now.
//!
//! The briefing is built in `gather` (the shift, the incidents, who is on call), rendered by
//! `text` (the console's view and `warroom handoff`) and `markdown` (`--format md`) from the
//! line builders they share in `lines`; `accept` reports what accepting a handoff did. This
//! file holds the [`Briefing`] itself: the JSON scripts read (`--format json`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::model::oncall::Layer;
use crate::model::{Entry, EntryKind, IncidentRef, Role, Severity, Status, StepAction};

mod accept;
mod gather;
mod lines;
mod markdown;
mod text;

pub use accept::{Accepted, accepted, accepted_summary, accepted_text};
pub use gather::{brief, outgoing, schedules_default_first, shift_change, shift_start};
pub use lines::{deploy_line, noted_line, step_what, step_where};
pub use markdown::markdown;
pub use text::{Meaning, Row, rows, text, text_lines};

/// How far back the shift reaches when no schedule says when it started.
pub const FALLBACK_SHIFT_HOURS: i64 = 12;

/// How many of the latest non-system entries an incident's key entries include (pinned
/// entries are always included).
pub const LAST_ENTRIES: usize = 5;

/// Everything the incoming person needs, as of `generated_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Briefing {
    pub generated_at: DateTime<Utc>,
    /// The feed's sequence number the briefing reflects.
    pub as_of_seq: u64,
    /// Start of the outgoing shift (see [`shift_start`]).
    pub shift_start: DateTime<Utc>,
    /// The schedule whose primary shift defined `shift_start`; `None` when it is the
    /// fallback (the last [`FALLBACK_SHIFT_HOURS`] hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shift_schedule: Option<String>,
    /// Who hands over at the shift change being prepared (see [`shift_change`]); `None`
    /// when no schedule says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outgoing: Option<String>,
    /// Who takes over at that shift change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incoming: Option<String>,
    /// When that shift change is (or was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shift_change_at: Option<DateTime<Utc>>,
    /// Active incidents in board order: most severe first, then oldest.
    pub active: Vec<ActiveIncident>,
    /// Per schedule, in the order given (the default first).
    pub on_call: Vec<OnCall>,
    /// Incidents resolved during the shift (still resolved, or closed since), in order,
    /// each with its post-mortem's countdown.
    pub resolved: Vec<ResolvedIncident>,
    /// Alert counts by service over incidents declared during the shift, most first.
    pub noisiest: Vec<AlertSource>,
    /// The shift's pages against the seed guides' target (fewer than 2 a shift).
    #[serde(default)]
    pub pages: ShiftPages,
    /// Restricted incidents the reader is not a member of: their references only (need
    /// to know), in order. Never on an admin's briefing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<IncidentRef>,
    /// Deploys recorded during the shift, newest first (seed guide: the handoff covers
    /// recent deployments).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deploys: Vec<crate::model::feed::Deploy>,
    /// Informational alerts seen in the last [`STANDUP_DAYS`] days, for stand-up review
    /// (seed architecture: a slow burn is reviewed there, not paged), latest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub for_standup: Vec<crate::model::feed::NotedAlert>,
    /// Incidents resolved before the shift whose post-mortem is still owed (due 48 hours
    /// after resolution): the incoming person inherits the chasing. Soonest due first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub postmortems_owed: Vec<ResolvedIncident>,
}

/// How far back the briefing's stand-up digest looks: the seed's slowest burn-rate window.
pub const STANDUP_DAYS: i64 = 3;

/// The shift change a briefing is for: when, who hands over, who takes over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShiftChange {
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outgoing: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incoming: Option<String>,
}

/// One active incident, as the incoming person needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveIncident {
    pub reference: IncidentRef,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub severity: Severity,
    pub status: Status,
    pub restricted: bool,
    /// A restricted incident's breach-notice deadline: 72 hours from detection (GDPR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breach_notice_due: Option<DateTime<Utc>>,
    pub declared_at: DateTime<Utc>,
    pub declared_by: String,
    /// Seconds since it was declared.
    pub age_secs: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    /// Current holders, in the war-room order (incident commander first).
    pub roles: Vec<RoleHolder>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status_update: Option<StatusUpdate>,
    /// When the next status update is owed (by the cadence); `None` when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_update_due: Option<DateTime<Utc>>,
    /// Hypotheses not superseded by a correction, in timeline order.
    pub open_hypotheses: Vec<EntrySummary>,
    /// Ruled-out hypotheses, in timeline order.
    pub ruled_out: Vec<EntrySummary>,
    /// Post-mortem action items not done yet.
    pub open_action_items: Vec<OpenActionItem>,
    /// The live escalation run's next step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_escalation: Option<PendingStep>,
    /// Pinned entries and the last [`LAST_ENTRIES`] non-system entries, in timeline order.
    pub key_entries: Vec<EntrySummary>,
}

impl ActiveIncident {
    /// Who holds `role`, if anyone.
    pub fn role(&self, role: Role) -> Option<&str> {
        self.roles
            .iter()
            .find(|h| h.role == role)
            .map(|h| h.person.as_str())
    }

    /// Whether the next status update is due at or before `now`.
    pub fn update_overdue(&self, now: DateTime<Utc>) -> bool {
        self.next_update_due.is_some_and(|d| d <= now)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleHolder {
    pub role: Role,
    pub person: String,
}

/// The last status update recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusUpdate {
    pub at: DateTime<Utc>,
    /// Who wrote it and what it said (absent only if its entry was corrected into another
    /// kind since).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// A timeline entry, shortened to what a briefing shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntrySummary {
    pub id: u64,
    pub kind: EntryKind,
    pub text: String,
    pub author: String,
    pub occurred_at: DateTime<Utc>,
    pub pinned: bool,
}

impl From<&Entry> for EntrySummary {
    fn from(e: &Entry) -> Self {
        EntrySummary {
            id: e.id,
            kind: e.kind,
            text: e.text.clone(),
            author: e.author.clone(),
            occurred_at: e.occurred_at,
            pinned: e.pinned,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenActionItem {
    pub id: u64,
    pub text: String,
    pub owner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<NaiveDate>,
}

/// The step an escalation run fires next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingStep {
    /// 1-based.
    pub step: u32,
    /// Steps in the plan.
    pub steps: usize,
    /// 1-based round (a plan may repeat while nobody acknowledges).
    pub round: u32,
    pub action: StepAction,
    /// What the policy names (`oncall.secondary`, `engineering-manager`, a person).
    pub target: String,
    /// Whom the target resolved to when the run started (a forecast).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    pub due_at: DateTime<Utc>,
}

/// Who is on call in one schedule, now and at its next handoff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnCall {
    pub schedule: String,
    /// IANA name of the schedule's time zone.
    pub time_zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<OnCallNow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary: Option<OnCallNow>,
    /// The changes at the next handoff instant (primary first); empty when none is coming.
    pub next: Vec<NextHandoff>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnCallNow {
    pub person: String,
    pub until: DateTime<Utc>,
    /// On call by an override rather than the rotation.
    pub overridden: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextHandoff {
    pub at: DateTime<Utc>,
    pub layer: Layer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// An incident resolved during the shift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedIncident {
    pub reference: IncidentRef,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub severity: Severity,
    /// Resolved, or closed since.
    pub status: Status,
    pub declared_at: DateTime<Utc>,
    pub resolved_at: DateTime<Utc>,
    /// When its post-mortem is due (48 hours after resolution), while it is owed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postmortem_due_at: Option<DateTime<Utc>>,
    /// Its post-mortem was done on time (`true`) or late (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postmortem_on_time: Option<bool>,
}

/// Pages that reached a person during the shift (the fired steps each incident's latest
/// escalation run keeps), against the target of fewer than `target` a shift.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShiftPages {
    pub pages: u32,
    /// Of `pages`, those outside the default schedule's working hours.
    pub off_hours: u32,
    /// `2`: the seed guides' target is fewer a shift.
    pub target: u32,
    /// `pages >= target`: the alerting needs tuning.
    pub over_target: bool,
}

/// Alerts received for one service's incidents declared during the shift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertSource {
    /// `None`: incidents that name no service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub alerts: u64,
    pub incidents: usize,
}

#[cfg(test)]
mod tests;
