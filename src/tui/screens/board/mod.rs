//! The incident board: the active incidents this person may see, with their severity,
//! status, age, escalation, commander and status-update countdown; a filter line (`/`);
//! how many were resolved recently (the archive, `r`, finds them and every older one). Its
//! state ([`BoardView`]), its keys and its drawing. Columns are added as the terminal widens; a narrow board shortens the
//! escalation cells and spells out the selected incident's under the table.

pub mod cells;
mod draw;

pub use draw::render;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::model::validate::MAX_ENTRY;
use crate::model::{Incident, IncidentRef};
use crate::tui::app::{App, Effect, Mode, Screen};
use crate::tui::paste;

/// The board's own state.
#[derive(Debug, Clone, Default)]
pub struct BoardView {
    pub selected: usize,
    pub filter: String,
}

impl App {
    /// The incidents the board shows, in order: the active ones matching the filter, and
    /// a new SEV1 or SEV2 whether it matches or not (what is new must be seen).
    pub fn board_rows(&self) -> Vec<&Incident> {
        let needle = self.board.filter.to_lowercase();
        self.replica
            .state
            .board()
            .into_iter()
            .filter(|i| i.is_active())
            .filter(|i| {
                needle.is_empty() || matches_filter(i, &needle) || self.is_new_urgent(i.reference)
            })
            .collect()
    }

    /// The new SEV1 and SEV2 incidents on the board that its filter would hide.
    pub fn new_outside_filter(&self) -> usize {
        let needle = self.board.filter.to_lowercase();
        if needle.is_empty() {
            return 0;
        }
        self.board_rows()
            .iter()
            .filter(|i| !matches_filter(i, &needle))
            .count()
    }

    /// How many resolved or closed incidents the board is not showing (those of the feed's
    /// live window; the archive has them, and every older one).
    pub fn hidden_resolved(&self) -> usize {
        self.replica
            .state
            .incidents
            .values()
            .filter(|i| !i.is_active())
            .count()
    }

    /// The incident under the board's cursor, if any.
    pub(crate) fn board_pick(&self) -> Option<IncidentRef> {
        self.board_rows()
            .get(self.board.selected)
            .map(|i| i.reference)
    }

    /// After rows came, went or re-sorted: the cursor stays on `pinned` (the incident the
    /// person chose) when it is still listed, else within the rows.
    pub(crate) fn keep_board_selection(&mut self, pinned: Option<IncidentRef>) {
        let rows = self.board_rows();
        let n = rows.len();
        if let Some(i) = pinned.and_then(|r| rows.iter().position(|x| x.reference == r)) {
            self.board.selected = i;
        } else if self.board.selected >= n {
            self.board.selected = n.saturating_sub(1);
        }
    }

    /// Moves the board's cursor by `by` rows, within the rows.
    pub(crate) fn move_board_cursor(&mut self, by: i64) {
        let n = self.board_rows().len() as i64;
        if n > 0 {
            let by = by.clamp(-n, n);
            self.board.selected = (self.board.selected as i64 + by).clamp(0, n - 1) as usize;
        }
    }

    /// The board's cursor to its last row.
    pub(crate) fn board_cursor_to_end(&mut self) {
        self.board.selected = self.board_rows().len().saturating_sub(1);
    }

    /// Back to the board (from a room or the metrics), the keys back in normal mode.
    pub(crate) fn show_board(&mut self, fx: &mut Vec<Effect>) {
        self.handoff = None;
        self.room_from_archive = false;
        if let Screen::Room(r) = self.screen {
            self.leave_room(r);
        }
        if self.screen == Screen::Archive {
            // What was found goes with the view (`r` asks again); the search line stays.
            self.archive.drop_results();
        }
        if self.screen != Screen::Board {
            self.screen = Screen::Board;
            fx.push(Effect::Focus(None));
        }
        self.mode = Mode::Normal;
    }

    /// Keys while the filter line is open.
    pub(crate) fn filter_key(&mut self, k: KeyEvent) {
        match k.code {
            KeyCode::Esc => {
                self.board.filter.clear();
                self.mode = Mode::Normal;
            }
            KeyCode::Enter => self.mode = Mode::Normal,
            KeyCode::Backspace => {
                self.board.filter.pop();
            }
            KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                self.board.filter.push(c);
            }
            _ => {}
        }
        self.board.selected = 0;
    }

    /// A paste onto the filter line (one line).
    pub(crate) fn filter_paste(&mut self, text: &str) -> Result<(), String> {
        self.board.selected = 0;
        paste::onto_line(&mut self.board.filter, text, MAX_ENTRY, "a filter holds")
    }
}

fn matches_filter(i: &Incident, needle: &str) -> bool {
    let ic = i
        .roles
        .get(&crate::model::Role::IncidentCommander)
        .map_or("", String::as_str);
    [
        i.reference.to_string().as_str(),
        i.title.as_str(),
        i.service.as_deref().unwrap_or(""),
        i.status.as_str(),
        &i.severity.to_string(),
        ic,
    ]
    .iter()
    .any(|f| f.to_lowercase().contains(needle))
}
