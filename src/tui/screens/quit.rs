//! The quit question: quitting with text typed and not recorded yet (a scribe draft, a
//! status update or post-mortem draft, a palette line) asks first, listing what would be
//! lost; `y` quits, any other key goes back. Queued commands are safe on disk and are not
//! asked about. Ctrl-c asks too, and a second ctrl-c quits.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use crate::tui::app::{App, Effect, Mode};
use crate::tui::layout::centered;
use crate::tui::theme::Theme;

impl App {
    /// Text typed and not yet recorded: drafts and an open palette line.
    pub fn unsent_text(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .rooms
            .iter()
            .filter(|(_, v)| v.draft.lines().iter().any(|l| !l.trim().is_empty()))
            .map(|(r, _)| format!("the scribe draft in {r}"))
            .collect();
        out.extend(self.record_drafts());
        out.sort();
        if self.mode == Mode::Palette && !self.palette.input.trim().is_empty() {
            out.push("the command being typed".into());
        }
        out
    }

    /// Quits, unless typed text would be lost: then asks.
    pub(crate) fn request_quit(&mut self, fx: &mut Vec<Effect>) {
        if self.unsent_text().is_empty() {
            self.quit(fx);
        } else {
            self.mode = Mode::ConfirmQuit;
        }
    }

    /// Keys while the question is open: `y` quits, any other goes back.
    pub(crate) fn confirm_quit_key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
        match k.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => self.quit(fx),
            _ => self.mode = Mode::Normal,
        }
    }

    /// Quits now.
    pub(crate) fn quit(&mut self, fx: &mut Vec<Effect>) {
        self.quitting = true;
        fx.push(Effect::Quit);
    }
}

/// Draws the question over the whole console.
pub fn render(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
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
