//! What a room's timeline shows: a filter of kinds, authors and words (`:filter`), and
//! whether warroom's own system entries are shown (`H`, `:system on|off`). The room's
//! timeline index holds only the rows the filter lets through, so moving and drawing stay
//! cheap; changing the filter rebuilds it, the cursor staying on its entry.

use std::collections::BTreeSet;

use super::search::find_ci;
use super::timeline::TimelineIndex;
use crate::model::{Entry, EntryKind, IncidentRef};
use crate::tui::app::{App, Level};

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

impl App {
    /// Replaces the room's filter and rebuilds its rows; the cursor stays on its entry
    /// when the entry is still shown.
    pub(crate) fn set_timeline_filter(&mut self, r: IncidentRef, filter: TimelineFilter) {
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
    pub(crate) fn filter_timeline(&mut self, r: IncidentRef, args: &str) -> Result<(), String> {
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
    pub(crate) fn show_system(&mut self, show: Option<bool>) {
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
}
