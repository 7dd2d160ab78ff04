//! The briefing as plain text: what `warroom handoff` prints, and the rows the console's
//! handoff screen draws, each with what it is (so the screen styles it by meaning, never by
//! reading its text). One producer for both, so they cannot say different things.

use chrono::{DateTime, Utc};

use super::lines::{
    breach_line, deploy_line, entry_line, item_line, next_line, noted_line, pending_line,
    person_line, resolved_line, roles_line, service_name, shift_line, update_line,
};
use super::{ActiveIncident, Briefing, EntrySummary};
use crate::model::{IncidentRef, Role, Severity};
use crate::report::format::{one_line, span, utc_stamp, when, withheld_line};

/// What a line of the briefing is, for its style on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// The briefing's first line and the section titles.
    Heading,
    /// An incident's first line: its reference, severity, status and title.
    Incident(IncidentRef, Severity),
    /// A status update overdue.
    Overdue,
    /// An active incident nobody commands, or a SEV1 or SEV2 without a comms lead.
    NoCommander,
    Text,
}

/// One line of the briefing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub text: String,
    pub meaning: Meaning,
}

/// The briefing as plain text: upper-case section titles, two-space indents, no markup.
pub fn text(b: &Briefing) -> String {
    let mut out = String::new();
    for r in rows(b) {
        out.push_str(&r.text);
        out.push('\n');
    }
    out
}

/// One plain-text line per row.
pub fn text_lines(b: &Briefing) -> Vec<String> {
    rows(b).into_iter().map(|r| r.text).collect()
}

/// The briefing's lines, in the order `warroom handoff` prints them, each with its meaning.
pub fn rows(b: &Briefing) -> Vec<Row> {
    let now = b.generated_at;
    let mut out = Vec::new();
    let mut push = |text: String, meaning: Meaning| out.push(Row { text, meaning });
    push(
        format!("HANDOFF BRIEFING  {}", utc_stamp(b.generated_at)),
        Meaning::Heading,
    );
    push(format!("Shift {}", shift_line(b)), Meaning::Text);
    push(
        format!(
            "Outgoing: {}{}",
            b.outgoing
                .as_deref()
                .map_or("unknown (no on-call schedule says)".into(), one_line),
            super::lines::incoming_part(b, one_line)
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
            format!(
                "    primary         {}",
                person_line(&o.primary, now, one_line)
            ),
            Meaning::Text,
        );
        push(
            format!(
                "    secondary       {}",
                person_line(&o.secondary, now, one_line)
            ),
            Meaning::Text,
        );
        push(
            format!("    next handoff    {}", next_line(o, now, one_line)),
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
        push(
            format!("  {}", resolved_line(r, now, one_line)),
            Meaning::Text,
        );
    }
    if !b.postmortems_owed.is_empty() {
        push(String::new(), Meaning::Text);
        push(
            format!(
                "POST-MORTEMS OWED FROM EARLIER SHIFTS ({})",
                b.postmortems_owed.len()
            ),
            Meaning::Heading,
        );
        for r in &b.postmortems_owed {
            let overdue = r.postmortem_due_at.is_some_and(|due| due < now);
            push(
                format!("  {}", resolved_line(r, now, one_line)),
                if overdue {
                    Meaning::Overdue
                } else {
                    Meaning::Text
                },
            );
        }
    }
    push(String::new(), Meaning::Text);
    push("NOISIEST ALERT SOURCES".into(), Meaning::Heading);
    push(
        format!("  {}", super::lines::pages_line(&b.pages)),
        if b.pages.over_target {
            Meaning::Overdue
        } else {
            Meaning::Text
        },
    );
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
                service_name(&a.service, one_line),
                a.alerts,
                if a.alerts == 1 { "" } else { "s" },
                a.incidents,
                if a.incidents == 1 { "" } else { "s" }
            ),
            Meaning::Text,
        );
    }
    push(String::new(), Meaning::Text);
    push(
        format!("DEPLOYS DURING THE SHIFT ({})", b.deploys.len()),
        Meaning::Heading,
    );
    if b.deploys.is_empty() {
        push("  none recorded".into(), Meaning::Text);
    }
    for d in &b.deploys {
        push(
            format!("  {}", deploy_line(d, now, one_line)),
            Meaning::Text,
        );
    }
    push(String::new(), Meaning::Text);
    push(
        format!(
            "FOR STAND-UP: INFORMATIONAL ALERTS, LAST {} DAYS ({})",
            super::STANDUP_DAYS,
            b.for_standup.len()
        ),
        Meaning::Heading,
    );
    if b.for_standup.is_empty() {
        push("  none".into(), Meaning::Text);
    }
    for n in &b.for_standup {
        push(format!("  {}", noted_line(n, now, one_line)), Meaning::Text);
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
    let commanded = i.role(Role::IncidentCommander).is_some()
        && (i.role(Role::CommsLead).is_some() || !i.severity.wants_comms_lead());
    field(
        "roles",
        roles_line(i, one_line),
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
    if let Some(u) = update_line(i, now, one_line) {
        let meaning = if i.update_overdue(now) {
            Meaning::Overdue
        } else {
            Meaning::Text
        };
        field("status updates", u, meaning);
    }
    if let Some(p) = &i.pending_escalation {
        field("escalation", pending_line(p, now, one_line), Meaning::Text);
    }
    let entries = |list: &[EntrySummary]| -> Vec<String> {
        list.iter().map(|e| entry_line(e, now, one_line)).collect()
    };
    let lists: [(&str, Vec<String>); 4] = [
        ("open hypotheses", entries(&i.open_hypotheses)),
        ("ruled out", entries(&i.ruled_out)),
        (
            "open action items",
            i.open_action_items
                .iter()
                .map(|a| item_line(a, one_line))
                .collect(),
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
