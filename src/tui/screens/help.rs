//! The help overlay (`?`, `:help`): the keys as bound now (the config's `[keys]` applied),
//! every palette command with its usage, and the scribe prefixes. All of it comes from the
//! command table ([`crate::tui::commands`]), so help never drifts from what the keys and
//! the palette do. ↑↓ (and PgUp PgDn, space) scroll; any other key closes it.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use crate::report::format::{kind_label, wrap};
use crate::tui::app::{App, Mode};
use crate::tui::commands::COMMANDS;
use crate::tui::layout::centered;
use crate::tui::scribe::PREFIXES;
use crate::tui::theme::Theme;

/// How far the help overlay scrolls at most (drawing stops it at its last line).
const HELP_SCROLL: usize = 200;

impl App {
    /// Opens help at its top.
    pub(crate) fn open_help(&mut self) {
        self.mode = Mode::Help;
        self.help_offset = 0;
    }

    /// Keys while help is open: they scroll it, and any other closes it.
    pub(crate) fn help_key(&mut self, k: KeyEvent) {
        match k.code {
            KeyCode::Down | KeyCode::Char('j') => {
                self.help_offset = (self.help_offset + 1).min(HELP_SCROLL)
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.help_offset = self.help_offset.saturating_sub(1)
            }
            KeyCode::PageDown | KeyCode::Char(' ') => {
                self.help_offset = (self.help_offset + 10).min(HELP_SCROLL)
            }
            KeyCode::PageUp => self.help_offset = self.help_offset.saturating_sub(10),
            _ => self.mode = Mode::Normal,
        }
    }
}

/// The help overlay's width, borders included.
const HELP_WIDTH: u16 = 76;

/// Draws help over the whole console.
pub fn render(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    // Inside the popup's borders; the help texts wrap in their column rather than being cut.
    let inner = area.width.min(HELP_WIDTH).saturating_sub(2) as usize;
    let mut lines: Vec<Line> = vec![Line::styled(" Keys", theme.title)];
    let row = |lines: &mut Vec<Line>, label: String, col: usize, help: &str| {
        let label_w = label.chars().count();
        let mut parts = wrap(help, inner.saturating_sub(col + 1).max(16)).into_iter();
        if label_w < col {
            lines.push(Line::from(vec![
                Span::styled(format!("{label:<col$}"), theme.key),
                Span::styled(parts.next().unwrap_or_default(), theme.text),
            ]));
        } else {
            // A long usage takes the row; its help goes under it, in the help column.
            lines.push(Line::styled(label, theme.key));
        }
        for p in parts {
            lines.push(Line::styled(format!("{:col$}{p}", ""), theme.text));
        }
    };
    for (keys, help) in app.keymap.help_rows() {
        row(&mut lines, format!("  {keys}"), 16, help);
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(" Commands (:)", theme.title));
    for l in wrap(
        "tab completes (shift-tab: the next suggestion) · ↑ or ctrl-p and ↓ or ctrl-n walk \
         the commands run before · a paste lands on one line",
        inner.saturating_sub(3).max(16),
    ) {
        lines.push(Line::styled(format!("  {l}"), theme.muted));
    }
    for c in COMMANDS {
        row(&mut lines, format!("  {}", c.usage), 26, c.help);
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(" Scribe prefixes", theme.title));
    let prefixes: Vec<String> = PREFIXES
        .iter()
        .map(|(p, _, k)| format!("{p} {}", kind_label(*k)))
        .collect();
    let prefixes = format!(
        "{} · @HH:MM backdates · : on an empty line opens the palette",
        prefixes.join(" · ")
    );
    for l in wrap(&prefixes, inner.saturating_sub(3).max(16)) {
        lines.push(Line::styled(format!("  {l}"), theme.text));
    }
    let h = (lines.len() as u16 + 2).min(area.height);
    let popup = centered(area, HELP_WIDTH, h);
    let visible = h.saturating_sub(2) as usize;
    let offset = app.help_offset.min(lines.len().saturating_sub(visible));
    let more = lines.len() > offset + visible;
    let title = if lines.len() > visible {
        " warroom help · ↑↓ scroll · any other key closes "
    } else {
        " warroom help · any key closes "
    };
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focus)
        .title(title);
    if more {
        block = block.title_bottom(Span::styled(" ↓ more ", theme.key));
    }
    Clear.render(popup, buf);
    Paragraph::new(lines.into_iter().skip(offset).collect::<Vec<_>>())
        .block(block)
        .render(popup, buf);
}
