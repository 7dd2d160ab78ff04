//! Alert intake: the webhook bodies monitoring systems send, parsed into typed [`Alert`]s.
//!
//! Pure: bytes in, alerts or an [`IntakeError`] naming the offending field out. No I/O and
//! no async runtime; the HTTP routes that receive the webhooks call these functions.
//!
//! | Source | Parser | One body gives |
//! |---|---|---|
//! | Prometheus Alertmanager webhook, version `"4"` | [`parse_alertmanager`] | one alert per element of `alerts[]` |
//! | PagerDuty webhooks v3 (`incident.*`) | [`parse_pagerduty_v3`] (after [`verify_pagerduty_signature`]) | one alert, or none for event types that are not triggered/acknowledged/resolved |
//! | PagerDuty Events API v2 (`POST /v2/enqueue`) | [`parse_events_v2`] (and [`routing_key`]) | one alert |
//!
//! # Classifier fields
//!
//! The classifier ([`crate::model::policy`]) reads these names from an Alertmanager alert's
//! labels and annotations (the alert's own over `commonLabels`/`commonAnnotations`, labels
//! over annotations) and from an Events API v2 `payload.custom_details`. Values may be JSON
//! numbers and booleans or strings, since Alertmanager labels are always strings. A missing,
//! `null` or empty value is absent; a present value that does not parse is an error naming
//! the field and the value.
//!
//! | Name | Meaning | Accepted values |
//! |---|---|---|
//! | `service` | the affected service, as the policy lists it | a string |
//! | `error_rate` | percent of requests failing | `62.5`, `"62.5"`, `"62.5%"`; 0 to 100 |
//! | `affected_users_pct` | percent of users affected | as `error_rate`; 0 to 100 |
//! | `latency_p99_ms` | p99 latency in milliseconds | `850`, `"850"`, `"850ms"`; not negative |
//! | `data_loss` | data was lost | `true`/`false`, `"yes"`/`"no"`, `"1"`/`"0"` (any case) |
//! | `security_event` | a security event | as `data_loss` |
//! | `revenue_impacting` | the service takes money | as `data_loss` |
//! | `dependent_services` | how many services depend on it | a whole number, a list (its length), or a comma-separated string (its non-empty items) |
//! | `burn_rate` | SLO error-budget burn rate | `14.4`, `"14.4"`, `"14.4x"`; not negative |
//! | `burn_window` | the window the burn rate was measured over | `"30s"`, `"5m"`, `"1h"`, `"3d"`, `"1w"` |
//!
//! Where the service comes from otherwise: a PagerDuty v3 incident's `data.service.summary`
//! (lowercased, spaces become `-`: "API Service" is `api-service`); an Events API v2 event
//! without `custom_details.service` uses `payload.component`, else `payload.source`.
//!
//! # Severity labels
//!
//! An alert that carries none of the classifier fields (see [`has_classifier_fields`]) can
//! still say how bad it is. [`severity_from_label`] maps its own label (Alertmanager label
//! `severity`, else `priority`; PagerDuty v3 `priority.summary`, else `urgency`; Events API v2
//! `payload.severity`), case-insensitively:
//!
//! | Label | Severity |
//! |---|---|
//! | `critical`, `sev1`, `sev-1`, `p1`, `1` | SEV1 |
//! | `high`, `error`, `major`, `sev2`, `sev-2`, `p2`, `2` | SEV2 |
//! | `warning`, `warn`, `minor`, `sev3`, `sev-3`, `p3`, `3` | SEV3 |
//! | `low`, `info`, `informational`, `sev4`, `sev-4`, `p4`, `p5`, `4`, `5` | SEV4 |
//! | anything else | none |
//!
//! # Deduplication keys
//!
//! Alerts with the same [`Alert::dedup_key`] belong to the same incident while it is open:
//! `alertmanager:<groupKey>` (an Alertmanager group is one incident), `pagerduty:<incident
//! id>`, and `events:<dedup_key>` (a trigger without a `dedup_key` gets
//! `events:<payload.source>:<payload.summary>`).
//!
//! # Other fields
//!
//! - Summary: Alertmanager annotation `summary`, else `description`, else `alertname` (plus
//!   `" on <service>"`); PagerDuty v3 `data.title`; Events API v2 `payload.summary`. Made one
//!   line, trimmed, at most 200 characters (longer ones end in "…").
//! - Runbook: Alertmanager annotation `runbook_url`; Events API v2
//!   `payload.custom_details.runbook_url`, else the `links[]` entry whose text mentions a
//!   runbook, else the first link.
//! - Times are RFC 3339 (the `+0000` offset form of PagerDuty's own examples is accepted too).
//!   Alertmanager's `endsAt` of `0001-01-01T00:00:00Z` means "not ended".
//! - Details: every other label, annotation or custom detail, flattened to one-line strings
//!   (nested objects as `outer.inner`), sorted by name, at most 32 of them, names and values at
//!   most 200 characters.

mod alertmanager;
mod deploy;
mod events;
mod fields;
mod json;
mod pagerduty;

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::model::policy::AlertContext;

pub use alertmanager::parse_alertmanager;
pub use deploy::{DeployNotice, parse_deploy};
pub use events::{MAX_DEDUP_KEY, MAX_EVENT_SUMMARY, parse_events_v2, routing_key};
pub use fields::{CLASSIFIER_FIELDS, context_from, has_classifier_fields, severity_from_label};
pub use pagerduty::{SignatureError, parse_pagerduty_v3, verify_pagerduty_signature};

/// Longest [`Alert::summary`], in characters.
pub const MAX_SUMMARY: usize = 200;
/// Most entries in [`Alert::details`].
pub const MAX_DETAILS: usize = 32;
/// Longest name or value in [`Alert::details`], in characters.
pub const MAX_DETAIL: usize = 200;

/// Which system sent an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Source {
    /// Prometheus Alertmanager webhook.
    Alertmanager,
    /// PagerDuty webhooks v3.
    PagerDuty,
    /// PagerDuty Events API v2 (anything that can page PagerDuty can send these).
    EventsV2,
}

impl Source {
    /// The name the timeline shows: `alertmanager`, `pagerduty`, `events-api`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Alertmanager => "alertmanager",
            Source::PagerDuty => "pagerduty",
            Source::EventsV2 => "events-api",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an alert asks of its incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum AlertAction {
    /// Something is wrong: open an incident, or add to the open one with the same key.
    Trigger,
    /// Someone is on it.
    Acknowledge,
    /// The condition has cleared.
    Resolve,
}

impl AlertAction {
    /// `trigger`, `acknowledge`, `resolve` (the Events API v2 names).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertAction::Trigger => "trigger",
            AlertAction::Acknowledge => "acknowledge",
            AlertAction::Resolve => "resolve",
        }
    }
}

impl fmt::Display for AlertAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alert, whichever system sent it. (Serialized only between a feed's replicas: a
/// follower passes the alerts it was sent to the leader.)
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Alert {
    pub source: Source,
    pub action: AlertAction,
    /// Deduplication key: alerts with the same key belong to the same incident while it is open.
    pub dedup_key: String,
    /// One-line title, already trimmed, at most 200 chars (longer ones end in "…").
    pub summary: String,
    /// What the alert says about the problem, from the documented field names.
    pub context: AlertContext,
    /// The alert's own severity/priority label, lowercased (see [`severity_from_label`]).
    pub severity_label: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Who acted, when the source says (PagerDuty agent summary on acknowledge/resolve).
    pub by: Option<String>,
    /// Runbook/dashboard link when given.
    pub runbook_url: Option<String>,
    /// Remaining labels/details, flattened to strings, for the timeline (sorted; at most
    /// [`MAX_DETAILS`] entries, names and values at most [`MAX_DETAIL`] chars).
    pub details: BTreeMap<String, String>,
}

/// Why a webhook body was refused: the field at fault (a path such as `alerts[2].startsAt`,
/// or `body` for the body as a whole) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct IntakeError {
    pub field: String,
    pub message: String,
}

impl IntakeError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        IntakeError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// `s` on one line (whitespace runs become one space, control characters are dropped),
/// trimmed, and cut to `max` characters with "…" at the end when longer.
fn one_line(s: &str, max: usize) -> String {
    let words: Vec<String> = s
        .split_whitespace()
        .map(|w| w.chars().filter(|c| !c.is_control()).collect::<String>())
        .filter(|w| !w.is_empty())
        .collect();
    clip(&words.join(" "), max)
}

/// `s` cut to `max` characters, on a character boundary, ending in "…" when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.char_indices().nth(max).is_none() {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let keep = s.char_indices().nth(max - 1).map_or(s.len(), |(i, _)| i);
    format!("{}…", s[..keep].trim_end())
}

/// Collects flattened details: sorted, capped, names and values clipped.
#[derive(Debug, Default)]
struct Details(BTreeMap<String, String>);

impl Details {
    /// Adds `value` under `name`, flattening arrays and objects. Nulls are skipped; the first
    /// value given for a name stays.
    fn add(&mut self, name: &str, value: &serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::Null => {}
            Value::String(s) => self.add_text(name, s),
            Value::Bool(b) => self.add_text(name, if *b { "true" } else { "false" }),
            Value::Number(n) => self.add_text(name, &n.to_string()),
            Value::Array(items) => {
                if items.iter().all(|v| !v.is_array() && !v.is_object()) {
                    let joined: Vec<String> = items.iter().filter_map(json::scalar_text).collect();
                    self.add_text(name, &joined.join(", "));
                } else {
                    self.add_text(name, &value.to_string());
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    self.add(&format!("{name}.{k}"), v);
                }
            }
        }
    }

    fn add_text(&mut self, name: &str, value: &str) {
        let value = one_line(value, MAX_DETAIL);
        if value.is_empty() {
            return;
        }
        self.0.entry(clip(name, MAX_DETAIL)).or_insert(value);
    }

    /// The first [`MAX_DETAILS`] entries by name.
    fn finish(mut self) -> BTreeMap<String, String> {
        if self.0.len() > MAX_DETAILS
            && let Some(cut) = self.0.keys().nth(MAX_DETAILS).cloned()
        {
            self.0.split_off(&cut);
        }
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_collapses_and_truncates_on_char_boundaries() {
        assert_eq!(one_line("  a\n\tb  c \u{7} ", 200), "a b c");
        assert_eq!(one_line("", 200), "");
        let long = "é".repeat(250);
        let s = one_line(&long, 200);
        assert_eq!(s.chars().count(), 200);
        assert!(s.ends_with('…'));
        assert_eq!(one_line(&"x".repeat(200), 200), "x".repeat(200));
        assert_eq!(one_line("abc def", 4), "abc…");
        assert_eq!(one_line("abc def", 5), "abc…");
        assert_eq!(one_line("abc def", 7), "abc def");
        assert_eq!(one_line("abc def", 6), "abc d…");
    }

    #[test]
    fn clip_keeps_short_text() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcd", 3), "ab…");
        assert_eq!(clip("abcd", 0), "");
    }

    #[test]
    fn details_are_capped_in_name_order() {
        let mut d = Details::default();
        for i in 0..40 {
            d.add(&format!("k{i:02}"), &serde_json::json!(i));
        }
        let out = d.finish();
        assert_eq!(out.len(), MAX_DETAILS);
        assert_eq!(out.keys().next().map(String::as_str), Some("k00"));
        assert_eq!(out.keys().last().map(String::as_str), Some("k31"));
    }
}
