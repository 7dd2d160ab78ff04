//! Drawing the console, from the root: the connection banner, start-up notices, the screen
//! (board, room or metrics), a long message, the status line, and whatever is drawn over
//! them (the open overlay, the palette, help, the quit question, the handoff briefing).
//! Everything reads the state by shared reference; nothing changes while drawing, and
//! nothing here reads a clock: ages and countdowns are as of the app's `now`, the
//! reconnect countdown as of its `instant`, both set by the update loop.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget};

use super::app::{App, Level, Mode, Screen};
use super::keymap::Action;
use super::layout::{self, NOTICE_ROWS, message_rows};
use super::screens::room::history;
use super::screens::{
    archive, board, confirm, handoff, help, metrics, news, palette, postmortem, quit, room,
    runbook, update_form,
};
use super::theme::Theme;
use crate::client::ConnState;
use crate::report::format::clean;

/// Draws the whole console.
pub fn render(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let frame = layout::frame(app, area);
    if let Some(f) = app
        .flash
        .as_ref()
        .filter(|_| !frame.message_lines.is_empty())
    {
        let style = if f.level == Level::Error {
            theme.banner_error
        } else {
            theme.banner_info
        };
        Clear.render(frame.message, buf);
        Paragraph::new(
            frame
                .message_lines
                .iter()
                .map(|l| Line::from(format!(" {l} ")))
                .collect::<Vec<_>>(),
        )
        .style(style)
        .render(frame.message, buf);
    }
    if !matches!(app.conn, ConnState::Live) {
        render_banner(app, theme, frame.banner, buf);
    }
    if !app.notices.is_empty() {
        let lines: Vec<Line> = app
            .notices
            .iter()
            .take(NOTICE_ROWS)
            .map(|n| {
                Line::styled(
                    format!(" ⚠ {} (any key dismisses)", clean(n)),
                    theme.banner_error,
                )
            })
            .collect();
        Paragraph::new(lines).render(frame.notices, buf);
    }
    news::render(app, theme, frame.news, buf);
    let main = frame.main;
    match app.screen {
        Screen::Board => board::render(app, theme, main, buf),
        Screen::Room(r) => match app.replica.state.incident(r) {
            Some(inc) => room::render(app, theme, inc, main, buf),
            None if app.room_loading(r) => Paragraph::new(format!(" {r}: asking the feed for it…"))
                .style(theme.muted)
                .render(main, buf),
            None => Paragraph::new(format!(" {}", app.not_here(r)))
                .style(theme.muted)
                .render(main, buf),
        },
        Screen::Metrics => metrics::render(app, theme, main, buf),
        Screen::Archive => archive::render(app, theme, main, buf),
    }
    render_status(app, theme, frame.status, buf);
    match app.mode {
        Mode::Runbook => runbook::render(app, theme, main, buf),
        Mode::History => history::render(app, theme, main, buf),
        Mode::UpdateForm => update_form::render(app, theme, main, buf),
        Mode::Postmortem => postmortem::render(app, theme, main, buf),
        Mode::Palette => palette::render(app, theme, area, buf),
        Mode::Help => help::render(app, theme, area, buf),
        Mode::ConfirmQuit => quit::render(app, theme, area, buf),
        Mode::Confirm => confirm::render(app, theme, area, buf),
        Mode::ChooseRole => confirm::render_role_choice(app, theme, area, buf),
        _ => {}
    }
    handoff::render(app, theme, area, buf);
}

/// The connection banner: connecting, reconnecting (and in how long), or offline.
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
                .saturating_duration_since(app.instant)
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

/// The status line: the connection, queued commands, the feed and who is present; on
/// the right a short message, or the keys for help, the palette and quitting.
fn render_status(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let (dot, state, style) = match &app.conn {
        ConnState::Live => ("●", "live".to_string(), theme.timer_ok),
        ConnState::Connecting => ("◌", "connecting".to_string(), theme.timer_due),
        ConnState::Reconnecting { retry_at, .. } => {
            let secs = retry_at
                .saturating_duration_since(app.instant)
                .as_secs_f64()
                .ceil() as u64;
            ("◌", format!("reconnecting in {secs}s"), theme.timer_overdue)
        }
        ConnState::Stopped { .. } => ("○", "offline".to_string(), theme.timer_overdue),
    };
    let mut spans = Vec::new();
    if app.demo {
        spans.push(Span::styled(" DEMO ", theme.banner_info));
    }
    spans.push(Span::styled(format!(" {dot} {state}"), style));
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
        if app.replica.presence_others > 0 {
            spans.push(Span::styled(
                format!(" and {} more", app.replica.presence_others),
                theme.muted,
            ));
        }
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
