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
//! schedule or nobody is primary. **The outgoing person** ([`outgoing`]) is whoever was the
//! default schedule's primary just before that.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::model::oncall::{Layer, Schedule};
use crate::model::policy::Policy;
use crate::model::{
    Entry, EntryKind, Incident, IncidentRef, Milestone, Role, Severity, State, Status, StepAction,
};
use crate::report::format::{
    kind_name, one_line, relative, role_name, span, utc_stamp, when, withheld_line,
};

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
    /// Who hands over (see [`outgoing`]); `None` when no schedule says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outgoing: Option<String>,
    /// Active incidents in board order: most severe first, then oldest.
    pub active: Vec<ActiveIncident>,
    /// Per schedule, in the order given (the default first).
    pub on_call: Vec<OnCall>,
    /// Incidents resolved during the shift (still resolved, or closed since), in order.
    pub resolved: Vec<ResolvedIncident>,
    /// Alert counts by service over incidents declared during the shift, most first.
    pub noisiest: Vec<AlertSource>,
    /// Restricted incidents the reader is not a member of: their references only (need
    /// to know), in order. Never on an admin's briefing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<IncidentRef>,
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

// ---- the shift -------------------------------------------------------------------------

/// A policy's schedules with its default schedule (the one `schedule_for(None)` names)
/// first, the others after it in file order: the order [`brief`] expects.
pub fn schedules_default_first(policy: &Policy) -> Vec<Schedule> {
    let all = policy.schedules();
    let default = policy.schedule_for(None).map(|s| s.name().to_string());
    let mut out: Vec<Schedule> = all
        .iter()
        .filter(|s| Some(s.name()) == default.as_deref())
        .cloned()
        .collect();
    out.extend(
        all.iter()
            .filter(|s| Some(s.name()) != default.as_deref())
            .cloned(),
    );
    out
}

/// When the outgoing shift started: the start of the default schedule's (`schedules[0]`)
/// current primary stretch (`on_call(Primary, now).from`: a rotation boundary, or the edge
/// of an override), else `now` − [`FALLBACK_SHIFT_HOURS`] hours.
pub fn shift_start(schedules: &[Schedule], now: DateTime<Utc>) -> DateTime<Utc> {
    schedules
        .first()
        .and_then(|s| s.on_call(Layer::Primary, now))
        .map(|shift| shift.from)
        .unwrap_or_else(|| now - Duration::hours(FALLBACK_SHIFT_HOURS))
}

/// Who hands over: the default schedule's primary just before the current primary stretch
/// began. `None` when there is no schedule, nobody was primary then, or the same person
/// carries on.
pub fn outgoing(schedules: &[Schedule], now: DateTime<Utc>) -> Option<String> {
    let s = schedules.first()?;
    let current = s.on_call(Layer::Primary, now)?;
    let before = current.from.checked_sub_signed(Duration::seconds(1))?;
    let previous = s.on_call(Layer::Primary, before)?;
    (previous.person != current.person).then_some(previous.person)
}

// ---- the briefing ----------------------------------------------------------------------

/// Builds the briefing for the shift from `shift_start` to `now`. `schedules[0]` is taken
/// to be the default schedule (it names the outgoing person).
pub fn brief(
    state: &State,
    schedules: &[Schedule],
    shift_start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Briefing {
    let shift_schedule = schedules
        .first()
        .filter(|s| {
            s.on_call(Layer::Primary, now)
                .is_some_and(|p| p.from == shift_start)
        })
        .map(|s| s.name().to_string());
    let active = state
        .board()
        .into_iter()
        .filter(|i| i.is_active())
        .map(|i| active_incident(i, now))
        .collect();
    let in_shift = |t: DateTime<Utc>| shift_start <= t && t <= now;
    let mut resolved: Vec<ResolvedIncident> = state
        .incidents
        .values()
        .filter(|i| !i.is_active())
        .filter_map(|i| {
            let at = *i.milestones.get(&Milestone::Resolved)?;
            in_shift(at).then(|| ResolvedIncident {
                reference: i.reference,
                title: i.title.clone(),
                service: i.service.clone(),
                severity: i.severity,
                status: i.status,
                declared_at: i.declared_at,
                resolved_at: at,
            })
        })
        .collect();
    resolved.sort_by_key(|r| (r.resolved_at, r.reference));
    let mut by_service: BTreeMap<Option<String>, (u64, usize)> = BTreeMap::new();
    for i in state.incidents.values() {
        if in_shift(i.declared_at) && i.alert_count > 0 {
            let e = by_service.entry(i.service.clone()).or_default();
            e.0 += u64::from(i.alert_count);
            e.1 += 1;
        }
    }
    let mut noisiest: Vec<AlertSource> = by_service
        .into_iter()
        .map(|(service, (alerts, incidents))| AlertSource {
            service,
            alerts,
            incidents,
        })
        .collect();
    // Most alerts first; the map's order (by service) breaks ties.
    noisiest.sort_by_key(|a| std::cmp::Reverse(a.alerts));
    Briefing {
        generated_at: now,
        as_of_seq: state.seq,
        shift_start,
        shift_schedule,
        outgoing: outgoing(schedules, now),
        active,
        on_call: schedules.iter().map(|s| on_call(s, now)).collect(),
        resolved,
        noisiest,
        withheld: state.withheld.iter().copied().collect(),
    }
}

fn active_incident(inc: &Incident, now: DateTime<Utc>) -> ActiveIncident {
    let timeline: Vec<&Entry> = inc
        .timeline()
        .into_iter()
        .filter(|e| e.superseded_by.is_none())
        .collect();
    let of_kind = |k: EntryKind| -> Vec<EntrySummary> {
        timeline
            .iter()
            .filter(|e| e.kind == k)
            .map(|e| EntrySummary::from(*e))
            .collect()
    };
    // Pinned entries, and the last few a person (or a milestone) wrote, in timeline order.
    let recent: Vec<u64> = timeline
        .iter()
        .rev()
        .filter(|e| e.kind != EntryKind::System)
        .take(LAST_ENTRIES)
        .map(|e| e.id)
        .collect();
    let key_entries = timeline
        .iter()
        .filter(|e| e.pinned || recent.contains(&e.id))
        .map(|e| EntrySummary::from(*e))
        .collect();
    // The latest status update in recorded order (what the cadence counts from).
    let last_entry = inc
        .entries
        .iter()
        .rev()
        .find(|e| e.kind == EntryKind::StatusUpdate && e.superseded_by.is_none());
    let last_status_update = match (inc.last_status_update, last_entry) {
        (_, Some(e)) => Some(StatusUpdate {
            at: inc
                .last_status_update
                .unwrap_or(e.recorded_at)
                .max(e.recorded_at),
            author: Some(e.author.clone()),
            text: Some(e.text.clone()),
        }),
        (Some(at), None) => Some(StatusUpdate {
            at,
            author: None,
            text: None,
        }),
        (None, None) => None,
    };
    let pending_escalation = inc.live_escalation().and_then(|esc| {
        let p = esc.next()?;
        Some(PendingStep {
            step: p.step + 1,
            steps: esc.plan.steps.len(),
            round: p.round + 1,
            action: p.action,
            target: p.target,
            expected: p.expected,
            due_at: p.due_at,
        })
    });
    ActiveIncident {
        reference: inc.reference,
        title: inc.title.clone(),
        service: inc.service.clone(),
        severity: inc.severity,
        status: inc.status,
        restricted: inc.restricted,
        breach_notice_due: inc.breach_notice_due(),
        declared_at: inc.declared_at,
        declared_by: inc.declared_by.clone(),
        age_secs: (now - inc.declared_at).num_seconds().max(0),
        acknowledged_by: inc.acknowledged_by.clone(),
        roles: Role::ALL
            .iter()
            .filter_map(|r| {
                inc.roles.get(r).map(|p| RoleHolder {
                    role: *r,
                    person: p.clone(),
                })
            })
            .collect(),
        last_status_update,
        next_update_due: inc.next_update_due(),
        open_hypotheses: of_kind(EntryKind::Hypothesis),
        ruled_out: of_kind(EntryKind::RuledOut),
        open_action_items: inc
            .postmortem
            .action_items
            .iter()
            .filter(|a| !a.done)
            .map(|a| OpenActionItem {
                id: a.id,
                text: a.text.clone(),
                owner: a.owner.clone(),
                due: a.due,
            })
            .collect(),
        pending_escalation,
        key_entries,
    }
}

fn on_call(s: &Schedule, now: DateTime<Utc>) -> OnCall {
    let layer = |l| {
        s.on_call(l, now).map(|sh| OnCallNow {
            person: sh.person,
            until: sh.until,
            overridden: sh.overridden,
        })
    };
    // Both layers may change at the same instant; the next handoff is all of them.
    let upcoming = s.handoffs(now, 2);
    let first = upcoming.first().map(|h| h.at);
    OnCall {
        schedule: s.name().to_string(),
        time_zone: s.time_zone().name().to_string(),
        primary: layer(Layer::Primary),
        secondary: layer(Layer::Secondary),
        next: upcoming
            .into_iter()
            .filter(|h| Some(h.at) == first)
            .map(|h| NextHandoff {
                at: h.at,
                layer: h.layer,
                from: h.from,
                to: h.to,
            })
            .collect(),
    }
}

// ---- accepting -------------------------------------------------------------------------

/// What accepting a handoff did on one incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accepted {
    pub reference: IncidentRef,
    pub title: String,
    pub severity: Severity,
    /// The sender became incident commander here (the outgoing person held the role).
    pub took_ic: bool,
}

/// What an `accept_handoff` did, read from the state after its events (`seqs`, as the
/// answer lists them): the incidents it recorded the handoff on, in reference order.
pub fn accepted(state: &State, seqs: &[u64]) -> Vec<Accepted> {
    state
        .incidents
        .values()
        .filter_map(|i| {
            let mine: Vec<&Entry> = i.entries.iter().filter(|e| seqs.contains(&e.id)).collect();
            if mine.is_empty() {
                return None;
            }
            Some(Accepted {
                reference: i.reference,
                title: i.title.clone(),
                severity: i.severity,
                // The handoff is a note; the role change is recorded as a system entry.
                took_ic: mine.iter().any(|e| e.kind == EntryKind::System),
            })
        })
        .collect()
}

/// One line for a status bar: `took over from bob on INC-1, INC-3; incident commander of
/// INC-1`.
pub fn accepted_summary(from: &str, done: &[Accepted]) -> String {
    let refs = |it: &mut dyn Iterator<Item = &Accepted>| {
        it.map(|a| a.reference.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let all = refs(&mut done.iter());
    let ic = refs(&mut done.iter().filter(|a| a.took_ic));
    let ic = if ic.is_empty() {
        format!("{} was incident commander nowhere", one_line(from))
    } else {
        format!("incident commander of {ic}")
    };
    format!("took over from {} on {all}; {ic}", one_line(from))
}

/// The report `warroom accept-handoff` prints: one line per incident.
pub fn accepted_text(actor: &str, from: &str, done: &[Accepted]) -> String {
    let mut out = String::new();
    let n = done.len();
    let _ = writeln!(
        out,
        "{} took over from {} on {n} active incident{}:",
        one_line(actor),
        one_line(from),
        if n == 1 { "" } else { "s" }
    );
    for a in done {
        let ic = if a.took_ic {
            format!(
                "; {} is now incident commander (was {})",
                one_line(actor),
                one_line(from)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  {:<7} {}  {}: handoff recorded{ic}",
            a.reference.to_string(),
            a.severity,
            one_line(&a.title)
        );
    }
    let ic = done.iter().filter(|a| a.took_ic).count();
    if ic == 0 {
        let _ = writeln!(
            out,
            "{} was not incident commander of any of them; no role changed.",
            one_line(from)
        );
    }
    out
}

// ---- shared formatting -----------------------------------------------------------------

/// How text from the feed is made safe for the output at hand ([`one_line`] or Markdown).
type Esc = fn(&str) -> String;

/// `page engineering-manager (dana)`, `notify oncall.primary`.
pub fn step_what(p: &PendingStep) -> String {
    match &p.expected {
        Some(e) if *e != p.target => format!("{} {} ({})", p.action, p.target, e),
        _ => format!("{} {}", p.action, p.target),
    }
}

/// `step 2 of 5` (`, round 2` after the first round).
pub fn step_where(p: &PendingStep) -> String {
    if p.round > 1 {
        format!("step {} of {}, round {}", p.step, p.steps, p.round)
    } else {
        format!("step {} of {}", p.step, p.steps)
    }
}

/// What the shift line says: its start, length and what defined it.
fn shift_line(b: &Briefing) -> String {
    let len = span((b.generated_at - b.shift_start).num_seconds());
    let source = match &b.shift_schedule {
        Some(s) => format!("the {s} primary shift"),
        None => format!("the last {FALLBACK_SHIFT_HOURS} hours: no on-call schedule says"),
    };
    format!(
        "since {} ({len}, {source})",
        when(b.shift_start, b.generated_at)
    )
}

fn roles_line(i: &ActiveIncident, esc: Esc) -> String {
    let mut parts: Vec<String> = i
        .roles
        .iter()
        .map(|h| format!("{} {}", role_name(h.role), esc(&h.person)))
        .collect();
    if i.role(Role::IncidentCommander).is_none() {
        parts.insert(0, "NO incident commander".to_string());
    }
    parts.join(", ")
}

fn update_line(i: &ActiveIncident, now: DateTime<Utc>, esc: Esc) -> Option<String> {
    let last = i.last_status_update.as_ref().map(|u| {
        let by = u
            .author
            .as_deref()
            .map(|a| format!(" by {}", esc(a)))
            .unwrap_or_default();
        let said = u
            .text
            .as_deref()
            .map(|t| format!(": \"{}\"", esc(t)))
            .unwrap_or_default();
        format!("{} ({}){by}{said}", when(u.at, now), relative(u.at, now))
    });
    let next = i.next_update_due.map(|d| {
        if d <= now {
            format!("OVERDUE since {} ({})", when(d, now), relative(d, now))
        } else {
            format!("due {} ({})", when(d, now), relative(d, now))
        }
    });
    match (last, next) {
        (None, None) => None,
        (Some(l), None) => Some(format!("last {l}; no cadence")),
        (None, Some(n)) => Some(format!("none sent yet; next {n}")),
        (Some(l), Some(n)) => Some(format!("last {l}; next {n}")),
    }
}

/// `due 2026-11-29 14:10 UTC (in 2d23h)`, or `PASSED at …` once it has.
fn breach_line(due: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if due <= now {
        format!(
            "PASSED at {} ({}): report the breach now if personal data is involved",
            when(due, now),
            relative(due, now)
        )
    } else {
        format!(
            "due {} ({}), {}h after detection",
            when(due, now),
            relative(due, now),
            crate::model::access::BREACH_NOTICE_HOURS
        )
    }
}

fn entry_line(e: &EntrySummary, now: DateTime<Utc>, esc: Esc) -> String {
    format!(
        "#{} {} {}: {} ({}){}",
        e.id,
        when(e.occurred_at, now),
        kind_name(e.kind),
        esc(&e.text),
        esc(&e.author),
        if e.pinned { ", pinned" } else { "" }
    )
}

fn item_line(a: &OpenActionItem, esc: Esc) -> String {
    let due = a.due.map(|d| format!(", due {d}")).unwrap_or_default();
    format!("#{} {} (owner {}{due})", a.id, esc(&a.text), esc(&a.owner))
}

fn pending_line(p: &PendingStep, now: DateTime<Utc>, esc: Esc) -> String {
    let due = if p.due_at <= now {
        format!("due now (since {})", when(p.due_at, now))
    } else {
        format!("due {} ({})", when(p.due_at, now), relative(p.due_at, now))
    };
    format!("{} — {}, {due}", step_where(p), esc(&step_what(p)))
}

fn person_line(p: &Option<OnCallNow>, now: DateTime<Utc>, esc: Esc) -> String {
    match p {
        Some(p) => format!(
            "{} until {}{}",
            esc(&p.person),
            when(p.until, now),
            if p.overridden { " (override)" } else { "" }
        ),
        None => "nobody".to_string(),
    }
}

fn next_line(o: &OnCall, now: DateTime<Utc>, esc: Esc) -> String {
    let Some(first) = o.next.first() else {
        return "no handoff coming".to_string();
    };
    let changes: Vec<String> = o
        .next
        .iter()
        .map(|h| {
            format!(
                "{} {} → {}",
                h.layer,
                h.from.as_deref().map_or("nobody".into(), esc),
                h.to.as_deref().map_or("nobody".into(), esc)
            )
        })
        .collect();
    format!(
        "{} ({}): {}",
        when(first.at, now),
        relative(first.at, now),
        changes.join(", ")
    )
}

fn service_name(s: &Option<String>, esc: Esc) -> String {
    s.as_deref().map_or_else(|| "(no service)".to_string(), esc)
}

// ---- Markdown --------------------------------------------------------------------------

/// Text safe inside a Markdown table cell or list item: one line, pipes and markup that
/// would change the document's structure escaped.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in one_line(s).chars() {
        if matches!(c, '\\' | '|' | '*' | '`' | '<' | '[') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The briefing as Markdown: headings per section and per incident, bullet lists, and
/// tables for on-call and alert sources. Reads on GitHub and as plain text in a terminal.
pub fn markdown(b: &Briefing) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_markdown(&mut out, b);
    out
}

fn write_markdown(out: &mut String, b: &Briefing) -> std::fmt::Result {
    let now = b.generated_at;
    writeln!(out, "# Handoff briefing — {}", utc_stamp(b.generated_at))?;
    writeln!(out)?;
    writeln!(out, "- **Shift:** {}", shift_line(b))?;
    match &b.outgoing {
        Some(o) => writeln!(out, "- **Outgoing:** {}", md(o))?,
        None => writeln!(out, "- **Outgoing:** unknown (no on-call schedule says)")?,
    }
    writeln!(
        out,
        "- **Active incidents:** {} · **resolved this shift:** {}",
        b.active.len(),
        b.resolved.len()
    )?;
    writeln!(out)?;
    writeln!(out, "## Active incidents ({})", b.active.len())?;
    writeln!(out)?;
    if b.active.is_empty() {
        writeln!(out, "None.")?;
        writeln!(out)?;
    }
    if let Some(w) = withheld_line(&b.withheld) {
        writeln!(out, "_Also: {w}._")?;
        writeln!(out)?;
    }
    for i in &b.active {
        writeln!(
            out,
            "### {} · {} · {} — {}",
            i.reference,
            i.severity,
            i.status,
            md(&i.title)
        )?;
        writeln!(out)?;
        let service = i
            .service
            .as_deref()
            .map(|s| format!("**Service:** {} · ", md(s)))
            .unwrap_or_default();
        writeln!(
            out,
            "- {service}**Age:** {} (declared {} by {}){}",
            span(i.age_secs),
            when(i.declared_at, now),
            md(&i.declared_by),
            if i.restricted {
                " · **restricted** (need to know)"
            } else {
                ""
            }
        )?;
        if let Some(due) = i.breach_notice_due {
            writeln!(out, "- **Breach notice:** {}", breach_line(due, now))?;
        }
        writeln!(out, "- **Roles:** {}", roles_line(i, md))?;
        match &i.acknowledged_by {
            Some(a) => writeln!(out, "- **Acknowledged by:** {}", md(a))?,
            None => writeln!(out, "- **Acknowledged:** no")?,
        }
        if let Some(u) = update_line(i, now, md) {
            writeln!(out, "- **Status updates:** {u}")?;
        }
        if let Some(p) = &i.pending_escalation {
            writeln!(
                out,
                "- **Pending escalation:** {}",
                pending_line(p, now, md)
            )?;
        }
        let list = |out: &mut String, title: &str, items: Vec<String>| -> std::fmt::Result {
            if items.is_empty() {
                return Ok(());
            }
            writeln!(out, "- **{title}:**")?;
            for it in items {
                writeln!(out, "  - {it}")?;
            }
            Ok(())
        };
        list(
            out,
            "Open hypotheses",
            i.open_hypotheses
                .iter()
                .map(|e| entry_line(e, now, md))
                .collect(),
        )?;
        list(
            out,
            "Ruled out",
            i.ruled_out.iter().map(|e| entry_line(e, now, md)).collect(),
        )?;
        list(
            out,
            "Open action items",
            i.open_action_items
                .iter()
                .map(|a| item_line(a, md))
                .collect(),
        )?;
        list(
            out,
            "Key timeline entries",
            i.key_entries
                .iter()
                .map(|e| entry_line(e, now, md))
                .collect(),
        )?;
        writeln!(out)?;
    }
    writeln!(out, "## On call")?;
    writeln!(out)?;
    if b.on_call.is_empty() {
        writeln!(out, "No on-call schedules are known.")?;
    } else {
        writeln!(out, "| Schedule | Primary | Secondary | Next handoff |")?;
        writeln!(out, "|---|---|---|---|")?;
        for o in &b.on_call {
            writeln!(
                out,
                "| {} | {} | {} | {} |",
                md(&o.schedule),
                person_line(&o.primary, now, md),
                person_line(&o.secondary, now, md),
                next_line(o, now, md)
            )?;
        }
    }
    writeln!(out)?;
    writeln!(out, "## Resolved during the shift ({})", b.resolved.len())?;
    writeln!(out)?;
    if b.resolved.is_empty() {
        writeln!(out, "None.")?;
    }
    for r in &b.resolved {
        writeln!(out, "- {}", resolved_line(r, now, md))?;
    }
    writeln!(out)?;
    writeln!(out, "## Noisiest alert sources")?;
    writeln!(out)?;
    if b.noisiest.is_empty() {
        writeln!(out, "No alerts on incidents declared during the shift.")?;
    } else {
        writeln!(out, "| Service | Alerts | Incidents |")?;
        writeln!(out, "|---|---:|---:|")?;
        for a in &b.noisiest {
            writeln!(
                out,
                "| {} | {} | {} |",
                service_name(&a.service, md),
                a.alerts,
                a.incidents
            )?;
        }
    }
    Ok(())
}

fn resolved_line(r: &ResolvedIncident, now: DateTime<Utc>, esc: Esc) -> String {
    let service = r
        .service
        .as_deref()
        .map(|s| format!(" on {}", esc(s)))
        .unwrap_or_default();
    let closed = if r.status == Status::Closed {
        ", closed since"
    } else {
        ""
    };
    format!(
        "{} {} {}{service}, resolved {} after {}{closed}",
        r.reference,
        r.severity,
        esc(&r.title),
        when(r.resolved_at, now),
        span((r.resolved_at - r.declared_at).num_seconds())
    )
}

// ---- plain text ------------------------------------------------------------------------

/// The briefing as plain text: upper-case section titles, two-space indents, no markup.
pub fn text(b: &Briefing) -> String {
    let mut out = String::new();
    let _ = write_text(&mut out, b);
    out
}

/// One plain-text line per row, for the console's scrollable view as well.
pub fn text_lines(b: &Briefing) -> Vec<String> {
    text(b).lines().map(str::to_string).collect()
}

fn write_text(out: &mut String, b: &Briefing) -> std::fmt::Result {
    let now = b.generated_at;
    writeln!(out, "HANDOFF BRIEFING  {}", utc_stamp(b.generated_at))?;
    writeln!(out, "Shift {}", shift_line(b))?;
    writeln!(
        out,
        "Outgoing: {}",
        b.outgoing
            .as_deref()
            .map_or("unknown (no on-call schedule says)".into(), one_line)
    )?;
    writeln!(out)?;
    writeln!(out, "ACTIVE INCIDENTS ({})", b.active.len())?;
    if b.active.is_empty() {
        writeln!(out, "  none")?;
    }
    if let Some(w) = withheld_line(&b.withheld) {
        writeln!(out, "  also: {w}")?;
    }
    for i in &b.active {
        writeln!(out)?;
        writeln!(
            out,
            "{}  {}  {}  {}{}",
            i.reference,
            i.severity,
            i.status,
            one_line(&i.title),
            if i.restricted { "  [restricted]" } else { "" }
        )?;
        let field =
            |out: &mut String, name: &str, value: &str| writeln!(out, "  {name:<18}{value}");
        if let Some(s) = &i.service {
            field(out, "service", &one_line(s))?;
        }
        field(
            out,
            "age",
            &format!(
                "{} (declared {} by {})",
                span(i.age_secs),
                when(i.declared_at, now),
                one_line(&i.declared_by)
            ),
        )?;
        if let Some(due) = i.breach_notice_due {
            field(out, "breach notice", &breach_line(due, now))?;
        }
        field(out, "roles", &roles_line(i, one_line))?;
        field(
            out,
            "acknowledged",
            &i.acknowledged_by
                .as_deref()
                .map_or("no".into(), |a| format!("by {}", one_line(a))),
        )?;
        if let Some(u) = update_line(i, now, one_line) {
            field(out, "status updates", &u)?;
        }
        if let Some(p) = &i.pending_escalation {
            field(out, "escalation", &pending_line(p, now, one_line))?;
        }
        let list = |out: &mut String, title: &str, items: Vec<String>| -> std::fmt::Result {
            if items.is_empty() {
                return Ok(());
            }
            writeln!(out, "  {title}")?;
            for it in items {
                writeln!(out, "    - {it}")?;
            }
            Ok(())
        };
        list(
            out,
            "open hypotheses",
            i.open_hypotheses
                .iter()
                .map(|e| entry_line(e, now, one_line))
                .collect(),
        )?;
        list(
            out,
            "ruled out",
            i.ruled_out
                .iter()
                .map(|e| entry_line(e, now, one_line))
                .collect(),
        )?;
        list(
            out,
            "open action items",
            i.open_action_items
                .iter()
                .map(|a| item_line(a, one_line))
                .collect(),
        )?;
        list(
            out,
            "key timeline entries",
            i.key_entries
                .iter()
                .map(|e| entry_line(e, now, one_line))
                .collect(),
        )?;
    }
    writeln!(out)?;
    writeln!(out, "ON CALL")?;
    if b.on_call.is_empty() {
        writeln!(out, "  no on-call schedules are known")?;
    }
    for o in &b.on_call {
        writeln!(out, "  {}", one_line(&o.schedule))?;
        writeln!(
            out,
            "    primary         {}",
            person_line(&o.primary, now, one_line)
        )?;
        writeln!(
            out,
            "    secondary       {}",
            person_line(&o.secondary, now, one_line)
        )?;
        writeln!(out, "    next handoff    {}", next_line(o, now, one_line))?;
    }
    writeln!(out)?;
    writeln!(out, "RESOLVED DURING THE SHIFT ({})", b.resolved.len())?;
    if b.resolved.is_empty() {
        writeln!(out, "  none")?;
    }
    for r in &b.resolved {
        writeln!(out, "  {}", resolved_line(r, now, one_line))?;
    }
    writeln!(out)?;
    writeln!(out, "NOISIEST ALERT SOURCES")?;
    if b.noisiest.is_empty() {
        writeln!(out, "  no alerts on incidents declared during the shift")?;
    }
    for a in &b.noisiest {
        writeln!(
            out,
            "  {:<24}{:>6} alert{}  ({} incident{})",
            service_name(&a.service, one_line),
            a.alerts,
            if a.alerts == 1 { "" } else { "s" },
            a.incidents,
            if a.incidents == 1 { "" } else { "s" }
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::access::Viewer;
    use crate::model::{Command, Event};

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 26, h, m, 0).unwrap()
    }

    fn run(s: &mut State, actor: &str, t: DateTime<Utc>, cmd: Command) {
        for kind in s.decide(actor, t, &cmd).expect("decided") {
            let ev = Event {
                seq: s.seq + 1,
                at: t,
                actor: actor.into(),
                kind,
            };
            s.apply(&ev).expect("folds");
        }
    }

    fn declare(title: &str, restricted: bool) -> Command {
        Command::Declare {
            title: title.into(),
            severity: Severity::Sev1,
            service: None,
            restricted,
        }
    }

    /// INC-1 and INC-3 restricted (ana's), INC-2 open to all.
    fn feed() -> State {
        let mut s = State::default();
        run(&mut s, "ana", at(9, 0), declare("Leaked keys", true));
        run(&mut s, "ana", at(9, 5), declare("Checkout slow", false));
        run(&mut s, "ana", at(9, 10), declare("Phishing wave", true));
        s
    }

    #[test]
    fn a_member_sees_the_breach_deadline_and_a_non_member_only_references() {
        let server = feed();
        let now = at(14, 0);
        let ana = server.view_for(Viewer {
            name: "ana",
            sees_all: false,
        });
        let b = brief(&ana, &[], now - Duration::hours(12), now);
        let leaked = b
            .active
            .iter()
            .find(|i| i.reference == IncidentRef(1))
            .unwrap();
        assert!(leaked.restricted);
        assert_eq!(
            leaked.breach_notice_due,
            Some(at(9, 0) + Duration::hours(72))
        );
        assert!(b.withheld.is_empty());
        let t = text(&b);
        assert!(t.contains("Leaked keys  [restricted]"), "{t}");
        assert!(
            t.contains(
                "  breach notice     due 2026-11-29 09:00 UTC (in 2d19h), 72h after detection"
            ),
            "{t}"
        );
        assert!(!t.contains("you are not a member"), "{t}");
        let md = markdown(&b);
        assert!(
            md.contains("- **Breach notice:** due 2026-11-29 09:00 UTC"),
            "{md}"
        );

        // Past the deadline, it says so loudly.
        let late = brief(&ana, &[], now, at(9, 0) + Duration::hours(73));
        assert!(
            text(&late).contains("breach notice     PASSED at"),
            "{}",
            text(&late)
        );

        let bob = server.view_for(Viewer {
            name: "bob",
            sees_all: false,
        });
        let b = brief(&bob, &[], now - Duration::hours(12), now);
        assert_eq!(b.active.len(), 1);
        assert_eq!(b.withheld, [IncidentRef(1), IncidentRef(3)]);
        let t = text(&b);
        assert!(
            t.contains("  also: 2 restricted incidents you are not a member of: INC-1, INC-3"),
            "{t}"
        );
        assert!(!t.contains("Leaked") && !t.contains("Phishing"), "{t}");
        let md = markdown(&b);
        assert!(
            md.contains("_Also: 2 restricted incidents you are not a member of: INC-1, INC-3._"),
            "{md}"
        );
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(v["withheld"], serde_json::json!(["INC-1", "INC-3"]));
        // An open incident carries no deadline, and a briefing with nothing withheld no list.
        assert!(v["active"][0].get("breach_notice_due").is_none());
        let admin = brief(&server, &[], now - Duration::hours(12), now);
        assert!(
            serde_json::to_value(&admin)
                .unwrap()
                .get("withheld")
                .is_none()
        );
        assert_eq!(
            withheld_line(&[IncidentRef(7)]).as_deref(),
            Some("1 restricted incident you are not a member of: INC-7")
        );
    }
}
