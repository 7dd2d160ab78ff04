//! An incident's room: its header (identity, timers, roles, who is here), the escalation
//! panel, the timeline with its filter, search and correction history, and the scribe pane.
//! The room's own state is a [`RoomView`] per incident (kept when the room is left, so a
//! draft or a cursor is where it was on return); each part has a file of its own here.

pub mod escalation;
pub mod filter;
pub mod history;
pub mod older;
pub mod scribe_pane;
pub mod search;
pub mod timeline;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use tui_textarea::TextArea;

use super::board::cells::{Urgency, no_ic_style, postmortem_variants};
use super::sev_span;
use crate::model::{Incident, IncidentRef, Milestone, Response, Role};
use crate::report::format::{age, clean};
use crate::tui::app::{App, Effect, Level, Screen};
use crate::tui::keymap::Action;
use crate::tui::layout;
use crate::tui::screens::postmortem::PmEditor;
use crate::tui::screens::update_form::UpdateForm;
use crate::tui::theme::Theme;
use escalation::escalation_panel;
use filter::TimelineFilter;
use history::HistoryView;
use older::Older;
use timeline::TimelineIndex;

/// A room's own state: the scribe's draft and the timeline cursor.
pub struct RoomView {
    pub draft: TextArea<'static>,
    /// Selected row in the timeline; `None` follows the newest entry.
    pub cursor: Option<usize>,
    /// First visible row, kept stable while the cursor moves inside the window.
    pub offset: usize,
    /// What the timeline shows (kinds, authors, words, system entries).
    pub filter: TimelineFilter,
    /// The search needle (`/`); empty when not searching.
    pub search: String,
    /// The row the search started from.
    pub search_origin: Option<usize>,
    /// The correction-history overlay.
    pub history: Option<HistoryView>,
    /// The status update being written (kept when the form is closed).
    pub update: Option<UpdateForm>,
    /// The last status update sent and not yet answered: (command id, its form).
    pub update_sent: Option<(String, UpdateForm)>,
    /// The post-mortem editor's draft (kept when the editor is closed).
    pub pm: Option<PmEditor>,
    /// What this visit asked the feed of the incident's entries.
    pub older: Older,
}

impl RoomView {
    /// Whether this view holds nothing a person typed or chose (a draft, a form, an
    /// editor, a search or a filter): then it can go with its incident, and a room opened
    /// again starts afresh at the newest entry.
    pub fn holds_nothing_typed(&self) -> bool {
        self.draft.is_empty()
            && self.filter == TimelineFilter::default()
            && self.search.is_empty()
            && self.history.is_none()
            && self.update.is_none()
            && self.update_sent.is_none()
            && self.pm.is_none()
    }
}

impl Default for RoomView {
    fn default() -> Self {
        RoomView {
            draft: scribe_pane::new_draft(),
            cursor: None,
            offset: 0,
            filter: Default::default(),
            search: String::new(),
            search_origin: None,
            history: None,
            update: None,
            update_sent: None,
            pm: None,
            older: Older::default(),
        }
    }
}

/// Roles in the order rooms show them.
pub const ROLE_ORDER: [crate::model::Role; 4] = [
    crate::model::Role::IncidentCommander,
    crate::model::Role::TechLead,
    crate::model::Role::CommsLead,
    crate::model::Role::Scribe,
];

impl App {
    pub fn room(&self, r: IncidentRef) -> Option<&RoomView> {
        self.rooms.get(&r)
    }

    /// People viewing incident `r` right now.
    pub fn in_room(&self, r: IncidentRef) -> Vec<&str> {
        self.replica
            .presence
            .iter()
            .filter(|p| p.viewing.contains(&r))
            .map(|p| p.name.as_str())
            .collect()
    }

    /// Opens the room of `r`: its state is kept from a visit before, its timeline indexed
    /// when new, the incident asked of the feed when this console does not hold all of it
    /// (an archived one, or one the board holds as a summary), and the feed told which
    /// incident this console is in.
    pub(crate) fn open_room(&mut self, r: IncidentRef, fx: &mut Vec<Effect>) {
        if self.replica.state.withheld.contains(&r) {
            self.flash(Level::Error, self.not_here(r));
            return;
        }
        if let Screen::Room(old) = self.screen
            && old != r
        {
            self.leave_room(old);
        }
        self.handoff = None;
        self.screen = Screen::Room(r);
        self.rooms.entry(r).or_default();
        self.ask_open(r, fx);
        if !self.timelines.contains_key(&r)
            && let Some(inc) = self.replica.state.incident(r)
        {
            let filter = self.rooms.get(&r).map(|v| &v.filter);
            let index = TimelineIndex::filtered(inc, filter.unwrap_or(&Default::default()));
            self.timelines.insert(r, index);
        }
        self.keep_cursor_visible(r);
        self.seen_news(r);
        fx.push(Effect::Focus(Some(r)));
    }
}

// ---- drawing ---------------------------------------------------------------------------

/// Draws the room of `inc` into `area`: header, escalation panel, timeline, scribe pane.
pub fn render(app: &App, theme: &Theme, inc: &Incident, area: Rect, buf: &mut Buffer) {
    let parts = layout::room(app, area, inc);
    render_header(app, theme, inc, parts.header, buf);
    if parts.panel.height > 0 {
        Paragraph::new(escalation_panel(app, theme, inc, parts.panel.width))
            .render(parts.panel, buf);
    }
    timeline::render(app, theme, inc, parts.timeline, buf);
    scribe_pane::render(app, theme, inc.reference, parts.scribe, buf);
}

/// How long before its declaration a deploy of an incident's service is shown in its room.
pub const DEPLOYS_BEFORE_HOURS: i64 = 24;

/// `deployed v2.14.1 → production 25m ago by ana (3 since the day before)`: the newest
/// deploy of the incident's service from a day before it was declared until it ended (seed
/// guide: what changed is the first question), and how many there were.
fn recent_deploys(app: &App, inc: &Incident) -> Option<String> {
    let service = inc.service.as_deref()?;
    let end = match inc.milestones.get(&Milestone::Resolved) {
        Some(at) if !inc.is_active() => *at,
        _ => app.now,
    };
    let from = inc.declared_at - chrono::Duration::hours(DEPLOYS_BEFORE_HOURS);
    let deploys = app
        .replica
        .state
        .feed
        .recent_deploys_of(service, end, end - from);
    let newest = deploys.first()?;
    let env = newest
        .environment
        .as_deref()
        .map(|e| format!(" → {}", clean(e)))
        .unwrap_or_default();
    let more = match deploys.len() {
        1 => String::new(),
        n => format!(" ({n} since the day before)"),
    };
    Some(format!(
        "deployed {}{env} {} ago by {}{more}",
        clean(&newest.version),
        age((app.now - newest.at).num_seconds()),
        clean(&newest.by)
    ))
}

/// The header: identity, timers, roles and who is here.
fn render_header(app: &App, theme: &Theme, inc: &Incident, area: Rect, buf: &mut Buffer) {
    let r = inc.reference;
    let status_style = if inc.is_active() {
        theme.status_active
    } else {
        theme.status_resolved
    };
    let line1 = Line::from(vec![
        Span::styled(format!(" {r} "), theme.title),
        sev_span(theme, inc),
        Span::raw(" "),
        Span::styled(inc.status.as_str(), status_style),
        Span::styled(
            if app.replica.archived(inc, app.now) {
                " · archived (a command brings it back)"
            } else {
                ""
            },
            theme.muted,
        ),
        Span::raw("  "),
        Span::styled(
            if inc.restricted { "RESTRICTED" } else { "" },
            theme.restricted,
        ),
        Span::raw(if inc.restricted { "  " } else { "" }),
        Span::styled(clean(&inc.title), theme.title),
        Span::styled(
            inc.service
                .as_deref()
                .map(|s| format!("  · {}", clean(s)))
                .unwrap_or_default(),
            theme.muted,
        ),
        Span::styled(
            inc.runbook
                .as_ref()
                .map(|rb| {
                    format!(
                        "  · runbook {}/{} done ({})",
                        inc.runbook_done.len(),
                        rb.item_count(),
                        app.keymap.keys(Action::Runbook)
                    )
                })
                .unwrap_or_default(),
            theme.muted,
        ),
    ]);
    let lifetime = match inc.milestones.get(&Milestone::Resolved) {
        Some(end) if !inc.is_active() => {
            format!("lasted {}", age((*end - inc.declared_at).num_seconds()))
        }
        _ => format!("age {}", age((app.now - inc.declared_at).num_seconds())),
    };
    let last_update = inc
        .last_status_update
        .map(|at| format!("last update {} ago", age((app.now - at).num_seconds())))
        .unwrap_or_else(|| "no status update yet".into());
    // Each fact once: the target's words already say "not acknowledged" while it is
    // awaited, and "never acknowledged" once it is over.
    let ack = match (&inc.acknowledged_by, inc.response(app.now)) {
        (Some(by), _) => Some(Span::styled(format!("acked by {}", clean(by)), theme.acked)),
        (None, Response::Met { .. } | Response::Missed { .. }) if inc.is_active() => {
            Some(Span::styled("ack lapsed", theme.unacked))
        }
        (None, Response::NoTarget) if inc.is_active() => {
            Some(Span::styled("not acknowledged", theme.unacked))
        }
        (None, _) => None,
    };
    let mut line2 = vec![
        Span::styled(format!(" {lifetime}"), theme.text),
        Span::styled(" · ", theme.muted),
        Span::styled(last_update, theme.text),
        Span::styled(" · ", theme.muted),
        target_span(app, theme, inc),
    ];
    if let Some(ack) = ack {
        line2.push(Span::styled(" · ", theme.muted));
        line2.push(ack);
    }
    // The war room's call (the policy's bridge for this severity), while it is worked.
    if let Some(link) = app
        .feed_policy
        .as_ref()
        .and_then(|p| p.bridge(inc.severity, inc.reference))
        .filter(|_| inc.is_active())
    {
        line2.push(Span::styled(" · ", theme.muted));
        line2.push(Span::styled(
            format!("bridge {}", clean(&link)),
            theme.title,
        ));
    }
    // Resolved: the post-mortem's 48 hours (seed guide G390), or how it went.
    let pm = match inc.postmortem_on_time() {
        Some(true) => vec![Span::styled("post-mortem done on time", theme.acked)],
        Some(false) => vec![Span::styled("post-mortem done late", theme.unacked)],
        None => postmortem_variants(app, theme, inc)
            .into_iter()
            .next()
            .unwrap_or_default(),
    };
    if !pm.is_empty() {
        line2.push(Span::styled(" · ", theme.muted));
        line2.extend(pm);
    }
    // Triage (seed architecture): who found it, growing or stable, a workaround.
    let mut triage = Vec::new();
    if let Some(d) = inc.detected_by {
        triage.push(Span::styled(format!("found by {d}"), theme.text));
    }
    match inc.impact_growing {
        Some(true) => triage.push(Span::styled("impact growing", theme.unacked)),
        Some(false) => triage.push(Span::styled("impact stable", theme.text)),
        None => {}
    }
    match inc.workaround {
        Some(true) => triage.push(Span::styled("workaround", theme.text)),
        Some(false) => triage.push(Span::styled("no workaround", theme.text)),
        None => {}
    }
    for t in triage {
        line2.push(Span::styled(" · ", theme.muted));
        line2.push(t);
    }
    // What changed: the newest deploy of its service (seed guide: recent deploys first).
    if let Some(deployed) = recent_deploys(app, inc) {
        line2.push(Span::styled(" · ", theme.muted));
        line2.push(Span::styled(deployed, theme.unacked));
    }
    let line2 = Line::from(line2);
    let mut roles: Vec<Span> = vec![Span::raw(" ")];
    for role in ROLE_ORDER {
        let short = match role {
            Role::IncidentCommander => "IC",
            Role::TechLead => "Tech",
            Role::CommsLead => "Comms",
            Role::Scribe => "Scribe",
        };
        roles.push(Span::styled(format!("{short} "), theme.muted));
        match inc.roles.get(&role) {
            Some(p) => roles.push(Span::styled(clean(p), theme.text)),
            None if role == Role::IncidentCommander && inc.is_active() => {
                roles.push(Span::styled("no IC", no_ic_style(theme, inc.severity)))
            }
            None if role == Role::CommsLead && inc.lacks_comms_lead() => {
                roles.push(Span::styled("no comms lead", theme.no_ic))
            }
            None => roles.push(Span::styled("vacant", theme.muted)),
        }
        roles.push(Span::styled("  ", theme.muted));
    }
    let here = app.in_room(r);
    if !here.is_empty() {
        roles.push(Span::styled("· here: ", theme.muted));
        roles.push(Span::styled(clean(&here.join(", ")), theme.presence));
    }
    Paragraph::new(vec![line1, line2, Line::from(roles)]).render(area, buf);
}

/// The response-target line: met, due in, or missed (the board's cells read the same
/// [`Incident::response`]).
fn target_span<'a>(app: &App, theme: &Theme, inc: &Incident) -> Span<'a> {
    match inc.response(app.now) {
        Response::NoTarget => {
            Span::styled(format!("{}: no response target", inc.severity), theme.muted)
        }
        Response::Met {
            target_mins,
            took_secs,
        } => Span::styled(
            format!("target {target_mins}m: met (ack in {})", age(took_secs)),
            theme.timer_ok,
        ),
        Response::Missed {
            target_mins,
            took_secs,
        } => Span::styled(
            format!("target {target_mins}m: missed (ack in {})", age(took_secs)),
            theme.timer_overdue,
        ),
        Response::NeverAcknowledged { target_mins } => Span::styled(
            format!("target {target_mins}m: never acknowledged"),
            theme.muted,
        ),
        Response::Waiting {
            target_mins,
            left_secs,
            ..
        } if left_secs >= 0 => Span::styled(
            format!("target {target_mins}m: ack due in {}", age(left_secs)),
            theme.timer_due,
        ),
        Response::Waiting {
            target_mins,
            left_secs,
            ..
        } => Span::styled(
            format!(
                "target {target_mins}m: OVERDUE by {} — not acknowledged",
                age(-left_secs)
            ),
            Urgency::of(inc, app.now).style(theme),
        ),
    }
}
