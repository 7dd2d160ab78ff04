//! Subcommands for scripts and bots: the same operations as the console, over the same
//! protocol. Each connects, waits until it is in sync, does one thing, and exits non-zero
//! with the server's reason when the server refuses.

pub mod time;

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Parser, Subcommand};

use crate::client::{
    Client, ClientConfig, ConnState, DEFAULT_ADDR, Replica, Update, feed_url, fetch_log,
};
use crate::model::{
    Command, EntryKind, Event, IncidentRef, PmSection, Role, Severity, State, Status,
};
use crate::protocol::{Access, Answer, ErrorCode, not_allowed};
use crate::report::export::{ExportFormat, export_text, parse_format, visible_incident};
use crate::report::format::role_name;

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
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

/// Where the feed is and who you are: the console's options. They may also come before a
/// subcommand that talks to a feed (`warroom --server HOST:PORT incidents`, as scripts have
/// always written it); this is also where the environment is read.
#[derive(Debug, Clone, Default, Args)]
pub struct Global {
    /// Feed address: ws://host:port (path /feed), wss://…, or host:port.
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
    /// Feed address: ws://host:port (path /feed), wss://…, or host:port [env:
    /// WARROOM_SERVER] [default: the local feed].
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
pub enum Cmd {
    /// Run the shared feed server.
    Serve(ServeArgs),
    /// Tokens for a feed (in its data directory): add one for a person and role, list them,
    /// revoke one. A running feed picks changes up by itself.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Check or print a policy file (severity rules, escalation, on-call, runbooks).
    Policy {
        #[command(subcommand)]
        action: PolicyAction,
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
    /// Try warroom: a console on an embedded feed where a payments outage plays out live.
    Demo {
        /// Play the scenario faster (2 = twice as fast).
        #[arg(long, env = "WARROOM_DEMO_SPEED", default_value_t = 1.0)]
        speed: f64,
        /// Your name in the demo [env: WARROOM_NAME] [default: your OS user name].
        #[arg(long)]
        name: Option<String>,
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
    /// Resolve an incident.
    Resolve {
        #[command(flatten)]
        feed: FeedArgs,
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
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
    },
    /// Add a post-mortem action item; prints its id.
    Action {
        #[command(flatten)]
        feed: FeedArgs,
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
        text: String,
        /// Who owns it (`me` for yourself).
        #[arg(long, default_value = "me")]
        owner: String,
        /// When it is due: YYYY-MM-DD.
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
    /// List incidents, active first.
    Incidents {
        #[command(flatten)]
        feed: FeedArgs,
        /// Print the full state as JSON.
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
            | Cmd::Status { feed, .. }
            | Cmd::Role { feed, .. }
            | Cmd::Resolve { feed, .. }
            | Cmd::Postmortem { feed, .. }
            | Cmd::Action { feed, .. }
            | Cmd::ActionDone { feed, .. }
            | Cmd::Waive { feed, .. }
            | Cmd::Restrict { feed, .. }
            | Cmd::Member { feed, .. }
            | Cmd::Incidents { feed, .. }
            | Cmd::Events { feed, .. }
            | Cmd::Metrics { feed, .. }
            | Cmd::Oncall { feed, .. } => Some(feed),
            Cmd::Serve(_) | Cmd::Token { .. } | Cmd::Policy { .. } | Cmd::Demo { .. } => None,
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
        /// The feed's data directory [default: the platform data directory].
        #[arg(long)]
        data: Option<std::path::PathBuf>,
    },
    /// Who has a token: name, role, when it was made, whether it is revoked (never the
    /// token itself).
    List {
        /// The feed's data directory [default: the platform data directory].
        #[arg(long)]
        data: Option<std::path::PathBuf>,
    },
    /// Revoke NAME's token: refused at its next handshake; live sessions are closed.
    Revoke {
        name: String,
        /// The feed's data directory [default: the platform data directory].
        #[arg(long)]
        data: Option<std::path::PathBuf>,
    },
}

fn parse_access(s: &str) -> Result<Access, String> {
    s.parse()
}

/// `warroom token add|list|revoke`, on the token store in the data directory.
pub fn token(action: &TokenAction) -> anyhow::Result<()> {
    use crate::server::auth;
    let dir = |d: &Option<std::path::PathBuf>| match d {
        Some(d) => Ok(d.clone()),
        None => default_data_dir(),
    };
    match action {
        TokenAction::Add { name, role, data } => {
            let dir = dir(data)?;
            let token = auth::add_token(&dir, name, *role)?;
            println!("{token}");
            eprintln!(
                "A {role} token for {name}, shown only this once (the feed keeps its hash in {}).\n\
                 Give it to {name} privately; they connect with WARROOM_TOKEN=<the token above> \
                 (or --token) and --server pointing at the feed.",
                dir.join(auth::STORE_FILE).display()
            );
        }
        TokenAction::List { data } => {
            let dir = dir(data)?;
            let tokens = auth::list_tokens(&dir)?;
            if tokens.is_empty() {
                println!(
                    "no tokens in {}: a feed on this data directory is open on loopback (and \
                     refuses to listen beyond it); `warroom token add NAME --role ROLE` makes one",
                    dir.display()
                );
                return Ok(());
            }
            print!("{}", tokens_table(&tokens));
        }
        TokenAction::Revoke { name, data } => {
            let dir = dir(data)?;
            let t = auth::revoke_token(&dir, name)?;
            println!(
                "{}'s {} token is revoked: a running feed refuses it from now on and closes its \
                 live sessions within seconds",
                t.name, t.role
            );
        }
    }
    Ok(())
}

/// The `token list` table: name, role, created, state. Never the token.
pub fn tokens_table(tokens: &[crate::server::auth::StoredToken]) -> String {
    let when = crate::report::format::utc_stamp;
    let mut out = format!(
        "{:<16} {:<10} {:<21} {}\n",
        "NAME", "ROLE", "CREATED", "STATE"
    );
    for t in tokens {
        let state = match t.revoked_at {
            Some(r) => format!("revoked {}", when(r)),
            None if t.local => {
                "active (this machine's account; acts under each client's name)".to_string()
            }
            None => "active".to_string(),
        };
        out.push_str(&format!(
            "{:<16} {:<10} {:<21} {state}\n",
            t.name,
            t.role.as_str(),
            when(t.created_at)
        ));
    }
    out
}

#[derive(Debug, Subcommand)]
pub enum PolicyAction {
    /// Validate a policy file; every problem is listed with its line.
    Check { file: std::path::PathBuf },
    /// Print the default policy (a starting point for your own).
    Print,
}

/// `warroom policy check|print`.
pub fn policy(action: &PolicyAction) -> anyhow::Result<()> {
    use crate::model::policy::DEFAULT_POLICY;
    match action {
        PolicyAction::Print => {
            print!("{DEFAULT_POLICY}");
            Ok(())
        }
        PolicyAction::Check { file } => match crate::server::load_rules(Some(file)) {
            Ok(rules) => {
                let p = &rules.policy;
                println!(
                    "{}: ok ({} severity rules, {} schedules, {} runbooks)",
                    file.display(),
                    p.rules().len(),
                    p.schedules().len(),
                    rules.runbooks.len()
                );
                let now = chrono::Utc::now();
                for sev in Severity::ALL {
                    let plan = p.plan(sev, None, now);
                    let steps: Vec<String> = plan
                        .steps
                        .iter()
                        .map(|s| {
                            format!(
                                "{} {} {}",
                                crate::model::policy::Span(Duration::from_secs(s.after_secs)),
                                s.action,
                                s.target
                            )
                        })
                        .collect();
                    let cadence = p
                        .cadence(sev)
                        .map(|c| {
                            format!(
                                "; status updates every {}",
                                crate::model::policy::Span(Duration::from_secs(c))
                            )
                        })
                        .unwrap_or_default();
                    println!(
                        "  {sev}: {}{cadence}",
                        if steps.is_empty() {
                            "no escalation".to_string()
                        } else {
                            steps.join(", ")
                        }
                    );
                }
                Ok(())
            }
            Err(errors) => {
                for e in &errors {
                    eprintln!("{}: {e}", file.display());
                }
                bail!("{} has {} problem(s)", file.display(), errors.len())
            }
        },
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = DEFAULT_ADDR)]
    pub listen: std::net::SocketAddr,
    /// Directory for the event log [default: the platform data directory].
    #[arg(long)]
    pub data: Option<std::path::PathBuf>,
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
}

/// The rules of a policy file (the built-in policy without one), or every problem with it.
pub fn load_policy(path: Option<&std::path::Path>) -> anyhow::Result<crate::server::Rules> {
    crate::server::load_rules(path).map_err(|errors| {
        anyhow!(
            "the policy {} has {} problem(s):\n  {}",
            path.map_or("(built in)".into(), |p| p.display().to_string()),
            errors.len(),
            errors.join("\n  ")
        )
    })
}

/// `warroom oncall --policy FILE`: who is on call now and the next handoffs, per schedule,
/// as that file has it.
pub fn oncall(
    policy: &std::path::Path,
    at: Option<&str>,
    handoffs: usize,
) -> anyhow::Result<String> {
    let rules = load_policy(Some(policy))?;
    oncall_text(&rules.policy, at, handoffs)
}

/// Who is on call as of `at` (RFC 3339; default now) and the next `handoffs` handoffs, per
/// schedule of `policy`.
pub fn oncall_text(
    policy: &crate::model::policy::Policy,
    at: Option<&str>,
    handoffs: usize,
) -> anyhow::Result<String> {
    use crate::model::oncall::Layer;
    use std::fmt::Write as _;
    let now = match at {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|e| anyhow!("--at '{t}' is not an RFC 3339 time: {e}"))?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let mut out = String::new();
    let schedules = policy.schedules();
    if schedules.is_empty() {
        writeln!(out, "No on-call schedules in the policy.")?;
        return Ok(out);
    }
    let local = |t: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz| {
        t.with_timezone(&tz)
            .format("%a %Y-%m-%d %H:%M %Z")
            .to_string()
    };
    for s in schedules {
        let tz = s.time_zone();
        writeln!(
            out,
            "{} (rotation {}, {}) as of {}",
            s.name(),
            s.rotation(),
            tz,
            local(now, tz)
        )?;
        for layer in [Layer::Primary, Layer::Secondary] {
            match s.on_call(layer, now) {
                Some(shift) => writeln!(
                    out,
                    "  {:<9} {:<16} until {}{}",
                    layer.to_string(),
                    shift.person,
                    local(shift.until, tz),
                    if shift.overridden { " (override)" } else { "" }
                )?,
                None => writeln!(out, "  {:<9} nobody", layer.to_string())?,
            }
        }
        let next = s.handoffs(now, handoffs);
        if !next.is_empty() {
            writeln!(out, "  next handoffs:")?;
            for h in next {
                writeln!(
                    out,
                    "    {}  {:<9} {} → {}",
                    local(h.at, tz),
                    h.layer.to_string(),
                    h.from.as_deref().unwrap_or("nobody"),
                    h.to.as_deref().unwrap_or("nobody")
                )?;
            }
        }
    }
    Ok(out)
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

/// The default local feed's address: `WARROOM_LOCAL_FEED`, else 127.0.0.1:7654.
pub fn local_feed_addr() -> String {
    std::env::var("WARROOM_LOCAL_FEED")
        .ok()
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ADDR.to_string())
}

impl Global {
    /// The feed URL from `--server`, `WARROOM_SERVER`, or the default local address.
    pub fn url(&self) -> anyhow::Result<String> {
        let local = local_feed_addr();
        feed_url(self.server.as_deref().unwrap_or(&local)).map_err(|e| anyhow!(e))
    }

    /// What a `wss://` URL trusts: the system's roots plus `--ca`. `None` for `ws://`.
    pub fn tls(&self, url: &str) -> anyhow::Result<Option<std::sync::Arc<rustls::ClientConfig>>> {
        if !url.starts_with("wss://") {
            return Ok(None);
        }
        crate::tls::client_config(self.ca.as_deref()).map(Some)
    }

    /// Who we are: `--name`, `WARROOM_NAME`, else the OS user.
    pub fn who(&self) -> String {
        self.name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .or_else(|| std::env::var("LOGNAME").ok().filter(|u| !u.is_empty()))
            .or_else(|| std::env::var("USERNAME").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| "responder".to_string())
    }

    /// This machine's token for the local feed, when `url` is the local feed and no token
    /// was given (see `warroom token`).
    pub fn local_token(&self, url: &str) -> Option<String> {
        if self.token.is_some() {
            return None;
        }
        let local = feed_url(&local_feed_addr()).ok()?;
        if url != local {
            return None;
        }
        crate::server::auth::read_local_token(&default_data_dir().ok()?)
    }

    fn client_config(&self) -> anyhow::Result<ClientConfig> {
        let mut c = ClientConfig::new(self.url()?, self.who());
        c.token = self.token.clone().or_else(|| self.local_token(&c.url));
        c.tls = self.tls(&c.url)?;
        c.reconnect = false;
        c.refused_hint = Some(self.refused_hint(&c.url));
        Ok(c)
    }

    /// What a script is told when nothing listens at `url`: how to start a feed there. At
    /// the local feed's address, `warroom` (the console) hosts one; anywhere else the
    /// address may be wrong, or `warroom serve` is not running there.
    fn refused_hint(&self, url: &str) -> String {
        let local = local_feed_addr();
        let addr = url
            .split_once("://")
            .map_or(url, |(_, rest)| rest)
            .split('/')
            .next()
            .unwrap_or(url);
        if feed_url(&local).is_ok_and(|l| l == url) {
            let serve = if local == DEFAULT_ADDR {
                "`warroom serve`".to_string()
            } else {
                format!("`warroom serve --listen {addr}`")
            };
            return format!(
                "Start one: `warroom` opens the console and hosts the local feed; {serve} runs \
                 a shared feed."
            );
        }
        let tls = if url.starts_with("wss://") {
            " (with --tls-cert and --tls-key for wss://)"
        } else {
            ""
        };
        // `--listen` takes an IP address; a host name is the reader's to resolve.
        let listen = if addr.parse::<std::net::SocketAddr>().is_ok() {
            addr
        } else {
            "IP:PORT"
        };
        format!(
            "Check the address (--server, WARROOM_SERVER), and that a feed runs there: \
             `warroom serve --listen {listen}`{tls}."
        )
    }
}

/// A one-shot connection: in sync with the feed, ready for a command.
struct Session {
    client: Client,
    replica: Replica,
}

const SYNC_TIMEOUT: Duration = Duration::from_secs(20);

impl Session {
    async fn open(config: ClientConfig) -> anyhow::Result<Session> {
        Self::open_with(config, |_| {}).await
    }

    /// [`Session::open`], showing `on_update` every update taken on the way.
    async fn open_with(
        config: ClientConfig,
        mut on_update: impl FnMut(&Update),
    ) -> anyhow::Result<Session> {
        let mut s = Session {
            client: Client::start(config),
            replica: Replica::default(),
        };
        tokio::time::timeout(SYNC_TIMEOUT, async {
            while !s.replica.synced {
                let u = s.step().await?;
                on_update(&u);
            }
            Ok::<_, anyhow::Error>(())
        })
        .await
        .map_err(|_| anyhow!("the feed did not answer within {}s", SYNC_TIMEOUT.as_secs()))??;
        Ok(s)
    }

    /// The feed's policy, as it told this session when it joined: what on call, handoffs
    /// and pages per shift are read from.
    fn policy(&self) -> anyhow::Result<crate::model::policy::Policy> {
        let public = self.replica.policy.as_ref().ok_or_else(|| {
            anyhow!("the feed did not send its policy (a warroom feed older than this client?)")
        })?;
        public.check().map_err(|errors| {
            anyhow!(
                "the feed's policy has {} problem(s) here:\n  {}",
                errors.len(),
                errors.join("\n  ")
            )
        })
    }

    /// Takes the next update into the replica; returns it.
    async fn step(&mut self) -> anyhow::Result<Update> {
        let u = self
            .client
            .next()
            .await
            .ok_or_else(|| anyhow!("the connection closed"))?;
        match &u {
            Update::Conn(ConnState::Stopped { reason }) => bail!("{reason}"),
            Update::ServerError { message, .. } => eprintln!("warroom: server says: {message}"),
            _ => {}
        }
        self.replica
            .apply(&u)
            .map_err(|e| anyhow!("the feed sent an event this client cannot fold: {e}"))?;
        Ok(u)
    }

    /// Sends a command and waits for its answer and for its events to arrive here.
    async fn run(&mut self, command: Command) -> anyhow::Result<(Vec<u64>, Option<IncidentRef>)> {
        let (_, mut rx) = self.client.submit(command);
        let answer = loop {
            tokio::select! {
                a = &mut rx => break a.map_err(|_| anyhow!("the connection closed before the server answered; the command may not have been recorded"))?,
                u = self.step() => { u?; }
            }
        };
        match answer {
            Answer::Ok { seqs, incident } => {
                let last = seqs.iter().copied().max().unwrap_or(0);
                while self.replica.state.seq < last {
                    self.step().await?;
                }
                Ok((seqs, incident))
            }
            // "not allowed: …" says it all (the feed's refusals of restricted incidents and
            // of membership changes say why, not that they are refusals).
            Answer::Error {
                code: ErrorCode::Forbidden,
                message,
            } => bail!("{}", not_allowed(&message)),
            Answer::Error { code, message } => {
                let code = serde_json::to_value(code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                bail!("refused ({code}): {message}")
            }
        }
    }
}

/// `warroom member add|remove|list`.
async fn member(s: &mut Session, action: MemberAction) -> anyhow::Result<()> {
    let members = |s: &Session, r: IncidentRef| -> Vec<String> {
        s.replica
            .state
            .incident(r)
            .map(|i| i.members.keys().cloned().collect())
            .unwrap_or_default()
    };
    match action {
        MemberAction::List { incident } => {
            let inc = visible_incident(&s.replica.state, incident).map_err(|e| anyhow!(e))?;
            if !inc.restricted {
                bail!("{incident} is not restricted: everyone on the feed sees it");
            }
            print!("{}", members_table(inc));
        }
        MemberAction::Add { incident, person } => {
            let before = members(s, incident);
            s.run(Command::AddMember {
                incident,
                person: person.clone(),
            })
            .await?;
            let added = members(s, incident)
                .into_iter()
                .find(|m| !before.contains(m))
                .unwrap_or(person);
            println!("{incident}: {added} added to the members");
        }
        MemberAction::Remove { incident, person } => {
            let before = members(s, incident);
            s.run(Command::RemoveMember {
                incident,
                person: person.clone(),
            })
            .await?;
            let after = members(s, incident);
            let removed = before
                .into_iter()
                .find(|m| !after.contains(m))
                .unwrap_or(person);
            let gone = if s.replica.state.withheld.contains(&incident) {
                " (you no longer see it)"
            } else {
                ""
            };
            println!("{incident}: {removed} removed from the members{gone}");
        }
    }
    Ok(())
}

/// `member list`: one member a line, with when they were let in.
pub fn members_table(inc: &crate::model::Incident) -> String {
    let mut out = String::new();
    for (name, since) in &inc.members {
        let when = if *since == 0 {
            "from the start".to_string()
        } else {
            format!("since event {since}")
        };
        out.push_str(&format!("{name:<16} {when}\n"));
    }
    out
}

/// Runs a client subcommand (one that talks to a feed: not the console, `serve`, `demo`,
/// `token`, `policy` or `oncall`), with `global` (the options before the subcommand) under
/// the subcommand's own.
pub async fn run_client(global: &Global, cmd: Cmd) -> anyhow::Result<()> {
    let global = &match cmd.feed() {
        Some(feed) => global.with(feed),
        None => global.clone(),
    };
    let config = global.client_config()?;
    if let Cmd::Events {
        since,
        follow,
        json,
        ..
    } = cmd
    {
        return events(config, since, follow, json).await;
    }
    if let Cmd::Metrics { since, json, .. } = cmd {
        return metrics(config, since, json).await;
    }
    if let Cmd::Export {
        incident,
        format,
        output,
        ..
    } = &cmd
    {
        let log = fetch_log(config).await?;
        let text = export_text(&log, *incident, *format).map_err(|e| anyhow!(e))?;
        match output {
            Some(path) => {
                std::fs::write(path, &text)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("{incident} exported to {}", path.display());
            }
            None => print!("{text}"),
        }
        return Ok(());
    }
    let opened = Session::open(config).await;
    let mut s = match (opened, &cmd) {
        (Ok(s), _) => s,
        // On call is the feed's to say; a file can be read without one.
        (Err(e), Cmd::Oncall { .. }) => {
            bail!("{e:#}\n(`warroom oncall --policy FILE` reads a policy file instead)")
        }
        (Err(e), _) => return Err(e),
    };
    match cmd {
        Cmd::Declare {
            title,
            severity,
            service,
            restricted,
            ..
        } => {
            let (_, r) = s
                .run(Command::Declare {
                    title,
                    severity,
                    service,
                    restricted,
                })
                .await?;
            let r = r.context("the server did not name the new incident")?;
            println!("{r}");
            if restricted {
                eprintln!(
                    "{r} is restricted (need to know): only its members (you) and admins see it; \
                     an admin lets others in with `warroom member add {r} NAME`"
                );
            }
        }
        Cmd::Note {
            incident,
            text,
            at,
            kind,
            ..
        } => {
            let occurred_at = match at {
                Some(a) => Some(
                    time::parse_at(&a, chrono::Utc::now(), crate::clock::Zone::Local)
                        .map_err(|e| anyhow!(e))?,
                ),
                None => None,
            };
            let (seqs, _) = s
                .run(Command::AddEntry {
                    incident,
                    entry_kind: kind,
                    text,
                    occurred_at,
                    next_update_secs: None,
                })
                .await?;
            println!(
                "{incident}: entry {} recorded",
                seqs.first().copied().unwrap_or(0)
            );
        }
        Cmd::Correct {
            incident,
            entry,
            text,
            at,
            kind,
            ..
        } => {
            let occurred_at = match at {
                Some(a) => Some(
                    time::parse_at(&a, chrono::Utc::now(), crate::clock::Zone::Local)
                        .map_err(|e| anyhow!(e))?,
                ),
                None => None,
            };
            if text.is_none() && occurred_at.is_none() && kind.is_none() {
                bail!("say what to correct: the text, --at or --kind");
            }
            let (seqs, _) = s
                .run(Command::CorrectEntry {
                    incident,
                    entry,
                    text,
                    entry_kind: kind,
                    occurred_at,
                })
                .await?;
            println!(
                "{incident}: entry {entry} corrected by entry {}",
                seqs.first().copied().unwrap_or(0)
            );
        }
        Cmd::Ack { incident, .. } => {
            s.run(Command::Acknowledge { incident }).await?;
            println!("{incident} acknowledged");
        }
        Cmd::Sev {
            incident, severity, ..
        } => {
            s.run(Command::SetSeverity { incident, severity }).await?;
            println!("{incident} is now {severity}");
        }
        Cmd::Status {
            incident, status, ..
        } => {
            s.run(Command::SetStatus { incident, status }).await?;
            println!("{incident} is now {status}");
        }
        Cmd::Role {
            incident,
            role,
            person,
            release,
            ..
        } => {
            if release {
                s.run(Command::ReleaseRole { incident, role }).await?;
                println!("{incident}: {} released", role_name(role));
            } else {
                let person = person.context("give a NAME (or `me`), or --release")?;
                s.run(Command::AssignRole {
                    incident,
                    role,
                    person,
                })
                .await?;
                let holder = s
                    .replica
                    .state
                    .incident(incident)
                    .and_then(|i| i.roles.get(&role).cloned())
                    .unwrap_or_default();
                println!("{incident}: {holder} is {}", role_name(role));
            }
        }
        Cmd::Resolve { incident, .. } => {
            s.run(Command::Resolve { incident }).await?;
            println!("{incident} resolved");
        }
        Cmd::Handoff { format, .. } => {
            use crate::report::handoff;
            let schedules = handoff::schedules_default_first(&s.policy()?);
            let now = chrono::Utc::now();
            let start = handoff::shift_start(&schedules, now);
            let b = handoff::brief(&s.replica.state, &schedules, start, now);
            match format.as_str() {
                "md" | "markdown" => print!("{}", handoff::markdown(&b)),
                "json" => println!("{}", serde_json::to_string_pretty(&b)?),
                _ => print!("{}", handoff::text(&b)),
            }
        }
        Cmd::AcceptHandoff { from, .. } => {
            use crate::report::handoff;
            let from = match from {
                Some(f) => f,
                None => {
                    let schedules = handoff::schedules_default_first(&s.policy()?);
                    handoff::outgoing(&schedules, chrono::Utc::now()).context(
                        "the feed's policy names no outgoing primary (no schedule, or the same person carries on): give FROM",
                    )?
                }
            };
            let (seqs, _) = s.run(Command::AcceptHandoff { from: from.clone() }).await?;
            let done = handoff::accepted(&s.replica.state, &seqs);
            print!("{}", handoff::accepted_text(&global.who(), &from, &done));
        }
        Cmd::Postmortem {
            incident,
            section,
            text,
            whys_file,
            ..
        } => {
            if section.is_none() && whys_file.is_none() {
                bail!("say what to write: --section NAME --text TEXT, and/or --whys-file FILE");
            }
            if let (Some(section), Some(text)) = (section, text) {
                s.run(Command::EditPostmortem {
                    incident,
                    section,
                    text,
                })
                .await?;
                println!("{incident}: {} saved", section.title().to_lowercase());
            }
            if let Some(path) = whys_file {
                let text = if path.as_os_str() == "-" {
                    std::io::read_to_string(std::io::stdin()).context("reading standard input")?
                } else {
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?
                };
                let whys = crate::model::postmortem::parse_whys(&text)
                    .map_err(|e| anyhow!("{}: {e}", path.display()))?;
                let n = whys.len();
                s.run(Command::SetWhys { incident, whys }).await?;
                println!("{incident}: 5 whys saved ({n} links)");
            }
        }
        Cmd::Action {
            incident,
            text,
            owner,
            due,
            ..
        } => {
            let (seqs, _) = s
                .run(Command::AddActionItem {
                    incident,
                    text,
                    owner,
                    due,
                })
                .await?;
            println!(
                "{incident}: action item {} added",
                seqs.first().copied().unwrap_or(0)
            );
        }
        Cmd::ActionDone {
            incident,
            item,
            undo,
            ..
        } => {
            s.run(Command::UpdateActionItem {
                incident,
                item,
                text: None,
                owner: None,
                due: None,
                done: Some(!undo),
            })
            .await?;
            let state = if undo { "open again" } else { "done" };
            println!("{incident}: action item {item} {state}");
        }
        Cmd::Waive {
            incident, reason, ..
        } => {
            s.run(Command::WaivePostmortem { incident, reason }).await?;
            println!("{incident}: post-mortem waived");
        }
        Cmd::Restrict { incident, .. } => {
            s.run(Command::Restrict { incident }).await?;
            let members = s
                .replica
                .state
                .incident(incident)
                .map(|i| i.members.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default();
            println!(
                "{incident} is restricted (need to know): only its members and admins see it; members: {}",
                members.join(", ")
            );
        }
        Cmd::Member { action, .. } => member(&mut s, action).await?,
        Cmd::Oncall { at, handoffs, .. } => {
            print!("{}", oncall_text(&s.policy()?, at.as_deref(), handoffs)?)
        }
        Cmd::Incidents { json, .. } => {
            if json {
                println!("{}", serde_json::to_string_pretty(&s.replica.state)?);
            } else {
                print!("{}", incidents_table(&s.replica.state));
            }
        }
        Cmd::Serve(_)
        | Cmd::Token { .. }
        | Cmd::Events { .. }
        | Cmd::Metrics { .. }
        | Cmd::Demo { .. }
        | Cmd::Policy { .. }
        | Cmd::Export { .. } => {}
    }
    Ok(())
}

/// The `incidents` table: reference, severity, status, title, IC.
pub fn incidents_table(state: &State) -> String {
    let board = state.board();
    if board.is_empty() {
        return match withheld_line(state) {
            Some(w) => format!("no incidents you may see\n{w}\n"),
            None => "no incidents\n".to_string(),
        };
    }
    let mut out = format!(
        "{:<8} {:<5} {:<14} {:<8} {}\n",
        "REF", "SEV", "STATUS", "IC", "TITLE"
    );
    for i in board {
        let ic = i
            .roles
            .get(&Role::IncidentCommander)
            .map_or("-", String::as_str);
        out.push_str(&format!(
            "{:<8} {:<5} {:<14} {:<8} {}\n",
            i.reference.to_string(),
            i.severity.to_string(),
            i.status.as_str(),
            ic,
            i.title
        ));
    }
    if let Some(w) = withheld_line(state) {
        out.push_str(&w);
        out.push('\n');
    }
    out
}

/// `2 restricted incidents you are not a member of: INC-3, INC-7`, when there are any.
fn withheld_line(state: &State) -> Option<String> {
    let refs: Vec<IncidentRef> = state.withheld.iter().copied().collect();
    crate::report::format::withheld_line(&refs)
}

/// One line per event for people: seq, time, actor, what happened.
pub fn event_line(e: &Event) -> String {
    let mut body = serde_json::to_value(&e.kind).unwrap_or_default();
    if let Some(obj) = body.as_object_mut() {
        obj.remove("kind");
        obj.remove("incident");
    }
    let detail = body
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => format!("{k}={s:?}"),
                    other => format!("{k}={other}"),
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    format!(
        "{:>6} {} {:<12} {} {} {}",
        e.seq,
        e.at.format("%Y-%m-%dT%H:%M:%SZ"),
        e.actor,
        e.kind.incident(),
        e.kind.name(),
        detail
    )
}

async fn events(
    mut config: ClientConfig,
    since: u64,
    follow: bool,
    json: bool,
) -> anyhow::Result<()> {
    config.last_seq = Some(since);
    let mut client = Client::start(config);
    let mut head: Option<u64> = None;
    let mut last = since;
    let mut stdout = std::io::stdout().lock();
    let mut print = |e: &Event| -> std::io::Result<()> {
        use std::io::Write;
        let line = if json {
            serde_json::to_string(e).unwrap_or_default()
        } else {
            event_line(e)
        };
        writeln!(stdout, "{line}")?;
        stdout.flush()
    };
    loop {
        let u = tokio::time::timeout(SYNC_TIMEOUT, client.next()).await;
        let u = match u {
            Ok(Some(u)) => u,
            Ok(None) => bail!("the connection closed"),
            Err(_) if head.is_none() => {
                bail!("the feed did not answer within {}s", SYNC_TIMEOUT.as_secs())
            }
            Err(_) => continue,
        };
        match u {
            Update::Welcome { head_seq, .. } => head = Some(head_seq),
            Update::Snapshot(s) => {
                // The feed holds fewer events than asked for (`--since` beyond its head).
                last = s.seq;
            }
            Update::Event(e) => {
                last = e.seq;
                if let Err(err) = print(&e) {
                    // A closed pipe (`| head`) is the reader's way of saying "enough".
                    if err.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(());
                    }
                    bail!("writing events: {err}");
                }
            }
            Update::Conn(ConnState::Stopped { reason }) => bail!("{reason}"),
            _ => {}
        }
        if !follow && head.is_some_and(|h| last >= h) {
            return Ok(());
        }
    }
}

/// `warroom metrics`: the whole log from the feed (from its first event), folded here, and
/// the figures computed from it; pages are divided by the default schedule of the feed's
/// policy.
async fn metrics(
    mut config: ClientConfig,
    since: Option<chrono::DateTime<chrono::Utc>>,
    json: bool,
) -> anyhow::Result<()> {
    use crate::report::metrics;
    config.last_seq = Some(0);
    let mut log = Some(Vec::new());
    let s = Session::open_with(config, |u| match u {
        Update::Event(e) => {
            if let Some(l) = log.as_mut() {
                l.push(e.clone());
            }
        }
        // The feed sent its state instead of its log: pages then come from the state.
        Update::Snapshot(_) => log = None,
        _ => {}
    })
    .await?;
    let policy = s.policy()?;
    let m = metrics::compute(
        &s.replica.state,
        log.as_deref(),
        policy.schedule_for(None),
        since,
        chrono::Utc::now(),
    );
    if json {
        println!("{}", serde_json::to_string_pretty(&m)?);
    } else {
        print!("{}", metrics::text(&m));
    }
    Ok(())
}

/// The platform data directory for the event log (`WARROOM_DATA_DIR` overrides it).
pub fn default_data_dir() -> anyhow::Result<std::path::PathBuf> {
    if let Some(d) = std::env::var_os("WARROOM_DATA_DIR") {
        return Ok(d.into());
    }
    directories::ProjectDirs::from("", "", "warroom")
        .map(|p| p.data_dir().to_path_buf())
        .context(
            "no home directory to keep the event log in: pass --data DIR or set WARROOM_DATA_DIR",
        )
}

/// Everything the console reads from the config file, the theme file and the environment,
/// with the flags on top. Problems are collected as warnings; defaults stand in.
pub struct ConsoleSetup {
    pub server: Option<String>,
    pub name: String,
    pub token: Option<String>,
    pub theme: crate::tui::theme::Theme,
    pub keymap: crate::tui::keymap::Keymap,
    pub warnings: Vec<String>,
}

/// Layers defaults, the config file, the environment and the flags (in that order).
pub fn console_setup(global: &Global, theme_flag: Option<&str>) -> ConsoleSetup {
    use crate::tui::{config, keymap::Keymap, theme};
    let path = config::default_path();
    let (cfg, mut warnings) = config::load(path.as_deref());
    let (keymap, key_warnings) = Keymap::with_overrides(&cfg.keys);
    let file = path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "config".into());
    warnings.extend(key_warnings.into_iter().map(|w| format!("{file}: {w}")));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let (theme, theme_warnings) = theme::load(theme_flag.or(cfg.theme.as_deref()), no_color);
    warnings.extend(theme_warnings);
    let mut global = global.clone();
    if global.name.is_none() {
        global.name = cfg.name.clone();
    }
    ConsoleSetup {
        server: global.server.clone().or(cfg.server),
        name: global.who(),
        token: global.token.clone().or(cfg.token),
        theme,
        keymap,
        warnings,
    }
}

/// Where a console keeps commands it could not send yet, per feed and person.
pub fn outbox_dir(url: &str, name: &str) -> Option<std::path::PathBuf> {
    let safe: String = format!("{url}-{name}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    default_data_dir().ok().map(|d| d.join("outbox").join(safe))
}

/// `warroom` with no subcommand: the console on the configured feed, or on the default
/// local feed, hosting it here when nobody else does.
pub async fn console(
    global: &Global,
    theme_flag: Option<&str>,
    policy: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let mut setup = console_setup(global, theme_flag);
    let (url, local_feed) = match &setup.server {
        Some(s) => {
            let url = feed_url(s).map_err(|e| anyhow!(e))?;
            if setup.token.is_none() {
                setup.token = global.local_token(&url);
            }
            (url, None)
        }
        None => {
            let local = local_feed_addr();
            let addr: std::net::SocketAddr = local.parse().with_context(|| {
                format!("WARROOM_LOCAL_FEED '{local}' is not an address like 127.0.0.1:7654")
            })?;
            if !addr.ip().is_loopback() {
                bail!(
                    "WARROOM_LOCAL_FEED must be a loopback address (the embedded feed is for this machine only), got {addr}"
                );
            }
            let data = default_data_dir()?;
            // The local feed admits this machine's account by its own token, made on the
            // first run (mode 0600): no set-up, and other accounts on the machine stay out.
            match crate::server::auth::ensure_local_token(&data) {
                Ok(t) => {
                    if setup.token.is_none() {
                        setup.token = t;
                    }
                }
                Err(e) => setup
                    .warnings
                    .push(format!("the local feed's token could not be made: {e:#}")),
            }
            let mut host = crate::server::ServerConfig::new(addr, data);
            host.rules = std::sync::Arc::new(load_policy(policy)?);
            let taken = tokio::time::timeout(
                Duration::from_millis(500),
                tokio::net::TcpStream::connect(addr),
            )
            .await
            .is_ok_and(|r| r.is_ok());
            let mut feed = HostedFeed {
                config: Some(host),
                running: None,
            };
            if !taken {
                // Another console may win the race to bind; then we simply join it.
                crate::tui::LocalFeed::take_over(&mut feed).await;
            }
            let feed: Box<dyn crate::tui::LocalFeed> = Box::new(feed);
            (feed_url(&local).map_err(|e| anyhow!(e))?, Some(feed))
        }
    };
    crate::tui::run(crate::tui::ConsoleOptions {
        outbox: outbox_dir(&url, &setup.name),
        tls: global.tls(&url)?,
        url,
        name: setup.name,
        token: setup.token,
        theme: setup.theme,
        keymap: setup.keymap,
        warnings: setup.warnings,
        local_feed,
    })
    .await
}

/// The local feed as a console hosts it: how to start it, and the server while this
/// console runs it.
pub struct HostedFeed {
    /// `None`: a feed that is not hosted again once it stops (the demo's).
    config: Option<crate::server::ServerConfig>,
    running: Option<crate::server::RunningServer>,
}

impl HostedFeed {
    /// A feed already running here, for this console's lifetime only.
    pub fn running(server: crate::server::RunningServer) -> HostedFeed {
        HostedFeed {
            config: None,
            running: Some(server),
        }
    }
}

impl crate::tui::LocalFeed for HostedFeed {
    fn hosting(&self) -> bool {
        self.running.is_some()
    }

    fn take_over(
        &mut self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let Some(config) = &self.config else { return };
            if let Ok(server) = crate::server::start(config.clone()).await {
                tracing::info!("now hosting the local feed at {}", server.url());
                self.running = Some(server);
            }
        })
    }

    fn stop(self: Box<Self>) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(async move {
            if let Some(server) = self.running {
                let _ = server.shutdown().await;
            }
        })
    }
}
