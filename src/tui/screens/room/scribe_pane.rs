//! The room's scribe pane: what the scribe types becomes a timeline entry on enter
//! (`@HH:MM` backdates it, `d:` `a:` `h:` `r:` `u:` set its kind; see [`crate::tui::scribe`]).
//! The draft stays with its room until it is recorded; the feed's limits on an entry are
//! checked before it leaves the pane, and a refused entry comes back to it.

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};
use tui_textarea::TextArea;

use crate::clock::Zone;
use crate::model::validate::MAX_ENTRY;
use crate::model::{Command, IncidentRef};
use crate::tui::app::{App, Effect, Level, Mode, Screen, Unsent};
use crate::tui::keymap::Action;
use crate::tui::paste::{self, Lines};
use crate::tui::scribe::{self, entry_text_problem};
use crate::tui::theme::Theme;

/// An empty draft, its placeholder saying what the pane is for.
pub fn new_draft() -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_placeholder_text("type what happened; enter records it");
    t
}

/// A scribe draft holding `text`, the cursor at its end.
pub fn draft_with(text: &str) -> TextArea<'static> {
    let mut t = TextArea::new(text.split('\n').map(str::to_string).collect());
    t.set_placeholder_text("type what happened; enter records it");
    t.move_cursor(tui_textarea::CursorMove::Bottom);
    t.move_cursor(tui_textarea::CursorMove::End);
    t
}

/// How long the entry in a scribe draft is, as the feed counts it: the text without the
/// `@HH:MM` and kind prefixes.
fn scribe_entry_len(draft: &str, now: DateTime<Utc>, tz: Zone) -> usize {
    scribe::parse(draft, now, tz)
        .map_or_else(|_| paste::trimmed_len(draft), |l| l.text.chars().count())
}

impl App {
    /// Keys while the scribe pane has them: they edit the draft, record it, or leave.
    pub(crate) fn scribe_key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
        let Screen::Room(r) = self.screen else {
            self.mode = Mode::Normal;
            return;
        };
        let alt = k.modifiers.contains(KeyModifiers::ALT);
        match k.code {
            KeyCode::Esc => self.mode = Mode::Normal,
            KeyCode::Enter if alt || k.modifiers.contains(KeyModifiers::SHIFT) => {
                self.rooms.entry(r).or_default().draft.insert_newline();
            }
            KeyCode::Enter => {
                let text = self.rooms.entry(r).or_default().draft.lines().join("\n");
                if text.trim().is_empty() {
                    return;
                }
                // What the feed would refuse for its text is refused here, before the
                // draft leaves the pane.
                let parsed = scribe::parse(&text, self.now, self.tz).and_then(|line| {
                    entry_text_problem(&line.text).map_or(Ok(line), |why| {
                        Err(format!("not recorded: {why} · your draft is as it was"))
                    })
                });
                match parsed {
                    Ok(line) => {
                        let short: String = line.text.chars().take(40).collect();
                        let id = self.send(
                            Command::AddEntry {
                                incident: r,
                                entry_kind: line.kind,
                                text: line.text,
                                occurred_at: line.occurred_at,
                                next_update_secs: None,
                                public: false,
                                briefing: None,
                            },
                            format!("{r}: {short}"),
                            fx,
                        );
                        self.unsent.insert(id, Unsent::Scribe { incident: r, text });
                        self.rooms.entry(r).or_default().draft = new_draft();
                        self.follow_newest(r);
                    }
                    Err(e) => self.flash(Level::Error, e),
                }
            }
            // `:` on an empty draft is the palette, as everywhere else: a command typed
            // here must not land on the timeline, which keeps every entry for good.
            KeyCode::Char(':')
                if !k
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
                    && self.draft_is_empty(r) =>
            {
                self.open_palette("");
                self.palette.return_to_scribe = Some(r);
            }
            _ => {
                self.rooms.entry(r).or_default().draft.input(k);
            }
        }
    }

    pub(crate) fn draft_is_empty(&self, r: IncidentRef) -> bool {
        self.rooms
            .get(&r)
            .is_none_or(|v| v.draft.lines().iter().all(|l| l.is_empty()))
    }

    /// A paste into the draft of `r` (line breaks kept), unless the entry would grow past
    /// what the feed takes.
    pub(crate) fn scribe_paste(&mut self, r: IncidentRef, text: &str) -> Result<(), String> {
        let (now, tz) = (self.now, self.tz);
        let draft = &mut self.rooms.entry(r).or_default().draft;
        paste::into_area(draft, text, Lines::Many, MAX_ENTRY, "an entry holds", |t| {
            scribe_entry_len(t, now, tz)
        })
    }
}

/// Draws the scribe pane of `r` into `area`.
pub fn render(app: &App, theme: &Theme, r: IncidentRef, area: Rect, buf: &mut Buffer) {
    let view = app.room(r);
    let writing = app.mode == Mode::Scribe;
    if area.height == 1 {
        // A resolved or closed incident with nothing being written: one line says so.
        let closed = app
            .replica
            .state
            .incident(r)
            .is_some_and(|i| i.status == crate::model::Status::Closed);
        let line = if closed {
            Line::styled(" Scribe · closed: its record is final", theme.muted)
        } else {
            Line::from(vec![
                Span::styled(" Scribe · ", theme.muted),
                Span::styled(app.keymap.keys(Action::Scribe), theme.key),
                Span::styled(" to write a note on the resolved incident", theme.muted),
            ])
        };
        Paragraph::new(line).render(area, buf);
        return;
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if writing { theme.focus } else { theme.border })
        .title(Span::styled(
            if writing {
                " Scribe · enter records · alt-enter new line · @HH:MM backdates · d: a: h: r: u: kinds · esc leaves "
                    .to_string()
            } else {
                format!(" Scribe · {} to write ", app.keymap.keys(Action::Scribe))
            },
            if writing { theme.focus } else { theme.border },
        ));
    let inner = block.inner(area);
    block.render(area, buf);
    if let Some(v) = view {
        let mut ta = v.draft.clone();
        ta.set_style(theme.input);
        ta.set_cursor_line_style(Style::default());
        if !writing {
            ta.set_cursor_style(Style::default());
        }
        ta.render(inner, buf);
    }
}
