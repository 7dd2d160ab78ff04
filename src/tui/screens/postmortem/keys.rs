//! What keys, pastes and the feed's answers do to the post-mortem editor: typing in the
//! part with the keys, tab to the next part (sending the one left when it changed),
//! ctrl-s for all of them, the action items' list and add line, and drafts kept through
//! refusals and through what other consoles save meanwhile.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{
    PARTS, Part, PmEditor, area_with, new_item_line, parse_action_spec, part_title, text_of,
};
use crate::model::postmortem::{MAX_WHYS, parse_whys, whys_text};
use crate::model::validate::{self, MAX_ENTRY, MAX_ITEM};
use crate::model::{Command, IncidentRef, Status};
use crate::tui::app::{App, Effect, Level, Mode, Screen, Unsent};
use crate::tui::paste::{self, Lines};

impl App {
    /// `:postmortem` / `:pm`: the editor for `r` (its room opens), with the kept draft.
    pub(crate) fn open_postmortem(&mut self, r: IncidentRef, fx: &mut Vec<Effect>) {
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
    pub(crate) fn postmortem_key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
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
    pub(crate) fn postmortem_paste(&mut self, text: &str) -> Result<(), String> {
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
    pub(crate) fn give_back_action_item(&mut self, r: IncidentRef, line: &str) -> bool {
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
    pub(crate) fn sync_postmortems(&mut self) {
        let state = &self.replica.state;
        for (r, v) in self.rooms.iter_mut() {
            if let (Some(ed), Some(inc)) = (v.pm.as_mut(), state.incident(*r)) {
                ed.sync(&inc.postmortem);
            }
        }
    }

    /// Drafts of the record features not sent yet (for the quit question).
    pub(crate) fn record_drafts(&self) -> Vec<String> {
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
    pub(crate) fn record_answered(&mut self, id: &str, command: &Command) {
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
    pub(crate) fn record_refused(&mut self, id: &str, command: &Command, message: &str) -> String {
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
