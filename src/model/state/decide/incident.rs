//! Deciding the commands about an incident itself and its people: title, severity, status,
//! roles, acknowledgement, who may see a restricted incident, and a shift's handoff.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::model::state::{Incident, State};
use crate::model::validate::{self, MAX_NAME, MAX_TITLE};
use crate::model::{Command, EntryKind, EventKind, Milestone, Rejection, Role, Status};

/// The incident's title, severity, status, roles and acknowledgement.
pub(super) fn decide(
    inc: &Incident,
    actor: &str,
    cmd: &Command,
) -> Result<Vec<EventKind>, Rejection> {
    use Command as C;
    use EventKind as E;
    let r = inc.reference;
    let events = match cmd {
        C::Retitle { title, .. } => {
            let title = validate::text("title", title, MAX_TITLE, false)?;
            if title == inc.title {
                return Err(Rejection::conflict(format!("{r} already has that title")));
            }
            vec![E::Retitled { incident: r, title }]
        }
        C::SetService { service, .. } => {
            let service = validate::text("service", service, MAX_NAME, false)?;
            if inc.service.as_deref() == Some(service.as_str()) {
                return Err(Rejection::conflict(format!(
                    "{r} is already about {service}"
                )));
            }
            vec![E::ServiceChanged {
                incident: r,
                service,
            }]
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
        C::Triage {
            detected_by,
            impact_growing,
            workaround,
            ..
        } => {
            if detected_by.is_none() && impact_growing.is_none() && workaround.is_none() {
                return Err(Rejection::invalid(
                    "triage needs an answer: detected_by, impact_growing or workaround",
                ));
            }
            let changed = |new: Option<bool>, old: Option<bool>| new.filter(|n| Some(*n) != old);
            let detected_by = detected_by.filter(|d| Some(*d) != inc.detected_by);
            let impact_growing = changed(*impact_growing, inc.impact_growing);
            let workaround = changed(*workaround, inc.workaround);
            if detected_by.is_none() && impact_growing.is_none() && workaround.is_none() {
                return Err(Rejection::conflict(format!(
                    "{r}'s triage already says that"
                )));
            }
            vec![E::Triaged {
                incident: r,
                detected_by,
                impact_growing,
                workaround,
            }]
        }
        C::ResolveChecked { verified, .. } => {
            let mut events = vec![E::RecoveryChecked {
                incident: r,
                verified: *verified,
            }];
            events.extend(decide_status(inc, Status::Resolved)?);
            events
        }
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
        C::Acknowledge { .. } => {
            if !inc.is_active() {
                return Err(Rejection::conflict(format!(
                    "{r} is {}; there is nothing to acknowledge",
                    inc.status
                )));
            }
            // A person paged on demand acknowledges their page, whoever acknowledged the
            // incident itself.
            let pages = inc
                .open_pages_for(actor)
                .into_iter()
                .map(|page| E::PageAcknowledged { incident: r, page });
            if let Some(by) = &inc.acknowledged_by {
                let pages: Vec<EventKind> = pages.collect();
                if !pages.is_empty() {
                    return Ok(pages);
                }
                let when = inc
                    .milestones
                    .get(&Milestone::Acknowledged)
                    .map(|t| format!(" at {}", t.format("%H:%M UTC")))
                    .unwrap_or_default();
                return Err(Rejection::conflict(format!(
                    "{r} was already acknowledged by {by}{when}"
                )));
            }
            std::iter::once(E::Acknowledged { incident: r })
                .chain(pages)
                .collect()
        }
        _ => return Err(super::not_this_group()),
    };
    Ok(events)
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

/// Restricting and membership; `None` when `cmd` is neither.
pub(super) fn decide_membership(
    inc: &Incident,
    actor: &str,
    cmd: &Command,
) -> Result<Option<Vec<EventKind>>, Rejection> {
    let r = inc.reference;
    let person = |p: &str| {
        if p.trim().eq_ignore_ascii_case("me") {
            Ok(actor.to_string())
        } else {
            crate::model::validate_name(p)
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

impl State {
    /// A handoff: an entry on every active incident, and the incident commander role
    /// wherever the outgoing person held it.
    pub(super) fn decide_handoff(
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
                public: false,
                briefing: None,
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
}
