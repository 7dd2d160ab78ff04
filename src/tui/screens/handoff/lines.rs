//! The handoff briefing's lines, built from the [`Briefing`]'s fields: each with its text
//! (what `warroom handoff` prints, line for line) and what it is, which gives its style.

use chrono::{DateTime, Utc};

use crate::model::{IncidentRef, Role, Severity, Status};
use crate::report::handoff::{
    ActiveIncident, Briefing, EntrySummary, FALLBACK_SHIFT_HOURS, OnCall, OnCallNow,
    OpenActionItem, PendingStep, ResolvedIncident, kind_name, one_line, relative, role_name, span,
    step_what, step_where, when, withheld_line,
};

/// What a line of the briefing is, for its style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// The briefing's first line and the section titles.
    Heading,
    /// An incident's first line: its reference, severity (in the severity's colour),
    /// status and title.
    Incident(IncidentRef, Severity),
    /// A status update overdue.
    Overdue,
    /// An active incident nobody commands.
    NoCommander,
    Text,
}

/// One line of the briefing before wrapping.
pub struct Row {
    pub text: String,
    pub meaning: Meaning,
}

/// The briefing's lines, in the order `warroom handoff` prints them.
pub fn briefing_rows(b: &Briefing) -> Vec<Row> {
    let now = b.generated_at;
    let mut out = Vec::new();
    let mut push = |text: String, meaning: Meaning| out.push(Row { text, meaning });
    push(
        format!(
            "HANDOFF BRIEFING  {}",
            b.generated_at.format("%Y-%m-%d %H:%M UTC")
        ),
        Meaning::Heading,
    );
    push(format!("Shift {}", shift_line(b)), Meaning::Text);
    push(
        format!(
            "Outgoing: {}",
            b.outgoing
                .as_deref()
                .map_or("unknown (no on-call schedule says)".into(), one_line)
        ),
        Meaning::Text,
    );
    push(String::new(), Meaning::Text);
    push(
        format!("ACTIVE INCIDENTS ({})", b.active.len()),
        Meaning::Heading,
    );
    if b.active.is_empty() {
        push("  none".into(), Meaning::Text);
    }
    if let Some(w) = withheld_line(&b.withheld) {
        push(format!("  also: {w}"), Meaning::Text);
    }
    for i in &b.active {
        push(String::new(), Meaning::Text);
        incident_rows(i, now, &mut push);
    }
    push(String::new(), Meaning::Text);
    push("ON CALL".into(), Meaning::Heading);
    if b.on_call.is_empty() {
        push("  no on-call schedules are known".into(), Meaning::Text);
    }
    for o in &b.on_call {
        push(format!("  {}", one_line(&o.schedule)), Meaning::Text);
        push(
            format!("    primary         {}", person_line(&o.primary, now)),
            Meaning::Text,
        );
        push(
            format!("    secondary       {}", person_line(&o.secondary, now)),
            Meaning::Text,
        );
        push(
            format!("    next handoff    {}", next_line(o, now)),
            Meaning::Text,
        );
    }
    push(String::new(), Meaning::Text);
    push(
        format!("RESOLVED DURING THE SHIFT ({})", b.resolved.len()),
        Meaning::Heading,
    );
    if b.resolved.is_empty() {
        push("  none".into(), Meaning::Text);
    }
    for r in &b.resolved {
        push(format!("  {}", resolved_line(r, now)), Meaning::Text);
    }
    push(String::new(), Meaning::Text);
    push("NOISIEST ALERT SOURCES".into(), Meaning::Heading);
    if b.noisiest.is_empty() {
        push(
            "  no alerts on incidents declared during the shift".into(),
            Meaning::Text,
        );
    }
    for a in &b.noisiest {
        push(
            format!(
                "  {:<24}{:>6} alert{}  ({} incident{})",
                a.service
                    .as_deref()
                    .map_or_else(|| "(no service)".to_string(), one_line),
                a.alerts,
                if a.alerts == 1 { "" } else { "s" },
                a.incidents,
                if a.incidents == 1 { "" } else { "s" }
            ),
            Meaning::Text,
        );
    }
    out
}

/// An active incident's lines: its header, its fields, its lists.
fn incident_rows(i: &ActiveIncident, now: DateTime<Utc>, push: &mut impl FnMut(String, Meaning)) {
    push(
        format!(
            "{}  {}  {}  {}{}",
            i.reference,
            i.severity,
            i.status,
            one_line(&i.title),
            if i.restricted { "  [restricted]" } else { "" }
        ),
        Meaning::Incident(i.reference, i.severity),
    );
    let mut field =
        |name: &str, value: String, meaning: Meaning| push(format!("  {name:<18}{value}"), meaning);
    if let Some(s) = &i.service {
        field("service", one_line(s), Meaning::Text);
    }
    field(
        "age",
        format!(
            "{} (declared {} by {})",
            span(i.age_secs),
            when(i.declared_at, now),
            one_line(&i.declared_by)
        ),
        Meaning::Text,
    );
    if let Some(due) = i.breach_notice_due {
        field("breach notice", breach_line(due, now), Meaning::Text);
    }
    let commanded = i.role(Role::IncidentCommander).is_some();
    field(
        "roles",
        roles_line(i),
        if commanded {
            Meaning::Text
        } else {
            Meaning::NoCommander
        },
    );
    field(
        "acknowledged",
        i.acknowledged_by
            .as_deref()
            .map_or("no".into(), |a| format!("by {}", one_line(a))),
        Meaning::Text,
    );
    if let Some(u) = update_line(i, now) {
        let meaning = if i.update_overdue(now) {
            Meaning::Overdue
        } else {
            Meaning::Text
        };
        field("status updates", u, meaning);
    }
    if let Some(p) = &i.pending_escalation {
        field("escalation", pending_line(p, now), Meaning::Text);
    }
    let entries = |list: &[EntrySummary]| list.iter().map(|e| entry_line(e, now)).collect();
    let lists: [(&str, Vec<String>); 4] = [
        ("open hypotheses", entries(&i.open_hypotheses)),
        ("ruled out", entries(&i.ruled_out)),
        (
            "open action items",
            i.open_action_items.iter().map(item_line).collect(),
        ),
        ("key timeline entries", entries(&i.key_entries)),
    ];
    for (title, items) in lists {
        if items.is_empty() {
            continue;
        }
        push(format!("  {title}"), Meaning::Text);
        for it in items {
            push(format!("    - {it}"), Meaning::Text);
        }
    }
}

// The sentences below are the plain-text briefing's (`warroom handoff`); `tests.rs` keeps
// the two in step.

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

fn roles_line(i: &ActiveIncident) -> String {
    let mut parts: Vec<String> = i
        .roles
        .iter()
        .map(|h| format!("{} {}", role_name(h.role), one_line(&h.person)))
        .collect();
    if i.role(Role::IncidentCommander).is_none() {
        parts.insert(0, "NO incident commander".to_string());
    }
    parts.join(", ")
}

fn update_line(i: &ActiveIncident, now: DateTime<Utc>) -> Option<String> {
    let last = i.last_status_update.as_ref().map(|u| {
        let by = u
            .author
            .as_deref()
            .map(|a| format!(" by {}", one_line(a)))
            .unwrap_or_default();
        let said = u
            .text
            .as_deref()
            .map(|t| format!(": \"{}\"", one_line(t)))
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

fn entry_line(e: &EntrySummary, now: DateTime<Utc>) -> String {
    format!(
        "#{} {} {}: {} ({}){}",
        e.id,
        when(e.occurred_at, now),
        kind_name(e.kind),
        one_line(&e.text),
        one_line(&e.author),
        if e.pinned { ", pinned" } else { "" }
    )
}

fn item_line(a: &OpenActionItem) -> String {
    let due = a.due.map(|d| format!(", due {d}")).unwrap_or_default();
    format!(
        "#{} {} (owner {}{due})",
        a.id,
        one_line(&a.text),
        one_line(&a.owner)
    )
}

fn pending_line(p: &PendingStep, now: DateTime<Utc>) -> String {
    let due = if p.due_at <= now {
        format!("due now (since {})", when(p.due_at, now))
    } else {
        format!("due {} ({})", when(p.due_at, now), relative(p.due_at, now))
    };
    format!("{} — {}, {due}", step_where(p), one_line(&step_what(p)))
}

fn person_line(p: &Option<OnCallNow>, now: DateTime<Utc>) -> String {
    match p {
        Some(p) => format!(
            "{} until {}{}",
            one_line(&p.person),
            when(p.until, now),
            if p.overridden { " (override)" } else { "" }
        ),
        None => "nobody".to_string(),
    }
}

fn next_line(o: &OnCall, now: DateTime<Utc>) -> String {
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
                h.from.as_deref().map_or("nobody".into(), one_line),
                h.to.as_deref().map_or("nobody".into(), one_line)
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

fn resolved_line(r: &ResolvedIncident, now: DateTime<Utc>) -> String {
    let service = r
        .service
        .as_deref()
        .map(|s| format!(" on {}", one_line(s)))
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
        one_line(&r.title),
        when(r.resolved_at, now),
        span((r.resolved_at - r.declared_at).num_seconds())
    )
}
