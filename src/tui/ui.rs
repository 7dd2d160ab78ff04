//! Drawing. Everything here reads the state by shared reference and draws one frame; no
//! state changes happen while drawing. Only visible timeline rows are touched, so a room
//! with 100,000 entries costs what a room with forty does.

use chrono::{DateTime, Duration, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Clear, Paragraph, Row, StatefulWidget, Table, TableState, Widget,
};

use super::app::{App, Level, Mode, ROLE_ORDER, Screen};
use super::keymap::Action;
use super::palette::{COMMANDS, kind_label};
use super::scribe::PREFIXES;
use super::theme::Theme;
use crate::client::ConnState;
use crate::model::escalation::{Escalation, FiredStep, Pending, StopReason, clock_span};
use crate::model::{EntryKind, Incident, Milestone, Role, StepAction};

/// Makes text from the network safe to draw: control characters (escape sequences, bells)
/// and bidirectional overrides become visible placeholders; newlines become ⏎.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str(" ⏎ "),
            '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{FFFD}'),
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' => {
                out.push('\u{FFFD}')
            }
            c => out.push(c),
        }
    }
    out
}

/// `42s`, `14m05s`, `3h04m`, `2d03h`.
pub fn fmt_age(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

fn hhmm(app: &App, t: DateTime<Utc>) -> String {
    t.with_timezone(&app.tz).format("%H:%M:%S").to_string()
}

fn hm(app: &App, t: DateTime<Utc>) -> String {
    t.with_timezone(&app.tz).format("%H:%M").to_string()
}

const HEADER_ROWS: u16 = 3;
const DETAIL_ROWS: u16 = 2;

fn scribe_rows(height: u16) -> u16 {
    if height < 20 { 3 } else { 5 }
}

/// Timeline rows visible in a room at this terminal height (shared with the update code so
/// scrolling keeps the cursor in view).
pub fn timeline_rows(height: u16, top_rows: u16, detail: bool) -> u16 {
    let fixed =
        top_rows + HEADER_ROWS + scribe_rows(height) + 1 + 2 + if detail { DETAIL_ROWS } else { 0 };
    height.saturating_sub(fixed)
}

/// Most rows a message takes above the status line.
const MESSAGE_ROWS: usize = 4;

/// The message (flash) wrapped to the screen's width, when it is too long for the status
/// line: a refusal's full reason stays readable on a small terminal. Empty when it fits.
fn message_lines(app: &App, width: u16) -> Vec<String> {
    let Some(f) = &app.flash else {
        return Vec::new();
    };
    let text = clean(&f.text);
    if Span::raw(format!(" {text} ")).width() <= width as usize {
        return Vec::new();
    }
    let mut lines = wrap(&text, (width as usize).saturating_sub(2));
    if lines.len() > MESSAGE_ROWS {
        lines.truncate(MESSAGE_ROWS);
        if let Some(last) = lines.last_mut() {
            last.push('…');
        }
    }
    lines
}

/// Rows the message area above the status line takes at this width (shared with the
/// update code, whose timeline height depends on it).
pub fn message_rows(app: &App, width: u16) -> u16 {
    message_lines(app, width).len() as u16
}

/// Draws the whole console.
pub fn render(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let banner = !matches!(app.conn, ConnState::Live);
    let notices = app.notices.len().min(4) as u16;
    let message = message_lines(app, area.width);
    let [banner_area, notice_area, main, message_area, status] = Layout::vertical([
        Constraint::Length(banner as u16),
        Constraint::Length(notices),
        Constraint::Min(1),
        Constraint::Length(message.len() as u16),
        Constraint::Length(1),
    ])
    .areas(area);
    if let Some(f) = app.flash.as_ref().filter(|_| !message.is_empty()) {
        let style = if f.level == Level::Error {
            theme.banner_error
        } else {
            theme.banner_info
        };
        Clear.render(message_area, buf);
        Paragraph::new(
            message
                .iter()
                .map(|l| Line::from(format!(" {l} ")))
                .collect::<Vec<_>>(),
        )
        .style(style)
        .render(message_area, buf);
    }
    if banner {
        render_banner(app, theme, banner_area, buf);
    }
    if notices > 0 {
        let lines: Vec<Line> = app
            .notices
            .iter()
            .take(4)
            .map(|n| {
                Line::styled(
                    format!(" ⚠ {} (any key dismisses)", clean(n)),
                    theme.banner_error,
                )
            })
            .collect();
        Paragraph::new(lines).render(notice_area, buf);
    }
    match app.screen {
        Screen::Board => render_board(app, theme, main, buf),
        Screen::Room(r) => match app.replica.state.incident(r) {
            Some(inc) => render_room(app, theme, inc, main, buf),
            None => Paragraph::new(format!(" {}", app.not_here(r)))
                .style(theme.muted)
                .render(main, buf),
        },
        Screen::Metrics => super::metrics_view::render(app, theme, main, buf),
    }
    render_status(app, theme, status, buf);
    match app.mode {
        Mode::Runbook => render_runbook(app, theme, main, buf),
        Mode::History => super::timeline::render_history(app, theme, main, buf),
        Mode::UpdateForm => super::update_form::render(app, theme, main, buf),
        Mode::Postmortem => super::pm_editor::render(app, theme, main, buf),
        Mode::Palette => render_palette(app, theme, area, buf),
        Mode::Help => render_help(app, theme, area, buf),
        Mode::ConfirmQuit => render_confirm_quit(app, theme, area, buf),
        _ => {}
    }
}

fn render_banner(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let text = match &app.conn {
        ConnState::Connecting => format!(" connecting to {} …", app.feed),
        ConnState::Reconnecting {
            retry_at,
            reason,
            queued,
            ..
        } => {
            let secs = retry_at
                .saturating_duration_since(tokio::time::Instant::now())
                .as_secs_f64()
                .ceil() as u64;
            format!(
                " DISCONNECTED: {} — reconnecting in {secs}s · what you type is kept{}",
                clean(reason),
                if *queued > 0 {
                    format!(" · {queued} queued")
                } else {
                    String::new()
                }
            )
        }
        ConnState::Stopped { reason } => {
            format!(" OFFLINE: {} — restart warroom to reconnect", clean(reason))
        }
        ConnState::Live => String::new(),
    };
    let style = match app.conn {
        ConnState::Connecting => theme.banner_info,
        _ => theme.banner_error,
    };
    Paragraph::new(text).style(style).render(area, buf);
}

fn sev_span<'a>(theme: &Theme, inc: &Incident) -> Span<'a> {
    Span::styled(format!(" {} ", inc.severity), theme.severity(inc.severity))
}

// ---- escalation and status-update cadence, as of `app.now` ----------------------------

/// Whole seconds from `now` until `t`, rounded up, so a countdown reads 0:00 only when due.
fn secs_until(t: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let ms = (t - now).num_milliseconds();
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) > 0)
}

/// Whole seconds since `t`.
fn secs_since(t: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (now - t).num_seconds().max(0)
}

fn span_secs(s: i64) -> String {
    clock_span(Duration::seconds(s))
}

/// `15m`, `1h30m`, `45s`: how often something is owed.
fn period(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

/// Whom a pending step will reach: the person forecast when the run started, else its target.
fn pending_name(p: &Pending) -> String {
    clean(p.expected.as_deref().unwrap_or(&p.target))
}

/// What a fired step did: `paged priya`, `notified omar`, `ticket in backlog`, `skipped`.
fn fired_verb(f: &FiredStep) -> String {
    match (&f.person, f.action) {
        (None, _) => format!("skipped {}", clean(&f.target)),
        (Some(p), StepAction::Ticket) => format!("ticket in {}", clean(p)),
        (Some(p), StepAction::Page) => format!("paged {}", clean(p)),
        (Some(p), StepAction::Notify) => format!("notified {}", clean(p)),
    }
}

/// A plan that expects a person to answer (pages or notifications, not only tickets).
fn expects_answer(esc: &Escalation) -> bool {
    esc.plan
        .steps
        .iter()
        .any(|s| s.action != StepAction::Ticket)
}

/// The escalation state of an active incident, most detailed first; the board shows the
/// longest that fits. Empty when there is nothing to say (resolved incidents).
fn escalation_variants(app: &App, theme: &Theme, inc: &Incident) -> Vec<Vec<Span<'static>>> {
    if !inc.is_active() {
        return Vec::new();
    }
    let now = app.now;
    if let Some(by) = &inc.acknowledged_by {
        let by = clean(by);
        let at = inc
            .milestones
            .get(&Milestone::Acknowledged)
            .map(|t| format!(" {}", hm(app, *t)))
            .unwrap_or_default();
        return vec![
            vec![Span::styled(format!("✓ ack {by}{at}"), theme.acked)],
            vec![Span::styled(format!("✓ {by}{at}"), theme.acked)],
            vec![Span::styled(format!("✓ {by}"), theme.acked)],
            vec![Span::styled("✓", theme.acked)],
        ];
    }
    let no_ack = || {
        vec![
            vec![Span::styled("no ack", theme.unacked)],
            vec![Span::styled("no", theme.unacked)],
        ]
    };
    let Some(esc) = &inc.escalation else {
        return no_ack();
    };
    if let Some(stop) = &esc.stopped {
        return match stop.reason {
            StopReason::Exhausted if expects_answer(esc) => vec![
                vec![Span::styled(
                    "escalation ended, no ack",
                    theme.timer_overdue,
                )],
                vec![Span::styled("ENDED, no ack", theme.timer_overdue)],
                vec![Span::styled("ENDED", theme.timer_overdue)],
            ],
            StopReason::Exhausted => {
                let what = esc.last_paged().map(fired_verb).unwrap_or_default();
                vec![
                    vec![Span::styled(format!("{what}, no ack"), theme.muted)],
                    vec![Span::styled(what, theme.muted)],
                    vec![Span::styled("no ack", theme.muted)],
                ]
            }
            StopReason::Lowered => vec![
                vec![Span::styled(
                    "no ack, paging stopped (lowered)",
                    theme.unacked,
                )],
                vec![Span::styled("no ack, not paging", theme.unacked)],
                vec![Span::styled("no ack", theme.unacked)],
            ],
            StopReason::Acknowledged => vec![
                vec![Span::styled("ack lapsed, escalating again", theme.unacked)],
                vec![Span::styled("ack lapsed", theme.unacked)],
                vec![Span::styled("lapsed", theme.unacked)],
            ],
            StopReason::Raised | StopReason::Resolved => no_ack(),
        };
    }
    let next = esc.next().map(|p| {
        let left = secs_until(p.due_at, now);
        let name = pending_name(&p);
        if left > 0 {
            (
                format!("next: {name} in {}", span_secs(left)),
                name,
                span_secs(left),
            )
        } else {
            (format!("next: {name} due now"), name, "now".to_string())
        }
    });
    match (esc.last_paged(), next) {
        (Some(f), next) => {
            let since = span_secs(secs_since(f.at, now));
            let person = clean(f.person.as_deref().unwrap_or(""));
            let full = format!("{}, no ack {since}", fired_verb(f));
            let mut v = Vec::new();
            if let Some((n, _, _)) = &next {
                v.push(vec![
                    Span::styled(full.clone(), theme.unacked),
                    Span::styled(" · ", theme.muted),
                    Span::styled(n.clone(), theme.timer_due),
                ]);
            }
            v.push(vec![Span::styled(full, theme.unacked)]);
            v.push(vec![Span::styled(
                format!("{person}, no ack {since}"),
                theme.unacked,
            )]);
            v.push(vec![Span::styled(format!("no ack {since}"), theme.unacked)]);
            v
        }
        (None, Some((n, name, left))) => vec![
            vec![Span::styled(n, theme.timer_due)],
            vec![Span::styled(format!("{name} in {left}"), theme.timer_due)],
            vec![Span::styled(format!("page in {left}"), theme.timer_due)],
        ],
        (None, None) => no_ack(),
    }
}

/// The status-update countdown, most detailed first; empty when no cadence applies.
fn update_variants(app: &App, theme: &Theme, inc: &Incident) -> Vec<Vec<Span<'static>>> {
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
        let t = span_secs(left);
        vec![
            vec![Span::styled(format!("update in {t}"), style)],
            vec![Span::styled(format!("upd {t}"), style)],
        ]
    } else {
        let t = span_secs(-left);
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

/// The longest variant that fits `width` columns (the shortest when none does).
fn fit(variants: Vec<Vec<Span<'static>>>, width: u16) -> Line<'static> {
    let n = variants.len();
    for (i, v) in variants.into_iter().enumerate() {
        let line = Line::from(v);
        if line.width() <= width as usize || i + 1 == n {
            return line;
        }
    }
    Line::default()
}

/// Rows the room's escalation panel takes for this incident (shared with the update code,
/// which keeps the timeline cursor in view). Depends on the incident only, never the clock,
/// so ticking never moves the layout.
pub fn escalation_rows(inc: &Incident) -> u16 {
    let esc = if inc.escalation.is_some() { 4 } else { 0 };
    let cadence = u16::from(inc.update_every_secs.is_some() && inc.is_active());
    u16::from(inc.restricted) + esc + cadence
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
        let t = span_secs(left);
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
        let t = span_secs(-left);
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
fn escalation_panel(app: &App, theme: &Theme, inc: &Incident, width: u16) -> Vec<Line<'static>> {
    let now = app.now;
    let mut lines = Vec::new();
    if inc.restricted {
        lines.push(restricted_line(app, theme, inc, width));
    }
    if let Some(esc) = &inc.escalation {
        let n = esc.plan.steps.len();
        let next = esc.next();
        let (round, step) = match (&next, esc.fired.last()) {
            (Some(p), _) => (p.round, p.step),
            (None, Some(f)) => (f.round, f.step),
            (None, None) => (0, 0),
        };
        let rounds = if esc.plan.repeat > 0 {
            format!(" of {}", esc.plan.repeat + 1)
        } else {
            String::new()
        };
        let mut l1 = vec![
            Span::styled(" Escalation ", theme.title),
            Span::styled(
                format!(
                    " {} policy · step {} of {n} · round {}{rounds} · started {}",
                    esc.plan.severity,
                    (step + 1).min(n as u32),
                    round + 1,
                    hm(app, esc.started_at)
                ),
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
                format!(" · stopped {}: {why}", hm(app, stop.at)),
                theme.muted,
            ));
        }
        lines.push(Line::from(l1));

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
                        at.map(|t| format!(" at {}", hm(app, *t)))
                            .unwrap_or_default()
                    ),
                    theme.acked,
                )];
                if let Some(t) = at {
                    v.push(Span::styled(
                        format!(
                            " ({} after declaration)",
                            span_secs(secs_since(inc.declared_at, *t))
                        ),
                        theme.muted,
                    ));
                }
                if let Some((what, f)) = &last {
                    v.push(Span::styled(
                        format!(" · last {what} at {}", hm(app, f.at)),
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
                    format!("  escalation ended at {}, no ack", hm(app, stop.at)),
                    theme.timer_overdue,
                )];
                if let Some((what, f)) = &last {
                    v.push(Span::styled(
                        format!(
                            " · last {what} at {}, {} ago",
                            hm(app, f.at),
                            span_secs(secs_since(f.at, now))
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
                        hm(app, f.at),
                        span_secs(secs_since(f.at, now))
                    ),
                    theme.unacked,
                )],
                Some((what, f)) => vec![Span::styled(
                    format!("  last {what} at {}", hm(app, f.at)),
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
                    format!("in {}", span_secs(left))
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
                            span_secs(secs_until(lapse, now).max(0))
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
                            format!(" (late {})", span_secs(secs_since(f.due_at, f.at))),
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
            Some(t) => format!("last at {}", hm(app, t)),
            None => "none yet".to_string(),
        };
        let head = Span::styled(" Status updates ", theme.title);
        let line = if left >= 0 {
            Line::from(vec![
                head,
                Span::styled(
                    format!(" every {} · next due in {}", period(every), span_secs(left)),
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
                    format!(" STATUS UPDATE OVERDUE {}", span_secs(-left)),
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

/// Which optional board columns fit, and how wide the escalation column is.
struct BoardColumns {
    service: bool,
    update: bool,
    escalation: u16,
    /// What is left for the title.
    title: u16,
}

const ESC_NARROW: u16 = 13;
const ESC_MEDIUM: u16 = 26;
const ESC_WIDE: u16 = 46;
const UPDATE_W: u16 = 19;

impl BoardColumns {
    /// Columns are added while the title keeps at least 20 columns: the service (as before,
    /// from 100 columns), then the update countdown, then a wider escalation column.
    fn for_width(w: u16) -> BoardColumns {
        const MIN_TITLE: u16 = 20;
        // Highlight symbol, REF SEV STATUS AGE ESCALATION IC, and the spaces between.
        let mut used: u16 = 2 + 7 + 6 + 13 + 7 + ESC_NARROW + 10 + 6;
        let service = w >= 100;
        if service {
            used += 15;
        }
        let update = w >= used + UPDATE_W + 1 + MIN_TITLE;
        if update {
            used += UPDATE_W + 1;
        }
        let escalation = if w >= used + ESC_WIDE - ESC_NARROW + MIN_TITLE {
            ESC_WIDE
        } else if w >= used + ESC_MEDIUM - ESC_NARROW + MIN_TITLE {
            ESC_MEDIUM
        } else {
            ESC_NARROW
        };
        BoardColumns {
            service,
            update,
            escalation,
            title: w.saturating_sub(used + escalation - ESC_NARROW),
        }
    }

    /// Everything about escalation and updates is in the columns (no footer needed).
    fn complete(&self) -> bool {
        self.update && self.escalation == ESC_WIDE
    }
}

fn render_board(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let filtering = app.mode == Mode::Filter || !app.board.filter.is_empty();
    let rows = app.board_rows();
    let cols = BoardColumns::for_width(area.width);
    // Narrower boards shorten the escalation cells; the selected incident's are spelled out
    // in full under the table.
    let footer: Option<Line> = rows
        .get(app.board.selected)
        .filter(|i| !cols.complete() && (i.escalation.is_some() || i.update_every_secs.is_some()))
        .and_then(|i| {
            let mut spans = vec![Span::styled(" ▶ ", theme.muted)];
            let esc = escalation_variants(app, theme, i);
            let upd = update_variants(app, theme, i);
            if esc.is_empty() && upd.is_empty() {
                return None;
            }
            if let Some(v) = esc.into_iter().next() {
                spans.extend(v);
            }
            if let Some(v) = upd.into_iter().next() {
                spans.push(Span::styled(" · ", theme.muted));
                spans.extend(v);
            }
            Some(Line::from(spans))
        });
    let withheld = withheld_line(app, theme, area.width);
    // The withheld line sits right under the table's rows (the table takes no more than
    // its rows; it scrolls when they do not fit).
    let table_rows = if rows.is_empty() {
        Constraint::Length(2)
    } else {
        Constraint::Max(rows.len() as u16 + 1)
    };
    let [
        title,
        table_area,
        withheld_area,
        _,
        footer_area,
        filter_area,
    ] = Layout::vertical([
        Constraint::Length(1),
        table_rows,
        Constraint::Length(withheld.is_some() as u16),
        Constraint::Min(0),
        Constraint::Length(footer.is_some() as u16),
        Constraint::Length(filtering as u16),
    ])
    .areas(area);
    let active = app
        .replica
        .state
        .incidents
        .values()
        .filter(|i| i.is_active())
        .count();
    let mut head = vec![
        Span::styled(" warroom ", theme.title),
        Span::styled(format!("· {active} active"), theme.text),
    ];
    let hidden = app.hidden_resolved();
    if hidden > 0 {
        head.push(Span::styled(
            format!(
                " · {hidden} resolved hidden ({} shows)",
                app.keymap.keys(Action::ToggleResolved)
            ),
            theme.muted,
        ));
    }
    head.push(Span::styled(
        format!("   {}", app.now.with_timezone(&app.tz).format("%H:%M")),
        theme.muted,
    ));
    Paragraph::new(Line::from(head)).render(title, buf);

    if rows.is_empty() {
        let msg = if app.replica.state.incidents.is_empty() {
            if app.replica.synced && !app.replica.state.withheld.is_empty() {
                format!(
                    "\n  No incidents you may see. Declare one with {} or :declare sev2 TITLE",
                    app.keymap.keys(Action::Declare)
                )
            } else if app.replica.synced {
                format!(
                    "\n  No incidents. Declare one with {} or :declare sev2 TITLE",
                    app.keymap.keys(Action::Declare)
                )
            } else {
                "\n  Loading the incident feed…".to_string()
            }
        } else {
            "\n  Nothing matches the filter (esc clears it).".to_string()
        };
        Paragraph::new(msg)
            .style(theme.muted)
            .render(table_area, buf);
    } else {
        let now = app.now;
        let table_rows: Vec<Row> = rows
            .iter()
            .map(|i| {
                let resolved = !i.is_active();
                let age_secs = match (resolved, i.milestones.get(&Milestone::Resolved)) {
                    (true, Some(end)) => (*end - i.declared_at).num_seconds(),
                    _ => (now - i.declared_at).num_seconds(),
                };
                let base = if resolved { theme.muted } else { theme.text };
                let ic = match i.roles.get(&Role::IncidentCommander) {
                    Some(p) => Span::styled(clean(p), base),
                    None if resolved => Span::styled("—", theme.muted),
                    None => Span::styled("no IC", theme.no_ic),
                };
                let status_style = if resolved {
                    theme.status_resolved
                } else {
                    theme.status_active
                };
                let mut cells: Vec<Line> = vec![
                    Span::styled(i.reference.to_string(), base).into(),
                    sev_span(theme, i).into(),
                    Span::styled(i.status.as_str(), status_style).into(),
                    Span::styled(fmt_age(age_secs), base).into(),
                    fit(escalation_variants(app, theme, i), cols.escalation),
                    ic.into(),
                ];
                if cols.service {
                    cells
                        .push(Span::styled(clean(i.service.as_deref().unwrap_or("")), base).into());
                }
                if cols.update {
                    cells.push(fit(update_variants(app, theme, i), UPDATE_W));
                }
                let mut title = Vec::new();
                if i.restricted {
                    // The word while the title keeps 16 columns; an abbreviation below.
                    let mark = if cols.title >= 11 + 16 {
                        "RESTRICTED"
                    } else {
                        "RSTR"
                    };
                    title.push(Span::styled(mark, theme.restricted));
                    title.push(Span::raw(" "));
                }
                title.push(Span::styled(clean(&i.title), base));
                cells.push(Line::from(title));
                Row::new(cells)
            })
            .collect();
        let mut widths = vec![
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(13),
            Constraint::Length(7),
            Constraint::Length(cols.escalation),
            Constraint::Length(10),
        ];
        let mut header = vec!["REF", "SEV", "STATUS", "AGE", "ESCALATION", "IC"];
        if cols.service {
            widths.push(Constraint::Length(14));
            header.push("SERVICE");
        }
        if cols.update {
            widths.push(Constraint::Length(UPDATE_W));
            header.push("STATUS UPDATE");
        }
        widths.push(Constraint::Min(10));
        header.push("TITLE");
        let table = Table::new(table_rows, widths)
            .header(Row::new(header).style(theme.muted.add_modifier(Modifier::BOLD)))
            .row_highlight_style(theme.selected)
            .highlight_symbol("▶ ");
        let mut state = TableState::default().with_selected(Some(app.board.selected));
        StatefulWidget::render(table, table_area, buf, &mut state);
    }
    if let Some(line) = withheld {
        Paragraph::new(line).render(withheld_area, buf);
    }
    if let Some(line) = footer {
        Paragraph::new(line).render(footer_area, buf);
    }
    if filtering {
        let cursor = if app.mode == Mode::Filter { "▏" } else { "" };
        Paragraph::new(Line::from(vec![
            Span::styled(" filter: ", theme.key),
            Span::styled(format!("{}{cursor}", clean(&app.board.filter)), theme.input),
            Span::styled("   enter keeps · esc clears", theme.muted),
        ]))
        .render(filter_area, buf);
    }
}

/// The restricted incidents this person may not see: their references and nothing else
/// (the feed sends nothing else). Not a table row, so never selected or opened.
fn withheld_line(app: &App, theme: &Theme, width: u16) -> Option<Line<'static>> {
    let refs: Vec<String> = app
        .replica
        .state
        .withheld
        .iter()
        .map(|r| r.to_string())
        .collect();
    if refs.is_empty() {
        return None;
    }
    let n = refs.len();
    let what = if n == 1 {
        format!(" {n} restricted incident")
    } else {
        format!(" {n} restricted incidents")
    };
    let list = |shown: usize| {
        let mut s = refs[..shown.min(n)].join(", ");
        if n > shown {
            s.push_str(&format!(", +{} more", n - shown));
        }
        s
    };
    let variant = |list: String, tail: &str| {
        vec![
            Span::styled(what.clone(), theme.restricted),
            Span::styled(" you are not a member of: ", theme.muted),
            Span::styled(list, theme.text),
            Span::styled(tail.to_string(), theme.muted),
        ]
    };
    let mut variants = vec![
        variant(list(n), " (ask an admin to add you)"),
        variant(list(n), " (ask an admin)"),
    ];
    for shown in [8, 4, 2] {
        if n > shown {
            variants.push(variant(list(shown), " (ask an admin)"));
        }
    }
    variants.push(vec![
        Span::styled(what.clone(), theme.restricted),
        Span::styled(" not shown (need to know)", theme.muted),
    ]);
    Some(fit(variants, width))
}

/// The response-target line: met, due in, or missed.
fn target_span<'a>(app: &App, theme: &Theme, inc: &Incident) -> Span<'a> {
    let Some(mins) = inc.severity.target_response_minutes() else {
        return Span::styled(format!("{}: no response target", inc.severity), theme.muted);
    };
    let detected = inc
        .milestones
        .get(&Milestone::Detected)
        .copied()
        .unwrap_or(inc.declared_at);
    let target = chrono::Duration::minutes(mins as i64);
    match inc.milestones.get(&Milestone::Acknowledged) {
        Some(ack) => {
            let took = (*ack - detected).num_seconds();
            if *ack - detected <= target {
                Span::styled(
                    format!("target {mins}m: met (ack in {})", fmt_age(took)),
                    theme.timer_ok,
                )
            } else {
                Span::styled(
                    format!("target {mins}m: missed (ack in {})", fmt_age(took)),
                    theme.timer_overdue,
                )
            }
        }
        None if !inc.is_active() => {
            Span::styled(format!("target {mins}m: never acknowledged"), theme.muted)
        }
        None => {
            let left = (detected + target - app.now).num_seconds();
            if left >= 0 {
                Span::styled(
                    format!("target {mins}m: ack due in {}", fmt_age(left)),
                    theme.timer_due,
                )
            } else {
                Span::styled(
                    format!(
                        "target {mins}m: OVERDUE by {} — not acknowledged",
                        fmt_age(-left)
                    ),
                    theme.timer_overdue,
                )
            }
        }
    }
}

fn render_room(app: &App, theme: &Theme, inc: &Incident, area: Rect, buf: &mut Buffer) {
    let r = inc.reference;
    let view = app.room(r);
    let cursor_set = view.is_some_and(|v| v.cursor.is_some());
    let panel = escalation_rows(inc);
    let [header, panel_area, timeline, scribe] = Layout::vertical([
        Constraint::Length(HEADER_ROWS),
        Constraint::Length(panel),
        Constraint::Min(3),
        Constraint::Length(scribe_rows(app.size.1)),
    ])
    .areas(area);

    // Header: identity, timers, roles and who is here.
    let status_style = if inc.is_active() {
        theme.status_active
    } else {
        theme.status_resolved
    };
    let line1 = Line::from(vec![
        Span::styled(format!(" {r} "), theme.title),
        sev_span(theme, inc),
        Span::raw(" "),
        Span::styled(inc.status.as_str(), status_style),
        Span::raw("  "),
        Span::styled(
            if inc.restricted { "RESTRICTED" } else { "" },
            theme.restricted,
        ),
        Span::raw(if inc.restricted { "  " } else { "" }),
        Span::styled(clean(&inc.title), theme.title),
        Span::styled(
            inc.service
                .as_deref()
                .map(|s| format!("  · {}", clean(s)))
                .unwrap_or_default(),
            theme.muted,
        ),
        Span::styled(
            inc.runbook
                .as_ref()
                .map(|rb| {
                    format!(
                        "  · runbook {}/{} done ({})",
                        inc.runbook_done.len(),
                        rb.item_count(),
                        app.keymap.keys(Action::Runbook)
                    )
                })
                .unwrap_or_default(),
            theme.muted,
        ),
    ]);
    let age = match inc.milestones.get(&Milestone::Resolved) {
        Some(end) if !inc.is_active() => {
            format!("lasted {}", fmt_age((*end - inc.declared_at).num_seconds()))
        }
        _ => format!("age {}", fmt_age((app.now - inc.declared_at).num_seconds())),
    };
    let last_update = inc
        .last_status_update
        .map(|at| format!("last update {} ago", fmt_age((app.now - at).num_seconds())))
        .unwrap_or_else(|| "no status update yet".into());
    let ack = match &inc.acknowledged_by {
        Some(by) => Span::styled(format!("acked by {}", clean(by)), theme.acked),
        None => Span::styled("NOT ACKNOWLEDGED", theme.unacked),
    };
    let line2 = Line::from(vec![
        Span::styled(format!(" {age}"), theme.text),
        Span::styled(" · ", theme.muted),
        Span::styled(last_update, theme.text),
        Span::styled(" · ", theme.muted),
        target_span(app, theme, inc),
        Span::styled(" · ", theme.muted),
        ack,
    ]);
    let mut roles: Vec<Span> = vec![Span::raw(" ")];
    for role in ROLE_ORDER {
        let short = match role {
            Role::IncidentCommander => "IC",
            Role::TechLead => "Tech",
            Role::CommsLead => "Comms",
            Role::Scribe => "Scribe",
        };
        roles.push(Span::styled(format!("{short} "), theme.muted));
        match inc.roles.get(&role) {
            Some(p) => roles.push(Span::styled(clean(p), theme.text)),
            None if role == Role::IncidentCommander && inc.is_active() => {
                roles.push(Span::styled("no IC", theme.no_ic))
            }
            None => roles.push(Span::styled("vacant", theme.muted)),
        }
        roles.push(Span::styled("  ", theme.muted));
    }
    let here = app.in_room(r);
    if !here.is_empty() {
        roles.push(Span::styled("· here: ", theme.muted));
        roles.push(Span::styled(clean(&here.join(", ")), theme.presence));
    }
    Paragraph::new(vec![line1, line2, Line::from(roles)]).render(header, buf);
    if panel > 0 {
        Paragraph::new(escalation_panel(app, theme, inc, panel_area.width)).render(panel_area, buf);
    }

    // Timeline: only the visible rows.
    let focused = matches!(app.mode, Mode::Normal | Mode::Search);
    let index = app.timelines.get(&r);
    let len = index.map_or(0, |t| t.rows.len());
    let (total, tags) = super::timeline::title_parts(app, r, inc);
    let needle = view.map_or("", |v| v.search.as_str());
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if focused { theme.focus } else { theme.border })
        .title(Span::styled(
            format!(
                " Timeline · {len}{} entries{}{} ",
                total.map(|t| format!(" of {t}")).unwrap_or_default(),
                tags.iter().map(|t| format!(" · {t}")).collect::<String>(),
                if cursor_set {
                    ""
                } else {
                    " · following newest"
                }
            ),
            if focused { theme.focus } else { theme.border },
        ))
        .title_bottom(if app.mode == Mode::Search {
            Line::from(vec![
                Span::styled(" /", theme.key),
                Span::styled(format!("{}▏", clean(needle)), theme.input),
                Span::styled(" enter keeps · esc clears ", theme.muted),
            ])
        } else if !needle.is_empty() {
            Line::from(vec![
                Span::styled(format!(" /{} ", clean(needle)), theme.key),
                Span::styled("· n / N next / previous · esc clears ", theme.muted),
            ])
        } else {
            Line::styled(
                format!(
                    " {} select · {} pin · {} history · {} search · {} system · {} newest · {} write ",
                    app.keymap.keys(Action::Up),
                    app.keymap.keys(Action::Pin),
                    app.keymap.keys(Action::History),
                    app.keymap.keys(Action::Filter),
                    app.keymap.keys(Action::ToggleSystem),
                    app.keymap.keys(Action::Bottom),
                    app.keymap.keys(Action::Scribe),
                ),
                theme.muted,
            )
        });
    let inner = block.inner(timeline);
    block.render(timeline, buf);
    let detail = if cursor_set && inner.height > DETAIL_ROWS + 2 {
        DETAIL_ROWS
    } else {
        0
    };
    let [rows_area, detail_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(detail)]).areas(inner);
    let h = rows_area.height as usize;
    let offset = view.map_or(len.saturating_sub(h), |v| {
        if v.cursor.is_none() {
            len.saturating_sub(h)
        } else {
            v.offset.min(len.saturating_sub(h))
        }
    });
    let cursor = if cursor_set { app.cursor_row(r) } else { None };
    // The window can shrink under the cursor (a message took rows): keep it in sight.
    let offset = match cursor {
        Some(c) if h > 0 && c >= offset + h => c + 1 - h,
        _ => offset,
    };
    let mut lines = Vec::with_capacity(h);
    if let Some(index) = index {
        for (row, (_, id)) in index.rows.iter().enumerate().skip(offset).take(h) {
            let Some(e) = inc.entry(*id) else { continue };
            let kind_style = theme.entry_kind(e.kind);
            let mut spans = vec![
                Span::styled(format!(" {} ", hhmm(app, e.occurred_at)), theme.muted),
                if e.pinned {
                    Span::styled("★ ", theme.pinned)
                } else {
                    Span::raw("  ")
                },
                Span::styled(format!("{:<11}", kind_label(e.kind)), kind_style),
            ];
            let author = format!("{:<12} ", truncate(&clean(&e.author), 12));
            let text_style = if e.kind == EntryKind::System {
                theme.muted
            } else {
                theme.text
            };
            if needle.is_empty() {
                spans.push(Span::styled(author, theme.muted));
                spans.push(Span::styled(clean(&e.text), text_style));
            } else {
                use super::timeline::{highlight, hit_style};
                spans.extend(highlight(
                    author,
                    needle,
                    theme.muted,
                    hit_style(theme.muted),
                ));
                spans.extend(highlight(
                    clean(&e.text),
                    needle,
                    text_style,
                    hit_style(text_style),
                ));
            }
            if e.supersedes.is_some() {
                spans.push(Span::styled(" (corrected)", theme.muted));
            }
            if (e.recorded_at - e.occurred_at).num_seconds().abs() >= 60 {
                spans.push(Span::styled(
                    format!("  (logged {})", hhmm(app, e.recorded_at)),
                    theme.muted,
                ));
            }
            let mut line = Line::from(spans);
            if cursor == Some(row) {
                line = line.style(theme.selected);
            }
            lines.push(line);
        }
    }
    if len == 0 {
        lines.push(Line::styled(" nothing recorded yet", theme.muted));
    }
    Paragraph::new(lines).render(rows_area, buf);
    if detail > 0
        && let Some(e) = app.selected_entry(r).and_then(|id| inc.entry(id))
    {
        let logged = if e.recorded_at != e.occurred_at {
            format!(", logged {}", hhmm(app, e.recorded_at))
        } else {
            String::new()
        };
        let corrected = if e.supersedes.is_some() {
            format!(
                " (corrected: {} shows the history)",
                app.keymap.keys(Action::History)
            )
        } else {
            String::new()
        };
        let text = format!(
            " #{} {} by {} at {}{logged}{corrected}: {}",
            e.id,
            kind_label(e.kind),
            clean(&e.author),
            hhmm(app, e.occurred_at),
            clean(&e.text)
        );
        Paragraph::new(text)
            .style(theme.text)
            .wrap(ratatui::widgets::Wrap { trim: false })
            .block(
                Block::default()
                    .borders(Borders::TOP)
                    .border_style(theme.border),
            )
            .render(detail_area, buf);
    }

    // Scribe pane.
    let writing = app.mode == Mode::Scribe;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if writing { theme.focus } else { theme.border })
        .title(Span::styled(
            if writing {
                " Scribe · enter records · alt-enter new line · @HH:MM backdates · d: a: h: r: u: kinds · esc leaves "
                    .to_string()
            } else {
                format!(" Scribe · {} to write ", app.keymap.keys(Action::Scribe))
            },
            if writing { theme.focus } else { theme.border },
        ));
    let inner = block.inner(scribe);
    block.render(scribe, buf);
    if let Some(v) = view {
        let mut ta = v.draft.clone();
        ta.set_style(theme.input);
        ta.set_cursor_line_style(Style::default());
        if !writing {
            ta.set_cursor_style(Style::default());
        }
        ta.render(inner, buf);
    }
}

/// Word-wraps `s` into lines of at most `width` characters (longer words are cut).
fn wrap(s: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_w = 0;
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        let mut chars: Vec<char> = word.chars().collect();
        if cur_w > 0 && cur_w + 1 + chars.len() > width {
            out.push(std::mem::take(&mut cur));
            cur_w = 0;
        }
        while chars.len() > width {
            if cur_w > 0 {
                out.push(std::mem::take(&mut cur));
                cur_w = 0;
            }
            let rest = chars.split_off(width);
            out.push(chars.into_iter().collect());
            chars = rest;
        }
        if cur_w > 0 {
            cur.push(' ');
            cur_w += 1;
        }
        cur_w += chars.len();
        cur.extend(chars);
    }
    if cur_w > 0 || out.is_empty() {
        out.push(cur);
    }
    out
}

/// The runbook checklist over the main area: sections, numbered items ticked from the
/// shared state (so another console's tick shows at once), detail lines dimmed.
fn render_runbook(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let Some(view) = app.runbook else { return };
    let r = view.incident;
    let inc = app.replica.state.incident(r);
    let rb = inc.and_then(|i| i.runbook.as_ref());
    let popup = centered(area, 100, area.height);
    Clear.render(popup, buf);
    let (done, count) = match (inc, rb) {
        (Some(i), Some(rb)) => (i.runbook_done.len(), rb.item_count()),
        _ => (0, 0),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focus)
        .title(Span::styled(
            format!(" Runbook · {r} · {done} of {count} done "),
            theme.focus,
        ))
        .title_bottom(Span::styled(
            " ↑↓ move · space/enter ticks · esc closes ",
            theme.muted,
        ));
    let inner = block.inner(popup);
    block.render(popup, buf);
    let (Some(inc), Some(rb)) = (inc, rb) else {
        Paragraph::new(format!(" {r} has no runbook attached (any more)."))
            .style(theme.muted)
            .render(inner, buf);
        return;
    };
    let width = inner.width as usize;
    let mut lines: Vec<Line> = vec![
        Line::styled(format!(" {}", clean(&rb.title)), theme.title),
        Line::styled(
            format!(
                " from {} · a ticked step is recorded on the timeline",
                clean(&rb.source)
            ),
            theme.muted,
        ),
    ];
    let mut cursor_rows = (0, 0);
    let mut n: u32 = 0;
    for sec in &rb.sections {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!(" {}", clean(&sec.heading)),
            theme.title,
        ));
        if !sec.text.is_empty() {
            for l in wrap(&clean(&sec.text), width.saturating_sub(3)) {
                lines.push(Line::styled(format!("   {l}"), theme.muted));
            }
        }
        for item in &sec.items {
            n += 1;
            let selected = n as usize == view.cursor + 1;
            let ticked = inc.runbook_done.contains(&n);
            let start = lines.len();
            let prefix = format!(
                " {} {} {n:>2}. ",
                if selected { "▶" } else { " " },
                if ticked { "[x]" } else { "[ ]" }
            );
            let indent = prefix.chars().count();
            let pad = " ".repeat(indent);
            let mut parts = item.split('\n');
            let first = wrap(
                &clean(parts.next().unwrap_or("")),
                width.saturating_sub(indent),
            );
            let last = first.len().saturating_sub(1);
            for (k, text) in first.into_iter().enumerate() {
                let mut spans = vec![
                    Span::styled(
                        if k == 0 { prefix.clone() } else { pad.clone() },
                        if ticked { theme.acked } else { theme.text },
                    ),
                    Span::styled(text, theme.text),
                ];
                if k == last
                    && let Some(d) = app.tick_in_flight(r, n)
                {
                    spans.push(Span::styled(
                        if d {
                            "  (ticking…)"
                        } else {
                            "  (unticking…)"
                        },
                        theme.timer_due,
                    ));
                }
                lines.push(Line::from(spans));
            }
            for detail in parts {
                for l in wrap(&clean(detail), width.saturating_sub(indent + 2)) {
                    lines.push(Line::styled(format!("{pad}  {l}"), theme.muted));
                }
            }
            if selected {
                cursor_rows = (start, lines.len());
                for l in &mut lines[start..] {
                    *l = std::mem::take(l).patch_style(theme.selected);
                }
            }
        }
    }
    // Keep the selected item (with its detail lines) in view, a third of the way down.
    let visible = inner.height as usize;
    let offset = if lines.len() <= visible {
        0
    } else {
        let (start, end) = cursor_rows;
        let mut off = start.saturating_sub(visible / 3);
        if end > off + visible {
            off = end - visible;
        }
        off.min(start).min(lines.len() - visible)
    };
    Paragraph::new(
        lines
            .into_iter()
            .skip(offset)
            .take(visible)
            .collect::<Vec<_>>(),
    )
    .render(inner, buf);
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn render_status(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let (dot, state, style) = match &app.conn {
        ConnState::Live => ("●", "live".to_string(), theme.timer_ok),
        ConnState::Connecting => ("◌", "connecting".to_string(), theme.timer_due),
        ConnState::Reconnecting { retry_at, .. } => {
            let secs = retry_at
                .saturating_duration_since(tokio::time::Instant::now())
                .as_secs_f64()
                .ceil() as u64;
            ("◌", format!("reconnecting in {secs}s"), theme.timer_overdue)
        }
        ConnState::Stopped { .. } => ("○", "offline".to_string(), theme.timer_overdue),
    };
    let mut spans = vec![Span::styled(format!(" {dot} {state}"), style)];
    if app.replica.queued > 0 {
        spans.push(Span::styled(
            format!(", {} queued", app.replica.queued),
            theme.timer_due,
        ));
    }
    // Short of room for a message, the status line keeps this much.
    let short = Line::from(spans.clone());
    spans.push(Span::styled(format!("  {}", app.feed), theme.muted));
    let present: Vec<String> = app
        .replica
        .presence
        .iter()
        .map(|p| clean(&p.name))
        .collect();
    if !present.is_empty() {
        spans.push(Span::styled("  present: ", theme.muted));
        spans.push(Span::styled(present.join(", "), theme.presence));
    }
    let mut left = Line::from(spans);
    // A message too long for this line has rows of its own above it.
    let flash = app
        .flash
        .as_ref()
        .filter(|_| message_rows(app, area.width) == 0);
    let right = match flash {
        Some(f) => Line::from(Span::styled(
            format!(" {} ", clean(&f.text)),
            if f.level == Level::Error {
                theme.banner_error
            } else {
                theme.banner_info
            },
        )),
        None => Line::from(vec![
            Span::styled(format!(" {}", app.keymap.keys(Action::Help)), theme.key),
            Span::styled(" help ", theme.muted),
            Span::styled(app.keymap.keys(Action::Palette), theme.key),
            Span::styled(" commands ", theme.muted),
            Span::styled(app.keymap.keys(Action::Quit), theme.key),
            Span::styled(" quit ", theme.muted),
        ]),
    };
    let room = (area.width as usize).saturating_sub(right.width());
    if left.width() > room {
        left = if short.width() <= room {
            short
        } else {
            Line::default()
        };
    }
    let right_w = (right.width() as u16).min(area.width);
    let [l, r] = Layout::horizontal([Constraint::Min(0), Constraint::Length(right_w)]).areas(area);
    Paragraph::new(left).render(l, buf);
    Paragraph::new(right).render(r, buf);
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn render_palette(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let line_area = Rect::new(area.x, area.bottom().saturating_sub(1), area.width, 1);
    Clear.render(line_area, buf);
    let name = app.palette.input.split_whitespace().next().unwrap_or("");
    let usage = COMMANDS
        .iter()
        .find(|c| c.name == name)
        .map(|c| format!("   {} — {}", c.usage, c.help))
        .unwrap_or_default();
    // A long line shows its end, where the typing is.
    let input = clean(&app.palette.input);
    let room = (area.width as usize).saturating_sub(3);
    let shown_input: String = match input.chars().count().checked_sub(room) {
        Some(cut) if cut > 0 => std::iter::once('…')
            .chain(input.chars().skip(cut + 1))
            .collect(),
        _ => input,
    };
    Paragraph::new(Line::from(vec![
        Span::styled(":", theme.key),
        Span::styled(format!("{shown_input}▏"), theme.palette),
        Span::styled(usage, theme.muted),
    ]))
    .render(line_area, buf);
    // The palette covers the status line: an error (a line it could not run) shows above it,
    // in the message rows when it is long, else on a row of its own.
    let mut top = line_area.y;
    let message = message_rows(app, area.width);
    if message > 0 {
        top = top.saturating_sub(message).max(area.y);
    } else if let Some(f) = app.flash.as_ref().filter(|f| f.level == Level::Error)
        && top > area.y
    {
        top -= 1;
        let err = Rect::new(area.x, top, area.width, 1);
        Clear.render(err, buf);
        Paragraph::new(Line::styled(
            format!(" {} ", clean(&f.text)),
            theme.banner_error,
        ))
        .render(err, buf);
    }
    let shown: Vec<&String> = app.palette.completions.iter().take(8).collect();
    if shown.is_empty() {
        return;
    }
    let h = shown.len() as u16 + 2;
    let w = (shown.iter().map(|c| c.chars().count()).max().unwrap_or(10) as u16 + 4).max(24);
    let popup = Rect::new(
        area.x,
        top.saturating_sub(h),
        w.min(area.width),
        h.min(top.saturating_sub(area.y)),
    );
    Clear.render(popup, buf);
    let lines: Vec<Line> = shown
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let style = if i == app.palette.selected {
                theme.selected
            } else {
                theme.text
            };
            Line::styled(format!(" {c}"), style)
        })
        .collect();
    Paragraph::new(lines)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.focus)
                .title(" tab completes · shift-tab next "),
        )
        .render(popup, buf);
}

/// The help overlay's width, borders included.
const HELP_WIDTH: u16 = 76;

fn render_help(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    // Inside the popup's borders; the help texts wrap in their column rather than being cut.
    let inner = area.width.min(HELP_WIDTH).saturating_sub(2) as usize;
    let mut lines: Vec<Line> = vec![Line::styled(" Keys", theme.title)];
    let row = |lines: &mut Vec<Line>, label: String, col: usize, help: &str| {
        let label_w = label.chars().count();
        let mut parts = wrap(help, inner.saturating_sub(col + 1).max(16)).into_iter();
        if label_w < col {
            lines.push(Line::from(vec![
                Span::styled(format!("{label:<col$}"), theme.key),
                Span::styled(parts.next().unwrap_or_default(), theme.text),
            ]));
        } else {
            // A long usage takes the row; its help goes under it, in the help column.
            lines.push(Line::styled(label, theme.key));
        }
        for p in parts {
            lines.push(Line::styled(format!("{:col$}{p}", ""), theme.text));
        }
    };
    for (keys, help) in app.keymap.help_rows() {
        row(&mut lines, format!("  {keys}"), 16, help);
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(" Commands (:)", theme.title));
    for l in wrap(
        "tab completes (shift-tab: the next suggestion) · ↑ or ctrl-p and ↓ or ctrl-n walk \
         the commands run before · a paste lands on one line",
        inner.saturating_sub(3).max(16),
    ) {
        lines.push(Line::styled(format!("  {l}"), theme.muted));
    }
    for c in COMMANDS {
        row(&mut lines, format!("  {}", c.usage), 26, c.help);
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(" Scribe prefixes", theme.title));
    let prefixes: Vec<String> = PREFIXES
        .iter()
        .map(|(p, _, k)| format!("{p} {}", kind_label(*k)))
        .collect();
    let prefixes = format!(
        "{} · @HH:MM backdates · : on an empty line opens the palette",
        prefixes.join(" · ")
    );
    for l in wrap(&prefixes, inner.saturating_sub(3).max(16)) {
        lines.push(Line::styled(format!("  {l}"), theme.text));
    }
    let h = (lines.len() as u16 + 2).min(area.height);
    let popup = centered(area, HELP_WIDTH, h);
    let visible = h.saturating_sub(2) as usize;
    let offset = app.help_offset.min(lines.len().saturating_sub(visible));
    let more = lines.len() > offset + visible;
    let title = if lines.len() > visible {
        " warroom help · ↑↓ scroll · any other key closes "
    } else {
        " warroom help · any key closes "
    };
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focus)
        .title(title);
    if more {
        block = block.title_bottom(Span::styled(" ↓ more ", theme.key));
    }
    Clear.render(popup, buf);
    Paragraph::new(lines.into_iter().skip(offset).collect::<Vec<_>>())
        .block(block)
        .render(popup, buf);
}

fn render_confirm_quit(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let mut lines = vec![Line::styled(
        " You have text that is not recorded yet:",
        theme.title,
    )];
    for u in app.unsent_text() {
        lines.push(Line::styled(format!("   · {u}"), theme.text));
    }
    if app.replica.queued > 0 {
        lines.push(Line::styled(
            format!(
                " ({} queued commands are safe on disk and go out next time)",
                app.replica.queued
            ),
            theme.muted,
        ));
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled(" y", theme.key),
        Span::styled(" quit and discard it · ", theme.text),
        Span::styled("any other key", theme.key),
        Span::styled(" go back", theme.text),
    ]));
    let popup = centered(area, 64, lines.len() as u16 + 2);
    Clear.render(popup, buf);
    Paragraph::new(lines)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.timer_overdue)
                .title(" quit? "),
        )
        .render(popup, buf);
}
