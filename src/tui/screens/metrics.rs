//! The metrics screen (`:metrics`): the figures `warroom metrics` prints, computed from the
//! console's replica. The console has no event log, so pages come from the fired steps kept
//! in the state (each incident's last escalation run); they are divided by the shifts of
//! the feed's default on-call schedule once the feed has sent its policy. No state or keys
//! of its own: Esc (back) returns to the board.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::report::metrics;
use crate::tui::app::App;
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;

/// Draws the metrics screen into `area`.
pub fn render(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let m = metrics::compute(
        &app.replica.state,
        None,
        app.schedules.first(),
        None,
        app.now,
    );
    let mut lines: Vec<Line> = vec![Line::from(vec![
        Span::styled(" warroom ", theme.title),
        Span::styled(format!("· metrics · {}", metrics::heading(&m)), theme.text),
        Span::styled(
            format!("   {} back", app.keymap.keys(Action::Back)),
            theme.muted,
        ),
    ])];
    lines.push(Line::default());
    let table = metrics::severity_table(&m);
    for (i, row) in table.into_iter().enumerate() {
        // Two header lines, then one per severity in `m.severities` order.
        match i.checked_sub(2).and_then(|k| m.severities.get(k)) {
            Some(s) => {
                let label = s.severity.to_string();
                let rest = row.get(label.len()..).unwrap_or_default().to_string();
                lines.push(Line::from(vec![
                    Span::raw(" "),
                    Span::styled(label, theme.severity(s.severity)),
                    Span::styled(rest, theme.text),
                ]));
            }
            None => lines.push(Line::styled(format!(" {row}"), theme.muted)),
        }
    }
    if let Some(note) = metrics::inconsistent_note(&m) {
        lines.push(Line::styled(format!(" {note}"), theme.timer_due));
    }
    lines.push(Line::default());
    for l in metrics::rate_lines(&m) {
        lines.push(Line::styled(format!(" {l}"), theme.text));
    }
    lines.push(Line::default());
    // The most recent weeks that fit under the rest.
    let room = usize::from(area.height).saturating_sub(lines.len() + 1);
    let bar_width = usize::from(area.width).saturating_sub(45).clamp(5, 40);
    let bars = metrics::week_bars(&m, bar_width);
    let shown = bars.len().min(room);
    let title = if shown < bars.len() {
        format!(" Incidents per week (last {shown} of {})", bars.len())
    } else {
        " Incidents per week".to_string()
    };
    lines.push(Line::styled(title, theme.title));
    if bars.is_empty() {
        lines.push(Line::styled("   none yet", theme.muted));
    }
    for b in &bars[bars.len() - shown..] {
        lines.push(Line::styled(format!(" {b}"), theme.text));
    }
    Paragraph::new(lines).render(area, buf);
}
