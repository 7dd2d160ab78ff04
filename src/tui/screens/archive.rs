//! The archive (`r` on the board, `:archive [SEARCH]`): every incident the feed has, found
//! by a search the feed answers from its store, never downloaded whole. A search line at the
//! top takes words (in the title, the service or any entry) and `sev:N`, `service:NAME`,
//! `since:DATE`, `until:DATE` and `is:active|resolved|any` (resolved and closed ones unless
//! said); the newest declared come first, a page at a time, the next page asked as the
//! cursor nears the end. Enter opens an incident's room: the feed sends it with its newest
//! entries, and commands on it work as on any other (the feed brings it back to the live
//! work). Its state ([`ArchiveView`]), keys and drawing.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, StatefulWidget, Table, TableState, Widget};

use super::sev_cell;
use crate::clock::Zone;
use crate::model::validate::MAX_ENTRY;
use crate::model::{Incident, IncidentRef, Milestone, Severity};
use crate::protocol::{Query, Search};
use crate::report::format::{age, clean, restricted_count};
use crate::tui::app::{App, Asked, Effect, Level, Mode, Screen};
use crate::tui::keymap::Action;
use crate::tui::paste;
use crate::tui::theme::Theme;

/// Incidents in a page of the archive.
pub const ARCHIVE_PAGE: u32 = 50;
/// The next page is asked when the cursor comes this close to the last row.
const NEAR_END: usize = 5;

/// What the search line takes, for help and the hint under it.
pub const SEARCH_WORDS: &str =
    "words · sev:N · service:NAME · since:DATE · until:DATE · is:active|resolved|any";

/// The archive view's state: the search, and the pages the feed answered.
#[derive(Debug, Clone, Default)]
pub struct ArchiveView {
    /// The search line (being edited while the mode is `Filter` on this screen).
    pub line: String,
    /// The line the rows answer (what esc goes back to while editing).
    pub asked_line: String,
    /// The search the rows answer.
    pub search: Search,
    /// The incidents found so far, newest declared first (each without its timeline).
    pub rows: Vec<Incident>,
    /// Restricted incidents that matched and that this person may not see.
    pub withheld: BTreeSet<IncidentRef>,
    /// Where the next page starts; `None` at the end.
    pub next: Option<IncidentRef>,
    /// The page being asked (its query id), and where it starts.
    pub asking: Option<String>,
    page_before: Option<IncidentRef>,
    /// The feed answered the first page of this search.
    pub answered: bool,
    pub selected: usize,
    /// Why the last page could not be had.
    pub error: Option<String>,
}

impl ArchiveView {
    /// The incident under the cursor.
    pub fn pick(&self) -> Option<IncidentRef> {
        self.rows.get(self.selected).map(|i| i.reference)
    }

    /// Forgets what was found (leaving the archive): a page still coming is not taken.
    pub(crate) fn drop_results(&mut self) {
        self.rows = Vec::new();
        self.withheld.clear();
        self.next = None;
        self.asking = None;
        self.answered = false;
        self.selected = 0;
    }
}

/// Reads a search line: `db failover sev:1 service:payments since:2026-01-01 is:any`. Dates
/// are days in `tz` (from their start) or RFC 3339 times. Without `is:`, resolved and closed
/// incidents (the board has the active ones).
pub fn parse_search(line: &str, tz: Zone) -> Result<Search, String> {
    let mut s = Search {
        active: Some(false),
        ..Search::default()
    };
    let mut words = Vec::new();
    for token in line.split_whitespace() {
        let lower = token.to_lowercase();
        let (key, value) = lower.split_once(':').unwrap_or(("", lower.as_str()));
        match key {
            "sev" | "severity" => {
                s.severity = Some(value.parse::<Severity>().map_err(|e| e.message)?);
            }
            "service" | "svc" => {
                if value.is_empty() {
                    return Err("service: needs a name, as in service:payments".into());
                }
                // The service as typed (services are matched without regard to case).
                let typed = token.split_once(':').map_or(value, |(_, v)| v);
                s.service = Some(typed.to_string());
            }
            "since" | "from" => s.since = Some(parse_day(value, tz, token)?),
            "until" | "before" => s.until = Some(parse_day(value, tz, token)?),
            "is" | "status" => {
                s.active = match value {
                    "active" | "open" => Some(true),
                    "resolved" | "closed" | "archived" => Some(false),
                    "any" | "all" => None,
                    _ => {
                        return Err(format!("'{token}': use is:active, is:resolved or is:any"));
                    }
                }
            }
            _ if lower.starts_with("sev")
                && lower.len() == 4
                && lower[3..].parse::<u8>().is_ok() =>
            {
                s.severity = Some(lower.parse::<Severity>().map_err(|e| e.message)?);
            }
            _ => words.push(token.to_string()),
        }
    }
    if !words.is_empty() {
        s.text = Some(words.join(" "));
    }
    Ok(s)
}

/// A day (`2026-03-01`, from its start in `tz`) or an RFC 3339 time.
fn parse_day(value: &str, tz: Zone, token: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let local = d.and_time(NaiveTime::MIN);
        return tz
            .from_local_datetime(&local)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| format!("'{token}': that day has no midnight here"));
    }
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("'{token}' is not a date: write YYYY-MM-DD (e.g. 2026-03-01)"))
}

impl App {
    /// `r` / `:archive [SEARCH]`: the archive, searching `line` (or the last search), its
    /// first page asked of the feed.
    pub(crate) fn show_archive(&mut self, line: Option<String>, fx: &mut Vec<Effect>) {
        self.show_board(fx);
        self.screen = Screen::Archive;
        let line = line.unwrap_or_else(|| self.archive.asked_line.clone());
        self.search_archive(line, fx);
    }

    /// Back to the archive as it was left (from a room opened there).
    pub(crate) fn back_to_archive(&mut self, fx: &mut Vec<Effect>) {
        self.show_board(fx);
        self.screen = Screen::Archive;
    }

    /// Asks the first page of the search `line` (already checked, or said why not).
    fn search_archive(&mut self, line: String, fx: &mut Vec<Effect>) {
        let search = match parse_search(&line, self.tz) {
            Ok(s) => s,
            Err(e) => {
                self.flash(Level::Error, e);
                return;
            }
        };
        let a = &mut self.archive;
        a.line = line.clone();
        a.asked_line = line;
        a.search = search;
        a.rows.clear();
        a.withheld.clear();
        a.next = None;
        a.answered = false;
        a.selected = 0;
        a.error = None;
        self.ask_archive_page(fx);
    }

    /// Asks the archive's next page (the first when nothing was answered yet).
    fn ask_archive_page(&mut self, fx: &mut Vec<Effect>) {
        let mut q = self.archive.search.clone();
        q.limit = Some(ARCHIVE_PAGE);
        q.before = self.archive.next;
        self.archive.page_before = self.archive.next;
        let id = self.ask(Query::Search(q), Asked::Archive, fx);
        self.archive.asking = Some(id);
        self.archive.error = None;
    }

    /// When the cursor nears the last row found and the feed has more: the next page.
    pub(crate) fn archive_more_if_near_end(&mut self, fx: &mut Vec<Effect>) {
        let a = &self.archive;
        if a.next.is_some() && a.asking.is_none() && a.selected + NEAR_END >= a.rows.len() {
            self.ask_archive_page(fx);
        }
    }

    /// A page of the archive.
    pub(crate) fn archive_page(
        &mut self,
        id: &str,
        incidents: Vec<Incident>,
        next: Option<IncidentRef>,
        withheld: Vec<IncidentRef>,
        fx: &mut Vec<Effect>,
    ) {
        let a = &mut self.archive;
        if a.asking.as_deref() != Some(id) {
            return; // a search since replaced this one
        }
        a.asking = None;
        a.answered = true;
        let held: BTreeSet<IncidentRef> = a.rows.iter().map(|i| i.reference).collect();
        a.rows.extend(
            incidents
                .into_iter()
                .filter(|i| !held.contains(&i.reference)),
        );
        a.withheld.extend(withheld);
        // Pages go down the references; a feed that says "more" from where this page
        // started would have it asked for ever.
        a.next = next.filter(|n| a.page_before.is_none_or(|b| n.0 < b.0));
        if self.screen == Screen::Archive {
            self.archive_more_if_near_end(fx);
        }
    }

    /// The archive's page could not be had.
    pub(crate) fn archive_failed(&mut self, id: &str, message: &str) {
        if self.archive.asking.as_deref() != Some(id) {
            return;
        }
        self.archive.asking = None;
        self.archive.answered = true;
        self.archive.error = Some(message.to_string());
        if self.screen == Screen::Archive {
            self.flash(Level::Error, format!("archive: {message}"));
        }
    }

    /// Moves the archive's cursor by `by` rows, within the rows found.
    pub(crate) fn move_archive_cursor(&mut self, by: i64) {
        let n = self.archive.rows.len() as i64;
        if n > 0 {
            let by = by.clamp(-n, n);
            self.archive.selected = (self.archive.selected as i64 + by).clamp(0, n - 1) as usize;
        }
    }

    /// The archive's cursor to the last row found (the next page follows).
    pub(crate) fn archive_cursor_to_end(&mut self) {
        self.archive.selected = self.archive.rows.len().saturating_sub(1);
    }

    /// `/` on the archive: edit the search line.
    pub(crate) fn edit_archive_search(&mut self) {
        self.mode = Mode::Filter;
    }

    /// Keys while the archive's search line is edited: enter searches, esc puts back the
    /// search the rows answer.
    pub(crate) fn archive_line_key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        match k.code {
            KeyCode::Esc => {
                self.archive.line = self.archive.asked_line.clone();
                self.mode = Mode::Normal;
            }
            KeyCode::Enter => {
                let line = self.archive.line.trim().to_string();
                match parse_search(&line, self.tz) {
                    Ok(_) => {
                        self.mode = Mode::Normal;
                        self.search_archive(line, fx);
                    }
                    // The line stays, to be fixed.
                    Err(e) => self.flash(Level::Error, e),
                }
            }
            KeyCode::Backspace => {
                self.archive.line.pop();
            }
            KeyCode::Char('u') if ctrl => self.archive.line.clear(),
            KeyCode::Char(c)
                if !ctrl
                    && !k.modifiers.contains(KeyModifiers::ALT)
                    && self.archive.line.chars().count() < MAX_ENTRY =>
            {
                self.archive.line.push(c);
            }
            _ => {}
        }
    }

    /// A paste onto the archive's search line (one line).
    pub(crate) fn archive_line_paste(&mut self, text: &str) -> Result<(), String> {
        paste::onto_line(&mut self.archive.line, text, MAX_ENTRY, "a search holds")
    }
}

// ---- drawing ---------------------------------------------------------------------------

/// Draws the archive into `area`.
pub fn render(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let a = &app.archive;
    let [title, line, table_area, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let found = match a.rows.len() {
        0 if !a.answered => "searching…".to_string(),
        1 => "1 incident".to_string(),
        n => format!("{n} incidents"),
    };
    let more = if a.next.is_some() { " so far" } else { "" };
    Paragraph::new(Line::from(vec![
        Span::styled(" warroom ", theme.title),
        Span::styled(format!("· archive · {found}{more}"), theme.text),
        Span::styled(
            format!(
                "   {} opens · {} searches · {} board",
                app.keymap.keys(Action::Open),
                app.keymap.keys(Action::Filter),
                app.keymap.keys(Action::Back)
            ),
            theme.muted,
        ),
    ]))
    .render(title, buf);

    let editing = app.mode == Mode::Filter;
    let mut spans = vec![
        Span::styled(" search: ", theme.key),
        Span::styled(
            format!("{}{}", clean(&a.line), if editing { "▏" } else { "" }),
            theme.input,
        ),
    ];
    if editing {
        spans.push(Span::styled(
            format!("   enter searches · esc cancels · {SEARCH_WORDS}"),
            theme.muted,
        ));
    } else if a.line.is_empty() {
        spans.push(Span::styled(
            format!(
                "(none: every resolved and closed incident, newest first · {} to search)",
                app.keymap.keys(Action::Filter)
            ),
            theme.muted,
        ));
    }
    Paragraph::new(Line::from(spans)).render(line, buf);

    if a.rows.is_empty() {
        let msg = match (&a.error, a.answered) {
            (Some(e), _) => format!("\n  The feed could not search: {}", clean(e)),
            (None, false) => "\n  Searching the feed…".to_string(),
            (None, true) if a.asked_line.is_empty() => "\n  No resolved incidents yet.".to_string(),
            (None, true) => "\n  No incident matches.".to_string(),
        };
        Paragraph::new(msg)
            .style(theme.muted)
            .render(table_area, buf);
    } else {
        let rows: Vec<Row> = a
            .rows
            .iter()
            .enumerate()
            .map(|(n, i)| row(app, theme, i, n == a.selected))
            .collect();
        let wide = area.width >= 110;
        let mut widths = vec![
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Length(13),
            Constraint::Length(16),
            Constraint::Length(8),
        ];
        let mut header = vec!["REF", "SEV", "STATUS", "DECLARED", "LASTED"];
        if wide {
            widths.push(Constraint::Length(14));
            header.push("SERVICE");
        }
        widths.push(Constraint::Min(10));
        header.push("TITLE");
        let rows: Vec<Row> = if wide {
            rows
        } else {
            a.rows
                .iter()
                .enumerate()
                .map(|(n, i)| narrow_row(app, theme, i, n == a.selected))
                .collect()
        };
        let table = Table::new(rows, widths)
            .header(Row::new(header).style(theme.muted.add_modifier(Modifier::BOLD)))
            .highlight_symbol("▶ ");
        let mut state = TableState::default().with_selected(Some(a.selected));
        StatefulWidget::render(table, table_area, buf, &mut state);
    }

    let mut tail = Vec::new();
    if a.asking.is_some() && a.answered {
        tail.push(Span::styled(" loading more…", theme.timer_due));
    } else if a.next.is_some() {
        tail.push(Span::styled(" more below (↓ loads them)", theme.muted));
    } else if a.answered && !a.rows.is_empty() {
        tail.push(Span::styled(" end of the archive", theme.muted));
    }
    if !a.withheld.is_empty() {
        tail.push(Span::styled(
            format!(
                " · {} matched that you are not a member of",
                restricted_count(a.withheld.len())
            ),
            theme.restricted,
        ));
    }
    Paragraph::new(Line::from(tail)).render(footer, buf);
}

/// When it was declared, in the console's zone.
fn declared(app: &App, i: &Incident) -> String {
    i.declared_at
        .with_timezone(&app.tz)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// How long it lasted (to resolution), or its age while active.
fn lasted(app: &App, i: &Incident) -> String {
    let end = match i.milestones.get(&Milestone::Resolved) {
        Some(end) if !i.is_active() => *end,
        _ => app.now,
    };
    age((end - i.declared_at).num_seconds())
}

fn title_cell<'a>(theme: &Theme, i: &Incident, base: ratatui::style::Style) -> Line<'a> {
    let mut title = Vec::new();
    if i.restricted {
        title.push(Span::styled("RSTR ", theme.restricted));
    }
    title.push(Span::styled(clean(&i.title), base));
    Line::from(title)
}

/// The selection bar goes under the selected row's cells (each keeps its own colours).
fn selectable<'a>(row: Row<'a>, theme: &Theme, selected: bool) -> Row<'a> {
    if selected {
        row.style(theme.selected)
    } else {
        row
    }
}

fn row<'a>(app: &App, theme: &Theme, i: &Incident, selected: bool) -> Row<'a> {
    let base = if i.is_active() {
        theme.text
    } else {
        theme.muted
    };
    selectable(
        Row::new(vec![
            Line::from(Span::styled(i.reference.to_string(), base)),
            sev_cell(theme, i, selected).into(),
            Span::styled(i.status.as_str(), base).into(),
            Span::styled(declared(app, i), base).into(),
            Span::styled(lasted(app, i), base).into(),
            Span::styled(clean(i.service.as_deref().unwrap_or("")), base).into(),
            title_cell(theme, i, base),
        ]),
        theme,
        selected,
    )
}

fn narrow_row<'a>(app: &App, theme: &Theme, i: &Incident, selected: bool) -> Row<'a> {
    let base = if i.is_active() {
        theme.text
    } else {
        theme.muted
    };
    selectable(
        Row::new(vec![
            Line::from(Span::styled(i.reference.to_string(), base)),
            sev_cell(theme, i, selected).into(),
            Span::styled(i.status.as_str(), base).into(),
            Span::styled(declared(app, i), base).into(),
            Span::styled(lasted(app, i), base).into(),
            title_cell(theme, i, base),
        ]),
        theme,
        selected,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    #[test]
    fn search_lines_read_words_and_filters() {
        let utc = Zone::Fixed(FixedOffset::east_opt(0).unwrap());
        let s = parse_search("db failover sev:1 service:Payments since:2026-03-01", utc).unwrap();
        assert_eq!(s.text.as_deref(), Some("db failover"));
        assert_eq!(s.severity, Some(Severity::try_from(1).unwrap()));
        assert_eq!(s.service.as_deref(), Some("Payments"));
        assert_eq!(
            s.since,
            Some(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap())
        );
        assert_eq!(s.active, Some(false));
        let s = parse_search("SEV2 is:any", utc).unwrap();
        assert_eq!(s.severity, Some(Severity::try_from(2).unwrap()));
        assert_eq!((s.active, s.text), (None, None));
        assert_eq!(parse_search("is:active", utc).unwrap().active, Some(true));
        // A day starts at midnight where the console is.
        let paris = Zone::Fixed(FixedOffset::east_opt(3600).unwrap());
        assert_eq!(
            parse_search("until:2026-03-01", paris).unwrap().until,
            Some(Utc.with_ymd_and_hms(2026, 2, 28, 23, 0, 0).unwrap())
        );
        assert!(
            parse_search("since:yesterday", utc)
                .unwrap_err()
                .contains("'since:yesterday' is not a date")
        );
        assert!(parse_search("sev:7", utc).unwrap_err().contains("7"));
        assert!(
            parse_search("is:maybe", utc)
                .unwrap_err()
                .contains("is:any")
        );
    }
}
