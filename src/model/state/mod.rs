//! The fold's data: every incident as the events describe it ([`State`], [`Incident`], its
//! timeline [`Entry`]s and role tenures), and the questions read from it. Turning commands
//! into events is in `decide`, folding events into the state in `apply`: the two halves the
//! server runs on every command and every console runs on every event.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::escalation::{Escalation, OnDemandPage};
use super::feed::FeedNotes;
use super::postmortem::Postmortem;
use super::runbook::Runbook;
use super::{Briefing, EntryKind, Event, IncidentRef, Milestone, Role, Severity, Status};

/// Every incident, as of event `seq`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The sequence number of the last event folded in (0: none yet).
    pub seq: u64,
    /// By reference number. On the wire: a list of incidents in reference order.
    #[serde(with = "incident_list")]
    pub incidents: BTreeMap<u32, Incident>,
    /// Restricted incidents this reader may not see: only that they exist (never on the
    /// server, whose state holds everything).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub withheld: BTreeSet<IncidentRef>,
    /// The reference the next declaration gets: one past the highest ever declared, kept
    /// when old incidents are no longer held.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub next_ref: u32,
    /// A console's state: it holds the incidents it was sent (the live work, and rooms it
    /// opened), each perhaps without its older entries. Events of incidents it does not
    /// hold, and changes to entries it does not hold, are passed over instead of refused.
    /// The feed's own state is never partial.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// What the feed recorded outside incidents: its recent deploys and the informational
    /// alerts kept for stand-up (a recent window of each; the log keeps them all).
    #[serde(default, skip_serializing_if = "FeedNotes::is_empty")]
    pub feed: FeedNotes,
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// Incidents travel as a list (JSON object keys are strings, and a list is what other
/// clients want anyway); the map is rebuilt from each incident's reference.
mod incident_list {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::Incident;

    pub fn serialize<S: Serializer>(m: &BTreeMap<u32, Incident>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.values())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<u32, Incident>, D::Error> {
        let v = Vec::<Incident>::deserialize(d)?;
        Ok(v.into_iter().map(|i| (i.reference.0, i)).collect())
    }
}

/// One incident as the events describe it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub reference: IncidentRef,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub severity: Severity,
    pub status: Status,
    /// Need to know: only `members` and admins receive its content.
    pub restricted: bool,
    /// Who may see it while restricted, each with the sequence number from which they may
    /// (0: from the start; otherwise the event that added them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub members: BTreeMap<String, u64>,
    pub declared_at: DateTime<Utc>,
    pub declared_by: String,
    /// Time of the last event on this incident.
    pub updated_at: DateTime<Utc>,
    /// Current holder of each role; a vacant role is absent.
    pub roles: BTreeMap<Role, String>,
    /// Every holder of every role, with when they held it.
    pub role_history: Vec<RoleTenure>,
    pub milestones: BTreeMap<Milestone, DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    /// When the current acknowledgement was made (the `acknowledged` milestone keeps the
    /// first one, for MTTA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When the last status update was recorded (the comms cadence counts from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status_update: Option<DateTime<Utc>>,
    /// Entries in recorded order (ascending id). See [`Incident::timeline`] for the
    /// occurred-at order people read.
    pub entries: Vec<Entry>,
    /// The current (or last) escalation run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
    /// A run is due to start: just declared, raised while unacknowledged, or an
    /// acknowledgement lapsed.
    #[serde(default)]
    pub escalation_owed: bool,
    /// The key of the alert that opened it (see `Declared::alert_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_key: Option<String>,
    /// Alerts received for it (triggers, including the one that opened it).
    #[serde(default)]
    pub alert_count: u32,
    /// When the last status update promised the next one, if it said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_update_at: Option<DateTime<Utc>>,
    /// How often the comms lead owes a status update, by the policy for its severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_every_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<Runbook>,
    /// Runbook checklist items ticked (1-based).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub runbook_done: BTreeSet<u32>,
    /// Last time a person moved the incident on (an entry, a status, a role, a tick).
    #[serde(default = "epoch")]
    pub last_progress_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Postmortem::is_empty")]
    pub postmortem: Postmortem,
    /// How many of its older entries this copy does not hold (a console's copy: the feed
    /// sends the newest entries and the key ones, and older pages on request); 0 for a
    /// whole incident.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub elided: u64,
    /// Pages sent on demand, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<OnDemandPage>,
    /// Who found it: monitoring (an alert opened it), a customer or an engineer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_by: Option<super::Detection>,
    /// Triage: is the impact growing (`false`: stable)?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact_growing: Option<bool>,
    /// Triage: is there a workaround?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workaround: Option<bool>,
}

fn epoch() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

/// One person's time in one role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleTenure {
    pub role: Role,
    pub person: String,
    pub from: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    pub assigned_by: String,
}

/// A timeline entry. Its id is the sequence number of the event that recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: u64,
    pub kind: EntryKind,
    pub text: String,
    pub author: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub pinned: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<u64>,
    /// A status update that went to the status page as well.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub public: bool,
    /// A status update's executive briefing (SEV1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub briefing: Option<Briefing>,
    /// A status update's deliveries to stakeholders' channels and the status page, each
    /// channel with whether it was delivered, in the order recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<(String, bool)>,
}

/// The log and the state disagree: an event names something that does not exist, or a
/// sequence number is out of order. A replica that sees this must resynchronise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("event {seq} is out of order: state is at {at}")]
    OutOfOrder { seq: u64, at: u64 },
    #[error("event {seq} refers to {incident}, which does not exist")]
    UnknownIncident { seq: u64, incident: IncidentRef },
    #[error(
        "event {seq} refers to escalation run {run} of {incident}, which is not its current run"
    )]
    UnknownRun {
        seq: u64,
        incident: IncidentRef,
        run: u64,
    },
    #[error("event {seq} refers to entry {entry} of {incident}, which does not exist")]
    UnknownEntry {
        seq: u64,
        incident: IncidentRef,
        entry: u64,
    },
    #[error("event {seq} belongs to no incident, where only an incident's events may be")]
    NotAnIncidents { seq: u64 },
}

mod apply;
mod decide;
mod live;

pub use live::{DEFAULT_RECENT_SECS, fold_incident};

impl Incident {
    /// Entries in the order things happened (occurred-at, then recording order).
    pub fn timeline(&self) -> Vec<&Entry> {
        let mut v: Vec<&Entry> = self.entries.iter().collect();
        v.sort_by_key(|e| (e.occurred_at, e.id));
        v
    }

    /// The entry with this id.
    pub fn entry(&self, id: u64) -> Option<&Entry> {
        self.entries
            .binary_search_by_key(&id, |e| e.id)
            .ok()
            .map(|i| &self.entries[i])
    }

    pub fn is_active(&self) -> bool {
        self.status.is_active()
    }

    /// A copy for a console's board: the newest `keep` entries, and of the older ones the
    /// newest `keep` of each kind a briefing reads (pinned, hypotheses, ruled out, decisions,
    /// status updates); `elided` counts the rest. Everything but the timeline is whole.
    pub fn summary(&self, keep: usize) -> Incident {
        let n = self.entries.len();
        let mut held = vec![false; n];
        for h in held.iter_mut().skip(n.saturating_sub(keep)) {
            *h = true;
        }
        let key_kinds = [
            EntryKind::Hypothesis,
            EntryKind::RuledOut,
            EntryKind::Decision,
            EntryKind::StatusUpdate,
        ];
        let mut kept_pinned = 0;
        let mut kept_of = [0usize; 4];
        for (i, e) in self.entries.iter().enumerate().rev() {
            if e.pinned && kept_pinned < keep {
                kept_pinned += 1;
                held[i] = true;
            }
            if let Some(k) = key_kinds.iter().position(|k| *k == e.kind)
                && kept_of[k] < keep
            {
                kept_of[k] += 1;
                held[i] = true;
            }
        }
        let entries: Vec<Entry> = self
            .entries
            .iter()
            .zip(&held)
            .filter(|(_, h)| **h)
            .map(|(e, _)| e.clone())
            .collect();
        Incident {
            elided: self.elided + (n - entries.len()) as u64,
            entries,
            ..self.clone_without_entries()
        }
    }

    /// Everything but the entries (cloning 100,000 entries to drop them would cost more
    /// than the summary).
    fn clone_without_entries(&self) -> Incident {
        let entries = Vec::new();
        let Incident {
            reference,
            title,
            service,
            severity,
            status,
            restricted,
            members,
            declared_at,
            declared_by,
            updated_at,
            roles,
            role_history,
            milestones,
            acknowledged_by,
            acknowledged_at,
            last_status_update,
            entries: _,
            escalation,
            escalation_owed,
            alert_key,
            alert_count,
            next_update_at,
            update_every_secs,
            runbook,
            runbook_done,
            last_progress_at,
            postmortem,
            elided,
            pages,
            detected_by,
            impact_growing,
            workaround,
        } = self;
        Incident {
            reference: *reference,
            title: title.clone(),
            service: service.clone(),
            severity: *severity,
            status: *status,
            restricted: *restricted,
            members: members.clone(),
            declared_at: *declared_at,
            declared_by: declared_by.clone(),
            updated_at: *updated_at,
            roles: roles.clone(),
            role_history: role_history.clone(),
            milestones: milestones.clone(),
            acknowledged_by: acknowledged_by.clone(),
            acknowledged_at: *acknowledged_at,
            last_status_update: *last_status_update,
            entries,
            escalation: escalation.clone(),
            escalation_owed: *escalation_owed,
            alert_key: alert_key.clone(),
            alert_count: *alert_count,
            next_update_at: *next_update_at,
            update_every_secs: *update_every_secs,
            runbook: runbook.clone(),
            runbook_done: runbook_done.clone(),
            last_progress_at: *last_progress_at,
            postmortem: postmortem.clone(),
            elided: *elided,
            pages: pages.clone(),
            detected_by: *detected_by,
            impact_growing: *impact_growing,
            workaround: *workaround,
        }
    }

    /// An active SEV1 or SEV2 without a comms lead: flagged as a missing IC is.
    pub fn lacks_comms_lead(&self) -> bool {
        self.is_active()
            && self.severity.wants_comms_lead()
            && !self.roles.contains_key(&Role::CommsLead)
    }

    pub fn is_acknowledged(&self) -> bool {
        self.acknowledged_by.is_some()
    }

    /// The on-demand pages to `person` not acknowledged yet (their event numbers).
    pub fn open_pages_for(&self, person: &str) -> Vec<u64> {
        self.pages
            .iter()
            .filter(|p| p.person == person && p.acknowledged_at.is_none())
            .map(|p| p.seq)
            .collect()
    }

    /// The live escalation run, if one is running.
    pub fn live_escalation(&self) -> Option<&Escalation> {
        self.escalation.as_ref().filter(|e| e.is_live())
    }

    /// When the next status update is due (cadence counted from the last update, or from
    /// the declaration before the first one).
    pub fn next_update_due(&self) -> Option<DateTime<Utc>> {
        if !self.is_active() {
            return None;
        }
        // The comms lead's own promise ("next update in 10 minutes") wins over the policy.
        if let Some(at) = self.next_update_at {
            return Some(at);
        }
        let every = self.update_every_secs?;
        let from = self.last_status_update.unwrap_or(self.declared_at);
        Some(from + crate::model::escalation::secs(every))
    }
}

impl Incident {
    /// When its post-mortem is due: 48 hours after resolution (seed guide G390); `None`
    /// while it is active, or when the post-mortem was waived.
    pub fn postmortem_due_at(&self) -> Option<DateTime<Utc>> {
        if self.is_active() || self.postmortem.waived.is_some() {
            return None;
        }
        let resolved = self.milestones.get(&Milestone::Resolved)?;
        Some(*resolved + chrono::Duration::seconds(super::postmortem::POSTMORTEM_DUE_SECS))
    }

    /// When its post-mortem is due, while it is still owed (due and not done).
    pub fn postmortem_owed_by(&self) -> Option<DateTime<Utc>> {
        self.postmortem_due_at()
            .filter(|_| self.postmortem.completed_at.is_none())
    }

    /// Everyone who responded, by name: who declared it, held a role, acknowledged it or
    /// wrote on its timeline (never warroom's own actors): the post-mortem's attendees.
    pub fn responders(&self) -> Vec<String> {
        let mut names: BTreeSet<&str> = BTreeSet::new();
        names.insert(self.declared_by.as_str());
        names.extend(self.role_history.iter().map(|t| t.person.as_str()));
        names.extend(self.acknowledged_by.as_deref());
        names.extend(self.entries.iter().map(|e| e.author.as_str()));
        names
            .into_iter()
            .filter(|n| !super::RESERVED_NAMES.contains(&n.to_ascii_lowercase().as_str()))
            .map(str::to_string)
            .collect()
    }

    /// Follow-ups the record suggests for its post-mortem: when its service matched no
    /// runbook, "write a runbook for SERVICE" (seed guide G371: an alert without a runbook
    /// makes creating one part of the follow-up), unless an action item already mentions a
    /// runbook.
    pub fn suggested_action_items(&self) -> Vec<String> {
        let Some(service) = &self.service else {
            return Vec::new();
        };
        let has_own = self.runbook.as_ref().is_some_and(|rb| rb.name == *service);
        let taken = self
            .postmortem
            .action_items
            .iter()
            .any(|a| a.text.to_lowercase().contains("runbook"));
        if has_own || taken {
            return Vec::new();
        }
        vec![format!("write a runbook for {service}")]
    }

    /// Whether its post-mortem was done by its due time; `None` while not done or not due.
    pub fn postmortem_on_time(&self) -> Option<bool> {
        let due = self.postmortem_due_at()?;
        self.postmortem.completed_at.map(|done| done <= due)
    }
}

impl State {
    /// The reference the next declaration will get.
    pub fn next_reference(&self) -> IncidentRef {
        let after_held = self.incidents.keys().next_back().map_or(1, |n| n + 1);
        IncidentRef(after_held.max(self.next_ref).max(1))
    }

    pub fn incident(&self, r: IncidentRef) -> Option<&Incident> {
        self.incidents.get(&r.0)
    }

    /// Folds a whole log from the start.
    pub fn from_events<'a>(
        events: impl IntoIterator<Item = &'a Event>,
    ) -> Result<State, ApplyError> {
        let mut s = State::default();
        for e in events {
            s.apply(e)?;
        }
        Ok(s)
    }

    /// Incidents in board order: active first, then by severity, then oldest first.
    pub fn board(&self) -> Vec<&Incident> {
        let mut v: Vec<&Incident> = self.incidents.values().collect();
        v.sort_by_key(|i| (!i.is_active(), i.severity, i.declared_at, i.reference));
        v
    }
}
