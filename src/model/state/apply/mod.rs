//! Folding an event into the state: the one way state changes, on the server and in every
//! console alike. `apply` checks the order, opens (or withholds) incidents, then hands the
//! event to its group: the incident itself and its people (`incident`), its timeline,
//! milestones, alerts and runbook (`timeline`), escalation (`escalation`), its post-mortem
//! (`postmortem`); and it notes progress and time on every event.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::{ApplyError, Entry, Incident, State};
use crate::model::escalation::{Stop, StopReason};
use crate::model::feed::{Deploy, NotedAlert};
use crate::model::postmortem::Postmortem;
use crate::model::{Detection, EntryKind, Event, EventKind, Milestone, Role, Status};

mod escalation;
mod incident;
mod postmortem;
mod timeline;

impl State {
    /// Folds one event in. Events must arrive in sequence order with no gaps after the first.
    pub fn apply(&mut self, ev: &Event) -> Result<(), ApplyError> {
        // The first event may start anywhere (a replica may begin mid-log); after it, each
        // must be exactly the next.
        if ev.seq <= self.seq || (self.seq > 0 && ev.seq != self.seq + 1) {
            return Err(ApplyError::OutOfOrder {
                seq: ev.seq,
                at: self.seq,
            });
        }
        let Some(r) = ev.kind.incident() else {
            self.apply_feed_level(ev);
            self.seq = ev.seq;
            return Ok(());
        };
        if let EventKind::Declared {
            incident,
            title,
            service,
            severity,
            restricted,
            alert_key,
        } = &ev.kind
        {
            let mut inc = Incident {
                reference: *incident,
                title: title.clone(),
                service: service.clone(),
                severity: *severity,
                status: Status::Investigating,
                restricted: *restricted,
                members: if *restricted {
                    BTreeMap::from([(ev.actor.clone(), 0)])
                } else {
                    BTreeMap::new()
                },
                declared_at: ev.at,
                declared_by: ev.actor.clone(),
                updated_at: ev.at,
                roles: BTreeMap::new(),
                role_history: Vec::new(),
                milestones: BTreeMap::from([(Milestone::Detected, ev.at)]),
                acknowledged_by: None,
                acknowledged_at: None,
                last_status_update: None,
                entries: Vec::new(),
                escalation: None,
                escalation_owed: true,
                alert_key: alert_key.clone(),
                alert_count: 0,
                update_every_secs: None,
                next_update_at: None,
                runbook: None,
                runbook_done: BTreeSet::new(),
                last_progress_at: ev.at,
                postmortem: Postmortem::default(),
                elided: 0,
                pages: Vec::new(),
                // An alert opened it: monitoring found it.
                detected_by: alert_key.as_ref().map(|_| Detection::Monitoring),
                impact_growing: None,
                workaround: None,
            };
            let svc = service
                .as_deref()
                .map(|s| format!(" on {s}"))
                .unwrap_or_default();
            let need = if *restricted {
                " (restricted: need to know)"
            } else {
                ""
            };
            inc.push_entry(
                ev,
                EntryKind::System,
                format!("declared {severity}{svc}: {title}{need}"),
                ev.at,
            );
            self.withheld.remove(incident);
            self.next_ref = self.next_ref.max(incident.0.saturating_add(1));
            self.incidents.insert(incident.0, inc);
            self.seq = ev.seq;
            return Ok(());
        }
        if let EventKind::Withheld { incident } = &ev.kind {
            // This reader may not see it (any more): keep only that it exists (and number
            // after it, as the feed does).
            self.incidents.remove(&incident.0);
            self.withheld.insert(*incident);
            self.next_ref = self.next_ref.max(incident.0.saturating_add(1));
            self.seq = ev.seq;
            return Ok(());
        }
        let Some(inc) = self.incidents.get_mut(&r.0) else {
            if self.partial {
                // Not held here (archived, or never sent): the feed sends it whole when it
                // comes back to the live work.
                self.seq = ev.seq;
                return Ok(());
            }
            return Err(ApplyError::UnknownIncident {
                seq: ev.seq,
                incident: r,
            });
        };
        match &ev.kind {
            EventKind::Declared { .. }
            | EventKind::Withheld { .. }
            | EventKind::DeployRecorded { .. }
            | EventKind::AlertNoted { .. } => {}
            EventKind::Restricted { .. }
            | EventKind::MemberAdded { .. }
            | EventKind::MemberRemoved { .. }
            | EventKind::Retitled { .. }
            | EventKind::ServiceChanged { .. }
            | EventKind::SeverityChanged { .. }
            | EventKind::StatusChanged { .. }
            | EventKind::RoleAssigned { .. }
            | EventKind::RoleReleased { .. }
            | EventKind::Acknowledged { .. }
            | EventKind::Resolved { .. }
            | EventKind::RecoveryChecked { .. }
            | EventKind::Triaged { .. }
            | EventKind::CadenceSet { .. } => incident::apply(inc, ev)?,
            EventKind::EntryAdded { .. }
            | EventKind::EntryCorrected { .. }
            | EventKind::EntryPinned { .. }
            | EventKind::MilestoneSet { .. }
            | EventKind::AlertReceived { .. }
            | EventKind::RunbookAttached { .. }
            | EventKind::RunbookStepChecked { .. } => timeline::apply(inc, ev)?,
            EventKind::EscalationStarted { .. }
            | EventKind::StepFired { .. }
            | EventKind::NotificationResult { .. }
            | EventKind::AckExpired { .. }
            | EventKind::Paged { .. }
            | EventKind::PageAcknowledged { .. } => escalation::apply(inc, ev)?,
            EventKind::PostmortemEdited { .. }
            | EventKind::WhysSet { .. }
            | EventKind::ActionItemAdded { .. }
            | EventKind::ActionItemUpdated { .. }
            | EventKind::ActionItemTicketed { .. }
            | EventKind::PostmortemWaived { .. }
            | EventKind::PostmortemCompleted { .. } => postmortem::apply(inc, ev)?,
        }
        if is_progress(&ev.kind) {
            inc.last_progress_at = ev.at;
        }
        inc.updated_at = ev.at;
        self.seq = ev.seq;
        Ok(())
    }
}

impl State {
    /// A feed-level event: a deploy, or an informational alert for the digest.
    fn apply_feed_level(&mut self, ev: &Event) {
        match &ev.kind {
            EventKind::DeployRecorded {
                service,
                version,
                environment,
                note,
            } => self.feed.add_deploy(Deploy {
                seq: ev.seq,
                at: ev.at,
                service: service.clone(),
                version: version.clone(),
                environment: environment.clone(),
                by: ev.actor.clone(),
                note: note.clone(),
            }),
            EventKind::AlertNoted {
                source,
                dedup_key,
                summary,
                why,
                service,
            } => self.feed.note_alert(
                ev,
                NotedAlert {
                    dedup_key: dedup_key.clone(),
                    source: source.clone(),
                    summary: summary.clone(),
                    why: why.clone(),
                    service: service.clone(),
                    first_at: ev.at,
                    last_at: ev.at,
                    count: 1,
                },
            ),
            _ => {}
        }
    }
}

impl Incident {
    fn entry_mut(&mut self, id: u64) -> Option<&mut Entry> {
        self.entries
            .binary_search_by_key(&id, |e| e.id)
            .ok()
            .map(|i| &mut self.entries[i])
    }

    fn stop_escalation(&mut self, at: DateTime<Utc>, reason: StopReason) {
        if let Some(e) = self.escalation.as_mut()
            && e.stopped.is_none()
        {
            e.stopped = Some(Stop { at, reason });
        }
    }

    fn push_entry(
        &mut self,
        ev: &Event,
        kind: EntryKind,
        text: String,
        occurred_at: DateTime<Utc>,
    ) {
        self.entries.push(Entry {
            id: ev.seq,
            kind,
            text,
            author: ev.actor.clone(),
            occurred_at,
            recorded_at: ev.at,
            pinned: false,
            supersedes: None,
            superseded_by: None,
            public: false,
            briefing: None,
            deliveries: Vec::new(),
        });
    }

    fn end_tenure(&mut self, role: Role, at: DateTime<Utc>) {
        if let Some(t) = self
            .role_history
            .iter_mut()
            .rev()
            .find(|t| t.role == role && t.until.is_none())
        {
            t.until = Some(at);
        }
    }
}

/// Whether a person moved the incident on (for the acknowledgement timeout). Escalation,
/// alerts and deliveries are not progress; neither is the acknowledgement itself.
fn is_progress(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Retitled { .. }
            | EventKind::ServiceChanged { .. }
            | EventKind::SeverityChanged { .. }
            | EventKind::StatusChanged { .. }
            | EventKind::RoleAssigned { .. }
            | EventKind::RoleReleased { .. }
            | EventKind::EntryAdded { .. }
            | EventKind::EntryCorrected { .. }
            | EventKind::EntryPinned { .. }
            | EventKind::MilestoneSet { .. }
            | EventKind::Resolved { .. }
            | EventKind::RecoveryChecked { .. }
            | EventKind::Triaged { .. }
            | EventKind::RunbookStepChecked { .. }
    )
}
