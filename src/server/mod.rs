//! `warroom serve`: the shared feed. One port serves the WebSocket feed at `/feed` and
//! `GET /healthz`. Commands become events in the core, are appended durably, and only then
//! are acknowledged and fanned out to every session.

mod alerts;
mod archive;
pub mod auth;
mod cluster;
mod core;
mod http;
pub mod intake;
mod limits;
mod metrics;
mod notify;
pub mod origin;
mod presence;
pub mod query;
mod rules;
mod session;
mod tls;

pub use auth::TokenTable;
pub use core::{CHECKPOINT_EVERY, SYSTEM_ACTOR};
pub use intake::IntakeAuth;
pub use metrics::MetricsConfig;
pub use origin::OriginPolicy;
pub use rules::{
    BUILT_IN_RUNBOOKS, PolicySource, Rules, default_rules, load_rules, load_rules_with_source,
};
pub use session::board::KEEP as BOARD_KEEP;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::State as AxState;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{broadcast, mpsc, watch};

use crate::clock::{Clock, SystemClock};
use crate::intake::Alert;
use crate::model::Event;
use crate::protocol;
use crate::store::{EventStore, LogReader, PgStore, SqliteStore, StoreError};
use alerts::IntakeAnswer;
use core::Published;
use presence::PresenceBoard;

/// Limits that keep one misbehaving client from hurting the others. The defaults are safe
/// for a feed facing a company network; `docs/protocol.md` (Limits) documents them.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open WebSocket connections at most; more are answered 503.
    pub max_connections: usize,
    /// Open HTTP connections that are not (yet) WebSocket sessions at most; more are
    /// closed as soon as they are accepted.
    pub max_http_connections: usize,
    /// Longest a client may take to send a request's head (the upgrade included); then
    /// the connection is closed.
    pub header_read_timeout: Duration,
    /// Events buffered for a session before it must resume from the log.
    pub broadcast_capacity: usize,
    /// Commands waiting for the core at most before senders wait.
    pub command_queue: usize,
    /// Largest WebSocket frame and message the transport reads; a larger one closes the
    /// connection (1009). Frames over `protocol::MAX_FRAME_BYTES` but under this are
    /// answered `frame_too_large` and the connection stays open.
    pub max_message_bytes: usize,
    /// Bytes read from a connection's socket at a time.
    pub read_buffer_bytes: usize,
    /// Bytes of outgoing frames gathered before they are written to the socket.
    pub write_buffer_bytes: usize,
    /// Longest a write to one connection may take before it is cut (plus a second per 64 KiB
    /// of a large frame): a client that stops reading holds at most its socket buffers and
    /// one frame, and only for this long.
    pub write_timeout: Duration,
    /// The request line and headers of an HTTP request (the WebSocket upgrade included) at
    /// most, in bytes; more are answered 431.
    pub max_header_bytes: usize,
    /// Frames per second one connection may send after `hello`, on average…
    pub commands_per_second: u32,
    /// …with bursts of up to this many.
    pub command_burst: u32,
    /// Frames refused `rate_limited` with less than a second between them before the
    /// connection is closed (1008).
    pub max_rate_refusals: u32,
    /// Webhook requests per second the feed takes from all senders together, on average…
    pub intake_per_second: u32,
    /// …with bursts of up to this many; more are answered 429.
    pub intake_burst: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 10_000,
            max_http_connections: 4096,
            header_read_timeout: Duration::from_secs(10),
            broadcast_capacity: 4096,
            command_queue: 4096,
            max_message_bytes: protocol::HARD_FRAME_BYTES,
            // Per connection, held for its whole life: an idle console costs the feed about
            // these two (docs/performance.md, "A crowd of idle consoles").
            read_buffer_bytes: 4 * 1024,
            write_buffer_bytes: 4 * 1024,
            write_timeout: Duration::from_secs(10),
            max_header_bytes: 32 * 1024,
            commands_per_second: 50,
            command_burst: 200,
            max_rate_refusals: 100,
            intake_per_second: 100,
            intake_burst: 1000,
        }
    }
}

/// Where a feed keeps its event log.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// `events.db` in this directory: SQLite, embedded (the default, in the data
    /// directory).
    Sqlite(PathBuf),
    /// A PostgreSQL database, by its URL (`warroom serve --store postgres://…`): for
    /// several feeds on one database.
    Postgres(String),
}

impl StoreLocation {
    /// What `--store` takes: a PostgreSQL URL.
    pub fn parse(s: &str) -> Result<StoreLocation, String> {
        let lower = s.trim().to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Ok(StoreLocation::Postgres(s.trim().to_string()))
        } else {
            Err(format!(
                "--store takes a PostgreSQL URL (postgres://USER@HOST/DATABASE), not {:?}; \
                 the SQLite log lives in --data DIR",
                crate::store::redact_url(s)
            ))
        }
    }

    /// Opens the log for writing (blocking: PostgreSQL is reached, SQLite's file read).
    pub fn open(&self) -> Result<Box<dyn EventStore>, StoreError> {
        Ok(match self {
            StoreLocation::Sqlite(dir) => Box::new(SqliteStore::open(dir)?),
            StoreLocation::Postgres(url) => Box::new(PgStore::open(url)?),
        })
    }
}

/// Names the log as messages may: the SQLite file, or the URL without its password.
impl std::fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Sqlite(dir) => write!(f, "{}", dir.join("events.db").display()),
            StoreLocation::Postgres(url) => f.write_str(&crate::store::redact_url(url)),
        }
    }
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoreLocation({self})")
    }
}

/// How to run a feed server.
#[derive(Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Tokens (`tokens.json`), and the SQLite log unless `store` says otherwise.
    pub data_dir: PathBuf,
    /// The event log: `Sqlite(data_dir)` unless set.
    pub store: StoreLocation,
    pub tokens: Option<TokenTable>,
    pub clock: Arc<dyn Clock>,
    pub limits: Limits,
    /// The policy and runbooks escalation and intake work from.
    pub rules: Arc<Rules>,
    /// Which policy `rules` is (set the two together): replicas of a shared log compare
    /// theirs with the leader's.
    pub policy_source: PolicySource,
    pub intake: IntakeAuth,
    /// Replaces the policy's notification retry backoff (tests keep it short).
    pub notify_backoff: Option<Duration>,
    /// How often the escalation engine looks at the clock.
    pub tick_every: Duration,
    /// How often the token store (`tokens.json` in the data directory) is looked at for
    /// changes; live sessions of a revoked token are closed within this. Handshakes always
    /// see the store as it is.
    pub token_check_every: Duration,
    /// Serve over TLS (`wss://`) with this certificate and key.
    pub tls: Option<TlsFiles>,
    /// Web origins allowed to open the feed (see [`origin`]); empty: loopback only.
    pub allowed_origins: Vec<String>,
    /// How long a resolved or closed incident stays in the live work (in memory, on every
    /// board) after its last event, in seconds; then it is archived, found by search.
    pub recent_secs: u64,
    /// Events between two checkpoints of the live work.
    pub checkpoint_every: u64,
    /// The feed URL this server is known by (the other replicas of a shared log name the
    /// leader by it); `None`: its listening address.
    pub advertise: Option<String>,
    /// `/metrics`: who may read it, and where besides the feed's port.
    pub metrics: MetricsConfig,
}

/// The PEM files of `warroom serve --tls-cert FILE --tls-key FILE`.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, the server's own certificate first.
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl ServerConfig {
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        ServerConfig {
            listen,
            store: StoreLocation::Sqlite(data_dir.clone()),
            advertise: None,
            data_dir,
            tokens: None,
            clock: Arc::new(SystemClock),
            limits: Limits::default(),
            rules: Arc::new(default_rules()),
            policy_source: PolicySource::built_in(),
            intake: IntakeAuth::default(),
            notify_backoff: None,
            tick_every: Duration::from_secs(1),
            token_check_every: Duration::from_secs(1),
            tls: None,
            allowed_origins: Vec::new(),
            recent_secs: crate::model::DEFAULT_RECENT_SECS,
            checkpoint_every: CHECKPOINT_EVERY,
            metrics: MetricsConfig::default(),
        }
    }
}

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

/// A server that is accepting connections.
pub struct RunningServer {
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    core: mpsc::WeakSender<core::CoreInput>,
    auth: Arc<auth::Auth>,
    tls: bool,
    /// Where `--metrics-listen` serves `/metrics`, when it does.
    pub metrics_addr: Option<SocketAddr>,
}

impl RunningServer {
    /// The URL clients connect to.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}/feed", self.addr)
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

    /// Runs the escalation engine now and waits until it is done (and its events are
    /// durable and published). Tests move a fake clock, then tick.
    pub async fn tick(&self) -> anyhow::Result<()> {
        let core = self.core.upgrade().context("the server has stopped")?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        core.send(core::CoreInput::Tick(Some(tx)))
            .await
            .map_err(|_| anyhow::anyhow!("the server has stopped"))?;
        rx.await.context("the server stopped during the tick")
    }

    /// Re-reads the token store now and has every live session check its token again
    /// (revoked ones are closed), as the periodic check does every `token_check_every`.
    pub fn check_tokens(&self) {
        self.auth.recheck();
    }

    /// A handle that can stop the server from elsewhere (a signal handler).
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }
}

/// Refuses to expose an unauthenticated feed beyond this machine. `has_tokens`: a token file
/// or a token store (`tokens.json` in the data directory).
pub fn check_exposure(listen: &SocketAddr, has_tokens: bool) -> anyhow::Result<()> {
    if !listen.ip().is_loopback() && !has_tokens {
        bail!(
            "refusing to listen on {listen} without tokens: anyone who can reach it could read \
             and change incidents.\n  Give people tokens with `warroom token add NAME --role \
             viewer|responder|admin --data DIR` (stored in DIR/{store}; with --store URL, in \
             the feed's database, for every replica), or create a file with \
             one `name token` line per person (tokens of 16+ characters, e.g. from `openssl \
             rand -hex 16`) and pass --token-file FILE; or listen on 127.0.0.1.",
            store = auth::STORE_FILE
        );
    }
    Ok(())
}

/// Pending connections the kernel keeps for us. The default (128) overflows when every
/// console reconnects at once, and each dropped attempt is retried by the kernel only after
/// 1, 3, 7 or 15 s: a reconnect storm of 1,000 clients had a 7.8 s tail with it.
const LISTEN_BACKLOG: u32 = 4096;

fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std's listener does: a restarted server can take its port back at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The log opened, and what a start-up reads from it.
struct Opened {
    store: Box<dyn EventStore>,
    /// The live work.
    state: crate::model::State,
    resume_floor: u64,
    /// Readers of their own for the sessions and the queries.
    reader: Box<dyn LogReader>,
    query_reader: Box<dyn LogReader>,
    feed_id: String,
    /// A shared log: how the cluster's own connections reach its database.
    shared: Option<crate::store::Connect>,
    /// A shared log: the feed's tokens in its database, as read at start.
    shared_tokens: Option<auth::SharedTokens>,
}

/// Opens the log at `location` and reads the live work as of `now` (its latest checkpoint
/// and what follows). Blocking.
fn open_log(
    location: &StoreLocation,
    now: chrono::DateTime<chrono::Utc>,
    recent_secs: u64,
) -> anyhow::Result<Opened> {
    let (store, shared): (Box<dyn EventStore>, Option<crate::store::Connect>) = match location {
        StoreLocation::Sqlite(dir) => (
            location
                .open()
                .with_context(|| format!("opening the event log in {}", dir.display()))?,
            None,
        ),
        // Its errors name the database already.
        StoreLocation::Postgres(url) => {
            let pg = PgStore::open(url)?;
            let connect = pg.connector();
            (Box::new(pg), Some(connect))
        }
    };
    let (state, archived_upto) = crate::store::load_live(store.as_ref(), now, recent_secs)
        .context("reading the live work from the event log")?;
    let resume_floor = store.resume_floor()?.max(archived_upto);
    let shared_tokens = match &shared {
        Some(connect) => Some(auth::first_read(connect, &location.to_string())?),
        None => None,
    };
    tracing::info!(
        events = state.seq,
        live = state.incidents.len(),
        log = %location,
        "the live work read from the event log (its latest checkpoint and what follows)"
    );
    Ok(Opened {
        reader: store.open_reader()?,
        query_reader: store.open_reader()?,
        feed_id: store.feed_id()?,
        store,
        state,
        resume_floor,
        shared,
        shared_tokens,
    })
}

/// Opens the log, rebuilds state from it, binds and starts serving.
pub async fn start(config: ServerConfig) -> anyhow::Result<RunningServer> {
    let auth = auth::Auth::new(
        config.tokens.clone(),
        &config.data_dir,
        !config.listen.ip().is_loopback(),
    )?;
    // On a shared log the database's tokens count too: they are read with the log.
    if let StoreLocation::Sqlite(_) = config.store {
        check_exposure(&config.listen, auth.has_tokens())?;
    }
    let origins = OriginPolicy::new(&config.allowed_origins).map_err(|e| anyhow::anyhow!(e))?;
    let tls = match &config.tls {
        Some(files) => Some(crate::tls::server_config(&files.cert, &files.key)?),
        None => None,
    };
    if tls.is_none() && !config.listen.ip().is_loopback() {
        tracing::warn!(
            "listening on {} without TLS: tokens, incidents and notes cross the network in \
             clear; pass --tls-cert FILE --tls-key FILE to serve wss://",
            config.listen
        );
    }
    // Bind first: a taken port is found at once, before the log is opened and folded.
    let listener =
        bind(config.listen).with_context(|| format!("cannot listen on {}", config.listen))?;
    // The backend is chosen here, and only here: the core works through the trait. The log
    // is read off the async workers (a PostgreSQL client must never block one).
    let location = config.store.clone();
    let (now, recent_secs) = (config.clock.now(), config.recent_secs);
    let Opened {
        store,
        state,
        resume_floor,
        reader,
        query_reader,
        feed_id,
        shared,
        shared_tokens,
    } = tokio::task::spawn_blocking(move || open_log(&location, now, recent_secs))
        .await
        .context("opening the event log")??;
    let auth = Arc::new(match shared_tokens {
        Some(tokens) => {
            let auth = auth.with_source(auth::TokenSource::Database(Arc::new(tokens)));
            let own = auth.directory_tokens();
            if own > 0 {
                tracing::warn!(
                    "{} holds {own} active token(s) that only this replica knows: the feed's \
                     tokens are kept in its database, the same for every replica (warroom \
                     token add NAME --role ROLE --store URL)",
                    auth::TokenStore::path(&config.data_dir).display()
                );
            }
            auth
        }
        None => auth,
    });
    check_exposure(&config.listen, auth.has_tokens())?;
    let token_db = shared.clone();
    let (events_tx, _) = broadcast::channel(config.limits.broadcast_capacity);
    let published = Arc::new(Published {
        state: RwLock::new(state.clone()),
        events: events_tx,
        commits: Default::default(),
        resume_floor: resume_floor.into(),
        recent_secs,
    });
    let (cmd_tx, cmd_rx) = mpsc::channel(config.limits.command_queue);
    let metrics = metrics::Metrics::new(!config.metrics.disabled);
    let core_clock = config.clock.clone();
    let (deliver_tx, deliver_rx) = mpsc::unbounded_channel();
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let own_url = format!("{scheme}://{addr}/feed");
    // On a shared log this replica starts as a follower; it takes the lead (and with it the
    // deliveries nobody made) if no one holds it.
    let cluster = shared.map(|connect| {
        let health = Arc::new(cluster::Health::default());
        let forwarder = cluster::Forwarder::start(connect.clone());
        let advertise = config.advertise.clone().unwrap_or_else(|| own_url.clone());
        let public_policy =
            serde_json::to_string(&config.rules.public_policy()).unwrap_or_default();
        let link = cluster::Link::new(
            connect.clone(),
            advertise,
            (config.policy_source.clone(), public_policy),
            health.clone(),
            forwarder.clone(),
        );
        (connect, health, forwarder, link)
    });
    let pending = match cluster {
        Some(_) => Vec::new(),
        None => notify::undelivered(&state, &config.rules, config.clock.now()),
    };
    let (link, cluster) = match cluster {
        Some((connect, health, forwarder, link)) => {
            (Some(link), Some((connect, health, forwarder)))
        }
        None => (None, None),
    };
    let the_core = core::Core {
        store,
        state,
        published: published.clone(),
        rules: config.rules.clone(),
        deliveries: deliver_tx,
        archive: Default::default(),
        checkpoint_every: config.checkpoint_every.max(1),
        leading: link.is_none(),
        link,
        metrics: metrics.clone(),
    };
    let core = std::thread::Builder::new()
        .name("warroom-core".into())
        .spawn(move || core::run(the_core, core_clock, cmd_rx))
        .context("starting the core thread")?;
    let presence_db = cluster.as_ref().map(|(connect, ..)| connect.clone());
    let health = cluster.map(|(connect, health, forwarder)| {
        cluster::spawn_listener(connect, cmd_tx.downgrade(), forwarder, health.clone());
        health
    });
    // Steps whose time passed while the server was down fire now, marked late, before
    // anyone is served.
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let _ = cmd_tx.send(core::CoreInput::Tick(Some(started_tx))).await;
    let _ = started_rx.await;
    tokio::spawn(notify::run(
        config.rules.clone(),
        feed_id.clone(),
        config.notify_backoff,
        cmd_tx.downgrade(),
        deliver_rx,
        pending,
        metrics.clone(),
    ));

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let core_handle = cmd_tx.downgrade();
    let ticker = cmd_tx.downgrade();
    let policy_frame = crate::protocol::encode(&crate::protocol::ServerMessage::Policy {
        policy: config.rules.public_policy(),
    })
    .into();
    let app = Arc::new(App {
        published,
        commands: cmd_tx,
        reader: Arc::new(Mutex::new(reader)),
        query_reader: Arc::new(Mutex::new(query_reader)),
        archive: Default::default(),
        rules: config.rules.clone(),
        feed_id,
        policy_frame,
        policy_source: config.policy_source.clone(),
        presence: PresenceBoard::default(),
        clock: config.clock.clone(),
        auth: auth.clone(),
        shutdown: shutdown_rx.clone(),
        connections: AtomicUsize::new(0),
        intake_rate: std::sync::Mutex::new(limits::RateLimiter::with_rate(
            config.limits.intake_per_second,
            config.limits.intake_burst,
            u32::MAX,
        )),
        limits: config.limits.clone(),
        intake: IntakeAuth {
            exposed: config.intake.exposed || !config.listen.ip().is_loopback(),
            ..config.intake.clone()
        },
        origins,
        cluster: health,
        own_url,
        metrics: metrics.clone(),
        metrics_config: config.metrics.clone(),
    });
    if let Some(connect) = presence_db {
        cluster::spawn_presence(connect, uuid::Uuid::new_v4().to_string(), app.clone());
    }
    // The database's tokens are read again on every change, and every second.
    if let Some(connect) = token_db {
        auth::spawn_token_reader(connect, auth.clone(), shutdown_rx.clone());
    }
    // The token store is looked at every `token_check_every` (handshakes look at it too):
    // sessions of a revoked token are closed.
    let mut check_stop = shutdown_rx.clone();
    let check_every = config.token_check_every;
    let checker = auth.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(check_every) => {}
                _ = check_stop.wait_for(|s| *s) => return,
            }
            checker.refresh();
        }
    });
    // Presence changes that wait for their interval are published by this task.
    let presence_app = app.clone();
    let presence_stop = shutdown_rx.clone();
    tokio::spawn(async move { presence_app.presence.publish_later(presence_stop).await });
    // The engine looks at the clock every `tick_every`; commands trigger it as well.
    let mut tick_stop = shutdown_rx.clone();
    let every = config.tick_every;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = tick_stop.wait_for(|s| *s) => return,
            }
            let Some(tx) = ticker.upgrade() else { return };
            if tx.send(core::CoreInput::Tick(None)).await.is_err() {
                return;
            }
        }
    });
    let metrics_addr = metrics::listener(&app, shutdown_rx.clone()).await?;
    let router = Router::new()
        .route("/feed", get(feed))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::serve_metrics))
        .merge(
            Router::new()
                .route("/webhook/alertmanager", post(intake::alertmanager))
                .route("/webhook/pagerduty", post(intake::pagerduty))
                .route("/v2/enqueue", post(intake::enqueue))
                .route_layer(axum::middleware::from_fn_with_state(
                    app.clone(),
                    limits::limit_intake,
                )),
        )
        .layer(DefaultBodyLimit::max(intake::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            limits::limit_head,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            metrics::count_requests,
        ))
        .with_state(app);
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    tracing::info!("listening on {scheme}://{addr}/feed");
    let stop = shutdown_rx;
    let limits = config.limits.clone();
    let served_tls = tls.is_some();
    let task = tokio::spawn(async move {
        match tls {
            Some(tls) => {
                let listener = tls::TlsListener::new(listener, tls)?;
                http::serve(listener, router, &limits, stop).await
            }
            None => {
                // Frames are small and answered at once: without TCP_NODELAY, Nagle's
                // algorithm and delayed acknowledgements add ~40 ms to every command.
                let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                    if let Err(e) = tcp.set_nodelay(true) {
                        tracing::debug!("TCP_NODELAY on an incoming connection: {e}");
                    }
                });
                http::serve(listener, router, &limits, stop).await
            }
        }
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
        core: core_handle,
        auth,
        tls: served_tls,
        metrics_addr,
    })
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
