//! The console's screens, one file (or folder) each, holding the screen's own state, its
//! keys and its drawing: the board; an incident's room (header, escalation panel, timeline
//! with its filter, search, history and older pages, scribe pane); the archive; the
//! metrics screen; and what is drawn
//! over them: the palette, help, the runbook checklist, the status update form, the
//! post-mortem editor, the handoff briefing and the quit question. Keys reach a screen's
//! handler through [`super::app::App`]'s dispatch; the root drawing is [`super::render`].

pub mod archive;
pub mod board;
pub mod confirm;
pub mod handoff;
pub mod help;
pub mod metrics;
pub mod news;
pub mod palette;
pub mod postmortem;
pub mod quit;
pub mod room;
pub mod runbook;
pub mod update_form;

use ratatui::text::{Line, Span};

use super::theme::Theme;
use crate::model::Incident;

/// An incident's severity in its colour, padded: ` SEV1 ` (the board and the room).
fn sev_span<'a>(theme: &Theme, inc: &Incident) -> Span<'a> {
    Span::styled(format!(" {} ", inc.severity), theme.severity(inc.severity))
}

/// The severity in a table row: in a selected row its colours stay over the bar's.
fn sev_cell<'a>(theme: &Theme, inc: &Incident, selected: bool) -> Span<'a> {
    let style = theme.severity(inc.severity);
    let style = if selected {
        board::cells::keep_under(theme.selected, style)
    } else {
        style
    };
    Span::styled(format!(" {} ", inc.severity), style)
}

/// A screen's hint line: its main keys, `keys label` each, as many as fit `width` (the first
/// ones, which matter most), shown in the theme's key and muted slots.
fn hints(theme: &Theme, items: &[(String, &str)], width: u16) -> Line<'static> {
    let variant = |n: usize| {
        let mut v = Vec::new();
        for (i, (keys, label)) in items.iter().take(n).enumerate() {
            v.push(Span::styled(if i == 0 { " " } else { "  " }, theme.muted));
            v.push(Span::styled(keys.clone(), theme.key));
            if !label.is_empty() {
                v.push(Span::styled(format!(" {label}"), theme.muted));
            }
        }
        v.push(Span::raw(" "));
        v
    };
    let variants = (1..=items.len()).rev().map(variant).collect();
    super::text::fit(variants, width)
}
