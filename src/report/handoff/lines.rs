//! The lines both renderings of a briefing print: the shift, roles, status updates, the
//! breach-notice deadline, entries, action items, the pending escalation step, who is on
//! call and the next handoff, resolved incidents. Each takes the escaper of its output
//! (`one_line` for text, Markdown's for `markdown`), so the two never word a thing
//! differently.

use chrono::{DateTime, Utc};

use super::{
    ActiveIncident, Briefing, EntrySummary, FALLBACK_SHIFT_HOURS, OnCall, OnCallNow,
    OpenActionItem, PendingStep, ResolvedIncident,
};
use crate::model::feed::{Deploy, NotedAlert};
use crate::model::{Role, Status};
use crate::report::format::{kind_name, relative, role_name, span, when};

/// How text from the feed is made safe for the output at hand
/// ([`one_line`](crate::report::format::one_line) or Markdown).
pub(super) type Esc = fn(&str) -> String;

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
pub(super) fn shift_line(b: &Briefing) -> String {
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

/// ` → incoming: marco (shift change 09:00 UTC, in 30m)`: who takes over at the shift
/// change the briefing is for, and when; empty when no schedule says.
pub(super) fn incoming_part(b: &Briefing, esc: Esc) -> String {
    match (&b.incoming, b.shift_change_at) {
        (Some(i), Some(at)) => format!(
            " → incoming: {} (shift change {}, {})",
            esc(i),
            when(at, b.generated_at),
            relative(at, b.generated_at)
        ),
        _ => String::new(),
    }
}

pub(super) fn roles_line(i: &ActiveIncident, esc: Esc) -> String {
    let mut parts: Vec<String> = i
        .roles
        .iter()
        .map(|h| format!("{} {}", role_name(h.role), esc(&h.person)))
        .collect();
    if i.role(Role::CommsLead).is_none() && i.severity.wants_comms_lead() {
        parts.insert(0, "NO comms lead".to_string());
    }
    if i.role(Role::IncidentCommander).is_none() {
        parts.insert(0, "NO incident commander".to_string());
    }
    parts.join(", ")
}

pub(super) fn update_line(i: &ActiveIncident, now: DateTime<Utc>, esc: Esc) -> Option<String> {
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
pub(super) fn breach_line(due: DateTime<Utc>, now: DateTime<Utc>) -> String {
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

pub(super) fn entry_line(e: &EntrySummary, now: DateTime<Utc>, esc: Esc) -> String {
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

pub(super) fn item_line(a: &OpenActionItem, esc: Esc) -> String {
    let due = a.due.map(|d| format!(", due {d}")).unwrap_or_default();
    format!("#{} {} (owner {}{due})", a.id, esc(&a.text), esc(&a.owner))
}

pub(super) fn pending_line(p: &PendingStep, now: DateTime<Utc>, esc: Esc) -> String {
    let due = if p.due_at <= now {
        format!("due now (since {})", when(p.due_at, now))
    } else {
        format!("due {} ({})", when(p.due_at, now), relative(p.due_at, now))
    };
    format!("{} — {}, {due}", step_where(p), esc(&step_what(p)))
}

pub(super) fn person_line(p: &Option<OnCallNow>, now: DateTime<Utc>, esc: Esc) -> String {
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

pub(super) fn next_line(o: &OnCall, now: DateTime<Utc>, esc: Esc) -> String {
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

pub(super) fn service_name(s: &Option<String>, esc: Esc) -> String {
    s.as_deref().map_or_else(|| "(no service)".to_string(), esc)
}

/// `14:05 UTC  checkout v2.14.1 → production, by ana: new cart flag on`
pub fn deploy_line(d: &Deploy, now: DateTime<Utc>, esc: Esc) -> String {
    let env = d
        .environment
        .as_deref()
        .map(|e| format!(" → {}", esc(e)))
        .unwrap_or_default();
    let note = d
        .note
        .as_deref()
        .map(|n| format!(": {}", esc(n)))
        .unwrap_or_default();
    format!(
        "{}  {} {}{env}, by {}{note}",
        when(d.at, now),
        esc(&d.service),
        esc(&d.version),
        esc(&d.by)
    )
}

/// `checkout: error budget burning 1.2x over 3d: informational only (3 times, last 2h
/// ago)`
pub fn noted_line(n: &NotedAlert, now: DateTime<Utc>, esc: Esc) -> String {
    let service = n
        .service
        .as_deref()
        .map(|s| format!("{}: ", esc(s)))
        .unwrap_or_default();
    let times = if n.count == 1 {
        "once".to_string()
    } else {
        format!("{} times", n.count)
    };
    format!(
        "{service}{} — {} ({times}, last seen {})",
        esc(&n.summary),
        esc(&n.why),
        relative(n.last_at, now)
    )
}

pub(super) fn resolved_line(r: &ResolvedIncident, now: DateTime<Utc>, esc: Esc) -> String {
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
    let pm = match (r.postmortem_due_at, r.postmortem_on_time) {
        (Some(due), _) if due < now => format!(
            ", POST-MORTEM OVERDUE by {}",
            span((now - due).num_seconds())
        ),
        (Some(due), _) => format!(", post-mortem due in {}", span((due - now).num_seconds())),
        (None, Some(true)) => ", post-mortem done on time".to_string(),
        (None, Some(false)) => ", post-mortem done late".to_string(),
        (None, None) => String::new(),
    };
    format!(
        "{} {} {}{service}, resolved {} after {}{closed}{pm}",
        r.reference,
        r.severity,
        esc(&r.title),
        when(r.resolved_at, now),
        span((r.resolved_at - r.declared_at).num_seconds())
    )
}

/// The shift's pages against the target, in one line: `3 pages this shift (1 off hours):
/// over the target of under 2 a shift, the alerting needs tuning`.
pub fn pages_line(p: &super::ShiftPages) -> String {
    let head = format!(
        "{} page{} this shift ({} off hours)",
        p.pages,
        if p.pages == 1 { "" } else { "s" },
        p.off_hours
    );
    if p.over_target {
        format!(
            "{head}: over the target of under {} a shift, the alerting needs tuning",
            p.target
        )
    } else {
        format!("{head}: within the target of under {} a shift", p.target)
    }
}
