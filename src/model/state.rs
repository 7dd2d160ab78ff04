//! The fold: incident state as a function of the event log, and the decision of commands
//! against that state.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::escalation::{Escalation, FiredStep, Stop, StopReason, clock_span};
use super::postmortem::{ActionItem, MAX_WHYS, Postmortem, Why};
use super::runbook::Runbook;
use super::validate::{self, MAX_ENTRY, MAX_ITEM, MAX_NAME, MAX_TITLE};
use super::{
    AlertAction, Command, EntryKind, Event, EventKind, IncidentRef, Milestone, Rejection, Role,
    Severity, Status, StepAction,
};

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
}

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

    fn entry_mut(&mut self, id: u64) -> Option<&mut Entry> {
        self.entries
            .binary_search_by_key(&id, |e| e.id)
            .ok()
            .map(|i| &mut self.entries[i])
    }

    pub fn is_active(&self) -> bool {
        self.status.is_active()
    }

    pub fn is_acknowledged(&self) -> bool {
        self.acknowledged_by.is_some()
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
        Some(from + super::escalation::secs(every))
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

    fn ensure_writable(&self) -> Result<(), Rejection> {
        if self.status == Status::Closed {
            return Err(Rejection::conflict(format!(
                "{} is closed; its record is final",
                self.reference
            )));
        }
        Ok(())
    }
}

impl State {
    /// The reference the next declaration will get.
    pub fn next_reference(&self) -> IncidentRef {
        IncidentRef(self.incidents.keys().next_back().map_or(1, |n| n + 1))
    }

    pub fn incident(&self, r: IncidentRef) -> Option<&Incident> {
        self.incidents.get(&r.0)
    }

    fn existing(&self, r: IncidentRef) -> Result<&Incident, Rejection> {
        self.incident(r).ok_or_else(|| {
            let hint = match self.incidents.len() {
                0 => "there are no incidents yet".to_string(),
                n => format!("incidents run from INC-1 to INC-{n}"),
            };
            Rejection::not_found(format!("{r} does not exist ({hint})"))
        })
    }

    /// Decides a command from `actor` at `now`: the events it produces, or why not.
    /// Pure: the state is not changed; fold the returned events with [`State::apply`].
    pub fn decide(
        &self,
        actor: &str,
        now: DateTime<Utc>,
        cmd: &Command,
    ) -> Result<Vec<EventKind>, Rejection> {
        use Command as C;
        use EventKind as E;
        if let C::Declare {
            title,
            severity,
            service,
            restricted,
        } = cmd
        {
            let title = validate::text("title", title, MAX_TITLE, false)?;
            let service = match service {
                Some(s) => Some(validate::text("service", s, MAX_NAME, false)?),
                None => None,
            };
            return Ok(vec![E::Declared {
                incident: self.next_reference(),
                title,
                service,
                severity: *severity,
                restricted: *restricted,
                alert_key: None,
            }]);
        }
        if let C::AcceptHandoff { from } = cmd {
            return self.decide_handoff(actor, now, from);
        }
        let r = cmd
            .incident()
            .ok_or_else(|| Rejection::invalid("command names no incident"))?;
        let inc = self.existing(r)?;
        if let Some(events) = decide_membership(inc, actor, cmd)? {
            // Membership is not part of the record: it may change after the incident closes.
            return Ok(events);
        }
        inc.ensure_writable()?;
        let events = match cmd {
            C::Declare { .. }
            | C::AcceptHandoff { .. }
            | C::Restrict { .. }
            | C::AddMember { .. }
            | C::RemoveMember { .. } => {
                return Err(Rejection::invalid(
                    "this command does not act on one incident",
                ));
            }
            C::Retitle { title, .. } => {
                let title = validate::text("title", title, MAX_TITLE, false)?;
                if title == inc.title {
                    return Err(Rejection::conflict(format!("{r} already has that title")));
                }
                vec![E::Retitled { incident: r, title }]
            }
            C::SetSeverity { severity, .. } => {
                if *severity == inc.severity {
                    return Err(Rejection::conflict(format!("{r} is already {severity}")));
                }
                vec![E::SeverityChanged {
                    incident: r,
                    from: inc.severity,
                    to: *severity,
                }]
            }
            C::SetStatus { status, .. } => decide_status(inc, *status)?,
            C::Resolve { .. } => decide_status(inc, Status::Resolved)?,
            C::AssignRole { role, person, .. } => {
                let person = if person.trim().eq_ignore_ascii_case("me") {
                    actor.to_string()
                } else {
                    validate::text("person", person, MAX_NAME, false)?
                };
                if inc.roles.get(role) == Some(&person) {
                    return Err(Rejection::conflict(format!(
                        "{person} is already {} of {r}",
                        role.title().to_lowercase()
                    )));
                }
                if inc.restricted && !inc.members.contains_key(&person) {
                    return Err(Rejection::conflict(format!(
                        "{person} is not a member of {r}, which is restricted: add them to its \
                         members first"
                    )));
                }
                vec![E::RoleAssigned {
                    incident: r,
                    role: *role,
                    person,
                }]
            }
            C::ReleaseRole { role, .. } => match inc.roles.get(role) {
                Some(person) => vec![E::RoleReleased {
                    incident: r,
                    role: *role,
                    person: person.clone(),
                }],
                None => {
                    return Err(Rejection::conflict(format!(
                        "{r} has no {}; there is nobody to release",
                        role.title().to_lowercase()
                    )));
                }
            },
            C::AddEntry {
                entry_kind,
                text,
                occurred_at,
                next_update_secs,
                ..
            } => {
                check_writable_kind(*entry_kind)?;
                let text = validate::text("entry text", text, MAX_ENTRY, true)?;
                let occurred_at = occurred_at.unwrap_or(now);
                validate::past_time("occurred-at", occurred_at, now)?;
                if let Some(n) = next_update_secs {
                    if *entry_kind != EntryKind::StatusUpdate {
                        return Err(Rejection::invalid(
                            "next_update_secs belongs to status updates only",
                        ));
                    }
                    if !(60..=24 * 3600).contains(n) {
                        return Err(Rejection::invalid(format!(
                            "the next update in {n} s: give 1 minute to 24 hours"
                        )));
                    }
                }
                vec![E::EntryAdded {
                    incident: r,
                    entry_kind: *entry_kind,
                    text,
                    occurred_at,
                    next_update_secs: *next_update_secs,
                }]
            }
            C::CorrectEntry {
                entry,
                text,
                entry_kind,
                occurred_at,
                ..
            } => {
                let old = inc
                    .entry(*entry)
                    .ok_or_else(|| Rejection::not_found(format!("{r} has no entry {entry}")))?;
                if let Some(newer) = old.superseded_by {
                    return Err(Rejection::conflict(format!(
                        "entry {entry} was already corrected by entry {newer}; correct that one"
                    )));
                }
                if matches!(old.kind, EntryKind::System | EntryKind::Milestone) {
                    return Err(Rejection::conflict(format!(
                        "entry {entry} was recorded by warroom itself and cannot be corrected; \
                         add a note instead (milestone times are corrected with set_milestone)"
                    )));
                }
                let kind = entry_kind.unwrap_or(old.kind);
                check_writable_kind(kind)?;
                let text = match text {
                    Some(t) => validate::text("entry text", t, MAX_ENTRY, true)?,
                    None => old.text.clone(),
                };
                let occurred_at = occurred_at.unwrap_or(old.occurred_at);
                validate::past_time("occurred-at", occurred_at, now)?;
                if kind == old.kind && text == old.text && occurred_at == old.occurred_at {
                    return Err(Rejection::conflict(format!(
                        "the correction of entry {entry} changes nothing"
                    )));
                }
                vec![E::EntryCorrected {
                    incident: r,
                    entry: *entry,
                    entry_kind: kind,
                    text,
                    occurred_at,
                }]
            }
            C::PinEntry { entry, pinned, .. } => {
                let e = inc
                    .entry(*entry)
                    .ok_or_else(|| Rejection::not_found(format!("{r} has no entry {entry}")))?;
                if e.pinned == *pinned {
                    let state = if *pinned { "pinned" } else { "not pinned" };
                    return Err(Rejection::conflict(format!(
                        "entry {entry} is already {state}"
                    )));
                }
                vec![E::EntryPinned {
                    incident: r,
                    entry: *entry,
                    pinned: *pinned,
                }]
            }
            C::SetMilestone {
                milestone,
                occurred_at,
                ..
            } => {
                let at = occurred_at.unwrap_or(now);
                validate::past_time("milestone time", at, now)?;
                // These two record who and what as well as when: they come from `acknowledge`
                // and `resolve`; set_milestone only corrects their time afterwards.
                if *milestone == Milestone::Acknowledged && !inc.is_acknowledged() {
                    return Err(Rejection::conflict(format!(
                        "{r} is not acknowledged yet: use acknowledge (set_milestone only corrects its time)"
                    )));
                }
                if *milestone == Milestone::Resolved && inc.is_active() {
                    return Err(Rejection::conflict(format!(
                        "{r} is not resolved yet: use resolve (set_milestone only corrects its time)"
                    )));
                }
                if inc.milestones.get(milestone) == Some(&at) {
                    return Err(Rejection::conflict(format!(
                        "{r}'s {} milestone is already at that time",
                        milestone.as_str().replace('_', " ")
                    )));
                }
                vec![E::MilestoneSet {
                    incident: r,
                    milestone: *milestone,
                    occurred_at: at,
                }]
            }
            C::Acknowledge { .. } => {
                if !inc.is_active() {
                    return Err(Rejection::conflict(format!(
                        "{r} is {}; there is nothing to acknowledge",
                        inc.status
                    )));
                }
                if let Some(by) = &inc.acknowledged_by {
                    let when = inc
                        .milestones
                        .get(&Milestone::Acknowledged)
                        .map(|t| format!(" at {}", t.format("%H:%M UTC")))
                        .unwrap_or_default();
                    return Err(Rejection::conflict(format!(
                        "{r} was already acknowledged by {by}{when}"
                    )));
                }
                vec![E::Acknowledged { incident: r }]
            }
            C::EditPostmortem { section, text, .. } => {
                let text = validate::text(section.as_str(), text, MAX_ENTRY, true)?;
                if inc.postmortem.section(*section) == Some(text.as_str()) {
                    return Err(Rejection::conflict(format!(
                        "{r}'s {} already says that",
                        section.title().to_lowercase()
                    )));
                }
                vec![E::PostmortemEdited {
                    incident: r,
                    section: *section,
                    text,
                }]
            }
            C::SetWhys { whys, .. } => {
                if whys.len() > MAX_WHYS {
                    return Err(Rejection::invalid(format!(
                        "a 5-whys chain of {} links; at most {MAX_WHYS}",
                        whys.len()
                    )));
                }
                let mut chain = Vec::with_capacity(whys.len());
                for (i, w) in whys.iter().enumerate() {
                    chain.push(Why {
                        why: validate::text(&format!("why {}", i + 1), &w.why, MAX_ITEM, true)?,
                        because: validate::text(
                            &format!("because {}", i + 1),
                            &w.because,
                            MAX_ITEM,
                            true,
                        )?,
                    });
                }
                if chain == inc.postmortem.whys {
                    return Err(Rejection::conflict(format!(
                        "{r}'s 5-whys chain is already that"
                    )));
                }
                vec![E::WhysSet {
                    incident: r,
                    whys: chain,
                }]
            }
            C::AddActionItem {
                text, owner, due, ..
            } => {
                let text = validate::text("action item", text, MAX_ITEM, false)?;
                let owner = owner_name(owner, actor)?;
                vec![E::ActionItemAdded {
                    incident: r,
                    text,
                    owner,
                    due: *due,
                }]
            }
            C::UpdateActionItem {
                item,
                text,
                owner,
                due,
                done,
                ..
            } => {
                let old = inc.postmortem.item(*item).ok_or_else(|| {
                    let ids: Vec<String> = inc
                        .postmortem
                        .action_items
                        .iter()
                        .map(|a| a.id.to_string())
                        .collect();
                    Rejection::not_found(if ids.is_empty() {
                        format!("{r} has no action items")
                    } else {
                        format!(
                            "{r} has no action item {item} (its items: {})",
                            ids.join(", ")
                        )
                    })
                })?;
                let text = match text {
                    Some(t) => validate::text("action item", t, MAX_ITEM, false)?,
                    None => old.text.clone(),
                };
                let owner = match owner {
                    Some(o) => owner_name(o, actor)?,
                    None => old.owner.clone(),
                };
                let due = due.or(old.due);
                let done = done.unwrap_or(old.done);
                if text == old.text && owner == old.owner && due == old.due && done == old.done {
                    return Err(Rejection::conflict(format!(
                        "the change to action item {item} changes nothing"
                    )));
                }
                vec![E::ActionItemUpdated {
                    incident: r,
                    item: *item,
                    text,
                    owner,
                    due,
                    done,
                }]
            }
            C::WaivePostmortem { reason, .. } => {
                let reason = validate::text("reason", reason, MAX_ENTRY, true)?;
                vec![E::PostmortemWaived {
                    incident: r,
                    reason,
                }]
            }
            C::CheckRunbookStep { item, done, .. } => {
                let rb = inc
                    .runbook
                    .as_ref()
                    .ok_or_else(|| Rejection::conflict(format!("{r} has no runbook attached")))?;
                let n = rb.item_count();
                if *item == 0 || *item > n {
                    return Err(Rejection::invalid(format!(
                        "{r}'s runbook has items 1 to {n}; there is no item {item}"
                    )));
                }
                if inc.runbook_done.contains(item) == *done {
                    let state = if *done { "ticked" } else { "not ticked" };
                    return Err(Rejection::conflict(format!(
                        "runbook item {item} is already {state}"
                    )));
                }
                vec![E::RunbookStepChecked {
                    incident: r,
                    item: *item,
                    done: *done,
                }]
            }
        };
        Ok(events)
    }

    /// A handoff: an entry on every active incident, and the incident commander role
    /// wherever the outgoing person held it.
    fn decide_handoff(
        &self,
        actor: &str,
        now: DateTime<Utc>,
        from: &str,
    ) -> Result<Vec<EventKind>, Rejection> {
        let from = validate::text("outgoing person", from, MAX_NAME, false)?;
        if from == actor {
            return Err(Rejection::invalid(
                "a handoff is from someone else to you; name the outgoing person",
            ));
        }
        let mut events = Vec::new();
        // A restricted incident is taken over only by its members (an admin adds them first).
        let mine = |i: &&Incident| !i.restricted || i.members.contains_key(actor);
        for inc in self
            .incidents
            .values()
            .filter(|i| i.is_active())
            .filter(mine)
        {
            let r = inc.reference;
            let ic = inc.roles.get(&Role::IncidentCommander) == Some(&from);
            let text = if ic {
                format!("handoff: {actor} takes over from {from}, as incident commander")
            } else {
                format!("handoff: {actor} takes over from {from}")
            };
            events.push(EventKind::EntryAdded {
                incident: r,
                entry_kind: EntryKind::Note,
                text,
                occurred_at: now,
                next_update_secs: None,
            });
            if ic {
                events.push(EventKind::RoleAssigned {
                    incident: r,
                    role: Role::IncidentCommander,
                    person: actor.to_string(),
                });
            }
        }
        if events.is_empty() {
            return Err(Rejection::conflict(
                "there is no active incident to take over",
            ));
        }
        Ok(events)
    }

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
        let r = ev.kind.incident();
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
            self.incidents.insert(incident.0, inc);
            self.seq = ev.seq;
            return Ok(());
        }
        if let EventKind::Withheld { incident } = &ev.kind {
            // This reader may not see it (any more): keep only that it exists.
            self.incidents.remove(&incident.0);
            self.withheld.insert(*incident);
            self.seq = ev.seq;
            return Ok(());
        }
        let inc = self
            .incidents
            .get_mut(&r.0)
            .ok_or(ApplyError::UnknownIncident {
                seq: ev.seq,
                incident: r,
            })?;
        match &ev.kind {
            EventKind::Declared { .. } | EventKind::Withheld { .. } => {}
            EventKind::Restricted { members, .. } => {
                inc.restricted = true;
                for m in members {
                    inc.members.entry(m.clone()).or_insert(0);
                }
                let names: Vec<&str> = inc.members.keys().map(String::as_str).collect();
                inc.push_entry(
                    ev,
                    EntryKind::System,
                    format!(
                        "restricted (need to know): only members and admins see it; members: {}",
                        names.join(", ")
                    ),
                    ev.at,
                );
            }
            EventKind::MemberAdded { person, .. } => {
                inc.members.insert(person.clone(), ev.seq);
                inc.push_entry(
                    ev,
                    EntryKind::System,
                    format!("{person} added to the members"),
                    ev.at,
                );
            }
            EventKind::MemberRemoved { person, .. } => {
                inc.members.remove(person);
                inc.push_entry(
                    ev,
                    EntryKind::System,
                    format!("{person} removed from the members"),
                    ev.at,
                );
            }
            EventKind::Retitled { title, .. } => {
                let text = format!("retitled: {title} (was: {})", inc.title);
                inc.title = title.clone();
                inc.push_entry(ev, EntryKind::System, text, ev.at);
            }
            EventKind::SeverityChanged { from, to, .. } => {
                inc.severity = *to;
                if to < from {
                    inc.stop_escalation(ev.at, StopReason::Raised);
                    // An acknowledged incident already has its responder.
                    inc.escalation_owed = !inc.is_acknowledged() && inc.is_active();
                } else {
                    inc.stop_escalation(ev.at, StopReason::Lowered);
                    inc.escalation_owed = false;
                }
                let word = if to < from { "raised" } else { "lowered" };
                inc.push_entry(
                    ev,
                    EntryKind::System,
                    format!("severity {word}: {from} → {to}"),
                    ev.at,
                );
            }
            EventKind::StatusChanged { from, to, .. } => {
                inc.status = *to;
                if to.is_active() && *from == Status::Resolved {
                    inc.milestones.remove(&Milestone::Resolved);
                    // Reopened with nobody on it: page again.
                    inc.escalation_owed = !inc.is_acknowledged();
                }
                if *to == Status::Monitoring {
                    inc.milestones.entry(Milestone::Mitigated).or_insert(ev.at);
                }
                let text = if from == &Status::Resolved && to.is_active() {
                    format!("reopened: {from} → {to}")
                } else {
                    format!("status: {from} → {to}")
                };
                inc.push_entry(ev, EntryKind::System, text, ev.at);
            }
            EventKind::RoleAssigned { role, person, .. } => {
                let prev = inc.roles.insert(*role, person.clone());
                if prev.is_some() {
                    inc.end_tenure(*role, ev.at);
                }
                inc.role_history.push(RoleTenure {
                    role: *role,
                    person: person.clone(),
                    from: ev.at,
                    until: None,
                    assigned_by: ev.actor.clone(),
                });
                let text = match prev {
                    Some(p) => format!("{person} is {} (was {p})", role.title().to_lowercase()),
                    None => format!("{person} is {}", role.title().to_lowercase()),
                };
                inc.push_entry(ev, EntryKind::System, text, ev.at);
            }
            EventKind::RoleReleased { role, person, .. } => {
                inc.roles.remove(role);
                inc.end_tenure(*role, ev.at);
                let text = format!("{person} is no longer {}", role.title().to_lowercase());
                inc.push_entry(ev, EntryKind::System, text, ev.at);
            }
            EventKind::EntryAdded {
                entry_kind,
                text,
                occurred_at,
                next_update_secs,
                ..
            } => {
                if *entry_kind == EntryKind::StatusUpdate {
                    inc.last_status_update = Some(ev.at);
                    inc.next_update_at =
                        next_update_secs.map(|n| ev.at + super::escalation::secs(n));
                }
                inc.push_entry(ev, *entry_kind, text.clone(), *occurred_at);
            }
            EventKind::EntryCorrected {
                entry,
                entry_kind,
                text,
                occurred_at,
                ..
            } => {
                let old = inc.entry_mut(*entry).ok_or(ApplyError::UnknownEntry {
                    seq: ev.seq,
                    incident: r,
                    entry: *entry,
                })?;
                old.superseded_by = Some(ev.seq);
                let pinned = old.pinned;
                if *entry_kind == EntryKind::StatusUpdate {
                    inc.last_status_update = Some(ev.at);
                }
                inc.push_entry(ev, *entry_kind, text.clone(), *occurred_at);
                if let Some(new) = inc.entries.last_mut() {
                    new.supersedes = Some(*entry);
                    new.pinned = pinned;
                }
            }
            EventKind::EntryPinned { entry, pinned, .. } => {
                let e = inc.entry_mut(*entry).ok_or(ApplyError::UnknownEntry {
                    seq: ev.seq,
                    incident: r,
                    entry: *entry,
                })?;
                e.pinned = *pinned;
            }
            EventKind::MilestoneSet {
                milestone,
                occurred_at: at,
                ..
            } => {
                let prev = inc.milestones.insert(*milestone, *at);
                let name = milestone.as_str().replace('_', " ");
                let text = match prev {
                    Some(p) => format!(
                        "{name} at {} (corrected from {})",
                        at.format("%H:%M"),
                        p.format("%H:%M")
                    ),
                    None => format!("{name} at {}", at.format("%H:%M")),
                };
                inc.push_entry(ev, EntryKind::Milestone, text, *at);
            }
            EventKind::Acknowledged { .. } => {
                inc.stop_escalation(ev.at, StopReason::Acknowledged);
                inc.escalation_owed = false;
                inc.acknowledged_by = Some(ev.actor.clone());
                inc.acknowledged_at = Some(ev.at);
                // The first acknowledgement is what MTTA measures; a later one (after a
                // lapse) does not move it.
                inc.milestones
                    .entry(Milestone::Acknowledged)
                    .or_insert(ev.at);
                let text = format!("acknowledged by {}", ev.actor);
                inc.push_entry(ev, EntryKind::Milestone, text, ev.at);
            }
            EventKind::Resolved { .. } => {
                inc.stop_escalation(ev.at, StopReason::Resolved);
                inc.escalation_owed = false;
                inc.status = Status::Resolved;
                inc.milestones.entry(Milestone::Mitigated).or_insert(ev.at);
                inc.milestones.insert(Milestone::Resolved, ev.at);
                inc.push_entry(ev, EntryKind::Milestone, "resolved".to_string(), ev.at);
            }
            EventKind::EscalationStarted { plan, reason, .. } => {
                let steps = plan.steps.len();
                let text = format!(
                    "escalation started: {} policy, {steps} step{} ({reason})",
                    plan.severity,
                    if steps == 1 { "" } else { "s" }
                );
                inc.escalation = Some(Escalation {
                    run: ev.seq,
                    plan: plan.clone(),
                    started_at: ev.at,
                    fired: Vec::new(),
                    stopped: plan.steps.is_empty().then_some(Stop {
                        at: ev.at,
                        reason: StopReason::Exhausted,
                    }),
                });
                inc.escalation_owed = false;
                inc.push_entry(ev, EntryKind::System, text, ev.at);
            }
            EventKind::StepFired {
                run,
                round,
                step,
                action,
                target,
                person,
                due_at,
                late,
                ..
            } => {
                let esc = inc.escalation.as_mut().filter(|e| e.run == *run).ok_or(
                    ApplyError::UnknownRun {
                        seq: ev.seq,
                        incident: r,
                        run: *run,
                    },
                )?;
                esc.fired.push(FiredStep {
                    round: *round,
                    step: *step,
                    action: *action,
                    target: target.clone(),
                    person: person.clone(),
                    due_at: *due_at,
                    at: ev.at,
                    late: *late,
                    seq: ev.seq,
                    deliveries: Vec::new(),
                });
                let total = esc.plan.steps.len();
                let round_note = if *round > 0 {
                    format!(", round {}", round + 1)
                } else {
                    String::new()
                };
                let late_note = if *late {
                    format!(", late by {}", clock_span(ev.at - *due_at))
                } else {
                    String::new()
                };
                let where_ = format!("step {} of {total}{round_note}{late_note}", step + 1);
                let text = match (person, action) {
                    (None, _) => format!("skipped {where_}: nobody on call for {target}"),
                    (Some(p), StepAction::Ticket) => format!("ticket opened in {p} ({where_})"),
                    (Some(p), a) => {
                        let verb = if *a == StepAction::Page {
                            "paged"
                        } else {
                            "notified"
                        };
                        if p == target {
                            format!("{verb} {p} ({where_})")
                        } else {
                            format!("{verb} {p} as {target} ({where_})")
                        }
                    }
                };
                if esc.is_exhausted() {
                    esc.stopped = Some(Stop {
                        at: ev.at,
                        reason: StopReason::Exhausted,
                    });
                }
                inc.push_entry(ev, EntryKind::System, text, ev.at);
            }
            EventKind::NotificationResult {
                step_seq,
                person,
                channel,
                delivered,
                attempts,
                detail,
                ..
            } => {
                if let Some(f) = inc
                    .escalation
                    .as_mut()
                    .and_then(|e| e.fired_by_seq_mut(*step_seq))
                {
                    f.deliveries.push((channel.clone(), *delivered));
                }
                let tries = if *attempts == 1 {
                    String::new()
                } else {
                    format!(" after {attempts} attempts")
                };
                let text = if *delivered {
                    format!("delivered to {person} via {channel}{tries}")
                } else {
                    format!("NOT delivered to {person} via {channel}{tries}: {detail}")
                };
                inc.push_entry(ev, EntryKind::System, text, ev.at);
            }
            EventKind::AckExpired {
                acknowledged_by,
                idle_secs,
                ..
            } => {
                inc.acknowledged_by = None;
                inc.acknowledged_at = None;
                inc.escalation_owed = inc.is_active();
                let text = format!(
                    "acknowledgement by {acknowledged_by} lapsed: no progress for {}; escalating again",
                    clock_span(super::escalation::secs(*idle_secs))
                );
                inc.push_entry(ev, EntryKind::System, text, ev.at);
            }
            EventKind::AlertReceived {
                source,
                action,
                summary,
                by,
                ..
            } => {
                let by = by
                    .as_deref()
                    .map(|b| format!(" by {b}"))
                    .unwrap_or_default();
                let text = match action {
                    AlertAction::Trigger => {
                        inc.alert_count = inc.alert_count.saturating_add(1);
                        format!(
                            "alert from {source}: {summary} ({} alert{})",
                            inc.alert_count,
                            if inc.alert_count == 1 { "" } else { "s" }
                        )
                    }
                    AlertAction::Acknowledge => format!("{source}: acknowledged{by}: {summary}"),
                    AlertAction::Resolve => format!("{source}: resolved{by}: {summary}"),
                };
                inc.push_entry(ev, EntryKind::System, text, ev.at);
            }
            EventKind::CadenceSet { every_secs, .. } => {
                inc.update_every_secs = *every_secs;
            }
            EventKind::RunbookAttached { runbook, .. } => {
                let n = runbook.item_count();
                let text = format!(
                    "runbook attached: {} ({n} step{}, from {})",
                    runbook.title,
                    if n == 1 { "" } else { "s" },
                    runbook.source
                );
                inc.runbook = Some(runbook.clone());
                inc.runbook_done.clear();
                inc.push_entry(ev, EntryKind::System, text, ev.at);
            }
            EventKind::PostmortemEdited { section, text, .. } => {
                inc.postmortem.sections.insert(*section, text.clone());
                inc.postmortem.updated_at = Some(ev.at);
            }
            EventKind::WhysSet { whys, .. } => {
                inc.postmortem.whys = whys.clone();
                inc.postmortem.updated_at = Some(ev.at);
            }
            EventKind::ActionItemAdded {
                text, owner, due, ..
            } => {
                inc.postmortem.action_items.push(ActionItem {
                    id: ev.seq,
                    text: text.clone(),
                    owner: owner.clone(),
                    due: *due,
                    done: false,
                    done_at: None,
                });
                inc.postmortem.updated_at = Some(ev.at);
            }
            EventKind::ActionItemUpdated {
                item,
                text,
                owner,
                due,
                done,
                ..
            } => {
                let a = inc
                    .postmortem
                    .item_mut(*item)
                    .ok_or(ApplyError::UnknownEntry {
                        seq: ev.seq,
                        incident: r,
                        entry: *item,
                    })?;
                if *done && !a.done {
                    a.done_at = Some(ev.at);
                } else if !*done {
                    a.done_at = None;
                }
                a.text = text.clone();
                a.owner = owner.clone();
                a.due = *due;
                a.done = *done;
                inc.postmortem.updated_at = Some(ev.at);
            }
            EventKind::PostmortemWaived { reason, .. } => {
                inc.postmortem.waived = Some(reason.clone());
                inc.postmortem.updated_at = Some(ev.at);
                inc.push_entry(
                    ev,
                    EntryKind::System,
                    format!("post-mortem waived: {reason}"),
                    ev.at,
                );
            }
            EventKind::RunbookStepChecked { item, done, .. } => {
                let what = inc
                    .runbook
                    .as_ref()
                    .and_then(|rb| rb.item(*item))
                    .and_then(|t| t.lines().next())
                    .unwrap_or("?")
                    .to_string();
                let text = if *done {
                    inc.runbook_done.insert(*item);
                    format!("runbook step {item} done: {what}")
                } else {
                    inc.runbook_done.remove(item);
                    format!("runbook step {item} unticked: {what}")
                };
                inc.push_entry(ev, EntryKind::Action, text, ev.at);
            }
        }
        if is_progress(&ev.kind) {
            inc.last_progress_at = ev.at;
        }
        inc.updated_at = ev.at;
        self.seq = ev.seq;
        Ok(())
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

/// Restricting and membership; `None` when `cmd` is neither.
fn decide_membership(
    inc: &Incident,
    actor: &str,
    cmd: &Command,
) -> Result<Option<Vec<EventKind>>, Rejection> {
    let r = inc.reference;
    let person = |p: &str| {
        if p.trim().eq_ignore_ascii_case("me") {
            Ok(actor.to_string())
        } else {
            super::validate_name(p)
        }
    };
    let events = match cmd {
        Command::Restrict { .. } => {
            if inc.restricted {
                return Err(Rejection::conflict(format!("{r} is already restricted")));
            }
            // Whoever restricts it and whoever holds a role keep seeing it.
            let mut members: BTreeSet<String> = inc.roles.values().cloned().collect();
            members.insert(actor.to_string());
            vec![EventKind::Restricted {
                incident: r,
                members: members.into_iter().collect(),
            }]
        }
        Command::AddMember { person: p, .. } => {
            let p = person(p)?;
            if !inc.restricted {
                return Err(Rejection::conflict(format!(
                    "{r} is not restricted: everyone on the feed sees it (restrict it first)"
                )));
            }
            if inc.members.contains_key(&p) {
                return Err(Rejection::conflict(format!(
                    "{p} is already a member of {r}"
                )));
            }
            vec![EventKind::MemberAdded {
                incident: r,
                person: p,
            }]
        }
        Command::RemoveMember { person: p, .. } => {
            let p = person(p)?;
            if !inc.members.contains_key(&p) {
                return Err(Rejection::not_found(format!("{p} is not a member of {r}")));
            }
            // Nobody holds a role in an incident they may not see.
            let mut events: Vec<EventKind> = inc
                .roles
                .iter()
                .filter(|(_, holder)| **holder == p)
                .map(|(role, _)| EventKind::RoleReleased {
                    incident: r,
                    role: *role,
                    person: p.clone(),
                })
                .collect();
            events.push(EventKind::MemberRemoved {
                incident: r,
                person: p,
            });
            events
        }
        _ => return Ok(None),
    };
    Ok(Some(events))
}

/// Whether a person moved the incident on (for the acknowledgement timeout). Escalation,
/// alerts and deliveries are not progress; neither is the acknowledgement itself.
fn is_progress(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Retitled { .. }
            | EventKind::SeverityChanged { .. }
            | EventKind::StatusChanged { .. }
            | EventKind::RoleAssigned { .. }
            | EventKind::RoleReleased { .. }
            | EventKind::EntryAdded { .. }
            | EventKind::EntryCorrected { .. }
            | EventKind::EntryPinned { .. }
            | EventKind::MilestoneSet { .. }
            | EventKind::Resolved { .. }
            | EventKind::RunbookStepChecked { .. }
    )
}

/// An action item's owner: `me` is the sender.
fn owner_name(owner: &str, actor: &str) -> Result<String, Rejection> {
    if owner.trim().eq_ignore_ascii_case("me") {
        Ok(actor.to_string())
    } else {
        validate::text("owner", owner, MAX_NAME, false)
    }
}

/// People write notes, decisions, actions, hypotheses, ruled-out hypotheses and status
/// updates; warroom writes system and milestone entries itself.
fn check_writable_kind(kind: EntryKind) -> Result<(), Rejection> {
    if matches!(kind, EntryKind::System | EntryKind::Milestone) {
        return Err(Rejection::invalid(format!(
            "entries of kind '{kind}' are recorded by warroom itself \
             (use set_milestone for milestones)"
        )));
    }
    Ok(())
}

fn decide_status(inc: &Incident, to: Status) -> Result<Vec<EventKind>, Rejection> {
    let r = inc.reference;
    let from = inc.status;
    if from == to {
        return Err(Rejection::conflict(format!("{r} is already {to}")));
    }
    if to == Status::Closed && from != Status::Resolved {
        return Err(Rejection::conflict(format!(
            "{r} is {from}; only a resolved incident can be closed"
        )));
    }
    if to == Status::Closed
        && let Some(missing) = inc.postmortem.missing_for_close()
    {
        return Err(Rejection::conflict(format!(
            "{r} cannot be closed yet: its post-mortem needs {missing} (or waive it with a reason)"
        )));
    }
    if to == Status::Resolved {
        return Ok(vec![EventKind::Resolved { incident: r }]);
    }
    Ok(vec![EventKind::StatusChanged {
        incident: r,
        from,
        to,
    }])
}
