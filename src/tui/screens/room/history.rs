//! The correction history of a timeline entry (`v` or enter on it): every version, the
//! original first, with who wrote it and when it happened and was logged. Corrections are
//! new entries that supersede, so the history is the chain of superseded versions.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use crate::model::{Entry, Incident};
use crate::report::format::{clean, kind_label, wrap_as_typed};
use crate::tui::app::{App, Level, Mode, Screen};
use crate::tui::text::hhmmss;
use crate::tui::theme::Theme;

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

impl App {
    /// `v` / enter in a room: the selected entry with every earlier version of it.
    pub(crate) fn open_history(&mut self) {
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

    /// Keys while the history is open: they scroll it, or close it.
    pub(crate) fn history_key(&mut self, k: KeyEvent) {
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

/// One version's heading: `#12 decision by bob · happened 01:52:00 · logged 02:10:03`.
pub fn version_heading(app: &App, e: &Entry) -> String {
    let mut s = format!(
        "#{} {} by {} · happened {}",
        e.id,
        kind_label(e.kind),
        clean(&e.author),
        hhmmss(&app.tz, e.occurred_at)
    );
    if e.recorded_at != e.occurred_at {
        s.push_str(&format!(" · logged {}", hhmmss(&app.tz, e.recorded_at)));
    }
    if e.pinned {
        s.push_str(" · pinned");
    }
    s
}

/// The history overlay over the room's main area.
pub fn render(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
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
            for l in wrap_as_typed(&clean(para), inner_w.saturating_sub(4)) {
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
