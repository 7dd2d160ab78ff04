//! The metrics screen (`:metrics`): the figures `warroom metrics` prints, asked of the feed
//! (which computes them from its store: every incident, not only the board this console
//! holds) each time the screen is opened. Its state is the answer ([`MetricsView`]); no
//! keys of its own: Esc (back) returns to the board.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::protocol::Query;
use crate::report::format::clean;
use crate::report::metrics::{self, Metrics};
use crate::tui::app::{App, Asked, Effect, Screen};
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;

/// The figures on the metrics screen: asked, answered, or refused.
#[derive(Debug, Clone, Default)]
pub enum MetricsView {
    #[default]
    NotAsked,
    /// Asked under this query id.
    Loading(String),
    Ready(Box<Metrics>),
    Failed(String),
}

impl App {
    /// `:metrics`: the screen, its figures asked of the feed.
    pub(crate) fn show_metrics(&mut self, fx: &mut Vec<Effect>) {
        // Leaves the room as the board does (focus cleared); Esc comes back.
        self.show_board(fx);
        self.screen = Screen::Metrics;
        let id = self.ask(Query::Metrics { since: None }, Asked::Metrics, fx);
        self.metrics = MetricsView::Loading(id);
    }

    /// The feed's answer (figures, or why not) to the metrics asked under `id`.
    pub(crate) fn metrics_answered(&mut self, id: &str, answer: Result<Box<Metrics>, String>) {
        if matches!(&self.metrics, MetricsView::Loading(asked) if asked == id) {
            self.metrics = match answer {
                Ok(m) => MetricsView::Ready(m),
                Err(e) => MetricsView::Failed(e),
            };
        }
    }
}

/// Draws the metrics screen into `area`.
pub fn render(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let back = Span::styled(
        format!("   {} back", app.keymap.keys(Action::Back)),
        theme.muted,
    );
    let m = match &app.metrics {
        MetricsView::Ready(m) => m,
        other => {
            let what = match other {
                MetricsView::Failed(e) => format!("the feed could not compute them: {}", clean(e)),
                _ => "asking the feed…".to_string(),
            };
            let lines = vec![
                Line::from(vec![
                    Span::styled(" warroom ", theme.title),
                    Span::styled("· metrics", theme.text),
                    back,
                ]),
                Line::default(),
                Line::styled(format!(" {what}"), theme.muted),
            ];
            Paragraph::new(lines).render(area, buf);
            return;
        }
    };
    let title = |what: String, back: Option<Span<'static>>| {
        let mut v = vec![
            Span::styled(" warroom ", theme.title),
            Span::styled(what, theme.text),
        ];
        v.extend(back);
        v
    };
    let heading = format!("· metrics · {}", metrics::heading(m));
    let mut lines: Vec<Line> = vec![crate::tui::text::fit(
        vec![
            title(heading.clone(), Some(back.clone())),
            title(heading, None),
            title("· metrics".to_string(), Some(back)),
        ],
        area.width,
    )];
    lines.push(Line::default());
    // The whole table (means and medians) where it fits, else the medians.
    let mut table = metrics::severity_table(m);
    let mut head_rows = 2;
    let medians = table
        .iter()
        .map(|r| r.chars().count() + 1)
        .max()
        .unwrap_or(0)
        > usize::from(area.width);
    if medians {
        table = metrics::severity_table_medians(m);
        head_rows = 1;
    }
    for (i, row) in table.into_iter().enumerate() {
        // The header lines, then one per severity in `m.severities` order.
        match i.checked_sub(head_rows).and_then(|k| m.severities.get(k)) {
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
    if medians {
        lines.push(Line::styled(
            " medians; a wider terminal shows the means too",
            theme.muted,
        ));
    }
    if let Some(note) = metrics::inconsistent_note(m) {
        lines.push(Line::styled(format!(" {note}"), theme.timer_due));
    }
    lines.push(Line::default());
    // Wrapped, so a narrow terminal reads them whole.
    // The rates first; the figures against the guide's targets under them (a short
    // terminal cuts those before the rates).
    for l in metrics::rate_lines(m)
        .into_iter()
        .chain([String::new()])
        .chain(metrics::target_lines(m))
    {
        let width = usize::from(area.width).saturating_sub(4);
        for (i, piece) in crate::report::format::wrap(&l, width)
            .into_iter()
            .enumerate()
        {
            let indent = if i == 0 { " " } else { "   " };
            lines.push(Line::styled(format!("{indent}{piece}"), theme.text));
        }
    }
    lines.push(Line::default());
    // The most recent weeks that fit under the rest.
    let room = usize::from(area.height).saturating_sub(lines.len() + 1);
    let bar_width = usize::from(area.width).saturating_sub(45).clamp(5, 40);
    let bars = metrics::week_bars(m, bar_width);
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
