//! The room's timeline views: a filter (kinds, authors, words; system entries shown or
//! hidden), search with highlighted matches (`/`, then `n`/`N`), and the correction history
//! of one entry (`v` or enter). State lives in the room's [`RoomView`]; the timeline index
//! holds only the rows the filter lets through, so moving and drawing stay cheap.

use std::collections::BTreeSet;
use std::ops::Range;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use super::app::{App, Level, Mode, Screen, TimelineIndex};
use super::palette::kind_label;
use super::theme::Theme;
use super::ui::clean;
use crate::model::{Entry, EntryKind, Incident, IncidentRef};

/// What the room's timeline shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelineFilter {
    /// Only these kinds (all when empty).
    pub kinds: BTreeSet<EntryKind>,
    /// Only entries by these people, lower-cased (everyone when empty).
    pub authors: Vec<String>,
    /// Only entries whose text contains this (any when empty).
    pub words: String,
    /// Leave out what warroom recorded by itself (escalation, roles, status changes…).
    pub hide_system: bool,
}

impl TimelineFilter {
    /// `kind:hypothesis,decision author:bob,carol some words` (any order; empty clears).
    /// The system toggle is not part of the line: the caller keeps it.
    pub fn parse(args: &str) -> Result<TimelineFilter, String> {
        let mut f = TimelineFilter::default();
        let mut words = Vec::new();
        for token in args.split_whitespace() {
            let lower = token.to_lowercase();
            if let Some(list) = strip_any(&lower, &["kind:", "kinds:"]) {
                if list.is_empty() {
                    return Err("kind: needs a kind, as in kind:decision,hypothesis".into());
                }
                for k in list.split(',').filter(|k| !k.is_empty()) {
                    f.kinds.insert(parse_kind(k)?);
                }
            } else if let Some(list) = strip_any(&lower, &["author:", "by:"]) {
                if list.is_empty() {
                    return Err("author: needs a name, as in author:bob".into());
                }
                f.authors.extend(
                    list.split(',')
                        .filter(|a| !a.is_empty())
                        .map(str::to_string),
                );
            } else {
                words.push(lower);
            }
        }
        f.words = words.join(" ");
        Ok(f)
    }

    /// Whether the kinds, authors or words leave anything out.
    pub fn narrows(&self) -> bool {
        !self.kinds.is_empty() || !self.authors.is_empty() || !self.words.is_empty()
    }

    pub fn matches(&self, e: &Entry) -> bool {
        if self.hide_system && e.kind == EntryKind::System {
            return false;
        }
        if !self.kinds.is_empty() && !self.kinds.contains(&e.kind) {
            return false;
        }
        if !self.authors.is_empty() && !self.authors.contains(&e.author.to_lowercase()) {
            return false;
        }
        self.words.is_empty() || !find_ci(&e.text, &self.words).is_empty()
    }

    /// The filter as it would be typed: `kind:decision author:bob "words"`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.kinds.is_empty() {
            let k: Vec<&str> = self.kinds.iter().map(|k| k.as_str()).collect();
            parts.push(format!("kind:{}", k.join(",")));
        }
        if !self.authors.is_empty() {
            parts.push(format!("author:{}", self.authors.join(",")));
        }
        if !self.words.is_empty() {
            parts.push(format!("\"{}\"", self.words));
        }
        parts.join(" ")
    }
}

fn strip_any<'a>(s: &'a str, prefixes: &[&str]) -> Option<&'a str> {
    prefixes.iter().find_map(|p| s.strip_prefix(p))
}

/// A kind as people type it in a filter: its name, its plural, or its scribe prefix.
pub fn parse_kind(word: &str) -> Result<EntryKind, String> {
    let w = word.trim().to_lowercase().replace(['-', ' '], "_");
    let k = match w.as_str() {
        "n" | "note" | "notes" => EntryKind::Note,
        "d" | "decision" | "decisions" => EntryKind::Decision,
        "a" | "action" | "actions" => EntryKind::Action,
        "h" | "hypothesis" | "hypotheses" => EntryKind::Hypothesis,
        "r" | "ruled_out" | "ruledout" | "ruled" => EntryKind::RuledOut,
        "u" | "update" | "updates" | "status_update" | "status_updates" => EntryKind::StatusUpdate,
        "m" | "milestone" | "milestones" => EntryKind::Milestone,
        "system" => EntryKind::System,
        _ => {
            let names: Vec<&str> = EntryKind::ALL.iter().map(|k| k.as_str()).collect();
            return Err(format!(
                "unknown entry kind '{word}' (expected one of: {}, or update)",
                names.join(", ")
            ));
        }
    };
    Ok(k)
}

/// Where `needle` occurs in `hay`, ignoring case: byte ranges into `hay`, not overlapping.
pub fn find_ci(hay: &str, needle: &str) -> Vec<Range<usize>> {
    let needle: Vec<char> = needle.chars().collect();
    if needle.is_empty() {
        return Vec::new();
    }
    let chars: Vec<(usize, char)> = hay.char_indices().collect();
    let same = |a: char, b: char| a == b || a.to_lowercase().eq(b.to_lowercase());
    let mut out = Vec::new();
    let mut i = 0;
    while i + needle.len() <= chars.len() {
        if needle
            .iter()
            .enumerate()
            .all(|(k, n)| same(chars[i + k].1, *n))
        {
            let start = chars[i].0;
            let end = chars.get(i + needle.len()).map_or(hay.len(), |(b, _)| *b);
            out.push(start..end);
            i += needle.len();
        } else {
            i += 1;
        }
    }
    out
}

/// `text` as spans, the parts that match `needle` in `hit`.
pub fn highlight(text: String, needle: &str, base: Style, hit: Style) -> Vec<Span<'static>> {
    let ranges = find_ci(&text, needle);
    if ranges.is_empty() {
        return vec![Span::styled(text, base)];
    }
    let mut spans = Vec::with_capacity(ranges.len() * 2 + 1);
    let mut at = 0;
    for r in ranges {
        if r.start > at {
            spans.push(Span::styled(text[at..r.start].to_string(), base));
        }
        spans.push(Span::styled(text[r.clone()].to_string(), hit));
        at = r.end;
    }
    if at < text.len() {
        spans.push(Span::styled(text[at..].to_string(), base));
    }
    spans
}

/// How a search match is drawn: the row's own style, reversed and bold.
pub fn hit_style(base: Style) -> Style {
    base.add_modifier(Modifier::REVERSED | Modifier::BOLD)
}

/// Whether a search for `needle` finds entry `e` (its text or its author).
pub fn search_matches(e: &Entry, needle: &str) -> bool {
    !find_ci(&e.text, needle).is_empty() || !find_ci(&e.author, needle).is_empty()
}

/// Every version of the entry `id` belongs to, the original first.
pub fn versions(inc: &Incident, id: u64) -> Vec<&Entry> {
    let mut first = id;
    // Ids only grow along a chain, so these walks end; the bound guards a corrupt state.
    for _ in 0..10_000 {
        match inc.entry(first).and_then(|e| e.supersedes) {
            Some(prev) if prev < first => first = prev,
            _ => break,
        }
    }
    let mut out = Vec::new();
    let mut next = Some(first);
    while let Some(n) = next {
        let Some(e) = inc.entry(n) else { break };
        out.push(e);
        next = e.superseded_by.filter(|s| *s > n && out.len() < 10_000);
    }
    out
}

/// The history overlay: which entry, and how far it is scrolled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryView {
    pub entry: u64,
    pub offset: usize,
}

impl TimelineIndex {
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
    fn room_in_view(&self) -> Option<IncidentRef> {
        match self.screen {
            Screen::Room(r) => Some(r),
            _ => None,
        }
    }

    /// Replaces the room's filter and rebuilds its rows; the cursor stays on its entry
    /// when the entry is still shown.
    pub(super) fn set_timeline_filter(&mut self, r: IncidentRef, filter: TimelineFilter) {
        let selected = self
            .rooms
            .get(&r)
            .filter(|v| v.cursor.is_some())
            .and_then(|_| self.selected_entry(r));
        let Some(inc) = self.replica.state.incident(r) else {
            return;
        };
        let index = TimelineIndex::filtered(inc, &filter);
        let cursor = selected.and_then(|id| index.rows.iter().position(|(_, e)| *e == id));
        self.timelines.insert(r, index);
        let view = self.rooms.entry(r).or_default();
        view.filter = filter;
        view.cursor = cursor;
        self.keep_cursor_visible(r);
    }

    /// `:filter …` in a room: kinds, authors and words narrow its timeline; nothing clears.
    pub(super) fn filter_timeline(&mut self, r: IncidentRef, args: &str) -> Result<(), String> {
        let mut filter = TimelineFilter::parse(args)?;
        filter.hide_system = self.rooms.get(&r).is_some_and(|v| v.filter.hide_system);
        self.set_timeline_filter(r, filter.clone());
        let shown = self.timelines.get(&r).map_or(0, |t| t.rows.len());
        if filter.narrows() {
            self.flash(
                Level::Info,
                format!(
                    "{r} timeline: {} · {shown} entries shown · :filter clears",
                    filter.describe()
                ),
            );
        } else {
            self.flash(Level::Info, format!("{r} timeline: filter cleared"));
        }
        Ok(())
    }

    /// `H` / `:system on|off`: show (`Some(true)`), hide, or toggle system entries.
    pub(super) fn show_system(&mut self, show: Option<bool>) {
        let Some(r) = self.room_in_view() else {
            self.flash(
                Level::Error,
                "open an incident to show or hide the system entries of its timeline",
            );
            return;
        };
        let mut filter = self
            .rooms
            .get(&r)
            .map(|v| v.filter.clone())
            .unwrap_or_default();
        filter.hide_system = match show {
            Some(s) => !s,
            None => !filter.hide_system,
        };
        let hidden = filter.hide_system;
        self.set_timeline_filter(r, filter);
        self.flash(
            Level::Info,
            if hidden {
                "system entries hidden (H shows them)"
            } else {
                "system entries shown"
            },
        );
    }

    // ---- search ------------------------------------------------------------------------

    /// `/` in a room: type a needle; matches are highlighted and the cursor jumps to the
    /// nearest one.
    pub(super) fn start_search(&mut self, r: IncidentRef) {
        let origin = self.cursor_row(r);
        let view = self.rooms.entry(r).or_default();
        view.search.clear();
        view.search_origin = origin;
        self.mode = Mode::Search;
    }

    /// Keys while the search line is open.
    pub(super) fn search_key(&mut self, k: KeyEvent) {
        let Some(r) = self.room_in_view() else {
            self.mode = Mode::Normal;
            return;
        };
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let view = self.rooms.entry(r).or_default();
        match k.code {
            KeyCode::Esc => {
                view.search.clear();
                self.mode = Mode::Normal;
                return;
            }
            KeyCode::Enter => {
                self.mode = Mode::Normal;
                let needle = view.search.clone();
                if !needle.is_empty() && self.find_match(r, &needle, None).is_none() {
                    self.flash(Level::Error, format!("no entry matches '{needle}'"));
                }
                return;
            }
            KeyCode::Backspace => {
                if view.search.pop().is_none() {
                    self.mode = Mode::Normal;
                    return;
                }
            }
            KeyCode::Char('u') if ctrl => view.search.clear(),
            KeyCode::Char(c) if !ctrl && !k.modifiers.contains(KeyModifiers::ALT) => {
                view.search.push(c)
            }
            _ => return,
        }
        self.jump_to_match(r);
    }

    /// Pastes into the search line (one line: line breaks become spaces).
    pub(super) fn search_paste(&mut self, text: &str) -> Result<(), String> {
        let Some(r) = self.room_in_view() else {
            return Ok(());
        };
        let search = &mut self.rooms.entry(r).or_default().search;
        super::paste::onto_line(
            search,
            text,
            crate::model::validate::MAX_ENTRY,
            "a search holds",
        )?;
        self.jump_to_match(r);
        Ok(())
    }

    /// While typing: the nearest match at or above where the search started (the newest
    /// first when following), wrapping to the bottom.
    fn jump_to_match(&mut self, r: IncidentRef) {
        let Some(view) = self.rooms.get(&r) else {
            return;
        };
        let needle = view.search.clone();
        if needle.is_empty() {
            return;
        }
        let origin = view.search_origin;
        if let Some(row) = self.find_match(r, &needle, origin.map(|o| (o, false, true))) {
            self.put_cursor(r, row);
        }
    }

    /// The row of a match: from `from` = (row, forward, include that row), wrapping; with
    /// no start, the newest match.
    fn find_match(
        &self,
        r: IncidentRef,
        needle: &str,
        from: Option<(usize, bool, bool)>,
    ) -> Option<usize> {
        let inc = self.replica.state.incident(r)?;
        let rows = &self.timelines.get(&r)?.rows;
        let n = rows.len();
        if n == 0 {
            return None;
        }
        let (start, forward, inclusive) = from.unwrap_or((n - 1, false, true));
        let start = start.min(n - 1);
        let hit = |row: usize| {
            inc.entry(rows[row].1)
                .is_some_and(|e| search_matches(e, needle))
        };
        // Every row once; without `inclusive` the start row comes last (a lone match).
        (0..n)
            .map(|step| {
                let step = if inclusive { step } else { step + 1 };
                if forward {
                    (start + step) % n
                } else {
                    (start + n - step % n) % n
                }
            })
            .find(|row| hit(*row))
    }

    fn put_cursor(&mut self, r: IncidentRef, row: usize) {
        self.rooms.entry(r).or_default().cursor = Some(row);
        self.keep_cursor_visible(r);
    }

    /// `n` / `N` while a search is active in the room: the next match down (newer) or up
    /// (older), wrapping. Returns whether the key was used.
    pub(super) fn search_step(&mut self, k: &KeyEvent) -> bool {
        let forward = match k.code {
            KeyCode::Char('n') => true,
            KeyCode::Char('N') => false,
            _ => return false,
        };
        if k.modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return false;
        }
        let Some(r) = self.room_in_view() else {
            return false;
        };
        let Some(needle) = self
            .rooms
            .get(&r)
            .map(|v| v.search.clone())
            .filter(|s| !s.is_empty())
        else {
            return false;
        };
        let Some(cur) = self.cursor_row(r) else {
            self.flash(Level::Error, format!("no entry matches '{needle}'"));
            return true;
        };
        match self.find_match(r, &needle, Some((cur, forward, false))) {
            Some(row) => {
                let wrapped = if forward { row <= cur } else { row >= cur };
                if wrapped {
                    self.flash(
                        Level::Info,
                        if row == cur {
                            format!("'{needle}': the only match")
                        } else if forward {
                            format!("'{needle}': wrapped to the oldest match")
                        } else {
                            format!("'{needle}': wrapped to the newest match")
                        },
                    );
                }
                self.put_cursor(r, row);
            }
            None => self.flash(Level::Error, format!("no entry matches '{needle}'")),
        }
        true
    }

    /// Esc in the room with a search active clears it (and nothing else). Returns whether
    /// there was one.
    pub(super) fn clear_search(&mut self) -> bool {
        match self.room_in_view().and_then(|r| self.rooms.get_mut(&r)) {
            Some(v) if !v.search.is_empty() => {
                v.search.clear();
                true
            }
            _ => false,
        }
    }

    // ---- history -------------------------------------------------------------------------

    /// `v` / enter in a room: the selected entry with every earlier version of it.
    pub(super) fn open_history(&mut self) {
        let Some(r) = self.room_in_view() else {
            return;
        };
        match self.selected_entry(r) {
            Some(entry) => {
                self.rooms.entry(r).or_default().history = Some(HistoryView { entry, offset: 0 });
                self.mode = Mode::History;
            }
            None => self.flash(Level::Error, "no timeline entry to show"),
        }
    }

    pub(super) fn history_key(&mut self, k: KeyEvent) {
        let Some(r) = self.room_in_view() else {
            self.mode = Mode::Normal;
            return;
        };
        let view = self.rooms.entry(r).or_default();
        let Some(h) = view.history.as_mut() else {
            self.mode = Mode::Normal;
            return;
        };
        match k.code {
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') | KeyCode::Char('v') => {
                view.history = None;
                self.mode = Mode::Normal;
            }
            KeyCode::Down | KeyCode::Char('j') => h.offset = h.offset.saturating_add(1).min(500),
            KeyCode::Up | KeyCode::Char('k') => h.offset = h.offset.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => h.offset = (h.offset + 10).min(500),
            KeyCode::PageUp => h.offset = h.offset.saturating_sub(10),
            KeyCode::Home | KeyCode::Char('g') => h.offset = 0,
            _ => {}
        }
    }
}

fn stamp(app: &App, t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&app.tz).format("%H:%M:%S").to_string()
}

/// One version's heading: `#12 decision by bob · happened 01:52:00 · logged 02:10:03`.
pub fn version_heading(app: &App, e: &Entry) -> String {
    let mut s = format!(
        "#{} {} by {} · happened {}",
        e.id,
        kind_label(e.kind),
        clean(&e.author),
        stamp(app, e.occurred_at)
    );
    if e.recorded_at != e.occurred_at {
        s.push_str(&format!(" · logged {}", stamp(app, e.recorded_at)));
    }
    if e.pinned {
        s.push_str(" · pinned");
    }
    s
}

/// The history overlay over the room's main area.
pub fn render_history(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let Screen::Room(r) = app.screen else { return };
    let Some(h) = app.rooms.get(&r).and_then(|v| v.history) else {
        return;
    };
    let Some(inc) = app.replica.state.incident(r) else {
        return;
    };
    let chain = versions(inc, h.entry);
    let width = area.width.saturating_sub(4).clamp(20, 96);
    let inner_w = width.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = Vec::new();
    let n = chain.len();
    if n <= 1 {
        lines.push(Line::styled(" never corrected", theme.muted));
    } else {
        lines.push(Line::styled(
            format!(" {n} versions, the original first"),
            theme.muted,
        ));
    }
    for (i, e) in chain.iter().enumerate() {
        lines.push(Line::raw(""));
        let label = if n == 1 {
            "entry".to_string()
        } else if i == 0 {
            "original".to_string()
        } else if i + 1 == n {
            format!("correction {i} (current)")
        } else {
            format!("correction {i}")
        };
        let style = if i + 1 == n { theme.title } else { theme.muted };
        lines.push(Line::from(vec![
            Span::styled(format!(" {label}: "), style),
            Span::styled(version_heading(app, e), theme.text),
        ]));
        for para in e.text.split('\n') {
            for l in wrap_plain(&clean(para), inner_w.saturating_sub(4)) {
                lines.push(Line::styled(
                    format!("    {l}"),
                    if i + 1 == n { theme.text } else { theme.muted },
                ));
            }
        }
    }
    let height = (lines.len() as u16 + 2).min(area.height);
    let visible = height.saturating_sub(2) as usize;
    let offset = h.offset.min(lines.len().saturating_sub(visible));
    let popup = Rect::new(
        area.x + area.width.saturating_sub(width) / 2,
        area.y + area.height.saturating_sub(height) / 2,
        width.min(area.width),
        height,
    );
    Clear.render(popup, buf);
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focus)
        .title(Span::styled(
            format!(" History · {r} entry #{} ", h.entry),
            theme.focus,
        ))
        .title_bottom(Span::styled(" ↑↓ scroll · esc closes ", theme.muted));
    if lines.len() > offset + visible {
        block = block.title_bottom(Span::styled(" ↓ more ", theme.key));
    }
    Paragraph::new(lines.into_iter().skip(offset).collect::<Vec<_>>())
        .block(block)
        .render(popup, buf);
}

/// Word-wraps plain text to `width` characters.
pub fn wrap_plain(s: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut out = Vec::new();
    let mut cur = String::new();
    for word in s.split(' ') {
        let w = word.chars().count();
        let c = cur.chars().count();
        if c > 0 && c + 1 + w > width {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
        while cur.chars().count() > width {
            let head: String = cur.chars().take(width).collect();
            let tail: String = cur.chars().skip(width).collect();
            out.push(head);
            cur = tail;
        }
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_describe() {
        let f = TimelineFilter::parse("kind:hypothesis,d author:Bob pool").unwrap();
        assert_eq!(
            f.kinds,
            BTreeSet::from([EntryKind::Hypothesis, EntryKind::Decision])
        );
        assert_eq!(f.authors, ["bob"]);
        assert_eq!(f.words, "pool");
        assert_eq!(f.describe(), "kind:decision,hypothesis author:bob \"pool\"");
        assert!(!TimelineFilter::parse("").unwrap().narrows());
        assert!(
            TimelineFilter::parse("kind:chef")
                .unwrap_err()
                .contains("unknown entry kind 'chef'")
        );
        assert!(TimelineFilter::parse("author:").is_err());
        assert_eq!(
            TimelineFilter::parse("kind:updates").unwrap().kinds,
            BTreeSet::from([EntryKind::StatusUpdate])
        );
    }

    #[test]
    fn case_blind_search_finds_every_match() {
        assert_eq!(find_ci("Pool pool POOL", "pool"), vec![0..4, 5..9, 10..14]);
        assert_eq!(find_ci("Ünïcode ünï", "ÜNÏ"), vec![0..5, 10..15]);
        assert!(find_ci("abc", "").is_empty());
        assert!(find_ci("ab", "abc").is_empty());
        let spans = highlight(
            "the Pool ran dry".into(),
            "pool",
            Style::default(),
            hit_style(Style::default()),
        );
        let texts: Vec<&str> = spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(texts, ["the ", "Pool", " ran dry"]);
    }
}
