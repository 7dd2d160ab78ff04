//! What keys and palette lines do. A key in normal mode acts as its row in the command table
//! says ([`crate::tui::commands::Press`]): it runs the row's palette command on the incident
//! in view (so `a` and `:ack` build the acknowledgement in one place, `:ack`'s parser), opens
//! the palette with the command typed, or does what only a key does (moving, paging, one
//! severity step, the next status, pinning). What a palette line asks for ([`Intent`]) is
//! carried out here for keys and palette alike.

use super::app::{App, Effect, Level, Mode, Screen};
use super::commands::{self, Press};
use super::keymap::Action;
use super::layout;
use super::screens::palette::parse::Args;
use crate::model::{Command, IncidentRef, Severity, Status};
use crate::report::export::ExportFormat;

/// What a palette line (or a key that runs one) asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    Send(Command),
    Open(IncidentRef),
    Board,
    /// The archive, searching this line (`None`: the last search).
    Archive(Option<String>),
    Scribe,
    Filter(String),
    Help,
    Quit,
    /// Open the incident's runbook checklist, or (with an item number) tick that item.
    Runbook {
        incident: IncidentRef,
        item: Option<u32>,
    },
    /// Show (`Some(true)`), hide (`Some(false)`) or toggle the room's system entries.
    System(Option<bool>),
    /// The status update form, "what is happening" prefilled with `text`.
    Update {
        incident: IncidentRef,
        text: String,
    },
    /// The post-mortem editor.
    Postmortem(IncidentRef),
    /// Write the incident's export in the current directory.
    Export {
        incident: IncidentRef,
        format: ExportFormat,
    },
    /// The handoff briefing.
    Handoff,
    /// Take over from `from` (`None`: the outgoing primary, if the schedules say).
    AcceptHandoff {
        from: Option<String>,
    },
    /// The metrics screen.
    Metrics,
    /// Show who may see a (restricted) incident.
    Members(IncidentRef),
}

impl App {
    /// A key's action, in normal mode.
    pub(crate) fn action(&mut self, a: Action, fx: &mut Vec<Effect>) {
        let row = commands::row_of(a);
        match (row.press, row.palette) {
            (Press::Command { no_incident }, Some(entry)) => {
                let ctx = self.palette_context();
                match (entry.parse)(&Args::bare(&entry, &ctx)) {
                    Ok(Intent::Send(command)) => {
                        let what = match command.incident() {
                            Some(r) => format!("{} {r}", entry.name),
                            None => entry.name.to_string(),
                        };
                        self.submit(command, what, None, fx);
                    }
                    Ok(intent) => self.run_intent(intent, fx),
                    Err(_) => {
                        if let Some(why) = no_incident {
                            self.flash(Level::Error, why);
                        }
                    }
                }
            }
            (Press::Prefill, Some(entry)) => self.open_palette(&format!("{} ", entry.name)),
            _ => self.key_action(a, fx),
        }
    }

    /// What only a key does.
    fn key_action(&mut self, a: Action, fx: &mut Vec<Effect>) {
        let current = self.selected_incident();
        match a {
            Action::Palette => self.open_palette(""),
            Action::Filter => match self.screen {
                Screen::Room(r) => self.start_search(r),
                Screen::Archive => self.edit_archive_search(),
                Screen::Board | Screen::Metrics => {
                    self.show_board(fx);
                    self.mode = Mode::Filter;
                }
            },
            Action::History => self.open_history(),
            Action::Open => match (self.screen, current) {
                (Screen::Board, Some(r)) => self.open_room(r, fx),
                (Screen::Archive, Some(r)) => {
                    self.open_room(r, fx);
                    self.room_from_archive = self.screen == Screen::Room(r);
                }
                (Screen::Room(_), _) => self.open_history(),
                _ => {}
            },
            Action::Back => {
                if self.clear_search() {
                    // Esc clears the room's search first; the next one leaves the room.
                } else if !self.board.filter.is_empty() && self.screen == Screen::Board {
                    self.board.filter.clear();
                } else if self.room_from_archive && matches!(self.screen, Screen::Room(_)) {
                    // A room opened from the archive goes back to it, as it was.
                    self.back_to_archive(fx);
                } else {
                    self.show_board(fx);
                }
            }
            Action::Up => self.move_cursor(-1),
            Action::Down => self.move_cursor(1),
            Action::PageUp => self.move_cursor(-(layout::timeline_height(self).max(2) as i64 - 1)),
            Action::PageDown => self.move_cursor(layout::timeline_height(self).max(2) as i64 - 1),
            Action::Top => self.move_cursor(i64::MIN / 2),
            Action::Bottom => self.follow(),
            Action::SeverityUp | Action::SeverityDown => {
                self.step_severity(current, a == Action::SeverityUp, fx)
            }
            Action::NextStatus => self.next_status(current, fx),
            Action::Pin => self.toggle_pin(fx),
            Action::FollowNews => self.follow_news(fx),
            Action::HandRole => self.choose_role(),
            Action::DismissNews => self.dismiss_news(),
            // The command table has these run their palette command.
            Action::Declare
            | Action::Ack
            | Action::TakeIc
            | Action::Handoff
            | Action::Resolve
            | Action::Runbook
            | Action::Scribe
            | Action::ToggleSystem
            | Action::ToggleResolved
            | Action::Help
            | Action::Quit => {}
        }
    }

    /// Moves the cursor of the board or the room's timeline by `by` rows.
    fn move_cursor(&mut self, by: i64) {
        match self.screen {
            Screen::Board => self.move_board_cursor(by),
            Screen::Room(r) => self.move_timeline_cursor(r, by),
            Screen::Archive => self.move_archive_cursor(by),
            Screen::Metrics => {}
        }
    }

    /// The cursor to the last row; in a room, following the newest entry.
    fn follow(&mut self) {
        match self.screen {
            Screen::Board => self.board_cursor_to_end(),
            Screen::Room(r) => self.follow_newest(r),
            Screen::Archive => self.archive_cursor_to_end(),
            Screen::Metrics => {}
        }
    }

    /// `+` / `-`: one severity up (SEV3 → SEV2) or down.
    fn step_severity(&mut self, current: Option<IncidentRef>, up: bool, fx: &mut Vec<Effect>) {
        let Some(inc) = current.and_then(|r| self.replica.state.incident(r)) else {
            return;
        };
        let n = inc.severity.number() as i16 + if up { -1 } else { 1 };
        match Severity::try_from(n.clamp(0, 9) as u8) {
            Ok(s) => {
                let r = inc.reference;
                self.submit(
                    Command::SetSeverity {
                        incident: r,
                        severity: s,
                    },
                    format!("{r} → {s}"),
                    None,
                    fx,
                );
            }
            Err(_) => {
                let edge = if up {
                    "SEV1 is the highest"
                } else {
                    "SEV4 is the lowest"
                };
                self.flash(Level::Error, edge);
            }
        }
    }

    /// `s`: the next status (investigating → identified → monitoring → resolved).
    fn next_status(&mut self, current: Option<IncidentRef>, fx: &mut Vec<Effect>) {
        let Some(inc) = current.and_then(|r| self.replica.state.incident(r)) else {
            return;
        };
        let next = match inc.status {
            Status::Investigating => Some(Status::Identified),
            Status::Identified => Some(Status::Monitoring),
            Status::Monitoring => Some(Status::Resolved),
            _ => None,
        };
        let r = inc.reference;
        match next {
            Some(s) => {
                self.submit(
                    Command::SetStatus {
                        incident: r,
                        status: s,
                    },
                    format!("{r} → {s}"),
                    None,
                    fx,
                );
            }
            None => self.flash(
                Level::Error,
                format!("{r} is {}; use :status to reopen", inc.status),
            ),
        }
    }

    /// Carries out what a palette line or a key asks for. A command to send is sent by the
    /// caller, which knows how to describe it in the answer's message.
    pub(crate) fn run_intent(&mut self, intent: Intent, fx: &mut Vec<Effect>) {
        match intent {
            Intent::Send(_) => {}
            Intent::Open(r) => self.open_room(r, fx),
            Intent::Board => self.show_board(fx),
            // `r` again on the archive goes back to the board.
            Intent::Archive(None) if self.screen == Screen::Archive => self.show_board(fx),
            Intent::Archive(line) => self.show_archive(line, fx),
            Intent::Scribe => {
                if let Screen::Room(_) = self.screen {
                    self.mode = Mode::Scribe;
                } else if let Some(r) = self.selected_incident() {
                    self.open_room(r, fx);
                    self.mode = Mode::Scribe;
                }
            }
            Intent::Filter(f) => {
                self.show_board(fx);
                self.board.filter = f;
                self.board.selected = 0;
            }
            Intent::System(show) => self.show_system(show),
            Intent::Update { incident, text } => self.open_update_form(incident, &text, fx),
            Intent::Postmortem(r) => self.open_postmortem(r, fx),
            Intent::Export { incident, format } => self.export(incident, format, fx),
            Intent::Help => self.open_help(),
            Intent::Quit => self.request_quit(fx),
            Intent::Runbook { incident, item } => self.runbook(Some(incident), item, fx),
            Intent::Handoff => self.open_handoff(),
            Intent::AcceptHandoff { from } => self.accept_handoff(from, fx),
            Intent::Members(r) => self.show_members(r),
            Intent::Metrics => self.show_metrics(fx),
        }
    }

    /// `:member`: who may see incident `r`.
    fn show_members(&mut self, r: IncidentRef) {
        let Some(inc) = self.replica.state.incident(r) else {
            self.flash(Level::Error, self.not_here(r));
            return;
        };
        if !inc.restricted {
            self.flash(
                Level::Info,
                format!(
                    "{r} is not restricted: everyone on the feed sees it (:restrict makes it need-to-know)"
                ),
            );
            return;
        }
        let names: Vec<&str> = inc.members.keys().map(String::as_str).collect();
        let names = if names.is_empty() {
            "none (admins only)".to_string()
        } else {
            names.join(", ")
        };
        self.flash(
            Level::Info,
            format!("{r} is restricted · need to know · members: {names} · admins see it too"),
        );
    }
}
