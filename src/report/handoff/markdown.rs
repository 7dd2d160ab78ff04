//! The briefing as Markdown (`warroom handoff --format md`): a heading per section and per
//! incident, bullet lists, tables for on-call and alert sources.

use std::fmt::Write as _;

use super::Briefing;
use super::lines::{
    breach_line, entry_line, item_line, next_line, pending_line, person_line, resolved_line,
    roles_line, service_name, shift_line, update_line,
};
use crate::report::format::{one_line, span, utc_stamp, when, withheld_line};

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
    let incoming = super::lines::incoming_part(b, md);
    match &b.outgoing {
        Some(o) => writeln!(out, "- **Outgoing:** {}{incoming}", md(o))?,
        None => writeln!(
            out,
            "- **Outgoing:** unknown (no on-call schedule says){incoming}"
        )?,
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
    if !b.postmortems_owed.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "## Post-mortems owed from earlier shifts ({})",
            b.postmortems_owed.len()
        )?;
        writeln!(out)?;
        for r in &b.postmortems_owed {
            writeln!(out, "- {}", resolved_line(r, now, md))?;
        }
    }
    writeln!(out)?;
    writeln!(out, "## Noisiest alert sources")?;
    writeln!(out)?;
    writeln!(out, "{}.", super::lines::pages_line(&b.pages))?;
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
    writeln!(out)?;
    writeln!(out, "## Deploys during the shift ({})", b.deploys.len())?;
    writeln!(out)?;
    if b.deploys.is_empty() {
        writeln!(out, "None recorded.")?;
    }
    for d in &b.deploys {
        writeln!(out, "- {}", super::lines::deploy_line(d, now, md))?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "## For stand-up: informational alerts, last {} days ({})",
        super::STANDUP_DAYS,
        b.for_standup.len()
    )?;
    writeln!(out)?;
    if b.for_standup.is_empty() {
        writeln!(out, "None.")?;
    }
    for n in &b.for_standup {
        writeln!(out, "- {}", super::lines::noted_line(n, now, md))?;
    }
    Ok(())
}
