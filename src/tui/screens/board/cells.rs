//! The board's loud cells: where each incident stands against its response target (how
//! long since detection with no acknowledgement, the target missed) and its escalation (who
//! was paged, the next step), in shorter and shorter words, the longest that fits; the
//! status-update countdown; who commands it. How loud each is follows how late it is and how
//! severe: a SEV1 past its target is the loudest thing on screen, a SEV3 with most of its hour
//! left is quiet. Everything is as of the app's clock.

use ratatui::style::Style;
use ratatui::text::Span;

use crate::model::escalation::StopReason;
use crate::model::{Incident, Milestone, Response, Severity};
use crate::report::format::{clean, countdown, span};
use crate::tui::app::App;
use crate::tui::screens::room::escalation::{expects_answer, fired_verb, pending_name};
use crate::tui::text::{hhmm, secs_until};
use crate::tui::theme::Theme;

/// Variants of a cell, most detailed first.
pub type Variants = Vec<Vec<Span<'static>>>;

/// How loud an incident's wait for an acknowledgement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    /// Nothing owed soon (a SEV3 with most of its hour left, a SEV4).
    Quiet,
    /// The target is near (a SEV1 is always near), or an acknowledgement lapsed.
    Due,
    /// The target passed (SEV3).
    Overdue,
    /// The target of a SEV1 or SEV2 passed.
    Critical,
}

impl Urgency {
    /// Of an active, unacknowledged incident, as of `now`.
    pub fn of(inc: &Incident, now: chrono::DateTime<chrono::Utc>) -> Urgency {
        if !inc.is_active() || inc.is_acknowledged() {
            return Urgency::Quiet;
        }
        match inc.response(now) {
            Response::Waiting { left_secs, .. } if left_secs < 0 => {
                if matches!(inc.severity, Severity::Sev1 | Severity::Sev2) {
                    Urgency::Critical
                } else {
                    Urgency::Overdue
                }
            }
            Response::Waiting {
                target_mins,
                left_secs,
                ..
            } => {
                if inc.severity == Severity::Sev1 || left_secs * 3 <= i64::from(target_mins) * 60 {
                    Urgency::Due
                } else {
                    Urgency::Quiet
                }
            }
            // Acknowledged once, the acknowledgement lapsed: wanted again.
            Response::Met { .. } | Response::Missed { .. } => Urgency::Due,
            Response::NoTarget | Response::NeverAcknowledged { .. } => Urgency::Quiet,
        }
    }

    pub fn style(self, theme: &Theme) -> Style {
        match self {
            Urgency::Quiet => theme.muted,
            Urgency::Due => theme.timer_due,
            Urgency::Overdue => theme.timer_overdue,
            Urgency::Critical => theme.timer_critical,
        }
    }
}

/// `style` as it should look in a selected row drawn with `selected`: its own colours win
/// over the bar's, and the bar's modifiers it does not have (reverse video, in the
/// high-contrast theme) are taken off, so a SEV1 badge stays white on red under the bar.
pub fn keep_under(selected: Style, style: Style) -> Style {
    style.remove_modifier(selected.add_modifier - style.add_modifier)
}

/// The IC cell: the incident commander, or `no IC`, loud on a SEV1 or SEV2 and quiet on a
/// SEV4.
pub fn ic_span(theme: &Theme, inc: &Incident, base: Style) -> Span<'static> {
    match inc.roles.get(&crate::model::Role::IncidentCommander) {
        Some(p) => Span::styled(clean(p), base),
        None if !inc.is_active() => Span::styled("—", theme.muted),
        None => Span::styled("no IC", no_ic_style(theme, inc.severity)),
    }
}

/// How loud a missing incident commander is, by severity.
pub fn no_ic_style(theme: &Theme, sev: Severity) -> Style {
    match sev {
        Severity::Sev1 | Severity::Sev2 => theme.no_ic,
        Severity::Sev3 => theme.timer_due,
        Severity::Sev4 => theme.muted,
    }
}

/// The wait for an acknowledgement: `NO ACK 7:00 · 5m target missed` (with `by` the
/// amount it was missed by), shorter forms after. Empty when acknowledged.
fn response_variants(app: &App, theme: &Theme, inc: &Incident, by: bool) -> Variants {
    if inc.is_acknowledged() || !inc.is_active() {
        return Vec::new();
    }
    let style = Urgency::of(inc, app.now).style(theme);
    let one = |s: String| vec![Span::styled(s, style)];
    match inc.response(app.now) {
        Response::Waiting {
            target_mins,
            waited_secs,
            left_secs,
        } if left_secs < 0 => {
            let waited = countdown(waited_secs);
            let missed = if by {
                format!(" by {}", countdown(-left_secs))
            } else {
                String::new()
            };
            vec![
                one(format!(
                    "NO ACK {waited} · {target_mins}m target missed{missed}"
                )),
                one(format!("NO ACK {waited} >{target_mins}m")),
                one(format!("NO ACK >{target_mins}m")),
            ]
        }
        Response::Waiting {
            waited_secs,
            left_secs,
            ..
        } => {
            let (waited, left) = (countdown(waited_secs), countdown(left_secs));
            vec![
                one(format!("no ack {waited}, due in {left}")),
                one(format!("no ack {waited}, {left} left")),
                one(format!("ack due {left}")),
            ]
        }
        Response::Met { .. } | Response::Missed { .. } => vec![one("ack lapsed".into())],
        Response::NoTarget | Response::NeverAcknowledged { .. } => vec![one("no ack".into())],
    }
}

/// The escalation run of an unacknowledged incident: whom it paged and what is next
/// (`paged marco · next: dana in 3:00`), shorter forms after. Empty when there is none.
fn run_variants(app: &App, theme: &Theme, inc: &Incident) -> Variants {
    let Some(esc) = &inc.escalation else {
        return Vec::new();
    };
    let now = app.now;
    if let Some(stop) = &esc.stopped {
        return match stop.reason {
            StopReason::Exhausted if expects_answer(esc) => vec![
                vec![Span::styled("escalation ended", theme.timer_overdue)],
                vec![Span::styled("ENDED", theme.timer_overdue)],
            ],
            StopReason::Exhausted => esc
                .last_paged()
                .map(|f| vec![vec![Span::styled(fired_verb(f), theme.muted)]])
                .unwrap_or_default(),
            StopReason::Lowered => vec![
                vec![Span::styled("paging stopped (lowered)", theme.muted)],
                vec![Span::styled("not paging", theme.muted)],
            ],
            StopReason::Acknowledged => {
                vec![vec![Span::styled("escalating again", theme.timer_due)]]
            }
            StopReason::Raised | StopReason::Resolved => Vec::new(),
        };
    }
    let next = esc.next().map(|p| {
        let left = secs_until(p.due_at, now);
        let name = pending_name(&p);
        let when = if left > 0 {
            format!("in {}", countdown(left))
        } else {
            "due now".to_string()
        };
        (name, when)
    });
    match (esc.last_paged(), next) {
        (Some(f), Some((name, when))) => vec![
            vec![
                Span::styled(fired_verb(f), theme.text),
                Span::styled(" · ", theme.muted),
                Span::styled(format!("next: {name} {when}"), theme.timer_due),
            ],
            vec![Span::styled(fired_verb(f), theme.text)],
        ],
        (Some(f), None) => vec![vec![Span::styled(fired_verb(f), theme.text)]],
        (None, Some((name, when))) => vec![
            vec![Span::styled(
                format!("next: {name} {when}"),
                theme.timer_due,
            )],
            vec![Span::styled(format!("page {when}"), theme.timer_due)],
        ],
        (None, None) => Vec::new(),
    }
}

/// `a · b`, the parts joined by a muted dot.
fn joined(parts: &[&Vec<Span<'static>>], theme: &Theme) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    for p in parts.iter().filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push(Span::styled(" · ", theme.muted));
        }
        out.extend(p.iter().cloned());
    }
    out
}

/// The ESCALATION cell of an active incident, most detailed first: the acknowledgement
/// (`✓ ack priya 02:01`), or the wait for one and the run that pages for it.
pub fn escalation_variants(app: &App, theme: &Theme, inc: &Incident) -> Variants {
    if !inc.is_active() {
        return postmortem_variants(app, theme, inc);
    }
    if let Some(by) = &inc.acknowledged_by {
        let by = clean(by);
        let at = inc
            .acknowledged_at
            .or_else(|| inc.milestones.get(&Milestone::Acknowledged).copied())
            .map(|t| format!(" {}", hhmm(&app.tz, t)))
            .unwrap_or_default();
        return vec![
            vec![Span::styled(format!("✓ ack {by}{at}"), theme.acked)],
            vec![Span::styled(format!("✓ {by}{at}"), theme.acked)],
            vec![Span::styled(format!("✓ {by}"), theme.acked)],
            vec![Span::styled("✓", theme.acked)],
        ];
    }
    let resp = response_variants(app, theme, inc, false);
    let run = run_variants(app, theme, inc);
    let mut out = Vec::new();
    if let Some(r0) = resp.first() {
        for e in &run {
            out.push(joined(&[r0, e], theme));
        }
    }
    out.extend(resp);
    out
}

/// The selected incident's escalation spelt out under a narrow board: everything the
/// cells had to shorten, the status-update countdown too, as much as fits.
pub fn footer_variants(app: &App, theme: &Theme, inc: &Incident) -> Variants {
    let resp = if inc.is_acknowledged() {
        escalation_variants(app, theme, inc)
            .into_iter()
            .take(1)
            .collect()
    } else {
        response_variants(app, theme, inc, true)
    };
    let run = if inc.is_acknowledged() {
        Vec::new()
    } else {
        run_variants(app, theme, inc)
    };
    let upd = update_variants(app, theme, inc);
    let none = Vec::new();
    let mut out = Vec::new();
    for r in resp.iter().take(1) {
        for e in run.iter().chain([&none]) {
            for u in upd.iter().take(1).chain([&none]) {
                out.push(joined(&[r, e, u], theme));
            }
        }
    }
    if resp.is_empty() {
        out.extend(upd.iter().take(1).cloned());
    }
    out.extend(resp.into_iter().skip(1));
    out.retain(|v| !v.is_empty());
    out
}

/// The status-update countdown, most detailed first; empty when no cadence applies.
pub fn update_variants(app: &App, theme: &Theme, inc: &Incident) -> Variants {
    let Some(due) = inc.next_update_due() else {
        return Vec::new();
    };
    let left = secs_until(due, app.now);
    if left >= 0 {
        let style = if left <= 300 {
            theme.timer_due
        } else {
            theme.timer_ok
        };
        let t = countdown(left);
        vec![
            vec![Span::styled(format!("update in {t}"), style)],
            vec![Span::styled(format!("upd {t}"), style)],
        ]
    } else {
        let t = countdown(-left);
        vec![
            vec![Span::styled(
                format!("UPDATE OVERDUE {t}"),
                theme.timer_overdue,
            )],
            vec![Span::styled(format!("OVERDUE {t}"), theme.timer_overdue)],
            vec![Span::styled(format!("LATE {t}"), theme.timer_overdue)],
        ]
    }
}

/// A resolved incident's post-mortem countdown (due 48 hours after resolution), loud once
/// overdue; empty when it is done, waived or not owed.
pub fn postmortem_variants(app: &App, theme: &Theme, inc: &Incident) -> Variants {
    let Some(due) = inc.postmortem_owed_by() else {
        return Vec::new();
    };
    let left = secs_until(due, app.now);
    if left >= 0 {
        let style = if left <= 6 * 3600 {
            theme.timer_due
        } else {
            theme.timer_ok
        };
        let t = span(left);
        vec![
            vec![Span::styled(format!("post-mortem due in {t}"), style)],
            vec![Span::styled(format!("PM due in {t}"), style)],
            vec![Span::styled(format!("PM {t}"), style)],
        ]
    } else {
        let t = span(-left);
        vec![
            vec![Span::styled(
                format!("POST-MORTEM OVERDUE {t}"),
                theme.timer_overdue,
            )],
            vec![Span::styled(format!("PM OVERDUE {t}"), theme.timer_overdue)],
            vec![Span::styled(format!("PM LATE {t}"), theme.timer_overdue)],
        ]
    }
}

/// The board's title note on the post-mortems owed by incidents it no longer shows (the
/// resolved ones of the live window): how many, the next one due, loud when one is overdue.
pub fn postmortems_owed(app: &App, theme: &Theme) -> Vec<Span<'static>> {
    let mut due: Vec<chrono::DateTime<chrono::Utc>> = app
        .replica
        .state
        .incidents
        .values()
        .filter_map(|i| i.postmortem_owed_by())
        .collect();
    due.sort();
    let overdue = due.iter().filter(|d| **d < app.now).count();
    let mut out = Vec::new();
    if overdue > 0 {
        let worst = span(secs_until(due[0], app.now));
        let word = if overdue == 1 {
            "POST-MORTEM"
        } else {
            "POST-MORTEMS"
        };
        out.push(Span::styled(
            format!(" · {overdue} {word} OVERDUE (by {worst})"),
            theme.timer_overdue,
        ));
    }
    if let Some(next) = due.iter().find(|d| **d >= app.now) {
        let n = due.len() - overdue;
        let word = if n == 1 {
            "post-mortem"
        } else {
            "post-mortems"
        };
        let left = secs_until(*next, app.now);
        let style = if left <= 6 * 3600 {
            theme.timer_due
        } else {
            theme.timer_ok
        };
        out.push(Span::styled(
            format!(" · {n} {word} due, next in {}", span(left)),
            style,
        ));
    }
    out
}
