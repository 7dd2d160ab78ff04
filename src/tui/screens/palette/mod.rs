//! The command palette: `:` then a command, with completion (tab, shift-tab for the next
//! suggestion) and a history of the lines run before (↑ or ctrl-p, ↓ or ctrl-n, as in a
//! shell). Every action the console has is reachable here, so nothing depends on memorised
//! keys. The commands are the command table's ([`crate::tui::commands`]); `parse.rs` reads
//! a line, `complete.rs` completes one; this file holds the palette's state, its keys and
//! its drawing.

pub mod complete;
pub mod parse;
#[cfg(test)]
mod tests;
pub mod triage;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use crate::model::validate::MAX_ENTRY;
use crate::model::{Command, IncidentRef};
use crate::report::format::clean;
use crate::tui::app::{App, Effect, Level, Mode, Screen, Unsent};
use crate::tui::commands::{COMMANDS, Intent};
use crate::tui::layout::{COMPLETION_ROWS, message_rows};
use crate::tui::paste;
use crate::tui::scribe::entry_text_problem;
use crate::tui::theme::Theme;
use parse::Context;

/// The longest palette line: an entry's worth of text and room for the command around it.
pub const MAX_PALETTE_LINE: usize = MAX_ENTRY + 100;

/// How many palette lines the history keeps.
const PALETTE_HISTORY: usize = 500;

/// The palette's input line, its completions, and the lines run before (for the
/// console's lifetime), which Up / ctrl-p and Down / ctrl-n walk as in a shell.
#[derive(Debug, Clone, Default)]
pub struct PaletteState {
    pub input: String,
    pub completions: Vec<String>,
    pub selected: usize,
    /// Lines run, oldest first.
    pub history: Vec<String>,
    /// The history line on show while walking it; `None`: the line being typed.
    pub history_pos: Option<usize>,
    /// The line being typed when the walk started, given back by Down past the newest.
    pub stash: String,
    /// Opened from the scribe pane of this room: the keys go back there once it closes.
    pub return_to_scribe: Option<IncidentRef>,
}

impl App {
    /// Opens the palette with `prefill` typed.
    pub(crate) fn open_palette(&mut self, prefill: &str) {
        self.mode = Mode::Palette;
        self.palette = PaletteState {
            input: prefill.to_string(),
            history: std::mem::take(&mut self.palette.history),
            ..Default::default()
        };
        self.refresh_completions();
    }

    /// Keeps a palette line in the history (once, as the newest).
    pub(crate) fn remember_palette_line(&mut self, line: &str) {
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        let history = &mut self.palette.history;
        history.retain(|l| l != line);
        history.push(line.to_string());
        if history.len() > PALETTE_HISTORY {
            history.remove(0);
        }
    }

    /// Up / ctrl-p (`back`) and Down / ctrl-n: the previous or next line of the history;
    /// past the newest, the line that was being typed.
    fn walk_palette_history(&mut self, back: bool) {
        let p = &mut self.palette;
        let n = p.history.len();
        let next = match (p.history_pos, back) {
            (_, _) if n == 0 => return,
            (None, true) => {
                p.stash = p.input.clone();
                Some(n - 1)
            }
            (None, false) => return,
            (Some(i), true) => Some(i.saturating_sub(1)),
            (Some(i), false) if i + 1 < n => Some(i + 1),
            (Some(_), false) => None,
        };
        p.history_pos = next;
        p.input = match next {
            Some(i) => p.history[i].clone(),
            None => std::mem::take(&mut p.stash),
        };
        self.refresh_completions();
    }

    /// The completions of the line as typed now.
    fn refresh_completions(&mut self) {
        let refs: Vec<IncidentRef> = self
            .replica
            .state
            .incidents
            .values()
            .map(|i| i.reference)
            .collect();
        let people: Vec<String> = self
            .replica
            .presence
            .iter()
            .map(|p| p.name.clone())
            .collect();
        let targets = self
            .feed_policy
            .as_ref()
            .map(|p| p.page_targets())
            .unwrap_or_default();
        self.palette.completions = complete::complete_with(
            &self.palette.input,
            &complete::Known {
                incidents: &refs,
                people: &people,
                targets: &targets,
            },
        );
        self.palette.selected = 0;
    }

    /// Keys while the palette is open: they edit the line, complete it, walk the history,
    /// run the line, or close the palette.
    pub(crate) fn palette_key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let walks_history = matches!(k.code, KeyCode::Up | KeyCode::Down)
            || (ctrl && matches!(k.code, KeyCode::Char('p' | 'n')));
        if !walks_history {
            // Editing a line taken from the history makes it the line being typed.
            self.palette.history_pos = None;
        }
        match k.code {
            KeyCode::Esc => self.close_palette(),
            KeyCode::Enter => {
                let line = std::mem::take(&mut self.palette.input);
                self.remember_palette_line(&line);
                self.mode = Mode::Normal;
                self.run_palette(&line, fx);
                self.back_to_scribe();
            }
            KeyCode::Tab => {
                if let Some(c) = self.palette.completions.get(self.palette.selected).cloned() {
                    self.palette.input = c;
                    self.refresh_completions();
                }
            }
            // Shift-tab picks the next suggestion for tab to take.
            KeyCode::BackTab => {
                let n = self.palette.completions.len().max(1);
                self.palette.selected = (self.palette.selected + 1) % n;
            }
            KeyCode::Up => self.walk_palette_history(true),
            KeyCode::Down => self.walk_palette_history(false),
            KeyCode::Char('p') if ctrl => self.walk_palette_history(true),
            KeyCode::Char('n') if ctrl => self.walk_palette_history(false),
            KeyCode::Backspace => {
                if self.palette.input.pop().is_none() {
                    self.close_palette();
                }
                self.refresh_completions();
            }
            KeyCode::Char('u') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                self.palette.input.clear();
                self.refresh_completions();
            }
            KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                self.palette.input.push(c);
                self.refresh_completions();
            }
            _ => {}
        }
    }

    /// The palette closes without running anything: the keys go back where they were.
    fn close_palette(&mut self) {
        self.mode = Mode::Normal;
        self.back_to_scribe();
    }

    /// After the palette ran or closed: a palette opened from the scribe pane gives the
    /// keys back to it, when its room is still on screen and nothing else took them (a
    /// question asked first gives them back once answered; a line reopened to be fixed
    /// keeps them).
    fn back_to_scribe(&mut self) {
        let Some(r) = self.palette.return_to_scribe else {
            return;
        };
        if self.mode == Mode::Palette {
            return;
        }
        self.palette.return_to_scribe = None;
        if self.screen != Screen::Room(r) {
            return;
        }
        match self.mode {
            Mode::Normal => self.mode = Mode::Scribe,
            Mode::Confirm => {
                if let Some(p) = self.pending.as_mut().filter(|p| p.back_to == Mode::Normal) {
                    p.back_to = Mode::Scribe;
                }
            }
            _ => {}
        }
    }

    /// A paste onto the palette's line (one line).
    pub(crate) fn palette_paste(&mut self, text: &str) -> Result<(), String> {
        let done = paste::onto_line(
            &mut self.palette.input,
            text,
            MAX_PALETTE_LINE,
            "a command line holds",
        );
        self.palette.history_pos = None;
        self.refresh_completions();
        done
    }

    /// What a palette line (or a key that runs a command) is about: the incident in view
    /// or selected, the timeline entry selected, and the clock.
    pub(crate) fn palette_context(&self) -> Context {
        Context {
            incident: self.selected_incident(),
            entry: match self.screen {
                Screen::Room(r) => self.selected_entry(r),
                Screen::Board | Screen::Metrics | Screen::Archive => None,
            },
            now: self.now,
            tz: self.tz,
        }
    }

    /// Runs a palette line. A line that cannot run (a mistake, text the feed would refuse)
    /// says why and stays in the palette to be fixed rather than retyped.
    fn run_palette(&mut self, line: &str, fx: &mut Vec<Effect>) {
        let ctx = self.palette_context();
        // What the feed would refuse in an entry's text is refused here, the line kept.
        let parsed = parse::parse(line, &ctx).and_then(|intent| match &intent {
            Intent::Send(
                Command::AddEntry { text, .. }
                | Command::CorrectEntry {
                    text: Some(text), ..
                },
            ) => entry_text_problem(text).map_or(Ok(intent), Err),
            _ => Ok(intent),
        });
        match parsed {
            Ok(Intent::Send(cmd)) => {
                let what = line.trim().trim_start_matches(':').to_string();
                let what = match (cmd.incident(), &cmd) {
                    (Some(r), _) if !what.contains("INC-") => format!("{r}: {what}"),
                    _ => what,
                };
                self.submit(
                    cmd,
                    what,
                    Some(Unsent::Palette(line.trim().to_string())),
                    fx,
                );
            }
            Ok(Intent::Filter(f)) if matches!(self.screen, Screen::Room(_)) => {
                // In a room, `:filter` narrows its timeline.
                if let Screen::Room(r) = self.screen
                    && let Err(e) = self.filter_timeline(r, &f)
                {
                    self.flash(Level::Error, e);
                    self.reopen_palette(line);
                }
            }
            Ok(intent) => self.run_intent(intent, fx),
            Err(e) => {
                self.flash(Level::Error, e);
                // Keep what was typed so it can be fixed rather than retyped.
                self.reopen_palette(line);
            }
        }
    }

    /// The palette open again on `line`, as it was typed.
    fn reopen_palette(&mut self, line: &str) {
        self.mode = Mode::Palette;
        self.palette.input = line.to_string();
        self.refresh_completions();
    }
}

// ---- drawing ---------------------------------------------------------------------------

/// Draws the palette's line over the status line, its completions above it, and an
/// error (a line it could not run) between them.
pub fn render(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
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
    // A window of the suggestions that keeps the one tab takes in sight: shift-tab walks
    // through every one of them.
    let all = &app.palette.completions;
    let selected = app.palette.selected.min(all.len().saturating_sub(1));
    let first = selected.saturating_sub(COMPLETION_ROWS - 1);
    let shown: Vec<&String> = all.iter().skip(first).take(COMPLETION_ROWS).collect();
    if shown.is_empty() {
        return;
    }
    let title = if all.len() > COMPLETION_ROWS {
        format!(
            " {}/{} · tab takes · shift-tab next ",
            selected + 1,
            all.len()
        )
    } else {
        " tab takes · shift-tab next ".to_string()
    };
    let h = shown.len() as u16 + 2;
    let w = (shown.iter().map(|c| c.chars().count()).max().unwrap_or(10) as u16 + 4)
        .max(title.chars().count() as u16 + 2);
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
            let style = if first + i == selected {
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
                .title(title),
        )
        .render(popup, buf);
}
