//! The connection task: opens the outbox, connects (TLS when `wss://`), runs a session, and
//! after a lost connection waits with backoff and jitter (still taking commands) before the
//! next attempt; stops when every handle is gone or retrying cannot help.

use std::collections::VecDeque;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::outbox::{Outbox, Queued};
use super::{ClientConfig, ConnState, Request, Update};
use crate::model::IncidentRef;
use crate::protocol::{Answer, ErrorCode};

/// At most this long between losing one replica and trying the next (a random part of
/// it, so consoles spread out).
const FAILOVER_JITTER: std::time::Duration = std::time::Duration::from_millis(500);

/// A command waiting for its answer, with whoever waits for it.
pub(super) struct Pending {
    pub(super) queued: Queued,
    pub(super) reply: Option<oneshot::Sender<Answer>>,
}

/// How a session ended, and so what the task does next.
pub(super) enum Ended {
    /// Every handle was dropped.
    Shutdown,
    /// The connection failed or was lost; worth retrying.
    Lost { reason: String, was_synced: bool },
    /// Retrying will not help.
    Fatal(String),
}

/// One connection to the feed, plain or TLS.
pub(super) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The connection task's state, kept across reconnects: where it is in the log, which feed
/// that is, and the commands waiting for answers.
pub(super) struct Task {
    pub(super) config: ClientConfig,
    pub(super) requests: mpsc::UnboundedReceiver<Request>,
    pub(super) updates: mpsc::UnboundedSender<Update>,
    pub(super) last_seq: Option<u64>,
    pub(super) pending: VecDeque<Pending>,
    pub(super) outbox: Outbox,
    pub(super) focus: Option<IncidentRef>,
    /// The feed `last_seq` and the queued commands belong to.
    pub(super) feed_id: Option<String>,
    /// Queries waiting for their answer (in memory only; asked again after a reconnect).
    pub(super) queries: Vec<super::query::Asked>,
}

pub(super) async fn run(
    config: ClientConfig,
    requests: mpsc::UnboundedReceiver<Request>,
    updates: mpsc::UnboundedSender<Update>,
) {
    let (outbox, waiting) = match &config.outbox {
        Some(dir) => match Outbox::open(dir) {
            Ok(v) => v,
            Err(e) => {
                let _ = updates.send(Update::ServerError {
                    code: ErrorCode::Unavailable,
                    message: format!(
                        "outbox {} cannot be opened ({e}); queued commands are kept in memory only",
                        dir.display()
                    ),
                });
                (Outbox::in_memory(), Vec::new())
            }
        },
        None => (Outbox::in_memory(), Vec::new()),
    };
    let mut task = Task {
        last_seq: config.last_seq,
        config,
        requests,
        updates,
        pending: waiting
            .into_iter()
            .map(|queued| Pending {
                queued,
                reply: None,
            })
            .collect(),
        outbox,
        focus: None,
        feed_id: None,
        queries: Vec::new(),
    };
    task.emit(Update::Queued(task.pending.len()));
    task.main().await;
}

impl Task {
    pub(super) fn emit(&self, u: Update) {
        let _ = self.updates.send(u);
    }

    async fn main(&mut self) {
        let mut attempt: u32 = 0;
        // The feed's replicas, and which one this client is on. After a failure the next
        // one is tried at once; only when every one has failed since the last connection
        // that reached sync does the client wait (with backoff), or a script give up.
        let addresses = self.config.addresses();
        let mut at = 0;
        let mut failed_in_turn = 0;
        let mut reasons: Vec<String> = Vec::new();
        self.emit(Update::Conn(ConnState::Connecting));
        loop {
            self.config.url = addresses[at].clone();
            if addresses.len() > 1 {
                self.emit(Update::Address(self.config.url.clone()));
            }
            let ended = match self.connect().await {
                Ok(ws) => self.session(ws).await,
                Err(reason) => Ended::Lost {
                    reason,
                    was_synced: false,
                },
            };
            let reason = match ended {
                Ended::Shutdown => return,
                Ended::Fatal(reason) => {
                    self.stop(reason);
                    return;
                }
                Ended::Lost { reason, was_synced } => {
                    if was_synced {
                        attempt = 0;
                        failed_in_turn = 0;
                        reasons.clear();
                    }
                    reason
                }
            };
            failed_in_turn += 1;
            reasons.push(reason.clone());
            at = (at + 1) % addresses.len();
            let every_one_failed = failed_in_turn >= addresses.len();
            if !self.config.reconnect && every_one_failed {
                // A script tried every replica: it says what each answered.
                self.stop(reasons.join("; "));
                return;
            }
            if !every_one_failed {
                // A failover: straight on to the next replica, after a moment's jitter so
                // a room full of consoles does not arrive there in one instant.
                let retry_at = Instant::now() + FAILOVER_JITTER.mul_f64(fastrand::f64());
                let reason = format!("{reason}; trying {}", addresses[at]);
                tracing::debug!("{reason}");
                self.emit(Update::Conn(ConnState::Reconnecting {
                    attempt: attempt.saturating_add(1),
                    retry_at,
                    reason,
                    queued: self.pending.len(),
                }));
                if !self.wait_until(retry_at).await {
                    return;
                }
                self.emit(Update::Conn(ConnState::Connecting));
                continue;
            }
            failed_in_turn = 0;
            reasons.clear();
            let delay = self.config.backoff.delay(attempt);
            attempt = attempt.saturating_add(1);
            let retry_at = Instant::now() + delay;
            tracing::debug!("connection lost ({reason}); retrying in {delay:?}");
            self.emit(Update::Conn(ConnState::Reconnecting {
                attempt,
                retry_at,
                reason,
                queued: self.pending.len(),
            }));
            if !self.wait_until(retry_at).await {
                return;
            }
            self.emit(Update::Conn(ConnState::Connecting));
        }
    }

    /// Waits until `at`, still taking commands (they join the queue). `false`: every
    /// handle is gone.
    async fn wait_until(&mut self, at: Instant) -> bool {
        let sleep = tokio::time::sleep_until(at);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return true,
                req = self.requests.recv() => match req {
                    None => return false,
                    Some(r) => { self.enqueue(r); }
                },
            }
        }
    }

    fn stop(&mut self, reason: String) {
        self.fail_queries(&reason);
        self.emit(Update::Conn(ConnState::Stopped { reason }));
        // Dropping the reply senders tells waiting submitters there will be no answer.
        for p in self.pending.drain(..) {
            drop(p.reply);
        }
    }

    async fn connect(&mut self) -> Result<Ws, String> {
        // The feed pages whatever is larger than this (protocol v2): a frame past it is a
        // broken feed, not something to make room for.
        let cfg = WebSocketConfig::default()
            .max_message_size(Some(crate::protocol::HARD_FRAME_BYTES))
            .max_frame_size(Some(crate::protocol::HARD_FRAME_BYTES));
        let url = self.config.url.clone();
        let connector = if url.starts_with("wss://") {
            let tls = match &self.config.tls {
                Some(t) => t.clone(),
                // The system's roots, read once per client.
                None => {
                    let t = crate::tls::client_config(None)
                        .map_err(|e| format!("cannot reach the warroom feed at {url}: {e:#}"))?;
                    self.config.tls = Some(t.clone());
                    t
                }
            };
            tokio_tungstenite::Connector::Rustls(tls)
        } else {
            tokio_tungstenite::Connector::Plain
        };
        match tokio::time::timeout(
            self.config.connect_timeout,
            tokio_tungstenite::connect_async_tls_with_config(
                url.as_str(),
                Some(cfg),
                true,
                Some(connector),
            ),
        )
        .await
        {
            Ok(Ok((ws, _))) => Ok(ws),
            Ok(Err(e)) => Err(match crate::tls::certificate_problem(&e) {
                Some(why) => format!("cannot connect to the warroom feed at {url}: {why}"),
                // What a TLS port answers to a plain upgrade.
                None if url.starts_with("ws://")
                    && matches!(
                        e,
                        tungstenite::Error::Protocol(
                            tungstenite::error::ProtocolError::HttparseError(_)
                        )
                    ) =>
                {
                    format!(
                        "cannot reach the warroom feed at {url}: {e} (if the feed serves TLS, \
                         use wss://)"
                    )
                }
                // Nothing listens there: say so first, the OS's words after.
                None if matches!(&e, tungstenite::Error::Io(io)
                    if io.kind() == std::io::ErrorKind::ConnectionRefused) =>
                {
                    let hint = self
                        .config
                        .refused_hint
                        .as_deref()
                        .map(|h| format!(". {h}"))
                        .unwrap_or_default();
                    format!("no feed at {url}: connection refused ({e}){hint}")
                }
                None => format!("cannot reach the warroom feed at {url}: {e}"),
            }),
            Err(_) => Err(format!(
                "cannot reach the warroom feed at {url}: no answer within {}s",
                self.config.connect_timeout.as_secs()
            )),
        }
    }
}
