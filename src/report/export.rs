//! The incident export: a Markdown post-mortem draft (seed template) and a JSON document
//! with the incident's full event history and its derived state. Pure: the incident and its
//! events in, text out. Times are UTC; the export depends only on the log, never on the
//! clock, so exporting twice gives the same file.

use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{EntryKind, Event, Incident, Milestone, PmSection, Role};

/// The JSON export's schema, for tools that read it.
pub const JSON_SCHEMA: &str = "warroom.incident-export/1";

/// The JSON export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonExport {
    /// `warroom.incident-export/1`.
    pub schema: String,
    /// The sequence number of the last event on the incident.
    pub as_of_seq: u64,
    /// The incident as its events fold (the same shape as in the feed's snapshot).
    pub incident: Incident,
    /// Every event on the incident, in log order.
    pub events: Vec<Event>,
    /// Times to detect, acknowledge, mitigate and resolve, in seconds.
    pub times: Times,
}

/// The incident's own MTTD / MTTA / MTTM / MTTR inputs, in seconds (absent when a
/// milestone is missing).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Times {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detect_secs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledge_secs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mitigate_secs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolve_secs: Option<i64>,
}

/// Detect = detected − impact started; acknowledge = acknowledged − detected; mitigate and
/// resolve count from impact started (or from detection when the start is unknown).
pub fn times(inc: &Incident) -> Times {
    let m = |k| inc.milestones.get(&k).copied();
    let start = m(Milestone::ImpactStarted).or(m(Milestone::Detected));
    let span = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| Some((b? - a?).num_seconds());
    Times {
        detect_secs: span(m(Milestone::ImpactStarted), m(Milestone::Detected)),
        acknowledge_secs: span(m(Milestone::Detected), m(Milestone::Acknowledged)),
        mitigate_secs: span(start, m(Milestone::Mitigated)),
        resolve_secs: span(start, m(Milestone::Resolved)),
    }
}

/// The JSON export of `inc` from `events` (the whole log or just this incident's).
pub fn json(inc: &Incident, events: &[Event]) -> JsonExport {
    let events: Vec<Event> = events
        .iter()
        .filter(|e| e.kind.incident() == inc.reference)
        .cloned()
        .collect();
    JsonExport {
        schema: JSON_SCHEMA.to_string(),
        as_of_seq: events.last().map_or(0, |e| e.seq),
        incident: inc.clone(),
        events,
        times: times(inc),
    }
}

/// `1h 12m`, `14m 05s`, `42s`.
pub fn human_duration(secs: i64) -> String {
    let neg = if secs < 0 { "-" } else { "" };
    let s = secs.abs();
    let (d, h, m, sec) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60, s % 60);
    if d > 0 {
        format!("{neg}{d}d {h}h {m:02}m")
    } else if h > 0 {
        format!("{neg}{h}h {m:02}m")
    } else if m > 0 {
        format!("{neg}{m}m {sec:02}s")
    } else {
        format!("{neg}{sec}s")
    }
}

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

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

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
    let when = |t: DateTime<Utc>| {
        if same_day {
            t.format("%H:%M:%S").to_string()
        } else {
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        }
    };

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
        stamp(inc.declared_at),
        cell(&inc.declared_by)
    )?;
    let end = m(Milestone::Resolved);
    let duration = match (start, end) {
        (Some(s), Some(e)) => format!(
            "{} ({} → {})",
            human_duration((e - s).num_seconds()),
            stamp(s),
            stamp(e)
        ),
        (Some(s), None) => format!("ongoing since {}", stamp(s)),
        _ => "unknown".into(),
    };
    writeln!(out, "| Duration | {duration} |")?;
    let mut impact = Vec::new();
    match (m(Milestone::ImpactStarted), m(Milestone::Mitigated)) {
        (Some(s), Some(e)) => impact.push(format!(
            "customer impact for {} (until mitigated)",
            human_duration((e - s).num_seconds())
        )),
        (Some(s), None) => impact.push(format!("impact since {}", stamp(s))),
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
        writeln!(out, "| # | Action | Owner | Due | State |")?;
        writeln!(out, "|---|---|---|---|---|")?;
        for (i, a) in pm.action_items.iter().enumerate() {
            let state = match (a.done, a.done_at) {
                (true, Some(t)) => format!("done {}", t.format("%Y-%m-%d")),
                (true, None) => "done".into(),
                (false, _) => "open".into(),
            };
            writeln!(
                out,
                "| {} | {} | {} | {} | {state} |",
                i + 1,
                cell(&a.text),
                cell(&a.owner),
                a.due.map_or("—".to_string(), |d| d.to_string()),
            )?;
        }
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
        writeln!(
            out,
            "| {} | {}{pin} | {} | {} |",
            when(e.occurred_at),
            e.kind.as_str().replace('_', " "),
            cell(&e.author),
            cell(&text)
        )?;
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
                e.kind.as_str().replace('_', " ")
            )?;
        }
    }
    Ok(())
}
