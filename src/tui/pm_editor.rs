//! The post-mortem editor (`:postmortem`, `:pm`): a full-screen editor for the room's
//! incident with the seed template's parts — summary, root cause as a 5-whys chain,
//! contributing factors, what went well, what went poorly, lessons learned, and action
//! items. Tab moves between parts; leaving a part that changed (or ctrl-s) sends it. Text
//! nobody has saved stays in the editor (per room) until it is sent, so closing the editor
//! or a refusal never loses it; parts nobody is editing here follow other consoles live.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};
use tui_textarea::{CursorMove, TextArea};

use super::app::{App, Effect, Level, Mode, Screen, Unsent};
use super::paste::{self, Lines};
use super::theme::Theme;
use super::timeline::wrap_plain;
use super::ui::clean;
use crate::model::postmortem::{MAX_WHYS, Postmortem, parse_whys, whys_text};
use crate::model::validate::{self, MAX_ENTRY, MAX_ITEM};
use crate::model::{Command, IncidentRef, PmSection, Status};

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
    area_with("", "TEXT @owner due:YYYY-MM-DD (owner defaults to you)")
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
/// editor's add line). The owner defaults to `me`; `due:` also takes `today`, `tomorrow`,
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
    Ok((
        words.join(" "),
        owner.unwrap_or_else(|| "me".to_string()),
        due,
    ))
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

impl App {
    /// `:postmortem` / `:pm`: the editor for `r` (its room opens), with the kept draft.
    pub(super) fn open_postmortem(&mut self, r: IncidentRef, fx: &mut Vec<Effect>) {
        let Some(inc) = self.replica.state.incident(r) else {
            self.flash(Level::Error, self.not_here(r));
            return;
        };
        let pm = inc.postmortem.clone();
        let closed = inc.status == Status::Closed;
        if self.screen != Screen::Room(r) {
            self.open_room(r, fx);
        }
        let view = self.rooms.entry(r).or_default();
        match view.pm.as_mut() {
            Some(ed) => ed.sync(&pm),
            None => view.pm = Some(PmEditor::new(&pm)),
        }
        self.mode = Mode::Postmortem;
        if closed {
            self.flash(
                Level::Info,
                format!("{r} is closed: its post-mortem is final (read only)"),
            );
        }
    }

    fn pm_room(&self) -> Option<IncidentRef> {
        match self.screen {
            Screen::Room(r) => self.rooms.get(&r)?.pm.as_ref().map(|_| r),
            _ => None,
        }
    }

    /// Keys while the editor is open: they edit, move between parts, save, or close it.
    pub(super) fn postmortem_key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
        let Some(r) = self.pm_room() else {
            self.mode = Mode::Normal;
            return;
        };
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let Some(part) = self
            .rooms
            .get(&r)
            .and_then(|v| v.pm.as_ref())
            .map(PmEditor::part)
        else {
            return;
        };
        let adding = self
            .rooms
            .get(&r)
            .and_then(|v| v.pm.as_ref())
            .is_some_and(|e| e.adding);
        match k.code {
            KeyCode::Esc if part == Part::Actions && adding => {
                if let Some(ed) = self.editor(r) {
                    ed.adding = false;
                }
            }
            KeyCode::Esc => {
                let saved = self.commit_part(r, part, fx);
                self.mode = Mode::Normal;
                let unsaved: Vec<&str> = self
                    .rooms
                    .get(&r)
                    .and_then(|v| v.pm.as_ref())
                    .map(|ed| {
                        PARTS
                            .iter()
                            .filter(|p| ed.part_dirty(**p))
                            .map(|p| part_title(*p))
                            .collect()
                    })
                    .unwrap_or_default();
                match saved {
                    Err(e) => self.flash(Level::Error, format!("{e} · :pm reopens your draft")),
                    Ok(()) if !unsaved.is_empty() => self.flash(
                        Level::Info,
                        format!(
                            "{r}: post-mortem draft kept (not sent: {}) · :pm reopens it",
                            unsaved.join(", ").to_lowercase()
                        ),
                    ),
                    Ok(()) => {}
                }
            }
            KeyCode::Tab | KeyCode::BackTab => {
                if let Err(e) = self.commit_part(r, part, fx) {
                    self.flash(Level::Error, e);
                    return;
                }
                if let Some(ed) = self.editor(r) {
                    let n = PARTS.len();
                    ed.focus = if k.code == KeyCode::Tab {
                        (ed.focus + 1) % n
                    } else {
                        (ed.focus + n - 1) % n
                    };
                    ed.adding = false;
                }
            }
            KeyCode::Char('s') if ctrl => self.save_all(r, fx),
            _ => match part {
                Part::Text(s) => {
                    if let Some(t) = self.editor(r).and_then(|ed| ed.texts.get_mut(&s)) {
                        t.input(k);
                    }
                }
                Part::Whys => {
                    if let Some(ed) = self.editor(r) {
                        ed.whys.input(k);
                    }
                }
                Part::Actions => self.actions_key(r, k, adding, fx),
            },
        }
    }

    fn editor(&mut self, r: IncidentRef) -> Option<&mut PmEditor> {
        self.rooms.get_mut(&r).and_then(|v| v.pm.as_mut())
    }

    fn actions_key(&mut self, r: IncidentRef, k: KeyEvent, adding: bool, fx: &mut Vec<Effect>) {
        let items: Vec<(u64, bool)> = self
            .replica
            .state
            .incident(r)
            .map(|i| {
                i.postmortem
                    .action_items
                    .iter()
                    .map(|a| (a.id, a.done))
                    .collect()
            })
            .unwrap_or_default();
        let plain = !k
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        if adding {
            if k.code == KeyCode::Enter {
                self.add_item_from_line(r, fx);
            } else if let Some(ed) = self.editor(r) {
                ed.new_item.input(k);
            }
            return;
        }
        let Some(ed) = self.editor(r) else { return };
        match k.code {
            KeyCode::Up | KeyCode::Char('k') if plain => ed.item = ed.item.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') if plain => {
                ed.item = (ed.item + 1).min(items.len().saturating_sub(1))
            }
            KeyCode::Enter | KeyCode::Char('a') | KeyCode::Char('i') if plain => ed.adding = true,
            KeyCode::Char(' ') | KeyCode::Char('x') if plain => {
                let Some((id, done)) = items.get(ed.item).copied() else {
                    self.flash(Level::Error, "no action item yet: a adds one");
                    return;
                };
                let word = if done { "reopen" } else { "done" };
                self.send(
                    Command::UpdateActionItem {
                        incident: r,
                        item: id,
                        text: None,
                        owner: None,
                        due: None,
                        done: Some(!done),
                    },
                    format!("{r}: action item {id} {word}"),
                    fx,
                );
            }
            _ => {}
        }
    }

    fn add_item_from_line(&mut self, r: IncidentRef, fx: &mut Vec<Effect>) {
        let today = self.now.with_timezone(&self.tz).date_naive();
        let Some(line) = self.editor(r).map(|ed| text_of(&ed.new_item)) else {
            return;
        };
        if line.is_empty() {
            return;
        }
        match parse_action_spec(&line, today) {
            Ok((text, owner, due)) => {
                let short: String = text.chars().take(40).collect();
                let id = self.send(
                    Command::AddActionItem {
                        incident: r,
                        text,
                        owner,
                        due,
                    },
                    format!("{r}: action item {short}"),
                    fx,
                );
                self.unsent
                    .insert(id, Unsent::ActionItem { incident: r, line });
                if let Some(ed) = self.editor(r) {
                    ed.new_item = new_item_line();
                }
            }
            Err(e) => self.flash(Level::Error, e),
        }
    }

    /// Sends a part that changed. An error leaves the draft as it is.
    fn commit_part(
        &mut self,
        r: IncidentRef,
        part: Part,
        fx: &mut Vec<Effect>,
    ) -> Result<(), String> {
        let Some(pm) = self.replica.state.incident(r).map(|i| i.postmortem.clone()) else {
            return Ok(());
        };
        let Some(ed) = self.editor(r) else {
            return Ok(());
        };
        if !ed.part_dirty(part) {
            return Ok(());
        }
        match part {
            Part::Text(s) => {
                let text = ed.texts.get(&s).map(text_of).unwrap_or_default();
                if pm.section(s) == Some(text.as_str()) {
                    ed.bases.insert(s, text);
                    return Ok(());
                }
                if text.is_empty() {
                    return Err(format!(
                        "{} was written and cannot be emptied: write what replaces it",
                        s.title()
                    ));
                }
                // Too long for the feed: said here, the text kept and not sent.
                validate::text(s.title(), &text, MAX_ENTRY, true)
                    .map_err(|e| format!("not saved: {}", e.message))?;
                ed.bases.insert(s, text.clone());
                self.send(
                    Command::EditPostmortem {
                        incident: r,
                        section: s,
                        text,
                    },
                    format!("{r}: post-mortem {}", s.title().to_lowercase()),
                    fx,
                );
            }
            Part::Whys => {
                let text = text_of(&ed.whys);
                let whys = parse_whys(&text).map_err(|e| format!("5 whys not saved: {e}"))?;
                ed.whys_base = text;
                if whys == pm.whys {
                    return Ok(());
                }
                self.send(
                    Command::SetWhys { incident: r, whys },
                    format!("{r}: 5 whys"),
                    fx,
                );
            }
            Part::Actions => {}
        }
        Ok(())
    }

    /// ctrl-s: every part that changed.
    fn save_all(&mut self, r: IncidentRef, fx: &mut Vec<Effect>) {
        let before = fx.len();
        let mut errors = Vec::new();
        for p in PARTS {
            if let Err(e) = self.commit_part(r, p, fx) {
                errors.push(e);
            }
        }
        if let Some(e) = errors.into_iter().next() {
            self.flash(Level::Error, e);
        } else if fx.len() == before {
            self.flash(Level::Info, "nothing to save: every part is as sent");
        }
    }

    /// A paste into the part with the keys: sections and the 5 whys keep its line breaks,
    /// the action items' add line takes it on one line.
    pub(super) fn postmortem_paste(&mut self, text: &str) -> Result<(), String> {
        let Some(r) = self.pm_room() else {
            return Ok(());
        };
        let Some(ed) = self.editor(r) else {
            return Ok(());
        };
        let len = paste::trimmed_len;
        match ed.part() {
            Part::Text(s) => match ed.texts.get_mut(&s) {
                Some(t) => {
                    paste::into_area(t, text, Lines::Many, MAX_ENTRY, "a section holds", len)
                }
                None => Ok(()),
            },
            Part::Whys => paste::into_area(
                &mut ed.whys,
                text,
                Lines::Many,
                MAX_WHYS * 2 * MAX_ITEM,
                "the 5 whys hold",
                len,
            ),
            Part::Actions => {
                ed.adding = true;
                paste::into_area(
                    &mut ed.new_item,
                    text,
                    Lines::One,
                    MAX_ITEM,
                    "an action item holds",
                    len,
                )
            }
        }
    }

    /// A refused action item goes back to the add line of `r`'s editor (before what was
    /// typed there since). False when there is no editor to take it.
    pub(super) fn give_back_action_item(&mut self, r: IncidentRef, line: &str) -> bool {
        let Some(ed) = self.editor(r) else {
            return false;
        };
        let typed = text_of(&ed.new_item);
        let text = if typed.is_empty() {
            line.to_string()
        } else {
            format!("{line} {typed}")
        };
        let ph = ed.new_item.placeholder_text().to_string();
        ed.new_item = area_with(&text, &ph);
        true
    }

    /// After each feed update: kept drafts take in what others saved.
    pub(super) fn sync_postmortems(&mut self) {
        let state = &self.replica.state;
        for (r, v) in self.rooms.iter_mut() {
            if let (Some(ed), Some(inc)) = (v.pm.as_mut(), state.incident(*r)) {
                ed.sync(&inc.postmortem);
            }
        }
    }

    /// Drafts of the record features not sent yet (for the quit question).
    pub(super) fn record_drafts(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (r, v) in &self.rooms {
            if v.update.as_ref().is_some_and(|f| !f.is_blank()) {
                out.push(format!("the status update draft in {r}"));
            }
            if v.pm.as_ref().is_some_and(PmEditor::is_dirty) {
                out.push(format!("unsaved post-mortem text in {r}"));
            }
        }
        out.sort();
        out
    }

    /// A command of these features was recorded: say so.
    pub(super) fn record_answered(&mut self, id: &str, command: &Command) {
        let text = match command {
            Command::AddEntry { .. } => {
                self.update_posted(id);
                return;
            }
            Command::EditPostmortem {
                incident, section, ..
            } => format!("{incident}: {} saved", section.title().to_lowercase()),
            Command::SetWhys { incident, whys } => {
                format!("{incident}: 5 whys saved ({} links)", whys.len())
            }
            Command::AddActionItem { incident, .. } => format!("{incident}: action item added"),
            Command::UpdateActionItem {
                incident,
                item,
                done: Some(done),
                ..
            } => format!(
                "{incident}: action item {item} {}",
                if *done { "done" } else { "open again" }
            ),
            Command::WaivePostmortem { incident, .. } => {
                format!("{incident}: post-mortem waived; it can be closed")
            }
            Command::SetStatus {
                incident,
                status: Status::Closed,
            } => format!("{incident} closed"),
            Command::SetMilestone {
                incident,
                milestone,
                occurred_at,
            } => {
                let at = occurred_at
                    .map(|t| format!(" at {}", t.with_timezone(&self.tz).format("%H:%M")))
                    .unwrap_or_default();
                format!("{incident}: {}{at}", milestone.as_str().replace('_', " "))
            }
            _ => return,
        };
        self.flash(Level::Info, text);
    }

    /// A command of these features was refused: what the person can do next (appended to
    /// the refusal), and the draft made unsent again so it is not lost.
    pub(super) fn record_refused(&mut self, id: &str, command: &Command, message: &str) -> String {
        match command {
            Command::SetStatus {
                status: Status::Closed,
                ..
            } if message.contains("post-mortem") => {
                " · :pm writes it, :waive REASON skips it".to_string()
            }
            Command::AddEntry { .. } => {
                let kept = self
                    .rooms
                    .values()
                    .any(|v| v.update_sent.as_ref().is_some_and(|(s, _)| s == id));
                self.update_refused(id);
                if kept {
                    " · :update reopens your draft".to_string()
                } else {
                    String::new()
                }
            }
            Command::EditPostmortem {
                incident, section, ..
            } => {
                let server = self
                    .replica
                    .state
                    .incident(*incident)
                    .and_then(|i| i.postmortem.section(*section))
                    .unwrap_or("")
                    .to_string();
                match self.editor(*incident) {
                    Some(ed) => {
                        ed.bases.insert(*section, server);
                        " · your text stays in :pm".to_string()
                    }
                    None => String::new(),
                }
            }
            Command::SetWhys { incident, .. } => {
                let server = self
                    .replica
                    .state
                    .incident(*incident)
                    .map(|i| whys_text(&i.postmortem.whys))
                    .unwrap_or_default();
                match self.editor(*incident) {
                    Some(ed) => {
                        ed.whys_base = server;
                        " · your text stays in :pm".to_string()
                    }
                    None => String::new(),
                }
            }
            _ => String::new(),
        }
    }
}

// ---- drawing ---------------------------------------------------------------------------

/// The editor over the main area (the status line stays visible below it).
pub fn render(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let Screen::Room(r) = app.screen else { return };
    let Some(ed) = app.rooms.get(&r).and_then(|v| v.pm.as_ref()) else {
        return;
    };
    let Some(inc) = app.replica.state.incident(r) else {
        return;
    };
    let pm = &inc.postmortem;
    Clear.render(area, buf);
    let [head, body, hints] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);

    // Header: what this is, and what closing still needs.
    let state = if let Some(w) = &pm.waived {
        Span::styled(format!("waived: {}", clean(w)), theme.muted)
    } else if let Some(missing) = pm.missing_for_close() {
        Span::styled(
            format!("closing needs {missing} (or :waive REASON)"),
            theme.timer_due,
        )
    } else if inc.status == Status::Closed {
        Span::styled("closed: the record is final", theme.muted)
    } else {
        Span::styled("complete enough to close (:status closed)", theme.timer_ok)
    };
    Paragraph::new(vec![
        Line::from(vec![
            Span::styled(format!(" Post-mortem · {r} "), theme.title),
            Span::styled(clean(&inc.title), theme.title),
            Span::styled(
                format!("  · {} · {}", inc.severity, inc.status),
                theme.muted,
            ),
        ]),
        Line::from(vec![Span::raw(" "), state]),
    ])
    .render(head, buf);

    let side_w = 30.min(body.width / 3).max(12);
    let [side, main] =
        Layout::horizontal([Constraint::Length(side_w), Constraint::Min(10)]).areas(body);

    // The parts, with what each holds.
    let mut lines = Vec::new();
    for (i, p) in PARTS.iter().enumerate() {
        let focused = i == ed.focus;
        let (mark, mark_style) = if ed.part_dirty(*p) {
            ("●", theme.timer_due)
        } else {
            let written = match p {
                Part::Text(s) => pm.section(*s).is_some(),
                Part::Whys => !pm.whys.is_empty(),
                Part::Actions => !pm.action_items.is_empty(),
            };
            if written {
                ("✓", theme.timer_ok)
            } else {
                ("·", theme.muted)
            }
        };
        let extra = match p {
            Part::Whys if !pm.whys.is_empty() => format!(" ({})", pm.whys.len()),
            Part::Actions if !pm.action_items.is_empty() => {
                let done = pm.action_items.iter().filter(|a| a.done).count();
                format!(" ({done}/{} done)", pm.action_items.len())
            }
            _ => String::new(),
        };
        let style = if focused { theme.selected } else { theme.text };
        lines.push(Line::from(vec![
            Span::styled(if focused { " ▶ " } else { "   " }, style),
            Span::styled(format!("{mark} "), mark_style),
            Span::styled(format!("{}{extra}", part_title(*p)), style),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("   ● not sent yet", theme.muted));
    lines.push(Line::styled("   ✓ saved  · empty", theme.muted));
    Paragraph::new(lines)
        .block(
            Block::default()
                .borders(Borders::RIGHT)
                .border_style(theme.border),
        )
        .render(side, buf);

    let part = ed.part();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focus)
        .title(Span::styled(
            match part {
                Part::Whys => format!(" {} · one link a line: why | because ", part_title(part)),
                _ => format!(" {} ", part_title(part)),
            },
            theme.focus,
        ));
    let inner = block.inner(main);
    block.render(main, buf);
    let style_area = |t: &TextArea<'static>, focused: bool| {
        let mut t = t.clone();
        t.set_style(theme.input);
        t.set_cursor_line_style(Style::default());
        t.set_placeholder_style(theme.muted);
        if !focused {
            t.set_cursor_style(Style::default());
        }
        t
    };
    match part {
        Part::Text(s) => {
            if let Some(t) = ed.texts.get(&s) {
                style_area(t, true).render(inner, buf);
            }
        }
        Part::Whys => {
            let chain = parse_whys(&text_of(&ed.whys));
            let preview_h = match &chain {
                Ok(w) => (w.len() as u16 * 2 + 1).min(inner.height / 2),
                Err(_) => 2,
            };
            let [edit, preview] =
                Layout::vertical([Constraint::Min(2), Constraint::Length(preview_h)]).areas(inner);
            let mut t = style_area(&ed.whys, true);
            t.set_line_number_style(theme.muted);
            t.render(edit, buf);
            let mut lines = vec![Line::styled("", theme.muted)];
            match chain {
                Ok(w) => {
                    for (i, w) in w.iter().enumerate() {
                        lines.push(Line::from(vec![
                            Span::styled(format!(" {}. Why? ", i + 1), theme.key),
                            Span::styled(clean(&w.why), theme.text),
                        ]));
                        lines.push(Line::from(vec![
                            Span::styled("    Because: ", theme.muted),
                            Span::styled(clean(&w.because), theme.text),
                        ]));
                    }
                }
                Err(e) => lines.push(Line::styled(format!(" {e}"), theme.timer_due)),
            }
            Paragraph::new(lines).render(preview, buf);
        }
        Part::Actions => {
            let [list, add] =
                Layout::vertical([Constraint::Min(1), Constraint::Length(3)]).areas(inner);
            let width = list.width as usize;
            let mut lines = Vec::new();
            if pm.action_items.is_empty() {
                lines.push(Line::styled(
                    " No action items yet. a (or enter) adds one.",
                    theme.muted,
                ));
            }
            let cursor = ed.item.min(pm.action_items.len().saturating_sub(1));
            for (i, a) in pm.action_items.iter().enumerate() {
                let selected = i == cursor && !ed.adding;
                let due = a.due.map(|d| format!(" · due {d}")).unwrap_or_default();
                let mark = if a.done { "[x]" } else { "[ ]" };
                let text = format!(
                    " {} {mark} {}. {} — {}{due}",
                    if selected { "▶" } else { " " },
                    i + 1,
                    clean(&a.text),
                    clean(&a.owner)
                );
                let style = if a.done { theme.muted } else { theme.text };
                for (k, l) in wrap_plain(&text, width).into_iter().enumerate() {
                    let l = if k == 0 { l } else { format!("         {l}") };
                    let mut line = Line::styled(l, style);
                    if selected {
                        line = line.patch_style(theme.selected);
                    }
                    lines.push(line);
                }
            }
            Paragraph::new(lines).render(list, buf);
            let b = Block::default()
                .borders(Borders::ALL)
                .border_style(if ed.adding { theme.focus } else { theme.border })
                .title(Span::styled(
                    " add: TEXT @owner due:YYYY-MM-DD · enter adds ",
                    if ed.adding { theme.focus } else { theme.muted },
                ));
            let bi = b.inner(add);
            b.render(add, buf);
            style_area(&ed.new_item, ed.adding).render(bi, buf);
        }
    }

    let hint = match part {
        Part::Actions if ed.adding => {
            " enter adds · esc back to the list · tab next part · ctrl-s saves all"
        }
        Part::Actions => " ↑↓ select · space done/open · a add · tab next part · esc closes",
        _ => {
            " tab next part · shift-tab previous · ctrl-s saves all · esc closes (sends this part)"
        }
    };
    Paragraph::new(Line::styled(hint, theme.muted)).render(hints, buf);
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
            parse_action_spec("Review pool changes due:+1w", today).unwrap(),
            (
                "Review pool changes".to_string(),
                "me".to_string(),
                NaiveDate::from_ymd_opt(2026, 3, 17)
            )
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
