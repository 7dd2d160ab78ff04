//! The comms lead's status update (`:update`): a small form — what is happening, the
//! impact, what we are doing, when the next update comes — posted as one status-update
//! entry, which restarts the update countdown. `ctrl-p` marks it public (the feed sends it
//! to the status page too); on a SEV1 incident three more fields hold the executive briefing
//! the stakeholders get (impact, ETA, commitments at risk), all three required. A cancelled
//! form keeps its draft (per room) so `:update` reopens it; a refused post puts the draft
//! back.

use chrono::{DateTime, Duration, FixedOffset, Utc};

use crate::clock::Zone;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};
use tui_textarea::{CursorMove, TextArea};

use crate::model::validate::{self, MAX_ENTRY};
use crate::model::{Briefing, Command, EntryKind, Incident, IncidentRef, Severity};
use crate::report::format::{age, clean, wrap_as_typed};
use crate::tui::app::{App, Effect, Level, Mode, Screen};
use crate::tui::paste::{self, Lines};
use crate::tui::theme::Theme;

/// The form's fields, in order: the update's four, then the SEV1 briefing's three (shown
/// on a SEV1 incident only).
pub const LABELS: [&str; 7] = [
    "What is happening",
    "Impact",
    "What we are doing",
    "Next update in (minutes)",
    "Briefing · business impact",
    "Briefing · ETA to resolution",
    "Briefing · commitments at risk",
];
/// The fields of an update without the briefing.
const PLAIN: usize = 4;
/// The first briefing field.
const BRIEFING: usize = 4;

const HAPPENING: usize = 0;
const MINUTES: usize = 3;
/// The longest promise of a next update: a day.
const MAX_MINUTES: u64 = 24 * 60;

/// A status update being written.
#[derive(Clone)]
pub struct UpdateForm {
    pub fields: Vec<TextArea<'static>>,
    /// The field that has the keys.
    pub focus: usize,
    /// Sent to the status page too.
    pub public: bool,
    /// The incident is a SEV1: the briefing fields are shown, and required.
    pub sev1: bool,
}

impl UpdateForm {
    pub fn new(minutes: u64) -> Self {
        let mut fields: Vec<TextArea<'static>> = LABELS
            .iter()
            .enumerate()
            .map(|(i, _)| {
                let mut t = TextArea::default();
                t.set_placeholder_text(match i {
                    0 => "e.g. Checkout fails for some customers",
                    1 => "who is affected, and how badly",
                    2 => "e.g. Rolling back deploy 4471",
                    3 => "minutes",
                    4 => "e.g. 15% of card payments fail",
                    5 => "e.g. about 40 minutes; unknown yet",
                    _ => "e.g. the EU merchants' SLA; none",
                });
                t
            })
            .collect();
        fields[MINUTES].insert_str(minutes.to_string());
        UpdateForm {
            fields,
            focus: 0,
            public: false,
            sev1: false,
        }
    }

    /// How many fields are in use: the briefing's too on a SEV1.
    pub fn count(&self) -> usize {
        if self.sev1 { LABELS.len() } else { PLAIN }
    }

    /// The executive briefing, when the incident is a SEV1: every part given, or the field
    /// to fill in and why.
    pub fn briefing(&self) -> Result<Option<Briefing>, (usize, String)> {
        if !self.sev1 {
            return Ok(None);
        }
        let part = |i: usize, what: &str| {
            let v = self.value(i);
            if v.is_empty() {
                Err((
                    i,
                    format!("a SEV1 update carries the briefing: give {what}"),
                ))
            } else {
                Ok(v)
            }
        };
        Ok(Some(Briefing {
            impact: part(BRIEFING, "the business impact")?,
            eta: part(BRIEFING + 1, "the ETA to resolution")?,
            at_risk: part(BRIEFING + 2, "the commitments at risk (\"none\" if none)")?,
        }))
    }

    /// A field's text on one line, trimmed.
    pub fn value(&self, i: usize) -> String {
        self.fields
            .get(i)
            .map(|f| f.lines().join(" ").trim().to_string())
            .unwrap_or_default()
    }

    /// Nothing written in the text fields.
    pub fn is_blank(&self) -> bool {
        (0..LABELS.len())
            .filter(|i| *i != MINUTES)
            .all(|i| self.value(i).is_empty())
    }

    /// Sets a field's text, cursor at its end.
    pub fn set(&mut self, i: usize, text: &str) {
        if let Some(f) = self.fields.get_mut(i) {
            let mut t = TextArea::new(vec![text.to_string()]);
            t.set_placeholder_text(f.placeholder_text().to_string());
            t.move_cursor(CursorMove::End);
            *f = t;
        }
    }

    /// The promised minutes until the next update, when valid.
    pub fn minutes(&self) -> Option<u64> {
        self.value(MINUTES)
            .parse::<u64>()
            .ok()
            .filter(|m| (1..=MAX_MINUTES).contains(m))
    }

    /// The entry's text, or the field to fix and why.
    pub fn compose(&self, now: DateTime<Utc>, tz: Zone) -> Result<String, (usize, String)> {
        let happening = self.value(HAPPENING);
        if happening.is_empty() {
            return Err((HAPPENING, "say what is happening first".into()));
        }
        let minutes = self
            .value(MINUTES)
            .parse::<u64>()
            .ok()
            .filter(|m| (1..=MAX_MINUTES).contains(m))
            .ok_or_else(|| {
                (
                    MINUTES,
                    format!("next update: a number of minutes from 1 to {MAX_MINUTES}, e.g. 15"),
                )
            })?;
        let mut parts = Vec::new();
        for (i, label) in LABELS.iter().enumerate().take(MINUTES) {
            let v = self.value(i);
            if !v.is_empty() {
                parts.push(format!("{label}: {}", sentence(&v)));
            }
        }
        let next = (now + Duration::minutes(minutes as i64)).with_timezone(&tz);
        parts.push(format!(
            "Next update: {} {} (in {minutes} min).",
            next.format("%H:%M"),
            zone_label(*next.offset())
        ));
        Ok(parts.join(" "))
    }
}

/// Ends the text with a full stop unless it already ends a sentence.
fn sentence(s: &str) -> String {
    if s.ends_with(['.', '!', '?']) {
        s.to_string()
    } else {
        format!("{s}.")
    }
}

/// `UTC`, `UTC+2`, `UTC-5`, `UTC+5:30`: the console's zone as readers elsewhere need it.
pub fn zone_label(tz: FixedOffset) -> String {
    let secs = tz.local_minus_utc();
    if secs == 0 {
        return "UTC".into();
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let (h, m) = (secs.abs() / 3600, (secs.abs() % 3600) / 60);
    if m == 0 {
        format!("UTC{sign}{h}")
    } else {
        format!("UTC{sign}{h}:{m:02}")
    }
}

/// The promised next update, in minutes: the incident's cadence, else 30.
pub fn default_minutes(inc: &Incident) -> u64 {
    inc.update_every_secs
        .map(|s| s.div_ceil(60).clamp(1, MAX_MINUTES))
        .unwrap_or(30)
}

impl App {
    /// `:update`: the form for `r` (its room opens), with the kept draft if there is one.
    pub(crate) fn open_update_form(&mut self, r: IncidentRef, prefill: &str, fx: &mut Vec<Effect>) {
        let Some(minutes) = self.replica.state.incident(r).map(default_minutes) else {
            self.flash(Level::Error, self.not_here(r));
            return;
        };
        if self.screen != Screen::Room(r) {
            self.open_room(r, fx);
        }
        let sev1 = self.sev1_update(r);
        let view = self.rooms.entry(r).or_default();
        let form = view.update.get_or_insert_with(|| UpdateForm::new(minutes));
        form.sev1 = sev1;
        if !prefill.trim().is_empty() && form.value(HAPPENING).is_empty() {
            form.set(HAPPENING, prefill.trim());
        }
        self.mode = Mode::UpdateForm;
    }

    /// The incident is an active SEV1: its updates carry the briefing.
    fn sev1_update(&self, r: IncidentRef) -> bool {
        self.replica
            .state
            .incident(r)
            .is_some_and(|i| i.severity == Severity::Sev1 && i.is_active())
    }

    fn update_room(&self) -> Option<IncidentRef> {
        match self.screen {
            Screen::Room(r) => self.rooms.get(&r)?.update.as_ref().map(|_| r),
            _ => None,
        }
    }

    /// Keys while the form is open: they edit it, move between its fields, post it, or
    /// close it (keeping the draft). Nothing else.
    pub(crate) fn update_form_key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
        let Some(r) = self.update_room() else {
            self.mode = Mode::Normal;
            return;
        };
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let restricted = self.replica.state.incident(r).is_some_and(|i| i.restricted);
        let Some(form) = self.rooms.get_mut(&r).and_then(|v| v.update.as_mut()) else {
            return;
        };
        let n = form.count();
        let last = n - 1;
        match k.code {
            KeyCode::Esc => {
                self.mode = Mode::Normal;
                if form.is_blank() {
                    if let Some(v) = self.rooms.get_mut(&r) {
                        v.update = None;
                    }
                } else {
                    self.flash(
                        Level::Info,
                        format!("{r}: status update draft kept · :update reopens it"),
                    );
                }
            }
            KeyCode::Tab | KeyCode::Down => form.focus = (form.focus + 1) % n,
            KeyCode::BackTab | KeyCode::Up => form.focus = (form.focus + last) % n,
            KeyCode::Enter if form.focus < last && !ctrl => form.focus += 1,
            KeyCode::Enter => self.post_update(r, fx),
            KeyCode::Char('s') if ctrl => self.post_update(r, fx),
            KeyCode::Char('p') if ctrl && restricted && !form.public => self.flash(
                Level::Error,
                format!(
                    "{r} is restricted (need to know): its updates never go to the status page"
                ),
            ),
            KeyCode::Char('p') if ctrl => {
                form.public = !form.public;
                let what = if form.public {
                    "public: it goes to the status page too"
                } else {
                    "not public: stakeholders and the timeline only"
                };
                self.flash(Level::Info, format!("{r}: status update {what}"));
            }
            _ => {
                let i = form.focus;
                form.fields[i].input(k);
            }
        }
    }

    /// A paste into the field with the keys: each field is one line of the update.
    pub(crate) fn update_form_paste(&mut self, text: &str) -> Result<(), String> {
        if let Some(r) = self.update_room()
            && let Some(form) = self.rooms.get_mut(&r).and_then(|v| v.update.as_mut())
        {
            let i = form.focus;
            return paste::into_area(
                &mut form.fields[i],
                text,
                Lines::One,
                MAX_ENTRY,
                "a status update holds",
                paste::trimmed_len,
            );
        }
        Ok(())
    }

    fn post_update(&mut self, r: IncidentRef, fx: &mut Vec<Effect>) {
        let (now, tz) = (self.now, self.tz);
        let sev1 = self.sev1_update(r);
        let Some(form) = self.rooms.get_mut(&r).and_then(|v| v.update.as_mut()) else {
            return;
        };
        // Raised to SEV1 while it was being written: the briefing fields appear, and are
        // asked for before anything is sent.
        form.sev1 = sev1;
        // The feed's limits on an entry, checked before the form closes.
        let composed = form.compose(now, tz).and_then(|text| {
            match validate::text("the status update", &text, MAX_ENTRY, true) {
                Ok(_) => Ok(text),
                Err(e) => Err((
                    form.focus,
                    format!("not posted: {} · shorten a field", e.message),
                )),
            }
        });
        let composed = composed.and_then(|text| Ok((text, form.briefing()?)));
        match composed {
            Ok((text, briefing)) => {
                let draft = form.clone();
                let next_update_secs = form.minutes().map(|m| m * 60);
                let public = form.public;
                let id = self.send(
                    Command::AddEntry {
                        incident: r,
                        entry_kind: EntryKind::StatusUpdate,
                        text,
                        occurred_at: None,
                        next_update_secs,
                        public,
                        briefing,
                    },
                    format!("{r}: status update"),
                    fx,
                );
                let view = self.rooms.entry(r).or_default();
                view.update = None;
                view.update_sent = Some((id, draft));
                // Follow the newest entry: the update appears at the bottom.
                view.cursor = None;
                self.keep_cursor_visible(r);
                self.mode = Mode::Normal;
            }
            Err((field, why)) => {
                form.focus = field;
                self.flash(Level::Error, why);
            }
        }
    }

    /// The status update sent as `id` was refused: its draft comes back (unless a new one
    /// was started meanwhile) so nothing typed is lost.
    pub(crate) fn update_refused(&mut self, id: &str) {
        for (r, v) in self.rooms.iter_mut() {
            if v.update_sent.as_ref().is_some_and(|(sent, _)| sent == id)
                && let Some((_, draft)) = v.update_sent.take()
            {
                if v.update.is_none() {
                    v.update = Some(draft);
                    tracing::info!("{r}: refused status update kept as a draft");
                }
                return;
            }
        }
    }

    /// The status update sent as `id` was recorded.
    pub(crate) fn update_posted(&mut self, id: &str) -> bool {
        let found = self
            .rooms
            .iter_mut()
            .find(|(_, v)| v.update_sent.as_ref().is_some_and(|(sent, _)| sent == id));
        match found {
            Some((r, v)) => {
                v.update_sent = None;
                let r = *r;
                self.flash(
                    Level::Info,
                    format!("{r}: status update posted · the update countdown restarts"),
                );
                true
            }
            None => false,
        }
    }
}

/// The form over the room.
pub fn render(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let Screen::Room(r) = app.screen else { return };
    let Some(form) = app.rooms.get(&r).and_then(|v| v.update.as_ref()) else {
        return;
    };
    let inc = app.replica.state.incident(r);
    let width = area.width.min(96);
    let inner_w = width.saturating_sub(2);
    let preview: Vec<String> = match form.compose(app.now, app.tz) {
        Ok(t) => wrap_as_typed(&clean(&t), inner_w.saturating_sub(2) as usize),
        Err((_, why)) => vec![format!("({why})")],
    };
    let preview_rows = preview.len().min(5) as u16;
    let height = (1 + 3 * form.count() as u16 + 1 + preview_rows + 2).min(area.height);
    let popup = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + area.height.saturating_sub(height) / 2,
        width,
        height,
    );
    Clear.render(popup, buf);
    let title = match inc {
        Some(i) => format!(" Status update · {r} · {} ", clean(&i.title)),
        None => format!(" Status update · {r} "),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focus)
        .title(Span::styled(title, theme.focus))
        .title_bottom(Span::styled(
            " tab/shift-tab fields · ctrl-p public · enter on the last field or ctrl-s posts · esc keeps the draft ",
            theme.muted,
        ));
    let inner = block.inner(popup);
    block.render(popup, buf);
    let mut y = inner.y;
    let bottom = inner.y + inner.height;
    let last = inc
        .and_then(|i| i.last_status_update)
        .map(|t| format!("last update {} ago", age((app.now - t).num_seconds())))
        .unwrap_or_else(|| "no status update yet".into());
    let public = if form.public {
        "PUBLIC: stakeholders and the status page"
    } else {
        "to the stakeholders (ctrl-p: public)"
    };
    Paragraph::new(Line::styled(
        format!(" Posted as a status update · {public} · {last}"),
        if form.public { theme.key } else { theme.muted },
    ))
    .render(Rect::new(inner.x, y, inner.width, 1), buf);
    y += 1;
    for (i, label) in LABELS.iter().enumerate().take(form.count()) {
        if y + 3 > bottom {
            break;
        }
        let focused = i == form.focus;
        let field = Rect::new(inner.x, y, inner.width, 3);
        let b = Block::default()
            .borders(Borders::ALL)
            .border_style(if focused { theme.focus } else { theme.border })
            .title(Span::styled(
                format!(" {label} "),
                if focused { theme.focus } else { theme.muted },
            ));
        let fi = b.inner(field);
        b.render(field, buf);
        let mut ta = form.fields[i].clone();
        ta.set_style(theme.input);
        ta.set_cursor_line_style(Style::default());
        ta.set_placeholder_style(theme.muted);
        if !focused {
            ta.set_cursor_style(Style::default());
        }
        ta.render(fi, buf);
        y += 3;
    }
    if y < bottom {
        let mut lines = vec![Line::styled(" Preview:", theme.title)];
        lines.extend(
            preview
                .into_iter()
                .take(preview_rows as usize)
                .map(|l| Line::styled(format!("  {l}"), theme.text)),
        );
        Paragraph::new(lines).render(Rect::new(inner.x, y, inner.width, bottom - y), buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn composes_the_update_text() {
        let now = Utc.with_ymd_and_hms(2026, 3, 10, 2, 30, 0).unwrap();
        let utc = Zone::Fixed(FixedOffset::east_opt(0).unwrap());
        let mut f = UpdateForm::new(15);
        assert_eq!(f.compose(now, utc).unwrap_err().0, 0);
        f.set(0, "Checkout fails for some customers");
        f.set(2, "Rolling back deploy 4471.");
        assert_eq!(
            f.compose(now, utc).unwrap(),
            "What is happening: Checkout fails for some customers. What we are doing: \
             Rolling back deploy 4471. Next update: 02:45 UTC (in 15 min)."
        );
        let plus2 = Zone::Fixed(FixedOffset::east_opt(2 * 3600).unwrap());
        assert!(
            f.compose(now, plus2)
                .unwrap()
                .ends_with("Next update: 04:45 UTC+2 (in 15 min).")
        );
        f.set(3, "0");
        assert_eq!(f.compose(now, utc).unwrap_err().0, 3);
        assert_eq!(
            zone_label(FixedOffset::west_opt(5 * 3600 + 1800).unwrap()),
            "UTC-5:30"
        );
    }
}
