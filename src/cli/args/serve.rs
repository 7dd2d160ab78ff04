//! `warroom serve`: the feed server's options (where it listens and keeps its log, who may
//! connect, its limits, its operations).

use clap::Args;

use crate::client::DEFAULT_ADDR;

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = DEFAULT_ADDR)]
    pub listen: std::net::SocketAddr,
    /// Directory for the event log and the token store [default: the platform data
    /// directory].
    #[arg(long)]
    pub data: Option<std::path::PathBuf>,
    /// Keep the event log in PostgreSQL instead of SQLite in --data, with the feed's tokens
    /// (`warroom token … --store URL`), shared by every replica on it:
    /// postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, with ?sslmode=verify-full (and
    /// sslrootcert=FILE for a private CA) to check the database's certificate.
    #[arg(
        long,
        value_name = "URL",
        env = "WARROOM_STORE",
        hide_env_values = true
    )]
    pub store: Option<String>,
    /// The address clients and the other replicas know this server by, as a feed URL
    /// (wss://warroom-a.example.net/feed); with --store, /healthz names the leader by it
    /// [default: ws(s)://the --listen address/feed].
    #[arg(long, value_name = "URL", env = "WARROOM_ADVERTISE")]
    pub advertise: Option<String>,
    /// File of `name token` lines; required to listen beyond loopback.
    #[arg(long)]
    pub token_file: Option<std::path::PathBuf>,
    /// Policy file: severity rules, escalation, on-call, runbooks [default: built in].
    #[arg(long, env = "WARROOM_POLICY")]
    pub policy: Option<std::path::PathBuf>,
    /// Token monitoring presents to post alerts (`Authorization: Bearer …`, or the Events
    /// v2 routing_key). Required for intake beyond loopback.
    #[arg(long, env = "WARROOM_INTAKE_TOKEN", hide_env_values = true)]
    pub intake_token: Option<String>,
    /// PagerDuty webhook signing secret: X-PagerDuty-Signature is then verified.
    #[arg(long, env = "WARROOM_PAGERDUTY_SECRET", hide_env_values = true)]
    pub pagerduty_secret: Option<String>,
    /// Serve wss:// with this PEM certificate chain (the server's certificate first).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// A web origin (https://host[:port]) whose pages may open the feed; repeatable.
    /// Without any, browsers may connect only from loopback origins. Clients that send no
    /// Origin header (the console, scripts) are not affected.
    #[arg(
        long = "allow-origin",
        value_name = "ORIGIN",
        env = "WARROOM_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allow_origins: Vec<String>,
    /// Open WebSocket connections at most; more are answered 503.
    #[arg(long, value_name = "N", default_value_t = crate::server::Limits::default().max_connections)]
    pub max_connections: usize,
    /// Frames one connection may send a second on average, in bursts of up to four times as
    /// many; more are answered `rate_limited` and not processed.
    #[arg(
        long,
        value_name = "N",
        default_value_t = crate::server::Limits::default().commands_per_second,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_commands_per_second: u32,
    /// Days a resolved or closed incident stays on every board (and in the feed's memory)
    /// after its last event; older ones are archived, found by search.
    #[arg(
        long,
        value_name = "N",
        default_value_t = crate::model::DEFAULT_RECENT_SECS / 86_400,
        value_parser = clap::value_parser!(u64).range(1..=3650)
    )]
    pub recent_days: u64,
    /// Events between two checkpoints of the live work (start-up folds at most this many
    /// after the latest one). For tests.
    #[arg(long, value_name = "N", hide = true, default_value_t = crate::server::CHECKPOINT_EVERY,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_every: u64,
    /// On a shared PostgreSQL log: seconds after starting, taking the lead or finding a
    /// command answered before, during which the leader asks the log which commands of a
    /// group were answered before deciding it (afterwards the log refuses an answer
    /// recorded twice, and the group is decided again, asking). For tests and benchmarks.
    #[arg(long, value_name = "SECONDS", hide = true,
          default_value_t = crate::server::ASK_ANSWERS_FOR.as_secs())]
    pub ask_answers_for: u64,
    #[command(flatten, next_help_heading = "Operations")]
    pub ops: crate::cli::logging::OpsArgs,
}
