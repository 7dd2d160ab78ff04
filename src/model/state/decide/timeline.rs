//! Deciding the commands that write an incident's record: timeline entries, their
//! corrections and pins, milestone times, and the runbook checklist.

use chrono::{DateTime, Utc};

use crate::model::state::Incident;
use crate::model::validate::{self, MAX_ENTRY};
use crate::model::{Briefing, Command, EntryKind, EventKind, Milestone, Rejection, Severity};

/// Entries, corrections, pins, milestones and runbook ticks.
pub(super) fn decide(
    inc: &Incident,
    now: DateTime<Utc>,
    cmd: &Command,
) -> Result<Vec<EventKind>, Rejection> {
    use Command as C;
    use EventKind as E;
    let r = inc.reference;
    let events = match cmd {
        C::AddEntry {
            entry_kind,
            text,
            occurred_at,
            next_update_secs,
            public,
            briefing,
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
            let briefing = status_update_parts(inc, *entry_kind, *public, briefing.as_ref())?;
            vec![E::EntryAdded {
                incident: r,
                entry_kind: *entry_kind,
                text,
                occurred_at,
                next_update_secs: *next_update_secs,
                public: *public,
                briefing,
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
        _ => return Err(super::not_this_group()),
    };
    Ok(events)
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

/// A status update's extras: `public` and the briefing belong to status updates only; a
/// restricted incident never goes to the status page; every SEV1 update while the incident
/// is active carries the executive briefing (seed guide: impact, ETA, commitments at risk;
/// once resolved, the ETA has passed). The briefing checked.
fn status_update_parts(
    inc: &Incident,
    kind: EntryKind,
    public: bool,
    briefing: Option<&Briefing>,
) -> Result<Option<Briefing>, Rejection> {
    let r = inc.reference;
    if kind != EntryKind::StatusUpdate {
        if public {
            return Err(Rejection::invalid(format!(
                "only a status update can be public (this is a {kind})"
            )));
        }
        if briefing.is_some() {
            return Err(Rejection::invalid(format!(
                "only a status update carries a briefing (this is a {kind})"
            )));
        }
        return Ok(None);
    }
    if public && inc.restricted {
        return Err(Rejection::conflict(format!(
            "{r} is restricted (need to know): its updates never go to the status page; \
             send it without public"
        )));
    }
    let briefing = briefing.map(Briefing::checked).transpose()?;
    if inc.severity == Severity::Sev1 && inc.is_active() && briefing.is_none() {
        return Err(Rejection::invalid(format!(
            "{r} is a SEV1: its status update needs the executive briefing (impact, ETA, \
             commitments at risk)"
        )));
    }
    Ok(briefing)
}
