//! A room's timeline: its index (the rows the filter lets through, in occurred-at order,
//! kept up to date event by event so a frame never sorts 100,000 entries), the cursor (on
//! an entry, or following the newest) and the window kept around it, pinning the selected
//! entry, and the drawing of the visible rows with the selected entry's detail. Only
//! visible rows are touched, so a room with 100,000 entries costs what one with forty does.

use chrono::{DateTime, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

use super::filter::TimelineFilter;
use super::search::{highlight, hit_style};
use crate::model::{Command, EntryKind, Event, EventKind, Incident, IncidentRef};
use crate::report::format::{clean, kind_label};
use crate::tui::app::{App, Effect, Level, Mode, Screen};
use crate::tui::keymap::Action;
use crate::tui::layout;
use crate::tui::text::{hhmmss, truncate};
use crate::tui::theme::Theme;

/// A room's timeline in occurred-at order, superseded entries left out. Kept up to date
/// event by event so a frame never sorts 100,000 entries.
#[derive(Debug, Clone, Default)]
pub struct TimelineIndex {
    pub rows: Vec<(DateTime<Utc>, u64)>,
}

impl TimelineIndex {
    pub(crate) fn insert(&mut self, key: (DateTime<Utc>, u64)) {
        let at = self.rows.partition_point(|r| *r < key);
        self.rows.insert(at, key);
    }

    pub(crate) fn remove(&mut self, key: (DateTime<Utc>, u64)) {
        if let Ok(at) = self.rows.binary_search(&key) {
            self.rows.remove(at);
        }
    }

    /// The rows of `inc` that `filter` lets through, in occurred-at order (superseded
    /// versions left out).
    pub fn filtered(inc: &Incident, filter: &TimelineFilter) -> Self {
        let mut rows: Vec<_> = inc
            .entries
            .iter()
            .filter(|e| e.superseded_by.is_none() && filter.matches(e))
            .map(|e| (e.occurred_at, e.id))
            .collect();
        rows.sort_unstable();
        TimelineIndex { rows }
    }
}

impl App {
    /// The incident whose room is on screen.
    pub(crate) fn room_in_view(&self) -> Option<IncidentRef> {
        match self.screen {
            Screen::Room(r) => Some(r),
            _ => None,
        }
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

    /// Moves the cursor of `r`'s timeline by `by` rows; moving down onto the newest entry
    /// follows it again.
    pub(crate) fn move_timeline_cursor(&mut self, r: IncidentRef, by: i64) {
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

    /// The timeline of `r` follows its newest entry.
    pub(crate) fn follow_newest(&mut self, r: IncidentRef) {
        self.rooms.entry(r).or_default().cursor = None;
        self.keep_cursor_visible(r);
    }

    /// Moves the window only as far as needed to keep the cursor in it.
    pub(crate) fn keep_cursor_visible(&mut self, r: IncidentRef) {
        let h = layout::timeline_height(self).max(1);
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

    /// Puts the cursor of `r` on `row`, in view.
    pub(crate) fn put_cursor(&mut self, r: IncidentRef, row: usize) {
        self.rooms.entry(r).or_default().cursor = Some(row);
        self.keep_cursor_visible(r);
    }

    /// Keeps the timeline index of an open room in step with one event.
    pub(crate) fn index_event(&mut self, e: &Event) {
        let Some(r) = e.kind.incident() else {
            return;
        };
        let Some(index) = self.timelines.get_mut(&r) else {
            return;
        };
        let Some(inc) = self.replica.state.incident(r) else {
            // Withheld from this reader now: its index goes with it.
            self.timelines.remove(&r);
            return;
        };
        if let EventKind::EntryCorrected { entry, .. } = &e.kind
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

    /// `p` in a room: pins the selected entry, or unpins it when it is pinned.
    pub(crate) fn toggle_pin(&mut self, fx: &mut Vec<Effect>) {
        let Screen::Room(r) = self.screen else {
            return;
        };
        match self.selected_entry(r) {
            Some(id) => {
                let pinned = self
                    .replica
                    .state
                    .incident(r)
                    .and_then(|i| i.entry(id))
                    .is_some_and(|e| e.pinned);
                let what = if pinned { "unpin" } else { "pin" };
                self.submit(
                    Command::PinEntry {
                        incident: r,
                        entry: id,
                        pinned: !pinned,
                    },
                    format!("{what} entry {id}"),
                    None,
                    fx,
                );
            }
            None => self.flash(Level::Error, "no timeline entry to pin"),
        }
    }
}

/// What the timeline's title adds when it leaves entries out: how many there are in all,
/// and why (the filter, hidden system entries).
pub fn title_parts(app: &App, r: IncidentRef, inc: &Incident) -> (Option<usize>, Vec<String>) {
    let Some(f) = app.rooms.get(&r).map(|v| &v.filter) else {
        return (None, Vec::new());
    };
    if !f.narrows() && !f.hide_system {
        return (None, Vec::new());
    }
    let total = inc
        .entries
        .iter()
        .filter(|e| e.superseded_by.is_none())
        .count();
    let mut tags = Vec::new();
    if f.narrows() {
        tags.push(format!("filter {}", f.describe()));
    }
    if f.hide_system {
        tags.push("system hidden".to_string());
    }
    (Some(total), tags)
}

/// What the room holds of the incident's older entries, when it does not hold them all:
/// `older entries: loading…` while asked, `N older entries ↑` (scrolling up loads them).
pub fn older_note(app: &App, r: IncidentRef) -> Option<String> {
    let n = app.older_not_held(r);
    if app.older_loading(r) {
        Some("older entries: loading…".to_string())
    } else if n == 1 {
        Some("1 older entry ↑".to_string())
    } else if n > 1 {
        Some(format!("{n} older entries ↑"))
    } else {
        None
    }
}

// ---- drawing ---------------------------------------------------------------------------

/// Draws the timeline of `inc` into `area` (borders included): the visible rows, the
/// selected entry's detail, and the search line or the key hints under it.
pub fn render(app: &App, theme: &Theme, inc: &Incident, area: Rect, buf: &mut Buffer) {
    let r = inc.reference;
    let view = app.room(r);
    let cursor_set = view.is_some_and(|v| v.cursor.is_some());
    let focused = matches!(app.mode, Mode::Normal | Mode::Search);
    let index = app.timelines.get(&r);
    let len = index.map_or(0, |t| t.rows.len());
    let (total, tags) = title_parts(app, r, inc);
    let needle = view.map_or("", |v| v.search.as_str());
    let older = older_note(app, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if focused { theme.focus } else { theme.border })
        .title(Span::styled(
            format!(
                " Timeline · {len}{} entries{}{}{} ",
                total.map(|t| format!(" of {t}")).unwrap_or_default(),
                tags.iter().map(|t| format!(" · {t}")).collect::<String>(),
                older.map(|o| format!(" · {o}")).unwrap_or_default(),
                if cursor_set {
                    ""
                } else {
                    " · following newest"
                }
            ),
            if focused { theme.focus } else { theme.border },
        ))
        .title_bottom(if app.mode == Mode::Search {
            Line::from(vec![
                Span::styled(" /", theme.key),
                Span::styled(format!("{}▏", clean(needle)), theme.input),
                Span::styled(" enter keeps · esc clears ", theme.muted),
            ])
        } else if !needle.is_empty() {
            Line::from(vec![
                Span::styled(format!(" /{} ", clean(needle)), theme.key),
                Span::styled("· n / N next / previous · esc clears ", theme.muted),
            ])
        } else {
            room_hints(app, theme, area.width.saturating_sub(2))
        });
    let inner = block.inner(area);
    block.render(area, buf);
    let (rows_area, detail_area) = layout::timeline_inside(inner, cursor_set);
    let h = rows_area.height as usize;
    let offset = view.map_or(len.saturating_sub(h), |v| {
        if v.cursor.is_none() {
            len.saturating_sub(h)
        } else {
            v.offset.min(len.saturating_sub(h))
        }
    });
    let cursor = if cursor_set { app.cursor_row(r) } else { None };
    // The window can shrink under the cursor (a message took rows): keep it in sight.
    let offset = match cursor {
        Some(c) if h > 0 && c >= offset + h => c + 1 - h,
        _ => offset,
    };
    let mut lines = Vec::with_capacity(h);
    if let Some(index) = index {
        for (row, (_, id)) in index.rows.iter().enumerate().skip(offset).take(h) {
            let Some(e) = inc.entry(*id) else { continue };
            let kind_style = theme.entry_kind(e.kind);
            let mut spans = vec![
                Span::styled(format!(" {} ", hhmmss(&app.tz, e.occurred_at)), theme.muted),
                if e.pinned {
                    Span::styled("★ ", theme.pinned)
                } else {
                    Span::raw("  ")
                },
                Span::styled(format!("{:<11}", kind_label(e.kind)), kind_style),
            ];
            let author = format!("{:<12} ", truncate(&clean(&e.author), 12));
            let text_style = if e.kind == EntryKind::System {
                theme.muted
            } else {
                theme.text
            };
            // What follows the text, and the room the text has before it.
            let mut tail = Vec::new();
            if e.supersedes.is_some() {
                tail.push(Span::styled(" (corrected)", theme.muted));
            }
            if e.public {
                tail.push(Span::styled(" (public)", theme.muted));
            }
            if e.briefing.is_some() {
                tail.push(Span::styled(" +briefing", theme.key));
            }
            if (e.recorded_at - e.occurred_at).num_seconds().abs() >= 60 {
                tail.push(Span::styled(
                    format!("  (logged {})", hhmmss(&app.tz, e.recorded_at)),
                    theme.muted,
                ));
            }
            let used = Line::from(spans.clone()).width()
                + author.chars().count()
                + Line::from(tail.clone()).width();
            let room = (rows_area.width as usize).saturating_sub(used);
            let (text, more) = cut_entry(&e.text, room);
            if let Some(n) = more {
                tail.insert(
                    0,
                    Span::styled(
                        format!(" +{n} line{}", if n == 1 { "" } else { "s" }),
                        theme.key,
                    ),
                );
            }
            if needle.is_empty() {
                spans.push(Span::styled(author, theme.muted));
                spans.push(Span::styled(text, text_style));
            } else {
                spans.extend(highlight(
                    author,
                    needle,
                    theme.muted,
                    hit_style(theme.muted),
                ));
                spans.extend(highlight(text, needle, text_style, hit_style(text_style)));
            }
            spans.extend(tail);
            let mut line = Line::from(spans);
            if cursor == Some(row) {
                line = line.style(theme.selected);
            }
            lines.push(line);
        }
    }
    if len == 0 {
        lines.push(Line::styled(" nothing recorded yet", theme.muted));
    }
    Paragraph::new(lines).render(rows_area, buf);
    if detail_area.height > 0
        && let Some(e) = app.selected_entry(r).and_then(|id| inc.entry(id))
    {
        let logged = if e.recorded_at != e.occurred_at {
            format!(", logged {}", hhmmss(&app.tz, e.recorded_at))
        } else {
            String::new()
        };
        let corrected = if e.supersedes.is_some() {
            format!(
                " (corrected: {} shows the history)",
                app.keymap.keys(Action::History)
            )
        } else {
            String::new()
        };
        let public = if e.public { ", public" } else { "" };
        let briefing = e
            .briefing
            .as_ref()
            .map(|b| {
                format!(
                    " · Briefing: impact: {}; ETA: {}; commitments at risk: {}",
                    clean(&b.impact),
                    clean(&b.eta),
                    clean(&b.at_risk)
                )
            })
            .unwrap_or_default();
        let text = format!(
            " #{} {}{public} by {} at {}{logged}{corrected}: {}{briefing}",
            e.id,
            kind_label(e.kind),
            clean(&e.author),
            hhmmss(&app.tz, e.occurred_at),
            clean(&e.text)
        );
        Paragraph::new(text)
            .style(theme.text)
            .wrap(ratatui::widgets::Wrap { trim: false })
            .block(
                Block::default()
                    .borders(Borders::TOP)
                    .border_style(theme.border),
            )
            .render(detail_area, buf);
    }
}

/// An entry's text on its one row of `room` columns: whole when it fits; else cut to end in
/// an ellipsis, with how many more lines it would take wrapped there (the row then says
/// `+N lines`, and the detail under the timeline and `v` show it whole).
fn cut_entry(text: &str, room: usize) -> (String, Option<usize>) {
    let shown = clean(text);
    if Span::raw(shown.as_str()).width() <= room {
        return (shown, None);
    }
    // Room for ` +N lines` after the ellipsis.
    let lines = crate::report::format::wrap_as_typed(text, room.max(1))
        .len()
        .max(2);
    let more = lines - 1;
    let suffix = format!(" +{more} line{}", if more == 1 { "" } else { "s" });
    let keep = room.saturating_sub(suffix.chars().count() + 1);
    (truncate(&shown, keep + 1), Some(more))
}

/// The room's hint line (under the timeline): what is done to the incident first, then
/// what moves about its timeline, as many as fit.
fn room_hints(app: &App, theme: &Theme, width: u16) -> Line<'static> {
    let k = |a| app.keymap.keys(a);
    let mut items = vec![
        (k(Action::Ack), "ack"),
        (
            format!("{} {}", k(Action::SeverityUp), k(Action::SeverityDown)),
            "severity",
        ),
        (k(Action::NextStatus), "status"),
        (k(Action::Resolve), "resolve"),
        (k(Action::Runbook), "runbook"),
        (":update".to_string(), ""),
        (k(Action::Back), "back"),
        (k(Action::Scribe), "write"),
        (k(Action::Up), "select"),
        (k(Action::History), "whole entry"),
        (k(Action::Filter), "search"),
        (k(Action::Pin), "pin"),
        (k(Action::ToggleSystem), "system"),
        (k(Action::Bottom), "newest"),
    ];
    if app
        .replica
        .state
        .incident(app.selected_incident().unwrap_or(IncidentRef(0)))
        .is_some_and(|i| !i.is_active())
    {
        // A resolved incident: no acknowledging or resolving it.
        items.retain(|(_, l)| !matches!(*l, "ack" | "resolve" | "severity"));
    }
    super::super::hints(theme, &items, width)
}
