//! The fold: incident state as a function of the event log, and the decision of commands
//! against that state.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::validate::{self, MAX_ENTRY, MAX_NAME, MAX_TITLE};
use super::{
    Command, EntryKind, Event, EventKind, IncidentRef, Milestone, Rejection, Role, Severity, Status,
};

/// Every incident, as of event `seq`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The sequence number of the last event folded in (0: none yet).
    pub seq: u64,
    /// By reference number. On the wire: a list of incidents in reference order.
    #[serde(with = "incident_list")]
    pub incidents: BTreeMap<u32, Incident>,
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
    pub restricted: bool,
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
    /// When the last status update was recorded (the comms cadence counts from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status_update: Option<DateTime<Utc>>,
    /// Entries in recorded order (ascending id). See [`Incident::timeline`] for the
    /// occurred-at order people read.
    pub entries: Vec<Entry>,
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
            }]);
        }
        let r = cmd
            .incident()
            .ok_or_else(|| Rejection::invalid("command names no incident"))?;
        let inc = self.existing(r)?;
        inc.ensure_writable()?;
        let events = match cmd {
            C::Declare { .. } => {
                return Err(Rejection::invalid(
                    "declare does not act on an existing incident",
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
                ..
            } => {
                check_writable_kind(*entry_kind)?;
                let text = validate::text("entry text", text, MAX_ENTRY, true)?;
                let occurred_at = occurred_at.unwrap_or(now);
                validate::past_time("occurred-at", occurred_at, now)?;
                vec![E::EntryAdded {
                    incident: r,
                    entry_kind: *entry_kind,
                    text,
                    occurred_at,
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
        };
        Ok(events)
    }

    /// Folds one event in. Events must arrive in sequence order with no gaps after the first.
    pub fn apply(&mut self, ev: &Event) -> Result<(), ApplyError> {
        if ev.seq <= self.seq {
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
        } = &ev.kind
        {
            let mut inc = Incident {
                reference: *incident,
                title: title.clone(),
                service: service.clone(),
                severity: *severity,
                status: Status::Investigating,
                restricted: *restricted,
                declared_at: ev.at,
                declared_by: ev.actor.clone(),
                updated_at: ev.at,
                roles: BTreeMap::new(),
                role_history: Vec::new(),
                milestones: BTreeMap::from([(Milestone::Detected, ev.at)]),
                acknowledged_by: None,
                last_status_update: None,
                entries: Vec::new(),
            };
            let svc = service
                .as_deref()
                .map(|s| format!(" on {s}"))
                .unwrap_or_default();
            inc.push_entry(
                ev,
                EntryKind::System,
                format!("declared {severity}{svc}: {title}"),
                ev.at,
            );
            self.incidents.insert(incident.0, inc);
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
            EventKind::Declared { .. } => {}
            EventKind::Retitled { title, .. } => {
                let text = format!("retitled: {title} (was: {})", inc.title);
                inc.title = title.clone();
                inc.push_entry(ev, EntryKind::System, text, ev.at);
            }
            EventKind::SeverityChanged { from, to, .. } => {
                inc.severity = *to;
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
                ..
            } => {
                if *entry_kind == EntryKind::StatusUpdate {
                    inc.last_status_update = Some(ev.at);
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
                inc.acknowledged_by = Some(ev.actor.clone());
                inc.milestones.insert(Milestone::Acknowledged, ev.at);
                let text = format!("acknowledged by {}", ev.actor);
                inc.push_entry(ev, EntryKind::Milestone, text, ev.at);
            }
            EventKind::Resolved { .. } => {
                inc.status = Status::Resolved;
                inc.milestones.entry(Milestone::Mitigated).or_insert(ev.at);
                inc.milestones.insert(Milestone::Resolved, ev.at);
                inc.push_entry(ev, EntryKind::Milestone, "resolved".to_string(), ev.at);
            }
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
    if to == Status::Resolved {
        return Ok(vec![EventKind::Resolved { incident: r }]);
    }
    Ok(vec![EventKind::StatusChanged {
        incident: r,
        from,
        to,
    }])
}
