//! Alert intake on the feed's port: `POST /webhook/alertmanager`, `POST /webhook/pagerduty`
//! and `POST /v2/enqueue`. Bodies are parsed and checked in [`crate::intake`]; here they are
//! authenticated, then decided in the core against the state, all alerts of one body
//! together or none of them: an alert whose key matches an open incident attaches to it,
//! any other is classified by the policy and opens one.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use tokio::sync::oneshot;

use super::App;
use super::core::{CoreInput, Rules};
use crate::intake::{self, Alert};
use crate::model::policy::Classification;
use crate::model::{
    AlertAction, EntryKind, Event, EventKind, IncidentRef, Milestone, Severity, State,
};

/// Largest webhook body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Alerts to decide together, each with whether it may resolve its incident (an
/// Alertmanager group resolves only when none of its alerts is still firing).
pub struct IntakeRequest {
    pub alerts: Vec<(Alert, bool)>,
    pub reply: oneshot::Sender<IntakeAnswer>,
}

pub type IntakeAnswer = Result<Vec<AlertOutcome>, String>;

/// What became of one alert.
#[derive(Debug, Clone, Serialize)]
pub struct AlertOutcome {
    pub dedup_key: String,
    /// `opened`, `attached`, `acknowledged`, `resolved`, `informational` or `ignored`.
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<IncidentRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    pub alert_count: u32,
    pub detail: String,
}

/// Who may post alerts.
#[derive(Debug, Clone, Default)]
pub struct IntakeAuth {
    /// Accepted as `Authorization: Bearer …` and as an Events v2 `routing_key`.
    pub token: Option<String>,
    /// Verifies `X-PagerDuty-Signature`.
    pub pagerduty_secret: Option<String>,
    /// Intake without a token or secret is refused: set by itself when the server listens
    /// beyond loopback (and may be set to close a loopback server's intake the same way).
    pub exposed: bool,
}

fn push(
    state: &mut State,
    events: &mut Vec<Event>,
    actor: &str,
    now: DateTime<Utc>,
    kind: EventKind,
) -> Result<u64, String> {
    super::core::record(state, events, actor, now, kind)
        .map_err(|e| format!("the alert could not be recorded: {e}"))
}

/// The severity an alert opens an incident at, and why.
pub fn classify(rules: &Rules, alert: &Alert) -> Classification {
    if !intake::has_classifier_fields(&alert.context)
        && let Some(label) = &alert.severity_label
        && let Some(severity) = intake::severity_from_label(label)
    {
        return Classification::Incident {
            severity,
            rule: None,
            why: format!("the alert's own severity '{label}' (it carries no impact figures)"),
        };
    }
    rules.policy.classify(&alert.context)
}

/// Decides every alert of one request into `events`, folding them into `state`.
pub fn decide(
    state: &mut State,
    events: &mut Vec<Event>,
    rules: &Rules,
    now: DateTime<Utc>,
    req: &IntakeRequest,
) -> IntakeAnswer {
    let mut outcomes = Vec::with_capacity(req.alerts.len());
    for (alert, may_resolve) in &req.alerts {
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
            outcome,
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
            let verdict = classify(rules, alert);
            let severity = match &verdict {
                Classification::Informational { why, .. } => {
                    return Ok(outcome(
                        "informational",
                        None,
                        state,
                        format!("informational: {why}; no incident opened"),
                    ));
                }
                Classification::Incident { severity, .. } => *severity,
            };
            let r = state.next_reference();
            let service = alert
                .context
                .service
                .as_ref()
                .map(|s| intake::clip(s.trim(), 64));
            push(
                state,
                events,
                source,
                now,
                EventKind::Declared {
                    incident: r,
                    title: summary.clone(),
                    service: service.filter(|s| !s.is_empty()),
                    severity,
                    restricted: false,
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
                    },
                )?;
            }
            let by_alert = alert
                .details
                .get("alertname")
                .and_then(|n| rules.runbooks.get(n));
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

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    let message = message.into();
    (
        status,
        axum::Json(json!({ "status": "error", "error": message })),
    )
        .into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Checks a bearer token (or an Events v2 routing key) against the intake token and the
/// people's tokens (a responder's or admin's: alerts change incidents); the answer to send
/// when it does not pass.
fn refusal(app: &App, presented: Option<&str>) -> Option<Response> {
    let auth = &app.intake;
    let known = |t: &str| {
        auth.token
            .as_deref()
            .is_some_and(|k| super::auth::constant_time_eq(k.as_bytes(), t.as_bytes()))
            || app.auth.may_post_alerts(t)
    };
    let required = auth.exposed || auth.token.is_some();
    if !required {
        return None;
    }
    match presented {
        Some(t) if known(t) => None,
        Some(_) => Some(refuse(
            StatusCode::UNAUTHORIZED,
            "the intake token is wrong",
        )),
        None if auth.token.is_none() && !app.auth.has_tokens() => Some(refuse(
            StatusCode::FORBIDDEN,
            "alert intake is closed: this server listens beyond loopback and has no intake \
             token (start it with --intake-token or WARROOM_INTAKE_TOKEN)",
        )),
        None => Some(refuse(
            StatusCode::UNAUTHORIZED,
            "alert intake needs a token: send `Authorization: Bearer <token>`",
        )),
    }
}

async fn submit(app: &App, alerts: Vec<(Alert, bool)>) -> Result<Vec<AlertOutcome>, Response> {
    let (tx, rx) = oneshot::channel();
    let req = IntakeRequest { alerts, reply: tx };
    if app.commands.send(CoreInput::Intake(req)).await.is_err() {
        return Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down; nothing was recorded, retry",
        ));
    }
    match rx.await {
        Ok(Ok(outcomes)) => Ok(outcomes),
        Ok(Err(message)) => Err(refuse(StatusCode::SERVICE_UNAVAILABLE, message)),
        Err(_) => Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down; nothing was recorded, retry",
        )),
    }
}

fn bad_body(e: intake::IntakeError) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "status": "invalid",
            "error": e.to_string(),
            "field": e.field,
        })),
    )
        .into_response()
}

fn accepted(outcomes: Vec<AlertOutcome>) -> Response {
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({ "status": "ok", "alerts": outcomes })),
    )
        .into_response()
}

pub(crate) async fn alertmanager(
    AxState(app): AxState<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = refusal(&app, bearer(&headers)) {
        return r;
    }
    let alerts = match intake::parse_alertmanager(&body) {
        Ok(a) => a,
        Err(e) => return bad_body(e),
    };
    let all_resolved = alerts
        .iter()
        .all(|a| a.action == intake::AlertAction::Resolve);
    let alerts = alerts.into_iter().map(|a| (a, all_resolved)).collect();
    match submit(&app, alerts).await {
        Ok(o) => accepted(o),
        Err(r) => r,
    }
}

pub(crate) async fn pagerduty(
    AxState(app): AxState<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match &app.intake.pagerduty_secret {
        Some(secret) => {
            let sig = headers
                .get("x-pagerduty-signature")
                .and_then(|v| v.to_str().ok());
            if let Err(e) = intake::verify_pagerduty_signature(secret.as_bytes(), &body, sig) {
                return refuse(StatusCode::UNAUTHORIZED, e.to_string());
            }
        }
        None if app.intake.exposed => {
            return refuse(
                StatusCode::FORBIDDEN,
                "PagerDuty intake is closed: this server listens beyond loopback and has no \
                 signing secret (start it with --pagerduty-secret or WARROOM_PAGERDUTY_SECRET)",
            );
        }
        None => {}
    }
    let alerts = match intake::parse_pagerduty_v3(&body) {
        Ok(a) => a,
        Err(e) => return bad_body(e),
    };
    if alerts.is_empty() {
        return (
            StatusCode::ACCEPTED,
            axum::Json(json!({ "status": "ignored", "alerts": [] })),
        )
            .into_response();
    }
    match submit(&app, alerts.into_iter().map(|a| (a, true)).collect()).await {
        Ok(o) => accepted(o),
        Err(r) => r,
    }
}

/// The PagerDuty Events API v2 shape; answers as PagerDuty does (`status`, `message`,
/// `dedup_key`), plus what warroom did.
pub(crate) async fn enqueue(
    AxState(app): AxState<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let alert = match intake::parse_events_v2(&body) {
        Ok(a) => a,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": [e.to_string()],
                    "field": e.field,
                })),
            )
                .into_response();
        }
    };
    let key = intake::routing_key(&body);
    if let Some(r) = refusal(&app, bearer(&headers).or(key.as_deref())) {
        return r;
    }
    let dedup = alert
        .dedup_key
        .strip_prefix("events:")
        .unwrap_or(&alert.dedup_key)
        .to_string();
    match submit(&app, vec![(alert, true)]).await {
        Ok(o) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({
                "status": "success",
                "message": "Event processed",
                "dedup_key": dedup,
                "alerts": o,
            })),
        )
            .into_response(),
        Err(r) => r,
    }
}
