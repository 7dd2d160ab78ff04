//! The console's state and its update function: a pure state machine. Keys, feed updates
//! and clock ticks go in; state changes and effects (commands to send, focus to report,
//! quit) come out. No terminal and no network here, so all of it is testable.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::clock::Zone;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tui_textarea::TextArea;

use super::keymap::{Action, Keymap};
use super::palette::{self, Intent};
use super::scribe;
use crate::client::{ConnState, Replica, Update};
use crate::model::validate::MAX_ENTRY;
use crate::model::{Command, EntryKind, Event, Incident, IncidentRef, Severity, Status};
use crate::protocol::Answer;

/// Something that happened to the console.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Paste(String),
    Feed(Update),
    /// The clock moved (once a second).
    Tick(DateTime<Utc>),
    Resize(u16, u16),
    /// An `:export` finished: the file written, or what went wrong.
    Exported {
        incident: IncidentRef,
        result: Result<std::path::PathBuf, String>,
    },
}

/// What the event loop must do for the state machine.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Send {
        id: String,
        command: Command,
    },
    Focus(Option<IncidentRef>),
    /// The replica could not fold an event: ask the feed for a fresh snapshot.
    Resync,
    /// Write the export of `incident` to `file` in the working directory (in the
    /// background; the result comes back as [`Msg::Exported`]).
    Export {
        incident: IncidentRef,
        format: crate::report::export::ExportFormat,
        file: String,
    },
    Quit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Board,
    Room(IncidentRef),
    /// Figures derived from the milestones (`:metrics`).
    Metrics,
}

/// Where keys go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Scribe,
    Palette,
    Filter,
    Help,
    ConfirmQuit,
    /// The runbook checklist overlay has the keys.
    Runbook,
    /// Typing a search in the room's timeline (`/`).
    Search,
    /// The correction history of a timeline entry (`v`).
    History,
    /// The status update form (`:update`).
    UpdateForm,
    /// The post-mortem editor (`:postmortem`).
    Postmortem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

/// A short message in the status line, until the next one (or 8 seconds).
#[derive(Debug, Clone)]
pub struct Flash {
    pub text: String,
    pub level: Level,
    pub at: DateTime<Utc>,
}

/// The board's own state.
#[derive(Debug, Clone, Default)]
pub struct BoardView {
    pub selected: usize,
    pub filter: String,
    pub show_resolved: bool,
}

/// A room's own state: the scribe's draft and the timeline cursor.
pub struct RoomView {
    pub draft: TextArea<'static>,
    /// Selected row in the timeline; `None` follows the newest entry.
    pub cursor: Option<usize>,
    /// First visible row, kept stable while the cursor moves inside the window.
    pub offset: usize,
    /// What the timeline shows (kinds, authors, words, system entries).
    pub filter: super::timeline::TimelineFilter,
    /// The search needle (`/`); empty when not searching.
    pub search: String,
    /// The row the search started from.
    pub search_origin: Option<usize>,
    /// The correction-history overlay.
    pub history: Option<super::timeline::HistoryView>,
    /// The status update being written (kept when the form is closed).
    pub update: Option<super::update_form::UpdateForm>,
    /// The last status update sent and not yet answered: (command id, its form).
    pub update_sent: Option<(String, super::update_form::UpdateForm)>,
    /// The post-mortem editor's draft (kept when the editor is closed).
    pub pm: Option<super::pm_editor::PmEditor>,
}

impl Default for RoomView {
    fn default() -> Self {
        RoomView {
            draft: new_draft(),
            cursor: None,
            offset: 0,
            filter: Default::default(),
            search: String::new(),
            search_origin: None,
            history: None,
            update: None,
            update_sent: None,
            pm: None,
        }
    }
}

fn new_draft() -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_placeholder_text("type what happened; enter records it");
    t
}

/// A scribe draft holding `text`, the cursor at its end.
fn draft_with(text: &str) -> TextArea<'static> {
    let mut t = TextArea::new(text.split('\n').map(str::to_string).collect());
    t.set_placeholder_text("type what happened; enter records it");
    t.move_cursor(tui_textarea::CursorMove::Bottom);
    t.move_cursor(tui_textarea::CursorMove::End);
    t
}

/// The longest palette line: an entry's worth of text and room for the command around it.
pub const MAX_PALETTE_LINE: usize = MAX_ENTRY + 100;

/// How many palette lines the history keeps.
const PALETTE_HISTORY: usize = 500;

/// Text that left a field for the feed and has no answer yet: given back if it is refused.
#[derive(Debug, Clone)]
pub(super) enum Unsent {
    /// A scribe entry, as it was typed (prefixes and `@HH:MM` included).
    Scribe { incident: IncidentRef, text: String },
    /// A palette line.
    Palette(String),
    /// The post-mortem editor's add line.
    ActionItem { incident: IncidentRef, line: String },
}

/// The runbook checklist overlay: whose runbook, and which item the cursor is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunbookView {
    pub incident: IncidentRef,
    /// 0-based index into the runbook's items (item number - 1).
    pub cursor: usize,
}

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
}

/// A room's timeline in occurred-at order, superseded entries left out. Kept up to date
/// event by event so a frame never sorts 100,000 entries.
#[derive(Debug, Clone, Default)]
pub struct TimelineIndex {
    pub rows: Vec<(DateTime<Utc>, u64)>,
}

impl TimelineIndex {
    fn insert(&mut self, key: (DateTime<Utc>, u64)) {
        let at = self.rows.partition_point(|r| *r < key);
        self.rows.insert(at, key);
    }

    fn remove(&mut self, key: (DateTime<Utc>, u64)) {
        if let Ok(at) = self.rows.binary_search(&key) {
            self.rows.remove(at);
        }
    }
}

/// The whole console state.
pub struct App {
    pub replica: Replica,
    pub conn: ConnState,
    /// The feed's address, for the status bar.
    pub feed: String,
    pub screen: Screen,
    pub mode: Mode,
    pub board: BoardView,
    pub rooms: HashMap<IncidentRef, RoomView>,
    pub timelines: HashMap<IncidentRef, TimelineIndex>,
    pub palette: PaletteState,
    /// The open runbook checklist (shown while `mode` is `Runbook`).
    pub runbook: Option<RunbookView>,
    /// The handoff briefing (`:handoff`), drawn over the screen while open.
    pub handoff: Option<super::handoff_view::HandoffView>,
    /// On-call schedules of the feed's policy (the default first), for the briefing,
    /// `:accept-handoff` and pages per shift; empty until the feed has said.
    pub schedules: Vec<crate::model::oncall::Schedule>,
    pub flash: Option<Flash>,
    /// Problems found at start-up (config, theme), shown until the next key press.
    pub notices: Vec<String>,
    /// How far the help overlay is scrolled.
    pub help_offset: usize,
    pub keymap: Keymap,
    pub now: DateTime<Utc>,
    /// The local time zone's offset, for showing and typing times.
    pub tz: Zone,
    pub size: (u16, u16),
    /// What this console sent, by command id, to explain the answers.
    sent: HashMap<String, String>,
    /// Runbook ticks sent and not answered yet, by command id: (incident, item, done).
    ticks_in_flight: HashMap<String, (IncidentRef, u32, bool)>,
    /// Typed text sent and not answered yet, by command id, to give back on a refusal.
    pub(super) unsent: HashMap<String, Unsent>,
    /// The declaration this console is waiting for, to open its room.
    awaiting_declare: Option<String>,
    /// A room to open as soon as its incident reaches the replica.
    open_when_known: Option<IncidentRef>,
    session: String,
    next_id: u64,
    /// Something on screen changed since the last draw.
    pub dirty: bool,
    pub quitting: bool,
}

/// How far the help overlay scrolls at most (drawing stops it at its last line).
const HELP_SCROLL: usize = 200;

/// How long a flash message stays.
const FLASH_SECONDS: i64 = 8;

impl App {
    pub fn new(
        feed: String,
        keymap: Keymap,
        now: DateTime<Utc>,
        tz: impl Into<Zone>,
        session: String,
    ) -> App {
        App {
            replica: Replica::default(),
            conn: ConnState::Connecting,
            feed,
            screen: Screen::Board,
            mode: Mode::Normal,
            board: BoardView::default(),
            rooms: HashMap::new(),
            timelines: HashMap::new(),
            palette: PaletteState::default(),
            runbook: None,
            handoff: None,
            schedules: Vec::new(),
            flash: None,
            notices: Vec::new(),
            help_offset: 0,
            keymap,
            now,
            tz: tz.into(),
            size: (80, 24),
            sent: HashMap::new(),
            ticks_in_flight: HashMap::new(),
            unsent: HashMap::new(),
            awaiting_declare: None,
            open_when_known: None,
            session,
            next_id: 0,
            dirty: true,
            quitting: false,
        }
    }

    // ---- reading -------------------------------------------------------------------------

    /// The incidents the board shows, in order: active ones, then (when shown) resolved.
    pub fn board_rows(&self) -> Vec<&Incident> {
        let needle = self.board.filter.to_lowercase();
        self.replica
            .state
            .board()
            .into_iter()
            .filter(|i| self.board.show_resolved || i.is_active())
            .filter(|i| needle.is_empty() || matches_filter(i, &needle))
            .collect()
    }

    /// How many resolved or closed incidents the board is hiding.
    pub fn hidden_resolved(&self) -> usize {
        if self.board.show_resolved {
            return 0;
        }
        self.replica
            .state
            .incidents
            .values()
            .filter(|i| !i.is_active())
            .count()
    }

    pub fn selected_incident(&self) -> Option<IncidentRef> {
        match self.screen {
            Screen::Room(r) => Some(r),
            Screen::Board => self
                .board_rows()
                .get(self.board.selected)
                .map(|i| i.reference),
            Screen::Metrics => None,
        }
    }

    pub fn room(&self, r: IncidentRef) -> Option<&RoomView> {
        self.rooms.get(&r)
    }

    /// The timeline row the cursor is on (or the newest when following).
    pub fn cursor_row(&self, r: IncidentRef) -> Option<usize> {
        let len = self.timelines.get(&r).map_or(0, |t| t.rows.len());
        if len == 0 {
            return None;
        }
        Some(
            self.rooms
                .get(&r)
                .and_then(|v| v.cursor)
                .unwrap_or(len - 1)
                .min(len - 1),
        )
    }

    /// The selected entry's id, when the timeline has a cursor.
    pub fn selected_entry(&self, r: IncidentRef) -> Option<u64> {
        let row = self.cursor_row(r)?;
        self.timelines.get(&r)?.rows.get(row).map(|(_, id)| *id)
    }

    /// People viewing incident `r` right now.
    pub fn in_room(&self, r: IncidentRef) -> Vec<&str> {
        self.replica
            .presence
            .iter()
            .filter(|p| p.viewing.contains(&r))
            .map(|p| p.name.as_str())
            .collect()
    }

    /// The tick of runbook item `item` of `r` this console has sent and not had answered:
    /// `Some(done)` while in flight.
    pub fn tick_in_flight(&self, r: IncidentRef, item: u32) -> Option<bool> {
        self.ticks_in_flight
            .values()
            .find(|(i, n, _)| *i == r && *n == item)
            .map(|(_, _, done)| *done)
    }

    /// Whether item `item` of `r` is ticked, counting this console's tick in flight.
    fn item_ticked(&self, r: IncidentRef, item: u32) -> bool {
        self.tick_in_flight(r, item).unwrap_or_else(|| {
            self.replica
                .state
                .incident(r)
                .is_some_and(|i| i.runbook_done.contains(&item))
        })
    }

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

    /// Rows the timeline shows at the current size (kept in step with `ui::room_layout`).
    pub fn timeline_height(&self) -> usize {
        let (detail, panel) = match self.screen {
            Screen::Room(r) => (
                self.rooms.get(&r).is_some_and(|v| v.cursor.is_some()),
                self.replica
                    .state
                    .incident(r)
                    .map_or(0, super::ui::escalation_rows),
            ),
            Screen::Board | Screen::Metrics => (false, 0),
        };
        let top = !matches!(self.conn, ConnState::Live) as u16
            + self.notices.len().min(4) as u16
            + panel
            + super::ui::message_rows(self, self.size.0);
        super::ui::timeline_rows(self.size.1, top, detail) as usize
    }

    // ---- updating ------------------------------------------------------------------------

    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let mut fx = Vec::new();
        match msg {
            Msg::Key(k) => {
                self.dirty = true;
                // Notices go away at the next key, which still does what it does.
                self.notices.clear();
                self.key(k, &mut fx);
                // The briefing stays open only under what is drawn over it.
                if !matches!(
                    self.mode,
                    Mode::Normal | Mode::Palette | Mode::Help | Mode::ConfirmQuit
                ) {
                    self.handoff = None;
                }
            }
            Msg::Paste(text) => {
                self.dirty = true;
                self.paste(&text);
            }
            Msg::Feed(u) => self.feed_update(u, &mut fx),
            Msg::Tick(now) => {
                // The board's clock shows minutes.
                let minute_changed = now.timestamp() / 60 != self.now.timestamp() / 60;
                self.now = now;
                if self
                    .flash
                    .as_ref()
                    .is_some_and(|f| (now - f.at).num_seconds() >= FLASH_SECONDS)
                {
                    self.flash = None;
                    self.dirty = true;
                }
                // Ages and countdowns are on screen whenever an incident is active or the
                // connection is counting down to a retry.
                let timers = self.replica.state.incidents.values().any(|i| i.is_active())
                    || matches!(self.conn, ConnState::Reconnecting { .. });
                self.dirty |= timers || minute_changed;
            }
            Msg::Exported { incident, result } => {
                self.dirty = true;
                match result {
                    Ok(path) => self.flash(
                        Level::Info,
                        format!("{incident} exported to {}", path.display()),
                    ),
                    Err(e) => self.flash(Level::Error, format!("export of {incident} failed: {e}")),
                }
            }
            Msg::Resize(w, h) => {
                self.size = (w, h);
                self.dirty = true;
                if let Screen::Room(r) = self.screen {
                    self.keep_cursor_visible(r);
                }
            }
        }
        fx
    }

    /// Shows a problem found at start-up (a broken config or theme file).
    /// The on-call schedules of the feed's policy, the default first. A policy this console
    /// cannot read is said once, and the briefing then names no one on call rather than
    /// someone the feed would not page.
    fn feed_schedules(
        &mut self,
        policy: &crate::model::policy::PublicPolicy,
    ) -> Vec<crate::model::oncall::Schedule> {
        match policy.check() {
            Ok(p) => crate::report::handoff::schedules_default_first(&p),
            Err(errors) => {
                let text = format!(
                    "the feed's policy could not be read here ({}): :handoff names no one on call",
                    errors.join("; ")
                );
                if !self.notices.contains(&text) {
                    self.show_warning(text);
                }
                Vec::new()
            }
        }
    }

    pub fn show_warning(&mut self, text: String) {
        self.notices.push(text);
    }

    pub(super) fn flash(&mut self, level: Level, text: impl Into<String>) {
        self.flash = Some(Flash {
            text: text.into(),
            level,
            at: self.now,
        });
    }

    /// Queues a command for the feed; returns its id.
    pub(super) fn send(&mut self, command: Command, what: String, fx: &mut Vec<Effect>) -> String {
        self.next_id += 1;
        let id = format!("{}-{}", self.session, self.next_id);
        if matches!(command, Command::Declare { .. }) {
            self.awaiting_declare = Some(id.clone());
        }
        self.sent.insert(id.clone(), what);
        fx.push(Effect::Send {
            id: id.clone(),
            command,
        });
        id
    }

    pub(super) fn open_room(&mut self, r: IncidentRef, fx: &mut Vec<Effect>) {
        if self.replica.state.incident(r).is_none() {
            self.flash(Level::Error, self.not_here(r));
            return;
        }
        self.handoff = None;
        self.screen = Screen::Room(r);
        self.rooms.entry(r).or_default();
        if !self.timelines.contains_key(&r)
            && let Some(inc) = self.replica.state.incident(r)
        {
            let filter = self.rooms.get(&r).map(|v| &v.filter);
            let index = TimelineIndex::filtered(inc, filter.unwrap_or(&Default::default()));
            self.timelines.insert(r, index);
        }
        self.keep_cursor_visible(r);
        fx.push(Effect::Focus(Some(r)));
    }

    /// Why incident `r` cannot be shown: restricted and this person is not a member, or
    /// unknown to the feed.
    pub(super) fn not_here(&self, r: IncidentRef) -> String {
        if self.replica.state.withheld.contains(&r) {
            format!(
                "{r} is restricted (need to know) and you are not a member: ask an admin to add you"
            )
        } else {
            format!("{r} does not exist")
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

    /// The room on screen is gone from the replica (restricted and this person no longer a
    /// member, or a snapshot without it): back to the board, saying why. What was being
    /// typed stays: the palette line stays open, drafts stay with their room.
    fn leave_vanished_room(&mut self, r: IncidentRef, fx: &mut Vec<Effect>) {
        self.timelines.remove(&r);
        let keep = matches!(self.mode, Mode::Palette | Mode::Help | Mode::ConfirmQuit);
        let mode = self.mode;
        self.show_board(fx);
        if keep {
            self.mode = mode;
        }
        let why = if self.replica.state.withheld.contains(&r) {
            format!(
                "{r} is restricted (need to know) and you are not a member: back to the board · ask an admin to add you"
            )
        } else {
            format!("{r} is no longer in this feed: back to the board")
        };
        self.flash(Level::Error, why);
    }

    /// Opens the room of an incident this console declared, ready to write in, unless the
    /// person is busy with something else (the palette, the checklist, a draft): the keys
    /// they are typing must not land in another pane.
    fn open_declared(&mut self, r: IncidentRef, fx: &mut Vec<Effect>) {
        if self.mode == Mode::Normal {
            self.open_room(r, fx);
            self.mode = Mode::Scribe;
        } else {
            self.flash(Level::Info, format!("{r} declared · :open {r} goes there"));
        }
    }

    fn show_board(&mut self, fx: &mut Vec<Effect>) {
        self.handoff = None;
        if self.screen != Screen::Board {
            self.screen = Screen::Board;
            fx.push(Effect::Focus(None));
        }
        self.mode = Mode::Normal;
    }

    fn request_quit(&mut self, fx: &mut Vec<Effect>) {
        if self.unsent_text().is_empty() {
            self.quitting = true;
            fx.push(Effect::Quit);
        } else {
            self.mode = Mode::ConfirmQuit;
        }
    }

    fn key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && k.code == KeyCode::Char('c') {
            if self.mode == Mode::ConfirmQuit {
                self.quitting = true;
                fx.push(Effect::Quit);
            } else {
                self.request_quit(fx);
            }
            return;
        }
        match self.mode {
            Mode::ConfirmQuit => match k.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    self.quitting = true;
                    fx.push(Effect::Quit);
                }
                _ => self.mode = Mode::Normal,
            },
            Mode::Help => match k.code {
                KeyCode::Down | KeyCode::Char('j') => {
                    self.help_offset = (self.help_offset + 1).min(HELP_SCROLL)
                }
                KeyCode::Up | KeyCode::Char('k') => {
                    self.help_offset = self.help_offset.saturating_sub(1)
                }
                KeyCode::PageDown | KeyCode::Char(' ') => {
                    self.help_offset = (self.help_offset + 10).min(HELP_SCROLL)
                }
                KeyCode::PageUp => self.help_offset = self.help_offset.saturating_sub(10),
                _ => self.mode = Mode::Normal,
            },
            Mode::Palette => self.palette_key(k, fx),
            Mode::Runbook => self.runbook_key(k, fx),
            Mode::Filter => self.filter_key(k),
            Mode::Scribe => self.scribe_key(k, fx),
            Mode::Search => self.search_key(k),
            Mode::History => self.history_key(k),
            Mode::UpdateForm => self.update_form_key(k, fx),
            Mode::Postmortem => self.postmortem_key(k, fx),
            Mode::Normal if self.handoff.is_some() => self.handoff_key(k, fx),
            Mode::Normal => {
                // While a room search is active, n / N step through its matches.
                if self.search_step(&k) {
                } else if let Some(a) = self.keymap.action(&k) {
                    self.action(a, fx);
                }
            }
        }
    }

    fn action(&mut self, a: Action, fx: &mut Vec<Effect>) {
        let current = self.selected_incident();
        match a {
            Action::Quit => self.request_quit(fx),
            Action::Help => {
                self.mode = Mode::Help;
                self.help_offset = 0;
            }
            Action::Palette => self.open_palette(""),
            Action::Declare => self.open_palette("declare "),
            Action::Filter => {
                if let Screen::Room(r) = self.screen {
                    self.start_search(r);
                    return;
                }
                self.show_board(fx);
                self.mode = Mode::Filter;
            }
            Action::History => self.open_history(),
            Action::ToggleSystem => self.show_system(None),
            Action::ToggleResolved => {
                self.board.show_resolved = !self.board.show_resolved;
                self.board.selected = 0;
            }
            Action::Open => {
                if let (Screen::Board, Some(r)) = (self.screen, current) {
                    self.open_room(r, fx);
                } else if let Screen::Room(_) = self.screen {
                    self.open_history();
                }
            }
            Action::Back => {
                if self.clear_search() {
                    // Esc clears the room's search first; the next one leaves the room.
                } else if !self.board.filter.is_empty() && self.screen == Screen::Board {
                    self.board.filter.clear();
                } else {
                    self.show_board(fx);
                }
            }
            Action::Scribe => {
                if let Screen::Room(_) = self.screen {
                    self.mode = Mode::Scribe;
                } else if let Some(r) = current {
                    self.open_room(r, fx);
                    self.mode = Mode::Scribe;
                }
            }
            Action::Up => self.move_cursor(-1),
            Action::Down => self.move_cursor(1),
            Action::PageUp => self.move_cursor(-(self.timeline_height().max(2) as i64 - 1)),
            Action::PageDown => self.move_cursor(self.timeline_height().max(2) as i64 - 1),
            Action::Top => self.move_cursor(i64::MIN / 2),
            Action::Bottom => self.follow(),
            Action::Ack => {
                if let Some(r) = current {
                    self.send(Command::Acknowledge { incident: r }, format!("ack {r}"), fx);
                }
            }
            Action::Resolve => {
                if let Some(r) = current {
                    self.send(Command::Resolve { incident: r }, format!("resolve {r}"), fx);
                }
            }
            Action::SeverityUp | Action::SeverityDown => {
                if let Some(inc) = current.and_then(|r| self.replica.state.incident(r)) {
                    let n =
                        inc.severity.number() as i16 + if a == Action::SeverityUp { -1 } else { 1 };
                    match Severity::try_from(n.clamp(0, 9) as u8) {
                        Ok(s) => {
                            let r = inc.reference;
                            self.send(
                                Command::SetSeverity {
                                    incident: r,
                                    severity: s,
                                },
                                format!("{r} → {s}"),
                                fx,
                            );
                        }
                        Err(_) => {
                            let edge = if a == Action::SeverityUp {
                                "SEV1 is the highest"
                            } else {
                                "SEV4 is the lowest"
                            };
                            self.flash(Level::Error, edge);
                        }
                    }
                }
            }
            Action::NextStatus => {
                if let Some(inc) = current.and_then(|r| self.replica.state.incident(r)) {
                    let next = match inc.status {
                        Status::Investigating => Some(Status::Identified),
                        Status::Identified => Some(Status::Monitoring),
                        Status::Monitoring => Some(Status::Resolved),
                        _ => None,
                    };
                    let r = inc.reference;
                    match next {
                        Some(s) => {
                            self.send(
                                Command::SetStatus {
                                    incident: r,
                                    status: s,
                                },
                                format!("{r} → {s}"),
                                fx,
                            );
                        }
                        None => self.flash(
                            Level::Error,
                            format!("{r} is {}; use :status to reopen", inc.status),
                        ),
                    }
                }
            }
            Action::Runbook => self.runbook(current, None, fx),
            Action::Pin => {
                if let Screen::Room(r) = self.screen {
                    match self.selected_entry(r) {
                        Some(id) => {
                            let pinned = self
                                .replica
                                .state
                                .incident(r)
                                .and_then(|i| i.entry(id))
                                .is_some_and(|e| e.pinned);
                            let what = if pinned { "unpin" } else { "pin" };
                            self.send(
                                Command::PinEntry {
                                    incident: r,
                                    entry: id,
                                    pinned: !pinned,
                                },
                                format!("{what} entry {id}"),
                                fx,
                            );
                        }
                        None => self.flash(Level::Error, "no timeline entry to pin"),
                    }
                }
            }
        }
    }

    fn move_cursor(&mut self, by: i64) {
        match self.screen {
            Screen::Board => {
                let n = self.board_rows().len() as i64;
                if n > 0 {
                    let by = by.clamp(-n, n);
                    self.board.selected =
                        (self.board.selected as i64 + by).clamp(0, n - 1) as usize;
                }
            }
            Screen::Room(r) => {
                let len = self.timelines.get(&r).map_or(0, |t| t.rows.len()) as i64;
                if len == 0 {
                    return;
                }
                let cur = self.cursor_row(r).unwrap_or(0) as i64;
                let next = (cur.saturating_add(by)).clamp(0, len - 1) as usize;
                let view = self.rooms.entry(r).or_default();
                view.cursor = if next as i64 == len - 1 && by > 0 {
                    None
                } else {
                    Some(next)
                };
                self.keep_cursor_visible(r);
            }
            Screen::Metrics => {}
        }
    }

    fn follow(&mut self) {
        match self.screen {
            Screen::Board => {
                self.board.selected = self.board_rows().len().saturating_sub(1);
            }
            Screen::Room(r) => {
                self.rooms.entry(r).or_default().cursor = None;
                self.keep_cursor_visible(r);
            }
            Screen::Metrics => {}
        }
    }

    /// Moves the window only as far as needed to keep the cursor in it.
    pub(super) fn keep_cursor_visible(&mut self, r: IncidentRef) {
        let h = self.timeline_height().max(1);
        let len = self.timelines.get(&r).map_or(0, |t| t.rows.len());
        let row = self.cursor_row(r).unwrap_or(0);
        let view = self.rooms.entry(r).or_default();
        if view.cursor.is_none() {
            view.offset = len.saturating_sub(h);
            return;
        }
        if row < view.offset {
            view.offset = row;
        } else if row >= view.offset + h {
            view.offset = row + 1 - h;
        }
        view.offset = view.offset.min(len.saturating_sub(h));
    }

    fn open_palette(&mut self, prefill: &str) {
        self.mode = Mode::Palette;
        self.palette = PaletteState {
            input: prefill.to_string(),
            history: std::mem::take(&mut self.palette.history),
            ..Default::default()
        };
        self.refresh_completions();
    }

    /// Keeps a palette line in the history (once, as the newest).
    fn remember_palette_line(&mut self, line: &str) {
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

    fn refresh_completions(&mut self) {
        let refs: Vec<IncidentRef> = self
            .replica
            .state
            .incidents
            .values()
            .map(|i| i.reference)
            .collect();
        self.palette.completions = palette::complete(&self.palette.input, &refs);
        self.palette.selected = 0;
    }

    fn palette_key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let walks_history = matches!(k.code, KeyCode::Up | KeyCode::Down)
            || (ctrl && matches!(k.code, KeyCode::Char('p' | 'n')));
        if !walks_history {
            // Editing a line taken from the history makes it the line being typed.
            self.palette.history_pos = None;
        }
        match k.code {
            KeyCode::Esc => self.mode = Mode::Normal,
            KeyCode::Enter => {
                let line = std::mem::take(&mut self.palette.input);
                self.remember_palette_line(&line);
                self.mode = Mode::Normal;
                self.run_palette(&line, fx);
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
                    self.mode = Mode::Normal;
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

    fn run_palette(&mut self, line: &str, fx: &mut Vec<Effect>) {
        let ctx = palette::Context {
            incident: self.selected_incident(),
            entry: match self.screen {
                Screen::Room(r) => self.selected_entry(r),
                Screen::Board | Screen::Metrics => None,
            },
            now: self.now,
            tz: self.tz,
        };
        // What the feed would refuse in an entry's text is refused here, the line kept.
        let parsed = palette::parse(line, &ctx).and_then(|intent| match &intent {
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
                let id = self.send(cmd, what, fx);
                self.unsent
                    .insert(id, Unsent::Palette(line.trim().to_string()));
            }
            Ok(Intent::Open(r)) => self.open_room(r, fx),
            Ok(Intent::Board) => self.show_board(fx),
            Ok(Intent::ToggleResolved) => self.action(Action::ToggleResolved, fx),
            Ok(Intent::Scribe) => self.action(Action::Scribe, fx),
            Ok(Intent::Filter(f)) if matches!(self.screen, Screen::Room(_)) => {
                // In a room, `:filter` narrows its timeline.
                if let Screen::Room(r) = self.screen
                    && let Err(e) = self.filter_timeline(r, &f)
                {
                    self.flash(Level::Error, e);
                    self.mode = Mode::Palette;
                    self.palette.input = line.to_string();
                    self.refresh_completions();
                }
            }
            Ok(Intent::System(show)) => self.show_system(show),
            Ok(Intent::Update { incident, text }) => self.open_update_form(incident, &text, fx),
            Ok(Intent::Postmortem(r)) => self.open_postmortem(r, fx),
            Ok(Intent::Export { incident, format }) => self.export(incident, format, fx),
            Ok(Intent::Filter(f)) => {
                self.show_board(fx);
                self.board.filter = f;
                self.board.selected = 0;
            }
            Ok(Intent::Help) => {
                self.mode = Mode::Help;
                self.help_offset = 0;
            }
            Ok(Intent::Quit) => self.request_quit(fx),
            Ok(Intent::Runbook { incident, item }) => self.runbook(Some(incident), item, fx),
            Ok(Intent::Handoff) => self.handoff = Some(Default::default()),
            Ok(Intent::AcceptHandoff { from }) => self.accept_handoff(from, fx),
            Ok(Intent::Members(r)) => self.show_members(r),
            Ok(Intent::Metrics) => {
                // Leaves the room as the board does (focus cleared); Esc comes back.
                self.show_board(fx);
                self.screen = Screen::Metrics;
            }
            Err(e) => {
                self.flash(Level::Error, e);
                // Keep what was typed so it can be fixed rather than retyped.
                self.mode = Mode::Palette;
                self.palette.input = line.to_string();
                self.refresh_completions();
            }
        }
    }

    /// Keys while the handoff briefing is open: scrolling, Esc, and the palette and help.
    fn handoff_key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
        use super::handoff_view::{self, Outcome};
        let (rows, page) = handoff_view::extent(self);
        let Some(view) = self.handoff.as_mut() else {
            return;
        };
        match handoff_view::key(view, &k, &self.keymap, rows, page) {
            Outcome::Stay => {}
            Outcome::Close => self.handoff = None,
            Outcome::Act(a) => self.action(a, fx),
        }
    }

    /// `:accept-handoff [NAME]`: takes over from NAME, by default the outgoing primary of
    /// the default schedule.
    fn accept_handoff(&mut self, from: Option<String>, fx: &mut Vec<Effect>) {
        let from = from.or_else(|| crate::report::handoff::outgoing(&self.schedules, self.now));
        match from {
            Some(from) => {
                let what = format!("accept handoff from {from}");
                self.send(Command::AcceptHandoff { from }, what, fx);
            }
            None => self.flash(
                Level::Error,
                "usage: :accept-handoff NAME — no on-call schedule names the outgoing primary",
            ),
        }
    }

    /// `:runbook` / the runbook key: opens the checklist of `r`; with `item`, ticks it.
    fn runbook(&mut self, r: Option<IncidentRef>, item: Option<u32>, fx: &mut Vec<Effect>) {
        let Some(r) = r else {
            self.flash(
                Level::Error,
                "open an incident (or select one on the board) to see its runbook",
            );
            return;
        };
        let Some(inc) = self.replica.state.incident(r) else {
            self.flash(Level::Error, self.not_here(r));
            return;
        };
        let Some(rb) = &inc.runbook else {
            let why = match &inc.service {
                Some(s) => format!("{r} has no runbook attached (none is known for {})", s),
                None => format!("{r} has no runbook attached (it names no service)"),
            };
            self.flash(Level::Error, why);
            return;
        };
        let count = rb.item_count();
        match item {
            None => {
                // Start on the first item nobody has ticked yet.
                let cursor = (1..=count)
                    .find(|n| !inc.runbook_done.contains(n))
                    .map_or(0, |n| n as usize - 1);
                self.runbook = Some(RunbookView {
                    incident: r,
                    cursor,
                });
                self.mode = Mode::Runbook;
            }
            Some(n) if n == 0 || n > count => self.flash(
                Level::Error,
                format!("{r}'s runbook has items 1 to {count}; there is no item {n}"),
            ),
            Some(n) if self.item_ticked(r, n) => self.flash(
                Level::Info,
                format!(
                    "{r}: runbook step {n} is already ticked ({} then space unticks it)",
                    self.keymap.keys(Action::Runbook)
                ),
            ),
            Some(n) => self.tick(r, n, true, fx),
        }
    }

    fn tick(&mut self, r: IncidentRef, item: u32, done: bool, fx: &mut Vec<Effect>) {
        let word = if done { "tick" } else { "untick" };
        let id = self.send(
            Command::CheckRunbookStep {
                incident: r,
                item,
                done,
            },
            format!("{r}: {word} runbook step {item}"),
            fx,
        );
        self.ticks_in_flight.insert(id, (r, item, done));
    }

    fn close_runbook(&mut self) {
        self.runbook = None;
        if self.mode == Mode::Runbook {
            self.mode = Mode::Normal;
        }
    }

    /// Keys while the checklist is open: they move, tick, or close it, and nothing else.
    fn runbook_key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
        let Some(view) = self.runbook else {
            self.mode = Mode::Normal;
            return;
        };
        let r = view.incident;
        let count = self
            .replica
            .state
            .incident(r)
            .and_then(|i| i.runbook.as_ref())
            .map_or(0, |rb| rb.item_count() as usize);
        let plain = !k
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        let by: Option<i64> = match k.code {
            KeyCode::Esc => {
                self.close_runbook();
                return;
            }
            KeyCode::Enter | KeyCode::Char(' ') if plain => {
                if count == 0 {
                    self.flash(
                        Level::Error,
                        format!("{r} has no runbook attached any more"),
                    );
                    return;
                }
                let item = view.cursor.min(count - 1) as u32 + 1;
                let done = !self.item_ticked(r, item);
                self.tick(r, item, done, fx);
                return;
            }
            KeyCode::Up | KeyCode::Char('k') if plain => Some(-1),
            KeyCode::Down | KeyCode::Char('j') if plain => Some(1),
            KeyCode::PageUp => Some(-10),
            KeyCode::PageDown => Some(10),
            KeyCode::Home | KeyCode::Char('g') if plain => Some(i64::MIN / 2),
            KeyCode::End | KeyCode::Char('G') if plain => Some(i64::MAX / 2),
            _ => match self.keymap.action(&k) {
                Some(Action::Up) => Some(-1),
                Some(Action::Down) => Some(1),
                Some(Action::PageUp) => Some(-10),
                Some(Action::PageDown) => Some(10),
                Some(Action::Top) => Some(i64::MIN / 2),
                Some(Action::Bottom) => Some(i64::MAX / 2),
                Some(Action::Runbook) => {
                    self.close_runbook();
                    return;
                }
                _ => None,
            },
        };
        if let (Some(by), Some(v)) = (by, self.runbook.as_mut())
            && count > 0
        {
            let next = (v.cursor as i64)
                .saturating_add(by)
                .clamp(0, count as i64 - 1);
            v.cursor = next as usize;
        }
    }

    fn filter_key(&mut self, k: KeyEvent) {
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

    fn scribe_key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
        let Screen::Room(r) = self.screen else {
            self.mode = Mode::Normal;
            return;
        };
        let alt = k.modifiers.contains(KeyModifiers::ALT);
        match k.code {
            KeyCode::Esc => self.mode = Mode::Normal,
            KeyCode::Enter if alt || k.modifiers.contains(KeyModifiers::SHIFT) => {
                self.rooms.entry(r).or_default().draft.insert_newline();
            }
            KeyCode::Enter => {
                let text = self.rooms.entry(r).or_default().draft.lines().join("\n");
                if text.trim().is_empty() {
                    return;
                }
                // What the feed would refuse for its text is refused here, before the
                // draft leaves the pane.
                let parsed = scribe::parse(&text, self.now, self.tz).and_then(|line| {
                    entry_text_problem(&line.text).map_or(Ok(line), |why| {
                        Err(format!("not recorded: {why} · your draft is as it was"))
                    })
                });
                match parsed {
                    Ok(line) => {
                        let short: String = line.text.chars().take(40).collect();
                        let id = self.send(
                            Command::AddEntry {
                                incident: r,
                                entry_kind: line.kind,
                                text: line.text,
                                occurred_at: line.occurred_at,
                                next_update_secs: None,
                            },
                            format!("{r}: {short}"),
                            fx,
                        );
                        self.unsent.insert(id, Unsent::Scribe { incident: r, text });
                        self.rooms.entry(r).or_default().draft = new_draft();
                        self.follow();
                    }
                    Err(e) => self.flash(Level::Error, e),
                }
            }
            // `:` on an empty draft is the palette, as everywhere else: a command typed
            // here must not land on the timeline, which keeps every entry for good.
            KeyCode::Char(':')
                if !k
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
                    && self.draft_is_empty(r) =>
            {
                self.open_palette("");
            }
            _ => {
                self.rooms.entry(r).or_default().draft.input(k);
            }
        }
    }

    fn draft_is_empty(&self, r: IncidentRef) -> bool {
        self.rooms
            .get(&r)
            .is_none_or(|v| v.draft.lines().iter().all(|l| l.is_empty()))
    }

    /// A bracketed paste: one event, so nothing in it is read as a key. The field with the
    /// keys takes it through [`super::paste`]; one that would grow past its limit takes
    /// none of it and says why.
    fn paste(&mut self, text: &str) {
        use super::paste::{self, Lines};
        tracing::debug!(
            "paste of {} characters ({} CR, {} LF) in {:?}",
            text.chars().count(),
            text.matches('\r').count(),
            text.matches('\n').count(),
            self.mode
        );
        let done = match (self.mode, self.screen) {
            (Mode::Scribe, Screen::Room(r)) => {
                let (now, tz) = (self.now, self.tz);
                let draft = &mut self.rooms.entry(r).or_default().draft;
                paste::into_area(draft, text, Lines::Many, MAX_ENTRY, "an entry holds", |t| {
                    scribe_entry_len(t, now, tz)
                })
            }
            (Mode::Palette, _) => {
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
            (Mode::Filter, _) => {
                self.board.selected = 0;
                paste::onto_line(&mut self.board.filter, text, MAX_ENTRY, "a filter holds")
            }
            (Mode::Search, _) => self.search_paste(text),
            (Mode::UpdateForm, _) => self.update_form_paste(text),
            (Mode::Postmortem, _) => self.postmortem_paste(text),
            (Mode::Normal, _) if self.handoff.is_none() => {
                let writes = match self.screen {
                    Screen::Room(_) => format!(
                        "{} writes in the scribe pane, ",
                        self.keymap.keys(Action::Scribe)
                    ),
                    _ => String::new(),
                };
                Err(format!(
                    "nothing here takes text: {writes}{} opens the palette; then paste",
                    self.keymap.keys(Action::Palette)
                ))
            }
            _ => Ok(()),
        };
        if let Err(why) = done {
            self.flash(Level::Error, why);
        }
    }

    fn feed_update(&mut self, u: Update, fx: &mut Vec<Effect>) {
        // The board's cursor stays on its incident while rows come, go and re-sort: a
        // single key (`a`, `+`) must act on the incident the person chose, not on whatever
        // moved into its row.
        let pinned = self
            .board_rows()
            .get(self.board.selected)
            .map(|i| i.reference);
        // A snapshot mid-stream may let this person into restricted incidents: say which.
        let was_withheld = matches!(u, Update::Snapshot(_))
            .then(|| self.replica.state.withheld.clone())
            .unwrap_or_default();
        if let Err(e) = self.replica.apply(&u) {
            self.flash(Level::Error, format!("resynchronising: {e}"));
            fx.push(Effect::Resync);
            return;
        }
        self.dirty = true;
        match u {
            Update::Conn(c) => self.conn = c,
            Update::Snapshot(_) => {
                let let_in: Vec<String> = was_withheld
                    .iter()
                    .filter(|r| self.replica.state.incident(**r).is_some())
                    .map(|r| r.to_string())
                    .collect();
                if !let_in.is_empty() {
                    self.flash(
                        Level::Info,
                        format!(
                            "you were added to the members of {} (restricted: need to know)",
                            let_in.join(", ")
                        ),
                    );
                }
                self.timelines.clear();
                let open: Vec<IncidentRef> = self.rooms.keys().copied().collect();
                for r in open {
                    if let Some(inc) = self.replica.state.incident(r) {
                        let filter = self.rooms.get(&r).map(|v| &v.filter);
                        let index =
                            TimelineIndex::filtered(inc, filter.unwrap_or(&Default::default()));
                        self.timelines.insert(r, index);
                    }
                }
            }
            Update::Event(e) => {
                self.index_event(&e);
                if self.open_when_known == Some(e.kind.incident()) {
                    self.open_when_known = None;
                    self.open_declared(e.kind.incident(), fx);
                }
            }
            Update::Answer {
                id,
                command,
                answer,
            } => self.answered(&id, &command, answer, fx),
            Update::ServerError { message, .. } => self.flash(Level::Error, message),
            Update::Policy(p) => self.schedules = self.feed_schedules(&p),
            Update::Welcome { .. }
            | Update::Synced(_)
            | Update::Presence(_)
            | Update::Queued(_) => {}
        }
        // A snapshot without it, or a `withheld` event (restricted, and this person was
        // taken off its members), takes the open room away.
        if let Screen::Room(r) = self.screen
            && self.replica.state.incident(r).is_none()
        {
            self.leave_vanished_room(r, fx);
        }
        self.sync_postmortems();
        // The checklist's incident can vanish with a fresh snapshot: the overlay goes too.
        if let Some(view) = self.runbook
            && self.replica.state.incident(view.incident).is_none()
        {
            self.close_runbook();
        }
        let rows = self.board_rows();
        let n = rows.len();
        if let Some(i) = pinned.and_then(|r| rows.iter().position(|x| x.reference == r)) {
            self.board.selected = i;
        } else if self.board.selected >= n {
            self.board.selected = n.saturating_sub(1);
        }
    }

    /// Keeps the timeline index of an open room in step with one event.
    fn index_event(&mut self, e: &Event) {
        let r = e.kind.incident();
        let Some(index) = self.timelines.get_mut(&r) else {
            return;
        };
        let Some(inc) = self.replica.state.incident(r) else {
            // Withheld from this reader now: its index goes with it.
            self.timelines.remove(&r);
            return;
        };
        if let crate::model::EventKind::EntryCorrected { entry, .. } = &e.kind
            && let Some(old) = inc.entry(*entry)
        {
            index.remove((old.occurred_at, old.id));
        }
        let shown =
            |new: &crate::model::Entry| self.rooms.get(&r).is_none_or(|v| v.filter.matches(new));
        if let Some(new) = inc.entry(e.seq).filter(|new| shown(new)) {
            let key = (new.occurred_at, new.id);
            let at = index.rows.partition_point(|row| *row < key);
            // A cursor below the insertion point moves with its entry.
            if let Some(view) = self.rooms.get_mut(&r)
                && let Some(c) = view.cursor.as_mut()
                && *c >= at
            {
                *c += 1;
            }
            index.insert(key);
        }
        if self.screen == Screen::Room(r) {
            self.keep_cursor_visible(r);
        }
    }

    /// A command the feed refused gives back the text it carried, to where it was typed:
    /// a scribe entry to its room's draft (before whatever was typed since), a palette
    /// line to the palette's history, an action item to the post-mortem's add line.
    /// Entries queued by an earlier run come back to their room's draft, rebuilt from the
    /// command. Returns what to add to the refusal's message.
    fn give_back(&mut self, id: &str, unsent: Option<Unsent>, command: &Command) -> String {
        let unsent = match (unsent, command) {
            (Some(u), _) => u,
            // The status-update form takes its own refusals back.
            (None, Command::AddEntry { .. })
                if self
                    .rooms
                    .values()
                    .any(|v| v.update_sent.as_ref().is_some_and(|(s, _)| s == id)) =>
            {
                return String::new();
            }
            (
                None,
                Command::AddEntry {
                    incident,
                    entry_kind,
                    text,
                    occurred_at,
                    ..
                },
            ) => Unsent::Scribe {
                incident: *incident,
                text: self.entry_as_typed(*entry_kind, text, *occurred_at),
            },
            (
                None,
                Command::AddActionItem {
                    incident,
                    text,
                    owner,
                    due,
                },
            ) => Unsent::ActionItem {
                incident: *incident,
                line: action_line(text, owner, *due),
            },
            (None, _) => return String::new(),
        };
        match unsent {
            Unsent::Scribe { incident, text } => {
                let view = self.rooms.entry(incident).or_default();
                let typed = view.draft.lines().join("\n");
                view.draft = if typed.trim().is_empty() {
                    draft_with(&text)
                } else {
                    draft_with(&format!("{text}\n{typed}"))
                };
                if self.screen == Screen::Room(incident) {
                    " · your text is back in the scribe pane".to_string()
                } else {
                    format!(" · your text is back in the scribe pane of {incident}")
                }
            }
            Unsent::Palette(line) => {
                self.remember_palette_line(&line);
                format!(
                    " · {} then ↑ brings the command back",
                    self.keymap.keys(Action::Palette)
                )
            }
            Unsent::ActionItem { incident, line } => {
                if self.give_back_action_item(incident, &line) {
                    " · your text is back in the post-mortem's add line (:pm)".to_string()
                } else {
                    self.remember_palette_line(&format!("action {incident} {line}"));
                    format!(
                        " · {} then ↑ brings it back as :action",
                        self.keymap.keys(Action::Palette)
                    )
                }
            }
        }
    }

    /// An entry as the scribe would have typed it: `@HH:MM` when backdated, the kind's
    /// prefix unless it is a note.
    fn entry_as_typed(
        &self,
        kind: EntryKind,
        text: &str,
        occurred_at: Option<DateTime<Utc>>,
    ) -> String {
        let at = occurred_at
            .map(|t| format!("@{} ", t.with_timezone(&self.tz).format("%H:%M")))
            .unwrap_or_default();
        let prefix = scribe::PREFIXES
            .iter()
            .find(|(_, _, k)| *k == kind && kind != EntryKind::Note)
            .map(|(p, _, _)| format!("{p} "))
            .unwrap_or_default();
        format!("{at}{prefix}{text}")
    }

    fn answered(&mut self, id: &str, command: &Command, answer: Answer, fx: &mut Vec<Effect>) {
        let what = self
            .sent
            .remove(id)
            .unwrap_or_else(|| "a command queued earlier".to_string());
        self.ticks_in_flight.remove(id);
        let unsent = self.unsent.remove(id);
        match answer {
            Answer::Ok { incident, seqs } => {
                match command {
                    Command::AcceptHandoff { from } => {
                        let done = crate::report::handoff::accepted(&self.replica.state, &seqs);
                        self.flash(
                            Level::Info,
                            crate::report::handoff::accepted_summary(from, &done),
                        );
                    }
                    Command::Acknowledge { incident } => {
                        self.flash(Level::Info, format!("{incident} acknowledged"));
                    }
                    Command::Restrict { incident } => {
                        self.flash(
                            Level::Info,
                            format!(
                                "{incident} is restricted: only its members and admins see it (:member lists them)"
                            ),
                        );
                    }
                    Command::AddMember { incident, person }
                    | Command::RemoveMember { incident, person } => {
                        let who = if person.eq_ignore_ascii_case("me") {
                            "you"
                        } else {
                            person.as_str()
                        };
                        let what = if matches!(command, Command::AddMember { .. }) {
                            "added to"
                        } else {
                            "removed from"
                        };
                        self.flash(Level::Info, format!("{incident}: {who} {what} the members"));
                    }
                    Command::CheckRunbookStep {
                        incident,
                        item,
                        done,
                    } => {
                        let word = if *done { "done" } else { "unticked" };
                        self.flash(
                            Level::Info,
                            format!("{incident}: runbook step {item} {word}"),
                        );
                    }
                    _ => self.record_answered(id, command),
                }
                if self.awaiting_declare.as_deref() == Some(id) {
                    self.awaiting_declare = None;
                    if let Some(r) = incident {
                        self.flash(Level::Info, format!("{r} declared"));
                        if self.replica.state.incident(r).is_some() {
                            self.open_declared(r, fx);
                        } else {
                            self.open_when_known = Some(r);
                        }
                    }
                }
            }
            Answer::Error { code, message } => {
                let given_back = self.give_back(id, unsent, command);
                let hint = self.record_refused(id, command, &message) + &given_back;
                if code == crate::protocol::ErrorCode::Forbidden {
                    // "not allowed: …" says it plainly (the refusals of restricted incidents
                    // and of membership changes say why, not that they are refusals).
                    let message = crate::protocol::not_allowed(&message);
                    self.flash(Level::Error, format!("{message} ({what}){hint}"));
                } else {
                    self.flash(Level::Error, format!("refused ({what}): {message}{hint}"));
                }
            }
        }
    }
}

/// What the feed would refuse in an entry's text (too long, control characters), in its
/// own words; `None` when it is fine.
pub(super) fn entry_text_problem(text: &str) -> Option<String> {
    crate::model::validate::text("entry text", text, MAX_ENTRY, true)
        .err()
        .map(|r| r.message)
}

/// How long the entry in a scribe draft is, as the feed counts it: the text without the
/// `@HH:MM` and kind prefixes.
fn scribe_entry_len(draft: &str, now: DateTime<Utc>, tz: Zone) -> usize {
    scribe::parse(draft, now, tz).map_or_else(
        |_| super::paste::trimmed_len(draft),
        |l| l.text.chars().count(),
    )
}

/// An action item as the add line takes it: `TEXT @owner due:YYYY-MM-DD`.
fn action_line(text: &str, owner: &str, due: Option<chrono::NaiveDate>) -> String {
    let due = due.map(|d| format!(" due:{d}")).unwrap_or_default();
    format!("{text} @{owner}{due}")
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

/// Roles in the order rooms show them.
pub const ROLE_ORDER: [crate::model::Role; 4] = [
    crate::model::Role::IncidentCommander,
    crate::model::Role::TechLead,
    crate::model::Role::CommsLead,
    crate::model::Role::Scribe,
];
