//! How to run a feed server: where its log lives ([`StoreLocation`]), the limits that keep
//! one client from hurting the others ([`Limits`]), TLS files, and the whole
//! [`ServerConfig`] that `start` takes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{
    CHECKPOINT_EVERY, IntakeAuth, MetricsConfig, PolicySource, Rules, TokenTable, default_rules,
};
use crate::clock::{Clock, SystemClock};
use crate::protocol;
use crate::store::{EventStore, PgStore, SqliteStore, StoreError};

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
    /// Web origins allowed to open the feed (see [`origin`](super::origin)); empty:
    /// loopback only.
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
    /// On a shared PostgreSQL log: how long after starting, taking the lead, or finding a
    /// command of a group answered before, the leader asks the log which commands of each
    /// group were answered before deciding it; otherwise it decides first and the log
    /// refuses an answer recorded twice (see `core::process`).
    pub ask_answers_for: Duration,
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
            ask_answers_for: ASK_ANSWERS_FOR,
        }
    }
}

/// How long the leader asks first which commands were answered before, after starting,
/// taking the lead or a refusal: the retries of a reconnecting room come within it.
pub const ASK_ANSWERS_FOR: Duration = Duration::from_secs(60);
