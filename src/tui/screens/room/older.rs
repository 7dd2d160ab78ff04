//! A room's older entries. The board holds each incident as the feed summarised it (its
//! newest entries and the key ones; `elided` counts the rest). Entering a room whose
//! incident is not whole asks the feed for it with its newest page (`open`); the summary is
//! shown until the page comes. Scrolling back to the top of what is held asks for the page
//! before it (`timeline`), one page at a time, the cursor staying on its entry and the rows
//! in view staying in view; the timeline's title says how many older entries are not held,
//! or that they are loading. Leaving the room drops what was fetched for it (back to the
//! summary), so the console holds what it shows, not the history.

use crate::model::{Entry, Incident, IncidentRef};
use crate::protocol::Query;
use crate::tui::app::{App, Asked, Effect, Level, Screen};

use super::timeline::TimelineIndex;

/// Entries in the page a room asks for at a time.
pub const ROOM_PAGE: u32 = 200;

/// What a room has asked the feed for its incident, this visit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Older {
    /// The feed answered `open` (or there was nothing to ask: the incident was whole).
    pub opened: bool,
    /// Every entry from this id on is held: the next older page is the one before it.
    pub from: Option<u64>,
    /// The query under way (`open` or a page), by id.
    pub asking: Option<String>,
}

impl App {
    /// Entering room `r`: asks the feed for the incident with its newest entries, unless
    /// all of it is here already (or the question is under way).
    pub(crate) fn ask_open(&mut self, r: IncidentRef, fx: &mut Vec<Effect>) {
        let whole = self
            .replica
            .state
            .incident(r)
            .is_some_and(|i| i.elided == 0);
        let view = self.rooms.entry(r).or_default();
        if view.older.opened || view.older.asking.is_some() {
            return;
        }
        if whole {
            view.older.opened = true;
            return;
        }
        let id = self.ask(
            Query::Open {
                incident: r,
                limit: Some(ROOM_PAGE),
            },
            Asked::Open(r),
            fx,
        );
        self.rooms.entry(r).or_default().older.asking = Some(id);
    }

    /// Whether room `r` waits for the feed to send its incident (not held here yet).
    pub fn room_loading(&self, r: IncidentRef) -> bool {
        self.replica.state.incident(r).is_none()
            && self
                .rooms
                .get(&r)
                .is_some_and(|v| !v.older.opened && v.older.asking.is_some())
    }

    /// Whether room `r` has asked for entries it has not received yet.
    pub fn older_loading(&self, r: IncidentRef) -> bool {
        self.rooms.get(&r).is_some_and(|v| v.older.asking.is_some())
    }

    /// How many of `r`'s older entries this console does not hold.
    pub fn older_not_held(&self, r: IncidentRef) -> u64 {
        self.replica.state.incident(r).map_or(0, |i| i.elided)
    }

    /// When the top of what is held of the room's timeline is in view and the feed has
    /// older entries: asks for the page before them.
    pub(crate) fn page_back_if_at_top(&mut self, r: IncidentRef, fx: &mut Vec<Effect>) {
        let Some(inc) = self.replica.state.incident(r) else {
            return;
        };
        if inc.elided == 0 {
            return;
        }
        let oldest_held = inc.entries.first().map(|e| e.id);
        let Some(view) = self.rooms.get(&r) else {
            return;
        };
        if !view.older.opened || view.older.asking.is_some() {
            return;
        }
        let following = view.cursor.is_none();
        let len = self.timelines.get(&r).map_or(0, |t| t.rows.len());
        let h = crate::tui::layout::timeline_height(self).max(1);
        let top_in_view = if following {
            len <= h
        } else {
            view.offset == 0
        };
        if !top_in_view {
            return;
        }
        let Some(before) = view.older.from.or(oldest_held) else {
            return;
        };
        let id = self.ask(
            Query::Timeline {
                incident: r,
                before,
                limit: Some(ROOM_PAGE),
            },
            Asked::Page(r),
            fx,
        );
        self.rooms.entry(r).or_default().older.asking = Some(id);
    }

    /// The feed's answer to `open` for room `r`: the incident, with its newest page.
    pub(crate) fn opened(&mut self, id: &str, inc: Incident, fx: &mut Vec<Effect>) {
        let r = inc.reference;
        let Some(view) = self.rooms.get_mut(&r) else {
            return;
        };
        if view.older.asking.as_deref() != Some(id) {
            return; // the room was left meanwhile: nothing to hold
        }
        view.older.asking = None;
        view.older.opened = true;
        view.older.from = self.replica.take_opened(inc, ROOM_PAGE as usize);
        self.reindex(r);
        if self.screen == Screen::Room(r) {
            self.page_back_if_at_top(r, fx);
        }
    }

    /// A page of room `r`'s older entries.
    pub(crate) fn page_arrived(
        &mut self,
        id: &str,
        r: IncidentRef,
        entries: Vec<Entry>,
        more: bool,
    ) {
        let Some(view) = self.rooms.get_mut(&r) else {
            return;
        };
        if view.older.asking.as_deref() != Some(id) {
            return;
        }
        view.older.asking = None;
        let oldest = entries.iter().map(|e| e.id).min();
        view.older.from = if more {
            oldest.or(view.older.from)
        } else {
            None
        };
        self.replica.take_page(r, entries, more);
        self.reindex(r);
    }

    /// A room's question the feed did not answer: said, and the room shows what it holds.
    pub(crate) fn room_query_failed(
        &mut self,
        id: &str,
        r: IncidentRef,
        message: &str,
        fx: &mut Vec<Effect>,
    ) {
        let Some(view) = self.rooms.get_mut(&r) else {
            return;
        };
        if view.older.asking.as_deref() != Some(id) {
            return;
        }
        view.older.asking = None;
        if self.replica.state.incident(r).is_none() {
            // Nothing to show: the feed does not have it (or will not say).
            view.older = Default::default();
            if self.screen == Screen::Room(r) {
                self.show_board(fx);
            }
            let why = if message.contains(&r.to_string()) {
                message.to_string()
            } else {
                format!("{r}: {message}")
            };
            self.flash(Level::Error, why);
            return;
        }
        // What is held stays on screen; scrolling to the top asks again.
        view.older.opened = true;
        self.flash(
            Level::Error,
            format!("{r}: older entries could not be loaded: {message}"),
        );
    }

    /// Rebuilds room `r`'s timeline rows after entries came, the cursor on its entry and
    /// the rows at the top of the window where they were.
    pub(crate) fn reindex(&mut self, r: IncidentRef) {
        let Some(inc) = self.replica.state.incident(r) else {
            return;
        };
        let selected = self
            .rooms
            .get(&r)
            .filter(|v| v.cursor.is_some())
            .and_then(|_| self.selected_entry(r));
        let top = self.rooms.get(&r).and_then(|v| {
            self.timelines
                .get(&r)
                .and_then(|t| t.rows.get(v.offset))
                .copied()
        });
        let view = self.rooms.entry(r).or_default();
        let index = TimelineIndex::filtered(inc, &view.filter);
        if view.cursor.is_some() {
            view.cursor = selected
                .and_then(|id| index.rows.iter().position(|(_, e)| *e == id))
                .or(view.cursor);
        }
        view.offset = top.map_or(0, |k| index.rows.partition_point(|row| *row < k));
        self.timelines.insert(r, index);
        self.keep_cursor_visible(r);
    }

    /// Leaving room `r`: what was fetched for it goes (the incident back to its summary),
    /// and the next visit asks again.
    pub(crate) fn leave_room(&mut self, r: IncidentRef) {
        self.timelines.remove(&r);
        let Some(view) = self.rooms.get_mut(&r) else {
            return;
        };
        let fetched = view.older.from.is_some()
            || view.older.asking.is_some()
            || self.replica.state.incident(r).is_some_and(|i| i.elided > 0);
        view.older = Older::default();
        if fetched {
            self.replica.trim(r);
            // The cursor's entry may be gone with the pages: back to the newest.
            view.cursor = None;
            view.offset = 0;
        }
    }
}
