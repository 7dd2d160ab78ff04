//! The connection to a feed: hello with the last sequence number seen, a replica kept by
//! the same model fold the server runs, reconnection with exponential backoff and jitter,
//! and commands queued while disconnected and sent exactly once (by id) afterwards.

mod fetch;
pub mod outbox;

pub use fetch::fetch_log;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::model::{ApplyError, Command, Event, IncidentRef, State};
use crate::protocol::{self, Answer, ClientMessage, ErrorCode, Presence, ServerMessage, SyncMode};
use outbox::{Outbox, Queued};

/// The feed address used when none is configured.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7654";

/// Turns what people type (`host:port`, `ws://host:port`, `http://host:port/`) into the
/// feed URL; `ws://host:port` means path `/feed`.
pub fn feed_url(input: &str) -> Result<String, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("the server address is empty".into());
    }
    let (scheme, rest) = match s.split_once("://") {
        Some((sch, rest)) => (sch.to_ascii_lowercase(), rest),
        None => ("ws".to_string(), s),
    };
    let scheme = match scheme.as_str() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        other => {
            return Err(format!(
                "unsupported scheme '{other}://' in server address '{input}' (use ws:// or wss://)"
            ));
        }
    };
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if host.is_empty() {
        return Err(format!("no host in server address '{input}'"));
    }
    let path = if path.is_empty() || path == "/" {
        "/feed"
    } else {
        path
    };
    Ok(format!("{scheme}://{host}{path}"))
}

/// When to try again after a lost connection.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(15),
        }
    }
}

impl Backoff {
    /// Exponential growth with "equal jitter": half the step is fixed, half random, so a
    /// room full of consoles cut at once does not reconnect in lockstep.
    pub fn delay(&self, attempt: u32) -> Duration {
        let step = self
            .initial
            .saturating_mul(2u32.saturating_pow(attempt.min(20)))
            .min(self.max);
        let half = step / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// How to reach a feed and as whom.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub url: String,
    pub name: String,
    pub token: Option<String>,
    /// Reconnect after a failure (consoles); `false` ends the client at the first one (CLI).
    pub reconnect: bool,
    pub backoff: Backoff,
    /// Resume after this sequence number instead of asking for a snapshot.
    pub last_seq: Option<u64>,
    /// Keep queued commands on disk here.
    pub outbox: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// What `wss://` trusts (see [`crate::tls::client_config`]); `None`: the system's roots.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Added to the reason when the connection is refused (nothing listens at the address):
    /// how to start a feed there. Scripts, which give up at once, say it; a console retries.
    pub refused_hint: Option<String>,
}

impl ClientConfig {
    pub fn new(url: impl Into<String>, name: impl Into<String>) -> Self {
        ClientConfig {
            url: url.into(),
            name: name.into(),
            token: None,
            reconnect: true,
            backoff: Backoff::default(),
            last_seq: None,
            outbox: None,
            connect_timeout: Duration::from_secs(10),
            tls: None,
            refused_hint: None,
        }
    }
}

/// The connection as a person should see it in the status bar.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnState {
    Connecting,
    Live,
    /// Waiting before the next attempt; `queued` commands wait for the connection.
    Reconnecting {
        attempt: u32,
        retry_at: Instant,
        reason: String,
        queued: usize,
    },
    /// Given up: not reconnecting (CLI mode, a refused token, an unsupported protocol).
    Stopped {
        reason: String,
    },
}

/// What the connection reports, in order.
#[derive(Debug, Clone)]
pub enum Update {
    Conn(ConnState),
    Welcome {
        name: String,
        head_seq: u64,
        mode: SyncMode,
    },
    /// What the feed tells its consoles of its policy (on-call, escalation, cadences).
    Policy(Box<crate::model::policy::PublicPolicy>),
    /// Replace the replica's state with this one.
    Snapshot(State),
    /// The next event; always contiguous with what came before.
    Event(Event),
    /// Caught up to `seq`; live from here.
    Synced(u64),
    Presence(Vec<Presence>),
    /// The server's answer to a command (including ones queued by an earlier run).
    Answer {
        id: String,
        command: Command,
        answer: Answer,
    },
    /// An error not tied to a command.
    ServerError {
        code: ErrorCode,
        message: String,
    },
    /// How many commands are waiting to be sent or answered.
    Queued(usize),
}

enum Request {
    Submit {
        id: String,
        command: Command,
        reply: Option<oneshot::Sender<Answer>>,
    },
    Resync,
    Focus(Option<IncidentRef>),
}

/// A handle on a running connection task. Dropping it closes the connection.
pub struct Client {
    requests: mpsc::UnboundedSender<Request>,
    updates: mpsc::UnboundedReceiver<Update>,
}

impl Client {
    /// Starts the connection task.
    pub fn start(config: ClientConfig) -> Client {
        let (req_tx, req_rx) = mpsc::unbounded_channel();
        let (upd_tx, upd_rx) = mpsc::unbounded_channel();
        tokio::spawn(run(config, req_rx, upd_tx));
        Client {
            requests: req_tx,
            updates: upd_rx,
        }
    }

    /// Queues a command and returns its id and a receiver for the server's answer. The
    /// command is kept until answered and survives reconnections.
    pub fn submit(&self, command: Command) -> (String, oneshot::Receiver<Answer>) {
        let id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        let _ = self.requests.send(Request::Submit {
            id: id.clone(),
            command,
            reply: Some(tx),
        });
        (id, rx)
    }

    /// Queues a command whose answer arrives only as an [`Update::Answer`].
    pub fn send(&self, command: Command) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let _ = self.requests.send(Request::Submit {
            id: id.clone(),
            command,
            reply: None,
        });
        id
    }

    /// Tells the feed which incident this console is viewing (kept across reconnects).
    pub fn focus(&self, incident: Option<IncidentRef>) {
        let _ = self.requests.send(Request::Focus(incident));
    }

    /// Queues a command under an id the caller chose (unique per sender), so the caller can
    /// match the [`Update::Answer`] to what it sent.
    pub fn send_with_id(&self, id: String, command: Command) {
        let _ = self.requests.send(Request::Submit {
            id,
            command,
            reply: None,
        });
    }

    /// Asks for a fresh snapshot (after the replica found it cannot fold an event).
    pub fn resync(&self) {
        let _ = self.requests.send(Request::Resync);
    }

    /// The next update; `None` once the connection task has stopped.
    pub async fn next(&mut self) -> Option<Update> {
        self.updates.recv().await
    }

    /// Updates already waiting, without blocking (for draining before a redraw).
    pub fn try_next(&mut self) -> Option<Update> {
        self.updates.try_recv().ok()
    }
}

/// A replica of the feed's state, kept by applying updates with the same model fold.
#[derive(Debug, Clone, Default)]
pub struct Replica {
    pub state: State,
    pub presence: Vec<Presence>,
    /// The name the server knows us by.
    pub me: Option<String>,
    pub synced: bool,
    pub queued: usize,
    /// The feed's policy as it last told us (absent from a feed that does not send it).
    pub policy: Option<crate::model::policy::PublicPolicy>,
}

impl Replica {
    /// Applies one update. An error means the replica diverged and must resync.
    pub fn apply(&mut self, u: &Update) -> Result<(), ApplyError> {
        match u {
            Update::Welcome { name, .. } => {
                self.me = Some(name.clone());
                self.synced = false;
            }
            Update::Policy(p) => self.policy = Some((**p).clone()),
            Update::Snapshot(s) => self.state = s.clone(),
            Update::Event(e) => self.state.apply(e)?,
            Update::Synced(_) => self.synced = true,
            Update::Presence(p) => self.presence = p.clone(),
            Update::Conn(ConnState::Live) => {}
            Update::Conn(_) => self.synced = false,
            Update::Queued(n) => self.queued = *n,
            Update::Answer { .. } | Update::ServerError { .. } => {}
        }
        Ok(())
    }
}

struct Pending {
    queued: Queued,
    reply: Option<oneshot::Sender<Answer>>,
}

enum Ended {
    /// Every handle was dropped.
    Shutdown,
    /// The connection failed or was lost; worth retrying.
    Lost { reason: String, was_synced: bool },
    /// Retrying will not help.
    Fatal(String),
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Task {
    config: ClientConfig,
    requests: mpsc::UnboundedReceiver<Request>,
    updates: mpsc::UnboundedSender<Update>,
    last_seq: Option<u64>,
    pending: VecDeque<Pending>,
    outbox: Outbox,
    focus: Option<IncidentRef>,
    /// The feed `last_seq` and the queued commands belong to.
    feed_id: Option<String>,
}

async fn run(
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
    };
    task.emit(Update::Queued(task.pending.len()));
    task.main().await;
}

impl Task {
    fn emit(&self, u: Update) {
        let _ = self.updates.send(u);
    }

    async fn main(&mut self) {
        let mut attempt: u32 = 0;
        self.emit(Update::Conn(ConnState::Connecting));
        loop {
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
                    }
                    reason
                }
            };
            if !self.config.reconnect {
                self.stop(reason);
                return;
            }
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
            // Keep taking commands while waiting; they join the queue.
            let sleep = tokio::time::sleep_until(retry_at);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => break,
                    req = self.requests.recv() => match req {
                        None => return,
                        Some(r) => { self.enqueue(r); }
                    },
                }
            }
            self.emit(Update::Conn(ConnState::Connecting));
        }
    }

    fn stop(&mut self, reason: String) {
        self.emit(Update::Conn(ConnState::Stopped { reason }));
        // Dropping the reply senders tells waiting submitters there will be no answer.
        for p in self.pending.drain(..) {
            drop(p.reply);
        }
    }

    async fn connect(&mut self) -> Result<Ws, String> {
        let cfg = WebSocketConfig::default()
            .max_message_size(Some(64 << 20))
            .max_frame_size(Some(16 << 20));
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

    /// Adds a command to the queue (on disk first, when there is a disk outbox).
    fn enqueue(&mut self, req: Request) -> Option<usize> {
        match req {
            Request::Submit { id, command, reply } => {
                let frame = ClientMessage::Command {
                    id: id.clone(),
                    command: command.clone(),
                };
                let size = serde_json::to_string(&frame).map_or(usize::MAX, |t| t.len());
                if size > protocol::MAX_FRAME_BYTES {
                    // The feed would refuse it without being able to say which command it
                    // was; refuse it here, with the reason, instead of queueing it forever.
                    let answer = Answer::Error {
                        code: ErrorCode::FrameTooLarge,
                        message: format!(
                            "the command is {size} bytes; the feed accepts at most {}",
                            protocol::MAX_FRAME_BYTES
                        ),
                    };
                    if let Some(tx) = reply {
                        let _ = tx.send(answer.clone());
                    }
                    self.emit(Update::Answer {
                        id,
                        command,
                        answer,
                    });
                    return None;
                }
                let queued = match self.outbox.push(&id, &command, self.feed_id.as_deref()) {
                    Ok(q) => q,
                    Err(e) => {
                        self.emit(Update::ServerError {
                            code: ErrorCode::Unavailable,
                            message: format!("could not write the outbox ({e}); the command is kept in memory only"),
                        });
                        Queued {
                            id,
                            command,
                            order: 0,
                            feed_id: self.feed_id.clone(),
                        }
                    }
                };
                self.pending.push_back(Pending { queued, reply });
                self.emit(Update::Queued(self.pending.len()));
                Some(self.pending.len() - 1)
            }
            Request::Resync => {
                self.last_seq = None;
                None
            }
            Request::Focus(f) => {
                self.focus = f;
                None
            }
        }
    }

    async fn session(&mut self, mut ws: Ws) -> Ended {
        let hello = ClientMessage::Hello {
            name: self.config.name.clone(),
            token: self.config.token.clone(),
            last_seq: self.last_seq,
            feed_id: self.feed_id.clone(),
            protocol: protocol::PROTOCOL_VERSION,
        };
        if let Err(e) = send_json(&mut ws, &hello).await {
            return Ended::Lost {
                reason: e,
                was_synced: false,
            };
        }
        let mut synced = false;
        let mut welcomed = false;
        let lost = |reason: String, synced: bool| Ended::Lost {
            reason,
            was_synced: synced,
        };
        loop {
            tokio::select! {
                frame = ws.next() => {
                    let text = match frame {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(c))) => {
                            let why = c.map(|c| c.reason.to_string()).filter(|r| !r.is_empty())
                                .unwrap_or_else(|| "closed by the server".into());
                            return lost(format!("connection closed: {why}"), synced);
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => return lost(format!("connection lost: {e}"), synced),
                        None => return lost("connection lost".into(), synced),
                    };
                    let msg: ServerMessage = match serde_json::from_str(&text) {
                        Ok(m) => m,
                        Err(e) => {
                            tracing::warn!("ignoring a frame this client does not understand: {e}");
                            continue;
                        }
                    };
                    match msg {
                        ServerMessage::Welcome { name, head_seq, mode, feed_id, .. } => {
                            welcomed = true;
                            self.arrived_at(feed_id);
                            self.emit(Update::Welcome { name, head_seq, mode });
                        }
                        ServerMessage::Policy { policy } => self.emit(Update::Policy(Box::new(policy))),
                        ServerMessage::Snapshot { state } => {
                            self.last_seq = Some(state.seq);
                            self.emit(Update::Snapshot(state));
                        }
                        ServerMessage::Event { event } => {
                            let last = self.last_seq.unwrap_or(0);
                            if event.seq <= last {
                                continue; // already have it
                            }
                            if event.seq != last + 1 {
                                // Never skip: reconnect and resume from what we have.
                                return lost(format!("gap in the feed after {last}; resuming"), synced);
                            }
                            self.last_seq = Some(event.seq);
                            self.emit(Update::Event(event));
                        }
                        ServerMessage::Synced { seq } => {
                            synced = true;
                            self.emit(Update::Synced(seq));
                            self.emit(Update::Conn(ConnState::Live));
                            if self.focus.is_some()
                                && let Err(e) = send_json(&mut ws, &ClientMessage::Focus { incident: self.focus }).await
                            {
                                return lost(e, synced);
                            }
                            // Everything queued goes out now, in order; re-sent ones get
                            // their first answer back.
                            for i in 0..self.pending.len() {
                                if let Err(e) = self.send_pending(&mut ws, i).await {
                                    return lost(e, synced);
                                }
                            }
                        }
                        ServerMessage::Ok { id, seqs, incident } => {
                            self.answered(&id, Answer::Ok { seqs, incident });
                        }
                        ServerMessage::Error { id: Some(id), code, message } => {
                            if matches!(code, ErrorCode::Unavailable | ErrorCode::RateLimited) {
                                // Nothing was recorded; it stays queued and goes again after
                                // the reconnect (and its backoff).
                                return lost(message, synced);
                            }
                            self.answered(&id, Answer::Error { code, message });
                        }
                        ServerMessage::Error { id: None, code, message } => {
                            // A refused hello is refused again on every retry: stop and say why.
                            let refused_hello = !welcomed && code == ErrorCode::Invalid;
                            if refused_hello
                                || matches!(code, ErrorCode::Unauthorized | ErrorCode::UnsupportedProtocol)
                            {
                                return Ended::Fatal(message);
                            }
                            self.emit(Update::ServerError { code, message });
                        }
                        ServerMessage::Presence { present } => self.emit(Update::Presence(present)),
                    }
                }
                req = self.requests.recv() => {
                    let Some(req) = req else {
                        let _ = ws.close(None).await;
                        return Ended::Shutdown;
                    };
                    let resync = matches!(req, Request::Resync);
                    let focus = matches!(req, Request::Focus(_));
                    if let Some(i) = self.enqueue(req)
                        && synced
                        && let Err(e) = self.send_pending(&mut ws, i).await
                    {
                        return lost(e, synced);
                    }
                    if focus
                        && synced
                        && let Err(e) = send_json(&mut ws, &ClientMessage::Focus { incident: self.focus }).await
                    {
                        return lost(e, synced);
                    }
                    if resync {
                        let _ = ws.close(None).await;
                        return lost("resynchronising".into(), synced);
                    }
                }
            }
        }
    }

    /// Notes which feed this connection reached. If it is not the one this client knew
    /// (the address now serves another log), commands written for the old feed are set
    /// aside, kept on disk and reported, never replayed against different incidents.
    fn arrived_at(&mut self, feed_id: String) {
        let changed = self.feed_id.as_ref().is_some_and(|old| *old != feed_id);
        if changed {
            tracing::warn!("{} now serves a different feed", self.config.url);
        }
        let mut kept = VecDeque::new();
        let mut aside = Vec::new();
        for p in self.pending.drain(..) {
            match &p.queued.feed_id {
                Some(f) if *f != feed_id => aside.push(p),
                _ => kept.push_back(p),
            }
        }
        self.pending = kept;
        for p in &mut self.pending {
            p.queued.feed_id.get_or_insert_with(|| feed_id.clone());
        }
        let n = aside.len();
        for p in aside {
            let kept_at = self.outbox.set_aside(&p.queued.id);
            let place = kept_at
                .map(|a| format!(" (kept in {})", a.display()))
                .unwrap_or_default();
            let answer = Answer::Error {
                code: ErrorCode::Conflict,
                message: format!(
                    "not sent: it was written for another feed that used to be at this address{place}"
                ),
            };
            if let Some(tx) = p.reply {
                let _ = tx.send(answer.clone());
            }
            self.emit(Update::Answer {
                id: p.queued.id,
                command: p.queued.command,
                answer,
            });
        }
        if changed || n > 0 {
            let aside_note = if n > 0 {
                format!("; {n} queued commands for the old feed were set aside, not sent")
            } else {
                String::new()
            };
            self.emit(Update::ServerError {
                code: ErrorCode::Conflict,
                message: format!(
                    "{} now serves a different feed: showing its incidents{aside_note}",
                    self.config.url
                ),
            });
            self.emit(Update::Queued(self.pending.len()));
        }
        self.feed_id = Some(feed_id);
    }

    async fn send_pending(&self, ws: &mut Ws, i: usize) -> Result<(), String> {
        let Some(p) = self.pending.get(i) else {
            return Ok(());
        };
        let msg = ClientMessage::Command {
            id: p.queued.id.clone(),
            command: p.queued.command.clone(),
        };
        send_json(ws, &msg).await
    }

    fn answered(&mut self, id: &str, answer: Answer) {
        let Some(pos) = self.pending.iter().position(|p| p.queued.id == id) else {
            return; // an answer to a duplicate send, already delivered
        };
        let Some(p) = self.pending.remove(pos) else {
            return;
        };
        self.outbox.remove(id);
        if let Some(tx) = p.reply {
            let _ = tx.send(answer.clone());
        }
        self.emit(Update::Answer {
            id: id.to_string(),
            command: p.queued.command,
            answer,
        });
        self.emit(Update::Queued(self.pending.len()));
    }
}

async fn send_json(ws: &mut Ws, msg: &ClientMessage) -> Result<(), String> {
    let text = serde_json::to_string(msg).map_err(|e| format!("encoding a frame: {e}"))?;
    ws.send(Message::Text(text.into()))
        .await
        .map_err(|e| format!("connection lost while sending: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_urls() {
        assert_eq!(feed_url("ws://h:1").unwrap(), "ws://h:1/feed");
        assert_eq!(feed_url("h:1").unwrap(), "ws://h:1/feed");
        assert_eq!(feed_url("http://h:1/").unwrap(), "ws://h:1/feed");
        assert_eq!(feed_url("wss://h:1/x/feed").unwrap(), "wss://h:1/x/feed");
        assert!(feed_url("ftp://h").unwrap_err().contains("ftp://"));
        assert!(feed_url("").is_err());
    }

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        for attempt in 0..30 {
            let d = b.delay(attempt);
            let step = (100u64 << attempt.min(20)).min(2000);
            assert!(d >= Duration::from_millis(step / 2), "{attempt}: {d:?}");
            assert!(d <= Duration::from_millis(step), "{attempt}: {d:?}");
        }
    }
}
