//! Folding the escalation engine's events: a run started, a step fired (or skipped), a
//! notification's delivery, an acknowledgement that lapsed.

use crate::model::escalation::{Escalation, FiredStep, OnDemandPage, Stop, StopReason, clock_span};
use crate::model::state::{ApplyError, Incident};
use crate::model::{EntryKind, Event, EventKind, StepAction};

/// Escalation runs, fired steps, deliveries and lapsed acknowledgements.
pub(super) fn apply(inc: &mut Incident, ev: &Event) -> Result<(), ApplyError> {
    let r = inc.reference;
    match &ev.kind {
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
            } else if let Some(p) = inc.pages.iter_mut().find(|p| p.seq == *step_seq) {
                p.deliveries.push((channel.clone(), *delivered));
            } else if let Some(e) = inc
                .entry_mut(*step_seq)
                .filter(|e| e.kind == EntryKind::StatusUpdate)
            {
                e.deliveries.push((channel.clone(), *delivered));
            }
            let tries = if *attempts == 1 {
                String::new()
            } else {
                format!(" after {attempts} attempts")
            };
            let item = inc.postmortem.item(*step_seq).map(|a| a.id);
            let text = if let Some(item) = item {
                // A ticket for an action item (the tracker's answer is `action_item_ticketed`).
                if *delivered {
                    format!("action item #{item} sent to {channel}{tries}")
                } else {
                    format!("action item #{item}: NO ticket opened via {channel}{tries}: {detail}")
                }
            } else if *delivered {
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
                clock_span(crate::model::escalation::secs(*idle_secs))
            );
            inc.push_entry(ev, EntryKind::System, text, ev.at);
        }
        EventKind::Paged {
            target,
            person,
            message,
            ..
        } => {
            inc.pages.push(OnDemandPage {
                seq: ev.seq,
                at: ev.at,
                by: ev.actor.clone(),
                target: target.clone(),
                person: person.clone(),
                message: message.clone(),
                deliveries: Vec::new(),
                acknowledged_at: None,
            });
            let who = if person == target {
                person.clone()
            } else {
                format!("{person} as {target}")
            };
            let said = message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            let text = format!("paged {who} (on demand, by {}){said}", ev.actor);
            inc.push_entry(ev, EntryKind::System, text, ev.at);
        }
        EventKind::PageAcknowledged { page, .. } => {
            if let Some(p) = inc.pages.iter_mut().find(|p| p.seq == *page) {
                p.acknowledged_at = Some(ev.at);
            }
            let text = format!("{} acknowledged the page", ev.actor);
            inc.push_entry(ev, EntryKind::System, text, ev.at);
        }
        // `State::apply` hands each event to exactly one group.
        _ => {}
    }
    Ok(())
}
