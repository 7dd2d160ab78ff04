//! The policy file's shapes as written: the tables of `policy.toml` (services, escalation,
//! on-call, people, channels, notification settings) as serde reads them, unchecked. The
//! checks live in `check`; the feed sends some of these shapes to consoles (`public`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Rule;
use super::Span;
use crate::model::oncall::ScheduleSpec;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Services {
    #[serde(default)]
    pub(super) critical: Vec<String>,
    #[serde(default)]
    pub(super) high: Vec<String>,
}

/// Whom a step pages or notifies: one target, or several at once (`notify =
/// ["oncall-leads", "engineering-vp"]`, as the seed guide's bot notifies its groups).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum Targets {
    One(String),
    Many(Vec<String>),
}

impl Targets {
    pub(super) fn names(&self) -> &[String] {
        match self {
            Targets::One(t) => std::slice::from_ref(t),
            Targets::Many(v) => v,
        }
    }
}

/// One escalation step as written: `{ after = "5m", page = "oncall.secondary" }`; `page`
/// and `notify` may name several targets, each reached at the step's time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StepSpec {
    pub(super) after: Span,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) page: Option<Targets>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) notify: Option<Targets>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) ticket: Option<String>,
    /// The step waits for the working hours of the incident's schedule: due outside them,
    /// it fires when they next begin (seed guide: a SEV3 is investigated in business hours).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) business_hours: bool,
}

/// The escalation policy for one severity, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EscalationSpec {
    #[serde(default)]
    pub(super) steps: Vec<StepSpec>,
    #[serde(default)]
    pub(super) repeat: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) round: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) ack_timeout: Option<Span>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OncallSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) default_schedule: Option<String>,
    #[serde(default)]
    pub(super) services: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PersonSpec {
    #[serde(default)]
    pub(super) channels: Vec<String>,
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
pub(super) struct PolicyFile {
    #[serde(default)]
    pub(super) services: Services,
    #[serde(default, rename = "rule")]
    pub(super) rules: Vec<toml::Spanned<Rule>>,
    #[serde(default)]
    pub(super) escalation: BTreeMap<String, toml::Spanned<EscalationSpec>>,
    #[serde(default)]
    pub(super) cadence: BTreeMap<String, Span>,
    #[serde(default)]
    pub(super) targets: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) oncall: OncallSpec,
    #[serde(default, rename = "schedule")]
    pub(super) schedules: Vec<toml::Spanned<ScheduleSpec>>,
    #[serde(default)]
    pub(super) people: BTreeMap<String, PersonSpec>,
    #[serde(default, rename = "channel")]
    pub(super) channels: BTreeMap<String, Channel>,
    #[serde(default)]
    pub(super) notify: NotifySettings,
    /// Runbook files by service or alert name, relative to the policy file.
    #[serde(default)]
    pub(super) runbooks: BTreeMap<String, String>,
    /// The call link of an incident's war room, by severity (`sev1 =
    /// "https://meet.example.com/{incident}"`): shown in its room, carried in its pages.
    #[serde(default)]
    pub(super) bridge: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) postmortem: PostmortemSpec,
    /// Who every status update goes to, by severity (`sev1 = ["engineering-vp"]`).
    #[serde(default)]
    pub(super) stakeholders: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub(super) status_page: Option<super::StatusPage>,
    /// Where action items become tickets (`[tracker] url = …`).
    #[serde(default)]
    pub(super) tracker: Option<TrackerSpec>,
}

/// `[tracker]`: the team's ticket tracker, reached by a webhook that opens a ticket per
/// action item and answers its reference. The URL is a secret, as a channel's webhook is.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackerSpec {
    /// POST each new action item here.
    pub url: String,
}

/// `[postmortem]`: defaults for the follow-through.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PostmortemSpec {
    /// An action item added without a due date is due this long after (`14d`); without
    /// it, a due date must be given.
    #[serde(default)]
    pub(super) action_item_due: Option<Span>,
}
