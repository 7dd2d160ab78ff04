//! Searching a room's timeline (`/`): the needle typed in a line under the timeline,
//! matches highlighted (case-blind) in authors and texts, the cursor jumping to the nearest
//! match as the needle grows, and `n` / `N` stepping to the next and previous, wrapping.

use std::ops::Range;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Modifier, Style};
use ratatui::text::Span;

use crate::model::{Entry, IncidentRef};
use crate::tui::app::{App, Level, Mode};

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

impl App {
    /// `/` in a room: type a needle; matches are highlighted and the cursor jumps to the
    /// nearest one.
    pub(crate) fn start_search(&mut self, r: IncidentRef) {
        let origin = self.cursor_row(r);
        let view = self.rooms.entry(r).or_default();
        view.search.clear();
        view.search_origin = origin;
        self.mode = Mode::Search;
    }

    /// Keys while the search line is open.
    pub(crate) fn search_key(&mut self, k: KeyEvent) {
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
                    let note = self.unloaded_note(r);
                    self.flash(Level::Error, format!("no entry matches '{needle}'{note}"));
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
    pub(crate) fn search_paste(&mut self, text: &str) -> Result<(), String> {
        let Some(r) = self.room_in_view() else {
            return Ok(());
        };
        let search = &mut self.rooms.entry(r).or_default().search;
        crate::tui::paste::onto_line(
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

    /// `n` / `N` while a search is active in the room: the next match down (newer) or up
    /// (older), wrapping. Returns whether the key was used.
    pub(crate) fn search_step(&mut self, k: &KeyEvent) -> bool {
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
        let note = self.unloaded_note(r);
        let Some(cur) = self.cursor_row(r) else {
            self.flash(Level::Error, format!("no entry matches '{needle}'{note}"));
            return true;
        };
        match self.find_match(r, &needle, Some((cur, forward, false))) {
            Some(row) => {
                let wrapped = if forward { row <= cur } else { row >= cur };
                if wrapped {
                    self.flash(
                        Level::Info,
                        if row == cur {
                            format!("'{needle}': the only match{note}")
                        } else if forward {
                            format!("'{needle}': wrapped to the oldest match{note}")
                        } else {
                            format!("'{needle}': wrapped to the newest match{note}")
                        },
                    );
                }
                self.put_cursor(r, row);
            }
            None => self.flash(Level::Error, format!("no entry matches '{needle}'{note}")),
        }
        true
    }

    /// What a search of room `r` says when the room does not hold every entry: it searched
    /// the loaded ones only.
    fn unloaded_note(&self, r: IncidentRef) -> String {
        match self.older_not_held(r) {
            0 => String::new(),
            n => format!(
                " among the loaded entries · {n} older not loaded (scroll to the top to load them)"
            ),
        }
    }

    /// Esc in the room with a search active clears it (and nothing else). Returns whether
    /// there was one.
    pub(crate) fn clear_search(&mut self) -> bool {
        match self.room_in_view().and_then(|r| self.rooms.get_mut(&r)) {
            Some(v) if !v.search.is_empty() => {
                v.search.clear();
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
