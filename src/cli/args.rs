//! The command line as clap reads it: the console's options, the feed options every
//! subcommand that talks to a feed takes, each subcommand with its arguments, and the
//! parsers that turn what a person types into the model's values (with the model's own
//! refusal messages).

use clap::{Args, Parser, Subcommand};

use crate::client::DEFAULT_ADDR;
use crate::model::{EntryKind, IncidentRef, PmSection, Role, Severity, Status};
use crate::protocol::Access;
use crate::report::export::{ExportFormat, parse_format};

/// warroom: the terminal incident-commander console and its shared feed.
#[derive(Debug, Parser)]
#[command(name = "warroom", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    /// Console theme: dark, light, high-contrast, or a theme file (overrides the config).
    #[arg(long)]
    pub theme: Option<String>,
    /// Print a commented default config file and exit.
    #[arg(long)]
    pub print_default_config: bool,
    /// Policy file for the local feed this console hosts when no feed is configured
    /// (severity rules, escalation, on-call, runbooks) [default: the built-in policy]. A
    /// feed elsewhere pages by its own.
    #[arg(long, env = "WARROOM_POLICY", value_name = "FILE")]
    pub policy: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub console_log: super::logging::ConsoleLogArgs,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

/// Where the feed is and who you are: the console's options. They may also come before a
/// subcommand that talks to a feed (`warroom --server HOST:PORT incidents`, as scripts have
/// always written it); this is also where the environment is read.
#[derive(Debug, Clone, Default, Args)]
pub struct Global {
    /// Feed address: ws://host:port (path /feed), wss://…, or host:port; a feed run as
    /// several replicas: their addresses separated by commas, tried in turn.
    #[arg(long, help_heading = "Feed", env = "WARROOM_SERVER")]
    pub server: Option<String>,
    /// Your name on the feed [default: your OS user name].
    #[arg(long, help_heading = "Feed", env = "WARROOM_NAME")]
    pub name: Option<String>,
    /// Access token, when the feed requires one.
    #[arg(
        long,
        help_heading = "Feed",
        env = "WARROOM_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// PEM file of CA certificates trusted for wss:// in addition to the system's (a
    /// private CA that signed the feed's certificate).
    #[arg(long, help_heading = "Feed", env = "WARROOM_CA", value_name = "FILE")]
    pub ca: Option<std::path::PathBuf>,
}

/// The same options on each subcommand that talks to a feed, and only there (`serve`,
/// `token` and `policy` have no use for them). Given here they win over those
/// before the subcommand, which win over the environment. The environment is read once, by
/// [`Global`]: were it read here too, `WARROOM_SERVER=a warroom --server b incidents` would
/// go to `a`. `global` carries them down to `member add|remove|list`.
#[derive(Debug, Clone, Default, Args)]
pub struct FeedArgs {
    /// Feed address: ws://host:port (path /feed), wss://…, or host:port; several
    /// replicas separated by commas [env: WARROOM_SERVER] [default: the local feed].
    #[arg(long, help_heading = "Feed", global = true)]
    pub server: Option<String>,
    /// Your name on the feed [env: WARROOM_NAME] [default: your OS user name].
    #[arg(long, help_heading = "Feed", global = true)]
    pub name: Option<String>,
    /// Access token, when the feed requires one [env: WARROOM_TOKEN].
    #[arg(long, help_heading = "Feed", global = true)]
    pub token: Option<String>,
    /// PEM file of CA certificates trusted for wss:// in addition to the system's (a
    /// private CA that signed the feed's certificate) [env: WARROOM_CA].
    #[arg(long, help_heading = "Feed", global = true, value_name = "FILE")]
    pub ca: Option<std::path::PathBuf>,
}

impl Global {
    /// These options with a subcommand's own on top.
    pub fn with(&self, sub: &FeedArgs) -> Global {
        Global {
            server: sub.server.clone().or_else(|| self.server.clone()),
            name: sub.name.clone().or_else(|| self.name.clone()),
            token: sub.token.clone().or_else(|| self.token.clone()),
            ca: sub.ca.clone().or_else(|| self.ca.clone()),
        }
    }
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once, at start
pub enum Cmd {
    /// Try warroom: a console on an embedded feed where a payments outage plays out live.
    Demo {
        /// Play the scenario faster (2 = twice as fast).
        #[arg(long, env = "WARROOM_DEMO_SPEED", default_value_t = 1.0)]
        speed: f64,
        /// Your name in the demo [env: WARROOM_NAME] [default: your OS user name].
        #[arg(long)]
        name: Option<String>,
    },
    /// Run the shared feed server.
    Serve(ServeArgs),
    /// Tokens for a feed (in its data directory, or with --store in the database its
    /// replicas share): add one for a person and role, list them, revoke one. A running
    /// feed picks changes up by itself.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Check or print a policy file (severity rules, escalation, on-call, runbooks).
    Policy {
        #[command(subcommand)]
        action: PolicyAction,
    },
    /// The feed's event log: copy an SQLite log into PostgreSQL.
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },
    /// Export an incident: a Markdown post-mortem draft, or JSON (events and state).
    Export {
        #[command(flatten)]
        feed: FeedArgs,
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
        /// md or json.
        #[arg(long, default_value = "md", value_parser = parse_format)]
        format: ExportFormat,
        /// Write to FILE instead of standard output.
        #[arg(long, short = 'o')]
        output: Option<std::path::PathBuf>,
    },
    /// Who is on call now, and the next handoffs: as the feed's policy has it, or as a
    /// policy file would (`--policy`, to check one before serving it).
    Oncall {
        #[command(flatten)]
        feed: FeedArgs,
        /// Read this policy file instead of asking the feed.
        #[arg(long, value_name = "FILE")]
        policy: Option<std::path::PathBuf>,
        /// Show the schedule as of this time (RFC 3339) instead of now.
        #[arg(long)]
        at: Option<String>,
        /// How many upcoming handoffs to list per schedule.
        #[arg(long, default_value_t = 4)]
        handoffs: usize,
    },
    /// The handoff briefing for the incoming on-call or incident commander: active
    /// incidents, who is on call, what the shift resolved, the noisiest alert sources.
    Handoff {
        #[command(flatten)]
        feed: FeedArgs,
        /// text, md (Markdown) or json.
        #[arg(long, default_value = "text", value_parser = ["text", "md", "markdown", "json"])]
        format: String,
    },
    /// Take over from FROM: the handoff is recorded on every active incident, and you
    /// become incident commander wherever FROM was.
    AcceptHandoff {
        #[command(flatten)]
        feed: FeedArgs,
        /// The outgoing person [default: the previous primary of the default schedule of
        /// the feed's policy].
        #[arg(value_name = "FROM")]
        from: Option<String>,
    },
    /// Declare an incident; prints its reference (INC-N).
    Declare {
        #[command(flatten)]
        feed: FeedArgs,
        title: String,
        /// 1 (SEV1, critical) to 4 (SEV4, low).
        #[arg(long, short = 's', value_parser = parse_severity)]
        severity: Severity,
        #[arg(long)]
        service: Option<String>,
        /// Need-to-know (security) incident.
        #[arg(long)]
        restricted: bool,
        /// Who found it: monitoring, customer or engineer.
        #[arg(long, value_parser = parse_detection)]
        detected_by: Option<crate::model::Detection>,
    },
    /// Triage answers: who found it, is the impact growing, is there a workaround.
    Triage {
        #[command(flatten)]
        feed: FeedArgs,
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
        /// monitoring, customer or engineer.
        #[arg(long, value_parser = parse_detection)]
        detected_by: Option<crate::model::Detection>,
        /// growing or stable.
        #[arg(long, value_parser = parse_impact)]
        impact: Option<bool>,
        /// yes or no.
        #[arg(long, value_parser = parse_yes_no)]
        workaround: Option<bool>,
    },
    /// Record a timeline entry.
    Note {
        #[command(flatten)]
        feed: FeedArgs,
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
        text: String,
        /// When it happened: HH:MM (today, local time) or RFC 3339.
        #[arg(long)]
        at: Option<String>,
        /// note, decision, action, hypothesis, ruled_out, status_update.
        #[arg(long, default_value = "note", value_parser = parse_kind)]
        kind: EntryKind,
    },
    /// Correct a timeline entry: a new entry supersedes it; the original stays in its history.
    Correct {
        #[command(flatten)]
        feed: FeedArgs,
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
        /// The entry's number (its id, as `warroom events` and the console show it).
        entry: u64,
        /// The corrected text (left out: keep the text).
        text: Option<String>,
        /// When it happened: HH:MM (today, local time) or RFC 3339.
        #[arg(long)]
        at: Option<String>,
        /// note, decision, action, hypothesis, ruled_out, status_update.
        #[arg(long, value_parser = parse_kind)]
        kind: Option<EntryKind>,
    },
    /// Acknowledge an incident (stops its escalation).
    Ack {
        #[command(flatten)]
        feed: FeedArgs,
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
    },
    /// Change an incident's severity.
    Sev {
        #[command(flatten)]
        feed: FeedArgs,
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
        #[arg(value_parser = parse_severity)]
        severity: Severity,
    },
    /// Set the service an incident is about (its runbook follows).
    Service {
        #[command(flatten)]
        feed: FeedArgs,
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
        service: String,
    },
    /// Change an incident's status: investigating, identified, monitoring, resolved, closed.
    Status {
        #[command(flatten)]
        feed: FeedArgs,
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
        #[arg(value_parser = parse_status)]
        status: Status,
    },
    /// Give a role (incident_commander|ic, tech_lead|tl, comms_lead|comms, scribe) to NAME
    /// (`me` for yourself), or release it with `--release`.
    Role {
        #[command(flatten)]
        feed: FeedArgs,
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
        #[arg(value_parser = parse_role)]
        role: Role,
        #[arg(value_name = "NAME")]
        person: Option<String>,
        #[arg(long, conflicts_with = "person")]
        release: bool,
    },
    /// Resolve an incident. Straight from investigating or identified (never watched in
    /// monitoring), say whether recovery was verified: `--verified` (metrics back to normal,
    /// error rates down, users unblocked) or `--skip-verification`; the answer goes on the
    /// timeline.
    Resolve {
        #[command(flatten)]
        feed: FeedArgs,
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
        /// Recovery was verified: metrics back to normal, error rates down, users unblocked.
        #[arg(long, conflicts_with = "skip_verification")]
        verified: bool,
        /// Resolve without verifying recovery (recorded as such).
        #[arg(long)]
        skip_verification: bool,
    },
    /// Write the post-mortem: a section (`--section summary --text "…"`) and/or the 5-whys
    /// chain from a file of `why | because` lines (`--whys-file FILE`, `-` for stdin).
    Postmortem {
        #[command(flatten)]
        feed: FeedArgs,
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
        /// summary, contributing_factors, went_well, went_poorly or lessons.
        #[arg(long, value_parser = parse_section, requires = "text")]
        section: Option<PmSection>,
        /// The section's text; it replaces what the section held.
        #[arg(long, requires = "section")]
        text: Option<String>,
        /// The whole 5-whys chain, one `why | because` line per link.
        #[arg(long, value_name = "FILE")]
        whys_file: Option<std::path::PathBuf>,
        /// Mark the post-mortem done (held with the responders and written up): its
        /// 48-hour countdown stops, and the metrics count it on time or late.
        #[arg(long)]
        done: bool,
    },
    /// Add a post-mortem action item; prints its id.
    Action {
        #[command(flatten)]
        feed: FeedArgs,
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
        text: String,
        /// Who owns it (`me` for yourself): required, an action item is assigned.
        #[arg(long)]
        owner: String,
        /// When it is due: YYYY-MM-DD (required unless the feed's policy gives a default).
        #[arg(long, value_parser = parse_date)]
        due: Option<chrono::NaiveDate>,
    },
    /// Mark a post-mortem action item done (`--undo` opens it again).
    ActionDone {
        #[command(flatten)]
        feed: FeedArgs,
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
        /// The item's id, as `warroom action` printed it.
        item: u64,
        #[arg(long)]
        undo: bool,
    },
    /// Waive the post-mortem, saying why: the incident may then be closed without one.
    Waive {
        #[command(flatten)]
        feed: FeedArgs,
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
        reason: String,
    },
    /// Make an incident need-to-know (a security incident): from now on only its members
    /// (you, its role holders, and whoever an admin adds) and admins see it.
    Restrict {
        #[command(flatten)]
        feed: FeedArgs,
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
    },
    /// Who may see a restricted incident: list its members, or (admins) add or remove one.
    Member {
        #[command(flatten)]
        feed: FeedArgs,
        #[command(subcommand)]
        action: MemberAction,
    },
    /// List incidents: the board (active and recently resolved, active first), or with
    /// --all (or any filter) every incident the feed has, newest declared first, found by
    /// the feed a page at a time.
    Incidents {
        #[command(flatten)]
        feed: FeedArgs,
        /// Every incident, archived ones too (what the filters below imply).
        #[arg(long)]
        all: bool,
        /// Only incidents with every one of these words in the title, the service or an
        /// entry (case-blind).
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
        /// Only incidents declared on or after this day (YYYY-MM-DD, UTC) or time (RFC 3339).
        #[arg(long, value_name = "DATE", value_parser = parse_since)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Only incidents declared before this day (YYYY-MM-DD, UTC) or time (RFC 3339).
        #[arg(long, value_name = "DATE", value_parser = parse_since)]
        until: Option<chrono::DateTime<chrono::Utc>>,
        /// Only incidents of this severity (1-4 or SEV1-SEV4).
        #[arg(long, value_name = "N", value_parser = parse_severity)]
        severity: Option<Severity>,
        /// Only incidents of this service.
        #[arg(long, value_name = "NAME")]
        service: Option<String>,
        /// Print JSON: the board's state, or (--all) the incidents found, each without its
        /// timeline.
        #[arg(long)]
        json: bool,
    },
    /// Print events, one per line.
    Events {
        #[command(flatten)]
        feed: FeedArgs,
        /// Only events after this sequence number.
        #[arg(long, default_value_t = 0)]
        since: u64,
        /// Keep printing new events as they happen.
        #[arg(long)]
        follow: bool,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Response times (MTTD, MTTA, MTTM, MTTR) per severity, incidents per week, post-mortem
    /// and action-item completion, pages per on-call shift.
    Metrics {
        #[command(flatten)]
        feed: FeedArgs,
        /// Only incidents declared on or after this day (YYYY-MM-DD, UTC) or time (RFC 3339).
        #[arg(long, value_name = "DATE", value_parser = parse_since)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Print the figures as JSON (schema warroom.metrics/1; durations in seconds).
        #[arg(long)]
        json: bool,
    },
    /// Page someone now, outside the escalation plan: a person, a [targets] name, or a
    /// schedule's primary or secondary (oncall.primary: the incident's own schedule).
    /// Delivered through the person's channels like an escalation page, and recorded.
    Page {
        #[command(flatten)]
        feed: FeedArgs,
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
        /// NAME, SCHEDULE.primary or SCHEDULE.secondary.
        target: String,
        /// What the page says besides the incident.
        #[arg(trailing_var_arg = true)]
        message: Vec<String>,
    },
}

impl Cmd {
    /// The feed options given on the subcommand, for those that talk to a feed.
    pub fn feed(&self) -> Option<&FeedArgs> {
        match self {
            Cmd::Export { feed, .. }
            | Cmd::Handoff { feed, .. }
            | Cmd::AcceptHandoff { feed, .. }
            | Cmd::Declare { feed, .. }
            | Cmd::Note { feed, .. }
            | Cmd::Correct { feed, .. }
            | Cmd::Ack { feed, .. }
            | Cmd::Sev { feed, .. }
            | Cmd::Service { feed, .. }
            | Cmd::Status { feed, .. }
            | Cmd::Role { feed, .. }
            | Cmd::Resolve { feed, .. }
            | Cmd::Postmortem { feed, .. }
            | Cmd::Triage { feed, .. }
            | Cmd::Action { feed, .. }
            | Cmd::ActionDone { feed, .. }
            | Cmd::Waive { feed, .. }
            | Cmd::Restrict { feed, .. }
            | Cmd::Member { feed, .. }
            | Cmd::Incidents { feed, .. }
            | Cmd::Events { feed, .. }
            | Cmd::Metrics { feed, .. }
            | Cmd::Oncall { feed, .. }
            | Cmd::Page { feed, .. } => Some(feed),
            Cmd::Serve(_)
            | Cmd::Token { .. }
            | Cmd::Policy { .. }
            | Cmd::Store { .. }
            | Cmd::Demo { .. } => None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum MemberAction {
    /// Let NAME (`me` for yourself) see a restricted incident. Admins only (on a feed
    /// without tokens, its members).
    Add {
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
        #[arg(value_name = "NAME")]
        person: String,
    },
    /// Stop NAME (`me` for yourself) seeing a restricted incident. Admins only (on a feed
    /// without tokens, its members).
    Remove {
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
        #[arg(value_name = "NAME")]
        person: String,
    },
    /// Print a restricted incident's members, one per line, with when each was let in.
    List {
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Make a token for NAME and print it, once: only its hash is kept.
    Add {
        /// The person (their name on the feed).
        name: String,
        /// viewer (reads), responder (acts on incidents) or admin (everything).
        #[arg(long, value_parser = parse_access)]
        role: Access,
        #[command(flatten)]
        place: TokenPlace,
    },
    /// Who has a token: name, role, when it was made, whether it is revoked (never the
    /// token itself).
    List {
        #[command(flatten)]
        place: TokenPlace,
    },
    /// Revoke NAME's token: refused at its next handshake; live sessions are closed.
    Revoke {
        name: String,
        #[command(flatten)]
        place: TokenPlace,
    },
}

impl TokenAction {
    pub fn place(&self) -> &TokenPlace {
        match self {
            TokenAction::Add { place, .. }
            | TokenAction::List { place }
            | TokenAction::Revoke { place, .. } => place,
        }
    }
}

/// Where `warroom token` finds a feed's tokens: its data directory, or the PostgreSQL
/// database of a feed run with `warroom serve --store URL` (its replicas share them).
#[derive(Debug, Clone, Args)]
pub struct TokenPlace {
    /// The feed's data directory [default: the platform data directory].
    #[arg(long)]
    pub data: Option<std::path::PathBuf>,
    /// The feed's PostgreSQL database (as `warroom serve --store` names it), for a feed
    /// whose replicas share their tokens there; WARROOM_STORE when neither this nor --data
    /// is given.
    #[arg(long, value_name = "URL", conflicts_with = "data")]
    pub store: Option<String>,
}

fn parse_access(s: &str) -> Result<Access, String> {
    s.parse()
}

#[derive(Debug, Subcommand)]
pub enum StoreAction {
    /// Copy a feed's SQLite log (events, command answers, its feed id) into an empty
    /// PostgreSQL database, build its indexes there and check it reads back the same; all
    /// or nothing. Stop the feed first; then serve with --store URL.
    Copy {
        /// The feed's data directory (the one holding events.db).
        #[arg(long, value_name = "DIR")]
        from: std::path::PathBuf,
        /// The PostgreSQL database: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE.
        #[arg(
            long,
            value_name = "URL",
            env = "WARROOM_STORE",
            hide_env_values = true
        )]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyAction {
    /// Validate a policy file; every problem is listed with its line.
    Check { file: std::path::PathBuf },
    /// Print the default policy (a starting point for your own).
    Print,
}

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
    #[command(flatten, next_help_heading = "Operations")]
    pub ops: super::logging::OpsArgs,
}

fn parse_detection(s: &str) -> Result<crate::model::Detection, String> {
    s.parse().map_err(|e: crate::model::Rejection| e.message)
}

fn parse_impact(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "growing" => Ok(true),
        "stable" => Ok(false),
        _ => Err(format!("'{s}': say growing or stable")),
    }
}

fn parse_yes_no(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" => Ok(true),
        "no" | "n" | "false" => Ok(false),
        _ => Err(format!("'{s}': say yes or no")),
    }
}

fn parse_ref(s: &str) -> Result<IncidentRef, String> {
    s.parse().map_err(|e: crate::model::Rejection| e.message)
}
fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse().map_err(|e: crate::model::Rejection| e.message)
}
fn parse_status(s: &str) -> Result<Status, String> {
    s.parse().map_err(|e: crate::model::Rejection| e.message)
}
fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse_loose(s).map_err(|e| e.message)
}
fn parse_kind(s: &str) -> Result<EntryKind, String> {
    s.parse().map_err(|e: crate::model::Rejection| e.message)
}
fn parse_section(s: &str) -> Result<PmSection, String> {
    match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
        "lessons_learned" => Ok(PmSection::Lessons),
        "contributing" => Ok(PmSection::ContributingFactors),
        _ => s.parse().map_err(|e: crate::model::Rejection| e.message),
    }
}
fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("'{s}' is not a date: write YYYY-MM-DD (e.g. 2026-03-21)"))
}
/// `--since`: a day (from its start, UTC) or an RFC 3339 time.
fn parse_since(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let t = s.trim();
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&chrono::Utc))
        .map_err(|_| format!("'{s}' is not a date: write YYYY-MM-DD (e.g. 2026-11-01)"))
}
