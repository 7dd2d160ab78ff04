//! The escalation engine, pure: given the state, the policy and the time, what the server
//! must record next. The server calls [`next_event`] until it returns `None`, folding each
//! event in before asking again, on every group of commands and on every clock tick.
//! Because each decision reads only the folded log, a step can never fire twice (its
//! firing is in the log) and none is lost across a restart (it is still next, and late).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::escalation::{LATE_AFTER_SECS, StopReason, secs};
use super::policy::Policy;
use super::runbook::{self, Runbook};
use super::{EventKind, Incident, State, StepAction};

/// The next thing the server owes the log at `now`, if any.
pub fn next_event(
    state: &State,
    policy: &Policy,
    runbooks: &BTreeMap<String, Runbook>,
    now: DateTime<Utc>,
) -> Option<EventKind> {
    state
        .incidents
        .values()
        .filter(|i| i.is_active())
        .find_map(|inc| next_for(inc, policy, runbooks, now))
}

fn next_for(
    inc: &Incident,
    policy: &Policy,
    runbooks: &BTreeMap<String, Runbook>,
    now: DateTime<Utc>,
) -> Option<EventKind> {
    let r = inc.reference;
    let cadence = policy.cadence(inc.severity);
    if inc.update_every_secs != cadence {
        return Some(EventKind::CadenceSet {
            incident: r,
            every_secs: cadence,
        });
    }
    // A restricted incident's checklist is the security runbook (seed guide: containment,
    // evidence preservation, legal counsel, the notification deadline), in place of its
    // service's; any other incident gets its service's, if there is one.
    if inc.restricted
        && inc.runbook.as_ref().map(|rb| rb.name.as_str()) != Some(runbook::SECURITY)
        && let Some(rb) = runbooks.get(runbook::SECURITY)
    {
        return Some(EventKind::RunbookAttached {
            incident: r,
            runbook: rb.clone(),
        });
    }
    if inc.runbook.is_none()
        && let Some(rb) = inc.service.as_deref().and_then(|s| runbooks.get(s))
    {
        return Some(EventKind::RunbookAttached {
            incident: r,
            runbook: rb.clone(),
        });
    }
    if inc.escalation_owed && !inc.is_acknowledged() {
        let reason = match &inc.escalation {
            None => "declared".to_string(),
            Some(e) if e.plan.severity > inc.severity => {
                format!("severity raised to {}", inc.severity)
            }
            Some(e) if e.stopped.as_ref().map(|s| s.reason) == Some(StopReason::Resolved) => {
                "reopened".to_string()
            }
            Some(_) => "acknowledgement lapsed".to_string(),
        };
        let plan = policy.plan(inc.severity, inc.service.as_deref(), now);
        // A severity without a policy starts nothing (and records nothing).
        if !plan.steps.is_empty() {
            return Some(EventKind::EscalationStarted {
                incident: r,
                plan,
                reason,
            });
        }
    }
    if let (Some(by), Some(acked), Some(esc)) =
        (&inc.acknowledged_by, inc.acknowledged_at, &inc.escalation)
        && let Some(timeout) = esc.plan.ack_timeout_secs
        && inc.last_progress_at <= acked
        && now >= acked + secs(timeout)
    {
        return Some(EventKind::AckExpired {
            incident: r,
            acknowledged_by: by.clone(),
            idle_secs: u64::try_from((now - acked).num_seconds()).unwrap_or(0),
        });
    }
    let esc = inc.live_escalation()?;
    let p = esc.next()?;
    if p.due_at > now {
        return None;
    }
    let person = match p.action {
        StepAction::Ticket => Some(p.target.clone()),
        _ => policy.resolve_target(&p.target, inc.service.as_deref(), now),
    };
    Some(EventKind::StepFired {
        incident: r,
        run: p.run,
        round: p.round,
        step: p.step,
        action: p.action,
        target: p.target,
        person,
        due_at: p.due_at,
        late: (now - p.due_at).num_seconds() > LATE_AFTER_SECS,
    })
}

/// When the engine will next have something to do, for a server that sleeps until then.
pub fn next_due(state: &State) -> Option<DateTime<Utc>> {
    let mut best: Option<DateTime<Utc>> = None;
    for inc in state.incidents.values().filter(|i| i.is_active()) {
        let mut candidates = Vec::new();
        if let Some(p) = inc.live_escalation().and_then(|e| e.next()) {
            candidates.push(p.due_at);
        }
        if let (Some(esc), Some(acked)) = (&inc.escalation, inc.acknowledged_at)
            && let Some(t) = esc.plan.ack_timeout_secs
            && inc.last_progress_at <= acked
        {
            candidates.push(acked + secs(t));
        }
        for c in candidates {
            best = Some(best.map_or(c, |b: DateTime<Utc>| b.min(c)));
        }
    }
    best
}
