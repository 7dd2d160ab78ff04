//! The incident export: a Markdown post-mortem draft (seed template) and a JSON document
//! with the incident's full event history and its derived state. Pure: the incident and its
//! events in, text out. Times are UTC; the export depends only on the log, never on the
//! clock, so exporting twice gives the same file. A restricted incident's export says so,
//! names its members and gives its breach-notice deadline (whether it had passed is judged
//! at the incident's last event, not now).

use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::model::access::BREACH_NOTICE_HOURS;
use crate::model::{EntryKind, Event, Incident, IncidentRef, Milestone, PmSection, Role, State};
use crate::report::format::{human_duration, kind_name, log_time, utc_stamp};

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Markdown,
    Json,
}

impl ExportFormat {
    /// The file extension.
    pub fn ext(self) -> &'static str {
        match self {
            ExportFormat::Markdown => "md",
            ExportFormat::Json => "json",
        }
    }
}

/// `md`, `markdown` or `json`, as a person writes it.
pub fn parse_format(s: &str) -> Result<ExportFormat, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "md" | "markdown" => Ok(ExportFormat::Markdown),
        "json" => Ok(ExportFormat::Json),
        _ => Err(format!("'{s}' is not an export format: use md or json")),
    }
}

/// An incident's export from the feed's log as this reader received it.
pub fn export_text(
    events: &[Event],
    incident: IncidentRef,
    format: ExportFormat,
) -> Result<String, String> {
    let state =
        State::from_events(events).map_err(|e| format!("the feed's log does not fold: {e}"))?;
    let inc = visible_incident(&state, incident)?;
    Ok(match format {
        ExportFormat::Markdown => markdown(inc),
        ExportFormat::Json => {
            let mut s = serde_json::to_string_pretty(&json(inc, events))
                .map_err(|e| format!("the export could not be written as JSON: {e}"))?;
            s.push('\n');
            s
        }
    })
}

/// The incident, or why this reader cannot have it: restricted and withheld from them (the
/// state holds only its reference), or not there at all.
pub fn visible_incident(state: &State, incident: IncidentRef) -> Result<&Incident, String> {
    if state.withheld.contains(&incident) {
        return Err(format!(
            "{incident} is restricted (need to know): you are not a member; ask an admin to add you"
        ));
    }
    state.incident(incident).ok_or_else(|| {
        format!(
            "{incident} does not exist (the feed has {} incidents)",
            state.incidents.len()
        )
    })
}

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
    /// Set only on a restricted (need-to-know) incident: who may see it and when the
    /// breach notice is due. Added in schema 1 as an optional field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restricted: Option<Restricted>,
}

/// What a restricted incident's export says about its access and its breach notice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Restricted {
    /// `Restricted (need to know)`.
    pub access: String,
    /// Its members (admins see it too without being members), by name.
    pub members: Vec<String>,
    /// When the personal-data breach notice is due: 72 hours from detection (GDPR).
    pub breach_notice_due: DateTime<Utc>,
    /// Whether that was already past at the incident's last event. From the log alone, so
    /// exporting later gives the same file: compare `breach_notice_due` with your clock.
    pub breach_notice_passed: bool,
}

/// The words the export uses for a restricted incident.
pub const RESTRICTED_LABEL: &str = "Restricted (need to know)";

/// The access section of `inc`'s export; `None` when it is not restricted.
pub fn restricted(inc: &Incident) -> Option<Restricted> {
    let due = inc.breach_notice_due()?;
    Some(Restricted {
        access: RESTRICTED_LABEL.to_string(),
        members: inc.members.keys().cloned().collect(),
        breach_notice_due: due,
        breach_notice_passed: inc.updated_at >= due,
    })
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
        restricted: restricted(inc),
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
            kind_name(e.kind),
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
                kind_name(e.kind)
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Command, Severity, State};

    fn at(min: i64) -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 3, 14, 2, 0, 0).unwrap()
            + Duration::minutes(min)
    }

    /// Decides and folds `cmd` as `actor` at minute `min`; returns the events.
    fn run(s: &mut State, log: &mut Vec<Event>, actor: &str, min: i64, cmd: Command) {
        for kind in s.decide(actor, at(min), &cmd).expect("decided") {
            let ev = Event {
                seq: s.seq + 1,
                at: at(min),
                actor: actor.into(),
                kind,
            };
            s.apply(&ev).expect("folds");
            log.push(ev);
        }
    }

    fn declare(restricted: bool) -> Command {
        Command::Declare {
            title: "Leaked credentials in the public bucket".into(),
            severity: Severity::Sev1,
            service: Some("storage".into()),
            restricted,
        }
    }

    #[test]
    fn a_restricted_export_names_its_members_and_the_breach_deadline() {
        let mut s = State::default();
        let mut log = Vec::new();
        run(&mut s, &mut log, "ana", 0, declare(true));
        run(&mut s, &mut log, "ana", 1, declare(false));
        let r = crate::model::IncidentRef(1);
        let add = Command::AddMember {
            incident: r,
            person: "bob".into(),
        };
        run(&mut s, &mut log, "root", 2, add);
        let inc = s.incident(r).unwrap();
        let md = markdown(inc);
        assert!(
            md.contains("| Access | Restricted (need to know) |"),
            "{md}"
        );
        assert!(md.contains("| Members | ana, bob |"), "{md}");
        assert!(
            md.contains(
                "| Breach notice due | 2026-03-17 02:00 UTC (72 h after detection at \
                 2026-03-14 02:00 UTC) |"
            ),
            "{md}"
        );
        let doc = json(inc, &log);
        let access = doc.restricted.as_ref().expect("restricted section");
        assert_eq!(access.access, "Restricted (need to know)");
        assert_eq!(access.members, ["ana", "bob"]);
        assert_eq!(access.breach_notice_due, at(72 * 60));
        assert!(!access.breach_notice_passed);
        let v = serde_json::to_value(&doc).unwrap();
        assert_eq!(v["restricted"]["breach_notice_due"], "2026-03-17T02:00:00Z");

        // Still open three days later: the deadline passed before its last event.
        let note = Command::AddEntry {
            incident: r,
            entry_kind: EntryKind::Note,
            text: "regulator informed".into(),
            occurred_at: None,
            next_update_secs: None,
        };
        run(&mut s, &mut log, "ana", 73 * 60, note);
        let inc = s.incident(r).unwrap();
        assert!(json(inc, &log).restricted.unwrap().breach_notice_passed);
        assert!(
            markdown(inc).contains("; already passed at the last event, 2026-03-17 03:00 UTC |")
        );

        // An incident open to all has none of it, in either form.
        let open = s.incident(crate::model::IncidentRef(2)).unwrap();
        assert!(!markdown(open).contains("Access"));
        let v = serde_json::to_value(json(open, &log)).unwrap();
        assert!(v.get("restricted").is_none(), "{v}");
        // An export from before these fields were added still reads.
        let mut old = v.clone();
        old.as_object_mut().unwrap().remove("restricted");
        let back: JsonExport = serde_json::from_value(old).unwrap();
        assert_eq!(back.restricted, None);
    }
}
