//! The questions answered in one key, on the bottom line over the status line. A change
//! that cannot be taken back asks first: `Resolve INC-2 (SEV1 Checkout 500s)? y to resolve,
//! any other key cancels`, for a key (`R`, `-`, `s`) and a palette line alike; `y` sends it,
//! any other key cancels it and says so. Resolving straight from investigating or identified
//! asks instead whether recovery was verified: `y` (verified) or `s` (resolve without
//! verifying) sends the answer with the change, for the record. Handing a role (`A`) asks which: `i`, `t`, `c` or
//! `s` opens the palette on `:role ROLE ` with the people present to complete.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget};

use crate::model::{Command, Role};
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
        if p.verify
            && let Some(incident) = p.command.incident()
            && let KeyCode::Char(c @ ('y' | 'Y' | 's' | 'S')) = k.code
        {
            let verified = c.eq_ignore_ascii_case(&'y');
            let command = Command::ResolveChecked { incident, verified };
            self.submit_now(command, p.what, p.unsent, fx);
            return;
        }
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

/// The roles as the chooser offers them: key, palette word, name.
const ROLES: [(char, &str, Role); 4] = [
    ('i', "ic", Role::IncidentCommander),
    ('t', "tl", Role::TechLead),
    ('c', "comms", Role::CommsLead),
    ('s', "scribe", Role::Scribe),
];

impl App {
    /// `A`: which role of the incident in view to hand.
    pub(crate) fn choose_role(&mut self) {
        match self.selected_incident() {
            Some(r) => {
                self.handing = Some(r);
                self.mode = Mode::ChooseRole;
            }
            None => self.flash(
                Level::Error,
                "select an incident (or open one) to hand one of its roles",
            ),
        }
    }

    /// Keys while the role is chosen: its letter opens the palette asking whom.
    pub(crate) fn choose_role_key(&mut self, k: KeyEvent) {
        self.mode = Mode::Normal;
        let Some(r) = self.handing.take() else {
            return;
        };
        let picked = match k.code {
            KeyCode::Char(c) => ROLES
                .iter()
                .find(|(key, _, _)| *key == c.to_ascii_lowercase()),
            _ => None,
        };
        match picked {
            // The palette acts on the incident in view, the one the question named.
            Some((_, word, _)) if self.selected_incident() == Some(r) => {
                self.open_palette(&format!("role {word} "))
            }
            Some((_, word, _)) => self.open_palette(&format!("role {r} {word} ")),
            None => {}
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
    if p.verify {
        Paragraph::new(Line::from(vec![
            Span::styled(format!(" {} ", p.question), theme.timer_overdue),
            Span::styled(" y", theme.key),
            Span::styled(" yes, resolve ·", theme.text),
            Span::styled(" s", theme.key),
            Span::styled(" skip verification · other keys cancel", theme.text),
        ]))
        .render(line, buf);
        return;
    }
    Paragraph::new(Line::from(vec![
        Span::styled(format!(" {} ", p.question), theme.timer_overdue),
        Span::styled(" y", theme.key),
        Span::styled(format!(" to {}, any other key cancels", p.verb), theme.text),
    ]))
    .render(line, buf);
}

/// Draws the role question on the bottom line of `area`.
pub fn render_role_choice(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let Some(r) = app.handing else {
        return;
    };
    let line = Rect::new(area.x, area.bottom().saturating_sub(1), area.width, 1);
    Clear.render(line, buf);
    let mut spans = vec![Span::styled(
        format!(" Hand which role of {r}? "),
        theme.title,
    )];
    for (key, _, role) in ROLES {
        let name = match role {
            Role::IncidentCommander => "IC".to_string(),
            r => crate::report::format::role_name(r),
        };
        spans.push(Span::styled(format!(" {key}"), theme.key));
        spans.push(Span::styled(format!(" {name} "), theme.text));
    }
    spans.push(Span::styled("· other keys cancel", theme.muted));
    Paragraph::new(Line::from(spans)).render(line, buf);
}
