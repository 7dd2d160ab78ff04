//! The question a change that cannot be taken back asks first: `Resolve INC-2 (SEV1
//! Checkout 500s)? y to resolve, any other key cancels`, on the bottom line over the status
//! line, for a key (`R`, `-`, `s`) and a palette line alike. `y` sends it; any other key
//! cancels it and says so.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget};

use crate::tui::app::{App, Effect, Level, Mode};
use crate::tui::theme::Theme;

impl App {
    /// Keys while a change waits for its confirmation.
    pub(crate) fn confirm_key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
        let Some(p) = self.pending.take() else {
            self.mode = Mode::Normal;
            return;
        };
        self.mode = p.back_to;
        match k.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => {
                self.submit_now(p.command, p.what, p.unsent, fx)
            }
            _ => {
                let what = p.question.trim_end_matches('?');
                self.flash(Level::Info, format!("cancelled: {}", lowercase_first(what)));
            }
        }
    }
}

fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Draws the question on the bottom line of `area`.
pub fn render(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let Some(p) = &app.pending else {
        return;
    };
    let line = Rect::new(area.x, area.bottom().saturating_sub(1), area.width, 1);
    Clear.render(line, buf);
    Paragraph::new(Line::from(vec![
        Span::styled(format!(" {} ", p.question), theme.timer_overdue),
        Span::styled(" y", theme.key),
        Span::styled(format!(" to {}, any other key cancels", p.verb), theme.text),
    ]))
    .render(line, buf);
}
