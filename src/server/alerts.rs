//! Deciding alerts against the state, and recording any event: pure (no HTTP, no I/O, no
//! async), so the core runs it inside its batch and the webhook handlers only carry bodies
//! in and outcomes out. An alert whose key matches an open incident attaches to it (or
//! acknowledges or resolves it); any other trigger is classified by the policy and opens
//! one. `record` is how the core and the alert decision alike turn an event kind into a
//! numbered event folded into the state.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::rules::Rules;
use crate::intake::{self, Alert};
use crate::model::policy::Classification;
use crate::model::runbook;
use crate::model::{
    AlertAction, ApplyError, EntryKind, Event, EventKind, IncidentRef, Milestone, Severity, State,
};

/// What became of a webhook's alerts, or why none of them was recorded.
pub type IntakeAnswer = Result<Vec<AlertOutcome>, String>;

/// What became of one alert.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct AlertOutcome {
    pub dedup_key: String,
    /// `opened`, `attached`, `acknowledged`, `resolved`, `informational` or `ignored`.
    pub outcome: std::borrow::Cow<'static, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<IncidentRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    pub alert_count: u32,
    pub detail: String,
}

/// Folds `kind` into `state` as a new event by `actor` and queues it for the log.
pub fn record(
    state: &mut State,
    events: &mut Vec<Event>,
    actor: &str,
    now: DateTime<Utc>,
    kind: EventKind,
) -> Result<u64, ApplyError> {
    let ev = Event {
        seq: state.seq + 1,
        at: now,
        actor: actor.to_string(),
        kind,
    };
    state.apply(&ev)?;
    let seq = ev.seq;
    events.push(ev);
    Ok(seq)
}

fn push(
    state: &mut State,
    events: &mut Vec<Event>,
    actor: &str,
    now: DateTime<Utc>,
    kind: EventKind,
) -> Result<u64, String> {
    record(state, events, actor, now, kind)
        .map_err(|e| format!("the alert could not be recorded: {e}"))
}

/// The severity an alert opens an incident at, and why.
pub fn classify(rules: &Rules, alert: &Alert) -> Classification {
    // The seed guide's bot knows the severities critical, high and warning, and takes any
    // other urgency as "warning": PagerDuty's "low" urgency is a SEV-3 there, not a SEV4.
    if alert.source == intake::Source::PagerDuty
        && alert.severity_label.as_deref() == Some("low")
        && !intake::has_classifier_fields(&alert.context)
    {
        return Classification::Incident {
            severity: Severity::Sev3,
            rule: None,
            why: "PagerDuty urgency 'low' is not one of the seed guide's severities: taken as \
                  'warning', as its bot does"
                .to_string(),
            restricted: false,
        };
    }
    if !intake::has_classifier_fields(&alert.context)
        && let Some(label) = &alert.severity_label
        && let Some(severity) = intake::severity_from_label(label)
    {
        return Classification::Incident {
            severity,
            rule: None,
            why: format!("the alert's own severity '{label}' (it carries no impact figures)"),
            restricted: false,
        };
    }
    // The seed guide's bot reads a PagerDuty incident's urgency with "warning" (SEV-3) as
    // the default: one that says neither urgency nor priority is a SEV3, not a SEV4.
    if alert.source == intake::Source::PagerDuty
        && alert.severity_label.is_none()
        && !intake::has_classifier_fields(&alert.context)
    {
        return Classification::Incident {
            severity: Severity::Sev3,
            rule: None,
            why: "PagerDuty gave no urgency or priority: taken as 'warning', as the seed \
                  guide's bot does"
                .to_string(),
            restricted: false,
        };
    }
    rules.policy.classify(&alert.context)
}

/// Decides the alerts of one request (each with whether it may resolve its incident: an
/// Alertmanager group resolves only when none of its alerts is still firing) into `events`,
/// folding them into `state`.
pub fn decide(
    state: &mut State,
    events: &mut Vec<Event>,
    rules: &Rules,
    now: DateTime<Utc>,
    alerts: &[(Alert, bool)],
) -> IntakeAnswer {
    let mut outcomes = Vec::with_capacity(alerts.len());
    for (alert, may_resolve) in alerts {
        outcomes.push(decide_one(state, events, rules, now, alert, *may_resolve)?);
    }
    Ok(outcomes)
}

fn decide_one(
    state: &mut State,
    events: &mut Vec<Event>,
    rules: &Rules,
    now: DateTime<Utc>,
    alert: &Alert,
    may_resolve: bool,
) -> Result<AlertOutcome, String> {
    let source = alert.source.as_str();
    let key = intake::clip(&alert.dedup_key, 400);
    let open = state
        .incidents
        .values()
        .find(|i| i.is_active() && i.alert_key.as_deref() == Some(key.as_str()))
        .map(|i| (i.reference, i.is_acknowledged()));
    let summary = if alert.summary.trim().is_empty() {
        format!("alert from {source}")
    } else {
        intake::clip(alert.summary.trim(), 200)
    };
    let by = alert.by.as_ref().map(|b| intake::clip(b, 64));
    let action = match alert.action {
        intake::AlertAction::Trigger => AlertAction::Trigger,
        intake::AlertAction::Acknowledge => AlertAction::Acknowledge,
        intake::AlertAction::Resolve => AlertAction::Resolve,
    };
    let received = |incident| EventKind::AlertReceived {
        incident,
        source: source.to_string(),
        dedup_key: key.clone(),
        action,
        summary: summary.clone(),
        by: by.clone(),
    };
    let outcome = |outcome, incident: Option<IncidentRef>, state: &State, detail: String| {
        let inc = incident.and_then(|r| state.incident(r));
        AlertOutcome {
            dedup_key: key.clone(),
            outcome: std::borrow::Cow::Borrowed(outcome),
            incident,
            severity: inc.map(|i| i.severity),
            alert_count: inc.map_or(0, |i| i.alert_count),
            detail,
        }
    };
    let actor = by.clone().unwrap_or_else(|| source.to_string());
    match (action, open) {
        (AlertAction::Trigger, Some((r, _))) => {
            push(state, events, source, now, received(r))?;
            Ok(outcome(
                "attached",
                Some(r),
                state,
                format!("attached to {r}"),
            ))
        }
        (AlertAction::Trigger, None) => {
            let service = alert
                .context
                .service
                .as_ref()
                .map(|s| intake::clip(s.trim(), 64))
                .filter(|s| !s.is_empty());
            let verdict = classify(rules, alert);
            let (severity, restricted) = match &verdict {
                Classification::Informational { why, .. } => {
                    // Kept for the stand-up (seed architecture: a slow burn is reviewed
                    // there, not paged), where it would otherwise vanish.
                    push(
                        state,
                        events,
                        source,
                        now,
                        EventKind::AlertNoted {
                            source: source.to_string(),
                            dedup_key: key.clone(),
                            summary: summary.clone(),
                            why: intake::clip(why, 300),
                            service: service.clone(),
                        },
                    )?;
                    return Ok(outcome(
                        "informational",
                        None,
                        state,
                        format!(
                            "informational: {why}; no incident opened, kept in the stand-up digest"
                        ),
                    ));
                }
                Classification::Incident {
                    severity,
                    restricted,
                    ..
                } => (*severity, *restricted),
            };
            let r = state.next_reference();
            push(
                state,
                events,
                source,
                now,
                EventKind::Declared {
                    incident: r,
                    title: summary.clone(),
                    service,
                    severity,
                    restricted,
                    alert_key: Some(key.clone()),
                },
            )?;
            push(
                state,
                events,
                source,
                now,
                EventKind::EntryAdded {
                    incident: r,
                    entry_kind: EntryKind::System,
                    text: verdict.summary(),
                    occurred_at: now,
                    next_update_secs: None,
                    public: false,
                    briefing: None,
                },
            )?;
            if let Some(started) = alert.started_at {
                push(
                    state,
                    events,
                    source,
                    now,
                    EventKind::MilestoneSet {
                        incident: r,
                        milestone: Milestone::ImpactStarted,
                        occurred_at: started.min(now),
                    },
                )?;
            }
            push(state, events, source, now, received(r))?;
            let mut facts: Vec<String> = alert
                .details
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            if let Some(url) = &alert.runbook_url {
                facts.push(format!("runbook_url={url}"));
            }
            if !facts.is_empty() {
                push(
                    state,
                    events,
                    source,
                    now,
                    EventKind::EntryAdded {
                        incident: r,
                        entry_kind: EntryKind::System,
                        text: intake::clip(&format!("alert details: {}", facts.join(", ")), 3000),
                        occurred_at: now,
                        next_update_secs: None,
                        public: false,
                        briefing: None,
                    },
                )?;
            }
            // A need-to-know incident works from the security runbook (containment,
            // evidence, legal counsel, the 72-hour notice), whatever the alert's name.
            let by_alert = if restricted {
                rules.runbooks.get(runbook::SECURITY)
            } else {
                alert
                    .details
                    .get("alertname")
                    .and_then(|n| rules.runbooks.get(n))
            };
            if let Some(rb) = by_alert {
                push(
                    state,
                    events,
                    source,
                    now,
                    EventKind::RunbookAttached {
                        incident: r,
                        runbook: rb.clone(),
                    },
                )?;
            }
            Ok(outcome("opened", Some(r), state, verdict.summary()))
        }
        (AlertAction::Acknowledge, Some((r, acked))) => {
            push(state, events, source, now, received(r))?;
            if acked {
                return Ok(outcome(
                    "attached",
                    Some(r),
                    state,
                    format!("{r} was already acknowledged"),
                ));
            }
            push(
                state,
                events,
                &actor,
                now,
                EventKind::Acknowledged { incident: r },
            )?;
            Ok(outcome(
                "acknowledged",
                Some(r),
                state,
                format!("{r} acknowledged by {actor}"),
            ))
        }
        (AlertAction::Resolve, Some((r, _))) => {
            push(state, events, source, now, received(r))?;
            if !may_resolve {
                return Ok(outcome(
                    "attached",
                    Some(r),
                    state,
                    "other alerts of the group are still firing".into(),
                ));
            }
            push(
                state,
                events,
                &actor,
                now,
                EventKind::Resolved { incident: r },
            )?;
            Ok(outcome(
                "resolved",
                Some(r),
                state,
                format!("{r} resolved by {actor}"),
            ))
        }
        (_, None) => Ok(outcome(
            "ignored",
            None,
            state,
            format!("no open incident has the key {key}"),
        )),
    }
}
