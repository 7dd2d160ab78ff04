//! Folding the events that write an incident's record: entries and their corrections and
//! pins, milestone times, alerts received, and the runbook and its checklist.

use crate::model::state::{ApplyError, Incident};
use crate::model::{AlertAction, EntryKind, Event, EventKind};

/// Entries, corrections, pins, milestones, alerts and the runbook.
pub(super) fn apply(inc: &mut Incident, ev: &Event) -> Result<(), ApplyError> {
    let r = inc.reference;
    match &ev.kind {
        EventKind::EntryAdded {
            entry_kind,
            text,
            occurred_at,
            next_update_secs,
            public,
            briefing,
            ..
        } => {
            if *entry_kind == EntryKind::StatusUpdate {
                inc.last_status_update = Some(ev.at);
                inc.next_update_at =
                    next_update_secs.map(|n| ev.at + crate::model::escalation::secs(n));
            }
            inc.push_entry(ev, *entry_kind, text.clone(), *occurred_at);
            if let Some(new) = inc.entries.last_mut() {
                new.public = *public;
                new.briefing = briefing.clone();
            }
        }
        EventKind::EntryCorrected {
            entry,
            entry_kind,
            text,
            occurred_at,
            ..
        } => {
            let elided = inc.elided > 0;
            let (pinned, public, briefing) = match inc.entry_mut(*entry) {
                Some(old) => {
                    old.superseded_by = Some(ev.seq);
                    (old.pinned, old.public, old.briefing.clone())
                }
                // An older entry this copy does not hold: the correction is new, and held.
                None if elided => (false, false, None),
                None => {
                    return Err(ApplyError::UnknownEntry {
                        seq: ev.seq,
                        incident: r,
                        entry: *entry,
                    });
                }
            };
            if *entry_kind == EntryKind::StatusUpdate {
                inc.last_status_update = Some(ev.at);
            }
            inc.push_entry(ev, *entry_kind, text.clone(), *occurred_at);
            if let Some(new) = inc.entries.last_mut() {
                new.supersedes = Some(*entry);
                new.pinned = pinned;
                // A corrected status update was still sent as it was: it keeps being marked
                // public, and keeps its briefing.
                if *entry_kind == EntryKind::StatusUpdate {
                    new.public = public;
                    new.briefing = briefing;
                }
            }
        }
        EventKind::EntryPinned { entry, pinned, .. } => {
            let elided = inc.elided > 0;
            match inc.entry_mut(*entry) {
                Some(e) => e.pinned = *pinned,
                None if elided => {}
                None => {
                    return Err(ApplyError::UnknownEntry {
                        seq: ev.seq,
                        incident: r,
                        entry: *entry,
                    });
                }
            }
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
        // `State::apply` hands each event to exactly one group.
        _ => {}
    }
    Ok(())
}
