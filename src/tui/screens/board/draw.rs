//! Drawing the board: the title line (active, resolved hidden, the clock), the table (its
//! columns added as the terminal widens, the selected row keeping its severity's colours
//! under the bar), the restricted incidents withheld, the selected incident's escalation
//! spelt out under a narrow table, and the filter line.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, StatefulWidget, Table, TableState, Widget};

use super::cells::{escalation_variants, footer_variants, ic_span, keep_under, update_variants};
use crate::model::Milestone;
use crate::report::format::{age, clean};
use crate::tui::app::{App, Mode};
use crate::tui::keymap::Action;
use crate::tui::screens::sev_cell;
use crate::tui::text::fit;
use crate::tui::theme::Theme;

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
/// Room for the whole of it: the wait, the target missed, the last page and the next.
const ESC_WHOLE: u16 = 66;
const UPDATE_W: u16 = 19;

impl BoardColumns {
    /// Columns are added while the title keeps at least 20 columns: the service (as before,
    /// from 100 columns), then the update countdown, then a wider escalation column; the
    /// widest escalation column only while the title keeps 40.
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
        let escalation = if w >= used + ESC_WHOLE - ESC_NARROW + 2 * MIN_TITLE {
            ESC_WHOLE
        } else if w >= used + ESC_WIDE - ESC_NARROW + MIN_TITLE {
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
        self.update && self.escalation == ESC_WHOLE
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
        .filter(|_| !cols.complete())
        .map(|i| footer_variants(app, theme, i))
        .filter(|v| !v.is_empty())
        .map(|v| {
            let mut spans = vec![Span::styled(" ▶ ", theme.muted)];
            spans.extend(fit(v, area.width.saturating_sub(3)).spans);
            Line::from(spans)
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
    head.extend(super::cells::postmortems_owed(app, theme));
    // Informational alerts kept for stand-up (seed architecture): the handoff lists them.
    let standup = app
        .replica
        .state
        .feed
        .digest(
            app.now,
            chrono::Duration::days(crate::report::handoff::STANDUP_DAYS),
        )
        .len();
    if standup > 0 {
        head.push(Span::styled(
            format!(
                " · {standup} for stand-up ({} handoff)",
                app.keymap.keys(Action::Handoff)
            ),
            theme.muted,
        ));
    }
    head.push(Span::styled(
        format!("   {}", app.now.with_timezone(&app.tz).format("%H:%M")),
        theme.muted,
    ));
    // The board's main keys, as many as fit after the title.
    let k = |a| app.keymap.keys(a);
    let items = [
        (k(Action::Open), "open"),
        (k(Action::Declare), "declare"),
        (k(Action::Ack), "ack"),
        (k(Action::TakeIc), "take IC"),
        (k(Action::HandRole), "hand role"),
        (k(Action::Filter), "filter"),
        (k(Action::ToggleResolved), "archive"),
        (k(Action::Handoff), "handoff"),
    ];
    let room = title
        .width
        .saturating_sub(Line::from(head.clone()).width() as u16 + 2);
    let hint = super::super::hints(theme, &items, room);
    if hint.width() <= usize::from(room) {
        head.push(Span::raw("  "));
        head.extend(hint.spans);
    }
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
        } else if !app.board.filter.is_empty() {
            "\n  Nothing matches the filter (esc clears it).".to_string()
        } else {
            let hidden = match app.hidden_resolved() {
                0 => String::new(),
                n => format!(
                    " · {n} resolved hidden ({} shows the archive)",
                    app.keymap.keys(Action::ToggleResolved)
                ),
            };
            format!(
                "\n  No active incidents{hidden} · {} declares one",
                app.keymap.keys(Action::Declare)
            )
        };
        Paragraph::new(msg)
            .style(theme.muted)
            .render(table_area, buf);
    } else {
        let now = app.now;
        let table_rows: Vec<Row> = rows
            .iter()
            .enumerate()
            .map(|(n, i)| {
                // The selected row's bar goes under its cells: a cell with colours of its
                // own (the severity, a missed target) keeps them.
                let selected = n == app.board.selected;
                let own = |st| {
                    if selected {
                        keep_under(theme.selected, st)
                    } else {
                        st
                    }
                };
                let resolved = !i.is_active();
                let age_secs = match (resolved, i.milestones.get(&Milestone::Resolved)) {
                    (true, Some(end)) => (*end - i.declared_at).num_seconds(),
                    _ => (now - i.declared_at).num_seconds(),
                };
                let base = if resolved { theme.muted } else { theme.text };
                let status_style = if resolved {
                    theme.status_resolved
                } else {
                    theme.status_active
                };
                let restyle = |line: Line<'static>| {
                    Line::from(
                        line.spans
                            .into_iter()
                            .map(|sp| {
                                let st = own(sp.style);
                                sp.style(st)
                            })
                            .collect::<Vec<_>>(),
                    )
                };
                let mut cells: Vec<Line> = vec![
                    Span::styled(i.reference.to_string(), base).into(),
                    sev_cell(theme, i, selected).into(),
                    Span::styled(i.status.as_str(), status_style).into(),
                    Span::styled(age(age_secs), base).into(),
                    restyle(fit(escalation_variants(app, theme, i), cols.escalation)),
                    restyle(ic_span(theme, i, base).into()),
                ];
                if cols.service {
                    cells
                        .push(Span::styled(clean(i.service.as_deref().unwrap_or("")), base).into());
                }
                if cols.update {
                    cells.push(restyle(fit(update_variants(app, theme, i), UPDATE_W)));
                }
                let mut title = Vec::new();
                if app.is_news(i.reference) {
                    let style = if app.is_new_urgent(i.reference) {
                        theme.timer_critical
                    } else {
                        theme.banner_info
                    };
                    title.push(Span::styled("NEW", own(style)));
                    title.push(Span::raw(" "));
                }
                if i.restricted {
                    // The word while the title keeps 16 columns; an abbreviation below.
                    let mark = if cols.title >= 11 + 16 {
                        "RESTRICTED"
                    } else {
                        "RSTR"
                    };
                    title.push(Span::styled(mark, own(theme.restricted)));
                    title.push(Span::raw(" "));
                }
                // A SEV1 or SEV2 with its IC but no comms lead (with no IC, `no IC` says
                // enough): flagged as loudly.
                if i.lacks_comms_lead()
                    && i.roles.contains_key(&crate::model::Role::IncidentCommander)
                {
                    title.push(Span::styled("no comms", own(theme.no_ic)));
                    title.push(Span::raw(" "));
                }
                title.push(Span::styled(clean(&i.title), base));
                cells.push(Line::from(title));
                let row = Row::new(cells);
                if selected {
                    row.style(theme.selected)
                } else {
                    row
                }
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
        let mut spans = vec![
            Span::styled(" filter: ", theme.key),
            Span::styled(format!("{}{cursor}", clean(&app.board.filter)), theme.input),
            Span::styled("   enter keeps · esc clears", theme.muted),
        ];
        let outside = app.new_outside_filter();
        if outside > 0 {
            spans.push(Span::styled(
                format!(" · {outside} new SEV1/SEV2 shown outside it"),
                theme.timer_due,
            ));
        }
        Paragraph::new(Line::from(spans)).render(filter_area, buf);
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
