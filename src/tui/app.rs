//! The console's state and its update function: a pure state machine. Keys, feed updates
//! and clock ticks go in; state changes and effects (commands to send, focus to report,
//! quit) come out. No terminal and no network here, so all of it is testable.
//!
//! This file holds the [`App`] and dispatches: a key goes to the screen or overlay that has
//! the keys ([`Mode`]), in normal mode through the command table ([`super::actions`]); a
//! feed update to [`super::feed`]. Each screen's own state, keys and drawing are in its file
//! under [`super::screens`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::time::Instant;

use super::keymap::{Action, Keymap};
use crate::client::{ConnState, Replica, Update};
use crate::clock::Zone;
use crate::model::{Command, IncidentRef};

pub use super::screens::archive::ArchiveView;
pub use super::screens::board::BoardView;
pub use super::screens::handoff::HandoffView;
pub use super::screens::metrics::MetricsView;
pub use super::screens::news::{News, NewsKind};
pub use super::screens::palette::{MAX_PALETTE_LINE, PaletteState};
pub use super::screens::room::timeline::TimelineIndex;
pub use super::screens::room::{ROLE_ORDER, RoomView};
pub use super::screens::runbook::RunbookView;

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
    /// Ask the feed a question (a room's newest or older entries, an archive page, the
    /// metrics); the answer comes back as an `Update::Result` (or `QueryFailed`) with `id`.
    Query {
        id: String,
        query: crate::protocol::Query,
    },
    /// Write the export of `incident` to `file` in the working directory: asked of the
    /// feed and written in the background; the result comes back as [`Msg::Exported`].
    Export {
        incident: IncidentRef,
        format: crate::report::export::ExportFormat,
        file: String,
    },
    /// Ring the terminal's bell (a new SEV1 or SEV2, a page to this person).
    Bell,
    Quit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Board,
    Room(IncidentRef),
    /// Figures derived from the milestones (`:metrics`).
    Metrics,
    /// The archive: every incident the feed has, searched and paged (`r`, `:archive`).
    Archive,
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
    /// A change that cannot be taken back waits for `y` ([`App::pending`]).
    Confirm,
    /// Which role to hand (`A`): one key picks it, then the palette asks whom.
    ChooseRole,
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

/// Text that left a field for the feed and has no answer yet: given back if it is refused.
#[derive(Debug, Clone)]
pub(crate) enum Unsent {
    /// A scribe entry, as it was typed (prefixes and `@HH:MM` included).
    Scribe { incident: IncidentRef, text: String },
    /// A palette line.
    Palette(String),
    /// The post-mortem editor's add line.
    ActionItem { incident: IncidentRef, line: String },
}

/// What a query this console asked is for, by its id: where its answer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Asked {
    /// A room's incident with its newest entries.
    Open(IncidentRef),
    /// A page of a room's older entries.
    Page(IncidentRef),
    /// A page of the archive's search.
    Archive,
    /// The metrics screen's figures.
    Metrics,
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
    /// The archive view's search and what the feed answered (`r`).
    pub archive: ArchiveView,
    /// The metrics screen's figures, as the feed answered them (`:metrics`).
    pub metrics: MetricsView,
    pub rooms: HashMap<IncidentRef, RoomView>,
    pub timelines: HashMap<IncidentRef, TimelineIndex>,
    pub palette: PaletteState,
    /// The open runbook checklist (shown while `mode` is `Runbook`).
    pub runbook: Option<RunbookView>,
    /// The handoff briefing (`:handoff`), drawn over the screen while open.
    pub handoff: Option<HandoffView>,
    /// On-call schedules of the feed's policy (the default first), for the briefing,
    /// `:accept-handoff` and pages per shift; empty until the feed has said.
    pub schedules: Vec<crate::model::oncall::Schedule>,
    /// The feed's policy as it told this console (`None` until it has, or when it could
    /// not be read): whom `:page` completes, a room's bridge.
    pub feed_policy: Option<crate::model::policy::Policy>,
    pub flash: Option<Flash>,
    /// Problems found at start-up (config, theme), shown until the next key press.
    pub notices: Vec<String>,
    /// What is new (declared, raised to SEV1/SEV2, a page to this person), shown above
    /// every screen until followed or dismissed; oldest first.
    pub news: Vec<News>,
    /// Whether a new SEV1 or SEV2 (or a page to this person) rings the terminal's bell.
    pub bell: bool,
    /// The console has been in step with the feed once: events from then on are news.
    pub(crate) ever_synced: bool,
    /// `warroom demo`: marked as such; follows a declaration into its room.
    pub demo: bool,
    /// What the demo says to do next, above the screen (once its incident is resolved).
    pub demo_hint: Option<String>,
    /// How far the help overlay is scrolled.
    pub help_offset: usize,
    pub keymap: Keymap,
    pub now: DateTime<Utc>,
    /// The monotonic clock as of the last message: what the connection's retry countdown
    /// (an [`Instant`], as the client states it) is measured from when drawing.
    pub instant: Instant,
    /// The local time zone's offset, for showing and typing times.
    pub tz: Zone,
    pub size: (u16, u16),
    /// What this console sent, by command id, to explain the answers.
    pub(crate) sent: HashMap<String, String>,
    /// Runbook ticks sent and not answered yet, by command id: (incident, item, done).
    pub(crate) ticks_in_flight: HashMap<String, (IncidentRef, u32, bool)>,
    /// Typed text sent and not answered yet, by command id, to give back on a refusal.
    pub(crate) unsent: HashMap<String, Unsent>,
    /// What the status line says when the feed takes a change, by command id.
    pub(crate) done: HashMap<String, String>,
    /// A change that cannot be taken back, waiting for its confirmation.
    pub pending: Option<super::submit::Pending>,
    /// The incident whose role is being handed (`A`), while its role is chosen.
    pub(crate) handing: Option<IncidentRef>,
    /// The declaration this console is waiting for, to open its room.
    pub(crate) awaiting_declare: Option<String>,
    /// A room to open as soon as its incident reaches the replica.
    pub(crate) open_when_known: Option<IncidentRef>,
    /// Queries asked and not answered yet, by id: what each answer is for.
    pub(crate) asked: HashMap<String, Asked>,
    /// The room on screen was opened from the archive: back (esc) returns there.
    pub(crate) room_from_archive: bool,
    session: String,
    next_id: u64,
    /// Something on screen changed since the last draw.
    pub dirty: bool,
    pub quitting: bool,
}

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
            archive: ArchiveView::default(),
            metrics: MetricsView::default(),
            rooms: HashMap::new(),
            timelines: HashMap::new(),
            palette: PaletteState::default(),
            runbook: None,
            handoff: None,
            schedules: Vec::new(),
            feed_policy: None,
            flash: None,
            notices: Vec::new(),
            news: Vec::new(),
            bell: true,
            ever_synced: false,
            demo: false,
            demo_hint: None,
            help_offset: 0,
            keymap,
            now,
            instant: Instant::now(),
            tz: tz.into(),
            size: (80, 24),
            sent: HashMap::new(),
            ticks_in_flight: HashMap::new(),
            unsent: HashMap::new(),
            done: HashMap::new(),
            pending: None,
            handing: None,
            awaiting_declare: None,
            open_when_known: None,
            asked: HashMap::new(),
            room_from_archive: false,
            session,
            next_id: 0,
            dirty: true,
            quitting: false,
        }
    }

    pub fn selected_incident(&self) -> Option<IncidentRef> {
        match self.screen {
            Screen::Room(r) => Some(r),
            Screen::Board => self
                .board_rows()
                .get(self.board.selected)
                .map(|i| i.reference),
            Screen::Archive => self.archive.pick(),
            Screen::Metrics => None,
        }
    }

    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let mut fx = Vec::new();
        self.instant = Instant::now();
        match msg {
            Msg::Key(k) => {
                self.dirty = true;
                // Notices go away at the next key, which still does what it does.
                self.notices.clear();
                self.key(k, &mut fx);
                self.page_where_the_cursor_is(&mut fx);
                // The briefing stays open only under what is drawn over it.
                if !matches!(
                    self.mode,
                    Mode::Normal | Mode::Palette | Mode::Help | Mode::ConfirmQuit | Mode::Confirm
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
                // What passed out of the feed's live window and is not shown goes.
                self.evict_archived();
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
                self.page_where_the_cursor_is(&mut fx);
            }
        }
        fx
    }

    /// Pages follow the cursor: at the top of what a room holds, its older entries are
    /// asked; near the end of the archive's rows, its next page.
    fn page_where_the_cursor_is(&mut self, fx: &mut Vec<Effect>) {
        match self.screen {
            Screen::Room(r) => self.page_back_if_at_top(r, fx),
            Screen::Archive => self.archive_more_if_near_end(fx),
            Screen::Board | Screen::Metrics => {}
        }
    }

    /// Shows a problem found at start-up (a broken config or theme file) until the next key.
    pub fn show_warning(&mut self, text: String) {
        self.notices.push(text);
    }

    /// Says something in the status line (until the next message, or a few seconds).
    pub(crate) fn flash(&mut self, level: Level, text: impl Into<String>) {
        self.flash = Some(Flash {
            text: text.into(),
            level,
            at: self.now,
        });
    }

    /// Queues a command for the feed; returns its id.
    pub(crate) fn send(&mut self, command: Command, what: String, fx: &mut Vec<Effect>) -> String {
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

    /// Asks the feed `query`, its answer to go where `what` says; returns its id.
    pub(crate) fn ask(
        &mut self,
        query: crate::protocol::Query,
        what: Asked,
        fx: &mut Vec<Effect>,
    ) -> String {
        self.next_id += 1;
        let id = format!("{}-q{}", self.session, self.next_id);
        self.asked.insert(id.clone(), what);
        fx.push(Effect::Query {
            id: id.clone(),
            query,
        });
        id
    }

    /// Why incident `r` cannot be shown: restricted and this person is not a member, or
    /// unknown to the feed.
    pub(crate) fn not_here(&self, r: IncidentRef) -> String {
        if self.replica.state.withheld.contains(&r) {
            format!(
                "{r} is restricted (need to know) and you are not a member: ask an admin to add you"
            )
        } else {
            format!("{r} does not exist")
        }
    }

    /// A key: to whatever has the keys.
    fn key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && k.code == KeyCode::Char('c') {
            if self.mode == Mode::ConfirmQuit {
                self.quit(fx);
            } else {
                self.request_quit(fx);
            }
            return;
        }
        match self.mode {
            Mode::ConfirmQuit => self.confirm_quit_key(k, fx),
            Mode::Confirm => self.confirm_key(k, fx),
            Mode::ChooseRole => self.choose_role_key(k),
            Mode::Help => self.help_key(k),
            Mode::Palette => self.palette_key(k, fx),
            Mode::Runbook => self.runbook_key(k, fx),
            Mode::Filter if self.screen == Screen::Archive => self.archive_line_key(k, fx),
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

    /// A bracketed paste: one event, so nothing in it is read as a key. The field with the
    /// keys takes it through [`super::paste`]; one that would grow past its limit takes
    /// none of it and says why.
    fn paste(&mut self, text: &str) {
        tracing::debug!(
            "paste of {} characters ({} CR, {} LF) in {:?}",
            text.chars().count(),
            text.matches('\r').count(),
            text.matches('\n').count(),
            self.mode
        );
        let done = match (self.mode, self.screen) {
            (Mode::Scribe, Screen::Room(r)) => self.scribe_paste(r, text),
            (Mode::Palette, _) => self.palette_paste(text),
            (Mode::Filter, Screen::Archive) => self.archive_line_paste(text),
            (Mode::Filter, _) => self.filter_paste(text),
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
}
