//! The runbook checklist (`c`, `:runbook`): the incident's runbook (attached by its service
//! when declared) as sections of numbered items, ticked from the shared state so another
//! console's tick shows at once; space or enter ticks or unticks the item under the
//! cursor, and `:runbook N` ticks item N without opening it. A tick this console sent and
//! the feed has not answered yet shows as "ticking…".

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use crate::model::{Command, IncidentRef};
use crate::report::format::{clean, wrap};
use crate::tui::app::{App, Effect, Level, Mode};
use crate::tui::keymap::Action;
use crate::tui::layout::centered;
use crate::tui::theme::Theme;

/// The runbook checklist overlay: whose runbook, and which item the cursor is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunbookView {
    pub incident: IncidentRef,
    /// 0-based index into the runbook's items (item number - 1).
    pub cursor: usize,
}

impl App {
    /// The tick of runbook item `item` of `r` this console has sent and not had answered:
    /// `Some(done)` while in flight.
    pub fn tick_in_flight(&self, r: IncidentRef, item: u32) -> Option<bool> {
        self.ticks_in_flight
            .values()
            .find(|(i, n, _)| *i == r && *n == item)
            .map(|(_, _, done)| *done)
    }

    /// Whether item `item` of `r` is ticked, counting this console's tick in flight.
    fn item_ticked(&self, r: IncidentRef, item: u32) -> bool {
        self.tick_in_flight(r, item).unwrap_or_else(|| {
            self.replica
                .state
                .incident(r)
                .is_some_and(|i| i.runbook_done.contains(&item))
        })
    }

    /// `:runbook` / the runbook key: opens the checklist of `r`; with `item`, ticks it.
    pub(crate) fn runbook(
        &mut self,
        r: Option<IncidentRef>,
        item: Option<u32>,
        fx: &mut Vec<Effect>,
    ) {
        let Some(r) = r else {
            self.flash(
                Level::Error,
                "open an incident (or select one on the board) to see its runbook",
            );
            return;
        };
        let Some(inc) = self.replica.state.incident(r) else {
            self.flash(Level::Error, self.not_here(r));
            return;
        };
        let Some(rb) = &inc.runbook else {
            let why = match &inc.service {
                Some(s) => format!("{r} has no runbook attached (none is known for {})", s),
                None => format!("{r} has no runbook attached (it names no service)"),
            };
            self.flash(Level::Error, why);
            return;
        };
        let count = rb.item_count();
        match item {
            None => {
                // Start on the first item nobody has ticked yet.
                let cursor = (1..=count)
                    .find(|n| !inc.runbook_done.contains(n))
                    .map_or(0, |n| n as usize - 1);
                self.runbook = Some(RunbookView {
                    incident: r,
                    cursor,
                });
                self.mode = Mode::Runbook;
            }
            Some(n) if n == 0 || n > count => self.flash(
                Level::Error,
                format!("{r}'s runbook has items 1 to {count}; there is no item {n}"),
            ),
            Some(n) if self.item_ticked(r, n) => self.flash(
                Level::Info,
                format!(
                    "{r}: runbook step {n} is already ticked ({} then space unticks it)",
                    self.keymap.keys(Action::Runbook)
                ),
            ),
            Some(n) => self.tick(r, n, true, fx),
        }
    }

    /// Sends the tick (or untick) of item `item` of `r`, remembered until answered.
    fn tick(&mut self, r: IncidentRef, item: u32, done: bool, fx: &mut Vec<Effect>) {
        let word = if done { "tick" } else { "untick" };
        let id = self.send(
            Command::CheckRunbookStep {
                incident: r,
                item,
                done,
            },
            format!("{r}: {word} runbook step {item}"),
            fx,
        );
        self.ticks_in_flight.insert(id, (r, item, done));
    }

    /// Closes the checklist.
    pub(crate) fn close_runbook(&mut self) {
        self.runbook = None;
        if self.mode == Mode::Runbook {
            self.mode = Mode::Normal;
        }
    }

    /// Keys while the checklist is open: they move, tick, or close it, and nothing else.
    pub(crate) fn runbook_key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
        let Some(view) = self.runbook else {
            self.mode = Mode::Normal;
            return;
        };
        let r = view.incident;
        let count = self
            .replica
            .state
            .incident(r)
            .and_then(|i| i.runbook.as_ref())
            .map_or(0, |rb| rb.item_count() as usize);
        let plain = !k
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        let by: Option<i64> = match k.code {
            KeyCode::Esc => {
                self.close_runbook();
                return;
            }
            KeyCode::Enter | KeyCode::Char(' ') if plain => {
                if count == 0 {
                    self.flash(
                        Level::Error,
                        format!("{r} has no runbook attached any more"),
                    );
                    return;
                }
                let item = view.cursor.min(count - 1) as u32 + 1;
                let done = !self.item_ticked(r, item);
                self.tick(r, item, done, fx);
                return;
            }
            KeyCode::Up | KeyCode::Char('k') if plain => Some(-1),
            KeyCode::Down | KeyCode::Char('j') if plain => Some(1),
            KeyCode::PageUp => Some(-10),
            KeyCode::PageDown => Some(10),
            KeyCode::Home | KeyCode::Char('g') if plain => Some(i64::MIN / 2),
            KeyCode::End | KeyCode::Char('G') if plain => Some(i64::MAX / 2),
            _ => match self.keymap.action(&k) {
                Some(Action::Up) => Some(-1),
                Some(Action::Down) => Some(1),
                Some(Action::PageUp) => Some(-10),
                Some(Action::PageDown) => Some(10),
                Some(Action::Top) => Some(i64::MIN / 2),
                Some(Action::Bottom) => Some(i64::MAX / 2),
                Some(Action::Runbook) => {
                    self.close_runbook();
                    return;
                }
                _ => None,
            },
        };
        if let (Some(by), Some(v)) = (by, self.runbook.as_mut())
            && count > 0
        {
            let next = (v.cursor as i64)
                .saturating_add(by)
                .clamp(0, count as i64 - 1);
            v.cursor = next as usize;
        }
    }
}

/// The runbook checklist over the main area: sections, numbered items ticked from the
/// shared state (so another console's tick shows at once), detail lines dimmed.
pub fn render(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let Some(view) = app.runbook else { return };
    let r = view.incident;
    let inc = app.replica.state.incident(r);
    let rb = inc.and_then(|i| i.runbook.as_ref());
    let popup = centered(area, 100, area.height);
    Clear.render(popup, buf);
    let (done, count) = match (inc, rb) {
        (Some(i), Some(rb)) => (i.runbook_done.len(), rb.item_count()),
        _ => (0, 0),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focus)
        .title(Span::styled(
            format!(" Runbook · {r} · {done} of {count} done "),
            theme.focus,
        ))
        .title_bottom(Span::styled(
            " ↑↓ move · space/enter ticks · esc closes ",
            theme.muted,
        ));
    let inner = block.inner(popup);
    block.render(popup, buf);
    let (Some(inc), Some(rb)) = (inc, rb) else {
        Paragraph::new(format!(" {r} has no runbook attached (any more)."))
            .style(theme.muted)
            .render(inner, buf);
        return;
    };
    let width = inner.width as usize;
    let mut lines: Vec<Line> = vec![
        Line::styled(format!(" {}", clean(&rb.title)), theme.title),
        Line::styled(
            format!(
                " from {} · a ticked step is recorded on the timeline",
                clean(&rb.source)
            ),
            theme.muted,
        ),
    ];
    let mut cursor_rows = (0, 0);
    let mut n: u32 = 0;
    for sec in &rb.sections {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!(" {}", clean(&sec.heading)),
            theme.title,
        ));
        if !sec.text.is_empty() {
            for l in wrap(&clean(&sec.text), width.saturating_sub(3)) {
                lines.push(Line::styled(format!("   {l}"), theme.muted));
            }
        }
        for item in &sec.items {
            n += 1;
            let selected = n as usize == view.cursor + 1;
            let ticked = inc.runbook_done.contains(&n);
            let start = lines.len();
            let prefix = format!(
                " {} {} {n:>2}. ",
                if selected { "▶" } else { " " },
                if ticked { "[x]" } else { "[ ]" }
            );
            let indent = prefix.chars().count();
            let pad = " ".repeat(indent);
            let mut parts = item.split('\n');
            let first = wrap(
                &clean(parts.next().unwrap_or("")),
                width.saturating_sub(indent),
            );
            let last = first.len().saturating_sub(1);
            for (k, text) in first.into_iter().enumerate() {
                let mut spans = vec![
                    Span::styled(
                        if k == 0 { prefix.clone() } else { pad.clone() },
                        if ticked { theme.acked } else { theme.text },
                    ),
                    Span::styled(text, theme.text),
                ];
                if k == last
                    && let Some(d) = app.tick_in_flight(r, n)
                {
                    spans.push(Span::styled(
                        if d {
                            "  (ticking…)"
                        } else {
                            "  (unticking…)"
                        },
                        theme.timer_due,
                    ));
                }
                lines.push(Line::from(spans));
            }
            for detail in parts {
                for l in wrap(&clean(detail), width.saturating_sub(indent + 2)) {
                    lines.push(Line::styled(format!("{pad}  {l}"), theme.muted));
                }
            }
            if selected {
                cursor_rows = (start, lines.len());
                for l in &mut lines[start..] {
                    *l = std::mem::take(l).patch_style(theme.selected);
                }
            }
        }
    }
    // Keep the selected item (with its detail lines) in view, a third of the way down.
    let visible = inner.height as usize;
    let offset = if lines.len() <= visible {
        0
    } else {
        let (start, end) = cursor_rows;
        let mut off = start.saturating_sub(visible / 3);
        if end > off + visible {
            off = end - visible;
        }
        off.min(start).min(lines.len() - visible)
    };
    Paragraph::new(
        lines
            .into_iter()
            .skip(offset)
            .take(visible)
            .collect::<Vec<_>>(),
    )
    .render(inner, buf);
}
