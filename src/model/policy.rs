//! The policy: services and their criticality, and the severity rules that classify an
//! alert. Policies are data (`assets/policy.toml` is the default, reproducing the seed
//! guide's classifier); this module parses them, checks them, and classifies. Pure: text in,
//! decisions out.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::escalation::{Plan, PlannedStep};
use super::oncall::{Layer, Schedule, ScheduleSpec};

mod public;
/// Durations in policies are written as spans (`5m`); the type lives with the domain's other
/// small value types, and stays reachable here where policy readers look for it.
pub use super::types::Span;
use super::{Severity, StepAction};
pub use public::{PublicPolicy, RunbookRef};

/// The default policy, embedded.
pub const DEFAULT_POLICY: &str = include_str!("../../assets/policy.toml");

/// How much a service matters to the business (seed guide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criticality {
    Critical,
    High,
    Normal,
}

/// What an alert says about the problem, by the documented names its labels, annotations
/// or custom details use.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertContext {
    pub service: Option<String>,
    /// Percent of requests failing, 0-100.
    pub error_rate: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    /// Percent of users affected, 0-100.
    pub affected_users_pct: Option<f64>,
    pub data_loss: bool,
    pub security_event: bool,
    pub revenue_impacting: bool,
    pub dependent_services: u32,
    /// SLO error-budget burn rate (1.0 = exactly exhausting the budget over its window).
    pub burn_rate: Option<f64>,
    pub burn_window: Option<Span>,
}

/// What a rule decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Worth knowing, not worth an incident.
    Informational,
}

/// One severity rule: every condition it names must hold.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub outcome: Option<Outcome>,
    pub data_loss: Option<bool>,
    pub security_event: Option<bool>,
    pub revenue_impacting: Option<bool>,
    pub critical_service: Option<bool>,
    pub error_rate_gte: Option<f64>,
    pub affected_users_pct_gte: Option<f64>,
    pub latency_p99_ms_gte: Option<f64>,
    pub dependent_services_gte: Option<u32>,
    pub burn_rate_gte: Option<f64>,
    pub burn_window_lte: Option<Span>,
    /// What the timeline says; `{field}` placeholders are filled from the alert.
    pub why: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Services {
    #[serde(default)]
    critical: Vec<String>,
    #[serde(default)]
    high: Vec<String>,
}

/// One escalation step as written: `{ after = "5m", page = "oncall.secondary" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepSpec {
    after: Span,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notify: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ticket: Option<String>,
}

/// The escalation policy for one severity, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EscalationSpec {
    #[serde(default)]
    steps: Vec<StepSpec>,
    #[serde(default)]
    repeat: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    round: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ack_timeout: Option<Span>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OncallSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default_schedule: Option<String>,
    #[serde(default)]
    services: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonSpec {
    #[serde(default)]
    channels: Vec<String>,
}

/// The body a webhook channel sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// warroom's own JSON (documented in the README).
    #[default]
    Json,
    /// A Slack-compatible incoming-webhook body (`{"text": …}`).
    Slack,
}

/// Where notifications go: an HTTP webhook, a command, or both.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    /// POST the notification here.
    pub webhook: Option<String>,
    #[serde(default)]
    pub format: WebhookFormat,
    /// Run this program (first element) with these arguments; details are in `WARROOM_*`
    /// environment variables.
    pub command: Option<Vec<String>>,
}

/// How notifications are delivered.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// Channels for people who name none of their own.
    #[serde(default)]
    pub default_channels: Vec<String>,
    /// Tries per channel before the delivery is recorded as failed.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// Wait before the first retry; doubled before each next one.
    #[serde(default = "default_backoff")]
    pub backoff: Span,
    /// Longest wait for one try.
    #[serde(default = "default_timeout")]
    pub timeout: Span,
}

fn default_attempts() -> u32 {
    3
}
fn default_backoff() -> Span {
    Span(Duration::from_secs(2))
}
fn default_timeout() -> Span {
    Span(Duration::from_secs(10))
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            default_channels: Vec::new(),
            attempts: default_attempts(),
            backoff: default_backoff(),
            timeout: default_timeout(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    services: Services,
    #[serde(default, rename = "rule")]
    rules: Vec<toml::Spanned<Rule>>,
    #[serde(default)]
    escalation: BTreeMap<String, toml::Spanned<EscalationSpec>>,
    #[serde(default)]
    cadence: BTreeMap<String, Span>,
    #[serde(default)]
    targets: BTreeMap<String, String>,
    #[serde(default)]
    oncall: OncallSpec,
    #[serde(default, rename = "schedule")]
    schedules: Vec<toml::Spanned<ScheduleSpec>>,
    #[serde(default)]
    people: BTreeMap<String, PersonSpec>,
    #[serde(default, rename = "channel")]
    channels: BTreeMap<String, Channel>,
    #[serde(default)]
    notify: NotifySettings,
    /// Runbook files by service or alert name, relative to the policy file.
    #[serde(default)]
    runbooks: BTreeMap<String, String>,
}

/// A checked policy.
#[derive(Debug, Clone)]
pub struct Policy {
    services: Services,
    rules: Vec<Rule>,
    escalation: BTreeMap<Severity, EscalationSpec>,
    cadence: BTreeMap<Severity, Span>,
    targets: BTreeMap<String, String>,
    oncall: OncallSpec,
    schedules: Vec<Schedule>,
    people: BTreeMap<String, PersonSpec>,
    channels: BTreeMap<String, Channel>,
    notify: NotifySettings,
    runbooks: BTreeMap<String, String>,
}

impl PartialEq for Policy {
    fn eq(&self, other: &Self) -> bool {
        self.services == other.services
            && self.rules == other.rules
            && self.escalation == other.escalation
            && self.cadence == other.cadence
            && self.targets == other.targets
            && self.oncall == other.oncall
            && self.people == other.people
            && self.channels == other.channels
            && self.notify == other.notify
            && self.runbooks == other.runbooks
            && self.schedules.len() == other.schedules.len()
    }
}

/// `sev1` … `sev4` as policy tables name them.
fn severity_key(k: &str) -> Option<Severity> {
    k.parse::<Severity>().ok()
}

/// The classifier's verdict, with the rule that decided it.
#[derive(Debug, Clone, PartialEq)]
pub enum Classification {
    /// Open (or join) an incident at this severity. `rule` is `None` when no rule matched.
    Incident {
        severity: Severity,
        rule: Option<usize>,
        why: String,
    },
    /// Record nothing beyond the alert itself.
    Informational { rule: usize, why: String },
}

impl Classification {
    /// The timeline's wording: "classified SEV1: error rate 62.5% on a revenue-impacting service".
    pub fn summary(&self) -> String {
        match self {
            Classification::Incident { severity, why, .. } => {
                format!("classified {severity}: {why}")
            }
            Classification::Informational { why, .. } => format!("informational: {why}"),
        }
    }
}

fn parse_layer(s: &str) -> Option<Layer> {
    match s {
        "primary" => Some(Layer::Primary),
        "secondary" => Some(Layer::Secondary),
        _ => None,
    }
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Checks that an escalation target can be resolved: `oncall.primary`, `SCHEDULE.secondary`,
/// a name under `[targets]`, or a person under `[people]`.
fn check_target(
    t: &str,
    targets: &BTreeMap<String, String>,
    people: &BTreeMap<String, PersonSpec>,
    schedules: &[&str],
) -> Result<(), String> {
    if let Some((sched, layer)) = t.split_once('.')
        && parse_layer(layer).is_some()
    {
        if sched == "oncall" || schedules.contains(&sched) {
            return Ok(());
        }
        return Err(format!(
            "target \"{t}\": there is no schedule \"{sched}\" (known: {})",
            list_or_none(schedules)
        ));
    }
    if targets.contains_key(t) || people.contains_key(t) {
        return Ok(());
    }
    Err(format!(
        "unknown target \"{t}\": write oncall.primary, oncall.secondary, SCHEDULE.primary, \
         a name under [targets] or a person under [people]"
    ))
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

impl Rule {
    fn conditions(&self) -> usize {
        [
            self.data_loss.is_some(),
            self.security_event.is_some(),
            self.revenue_impacting.is_some(),
            self.critical_service.is_some(),
            self.error_rate_gte.is_some(),
            self.affected_users_pct_gte.is_some(),
            self.latency_p99_ms_gte.is_some(),
            self.dependent_services_gte.is_some(),
            self.burn_rate_gte.is_some(),
            self.burn_window_lte.is_some(),
        ]
        .iter()
        .filter(|c| **c)
        .count()
    }

    fn matches(&self, ctx: &AlertContext, critical: bool) -> bool {
        fn gte(limit: Option<f64>, value: Option<f64>) -> bool {
            limit.is_none_or(|l| value.is_some_and(|v| v >= l))
        }
        self.data_loss.is_none_or(|b| b == ctx.data_loss)
            && self.security_event.is_none_or(|b| b == ctx.security_event)
            && self
                .revenue_impacting
                .is_none_or(|b| b == ctx.revenue_impacting)
            && self.critical_service.is_none_or(|b| b == critical)
            && gte(self.error_rate_gte, ctx.error_rate)
            && gte(self.affected_users_pct_gte, ctx.affected_users_pct)
            && gte(self.latency_p99_ms_gte, ctx.latency_p99_ms)
            && self
                .dependent_services_gte
                .is_none_or(|n| ctx.dependent_services >= n)
            && gte(self.burn_rate_gte, ctx.burn_rate)
            && self
                .burn_window_lte
                .is_none_or(|w| ctx.burn_window.is_some_and(|cw| cw <= w))
    }

    fn explain(&self, ctx: &AlertContext) -> String {
        let opt = |v: Option<f64>| v.map(num).unwrap_or_else(|| "?".into());
        self.why
            .replace(
                "{service}",
                ctx.service.as_deref().unwrap_or("an unnamed service"),
            )
            .replace("{error_rate}", &opt(ctx.error_rate))
            .replace("{affected_users_pct}", &opt(ctx.affected_users_pct))
            .replace("{latency_p99_ms}", &opt(ctx.latency_p99_ms))
            .replace("{dependent_services}", &ctx.dependent_services.to_string())
            .replace("{burn_rate}", &opt(ctx.burn_rate))
            .replace(
                "{burn_window}",
                &ctx.burn_window
                    .map(|w| w.to_string())
                    .unwrap_or_else(|| "?".into()),
            )
    }
}

impl Policy {
    /// The default policy. It is checked by the test suite, so this cannot fail in a
    /// released build; should it ever, an empty policy (everything SEV4) stands in.
    pub fn default_policy() -> Policy {
        Policy::parse(DEFAULT_POLICY).unwrap_or_else(|_| Policy {
            services: Services::default(),
            rules: Vec::new(),
            escalation: BTreeMap::new(),
            cadence: BTreeMap::new(),
            targets: BTreeMap::new(),
            oncall: OncallSpec::default(),
            schedules: Vec::new(),
            people: BTreeMap::new(),
            channels: BTreeMap::new(),
            notify: NotifySettings::default(),
            runbooks: BTreeMap::new(),
        })
    }

    /// Parses and checks a policy. Every problem found is reported, each with its line.
    pub fn parse(text: &str) -> Result<Policy, Vec<String>> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            vec![match line {
                Some(l) => format!("line {l}: {}", e.message().trim()),
                None => e.message().trim().to_string(),
            }]
        })?;
        let mut errors = Vec::new();
        let mut last: Option<(Severity, usize)> = None;
        let mut informational_seen = false;
        for (i, spanned) in file.rules.iter().enumerate() {
            let line = line_of(text, spanned.span().start);
            let r = spanned.get_ref();
            let at = format!("line {line}: rule {}", i + 1);
            match (r.severity, r.outcome) {
                (Some(_), Some(_)) => {
                    errors.push(format!("{at}: give `severity` or `outcome`, not both"))
                }
                (None, None) => errors.push(format!(
                    "{at}: give `severity` (1-4) or `outcome = \"informational\"`"
                )),
                (Some(s), None) => {
                    if informational_seen {
                        errors.push(format!(
                            "{at}: severity rules must come before informational ones"
                        ));
                    }
                    if let Some((prev, prev_line)) = last
                        && s < prev
                    {
                        errors.push(format!(
                            "{at}: a {s} rule after a {prev} rule (line {prev_line}); rules go from most to least severe, first match wins"
                        ));
                    }
                    last = Some((s, line));
                }
                (None, Some(_)) => informational_seen = true,
            }
            if r.conditions() == 0 {
                errors.push(format!("{at}: no conditions; it would match every alert"));
            }
            for (name, v) in [
                ("error_rate_gte", r.error_rate_gte),
                ("affected_users_pct_gte", r.affected_users_pct_gte),
            ] {
                if let Some(v) = v
                    && !(0.0..=100.0).contains(&v)
                {
                    errors.push(format!(
                        "{at}: {name} is a percentage (0-100), got {}",
                        num(v)
                    ));
                }
            }
            if r.why.trim().is_empty() {
                errors.push(format!(
                    "{at}: `why` is empty; it is what the timeline says"
                ));
            }
        }
        for s in &file.services.critical {
            if file.services.high.contains(s) {
                errors.push(format!(
                    "[services]: {s} is listed as both critical and high"
                ));
            }
        }
        let mut schedules = Vec::new();
        for spec in &file.schedules {
            let line = line_of(text, spec.span().start);
            match Schedule::from_spec(spec.get_ref()) {
                Ok(s) => {
                    if schedules.iter().any(|o: &Schedule| o.name() == s.name()) {
                        errors.push(format!(
                            "line {line}: schedule \"{}\" is defined twice",
                            s.name()
                        ));
                    }
                    schedules.push(s)
                }
                Err(es) => errors.extend(es.into_iter().map(|e| format!("line {line}: {e}"))),
            }
        }
        let schedule_names: Vec<&str> = schedules.iter().map(|s| s.name()).collect();
        if let Some(d) = &file.oncall.default_schedule
            && !schedule_names.contains(&d.as_str())
        {
            errors.push(format!(
                "[oncall]: default_schedule \"{d}\" is not a [[schedule]] (known: {})",
                list_or_none(&schedule_names)
            ));
        }
        for (svc, sched) in &file.oncall.services {
            if !schedule_names.contains(&sched.as_str()) {
                errors.push(format!(
                    "[oncall.services]: {svc} = \"{sched}\" is not a [[schedule]] (known: {})",
                    list_or_none(&schedule_names)
                ));
            }
        }
        let mut escalation = BTreeMap::new();
        for (key, spanned) in &file.escalation {
            let line = line_of(text, spanned.span().start);
            let Some(sev) = severity_key(key) else {
                errors.push(format!(
                    "line {line}: [escalation.{key}]: name the table sev1, sev2, sev3 or sev4"
                ));
                continue;
            };
            let spec = spanned.get_ref();
            let at = format!("line {line}: [escalation.{key}]");
            let mut prev: Option<Span> = None;
            for (i, st) in spec.steps.iter().enumerate() {
                let n = i + 1;
                let given = [&st.page, &st.notify, &st.ticket]
                    .iter()
                    .filter(|x| x.is_some())
                    .count();
                if given != 1 {
                    errors.push(format!(
                        "{at} step {n}: give exactly one of page, notify or ticket"
                    ));
                    continue;
                }
                if let Some(p) = prev
                    && st.after < p
                {
                    errors.push(format!(
                        "{at} step {n}: after = \"{}\" comes before the previous step's \"{p}\"; steps go in time order",
                        st.after
                    ));
                }
                prev = Some(st.after);
                if let Some(t) = st.page.as_ref().or(st.notify.as_ref())
                    && let Err(e) = check_target(t, &file.targets, &file.people, &schedule_names)
                {
                    errors.push(format!("{at} step {n}: {e}"));
                }
                if let Some(t) = &st.ticket
                    && t.trim().is_empty()
                {
                    errors.push(format!("{at} step {n}: ticket names no queue"));
                }
            }
            if spec.repeat > 0 && spec.steps.is_empty() {
                errors.push(format!("{at}: repeat without steps"));
            }
            if let (Some(r), Some(last)) = (spec.round, spec.steps.last())
                && r <= last.after
            {
                errors.push(format!(
                    "{at}: round = \"{r}\" must be longer than the last step's after = \"{}\"",
                    last.after
                ));
            }
            if spec.repeat > 100 {
                errors.push(format!("{at}: repeat = {} is more than 100", spec.repeat));
            }
            escalation.insert(sev, spec.clone());
        }
        let mut cadence = BTreeMap::new();
        for (key, span) in &file.cadence {
            match severity_key(key) {
                Some(sev) if span.0 >= Duration::from_secs(60) => {
                    cadence.insert(sev, *span);
                }
                Some(_) => errors.push(format!(
                    "[cadence]: {key} = \"{span}\" is shorter than a minute"
                )),
                None => errors.push(format!(
                    "[cadence]: '{key}' is not a severity (write sev1 = \"15m\")"
                )),
            }
        }
        for (name, value) in &file.targets {
            if value.trim().is_empty() {
                errors.push(format!("[targets]: {name} names nobody"));
            } else if let Some((sched, _)) = value.split_once('.')
                && sched != "oncall"
                && !schedule_names.contains(&sched)
                && !file.people.contains_key(value)
            {
                errors.push(format!(
                    "[targets]: {name} = \"{value}\": there is no schedule \"{sched}\" (known: {})",
                    list_or_none(&schedule_names)
                ));
            }
        }
        for (person, spec) in &file.people {
            for c in &spec.channels {
                if !file.channels.contains_key(c) {
                    errors.push(format!(
                        "[people.{person}]: channel \"{c}\" is not defined (add [channel.{c}])"
                    ));
                }
            }
        }
        for c in &file.notify.default_channels {
            if !file.channels.contains_key(c) {
                errors.push(format!(
                    "[notify]: default channel \"{c}\" is not defined (add [channel.{c}])"
                ));
            }
        }
        if file.notify.attempts == 0 || file.notify.attempts > 10 {
            errors.push(format!(
                "[notify]: attempts = {} (give 1 to 10)",
                file.notify.attempts
            ));
        }
        for (name, ch) in &file.channels {
            if ch.webhook.is_none() && ch.command.is_none() {
                errors.push(format!(
                    "[channel.{name}]: give a webhook URL, a command, or both"
                ));
            }
            if let Some(url) = &ch.webhook
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                errors.push(format!(
                    "[channel.{name}]: webhook \"{url}\" is not an http:// or https:// URL"
                ));
            }
            if let Some(cmd) = &ch.command
                && cmd.first().is_none_or(|p| p.trim().is_empty())
            {
                errors.push(format!(
                    "[channel.{name}]: command is empty (write [\"/path/to/program\", \"arg\"])"
                ));
            }
        }
        if errors.is_empty() {
            Ok(Policy {
                services: file.services,
                rules: file
                    .rules
                    .into_iter()
                    .map(toml::Spanned::into_inner)
                    .collect(),
                escalation,
                cadence,
                targets: file.targets,
                oncall: file.oncall,
                schedules,
                people: file.people,
                channels: file.channels,
                notify: file.notify,
                runbooks: file.runbooks,
            })
        } else {
            Err(errors)
        }
    }

    /// The on-call schedules.
    pub fn schedules(&self) -> &[Schedule] {
        &self.schedules
    }

    /// The schedule that covers a service: its own, else the default, else the first.
    pub fn schedule_for(&self, service: Option<&str>) -> Option<&Schedule> {
        let by_name = |n: &str| self.schedules.iter().find(|s| s.name() == n);
        service
            .and_then(|s| self.oncall.services.get(s))
            .and_then(|n| by_name(n))
            .or_else(|| self.oncall.default_schedule.as_deref().and_then(by_name))
            .or_else(|| self.schedules.first())
    }

    /// Whom an escalation target means at `at`, for an incident on `service`; `None` when
    /// nobody is on call for it.
    pub fn resolve_target(
        &self,
        target: &str,
        service: Option<&str>,
        at: DateTime<Utc>,
    ) -> Option<String> {
        self.resolve_in(target, service, at, 0)
    }

    fn resolve_in(
        &self,
        target: &str,
        service: Option<&str>,
        at: DateTime<Utc>,
        depth: u8,
    ) -> Option<String> {
        if let Some((sched, layer)) = target.split_once('.')
            && let Some(layer) = parse_layer(layer)
        {
            let schedule = if sched == "oncall" {
                self.schedule_for(service)
            } else {
                self.schedules.iter().find(|s| s.name() == sched)
            };
            return schedule
                .and_then(|s| s.on_call(layer, at))
                .map(|s| s.person);
        }
        if let Some(v) = self.targets.get(target) {
            if depth > 0 {
                return Some(v.clone());
            }
            return self.resolve_in(v, service, at, depth + 1);
        }
        Some(target.to_string())
    }

    /// The escalation plan for a severity, for an incident on `service`, as of `at`.
    pub fn plan(&self, severity: Severity, service: Option<&str>, at: DateTime<Utc>) -> Plan {
        let Some(spec) = self.escalation.get(&severity) else {
            return Plan {
                severity,
                steps: Vec::new(),
                repeat: 0,
                round_secs: 0,
                ack_timeout_secs: None,
            };
        };
        let steps: Vec<PlannedStep> = spec
            .steps
            .iter()
            .map(|st| {
                let (action, target) = match (&st.page, &st.notify, &st.ticket) {
                    (Some(t), _, _) => (StepAction::Page, t.clone()),
                    (_, Some(t), _) => (StepAction::Notify, t.clone()),
                    (_, _, Some(t)) => (StepAction::Ticket, t.clone()),
                    _ => (StepAction::Notify, String::new()),
                };
                let expected = match action {
                    StepAction::Ticket => Some(target.clone()),
                    _ => self.resolve_target(&target, service, at),
                };
                PlannedStep {
                    after_secs: st.after.0.as_secs(),
                    action,
                    target,
                    expected,
                }
            })
            .collect();
        let round_secs = match spec.round {
            Some(r) => r.0.as_secs(),
            None => {
                let last = steps.last().map_or(0, |s| s.after_secs);
                let gap = match steps.len() {
                    0 | 1 => 300,
                    n => last - steps[n - 2].after_secs,
                };
                last + gap.max(60)
            }
        };
        Plan {
            severity,
            steps,
            repeat: spec.repeat,
            round_secs,
            ack_timeout_secs: spec.ack_timeout.map(|s| s.0.as_secs()),
        }
    }

    /// How often status updates are due for a severity (seed: every 15-30 min for SEV1/2).
    pub fn cadence(&self, severity: Severity) -> Option<u64> {
        self.cadence.get(&severity).map(|s| s.0.as_secs())
    }

    /// The channels a person's notifications go to.
    pub fn channels_for(&self, person: &str) -> Vec<(&str, &Channel)> {
        let names = match self.people.get(person) {
            Some(p) if !p.channels.is_empty() => &p.channels,
            _ => &self.notify.default_channels,
        };
        names
            .iter()
            .filter_map(|n| self.channels.get(n).map(|c| (n.as_str(), c)))
            .collect()
    }

    /// A channel by name (tickets name their queue's channel directly).
    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels.get(name)
    }

    pub fn notify_settings(&self) -> &NotifySettings {
        &self.notify
    }

    /// Runbook files the policy names, by service or alert name (paths as written).
    pub fn runbook_paths(&self) -> &BTreeMap<String, String> {
        &self.runbooks
    }

    pub fn criticality(&self, service: &str) -> Criticality {
        if self.services.critical.iter().any(|s| s == service) {
            Criticality::Critical
        } else if self.services.high.iter().any(|s| s == service) {
            Criticality::High
        } else {
            Criticality::Normal
        }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// First matching rule wins; no match is SEV4.
    pub fn classify(&self, ctx: &AlertContext) -> Classification {
        let critical = ctx
            .service
            .as_deref()
            .is_some_and(|s| self.criticality(s) == Criticality::Critical);
        for (i, r) in self.rules.iter().enumerate() {
            if !r.matches(ctx, critical) {
                continue;
            }
            let why = r.explain(ctx);
            return match (r.severity, r.outcome) {
                (Some(severity), _) => Classification::Incident {
                    severity,
                    rule: Some(i),
                    why,
                },
                (None, _) => Classification::Informational { rule: i, why },
            };
        }
        Classification::Incident {
            severity: Severity::Sev4,
            rule: None,
            why: "no rule matched (low impact)".into(),
        }
    }
}
