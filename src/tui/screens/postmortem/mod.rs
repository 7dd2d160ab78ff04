//! The post-mortem editor (`:postmortem`, `:pm`): a full-screen editor for the room's
//! incident with the seed template's parts — summary, root cause as a 5-whys chain,
//! contributing factors, what went well, what went poorly, lessons learned, and action
//! items. Tab moves between parts; leaving a part that changed (or ctrl-s) sends it. Text
//! nobody has saved stays in the editor (per room) until it is sent, so closing the editor
//! or a refusal never loses it; parts nobody is editing here follow other consoles live.
//!
//! This file holds the editor's state and the action-item syntax; `keys.rs` what keys,
//! pastes and the feed's answers do to it; `draw.rs` how it looks.

mod draw;
mod keys;

pub use draw::render;

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use tui_textarea::{CursorMove, TextArea};

use crate::model::PmSection;
use crate::model::postmortem::{Postmortem, whys_text};

/// One part of the editor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Text(PmSection),
    Whys,
    Actions,
}

/// The parts in the template's order; tab walks them.
pub const PARTS: [Part; 7] = [
    Part::Text(PmSection::Summary),
    Part::Whys,
    Part::Text(PmSection::ContributingFactors),
    Part::Text(PmSection::WentWell),
    Part::Text(PmSection::WentPoorly),
    Part::Text(PmSection::Lessons),
    Part::Actions,
];

pub fn part_title(p: Part) -> &'static str {
    match p {
        Part::Text(s) => s.title(),
        Part::Whys => "Root cause (5 whys)",
        Part::Actions => "Action items",
    }
}

/// An open (or kept) post-mortem draft.
pub struct PmEditor {
    /// Index into [`PARTS`].
    pub focus: usize,
    pub texts: BTreeMap<PmSection, TextArea<'static>>,
    /// What each section held when loaded or last sent: an edit is what differs from it.
    pub bases: BTreeMap<PmSection, String>,
    /// The 5 whys as `why | because` lines.
    pub whys: TextArea<'static>,
    pub whys_base: String,
    /// The selected action item (index into the incident's list).
    pub item: usize,
    /// The add line has the keys (else the list does).
    pub adding: bool,
    pub new_item: TextArea<'static>,
}

fn area_with(text: &str, placeholder: &str) -> TextArea<'static> {
    let lines: Vec<String> = if text.is_empty() {
        vec![String::new()]
    } else {
        text.lines().map(str::to_string).collect()
    };
    let mut t = TextArea::new(lines);
    t.set_placeholder_text(placeholder.to_string());
    t.move_cursor(CursorMove::Bottom);
    t.move_cursor(CursorMove::End);
    t
}

fn text_of(t: &TextArea) -> String {
    t.lines().join("\n").trim().to_string()
}

fn new_item_line() -> TextArea<'static> {
    area_with("", "TEXT @owner due:YYYY-MM-DD (owner: @NAME or @me)")
}

impl PmEditor {
    pub fn new(pm: &Postmortem) -> Self {
        let mut texts = BTreeMap::new();
        let mut bases = BTreeMap::new();
        for p in PARTS {
            if let Part::Text(s) = p {
                let t = pm.section(s).unwrap_or("").to_string();
                texts.insert(s, area_with(&t, "not written yet"));
                bases.insert(s, t);
            }
        }
        let wt = whys_text(&pm.whys);
        PmEditor {
            focus: 0,
            texts,
            bases,
            whys: area_with(
                &wt,
                "Why did checkout fail? | The pool ran out of connections",
            ),
            whys_base: wt,
            item: 0,
            adding: false,
            new_item: new_item_line(),
        }
    }

    pub fn part(&self) -> Part {
        PARTS[self.focus.min(PARTS.len() - 1)]
    }

    /// A part holds text that was not sent.
    pub fn part_dirty(&self, p: Part) -> bool {
        match p {
            Part::Text(s) => {
                self.texts.get(&s).map(text_of).unwrap_or_default()
                    != self.bases.get(&s).cloned().unwrap_or_default()
            }
            Part::Whys => text_of(&self.whys) != self.whys_base,
            Part::Actions => !text_of(&self.new_item).is_empty(),
        }
    }

    pub fn is_dirty(&self) -> bool {
        PARTS.iter().any(|p| self.part_dirty(*p))
    }

    /// Takes what other consoles saved into the parts this one has not changed.
    pub fn sync(&mut self, pm: &Postmortem) {
        for p in PARTS {
            match p {
                Part::Text(s) => {
                    let server = pm.section(s).unwrap_or("").to_string();
                    if !self.part_dirty(p) && self.bases.get(&s) != Some(&server) {
                        self.texts.insert(s, area_with(&server, "not written yet"));
                        self.bases.insert(s, server);
                    }
                }
                Part::Whys => {
                    let server = whys_text(&pm.whys);
                    if !self.part_dirty(p) && self.whys_base != server {
                        let ph = self.whys.placeholder_text().to_string();
                        self.whys = area_with(&server, &ph);
                        self.whys_base = server;
                    }
                }
                Part::Actions => {
                    self.item = self.item.min(pm.action_items.len().saturating_sub(1));
                }
            }
        }
    }
}

/// `TEXT @owner due:YYYY-MM-DD`: an action item as typed (the palette's `:action` and the
/// editor's add line). The owner is required (`@me` for yourself); `due:` also takes `today`, `tomorrow`,
/// `+3d` and `+2w` (from `today`).
pub fn parse_action_spec(
    s: &str,
    today: NaiveDate,
) -> Result<(String, String, Option<NaiveDate>), String> {
    let mut owner = None;
    let mut due = None;
    let mut words = Vec::new();
    for token in s.split_whitespace() {
        let lower = token.to_ascii_lowercase();
        if let Some(name) = token
            .strip_prefix('@')
            .or_else(|| lower.starts_with("owner:").then(|| &token[6..]))
        {
            if name.is_empty() {
                return Err("@ needs a name, as in @bob (or @me)".into());
            }
            owner = Some(name.to_string());
        } else if let Some(d) = lower.strip_prefix("due:") {
            due = Some(parse_due(d, today)?);
        } else {
            words.push(token);
        }
    }
    if words.is_empty() {
        return Err("an action item needs its text: TEXT @owner due:YYYY-MM-DD".into());
    }
    // Assigned, never silently to whoever typed it (seed architecture: one person owns it).
    let Some(owner) = owner else {
        return Err(
            "an action item needs an owner: @NAME (or @me), as in TEXT @bob due:+7d".into(),
        );
    };
    Ok((words.join(" "), owner, due))
}

fn parse_due(d: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    let bad = || format!("due:{d} is not a date: write due:YYYY-MM-DD, due:+7d or due:tomorrow");
    match d {
        "today" => return Ok(today),
        "tomorrow" => return Ok(today + Duration::days(1)),
        _ => {}
    }
    if let Some(n) = d.strip_prefix('+') {
        let (num, unit) = n.split_at(n.len().saturating_sub(1));
        let num: i64 = num.parse().map_err(|_| bad())?;
        let days = match unit {
            "d" => num,
            "w" => num * 7,
            _ => return Err(bad()),
        };
        return (0..=3660)
            .contains(&days)
            .then(|| today + Duration::days(days))
            .ok_or_else(bad);
    }
    NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_specs_parse() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        assert_eq!(
            parse_action_spec("Alert on pool use @bob due:2026-03-21", today).unwrap(),
            (
                "Alert on pool use".to_string(),
                "bob".to_string(),
                NaiveDate::from_ymd_opt(2026, 3, 21)
            )
        );
        assert_eq!(
            parse_action_spec("Review pool changes @me due:+1w", today).unwrap(),
            (
                "Review pool changes".to_string(),
                "me".to_string(),
                NaiveDate::from_ymd_opt(2026, 3, 17)
            )
        );
        // Never silently the author: the owner is named.
        assert!(
            parse_action_spec("Review pool changes due:+1w", today)
                .unwrap_err()
                .contains("needs an owner: @NAME (or @me)")
        );
        assert!(
            parse_action_spec("x due:someday", today)
                .unwrap_err()
                .contains("due:someday is not a date")
        );
        assert!(
            parse_action_spec("@bob", today)
                .unwrap_err()
                .contains("needs its text")
        );
    }
}
