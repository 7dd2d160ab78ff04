//! What the feed's updates do to the console: the replica folds them, an open room's
//! timeline index follows event by event, the board's cursor stays on its incident, a room
//! the reader may no longer see is left, answers to what this console sent are said in
//! the status line (a refusal gives the typed text back to where it was typed), and the
//! answers to its queries go where they were asked for (a room's entries, the archive, the
//! metrics). What passes out of the feed's live window and is not shown is dropped.

use chrono::{DateTime, Utc};

use super::app::{App, Asked, Effect, Level, Mode, Screen, Unsent};
use super::keymap::Action;
use super::screens::room::scribe_pane::draft_with;
use super::screens::room::timeline::TimelineIndex;
use super::scribe;
use crate::client::Update;
use crate::model::{Command, EntryKind, IncidentRef};
use crate::protocol::{Answer, QueryResult};

impl App {
    /// One update from the feed.
    pub(crate) fn feed_update(&mut self, u: Update, fx: &mut Vec<Effect>) {
        // The board's cursor stays on its incident while rows come, go and re-sort: a
        // single key (`a`, `+`) must act on the incident the person chose, not on whatever
        // moved into its row.
        let pinned = self.board_pick();
        // A snapshot mid-stream may let this person into restricted incidents: say which.
        let was_withheld = matches!(u, Update::Snapshot(_))
            .then(|| self.replica.state.withheld.clone())
            .unwrap_or_default();
        if let Err(e) = self.replica.apply(&u) {
            self.flash(Level::Error, format!("resynchronising: {e}"));
            fx.push(Effect::Resync);
            return;
        }
        self.dirty = true;
        match u {
            Update::Conn(c) => self.conn = c,
            // The feed's replica this console is on now: the status line names it.
            Update::Address(url) => self.feed = url,
            Update::Snapshot(_) => {
                let let_in: Vec<String> = was_withheld
                    .iter()
                    .filter(|r| self.replica.state.incident(**r).is_some())
                    .map(|r| r.to_string())
                    .collect();
                if !let_in.is_empty() {
                    self.flash(
                        Level::Info,
                        format!(
                            "you were added to the members of {} (restricted: need to know)",
                            let_in.join(", ")
                        ),
                    );
                }
                self.timelines.clear();
                let open: Vec<IncidentRef> = self.rooms.keys().copied().collect();
                for r in open {
                    // What was fetched for a room went with the old state: asked again.
                    if let Some(v) = self.rooms.get_mut(&r) {
                        v.older = Default::default();
                    }
                    if let Some(inc) = self.replica.state.incident(r) {
                        let filter = self.rooms.get(&r).map(|v| &v.filter);
                        let index =
                            TimelineIndex::filtered(inc, filter.unwrap_or(&Default::default()));
                        self.timelines.insert(r, index);
                    }
                }
                if let Screen::Room(r) = self.screen
                    && !self.replica.state.withheld.contains(&r)
                {
                    self.ask_open(r, fx);
                }
            }
            Update::Incident(inc) => {
                // Back in the live work: held as sent; a room open on it asks again.
                let r = inc.reference;
                if let Some(v) = self.rooms.get_mut(&r) {
                    v.older = Default::default();
                }
                if self.timelines.contains_key(&r) {
                    self.reindex(r);
                }
                if self.screen == Screen::Room(r) {
                    self.ask_open(r, fx);
                }
            }
            Update::Result { id, result } => self.query_answered(&id, result, fx),
            Update::QueryFailed { id, error } => self.query_failed(&id, &error.message, fx),
            Update::Event(e) => {
                self.index_event(&e);
                self.note_news(&e, fx);
                self.demo_resolved(&e, fx);
                if let Some(r) = e.kind.incident()
                    && self.open_when_known == Some(r)
                {
                    self.open_when_known = None;
                    self.open_declared(r, fx);
                }
            }
            Update::Answer {
                id,
                command,
                answer,
            } => self.answered(&id, &command, answer, fx),
            Update::ServerError { message, .. } => self.flash(Level::Error, message),
            Update::Policy(p) => {
                self.schedules = self.feed_schedules(&p);
                self.feed_policy = p.check().ok();
            }
            Update::Synced(_) => self.ever_synced = true,
            Update::Welcome { .. } | Update::Presence(..) | Update::Queued(_) => {}
        }
        // A snapshot without it, or a `withheld` event (restricted, and this person was
        // taken off its members), takes the open room away.
        if let Screen::Room(r) = self.screen
            && self.replica.state.incident(r).is_none()
            && !self.room_loading(r)
        {
            self.leave_vanished_room(r, fx);
        }
        self.sync_postmortems();
        self.forget_vanished_news();
        // The checklist's incident can vanish with a fresh snapshot: the overlay goes too.
        if let Some(view) = self.runbook
            && self.replica.state.incident(view.incident).is_none()
        {
            self.close_runbook();
        }
        self.keep_board_selection(pinned);
    }

    /// The answer to a query this console asked, to where it was asked for.
    fn query_answered(&mut self, id: &str, result: QueryResult, fx: &mut Vec<Effect>) {
        let Some(asked) = self.asked.remove(id) else {
            return;
        };
        match (asked, result) {
            (Asked::Open(r), QueryResult::Incident { incident }) if incident.reference == r => {
                self.opened(id, *incident, fx)
            }
            (
                Asked::Page(r),
                QueryResult::Entries {
                    incident,
                    entries,
                    more,
                },
            ) if incident == r => self.page_arrived(id, r, entries, more),
            (
                Asked::Archive,
                QueryResult::Incidents {
                    incidents,
                    next,
                    withheld,
                },
            ) => self.archive_page(id, incidents, next, withheld, fx),
            (Asked::Metrics, QueryResult::Metrics { metrics }) => {
                self.metrics_answered(id, Ok(metrics))
            }
            (asked, other) => {
                let kind = serde_json::to_value(&other)
                    .ok()
                    .and_then(|v| v["kind"].as_str().map(str::to_string))
                    .unwrap_or_default();
                tracing::warn!("the feed answered {asked:?} with a '{kind}' result");
                self.query_failed_as(
                    id,
                    asked,
                    &format!("the feed answered with something else ('{kind}')"),
                    fx,
                );
            }
        }
    }

    /// A query this console asked that the feed refused or could not answer.
    fn query_failed(&mut self, id: &str, message: &str, fx: &mut Vec<Effect>) {
        if let Some(asked) = self.asked.remove(id) {
            self.query_failed_as(id, asked, message, fx);
        }
    }

    fn query_failed_as(&mut self, id: &str, asked: Asked, message: &str, fx: &mut Vec<Effect>) {
        match asked {
            Asked::Open(r) | Asked::Page(r) => self.room_query_failed(id, r, message, fx),
            Asked::Archive => self.archive_failed(id, message),
            Asked::Metrics => self.metrics_answered(id, Err(message.to_string())),
        }
    }

    /// Drops what this console holds and no longer needs: archived incidents (out of the
    /// feed's live window) not on screen, and the entries that accumulated on incidents
    /// not shown (back to a summary). Memory follows what is shown.
    pub(crate) fn evict_archived(&mut self) {
        let shown = match self.screen {
            Screen::Room(r) => Some(r),
            _ => None,
        };
        let checklist = self.runbook.map(|v| v.incident);
        let keep = |r: IncidentRef| Some(r) == shown || Some(r) == checklist;
        let gone = self.replica.evict_archived(self.now, keep);
        for r in &gone {
            self.timelines.remove(r);
            // A room left with nothing typed in it goes with its incident; one with a
            // draft or a form keeps them (nothing typed is lost).
            if self.rooms.get(r).is_some_and(|v| v.holds_nothing_typed()) {
                self.rooms.remove(r);
            } else if let Some(v) = self.rooms.get_mut(r) {
                v.older = Default::default();
            }
        }
        let grown: Vec<IncidentRef> = self
            .replica
            .state
            .incidents
            .values()
            .filter(|i| {
                i.entries.len() > super::screens::room::older::ROOM_PAGE as usize
                    && !keep(i.reference)
            })
            .map(|i| i.reference)
            .collect();
        for r in grown {
            self.leave_room(r);
            // Whole or not, what is not shown goes back to a summary (the feed has the rest).
            self.replica.trim(r);
        }
        if !gone.is_empty() {
            self.dirty = true;
        }
    }

    /// The on-call schedules of the feed's policy, the default first. A policy this console
    /// cannot read is said once, and the briefing then names no one on call rather than
    /// someone the feed would not page.
    fn feed_schedules(
        &mut self,
        policy: &crate::model::policy::PublicPolicy,
    ) -> Vec<crate::model::oncall::Schedule> {
        match policy.check() {
            Ok(p) => crate::report::handoff::schedules_default_first(&p),
            Err(errors) => {
                let text = format!(
                    "the feed's policy could not be read here ({}): :handoff names no one on call",
                    errors.join("; ")
                );
                if !self.notices.contains(&text) {
                    self.show_warning(text);
                }
                Vec::new()
            }
        }
    }

    /// The room on screen is gone from the replica (restricted and this person no longer a
    /// member, or a snapshot without it): back to the board, saying why. What was being
    /// typed stays: the palette line stays open, drafts stay with their room.
    fn leave_vanished_room(&mut self, r: IncidentRef, fx: &mut Vec<Effect>) {
        self.timelines.remove(&r);
        let keep = matches!(self.mode, Mode::Palette | Mode::Help | Mode::ConfirmQuit);
        let mode = self.mode;
        self.show_board(fx);
        if keep {
            self.mode = mode;
        }
        let why = if self.replica.state.withheld.contains(&r) {
            format!(
                "{r} is restricted (need to know) and you are not a member: back to the board · ask an admin to add you"
            )
        } else {
            format!("{r} is no longer in this feed: back to the board")
        };
        self.flash(Level::Error, why);
    }

    /// Opens the room of an incident this console declared, ready to write in, unless the
    /// person is busy with something else (the palette, the checklist, a draft): the keys
    /// they are typing must not land in another pane.
    fn open_declared(&mut self, r: IncidentRef, fx: &mut Vec<Effect>) {
        let idle_scribe = match self.screen {
            Screen::Room(at) => self.mode == Mode::Scribe && self.draft_is_empty(at),
            _ => false,
        };
        if self.mode == Mode::Normal || idle_scribe {
            self.open_room(r, fx);
            self.mode = Mode::Scribe;
        } else {
            self.flash(Level::Info, format!("{r} declared · :open {r} goes there"));
        }
    }

    /// A command the feed refused gives back the text it carried, to where it was typed:
    /// a scribe entry to its room's draft (before whatever was typed since), a palette
    /// line to the palette's history, an action item to the post-mortem's add line.
    /// Entries queued by an earlier run come back to their room's draft, rebuilt from the
    /// command. Returns what to add to the refusal's message.
    fn give_back(&mut self, id: &str, unsent: Option<Unsent>, command: &Command) -> String {
        let unsent = match (unsent, command) {
            (Some(u), _) => u,
            // The status-update form takes its own refusals back.
            (None, Command::AddEntry { .. })
                if self
                    .rooms
                    .values()
                    .any(|v| v.update_sent.as_ref().is_some_and(|(s, _)| s == id)) =>
            {
                return String::new();
            }
            (
                None,
                Command::AddEntry {
                    incident,
                    entry_kind,
                    text,
                    occurred_at,
                    ..
                },
            ) => Unsent::Scribe {
                incident: *incident,
                text: self.entry_as_typed(*entry_kind, text, *occurred_at),
            },
            (
                None,
                Command::AddActionItem {
                    incident,
                    text,
                    owner,
                    due,
                },
            ) => Unsent::ActionItem {
                incident: *incident,
                line: action_line(text, owner, *due),
            },
            (None, _) => return String::new(),
        };
        match unsent {
            Unsent::Scribe { incident, text } => {
                let view = self.rooms.entry(incident).or_default();
                let typed = view.draft.lines().join("\n");
                view.draft = if typed.trim().is_empty() {
                    draft_with(&text)
                } else {
                    draft_with(&format!("{text}\n{typed}"))
                };
                if self.screen == Screen::Room(incident) {
                    " · your text is back in the scribe pane".to_string()
                } else {
                    format!(" · your text is back in the scribe pane of {incident}")
                }
            }
            Unsent::Palette(line) => {
                self.remember_palette_line(&line);
                format!(
                    " · {} then ↑ brings the command back",
                    self.keymap.keys(Action::Palette)
                )
            }
            Unsent::ActionItem { incident, line } => {
                if self.give_back_action_item(incident, &line) {
                    " · your text is back in the post-mortem's add line (:pm)".to_string()
                } else {
                    self.remember_palette_line(&format!("action {incident} {line}"));
                    format!(
                        " · {} then ↑ brings it back as :action",
                        self.keymap.keys(Action::Palette)
                    )
                }
            }
        }
    }

    /// An entry as the scribe would have typed it: `@HH:MM` when backdated, the kind's
    /// prefix unless it is a note.
    fn entry_as_typed(
        &self,
        kind: EntryKind,
        text: &str,
        occurred_at: Option<DateTime<Utc>>,
    ) -> String {
        let at = occurred_at
            .map(|t| format!("@{} ", t.with_timezone(&self.tz).format("%H:%M")))
            .unwrap_or_default();
        let prefix = scribe::PREFIXES
            .iter()
            .find(|(_, _, k)| *k == kind && kind != EntryKind::Note)
            .map(|(p, _, _)| format!("{p} "))
            .unwrap_or_default();
        format!("{at}{prefix}{text}")
    }

    fn answered(&mut self, id: &str, command: &Command, answer: Answer, fx: &mut Vec<Effect>) {
        let what = self
            .sent
            .remove(id)
            .unwrap_or_else(|| "a command queued earlier".to_string());
        self.ticks_in_flight.remove(id);
        let unsent = self.unsent.remove(id);
        let done = self.done.remove(id);
        match answer {
            // A change from a key or the palette says what it did.
            Answer::Ok { .. } if let Some(text) = done => self.flash(Level::Info, text),
            Answer::Ok { incident, seqs } => {
                match command {
                    Command::AcceptHandoff { from } => {
                        let done = crate::report::handoff::accepted(&self.replica.state, &seqs);
                        self.flash(
                            Level::Info,
                            crate::report::handoff::accepted_summary(from, &done),
                        );
                    }
                    Command::Acknowledge { incident } => {
                        self.flash(Level::Info, format!("{incident} acknowledged"));
                    }
                    Command::Restrict { incident } => {
                        self.flash(
                            Level::Info,
                            format!(
                                "{incident} is restricted: only its members and admins see it (:member lists them)"
                            ),
                        );
                    }
                    Command::AddMember { incident, person }
                    | Command::RemoveMember { incident, person } => {
                        let who = if person.eq_ignore_ascii_case("me") {
                            "you"
                        } else {
                            person.as_str()
                        };
                        let what = if matches!(command, Command::AddMember { .. }) {
                            "added to"
                        } else {
                            "removed from"
                        };
                        self.flash(Level::Info, format!("{incident}: {who} {what} the members"));
                    }
                    Command::CheckRunbookStep {
                        incident,
                        item,
                        done,
                    } => {
                        let word = if *done { "done" } else { "unticked" };
                        self.flash(
                            Level::Info,
                            format!("{incident}: runbook step {item} {word}"),
                        );
                    }
                    _ => self.record_answered(id, command),
                }
                if self.awaiting_declare.as_deref() == Some(id) {
                    self.awaiting_declare = None;
                    if let Some(r) = incident {
                        self.flash(Level::Info, format!("{r} declared"));
                        if self.replica.state.incident(r).is_some() {
                            self.open_declared(r, fx);
                        } else {
                            self.open_when_known = Some(r);
                        }
                    }
                }
            }
            Answer::Error { code, message } => {
                let given_back = self.give_back(id, unsent, command);
                let hint = self.record_refused(id, command, &message) + &given_back;
                if code == crate::protocol::ErrorCode::Forbidden {
                    // "not allowed: …" says it plainly (the refusals of restricted incidents
                    // and of membership changes say why, not that they are refusals).
                    let message = crate::protocol::not_allowed(&message);
                    self.flash(Level::Error, format!("{message} ({what}){hint}"));
                } else {
                    self.flash(Level::Error, format!("refused ({what}): {message}{hint}"));
                }
            }
        }
    }
}

/// An action item as the add line takes it: `TEXT @owner due:YYYY-MM-DD`.
fn action_line(text: &str, owner: &str, due: Option<chrono::NaiveDate>) -> String {
    let due = due.map(|d| format!(" due:{d}")).unwrap_or_default();
    format!("{text} @{owner}{due}")
}
