//! The Markdown post-mortem draft (seed template), with the escaping that keeps text typed
//! into the incident from changing the document's structure.

use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};

use super::restricted;
use crate::model::access::BREACH_NOTICE_HOURS;
use crate::model::{EntryKind, Incident, Milestone, PmSection, Role};
use crate::report::format::{human_duration, kind_name, log_time, utc_stamp};

/// Text that is safe inside a Markdown table cell: one line, pipes escaped.
fn cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace('\n', "<br>")
}

/// Text that is safe as a Markdown paragraph: kept as written, but a line that would start
/// a heading is escaped so it cannot break the document's structure.
fn para(s: &str) -> String {
    let is_item = |l: &str| {
        let t = l.trim_start();
        t.starts_with("- ")
            || t.starts_with("* ")
            || t.split_once(". ")
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    };
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        if i > 0 {
            // Each line the author wrote stays a line: a paragraph of its own, or a list item.
            out.push_str(if is_item(l) && is_item(lines[i - 1]) {
                "\n"
            } else {
                "\n\n"
            });
        }
        if l.trim_start().starts_with('#') {
            out.push('\\');
            out.push_str(l.trim_start());
        } else {
            out.push_str(l);
        }
    }
    out
}

/// The blameless ground rules that head every post-mortem (seed architecture: blameless
/// does not mean accountable-less; seed guide: no finger-pointing, "the system allowed").
pub const GROUND_RULES: &str = "\
## Ground rules

This review is blameless. We assume people made the best decisions they could with the
information they had; we look for what allowed this to happen, not who caused it (\"the
system allowed…\", never \"X broke it\"). Blameless is not accountable-less: every action
item has one owner and a due date, and is tracked until done.
";

/// The Markdown post-mortem draft: title, severity, duration, impact; roles and who held
/// them when; the post-mortem sections; the times to detect, acknowledge, mitigate and
/// resolve; the timeline in occurred-at order with authors; the pinned entries again under
/// "Key moments".
pub fn markdown(inc: &Incident) -> String {
    let mut out = String::new();
    let _ = write_markdown(&mut out, inc);
    out
}

fn write_markdown(out: &mut String, inc: &Incident) -> std::fmt::Result {
    let pm = &inc.postmortem;
    let m = |k| inc.milestones.get(&k).copied();
    let start = m(Milestone::ImpactStarted).or(m(Milestone::Detected));
    let same_day = {
        let first = inc
            .entries
            .iter()
            .map(|e| e.occurred_at)
            .min()
            .unwrap_or(inc.declared_at);
        let last = inc
            .entries
            .iter()
            .map(|e| e.occurred_at)
            .max()
            .unwrap_or(inc.updated_at);
        first.date_naive() == last.date_naive()
    };
    let when = |t: DateTime<Utc>| log_time(t, same_day);

    writeln!(out, "# {}: {}", inc.reference, inc.title.replace('\n', " "))?;
    writeln!(out)?;
    writeln!(
        out,
        "_Post-mortem draft exported from warroom. Times are UTC._"
    )?;
    writeln!(out)?;
    writeln!(out, "| | |")?;
    writeln!(out, "|---|---|")?;
    writeln!(
        out,
        "| Severity | {} ({}) |",
        inc.severity,
        inc.severity.label()
    )?;
    writeln!(out, "| Status | {} |", inc.status)?;
    if let Some(s) = &inc.service {
        writeln!(out, "| Service | {} |", cell(s))?;
    }
    writeln!(
        out,
        "| Declared | {} by {} |",
        utc_stamp(inc.declared_at),
        cell(&inc.declared_by)
    )?;
    if let Some(r) = restricted(inc) {
        writeln!(out, "| Access | {} |", r.access)?;
        let members = if r.members.is_empty() {
            "none (only admins)".to_string()
        } else {
            r.members
                .iter()
                .map(|m| cell(m))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(out, "| Members | {members} |")?;
        let detected = r.breach_notice_due - Duration::hours(BREACH_NOTICE_HOURS);
        let passed = if r.breach_notice_passed {
            format!(
                "; already passed at the last event, {}",
                utc_stamp(inc.updated_at)
            )
        } else {
            String::new()
        };
        writeln!(
            out,
            "| Breach notice due | {} ({BREACH_NOTICE_HOURS} h after detection at {}){passed} |",
            utc_stamp(r.breach_notice_due),
            utc_stamp(detected)
        )?;
    }
    let end = m(Milestone::Resolved);
    let duration = match (start, end) {
        (Some(s), Some(e)) => format!(
            "{} ({} → {})",
            human_duration((e - s).num_seconds()),
            utc_stamp(s),
            utc_stamp(e)
        ),
        (Some(s), None) => format!("ongoing since {}", utc_stamp(s)),
        _ => "unknown".into(),
    };
    writeln!(out, "| Duration | {duration} |")?;
    let mut impact = Vec::new();
    match (m(Milestone::ImpactStarted), m(Milestone::Mitigated)) {
        (Some(s), Some(e)) => impact.push(format!(
            "customer impact for {} (until mitigated)",
            human_duration((e - s).num_seconds())
        )),
        (Some(s), None) => impact.push(format!("impact since {}", utc_stamp(s))),
        _ => {}
    }
    if inc.alert_count > 0 {
        impact.push(format!(
            "{} alert{}",
            inc.alert_count,
            if inc.alert_count == 1 { "" } else { "s" }
        ));
    }
    if let Some(u) = inc
        .timeline()
        .into_iter()
        .rev()
        .find(|e| e.kind == EntryKind::StatusUpdate && e.superseded_by.is_none())
    {
        impact.push(format!("last status update: {}", u.text));
    }
    if !impact.is_empty() {
        writeln!(out, "| Impact | {} |", cell(&impact.join("; ")))?;
    }
    if let Some(reason) = &pm.waived {
        writeln!(out, "| Post-mortem | waived: {} |", cell(reason))?;
    }
    if let Some(due) = inc.postmortem_due_at() {
        // From the log alone, like the breach notice: compare with your clock.
        let state = match (pm.completed_at, inc.postmortem_on_time()) {
            (Some(at), Some(true)) => format!("done {}, on time", utc_stamp(at)),
            (Some(at), _) => format!("done {}, late", utc_stamp(at)),
            (None, _) if inc.updated_at >= due => {
                "NOT DONE, already overdue at the last event".to_string()
            }
            (None, _) => "not done yet".to_string(),
        };
        writeln!(
            out,
            "| Post-mortem due | {} (48 h after resolution); {state} |",
            utc_stamp(due)
        )?;
    }
    writeln!(
        out,
        "| Attendees | {} |",
        inc.responders()
            .iter()
            .map(|n| cell(n))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    writeln!(out)?;
    out.push_str(GROUND_RULES);
    writeln!(out)?;

    writeln!(out, "## Roles")?;
    writeln!(out)?;
    if inc.role_history.is_empty() {
        writeln!(out, "_Nobody held a role._")?;
    } else {
        writeln!(out, "| Role | Person | From | Until |")?;
        writeln!(out, "|---|---|---|---|")?;
        for role in Role::ALL {
            for t in inc.role_history.iter().filter(|t| t.role == *role) {
                writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    role.title(),
                    cell(&t.person),
                    when(t.from),
                    t.until.map_or("—".to_string(), when)
                )?;
            }
        }
    }
    writeln!(out)?;

    let section = |out: &mut String, s: PmSection| -> std::fmt::Result {
        writeln!(out, "## {}", s.title())?;
        writeln!(out)?;
        match pm.section(s) {
            Some(t) => writeln!(out, "{}", para(t))?,
            None => writeln!(out, "_Not written yet._")?,
        }
        writeln!(out)
    };
    section(out, PmSection::Summary)?;

    writeln!(out, "## Root cause (5 whys)")?;
    writeln!(out)?;
    if pm.whys.is_empty() {
        writeln!(out, "_Not written yet._")?;
    } else {
        for (i, w) in pm.whys.iter().enumerate() {
            writeln!(
                out,
                "{}. **{}** Because: {}",
                i + 1,
                w.why.replace('\n', " "),
                w.because.replace('\n', " ")
            )?;
        }
    }
    writeln!(out)?;
    for s in [
        PmSection::ContributingFactors,
        PmSection::WentWell,
        PmSection::WentPoorly,
        PmSection::Lessons,
    ] {
        section(out, s)?;
    }

    writeln!(out, "## Action items")?;
    writeln!(out)?;
    if pm.action_items.is_empty() {
        writeln!(out, "_None yet._")?;
    } else {
        // The tracker's tickets get a column once one item has one.
        let tickets = pm.action_items.iter().any(|a| a.ticket.is_some());
        if tickets {
            writeln!(out, "| # | Action | Owner | Due | State | Ticket |")?;
            writeln!(out, "|---|---|---|---|---|---|")?;
        } else {
            writeln!(out, "| # | Action | Owner | Due | State |")?;
            writeln!(out, "|---|---|---|---|---|")?;
        }
        for (i, a) in pm.action_items.iter().enumerate() {
            let state = match (a.done, a.done_at) {
                (true, Some(t)) => format!("done {}", t.format("%Y-%m-%d")),
                (true, None) => "done".into(),
                (false, _) => "open".into(),
            };
            let ticket = match &a.ticket {
                _ if !tickets => String::new(),
                None => " — |".into(),
                // An autolink: the tracker's link was checked to have no spaces or controls.
                Some(t) => match t.url.as_deref().filter(|u| !u.contains(['<', '>'])) {
                    Some(u) => format!(" {} <{}> |", cell(&t.reference), cell(u)),
                    None => format!(" {} |", cell(&t.reference)),
                },
            };
            writeln!(
                out,
                "| {} | {} | {} | {} | {state} |{ticket}",
                i + 1,
                cell(&a.text),
                cell(&a.owner),
                a.due.map_or("—".to_string(), |d| d.to_string()),
            )?;
        }
    }
    for suggestion in inc.suggested_action_items() {
        writeln!(out)?;
        writeln!(
            out,
            "_Suggested: {} (no runbook matched this service; writing one is part of the \
             follow-up)._",
            suggestion.replace('\n', " ")
        )?;
    }
    writeln!(out)?;

    writeln!(out, "## Times")?;
    writeln!(out)?;
    writeln!(out, "| Measure | From | To | Time |")?;
    writeln!(out, "|---|---|---|---|")?;
    let row = |out: &mut String,
               name: &str,
               from: (&str, Option<DateTime<Utc>>),
               to: (&str, Option<DateTime<Utc>>)|
     -> std::fmt::Result {
        let time = match (from.1, to.1) {
            (Some(a), Some(b)) => human_duration((b - a).num_seconds()),
            _ => "—".into(),
        };
        let show = |(label, t): (&str, Option<DateTime<Utc>>)| match t {
            Some(t) => format!("{label} {}", when(t)),
            None => format!("{label} (not set)"),
        };
        writeln!(out, "| {name} | {} | {} | {time} |", show(from), show(to))
    };
    let start_label = if m(Milestone::ImpactStarted).is_some() {
        "impact started"
    } else {
        "detected"
    };
    row(
        out,
        "Time to detect",
        ("impact started", m(Milestone::ImpactStarted)),
        ("detected", m(Milestone::Detected)),
    )?;
    row(
        out,
        "Time to acknowledge",
        ("detected", m(Milestone::Detected)),
        ("acknowledged", m(Milestone::Acknowledged)),
    )?;
    row(
        out,
        "Time to mitigate",
        (start_label, start),
        ("mitigated", m(Milestone::Mitigated)),
    )?;
    row(
        out,
        "Time to resolve",
        (start_label, start),
        ("resolved", m(Milestone::Resolved)),
    )?;
    writeln!(out)?;

    writeln!(out, "## Timeline")?;
    writeln!(out)?;
    writeln!(out, "| Time | Kind | Author | Entry |")?;
    writeln!(out, "|---|---|---|---|")?;
    for e in inc.timeline() {
        if e.superseded_by.is_some() {
            continue;
        }
        let mut text = e.text.clone();
        if let Some(old) = e.supersedes.and_then(|id| inc.entry(id)) {
            text.push_str(&format!(" (corrected; was: {})", old.text));
        }
        if e.occurred_at != e.recorded_at
            && (e.recorded_at - e.occurred_at).abs() >= Duration::seconds(1)
        {
            text.push_str(&format!(" (recorded {})", when(e.recorded_at)));
        }
        let pin = if e.pinned { ", pinned" } else { "" };
        let public = if e.public { ", public" } else { "" };
        writeln!(
            out,
            "| {} | {}{pin}{public} | {} | {} |",
            when(e.occurred_at),
            kind_name(e.kind),
            cell(&e.author),
            cell(&text)
        )?;
        if let Some(b) = &e.briefing {
            writeln!(
                out,
                "| | executive briefing | | impact: {}; ETA: {}; commitments at risk: {} |",
                cell(&b.impact),
                cell(&b.eta),
                cell(&b.at_risk)
            )?;
        }
    }
    writeln!(out)?;

    writeln!(out, "## Key moments")?;
    writeln!(out)?;
    let pinned: Vec<_> = inc
        .timeline()
        .into_iter()
        .filter(|e| e.pinned && e.superseded_by.is_none())
        .collect();
    if pinned.is_empty() {
        writeln!(out, "_Nothing was pinned._")?;
    } else {
        for e in pinned {
            writeln!(
                out,
                "- **{}** — {} ({}, {})",
                when(e.occurred_at),
                e.text.replace('\n', " "),
                e.author,
                kind_name(e.kind)
            )?;
        }
    }
    Ok(())
}
