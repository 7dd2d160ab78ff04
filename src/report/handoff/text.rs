//! The briefing as plain text: what `warroom handoff` prints and the console's handoff
//! screen scrolls through.

use std::fmt::Write as _;

use super::Briefing;
use super::lines::{
    breach_line, entry_line, item_line, next_line, pending_line, person_line, resolved_line,
    roles_line, service_name, shift_line, update_line,
};
use crate::report::format::{one_line, span, utc_stamp, when, withheld_line};

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
