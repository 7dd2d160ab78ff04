//! The figures as people read them: the response-time table, the weekly bars, the rate
//! lines and a heading, shared by `warroom metrics` and the console's metrics screen, and
//! the whole report as `warroom metrics` prints it.

use std::fmt::Write as _;

use super::{Metrics, Rate};
use crate::model::Severity;
use crate::report::format::{table_clock, utc_stamp};

/// `67% (2/3)`; `n/a (0/0)` when there is nothing to count.
pub fn percent(r: &Rate) -> String {
    match r.rate {
        Some(x) => format!("{:.0}% ({}/{})", x * 100.0, r.done, r.total),
        None => format!("n/a ({}/{})", r.done, r.total),
    }
}

/// The response-time table: two header lines, then one line per severity (SEV1 first),
/// 80 columns wide.
pub fn severity_table(m: &Metrics) -> Vec<String> {
    let mut head = format!("{:8}", "");
    let mut sub = format!("{:<4}{:>4}", "SEV", "n");
    for name in ["MTTD", "MTTA", "MTTM", "MTTR"] {
        head.push_str(&format!(" {name:^17}"));
        sub.push_str(&format!(" {:>8} {:>8}", "mean", "median"));
    }
    let mut out = vec![head.trim_end().to_string(), sub];
    for s in &m.severities {
        let mut line = format!("{:<4}{:>4}", s.severity.to_string(), s.incidents);
        for d in [&s.mttd, &s.mtta, &s.mttm, &s.mttr] {
            line.push_str(&format!(
                " {:>8} {:>8}",
                table_clock(d.mean_secs),
                table_clock(d.median_secs)
            ));
        }
        out.push(line);
    }
    out
}

/// The response-time table with medians only, 44 columns wide: what a terminal narrower
/// than the whole table shows.
pub fn severity_table_medians(m: &Metrics) -> Vec<String> {
    let mut head = format!("{:<4}{:>4}", "SEV", "n");
    for name in ["MTTD", "MTTA", "MTTM", "MTTR"] {
        head.push_str(&format!(" {name:>8}"));
    }
    let mut out = vec![head];
    for s in &m.severities {
        let mut line = format!("{:<4}{:>4}", s.severity.to_string(), s.incidents);
        for d in [&s.mttd, &s.mtta, &s.mttm, &s.mttr] {
            line.push_str(&format!(" {:>8}", table_clock(d.median_secs)));
        }
        out.push(line);
    }
    out
}

/// Which durations were skipped as inconsistent, for a note under the table.
pub fn inconsistent_note(m: &Metrics) -> Option<String> {
    let mut parts = Vec::new();
    for s in &m.severities {
        for (name, d) in [
            ("MTTD", &s.mttd),
            ("MTTA", &s.mtta),
            ("MTTM", &s.mttm),
            ("MTTR", &s.mttr),
        ] {
            if d.inconsistent > 0 {
                parts.push(format!("{} {name} {}", s.severity, d.inconsistent));
            }
        }
    }
    (!parts.is_empty()).then(|| {
        format!(
            "skipped (a milestone before the one it is measured from): {}",
            parts.join(", ")
        )
    })
}

/// Incidents per week as text bars, at most `bar_width` cells of `█` (one per incident
/// when they fit): `2026-W45  ███   3  SEV1 1 · SEV2 2`.
pub fn week_bars(m: &Metrics, bar_width: usize) -> Vec<String> {
    let width = bar_width.max(1);
    let max = m.weeks.iter().map(|w| w.total).max().unwrap_or(0) as usize;
    let unit = max.div_ceil(width).max(1);
    let cells = max.div_ceil(unit);
    m.weeks
        .iter()
        .map(|w| {
            let bar = "█".repeat((w.total as usize).div_ceil(unit));
            let detail: Vec<String> = Severity::ALL
                .iter()
                .filter(|&&s| w.of(s) > 0)
                .map(|&s| format!("{s} {}", w.of(s)))
                .collect();
            let line = format!(
                "{}  {bar}{} {:>3}  {}",
                w.week,
                " ".repeat(cells.saturating_sub(bar.chars().count())),
                w.total,
                detail.join(" · ")
            );
            line.trim_end().to_string()
        })
        .collect()
}

/// The post-mortem, action-item and paging lines.
pub fn rate_lines(m: &Metrics) -> Vec<String> {
    let pm = &m.postmortems;
    let waived = if pm.waived > 0 {
        format!(" ({} waived)", pm.waived)
    } else {
        String::new()
    };
    let ai = &m.action_items;
    let p = &m.pages;
    let people: Vec<String> = p
        .by_person
        .iter()
        .map(|(who, n)| format!("{who} {n}"))
        .collect();
    let shifts = match &p.schedule {
        Some(s) => format!(
            "{} page{} / {} primary shift{} of {s}",
            p.pages,
            if p.pages == 1 { "" } else { "s" },
            p.shifts,
            if p.shifts == 1 { "" } else { "s" }
        ),
        None => format!(
            "{} page{}; no on-call schedule to divide by",
            p.pages,
            if p.pages == 1 { "" } else { "s" }
        ),
    };
    let mut lines = vec![
        format!(
            "Post-mortems done (resolved SEV1/SEV2, complete or waived): {}{waived} · SEV1 {} · SEV2 {}",
            percent(&pm.overall),
            percent(&pm.sev1),
            percent(&pm.sev2)
        ),
        format!(
            "Post-mortems done within 48 h of resolution: {} · {} late · {}{} · {} not due yet",
            percent(&pm.deadline.rate),
            pm.deadline.late,
            pm.deadline.overdue,
            if pm.deadline.overdue > 0 {
                " OVERDUE"
            } else {
                " overdue"
            },
            pm.deadline.not_due
        ),
        format!(
            "Detected by monitoring {} · engineers {} · customers {} · not recorded {}; \
             customer-detected {} of those recorded",
            m.detection.monitoring,
            m.detection.engineer,
            m.detection.customer,
            m.detection.unknown,
            percent(&m.detection.customer_share)
        ),
        format!(
            "Action items done by their due date: {} · {} late · {} overdue · {} not due yet",
            percent(&ai.rate),
            ai.late,
            ai.overdue,
            ai.not_due
        ),
        format!(
            "Pages per on-call shift: {:.2} ({shifts}){} · {} off hours",
            p.per_shift,
            if people.is_empty() {
                String::new()
            } else {
                format!(" · {}", people.join(" · "))
            },
            p.off_hours
        ),
    ];
    if p.shifts_over_target > 0 {
        lines.push(format!(
            "Over the target of under {} pages a shift: {} shift{} — the alerting needs tuning, not the engineer",
            p.target_per_shift,
            p.shifts_over_target,
            if p.shifts_over_target == 1 { "" } else { "s" }
        ));
    }
    lines
}

/// The figures against the seed guide's targets, and MTTR from impact beside MTTR from
/// detection: one line each, under the table.
pub fn target_lines(m: &Metrics) -> Vec<String> {
    let target = |secs: i64| match secs {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s => format!("{}m", s / 60),
    };
    let mtta: Vec<String> = m
        .severities
        .iter()
        .filter_map(|s| {
            let t = s.mtta_target.target_secs?;
            Some(format!(
                "{} (under {}) {}",
                s.severity,
                target(t),
                percent(&s.mtta_target.within)
            ))
        })
        .collect();
    let c = &m.mttd_critical;
    let mttd = match c.target_secs {
        Some(t) => format!(
            "MTTD on critical services: median {} (n {}), target under {}: {} within",
            table_clock(c.durations.median_secs).trim(),
            c.durations.count,
            target(t),
            percent(&c.within)
        ),
        None => "MTTD on critical services: no target".to_string(),
    };
    let from_impact: Vec<String> = m
        .severities
        .iter()
        .filter(|s| s.mttr_from_impact.count > 0)
        .map(|s| {
            format!(
                "{} {}",
                s.severity,
                table_clock(s.mttr_from_impact.median_secs).trim()
            )
        })
        .collect();
    vec![
        format!("MTTA within the response target: {}", mtta.join(" · ")),
        mttd,
        format!(
            "MTTR is from detection (no target: tracked per severity); from impact start, median: {}",
            if from_impact.is_empty() {
                "-".to_string()
            } else {
                from_impact.join(" · ")
            }
        ),
    ]
}

/// What the period covers, in one line.
pub fn heading(m: &Metrics) -> String {
    let since = match m.since {
        Some(s) => format!("declared since {}", s.format("%Y-%m-%d")),
        None => "all time".to_string(),
    };
    format!(
        "{} incident{} ({since}), as of {}",
        m.incidents,
        if m.incidents == 1 { "" } else { "s" },
        utc_stamp(m.generated_at)
    )
}

/// The whole report as text (what `warroom metrics` prints).
pub fn text(m: &Metrics) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", heading(m));
    out.push('\n');
    for l in severity_table(m) {
        let _ = writeln!(out, "{l}");
    }
    if let Some(note) = inconsistent_note(m) {
        let _ = writeln!(out, "{note}");
    }
    out.push('\n');
    for l in target_lines(m) {
        let _ = writeln!(out, "{l}");
    }
    out.push('\n');
    let _ = writeln!(out, "Incidents per week");
    let bars = week_bars(m, 40);
    if bars.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for l in bars {
        let _ = writeln!(out, "{l}");
    }
    out.push('\n');
    for l in rate_lines(m) {
        let _ = writeln!(out, "{l}");
    }
    out
}
