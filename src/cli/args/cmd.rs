//! The subcommands: every one `warroom` takes, with its arguments, and which of them talk
//! to a feed.

use clap::Subcommand;

use super::parse::{
    parse_date, parse_detection, parse_impact, parse_kind, parse_milestone, parse_next, parse_ref,
    parse_role, parse_section, parse_severity, parse_since, parse_status, parse_yes_no,
};
use super::{FeedArgs, MemberAction, PolicyAction, ServeArgs, StoreAction, TokenAction};
use crate::model::{EntryKind, IncidentRef, PmSection, Role, Severity, Status};
use crate::report::export::{ExportFormat, parse_format};

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
    /// Post a status update: it restarts the update countdown and reaches the stakeholders
    /// the feed's policy names for the incident's severity; `--public` sends it to the
    /// status page too. A SEV1 update carries the executive briefing: `--impact`, `--eta`
    /// and `--at-risk` (the customer commitments at risk).
    Update {
        #[command(flatten)]
        feed: FeedArgs,
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
        text: String,
        /// When the next update comes: 20m, 1h (a bare number is minutes) [default: the
        /// policy's cadence for the severity].
        #[arg(long, value_name = "SPAN", value_parser = parse_next)]
        next: Option<u64>,
        /// Send it to the status page as well (never for a restricted incident).
        #[arg(long)]
        public: bool,
        /// Briefing: the business impact.
        #[arg(long, value_name = "TEXT")]
        impact: Option<String>,
        /// Briefing: the estimated time to resolution.
        #[arg(long, value_name = "TEXT")]
        eta: Option<String>,
        /// Briefing: the customer commitments at risk ("none" if none).
        #[arg(long, value_name = "TEXT")]
        at_risk: Option<String>,
    },
    /// Set when a milestone happened: impact-started, detected, mitigated (acknowledged and
    /// resolved only have their time corrected: `ack` and `resolve` record them).
    Milestone {
        #[command(flatten)]
        feed: FeedArgs,
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
        /// impact-started, detected, acknowledged, mitigated or resolved.
        #[arg(value_parser = parse_milestone)]
        milestone: crate::model::Milestone,
        /// When it happened: HH:MM (today, local time) or RFC 3339 [default: now].
        #[arg(long)]
        at: Option<String>,
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
    /// Record a deploy of a service: rooms about it show it, and the handoff lists the
    /// shift's deploys. (Pipelines may POST /webhook/deploy instead.)
    Deploy {
        #[command(flatten)]
        feed: FeedArgs,
        service: String,
        version: String,
        /// Where it went (production, eu-west…).
        #[arg(long = "env", value_name = "ENV")]
        environment: Option<String>,
        /// What changed, in a few words.
        #[arg(long)]
        note: Option<String>,
    },
    /// The feed's recent deploys, newest first (the feed keeps the last 8 days at hand).
    Deploys {
        #[command(flatten)]
        feed: FeedArgs,
        /// Only this service's.
        #[arg(long, value_name = "NAME")]
        service: Option<String>,
        /// How far back, in hours.
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=192))]
        hours: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The stand-up digest: alerts the policy classified as informational (no incident,
    /// no page), such as a 1x error-budget burn over 3 days, with how often each came.
    Digest {
        #[command(flatten)]
        feed: FeedArgs,
        /// How far back, in days.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=4))]
        days: u32,
        /// Print JSON.
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
            | Cmd::Page { feed, .. }
            | Cmd::Deploy { feed, .. }
            | Cmd::Deploys { feed, .. }
            | Cmd::Digest { feed, .. }
            | Cmd::Update { feed, .. }
            | Cmd::Milestone { feed, .. } => Some(feed),
            Cmd::Serve(_)
            | Cmd::Token { .. }
            | Cmd::Policy { .. }
            | Cmd::Store { .. }
            | Cmd::Demo { .. } => None,
        }
    }
}
