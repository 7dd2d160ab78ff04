//! Folding the events about an incident itself and its people: restriction and members,
//! title, severity, status, roles, acknowledgement, resolution and cadence.

use crate::model::escalation::StopReason;
use crate::model::state::{ApplyError, Incident, RoleTenure};
use crate::model::{EntryKind, Event, EventKind, Milestone, Status};

/// Members, title, severity, status, roles, acknowledgement, resolution and cadence.
pub(super) fn apply(inc: &mut Incident, ev: &Event) -> Result<(), ApplyError> {
    match &ev.kind {
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
        EventKind::ServiceChanged { service, .. } => {
            let was = inc.service.as_deref().unwrap_or("none");
            let text = format!("service: {service} (was: {was})");
            // A runbook found by the old service, not begun, goes: the new service's is
            // attached in its place (by the engine, as at a declaration).
            if inc.runbook_done.is_empty()
                && inc
                    .runbook
                    .as_ref()
                    .is_some_and(|rb| inc.service.as_deref() == Some(rb.name.as_str()))
            {
                inc.runbook = None;
            }
            inc.service = Some(service.clone());
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
            // Closing takes a written post-mortem (or a waiver): closed, it is done.
            if *to == Status::Closed
                && inc.postmortem.waived.is_none()
                && inc.postmortem.completed_at.is_none()
            {
                inc.postmortem.completed_at = Some(ev.at);
                inc.postmortem.completed_by = Some(ev.actor.clone());
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
        EventKind::Triaged {
            detected_by,
            impact_growing,
            workaround,
            ..
        } => {
            let mut said = Vec::new();
            if let Some(d) = detected_by {
                inc.detected_by = Some(*d);
                said.push(format!("detected by {d}"));
            }
            if let Some(g) = impact_growing {
                inc.impact_growing = Some(*g);
                said.push(
                    if *g {
                        "impact growing"
                    } else {
                        "impact stable"
                    }
                    .to_string(),
                );
            }
            if let Some(w) = workaround {
                inc.workaround = Some(*w);
                said.push(
                    if *w {
                        "a workaround exists"
                    } else {
                        "no workaround"
                    }
                    .to_string(),
                );
            }
            inc.push_entry(
                ev,
                EntryKind::System,
                format!("triage: {}", said.join(", ")),
                ev.at,
            );
        }
        EventKind::RecoveryChecked { verified, .. } => {
            let text = if *verified {
                format!(
                    "recovery verified by {} before resolving: metrics back to normal, error \
                     rates down, users unblocked",
                    ev.actor
                )
            } else {
                format!(
                    "resolved by {} without verifying recovery (verification skipped)",
                    ev.actor
                )
            };
            inc.push_entry(ev, EntryKind::Milestone, text, ev.at);
        }
        EventKind::CadenceSet { every_secs, .. } => {
            inc.update_every_secs = *every_secs;
        }
        // `State::apply` hands each event to exactly one group.
        _ => {}
    }
    Ok(())
}
