//! The handoff briefing as a full-screen view (`:handoff`): the [`Briefing`] of
//! [`crate::report::handoff`], built from the replica's state and the console's on-call
//! schedules at every frame (so ages and countdowns stay live). Its rows are the ones
//! `warroom handoff` prints ([`handoff::rows`]), each styled by its meaning (section titles,
//! an incident's severity colour, an overdue update and a missing commander loud), wrapped to
//! the terminal and scrollable (↑/↓, PgUp/PgDn, Home/End; Esc goes back).
//!
//! The view is drawn over whatever screen is under it, leaving the connection banner, the
//! status line and the palette visible, so `:accept-handoff` can be typed from it.

#[cfg(test)]
mod tests;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use crate::report::handoff::{self, Briefing};
use crate::report::handoff::{Meaning, Row, rows as briefing_rows};
use crate::tui::app::{App, Effect, Level, Mode};
use crate::tui::keymap::{Action, Keymap};
use crate::tui::layout;
use crate::tui::theme::Theme;

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
    /// Take over from the outgoing on-call (the open key, enter): asks first.
    Accept,
}

/// The briefing as of the app's clock.
pub fn briefing(app: &App) -> Briefing {
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
            Some(Action::Open) => return Outcome::Accept,
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
    let area = layout::handoff_area(app, Rect::new(0, 0, app.size.0, app.size.1));
    let rows = rows(app, &Theme::plain(), area.width.saturating_sub(2)).len();
    (rows, area.height.saturating_sub(2) as usize)
}

impl App {
    /// `:handoff`: the briefing, over the screen underneath.
    pub(crate) fn open_handoff(&mut self) {
        self.handoff = Some(HandoffView::default());
    }

    /// Keys while the handoff briefing is open: scrolling, Esc, and the palette and help.
    pub(crate) fn handoff_key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
        let (rows, page) = extent(self);
        let Some(view) = self.handoff.as_mut() else {
            return;
        };
        match key(view, &k, &self.keymap, rows, page) {
            Outcome::Stay => {}
            Outcome::Close => self.handoff = None,
            Outcome::Act(a) => self.action(a, fx),
            Outcome::Accept => self.ask_accept_handoff(),
        }
    }

    /// The briefing's enter: accepting the handoff from the outgoing primary, asked first
    /// (it makes this person incident commander wherever the outgoing one was).
    fn ask_accept_handoff(&mut self) {
        let Some(from) = handoff::outgoing(&self.schedules, self.now) else {
            self.flash(
                Level::Error,
                "no on-call schedule names the outgoing primary: :accept-handoff NAME takes over",
            );
            return;
        };
        let commands: Vec<String> = self
            .replica
            .state
            .incidents
            .values()
            .filter(|i| {
                i.is_active() && i.roles.get(&crate::model::Role::IncidentCommander) == Some(&from)
            })
            .map(|i| i.reference.to_string())
            .collect();
        let ic = if commands.is_empty() {
            String::new()
        } else {
            format!(", incident commander of {}", commands.join(", "))
        };
        self.pending = Some(crate::tui::submit::Pending {
            command: crate::model::Command::AcceptHandoff { from: from.clone() },
            what: format!("accept handoff from {from}"),
            unsent: None,
            question: format!(
                "Take over from {}{ic}?",
                crate::report::format::clean(&from)
            ),
            verb: "take over",
            back_to: Mode::Normal,
            verify: false,
        });
        self.mode = Mode::Confirm;
    }

    /// `:accept-handoff [NAME]`: takes over from NAME, by default the outgoing primary of
    /// the default schedule.
    pub(crate) fn accept_handoff(&mut self, from: Option<String>, fx: &mut Vec<Effect>) {
        let from = from.or_else(|| handoff::outgoing(&self.schedules, self.now));
        match from {
            Some(from) => {
                let what = format!("accept handoff from {from}");
                self.send(crate::model::Command::AcceptHandoff { from }, what, fx);
            }
            None => self.flash(
                Level::Error,
                "usage: :accept-handoff NAME — no on-call schedule names the outgoing primary",
            ),
        }
    }
}

// ---- drawing -----------------------------------------------------------------------------

/// The briefing's lines, styled, wrapped to `width` columns.
fn rows(app: &App, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width.max(10));
    let mut out = Vec::new();
    for Row { text, meaning } in briefing_rows(&briefing(app)) {
        let style = style_of(meaning, theme);
        let indent = text.len() - text.trim_start().len();
        let chars: Vec<char> = text.chars().collect();
        if chars.len() <= width {
            out.push(first_piece(text, meaning, style, theme));
            continue;
        }
        // Continuation rows line up under the text they continue; breaks fall between
        // words where there is one to break at.
        let cont = hanging_indent(&text, indent).min(width / 2);
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
                out.push(first_piece(piece, meaning, style, theme));
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
fn style_of(meaning: Meaning, theme: &Theme) -> Style {
    match meaning {
        Meaning::Heading => theme.title,
        Meaning::Overdue => theme.timer_overdue,
        Meaning::NoCommander => theme.no_ic,
        Meaning::Incident(..) | Meaning::Text => theme.text,
    }
}

/// A line, or the first row of a wrapped one. An incident's header gets its severity
/// colour when the row holds the severity and some of what follows it:
/// `INC-1  SEV1  identified  Title`.
fn first_piece(piece: String, meaning: Meaning, style: Style, theme: &Theme) -> Line<'static> {
    if let Meaning::Incident(r, s) = meaning {
        let head = format!("{r}  {s}  ");
        if let Some(tail) = piece.get(head.len()..).filter(|t| !t.is_empty()) {
            return Line::from(vec![
                Span::styled(format!("{r} "), theme.title),
                Span::styled(format!(" {s} "), theme.severity(s)),
                Span::styled(format!(" {tail}"), theme.title),
            ]);
        }
    }
    Line::styled(piece, style)
}

/// Draws the briefing over the screen underneath, while it is open and nothing else
/// (help, the quit question, an editor) is drawn over that.
pub fn render(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let Some(view) = app.handoff else {
        return;
    };
    if !matches!(app.mode, Mode::Normal | Mode::Palette | Mode::Confirm) {
        return;
    }
    let frame = layout::handoff_area(app, area);
    if frame.height < 3 {
        return;
    }
    let rows = rows(app, theme, frame.width.saturating_sub(2));
    let visible = usize::from(frame.height - 2);
    let offset = view.offset.min(rows.len().saturating_sub(visible));
    let scrolls = rows.len() > visible;
    let accept = format!("{} takes over", app.keymap.keys(Action::Open));
    let title = if scrolls {
        format!(" handoff briefing · ↑↓ PgUp PgDn scroll · {accept} · esc back ")
    } else {
        format!(" handoff briefing · {accept} · esc back ")
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
