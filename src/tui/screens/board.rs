//! The incident board: the active incidents this person may see, with their severity,
//! status, age, escalation, commander and status-update countdown; a filter line (`/`);
//! how many were resolved recently (the archive, `r`, finds them and every older one). Its
//! state ([`BoardView`]), its keys and its drawing. Columns are added as the terminal widens; a narrow board shortens the
//! escalation cells and spells out the selected incident's under the table.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, StatefulWidget, Table, TableState, Widget};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::room::escalation::{escalation_variants, fit, update_variants};
use super::sev_span;
use crate::model::validate::MAX_ENTRY;
use crate::model::{Incident, IncidentRef, Milestone, Role};
use crate::report::format::{age, clean};
use crate::tui::app::{App, Effect, Mode, Screen};
use crate::tui::keymap::Action;
use crate::tui::paste;
use crate::tui::theme::Theme;

/// The board's own state.
#[derive(Debug, Clone, Default)]
pub struct BoardView {
    pub selected: usize,
    pub filter: String,
}

impl App {
    /// The incidents the board shows, in order: the active ones.
    pub fn board_rows(&self) -> Vec<&Incident> {
        let needle = self.board.filter.to_lowercase();
        self.replica
            .state
            .board()
            .into_iter()
            .filter(|i| i.is_active())
            .filter(|i| needle.is_empty() || matches_filter(i, &needle))
            .collect()
    }

    /// How many resolved or closed incidents the board is not showing (those of the feed's
    /// live window; the archive has them, and every older one).
    pub fn hidden_resolved(&self) -> usize {
        self.replica
            .state
            .incidents
            .values()
            .filter(|i| !i.is_active())
            .count()
    }

    /// The incident under the board's cursor, if any.
    pub(crate) fn board_pick(&self) -> Option<IncidentRef> {
        self.board_rows()
            .get(self.board.selected)
            .map(|i| i.reference)
    }

    /// After rows came, went or re-sorted: the cursor stays on `pinned` (the incident the
    /// person chose) when it is still listed, else within the rows.
    pub(crate) fn keep_board_selection(&mut self, pinned: Option<IncidentRef>) {
        let rows = self.board_rows();
        let n = rows.len();
        if let Some(i) = pinned.and_then(|r| rows.iter().position(|x| x.reference == r)) {
            self.board.selected = i;
        } else if self.board.selected >= n {
            self.board.selected = n.saturating_sub(1);
        }
    }

    /// Moves the board's cursor by `by` rows, within the rows.
    pub(crate) fn move_board_cursor(&mut self, by: i64) {
        let n = self.board_rows().len() as i64;
        if n > 0 {
            let by = by.clamp(-n, n);
            self.board.selected = (self.board.selected as i64 + by).clamp(0, n - 1) as usize;
        }
    }

    /// The board's cursor to its last row.
    pub(crate) fn board_cursor_to_end(&mut self) {
        self.board.selected = self.board_rows().len().saturating_sub(1);
    }

    /// Back to the board (from a room or the metrics), the keys back in normal mode.
    pub(crate) fn show_board(&mut self, fx: &mut Vec<Effect>) {
        self.handoff = None;
        self.room_from_archive = false;
        if let Screen::Room(r) = self.screen {
            self.leave_room(r);
        }
        if self.screen == Screen::Archive {
            // What was found goes with the view (`r` asks again); the search line stays.
            self.archive.drop_results();
        }
        if self.screen != Screen::Board {
            self.screen = Screen::Board;
            fx.push(Effect::Focus(None));
        }
        self.mode = Mode::Normal;
    }

    /// Keys while the filter line is open.
    pub(crate) fn filter_key(&mut self, k: KeyEvent) {
        match k.code {
            KeyCode::Esc => {
                self.board.filter.clear();
                self.mode = Mode::Normal;
            }
            KeyCode::Enter => self.mode = Mode::Normal,
            KeyCode::Backspace => {
                self.board.filter.pop();
            }
            KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                self.board.filter.push(c);
            }
            _ => {}
        }
        self.board.selected = 0;
    }

    /// A paste onto the filter line (one line).
    pub(crate) fn filter_paste(&mut self, text: &str) -> Result<(), String> {
        self.board.selected = 0;
        paste::onto_line(&mut self.board.filter, text, MAX_ENTRY, "a filter holds")
    }
}

fn matches_filter(i: &Incident, needle: &str) -> bool {
    let ic = i
        .roles
        .get(&crate::model::Role::IncidentCommander)
        .map_or("", String::as_str);
    [
        i.reference.to_string().as_str(),
        i.title.as_str(),
        i.service.as_deref().unwrap_or(""),
        i.status.as_str(),
        &i.severity.to_string(),
        ic,
    ]
    .iter()
    .any(|f| f.to_lowercase().contains(needle))
}

// ---- drawing ---------------------------------------------------------------------------

/// Which optional board columns fit, and how wide the escalation column is.
struct BoardColumns {
    service: bool,
    update: bool,
    escalation: u16,
    /// What is left for the title.
    title: u16,
}

const ESC_NARROW: u16 = 13;
const ESC_MEDIUM: u16 = 26;
const ESC_WIDE: u16 = 46;
const UPDATE_W: u16 = 19;

impl BoardColumns {
    /// Columns are added while the title keeps at least 20 columns: the service (as before,
    /// from 100 columns), then the update countdown, then a wider escalation column.
    fn for_width(w: u16) -> BoardColumns {
        const MIN_TITLE: u16 = 20;
        // Highlight symbol, REF SEV STATUS AGE ESCALATION IC, and the spaces between.
        let mut used: u16 = 2 + 7 + 6 + 13 + 7 + ESC_NARROW + 10 + 6;
        let service = w >= 100;
        if service {
            used += 15;
        }
        let update = w >= used + UPDATE_W + 1 + MIN_TITLE;
        if update {
            used += UPDATE_W + 1;
        }
        let escalation = if w >= used + ESC_WIDE - ESC_NARROW + MIN_TITLE {
            ESC_WIDE
        } else if w >= used + ESC_MEDIUM - ESC_NARROW + MIN_TITLE {
            ESC_MEDIUM
        } else {
            ESC_NARROW
        };
        BoardColumns {
            service,
            update,
            escalation,
            title: w.saturating_sub(used + escalation - ESC_NARROW),
        }
    }

    /// Everything about escalation and updates is in the columns (no footer needed).
    fn complete(&self) -> bool {
        self.update && self.escalation == ESC_WIDE
    }
}

/// Draws the board into `area`.
pub fn render(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let filtering = app.mode == Mode::Filter || !app.board.filter.is_empty();
    let rows = app.board_rows();
    let cols = BoardColumns::for_width(area.width);
    // Narrower boards shorten the escalation cells; the selected incident's are spelled out
    // in full under the table.
    let footer: Option<Line> = rows
        .get(app.board.selected)
        .filter(|i| !cols.complete() && (i.escalation.is_some() || i.update_every_secs.is_some()))
        .and_then(|i| {
            let mut spans = vec![Span::styled(" ▶ ", theme.muted)];
            let esc = escalation_variants(app, theme, i);
            let upd = update_variants(app, theme, i);
            if esc.is_empty() && upd.is_empty() {
                return None;
            }
            if let Some(v) = esc.into_iter().next() {
                spans.extend(v);
            }
            if let Some(v) = upd.into_iter().next() {
                spans.push(Span::styled(" · ", theme.muted));
                spans.extend(v);
            }
            Some(Line::from(spans))
        });
    let withheld = withheld_line(app, theme, area.width);
    // The withheld line sits right under the table's rows (the table takes no more than
    // its rows; it scrolls when they do not fit).
    let table_rows = if rows.is_empty() {
        Constraint::Length(2)
    } else {
        Constraint::Max(rows.len() as u16 + 1)
    };
    let [
        title,
        table_area,
        withheld_area,
        _,
        footer_area,
        filter_area,
    ] = Layout::vertical([
        Constraint::Length(1),
        table_rows,
        Constraint::Length(withheld.is_some() as u16),
        Constraint::Min(0),
        Constraint::Length(footer.is_some() as u16),
        Constraint::Length(filtering as u16),
    ])
    .areas(area);
    let active = app
        .replica
        .state
        .incidents
        .values()
        .filter(|i| i.is_active())
        .count();
    let mut head = vec![
        Span::styled(" warroom ", theme.title),
        Span::styled(format!("· {active} active"), theme.text),
    ];
    let hidden = app.hidden_resolved();
    if hidden > 0 {
        head.push(Span::styled(
            format!(
                " · {hidden} resolved hidden ({} archive)",
                app.keymap.keys(Action::ToggleResolved)
            ),
            theme.muted,
        ));
    }
    head.push(Span::styled(
        format!("   {}", app.now.with_timezone(&app.tz).format("%H:%M")),
        theme.muted,
    ));
    Paragraph::new(Line::from(head)).render(title, buf);

    if rows.is_empty() {
        let msg = if app.replica.state.incidents.is_empty() {
            if app.replica.synced && !app.replica.state.withheld.is_empty() {
                format!(
                    "\n  No incidents you may see. Declare one with {} or :declare sev2 TITLE",
                    app.keymap.keys(Action::Declare)
                )
            } else if app.replica.synced {
                format!(
                    "\n  No incidents. Declare one with {} or :declare sev2 TITLE",
                    app.keymap.keys(Action::Declare)
                )
            } else {
                "\n  Loading the incident feed…".to_string()
            }
        } else {
            "\n  Nothing matches the filter (esc clears it).".to_string()
        };
        Paragraph::new(msg)
            .style(theme.muted)
            .render(table_area, buf);
    } else {
        let now = app.now;
        let table_rows: Vec<Row> = rows
            .iter()
            .map(|i| {
                let resolved = !i.is_active();
                let age_secs = match (resolved, i.milestones.get(&Milestone::Resolved)) {
                    (true, Some(end)) => (*end - i.declared_at).num_seconds(),
                    _ => (now - i.declared_at).num_seconds(),
                };
                let base = if resolved { theme.muted } else { theme.text };
                let ic = match i.roles.get(&Role::IncidentCommander) {
                    Some(p) => Span::styled(clean(p), base),
                    None if resolved => Span::styled("—", theme.muted),
                    None => Span::styled("no IC", theme.no_ic),
                };
                let status_style = if resolved {
                    theme.status_resolved
                } else {
                    theme.status_active
                };
                let mut cells: Vec<Line> = vec![
                    Span::styled(i.reference.to_string(), base).into(),
                    sev_span(theme, i).into(),
                    Span::styled(i.status.as_str(), status_style).into(),
                    Span::styled(age(age_secs), base).into(),
                    fit(escalation_variants(app, theme, i), cols.escalation),
                    ic.into(),
                ];
                if cols.service {
                    cells
                        .push(Span::styled(clean(i.service.as_deref().unwrap_or("")), base).into());
                }
                if cols.update {
                    cells.push(fit(update_variants(app, theme, i), UPDATE_W));
                }
                let mut title = Vec::new();
                if i.restricted {
                    // The word while the title keeps 16 columns; an abbreviation below.
                    let mark = if cols.title >= 11 + 16 {
                        "RESTRICTED"
                    } else {
                        "RSTR"
                    };
                    title.push(Span::styled(mark, theme.restricted));
                    title.push(Span::raw(" "));
                }
                title.push(Span::styled(clean(&i.title), base));
                cells.push(Line::from(title));
                Row::new(cells)
            })
            .collect();
        let mut widths = vec![
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(13),
            Constraint::Length(7),
            Constraint::Length(cols.escalation),
            Constraint::Length(10),
        ];
        let mut header = vec!["REF", "SEV", "STATUS", "AGE", "ESCALATION", "IC"];
        if cols.service {
            widths.push(Constraint::Length(14));
            header.push("SERVICE");
        }
        if cols.update {
            widths.push(Constraint::Length(UPDATE_W));
            header.push("STATUS UPDATE");
        }
        widths.push(Constraint::Min(10));
        header.push("TITLE");
        let table = Table::new(table_rows, widths)
            .header(Row::new(header).style(theme.muted.add_modifier(Modifier::BOLD)))
            .row_highlight_style(theme.selected)
            .highlight_symbol("▶ ");
        let mut state = TableState::default().with_selected(Some(app.board.selected));
        StatefulWidget::render(table, table_area, buf, &mut state);
    }
    if let Some(line) = withheld {
        Paragraph::new(line).render(withheld_area, buf);
    }
    if let Some(line) = footer {
        Paragraph::new(line).render(footer_area, buf);
    }
    if filtering {
        let cursor = if app.mode == Mode::Filter { "▏" } else { "" };
        Paragraph::new(Line::from(vec![
            Span::styled(" filter: ", theme.key),
            Span::styled(format!("{}{cursor}", clean(&app.board.filter)), theme.input),
            Span::styled("   enter keeps · esc clears", theme.muted),
        ]))
        .render(filter_area, buf);
    }
}

/// The restricted incidents this person may not see: their references and nothing else
/// (the feed sends nothing else). Not a table row, so never selected or opened.
fn withheld_line(app: &App, theme: &Theme, width: u16) -> Option<Line<'static>> {
    use crate::report::format::{ref_list, restricted_count};
    let refs: Vec<crate::model::IncidentRef> = app.replica.state.withheld.iter().copied().collect();
    if refs.is_empty() {
        return None;
    }
    let n = refs.len();
    let what = format!(" {}", restricted_count(n));
    let list = |shown: usize| ref_list(&refs, shown);
    let variant = |list: String, tail: &str| {
        vec![
            Span::styled(what.clone(), theme.restricted),
            Span::styled(" you are not a member of: ", theme.muted),
            Span::styled(list, theme.text),
            Span::styled(tail.to_string(), theme.muted),
        ]
    };
    let mut variants = vec![
        variant(list(n), " (ask an admin to add you)"),
        variant(list(n), " (ask an admin)"),
    ];
    for shown in [8, 4, 2] {
        if n > shown {
            variants.push(variant(list(shown), " (ask an admin)"));
        }
    }
    variants.push(vec![
        Span::styled(what.clone(), theme.restricted),
        Span::styled(" not shown (need to know)", theme.muted),
    ]);
    Some(fit(variants, width))
}
