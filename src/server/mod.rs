//! `warroom serve`: the shared feed. One port serves the WebSocket feed at `/feed` and
//! `GET /healthz`. Commands become events in the core, are appended durably, and only then
//! are acknowledged and fanned out to every session. Here: what every session shares
//! (`App`) and the two plain routes. Beside it: how to run a feed (`config`), starting one
//! (`start`), and the handle of one that is serving (`running`).

mod alerts;
mod archive;
pub mod auth;
mod cluster;
mod config;
mod core;
mod deploys;
mod http;
pub mod intake;
mod limits;
mod metrics;
mod notify;
pub mod origin;
mod presence;
pub mod query;
mod rules;
mod running;
mod session;
mod start;
mod tls;

pub use auth::TokenTable;
pub use config::{ASK_ANSWERS_FOR, Limits, ServerConfig, StoreLocation, TlsFiles};
pub use core::{CHECKPOINT_EVERY, SYSTEM_ACTOR};
pub use intake::IntakeAuth;
pub use metrics::MetricsConfig;
pub use origin::OriginPolicy;
pub use rules::{
    BUILT_IN_RUNBOOKS, PolicySource, Rules, default_rules, load_rules, load_rules_with_source,
};
pub use running::RunningServer;
pub use session::board::KEEP as BOARD_KEEP;
pub use start::{check_exposure, start};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State as AxState;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::{mpsc, watch};

use crate::clock::Clock;
use crate::intake::Alert;
use crate::model::Event;
use crate::store::{LogReader, StoreError};
use alerts::IntakeAnswer;
use core::Published;
use presence::PresenceBoard;

/// Shared by every session.
pub(crate) struct App {
    published: Arc<Published>,
    commands: mpsc::Sender<core::CoreInput>,
    /// The log, read by catch-ups on a handle of its own (never the core's writer).
    reader: Arc<Mutex<Box<dyn LogReader>>>,
    /// The log again, for queries (a long export never holds up a catch-up).
    query_reader: Arc<Mutex<Box<dyn LogReader>>>,
    /// Archived incidents queries folded lately.
    archive: Arc<Mutex<archive::ArchiveCache>>,
    /// The policy (metrics divide pages by its default schedule).
    rules: Arc<Rules>,
    /// This feed's identity (see `Welcome::feed_id`).
    feed_id: String,
    /// The `policy` message every join gets, encoded once: this server's own policy (on a
    /// shared log, until the leader's is known).
    policy_frame: axum::extract::ws::Utf8Bytes,
    /// Which policy this server's own is.
    policy_source: PolicySource,
    presence: PresenceBoard,
    clock: Arc<dyn Clock>,
    auth: Arc<auth::Auth>,
    shutdown: watch::Receiver<bool>,
    connections: AtomicUsize,
    limits: Limits,
    /// Webhook requests, all senders together (`Limits::intake_per_second`).
    intake_rate: std::sync::Mutex<limits::RateLimiter>,
    intake: IntakeAuth,
    origins: OriginPolicy,
    /// On a log shared by several replicas: which one leads, and how far behind this is.
    cluster: Option<Arc<cluster::Health>>,
    /// On a shared log: the queue to the leader, which a follower's sessions hand their
    /// clients' commands to directly.
    forwarder: Option<cluster::Forwarder>,
    /// This server's own feed address (the leader's, on a log of its own).
    own_url: String,
    metrics: Arc<metrics::Metrics>,
    metrics_config: MetricsConfig,
}

/// Counts a connection while it is open.
pub(crate) struct ConnectionSlot<'a>(&'a AtomicUsize);

impl Drop for ConnectionSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl App {
    /// The `policy` frame a join is sent: the policy in use (on a shared log, the leader's,
    /// once known).
    fn policy_frame(&self) -> axum::extract::ws::Utf8Bytes {
        match self.cluster.as_ref().and_then(|health| health.policy()) {
            Some(policy) => policy.frame.clone(),
            None => self.policy_frame.clone(),
        }
    }

    /// The queue to the leader, while this replica follows (`None` on a feed of its own,
    /// and while this replica leads).
    fn following(&self) -> Option<&cluster::Forwarder> {
        let health = self.cluster.as_ref()?;
        if health.leading() {
            return None;
        }
        self.forwarder.as_ref()
    }

    fn connection_slot(&self) -> ConnectionSlot<'_> {
        self.connections.fetch_add(1, Ordering::SeqCst);
        ConnectionSlot(&self.connections)
    }

    /// Hands a webhook's alerts to the core, which decides them together with the commands
    /// of its batch; `None` when the core has stopped (the server is shutting down).
    async fn decide_alerts(&self, alerts: Vec<(Alert, bool)>) -> Option<IntakeAnswer> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let req = core::IntakeRequest { alerts, reply };
        self.commands
            .send(core::CoreInput::Intake(req))
            .await
            .ok()?;
        answer.await.ok()
    }

    async fn read_log(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        // SQLite reads are blocking; keep them off the async workers.
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            let reader = reader.lock().unwrap_or_else(|p| p.into_inner());
            reader.read_since(after, limit)
        })
        .await
        .unwrap_or_else(|e| Err(StoreError::ReaderStopped(e.to_string())))
    }
}

async fn feed(
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    AxState(app): AxState<Arc<App>>,
) -> Response {
    // Browsers send Origin; a page elsewhere must not open the feed with a responder's
    // credentials.
    let origin = headers.get(header::ORIGIN).map(|v| v.as_bytes());
    if let Err(reason) = app.origins.check(origin) {
        tracing::info!("refused a feed connection: {}", reason.trim_end());
        return (StatusCode::FORBIDDEN, reason).into_response();
    }
    if app.connections.load(Ordering::SeqCst) >= app.limits.max_connections {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections\n").into_response();
    }
    let l = &app.limits;
    ws.max_message_size(l.max_message_bytes)
        .max_frame_size(l.max_message_bytes)
        .read_buffer_size(l.read_buffer_bytes)
        .write_buffer_size(l.write_buffer_bytes)
        .on_upgrade(move |socket| session::run(socket, app))
}

async fn healthz(AxState(app): AxState<Arc<App>>) -> Response {
    let seq = app.published.head();
    let mut body = serde_json::json!({
        "status": "ok",
        "seq": seq,
        "connections": app.connections.load(Ordering::SeqCst),
        "commits": app.published.commits.load(Ordering::Relaxed),
        "version": env!("CARGO_PKG_VERSION"),
        "role": "leader",
        "behind": 0,
        "leader": app.own_url,
        "policy": app.policy_source.sha256,
        "own_policy": app.policy_source.sha256,
    });
    if let Some(health) = &app.cluster {
        body["role"] = if health.leading() {
            "leader"
        } else {
            "follower"
        }
        .into();
        body["behind"] = health.log_head().saturating_sub(seq).into();
        match health.leader() {
            Some(leader) => body["leader"] = leader.into(),
            None => {
                if let Some(o) = body.as_object_mut() {
                    o.remove("leader");
                }
            }
        }
        // The leader's policy is the one in use (this replica's own is beside it).
        if let Some(policy) = health.policy() {
            body["policy"] = policy.sha256.clone().into();
        }
    }
    axum::Json(body).into_response()
}
