//! The handoff briefing as a full-screen view (`:handoff`): the plain-text briefing of
//! [`crate::report::handoff`], built from the replica's state and the console's on-call
//! schedules at every frame (so ages and countdowns stay live), lightly styled, wrapped to
//! the terminal and scrollable (↑/↓, PgUp/PgDn, Home/End; Esc goes back).
//!
//! The view is drawn over whatever screen is under it, leaving the connection banner, the
//! status line and the palette visible, so `:accept-handoff` can be typed from it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use super::app::{App, Mode};
use super::keymap::{Action, Keymap};
use super::theme::Theme;
use crate::client::ConnState;
use crate::model::Severity;
use crate::report::handoff;

/// The open briefing: how far it is scrolled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HandoffView {
    /// First visible row (after wrapping).
    pub offset: usize,
}

/// What a key does while the briefing is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Scrolled, or nothing to do.
    Stay,
    /// Back to the screen underneath.
    Close,
    /// An action that works from here too (the palette, help, quit).
    Act(Action),
}

/// The briefing as of the app's clock.
pub fn briefing(app: &App) -> handoff::Briefing {
    let start = handoff::shift_start(&app.schedules, app.now);
    handoff::brief(&app.replica.state, &app.schedules, start, app.now)
}

/// Interprets a key: scrolling moves `view` (within `rows` rows, `page` of them visible).
pub fn key(
    view: &mut HandoffView,
    k: &KeyEvent,
    keymap: &Keymap,
    rows: usize,
    page: usize,
) -> Outcome {
    let page = page.max(1);
    let step = page.saturating_sub(1).max(1) as i64;
    let plain = !k
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
    let by: i64 = match k.code {
        KeyCode::Esc => return Outcome::Close,
        KeyCode::Up => -1,
        KeyCode::Down => 1,
        KeyCode::PageUp => -step,
        KeyCode::PageDown => step,
        KeyCode::Char(' ') if plain => step,
        KeyCode::Home => i64::MIN / 2,
        KeyCode::End => i64::MAX / 2,
        _ => match keymap.action(k) {
            Some(Action::Up) => -1,
            Some(Action::Down) => 1,
            Some(Action::PageUp) => -step,
            Some(Action::PageDown) => step,
            Some(Action::Top) => i64::MIN / 2,
            Some(Action::Bottom) => i64::MAX / 2,
            Some(Action::Back) => return Outcome::Close,
            Some(a @ (Action::Palette | Action::Help | Action::Quit)) => return Outcome::Act(a),
            _ => return Outcome::Stay,
        },
    };
    let max = rows.saturating_sub(page) as i64;
    view.offset = (view.offset as i64).saturating_add(by).clamp(0, max) as usize;
    Outcome::Stay
}

/// Rows of the briefing and how many are visible, at the app's terminal size.
pub fn extent(app: &App) -> (usize, usize) {
    let area = frame_area(app, Rect::new(0, 0, app.size.0, app.size.1));
    let rows = rows(app, &Theme::plain(), area.width.saturating_sub(2)).len();
    (rows, area.height.saturating_sub(2) as usize)
}

/// Where the briefing goes: everything but the banner and notices at the top, the status
/// line (and a long message) at the bottom, and the palette's completions while it is open.
fn frame_area(app: &App, area: Rect) -> Rect {
    let top = u16::from(!matches!(app.conn, ConnState::Live)) + app.notices.len().min(4) as u16;
    let completions = app.palette.completions.len().min(8) as u16;
    let popup = if app.mode == Mode::Palette && completions > 0 {
        completions + 2
    } else {
        0
    };
    // A long message has rows of its own above the status line.
    let bottom = 1 + popup + super::ui::message_rows(app, area.width);
    Rect::new(
        area.x,
        area.y + top.min(area.height),
        area.width,
        area.height.saturating_sub(top + bottom),
    )
}

/// The briefing's lines, styled, wrapped to `width` columns.
fn rows(app: &App, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width.max(10));
    let mut out = Vec::new();
    for line in handoff::text_lines(&briefing(app)) {
        let style = style_of(&line, theme);
        let indent = line.len() - line.trim_start().len();
        let chars: Vec<char> = line.chars().collect();
        if chars.len() <= width {
            out.push(styled(line, style, theme));
            continue;
        }
        // Continuation rows line up under the text they continue; breaks fall between
        // words where there is one to break at.
        let cont = hanging_indent(&line, indent).min(width / 2);
        let mut at = 0;
        let mut first = true;
        while at < chars.len() {
            let room = if first { width } else { width - cont };
            let mut end = (at + room).min(chars.len());
            if end < chars.len()
                && let Some(space) = chars[at..end].iter().rposition(|c| *c == ' ')
                && space > room / 2
            {
                end = at + space + 1;
            }
            let piece: String = chars[at..end].iter().collect::<String>();
            let piece = piece.trim_end().to_string();
            if first {
                out.push(styled(piece, style, theme));
            } else {
                out.push(Line::styled(format!("{}{piece}", " ".repeat(cont)), style));
            }
            first = false;
            at = end;
        }
    }
    out
}

/// Where a wrapped line's continuation rows start: under the text after a list dash, or
/// under a field's value (`  name      value`), else two columns in.
fn hanging_indent(line: &str, indent: usize) -> usize {
    let body = &line[indent..];
    if body.starts_with("- ") {
        return indent + 2;
    }
    // A field: a name, then a gap of two or more spaces, then the value.
    if let Some(gap) = body.find("  ")
        && !body[..gap].is_empty()
    {
        let value = body[gap..].len() - body[gap..].trim_start().len();
        let at = indent + gap + value;
        if at <= 24 {
            return at;
        }
    }
    indent + 2
}

/// Section titles stand out; overdue updates and a missing commander are loud.
fn style_of(line: &str, theme: &Theme) -> Style {
    let heading = !line.starts_with(' ')
        && line
            .chars()
            .take_while(|c| !c.is_ascii_digit() && *c != '(')
            .all(|c| c.is_ascii_uppercase() || c == ' ')
        && line.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && !line.starts_with("INC-");
    if heading {
        theme.title
    } else if line.contains("OVERDUE") {
        theme.timer_overdue
    } else if line.contains("NO incident commander") {
        theme.no_ic
    } else {
        theme.text
    }
}

/// An incident's header line gets its severity colour: `INC-1  SEV1  identified  Title`.
fn styled(line: String, style: Style, theme: &Theme) -> Line<'static> {
    if line.starts_with("INC-")
        && let Some((r, rest)) = line.split_once("  ")
        && let Some((sev, tail)) = rest.split_once("  ")
        && let Ok(s) = sev.parse::<Severity>()
    {
        return Line::from(vec![
            Span::styled(format!("{r} "), theme.title),
            Span::styled(format!(" {s} "), theme.severity(s)),
            Span::styled(format!(" {tail}"), theme.title),
        ]);
    }
    Line::styled(line, style)
}

/// Draws the console: the screen underneath (see [`super::ui::render`]), and the briefing
/// over it while it is open.
pub fn render(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    super::ui::render(app, theme, area, buf);
    let Some(view) = app.handoff else {
        return;
    };
    // Help, the quit question and the like are drawn over the screen underneath.
    if !matches!(app.mode, Mode::Normal | Mode::Palette) {
        return;
    }
    let frame = frame_area(app, area);
    if frame.height < 3 {
        return;
    }
    let rows = rows(app, theme, frame.width.saturating_sub(2));
    let visible = usize::from(frame.height - 2);
    let offset = view.offset.min(rows.len().saturating_sub(visible));
    let scrolls = rows.len() > visible;
    let title = if scrolls {
        " handoff briefing · ↑↓ PgUp PgDn scroll · :accept-handoff takes over · esc back "
    } else {
        " handoff briefing · :accept-handoff takes over · esc back "
    };
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focus)
        .title(Span::styled(title, theme.title));
    if scrolls {
        let last = (offset + visible).min(rows.len());
        let more = if last < rows.len() { " ↓ more" } else { "" };
        block = block.title_bottom(Span::styled(
            format!(" rows {}-{last} of {}{more} ", offset + 1, rows.len()),
            theme.key,
        ));
    }
    Clear.render(frame, buf);
    Paragraph::new(
        rows.into_iter()
            .skip(offset)
            .take(visible)
            .collect::<Vec<_>>(),
    )
    .block(block)
    .render(frame, buf);
}
