//! How the post-mortem editor looks: a header saying what closing still needs, the parts
//! down the side (sent, not sent yet, empty), and the part with the keys: a text area, the
//! 5 whys with a preview of the chain, or the action items with their add line.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};
use tui_textarea::TextArea;

use super::{PARTS, Part, part_title, text_of};
use crate::model::Status;
use crate::model::postmortem::parse_whys;
use crate::report::format::{clean, wrap_as_typed};
use crate::tui::app::{App, Screen};
use crate::tui::theme::Theme;

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
                let ticket = a
                    .ticket
                    .as_ref()
                    .map(|t| format!(" · ticket {}", clean(&t.reference)))
                    .unwrap_or_default();
                let mark = if a.done { "[x]" } else { "[ ]" };
                let text = format!(
                    " {} {mark} {}. {} — {}{due}{ticket}",
                    if selected { "▶" } else { " " },
                    i + 1,
                    clean(&a.text),
                    clean(&a.owner)
                );
                let style = if a.done { theme.muted } else { theme.text };
                for (k, l) in wrap_as_typed(&text, width).into_iter().enumerate() {
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
