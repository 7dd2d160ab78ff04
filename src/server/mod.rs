//! `warroom serve`: the shared feed. One port serves the WebSocket feed at `/feed` and
//! `GET /healthz`. Commands become events in the core, are appended durably, and only then
//! are acknowledged and fanned out to every session.

mod auth;
mod core;
mod presence;
mod session;

pub use auth::TokenTable;
pub use core::load_state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::State as AxState;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::{broadcast, mpsc, watch};

use crate::clock::{Clock, SystemClock};
use crate::model::Event;
use crate::protocol;
use crate::store::{EventStore, SqliteStore, StoreError};
use core::Published;
use presence::PresenceBoard;

/// Limits that keep one misbehaving client from hurting the others.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open WebSocket connections at most; more are answered 503.
    pub max_connections: usize,
    /// Events buffered for a session before it must resume from the log.
    pub broadcast_capacity: usize,
    /// Commands waiting for the core at most before senders wait.
    pub command_queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 10_000,
            broadcast_capacity: 4096,
            command_queue: 4096,
        }
    }
}

/// How to run a feed server.
#[derive(Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub tokens: Option<TokenTable>,
    pub clock: Arc<dyn Clock>,
    pub limits: Limits,
}

impl ServerConfig {
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        ServerConfig {
            listen,
            data_dir,
            tokens: None,
            clock: Arc::new(SystemClock),
            limits: Limits::default(),
        }
    }
}

/// Shared by every session.
pub(crate) struct App {
    published: Arc<Published>,
    commands: mpsc::Sender<core::CommandRequest>,
    reader: Arc<Mutex<SqliteStore>>,
    /// This feed's identity (see `Welcome::feed_id`).
    feed_id: String,
    presence: PresenceBoard,
    clock: Arc<dyn Clock>,
    tokens: Option<TokenTable>,
    shutdown: watch::Receiver<bool>,
    connections: AtomicUsize,
    limits: Limits,
}

/// Counts a connection while it is open.
pub(crate) struct ConnectionSlot<'a>(&'a AtomicUsize);

impl Drop for ConnectionSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl App {
    fn connection_slot(&self) -> ConnectionSlot<'_> {
        self.connections.fetch_add(1, Ordering::SeqCst);
        ConnectionSlot(&self.connections)
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

/// A server that is accepting connections.
pub struct RunningServer {
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    /// The URL clients connect to.
    pub fn url(&self) -> String {
        format!("ws://{}/feed", self.addr)
    }

    /// Stops accepting, closes every session, lets the core finish its last group, and waits.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.task.await.context("server task")?
    }

    /// Waits until the server stops by itself (it does not, short of an error).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("server task")?
    }

    /// A handle that can stop the server from elsewhere (a signal handler).
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }
}

/// Refuses to expose an unauthenticated feed beyond this machine.
pub fn check_exposure(listen: &SocketAddr, tokens: Option<&TokenTable>) -> anyhow::Result<()> {
    if !listen.ip().is_loopback() && tokens.is_none() {
        bail!(
            "refusing to listen on {listen} without tokens: anyone who can reach it could read \
             and change incidents.\n  Create a file with one `name token` line per person \
             (tokens of 16+ characters, e.g. from `openssl rand -hex 16`) and pass \
             --token-file FILE, or listen on 127.0.0.1."
        );
    }
    Ok(())
}

/// Opens the log, rebuilds state from it, binds and starts serving.
pub async fn start(config: ServerConfig) -> anyhow::Result<RunningServer> {
    check_exposure(&config.listen, config.tokens.as_ref())?;
    // Bind first: a taken port is found at once, before the log is opened and folded.
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let store = SqliteStore::open(&config.data_dir)
        .with_context(|| format!("opening the event log in {}", config.data_dir.display()))?;
    let state = load_state(&store).context("rebuilding state from the event log")?;
    tracing::info!(
        events = state.seq,
        incidents = state.incidents.len(),
        log = %store.path().display(),
        "state rebuilt from the event log"
    );
    let reader = store.reader()?;
    let feed_id = store.feed_id()?;
    let (events_tx, _) = broadcast::channel(config.limits.broadcast_capacity);
    let published = Arc::new(Published {
        state: RwLock::new(state.clone()),
        events: events_tx,
        commits: Default::default(),
    });
    let (cmd_tx, cmd_rx) = mpsc::channel(config.limits.command_queue);
    let core_published = published.clone();
    let core_clock = config.clock.clone();
    let core = std::thread::Builder::new()
        .name("warroom-core".into())
        .spawn(move || core::run(store, state, core_published, core_clock, cmd_rx))
        .context("starting the core thread")?;

    let addr = listener.local_addr()?;
    // Frames are small and answered at once: without TCP_NODELAY, Nagle's algorithm and
    // delayed acknowledgements add ~40 ms to every command.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY on an incoming connection: {e}");
        }
    });
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let app = Arc::new(App {
        published,
        commands: cmd_tx,
        reader: Arc::new(Mutex::new(reader)),
        feed_id,
        presence: PresenceBoard::default(),
        clock: config.clock.clone(),
        tokens: config.tokens.clone(),
        shutdown: shutdown_rx.clone(),
        connections: AtomicUsize::new(0),
        limits: config.limits.clone(),
    });
    let router = Router::new()
        .route("/feed", get(feed))
        .route("/healthz", get(healthz))
        .with_state(app);
    tracing::info!("listening on ws://{addr}/feed");
    let mut stop = shutdown_rx;
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
            .context("serving")?;
        // Every session has closed and dropped its command sender; the core drains and exits.
        tokio::task::spawn_blocking(move || core.join())
            .await
            .context("joining the core")?
            .map_err(|_| anyhow::anyhow!("the core thread panicked"))?;
        tracing::info!("stopped");
        Ok(())
    });
    Ok(RunningServer {
        addr,
        shutdown: shutdown_tx,
        task,
    })
}

async fn feed(ws: WebSocketUpgrade, AxState(app): AxState<Arc<App>>) -> Response {
    if app.connections.load(Ordering::SeqCst) >= app.limits.max_connections {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections\n").into_response();
    }
    ws.max_message_size(protocol::HARD_FRAME_BYTES)
        .max_frame_size(protocol::HARD_FRAME_BYTES)
        .read_buffer_size(16 * 1024)
        .write_buffer_size(16 * 1024)
        .on_upgrade(move |socket| session::run(socket, app))
}

async fn healthz(AxState(app): AxState<Arc<App>>) -> Response {
    let body = serde_json::json!({
        "status": "ok",
        "seq": app.published.head(),
        "connections": app.connections.load(Ordering::SeqCst),
        "commits": app.published.commits.load(Ordering::Relaxed),
        "version": env!("CARGO_PKG_VERSION"),
    });
    axum::Json(body).into_response()
}
