//! The deploy webhook, `POST /webhook/deploy`: a deploy pipeline tells the feed it shipped a
//! service (the body: [`crate::intake::parse_deploy`]). It is recorded as a `record_deploy`
//! command by the sender the body names (`by`, else `deploys`), with the same intake token
//! as alerts; an `Idempotency-Key` header makes a pipeline's retry record it once.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::oneshot;

use super::App;
use super::core::{CommandRequest, CoreInput};
use super::intake::{bad_body, bearer, refusal, refuse};
use crate::model::Command;
use crate::protocol::Answer;

/// Who a deploy is recorded as when its body does not say.
pub const DEFAULT_DEPLOYER: &str = "deploys";
/// Longest `Idempotency-Key` header taken.
const MAX_KEY: usize = 200;

pub(crate) async fn deploy(
    AxState(app): AxState<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = refusal(&app, bearer(&headers)).await {
        return r;
    }
    let notice = match crate::intake::parse_deploy(&body) {
        Ok(n) => n,
        Err(e) => return bad_body(e),
    };
    let id = match headers.get("idempotency-key").map(|v| v.to_str()) {
        None => uuid::Uuid::new_v4().to_string(),
        Some(Ok(k)) if !k.trim().is_empty() && k.len() <= MAX_KEY => format!("deploy:{}", k.trim()),
        Some(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("the Idempotency-Key header must be 1 to {MAX_KEY} visible characters"),
            );
        }
    };
    let (reply, answer) = oneshot::channel();
    let req = CommandRequest {
        actor: notice
            .by
            .clone()
            .unwrap_or_else(|| DEFAULT_DEPLOYER.to_string()),
        sees_all: false,
        id,
        command: Command::RecordDeploy {
            service: notice.service.clone(),
            version: notice.version.clone(),
            environment: notice.environment.clone(),
            note: notice.note.clone(),
        },
        reply,
    };
    if app.commands.send(CoreInput::Command(req)).await.is_err() {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down; nothing was recorded, retry",
        );
    }
    match answer.await {
        Ok(Answer::Ok { seqs, .. }) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({
                "status": "ok",
                "seq": seqs.first(),
                "service": notice.service,
                "version": notice.version,
            })),
        )
            .into_response(),
        Ok(Answer::Error { code, message }) => {
            let status = match code {
                crate::protocol::ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            refuse(status, message)
        }
        Err(_) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server stopped before recording the deploy; retry",
        ),
    }
}
