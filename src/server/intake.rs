//! Alert intake on the feed's port: `POST /webhook/alertmanager`, `POST /webhook/pagerduty`
//! and `POST /v2/enqueue` (and, beside them, `POST /webhook/deploy`: `deploys.rs`). Bodies are parsed and checked in [`crate::intake`]; here they are
//! authenticated and handed to the core, which decides them against the state (in
//! `alerts`), all alerts of one body together or none of them; the outcomes are answered.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::App;
pub use super::alerts::AlertOutcome;
use crate::intake::{self, Alert};

/// Largest webhook body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

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

pub(super) fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    let message = message.into();
    (
        status,
        axum::Json(json!({ "status": "error", "error": message })),
    )
        .into_response()
}

pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
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
pub(super) async fn refusal(app: &App, presented: Option<&str>) -> Option<Response> {
    let auth = &app.intake;
    let required = auth.exposed || auth.token.is_some();
    if !required {
        return None;
    }
    let known = match presented {
        Some(t) => {
            auth.token
                .as_deref()
                .is_some_and(|k| super::auth::constant_time_eq(k.as_bytes(), t.as_bytes()))
                || app.auth.may_post_alerts_fresh(t).await
        }
        None => false,
    };
    match presented {
        Some(_) if known => None,
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

/// `source`: which webhook, for the metrics (`warroom_alerts_received_total`).
async fn submit(
    app: &App,
    source: &str,
    alerts: Vec<(Alert, bool)>,
) -> Result<Vec<AlertOutcome>, Response> {
    match app.decide_alerts(alerts).await {
        Some(Ok(outcomes)) => {
            for o in &outcomes {
                app.metrics.alert(source, &o.outcome);
            }
            Ok(outcomes)
        }
        Some(Err(message)) => Err(refuse(StatusCode::SERVICE_UNAVAILABLE, message)),
        None => Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down; nothing was recorded, retry",
        )),
    }
}

pub(super) fn bad_body(e: intake::IntakeError) -> Response {
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
    if let Some(r) = refusal(&app, bearer(&headers)).await {
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
    match submit(&app, "alertmanager", alerts).await {
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
    match submit(
        &app,
        "pagerduty",
        alerts.into_iter().map(|a| (a, true)).collect(),
    )
    .await
    {
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
    if let Some(r) = refusal(&app, bearer(&headers).or(key.as_deref())).await {
        return r;
    }
    let dedup = alert
        .dedup_key
        .strip_prefix("events:")
        .unwrap_or(&alert.dedup_key)
        .to_string();
    match submit(&app, "events_v2", vec![(alert, true)]).await {
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
