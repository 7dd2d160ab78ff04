//! What is new, seen wherever the person is: an incident declared (by anyone, from anywhere:
//! another console, a script, an alert), one raised to SEV1 or SEV2, a page to this person.
//! Each becomes a notice on a line of its own above every screen, naming the reference, the
//! severity, the title and who or what did it, until the person goes there (`o`) or
//! dismisses it (`x`); a new SEV1 or SEV2 also rings the terminal's bell (unless the config
//! turns it off) and shows through a board filter. Its state, its keys and its drawing.

use chrono::{DateTime, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Paragraph, Widget};

use crate::model::{Event, EventKind, IncidentRef, Severity};
use crate::report::format::clean;
use crate::tui::app::{App, Effect, Mode, Screen};
use crate::tui::keymap::Action;
use crate::tui::text::fit;
use crate::tui::theme::Theme;

/// Most notices kept; the oldest go first.
const MOST: usize = 20;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewsKind {
    /// Declared; `by_alert`: opened by monitoring rather than a person.
    Declared { by_alert: bool },
    /// Raised to SEV1 or SEV2.
    Raised { from: Severity },
    /// An escalation step paged (or notified) this person.
    Paged { target: String },
}

/// One notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct News {
    pub incident: IncidentRef,
    pub kind: NewsKind,
    /// The incident's severity when it happened.
    pub severity: Severity,
    pub title: String,
    /// Who (or what) did it.
    pub by: String,
    pub at: DateTime<Utc>,
}

impl News {
    /// A SEV1 or SEV2 declared or raised to it, or a page to this person: the bell rings
    /// for it and a board filter lets it through.
    pub fn urgent(&self) -> bool {
        matches!(self.kind, NewsKind::Paged { .. })
            || matches!(self.severity, Severity::Sev1 | Severity::Sev2)
    }
}

impl App {
    /// Notices an event that is news to this person: only events that arrive live (or in a
    /// catch-up after a reconnect), never the state the console starts from.
    pub(crate) fn note_news(&mut self, e: &Event, fx: &mut Vec<Effect>) {
        if !self.ever_synced {
            return;
        }
        let Some((r, inc)) = e
            .kind
            .incident()
            .and_then(|r| Some((r, self.replica.state.incident(r)?)))
        else {
            return;
        };
        let me = self.replica.me.as_deref().unwrap_or("");
        let kind = match &e.kind {
            // This console's own declaration opens its room instead.
            EventKind::Declared { .. } if self.awaiting_declare.is_some() && e.actor == me => {
                return;
            }
            EventKind::Declared { alert_key, .. } => NewsKind::Declared {
                by_alert: alert_key.is_some(),
            },
            EventKind::SeverityChanged { from, to, .. }
                if to < from && matches!(to, Severity::Sev1 | Severity::Sev2) =>
            {
                // Raised by this person, or where they are looking: they know.
                if e.actor == me || self.screen == Screen::Room(r) {
                    return;
                }
                NewsKind::Raised { from: *from }
            }
            EventKind::StepFired {
                person: Some(p),
                target,
                ..
            } if p == me => NewsKind::Paged {
                target: target.clone(),
            },
            EventKind::Paged { person, target, .. } if person == me => NewsKind::Paged {
                target: target.clone(),
            },
            _ => return,
        };
        let news = News {
            incident: r,
            kind,
            severity: inc.severity,
            title: inc.title.clone(),
            by: e.actor.clone(),
            at: e.at,
        };
        if news.urgent() && self.bell && !fx.contains(&Effect::Bell) {
            fx.push(Effect::Bell);
        }
        // The newest about an incident replaces an older one about it.
        self.news.retain(|n| n.incident != r || n.kind != news.kind);
        let declared = matches!(news.kind, NewsKind::Declared { .. });
        self.news.push(news);
        if self.news.len() > MOST {
            self.news.remove(0);
        }
        // The demo takes a console watching the board into the story's room.
        if self.demo && declared && self.watching_the_board() {
            self.follow_news(fx);
        }
    }

    /// On the board with nothing open over it: the demo may move this person.
    fn watching_the_board(&self) -> bool {
        self.screen == Screen::Board && self.mode == Mode::Normal && self.handoff.is_none()
    }

    /// The demo, when an incident is resolved: it stays in view (its room, from the
    /// board) and the line above the screen says what to do with it.
    pub(crate) fn demo_resolved(&mut self, e: &Event, fx: &mut Vec<Effect>) {
        if !self.demo || !matches!(e.kind, EventKind::Resolved { .. }) {
            return;
        }
        let Some(r) = e.kind.incident() else {
            return;
        };
        self.demo_hint = Some(format!(
            "{r} is resolved: :export md writes its post-mortem draft, :pm starts the post-mortem, q quits"
        ));
        if self.watching_the_board() {
            self.open_room(r, fx);
        }
    }

    /// The notice on show: the most urgent, the newest of those.
    pub fn shown_news(&self) -> Option<&News> {
        self.news
            .iter()
            .max_by_key(|n| (n.urgent(), std::cmp::Reverse(n.severity)))
    }

    /// Whether `r` is a new SEV1 or SEV2 the person has not seen yet (a board filter lets
    /// it through).
    pub fn is_new_urgent(&self, r: IncidentRef) -> bool {
        self.news
            .iter()
            .any(|n| n.incident == r && n.urgent() && !matches!(n.kind, NewsKind::Paged { .. }))
    }

    /// Whether `r` has a notice not seen yet.
    pub fn is_news(&self, r: IncidentRef) -> bool {
        self.news.iter().any(|n| n.incident == r)
    }

    /// `o`: to the incident of the notice on show (its room, whatever was open).
    pub(crate) fn follow_news(&mut self, fx: &mut Vec<Effect>) {
        let Some(r) = self.shown_news().map(|n| n.incident) else {
            return;
        };
        self.runbook = None;
        self.handoff = None;
        self.mode = Mode::Normal;
        self.room_from_archive = false;
        self.open_room(r, fx);
        self.seen_news(r);
    }

    /// `x`: the notice on show goes.
    pub(crate) fn dismiss_news(&mut self) {
        if let Some(shown) = self.shown_news().cloned() {
            self.news.retain(|n| *n != shown);
        }
    }

    /// The person is in `r`'s room: its notices have been seen.
    pub(crate) fn seen_news(&mut self, r: IncidentRef) {
        self.news.retain(|n| n.incident != r);
    }

    /// Notices of incidents this console no longer holds go (restricted away, gone).
    pub(crate) fn forget_vanished_news(&mut self) {
        let state = &self.replica.state;
        self.news.retain(|n| state.incident(n.incident).is_some());
    }
}

/// Draws the notice on show on its line: what happened, the key that goes there, the key
/// that dismisses it, and how many more wait.
pub fn render(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let mut area = area;
    if let Some(hint) = &app.demo_hint
        && area.height > 0
    {
        // The demo's last word, on the last of these rows.
        let row = Rect::new(area.x, area.bottom() - 1, area.width, 1);
        let line = fit(
            vec![vec![
                Span::styled(" DEMO ", theme.banner_info),
                Span::styled(format!(" {}", clean(hint)), theme.text),
            ]],
            area.width,
        );
        Paragraph::new(line).render(row, buf);
        area.height -= 1;
    }
    let Some(n) = app.shown_news() else {
        return;
    };
    if area.height == 0 {
        return;
    }
    let loud = if n.urgent() {
        theme.timer_critical
    } else {
        theme.banner_info
    };
    let title = clean(&n.title);
    let by = clean(&n.by);
    let (what, long, short) = match &n.kind {
        NewsKind::Declared { by_alert: false } => (
            format!(" NEW {} ", n.severity),
            format!("declared by {by}"),
            format!("by {by}"),
        ),
        NewsKind::Declared { by_alert: true } => (
            format!(" NEW {} ", n.severity),
            format!("opened by an alert ({by})"),
            "alert".to_string(),
        ),
        NewsKind::Raised { from } => (
            format!(" RAISED TO {} ", n.severity),
            format!("was {from}, raised by {by}"),
            format!("by {by}"),
        ),
        NewsKind::Paged { target } => (
            format!(" PAGED YOU {} ", n.severity),
            format!("escalation paged you ({})", clean(target)),
            "paged you".to_string(),
        ),
    };
    let more = app.news.len().saturating_sub(1);
    let go = app.keymap.keys(Action::FollowNews);
    let dismiss = app.keymap.keys(Action::DismissNews);
    let variant = |title: &str, who: &str, keys: bool| {
        let mut v = vec![
            Span::styled(what.clone(), loud),
            Span::styled(format!(" {} ", n.incident), theme.title),
            Span::styled(title.to_string(), theme.title),
            Span::styled(format!(" · {who}"), theme.text),
        ];
        if keys {
            v.push(Span::styled(" · ", theme.muted));
            v.push(Span::styled(go.clone(), theme.key));
            v.push(Span::styled(" go there ", theme.muted));
            v.push(Span::styled(dismiss.clone(), theme.key));
            v.push(Span::styled(" dismiss", theme.muted));
        } else {
            v.push(Span::styled(" · ", theme.muted));
            v.push(Span::styled(go.clone(), theme.key));
            v.push(Span::styled(" go", theme.muted));
        }
        if more > 0 {
            v.push(Span::styled(format!(" · +{more} more"), theme.muted));
        }
        v
    };
    let cut = crate::tui::text::truncate(&title, 24);
    let tiny = crate::tui::text::truncate(&title, 12);
    let variants = vec![
        variant(&title, &long, true),
        variant(&title, &short, true),
        variant(&title, &short, false),
        variant(&cut, &short, false),
        variant(&tiny, &short, false),
    ];
    Paragraph::new(fit(variants, area.width)).render(area, buf);
}
