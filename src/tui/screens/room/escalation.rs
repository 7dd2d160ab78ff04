//! The escalation and status-update state of an incident, as of the app's clock: the
//! board's ESCALATION and STATUS UPDATE cells (in shorter and shorter words, the longest
//! that fits), and the room's escalation panel (the policy and where the run is, the last
//! page or the acknowledgement, the next step with its countdown, every step of the round,
//! the status-update cadence, and for a restricted incident its breach-notice deadline).
//! Countdowns are computed from event timestamps and `app.now`; nothing here reads a clock.

use ratatui::text::{Line, Span};

use crate::model::escalation::{Escalation, FiredStep, Pending, StopReason};
use crate::model::{Incident, Milestone, StepAction};
use crate::report::format::{clean, countdown};
use crate::tui::app::App;
use crate::tui::text::{fit, hhmm, period, secs_since, secs_until};
use crate::tui::theme::Theme;

/// Whom a pending step will reach: the person forecast when the run started, else its target.
pub(crate) fn pending_name(p: &Pending) -> String {
    clean(p.expected.as_deref().unwrap_or(&p.target))
}

/// What a fired step did: `paged priya`, `notified omar`, `ticket in backlog`, `skipped`.
pub(crate) fn fired_verb(f: &FiredStep) -> String {
    match (&f.person, f.action) {
        (None, _) => format!("skipped {}", clean(&f.target)),
        (Some(p), StepAction::Ticket) => format!("ticket in {}", clean(p)),
        (Some(p), StepAction::Page) => format!("paged {}", clean(p)),
        (Some(p), StepAction::Notify) => format!("notified {}", clean(p)),
    }
}

/// A plan that expects a person to answer (pages or notifications, not only tickets).
pub(crate) fn expects_answer(esc: &Escalation) -> bool {
    esc.plan
        .steps
        .iter()
        .any(|s| s.action != StepAction::Ticket)
}

/// The breach-notification deadline of a restricted incident, as of `app.now`: due when and
/// in how long, loud once it has passed (while the incident is active). Empty otherwise.
fn breach_variants(app: &App, theme: &Theme, inc: &Incident) -> Vec<Vec<Span<'static>>> {
    let Some(due) = inc.breach_notice_due() else {
        return Vec::new();
    };
    let hours = crate::model::access::BREACH_NOTICE_HOURS;
    let when = due.with_timezone(&app.tz).format("%a %H:%M").to_string();
    let left = secs_until(due, app.now);
    if !inc.is_active() {
        let was = if left >= 0 { "due" } else { "was due" };
        return vec![
            vec![Span::styled(
                format!("breach notice (GDPR {hours} h) {was} {when}"),
                theme.muted,
            )],
            vec![Span::styled(format!("notice {was} {when}"), theme.muted)],
        ];
    }
    if left >= 0 {
        let style = if left <= 24 * 3600 {
            theme.timer_due
        } else {
            theme.timer_ok
        };
        let t = countdown(left);
        vec![
            vec![Span::styled(
                format!("breach notice (GDPR {hours} h) due {when}, in {t}"),
                style,
            )],
            vec![Span::styled(
                format!("breach notice due {when}, in {t}"),
                style,
            )],
            vec![Span::styled(format!("notice in {t}"), style)],
        ]
    } else {
        let t = countdown(-left);
        vec![
            vec![Span::styled(
                format!("BREACH NOTICE OVERDUE {t} (GDPR {hours} h, was due {when})"),
                theme.timer_overdue,
            )],
            vec![Span::styled(
                format!("BREACH NOTICE OVERDUE {t}"),
                theme.timer_overdue,
            )],
            vec![Span::styled(
                format!("NOTICE LATE {t}"),
                theme.timer_overdue,
            )],
        ]
    }
}

/// The room's line for a restricted incident: need to know, the breach-notice deadline
/// (first: it is what must not be missed), and the members, as many as fit.
fn restricted_line(app: &App, theme: &Theme, inc: &Incident, width: u16) -> Line<'static> {
    let head = || {
        vec![
            Span::styled(" RESTRICTED ", theme.restricted),
            Span::styled(" need to know", theme.text),
        ]
    };
    let names: Vec<String> = inc.members.keys().map(|m| clean(m)).collect();
    let members = |shown: usize| -> String {
        if names.is_empty() {
            return "members: none (admins only)".to_string();
        }
        let mut s = format!("members: {}", names[..shown.min(names.len())].join(", "));
        if names.len() > shown {
            s.push_str(&format!(", +{} (:member lists them)", names.len() - shown));
        }
        s
    };
    let breach = breach_variants(app, theme, inc);
    let mut variants = Vec::new();
    let member_forms = [
        Some(members(names.len())),
        (names.len() > 3).then(|| members(3)),
        Some(format!("{} members", names.len())),
    ];
    for b in breach.iter().take(1) {
        for m in member_forms.iter().flatten() {
            let mut v = head();
            v.push(Span::styled(" · ", theme.muted));
            v.extend(b.iter().cloned());
            v.push(Span::styled(format!(" · {m}"), theme.muted));
            variants.push(v);
        }
    }
    // Then the deadline alone, in shorter and shorter words.
    for b in &breach {
        let mut v = head();
        v.push(Span::styled(" · ", theme.muted));
        v.extend(b.iter().cloned());
        variants.push(v);
    }
    if breach.is_empty() {
        for m in member_forms.iter().flatten() {
            let mut v = head();
            v.push(Span::styled(format!(" · {m}"), theme.muted));
            variants.push(v);
        }
    }
    fit(variants, width)
}

/// The room's escalation panel: the policy and where the run is, the last page or the
/// acknowledgement, the next step with its countdown, every step of the round, and the
/// status-update cadence.
pub fn escalation_panel(
    app: &App,
    theme: &Theme,
    inc: &Incident,
    width: u16,
) -> Vec<Line<'static>> {
    let now = app.now;
    let mut lines = Vec::new();
    if inc.restricted {
        lines.push(restricted_line(app, theme, inc, width));
    }
    if let Some(esc) = &inc.escalation {
        let n = esc.plan.steps.len();
        let next = esc.next();
        // The round the steps line shows: the one the next step is in, else the last.
        let round = match (&next, esc.fired.last()) {
            (Some(p), _) => p.round,
            (None, Some(f)) => f.round,
            (None, None) => 0,
        };
        let rounds = if esc.plan.repeat > 0 {
            format!(" of {}", esc.plan.repeat + 1)
        } else {
            String::new()
        };
        // Where the run is: the last step that fired (the next one is on the third line).
        let at = match esc.fired.last() {
            Some(f) => format!(
                "step {} of {n} · round {}{rounds}",
                (f.step + 1).min(n as u32),
                f.round + 1
            ),
            None => format!("no step fired yet ({n} steps)"),
        };
        // Over, the line is a summary: when it started is on the timeline.
        let started = if inc.is_active() {
            format!(" · started {}", hhmm(&app.tz, esc.started_at))
        } else {
            String::new()
        };
        let mut l1 = vec![
            Span::styled(" Escalation ", theme.title),
            Span::styled(
                format!(" {} policy · {at}{started}", esc.plan.severity),
                theme.text,
            ),
        ];
        if let Some(stop) = &esc.stopped {
            let why = match stop.reason {
                StopReason::Acknowledged => "acknowledged",
                StopReason::Resolved => "resolved",
                StopReason::Raised => "severity raised",
                StopReason::Lowered => "severity lowered",
                StopReason::Exhausted => "every step fired",
            };
            l1.push(Span::styled(
                format!(" · stopped {}: {why}", hhmm(&app.tz, stop.at)),
                theme.muted,
            ));
        }
        lines.push(Line::from(l1));
        if !inc.is_active() {
            // Over: the summary line says how it ended; the timeline keeps the rest.
            return lines;
        }

        // The last page, and whether anybody answered.
        let last = esc.last_paged().map(|f| {
            let target = if f.person.as_deref() == Some(f.target.as_str()) {
                String::new()
            } else {
                format!(" ({})", clean(&f.target))
            };
            (format!("{}{target}", fired_verb(f)), f)
        });
        let l2 = match (&inc.acknowledged_by, &esc.stopped) {
            (Some(by), _) => {
                let at = inc.milestones.get(&Milestone::Acknowledged);
                let mut v = vec![Span::styled(
                    format!(
                        "  acknowledged by {}{}",
                        clean(by),
                        at.map(|t| format!(" at {}", hhmm(&app.tz, *t)))
                            .unwrap_or_default()
                    ),
                    theme.acked,
                )];
                if let Some(t) = at {
                    v.push(Span::styled(
                        format!(
                            " ({} after declaration)",
                            countdown(secs_since(inc.declared_at, *t))
                        ),
                        theme.muted,
                    ));
                }
                if let Some((what, f)) = &last {
                    v.push(Span::styled(
                        format!(" · last {what} at {}", hhmm(&app.tz, f.at)),
                        theme.muted,
                    ));
                }
                v
            }
            (None, Some(stop))
                if stop.reason == StopReason::Exhausted
                    && expects_answer(esc)
                    && inc.is_active() =>
            {
                let mut v = vec![Span::styled(
                    format!("  escalation ended at {}, no ack", hhmm(&app.tz, stop.at)),
                    theme.timer_overdue,
                )];
                if let Some((what, f)) = &last {
                    v.push(Span::styled(
                        format!(
                            " · last {what} at {}, {} ago",
                            hhmm(&app.tz, f.at),
                            countdown(secs_since(f.at, now))
                        ),
                        theme.unacked,
                    ));
                }
                v
            }
            (None, stop) => match &last {
                Some((what, f)) if inc.is_active() => vec![Span::styled(
                    format!(
                        "  {what} at {}, no ack {}",
                        hhmm(&app.tz, f.at),
                        countdown(secs_since(f.at, now))
                    ),
                    theme.unacked,
                )],
                Some((what, f)) => vec![Span::styled(
                    format!("  last {what} at {}", hhmm(&app.tz, f.at)),
                    theme.muted,
                )],
                None if stop.is_none() && esc.fired.is_empty() => {
                    vec![Span::styled("  nobody paged yet", theme.timer_due)]
                }
                None => vec![Span::styled(
                    "  nobody reached: every step so far was skipped",
                    theme.unacked,
                )],
            },
        };
        lines.push(Line::from(l2));

        // What happens next.
        let l3 = match &next {
            Some(p) => {
                let left = secs_until(p.due_at, now);
                let when = if left > 0 {
                    format!("in {}", countdown(left))
                } else {
                    "due now".to_string()
                };
                let verb = match p.action {
                    StepAction::Page => "page",
                    StepAction::Notify => "notify",
                    StepAction::Ticket => "ticket to",
                };
                let round = if p.round > 0 {
                    format!(", round {}", p.round + 1)
                } else {
                    String::new()
                };
                vec![
                    Span::styled(
                        format!("  next: {} {when}", pending_name(p)),
                        if left > 60 {
                            theme.timer_due
                        } else {
                            theme.timer_overdue
                        },
                    ),
                    Span::styled(
                        format!(
                            " · {verb} {} (step {} of {n}{round})",
                            clean(&p.target),
                            p.step + 1
                        ),
                        theme.muted,
                    ),
                ]
            }
            None => {
                let mut v = vec![Span::styled("  no further pages", theme.muted)];
                if let (Some(stop), Some(t)) = (&esc.stopped, esc.plan.ack_timeout_secs)
                    && stop.reason == StopReason::Acknowledged
                    && inc.is_acknowledged()
                    && inc.is_active()
                    && inc.last_progress_at <= stop.at
                {
                    let lapse = stop.at + crate::model::escalation::secs(t);
                    v.push(Span::styled(
                        format!(
                            " · the ack lapses in {} unless someone records progress",
                            countdown(secs_until(lapse, now).max(0))
                        ),
                        theme.timer_due,
                    ));
                }
                v
            }
        };
        lines.push(Line::from(l3));

        // Every step of the round: fired, skipped, late, next, still to come.
        let mut l4 = vec![Span::styled("  steps", theme.muted)];
        for (i, planned) in esc.plan.steps.iter().enumerate() {
            l4.push(Span::styled(if i == 0 { " " } else { " · " }, theme.muted));
            let fired = esc
                .fired
                .iter()
                .find(|f| f.round == round && f.step as usize == i);
            match fired {
                Some(f) if f.person.is_none() => l4.push(Span::styled(
                    format!("{} skipped ({}: nobody on call)", i + 1, clean(&f.target)),
                    theme.timer_due,
                )),
                Some(f) => {
                    l4.push(Span::styled(
                        format!("{} {}", i + 1, fired_verb(f)),
                        theme.text,
                    ));
                    if f.late {
                        l4.push(Span::styled(
                            format!(" (late {})", countdown(secs_since(f.due_at, f.at))),
                            theme.timer_due,
                        ));
                    }
                }
                None => {
                    let name = clean(planned.expected.as_deref().unwrap_or(&planned.target));
                    let is_next = next
                        .as_ref()
                        .is_some_and(|p| p.round == round && p.step as usize == i);
                    if is_next {
                        l4.push(Span::styled(format!("{} {name} ◂ next", i + 1), theme.key));
                    } else {
                        l4.push(Span::styled(format!("{} {name}", i + 1), theme.muted));
                    }
                }
            }
        }
        lines.push(Line::from(l4));
    }
    if let (Some(every), Some(due)) = (inc.update_every_secs, inc.next_update_due())
        && inc.is_active()
    {
        let left = secs_until(due, now);
        let last = match inc.last_status_update {
            Some(t) => format!("last at {}", hhmm(&app.tz, t)),
            None => "none yet".to_string(),
        };
        let head = Span::styled(" Status updates ", theme.title);
        let line = if left >= 0 {
            Line::from(vec![
                head,
                Span::styled(
                    format!(" every {} · next due in {}", period(every), countdown(left)),
                    if left <= 300 {
                        theme.timer_due
                    } else {
                        theme.timer_ok
                    },
                ),
                Span::styled(format!(" · {last} · :update writes one"), theme.muted),
            ])
        } else {
            Line::from(vec![
                head,
                Span::styled(
                    format!(" STATUS UPDATE OVERDUE {}", countdown(-left)),
                    theme.timer_overdue,
                ),
                Span::styled(
                    format!(
                        " · due every {} · {last} · :update writes one",
                        period(every)
                    ),
                    theme.muted,
                ),
            ])
        };
        lines.push(line);
    }
    lines
}
