//! Folding the post-mortem's events: sections, the 5-whys chain, action items, a waiver.

use crate::model::postmortem::{ActionItem, Ticket};
use crate::model::state::{ApplyError, Incident};
use crate::model::{EntryKind, Event, EventKind};

/// The post-mortem's sections, 5 whys, action items and waiver.
pub(super) fn apply(inc: &mut Incident, ev: &Event) -> Result<(), ApplyError> {
    let r = inc.reference;
    match &ev.kind {
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
                added_at: Some(ev.at),
                ticket: None,
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
        EventKind::ActionItemTicketed {
            item,
            reference,
            url,
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
            a.ticket = Some(Ticket {
                reference: reference.clone(),
                url: url.clone(),
            });
            inc.push_entry(
                ev,
                EntryKind::System,
                format!("action item #{item} ticketed: {reference}"),
                ev.at,
            );
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
        EventKind::PostmortemCompleted { .. } => {
            inc.postmortem.completed_at = Some(ev.at);
            inc.postmortem.completed_by = Some(ev.actor.clone());
            let when = match inc.postmortem_due_at() {
                Some(due) if ev.at <= due => {
                    format!(", on time (due {})", due.format("%Y-%m-%d %H:%M UTC"))
                }
                Some(due) => format!(", late (was due {})", due.format("%Y-%m-%d %H:%M UTC")),
                None => String::new(),
            };
            inc.push_entry(
                ev,
                EntryKind::Milestone,
                format!("post-mortem done{when}"),
                ev.at,
            );
        }
        // `State::apply` hands each event to exactly one group.
        _ => {}
    }
    Ok(())
}
