//! Deciding a command against the state: the events it produces, or a rejection that tells
//! the person who typed it why. Pure: the state is not changed. `decide` checks what every
//! command shares (the incident exists, the sender may act, the record is not closed), then
//! hands the command to its group: the incident itself and its people (`incident`), its
//! timeline, milestones and runbook (`timeline`), its post-mortem (`postmortem`).

use chrono::{DateTime, Utc};

use super::{Incident, State};
use crate::model::validate::{self, MAX_NAME, MAX_TITLE};
use crate::model::{Command, EventKind, IncidentRef, Rejection, Status};

mod incident;
mod page;
mod postmortem;
mod timeline;

impl State {
    fn existing(&self, r: IncidentRef) -> Result<&Incident, Rejection> {
        self.incident(r).ok_or_else(|| {
            // Numbered from the next reference: the state may hold only the live work.
            let hint = match self.next_reference().0 - 1 {
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
            detected_by,
        } = cmd
        {
            let title = validate::text("title", title, MAX_TITLE, false)?;
            let service = match service {
                Some(s) => Some(validate::text("service", s, MAX_NAME, false)?),
                None => None,
            };
            let incident = self.next_reference();
            let mut events = vec![E::Declared {
                incident,
                title,
                service,
                severity: *severity,
                restricted: *restricted,
                alert_key: None,
            }];
            // Who found it goes on the record with the declaration, not as a second command.
            if let Some(d) = detected_by {
                events.push(E::Triaged {
                    incident,
                    detected_by: Some(*d),
                    impact_growing: None,
                    workaround: None,
                });
            }
            return Ok(events);
        }
        if let C::AcceptHandoff { from } = cmd {
            return self.decide_handoff(actor, now, from);
        }
        if let C::RecordDeploy {
            service,
            version,
            environment,
            note,
        } = cmd
        {
            let (service, version, environment, note) = crate::model::feed::validate_deploy(
                service,
                version,
                environment.as_deref(),
                note.as_deref(),
            )?;
            return Ok(vec![E::DeployRecorded {
                service,
                version,
                environment,
                note,
            }]);
        }
        let r = cmd
            .incident()
            .ok_or_else(|| Rejection::invalid("command names no incident"))?;
        let inc = self.existing(r)?;
        if let Some(events) = incident::decide_membership(inc, actor, cmd)? {
            // Membership is not part of the record: it may change after the incident closes.
            return Ok(events);
        }
        inc.ensure_writable()?;
        let events = match cmd {
            C::Declare { .. }
            | C::AcceptHandoff { .. }
            | C::RecordDeploy { .. }
            | C::Restrict { .. }
            | C::AddMember { .. }
            | C::RemoveMember { .. } => {
                return Err(Rejection::invalid(
                    "this command does not act on one incident",
                ));
            }
            C::Retitle { .. }
            | C::SetSeverity { .. }
            | C::SetStatus { .. }
            | C::Resolve { .. }
            | C::AssignRole { .. }
            | C::ReleaseRole { .. }
            | C::SetService { .. }
            | C::ResolveChecked { .. }
            | C::Triage { .. }
            | C::Acknowledge { .. } => incident::decide(inc, actor, cmd)?,
            C::AddEntry { .. }
            | C::CorrectEntry { .. }
            | C::PinEntry { .. }
            | C::SetMilestone { .. }
            | C::CheckRunbookStep { .. } => timeline::decide(inc, now, cmd)?,
            C::EditPostmortem { .. }
            | C::SetWhys { .. }
            | C::AddActionItem { .. }
            | C::UpdateActionItem { .. }
            | C::WaivePostmortem { .. }
            | C::CompletePostmortem { .. } => postmortem::decide(inc, actor, cmd)?,
            C::Page { .. } => {
                return Err(Rejection::invalid(
                    "a page is decided with the feed's policy (whom its target reaches now)",
                ));
            }
        };
        Ok(events)
    }
}

impl Incident {
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

/// What a group answers a command that is not its own. [`State::decide`] hands each command
/// to exactly one group, so no command gets this; it spares the groups a panic.
fn not_this_group() -> Rejection {
    Rejection::invalid("this command does not act on one incident")
}
