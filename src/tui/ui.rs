//! Drawing. Everything here reads the state by shared reference and draws one frame; no
//! state changes happen while drawing. Only visible timeline rows are touched, so a room
//! with 100,000 entries costs what a room with forty does.

use chrono::{DateTime, Utc};
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
use crate::model::{EntryKind, Incident, Milestone, Role};

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

/// Draws the whole console.
pub fn render(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let banner = !matches!(app.conn, ConnState::Live);
    let notices = app.notices.len().min(4) as u16;
    let [banner_area, notice_area, main, status] = Layout::vertical([
        Constraint::Length(banner as u16),
        Constraint::Length(notices),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
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
            None => Paragraph::new(format!("{r} is not in the feed (yet)")).render(main, buf),
        },
    }
    render_status(app, theme, status, buf);
    match app.mode {
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

fn render_board(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let filtering = app.mode == Mode::Filter || !app.board.filter.is_empty();
    let [title, table_area, filter_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(filtering as u16),
    ])
    .areas(area);
    let rows = app.board_rows();
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
            if app.replica.synced {
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
        let wide = area.width >= 100;
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
                let ack = match (resolved, i.is_acknowledged()) {
                    (true, _) => Span::styled("", theme.muted),
                    (false, true) => Span::styled("✓", theme.acked),
                    (false, false) => Span::styled("no", theme.unacked),
                };
                let status_style = if resolved {
                    theme.status_resolved
                } else {
                    theme.status_active
                };
                let mut cells = vec![
                    Span::styled(i.reference.to_string(), base),
                    sev_span(theme, i),
                    Span::styled(i.status.as_str(), status_style),
                    Span::styled(fmt_age(age_secs), base),
                    ack,
                    ic,
                ];
                if wide {
                    cells.push(Span::styled(
                        clean(i.service.as_deref().unwrap_or("")),
                        base,
                    ));
                }
                cells.push(Span::styled(clean(&i.title), base));
                Row::new(cells)
            })
            .collect();
        let mut widths = vec![
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(13),
            Constraint::Length(7),
            Constraint::Length(3),
            Constraint::Length(10),
        ];
        let mut header = vec!["REF", "SEV", "STATUS", "AGE", "ACK", "IC"];
        if wide {
            widths.push(Constraint::Length(14));
            header.push("SERVICE");
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
    if filtering {
        let cursor = if app.mode == Mode::Filter { "▏" } else { "" };
        Paragraph::new(Line::from(vec![
            Span::styled(" filter: ", theme.key),
            Span::styled(format!("{}{cursor}", app.board.filter), theme.input),
            Span::styled("   enter keeps · esc clears", theme.muted),
        ]))
        .render(filter_area, buf);
    }
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
    let [header, timeline, scribe] = Layout::vertical([
        Constraint::Length(HEADER_ROWS),
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
        Span::styled(clean(&inc.title), theme.title),
        Span::styled(
            inc.service
                .as_deref()
                .map(|s| format!("  · {}", clean(s)))
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

    // Timeline: only the visible rows.
    let focused = app.mode == Mode::Normal;
    let index = app.timelines.get(&r);
    let len = index.map_or(0, |t| t.rows.len());
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if focused { theme.focus } else { theme.border })
        .title(Span::styled(
            format!(
                " Timeline · {len} entries{} ",
                if cursor_set {
                    ""
                } else {
                    " · following newest"
                }
            ),
            if focused { theme.focus } else { theme.border },
        ))
        .title_bottom(Span::styled(
            format!(
                " {} select · {} pin · {} newest · {} write ",
                app.keymap.keys(Action::Up),
                app.keymap.keys(Action::Pin),
                app.keymap.keys(Action::Bottom),
                app.keymap.keys(Action::Scribe),
            ),
            theme.muted,
        ));
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
                Span::styled(
                    format!("{:<12} ", truncate(&clean(&e.author), 12)),
                    theme.muted,
                ),
                Span::styled(
                    clean(&e.text),
                    if e.kind == EntryKind::System {
                        theme.muted
                    } else {
                        theme.text
                    },
                ),
            ];
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
        let text = format!(
            " #{} {} by {} at {}: {}",
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
    let left = Line::from(spans);
    let right = match &app.flash {
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
    Paragraph::new(Line::from(vec![
        Span::styled(":", theme.key),
        Span::styled(format!("{}▏", app.palette.input), theme.palette),
        Span::styled(usage, theme.muted),
    ]))
    .render(line_area, buf);
    let shown: Vec<&String> = app.palette.completions.iter().take(8).collect();
    if shown.is_empty() {
        return;
    }
    let h = shown.len() as u16 + 2;
    let w = (shown.iter().map(|c| c.chars().count()).max().unwrap_or(10) as u16 + 4).max(24);
    let popup = Rect::new(
        area.x,
        line_area.y.saturating_sub(h),
        w.min(area.width),
        h.min(line_area.y),
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
                .title(" tab completes "),
        )
        .render(popup, buf);
}

fn render_help(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let mut lines: Vec<Line> = vec![Line::styled(" Keys", theme.title)];
    for (keys, help) in app.keymap.help_rows() {
        lines.push(Line::from(vec![
            Span::styled(format!("  {keys:<14}"), theme.key),
            Span::styled(help, theme.text),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(" Commands (:)", theme.title));
    for c in COMMANDS {
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<24}", c.usage), theme.key),
            Span::styled(c.help, theme.text),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(" Scribe prefixes", theme.title));
    let prefixes: Vec<String> = PREFIXES
        .iter()
        .map(|(p, _, k)| format!("{p} {}", kind_label(*k)))
        .collect();
    lines.push(Line::styled(
        format!("  {}   @HH:MM backdates", prefixes.join(" · ")),
        theme.text,
    ));
    let h = (lines.len() as u16 + 2).min(area.height);
    let popup = centered(area, 76, h);
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
