//! Where things go on the screen, computed in one place for drawing and for the update code
//! alike. The frame (connection banner, start-up notices, the screen, a long message, the
//! status line), a room's parts (header, escalation panel, timeline, scribe pane) and the
//! timeline's rows are laid out here; drawing puts things in these rectangles, and the
//! update code asks [`timeline_height`] how many rows the cursor has to stay within, so the
//! two can never disagree about what is visible.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders};

use super::app::{App, Mode, Screen};
use crate::client::ConnState;
use crate::model::Incident;
use crate::report::format::{clean, wrap};

/// The room's header: identity and timers, roles and who is here.
pub const HEADER_ROWS: u16 = 3;
/// The selected entry's detail under the timeline rows (a rule and a line).
pub const DETAIL_ROWS: u16 = 2;
/// Most start-up notices shown at once.
pub const NOTICE_ROWS: usize = 4;
/// Most rows a message takes above the status line.
const MESSAGE_ROWS: usize = 4;
/// Most completions the palette shows.
pub const COMPLETION_ROWS: usize = 8;

/// The scribe pane's height, borders included: smaller on a short terminal.
pub fn scribe_rows(height: u16) -> u16 {
    if height < 20 { 3 } else { 5 }
}

/// The message (flash) wrapped to the screen's width, when it is too long for the status
/// line: a refusal's full reason stays readable on a small terminal. Empty when it fits.
pub fn message_lines(app: &App, width: u16) -> Vec<String> {
    let Some(f) = &app.flash else {
        return Vec::new();
    };
    let text = clean(&f.text);
    if Span::raw(format!(" {text} ")).width() <= width as usize {
        return Vec::new();
    }
    let mut lines = wrap(&text, (width as usize).saturating_sub(2));
    if lines.len() > MESSAGE_ROWS {
        lines.truncate(MESSAGE_ROWS);
        if let Some(last) = lines.last_mut() {
            last.push('…');
        }
    }
    lines
}

/// Rows the message area above the status line takes at this width.
pub fn message_rows(app: &App, width: u16) -> u16 {
    message_lines(app, width).len() as u16
}

/// The console's frame.
pub struct Frame {
    /// The connection banner (a row while not live).
    pub banner: Rect,
    /// Problems found at start-up.
    pub notices: Rect,
    /// What is new: a line while there is a notice.
    pub news: Rect,
    /// The screen: board, room or metrics.
    pub main: Rect,
    /// A message too long for the status line, wrapped.
    pub message: Rect,
    /// The status line.
    pub status: Rect,
    /// What the message area shows.
    pub message_lines: Vec<String>,
}

/// How `area` is divided between the banner, the notices, the screen, a long message and
/// the status line.
pub fn frame(app: &App, area: Rect) -> Frame {
    let banner = !matches!(app.conn, ConnState::Live);
    let notices = app.notices.len().min(NOTICE_ROWS) as u16;
    let message_lines = message_lines(app, area.width);
    let news = u16::from(!app.news.is_empty()) + u16::from(app.demo_hint.is_some());
    let [banner, notices, news, main, message, status] = Layout::vertical([
        Constraint::Length(banner as u16),
        Constraint::Length(notices),
        Constraint::Length(news),
        Constraint::Min(1),
        Constraint::Length(message_lines.len() as u16),
        Constraint::Length(1),
    ])
    .areas(area);
    Frame {
        banner,
        notices,
        news,
        main,
        message,
        status,
        message_lines,
    }
}

/// Rows the room's escalation panel takes for this incident: a line for a restricted
/// incident, four for an escalation run (one, its summary, once the incident is resolved),
/// one for an active status-update cadence (what
/// [`super::screens::room::escalation::escalation_panel`] draws). Depends on the incident
/// only, never the clock, so ticking never moves the layout.
pub fn escalation_rows(inc: &Incident) -> u16 {
    let esc = match (&inc.escalation, inc.is_active()) {
        (None, _) => 0,
        (Some(_), true) => 4,
        (Some(_), false) => 1,
    };
    let cadence = u16::from(inc.update_every_secs.is_some() && inc.is_active());
    u16::from(inc.restricted) + esc + cadence
}

/// A room's parts.
pub struct Room {
    pub header: Rect,
    /// The escalation panel (no rows when there is nothing to say).
    pub panel: Rect,
    /// The timeline, its borders included.
    pub timeline: Rect,
    pub scribe: Rect,
}

/// Rows the scribe pane of `inc` takes: a line on a resolved or closed incident with
/// nothing being written (it says how to write, or that the record is final), else the
/// pane.
pub fn scribe_rows_of(app: &App, inc: &Incident) -> u16 {
    let r = inc.reference;
    let drafting = app.mode == Mode::Scribe
        || app
            .rooms
            .get(&r)
            .is_some_and(|v| v.draft.lines().iter().any(|l| !l.is_empty()));
    if inc.is_active() || drafting {
        scribe_rows(app.size.1)
    } else {
        1
    }
}

/// How the room of `inc` divides the screen `main`: the header, its escalation panel, the
/// timeline, and the scribe pane.
pub fn room(app: &App, main: Rect, inc: &Incident) -> Room {
    let [header, panel, timeline, scribe] = Layout::vertical([
        Constraint::Length(HEADER_ROWS),
        Constraint::Length(escalation_rows(inc)),
        Constraint::Min(3),
        Constraint::Length(scribe_rows_of(app, inc)),
    ])
    .areas(main);
    Room {
        header,
        panel,
        timeline,
        scribe,
    }
}

/// Inside the timeline's borders: its rows, and under them the selected entry's detail
/// when an entry is selected and there is room for it.
pub fn timeline_inside(inner: Rect, cursor_set: bool) -> (Rect, Rect) {
    let detail = if cursor_set && inner.height > DETAIL_ROWS + 2 {
        DETAIL_ROWS
    } else {
        0
    };
    let [rows, detail] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(detail)]).areas(inner);
    (rows, detail)
}

/// The inside of a block with borders all round.
pub fn bordered_inner(area: Rect) -> Rect {
    Block::default().borders(Borders::ALL).inner(area)
}

/// Rows the timeline shows at the app's terminal size: what the cursor is kept within and
/// what a page is. The same layout as the room is drawn with.
pub fn timeline_height(app: &App) -> usize {
    let (inc, cursor_set) = match app.screen {
        Screen::Room(r) => (
            app.replica.state.incident(r),
            app.rooms.get(&r).is_some_and(|v| v.cursor.is_some()),
        ),
        Screen::Board | Screen::Metrics | Screen::Archive => (None, false),
    };
    let frame = frame(app, Rect::new(0, 0, app.size.0, app.size.1));
    let Some(inc) = inc else {
        return frame.main.height.saturating_sub(HEADER_ROWS + 2) as usize;
    };
    let room = room(app, frame.main, inc);
    let (rows, _) = timeline_inside(bordered_inner(room.timeline), cursor_set);
    rows.height as usize
}

/// Where the handoff briefing goes: the screen's area less the palette's completions while
/// it is open (the banner, notices, a long message and the status line stay visible).
pub fn handoff_area(app: &App, area: Rect) -> Rect {
    let main = frame(app, area).main;
    let completions = app.palette.completions.len().min(COMPLETION_ROWS) as u16;
    let popup = if app.mode == Mode::Palette && completions > 0 {
        completions + 2
    } else {
        0
    };
    Rect {
        height: main.height.saturating_sub(popup),
        ..main
    }
}

/// A `w` × `h` rectangle in the middle of `area` (cut to fit).
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}
