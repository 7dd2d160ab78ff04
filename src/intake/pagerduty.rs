//! PagerDuty webhooks v3: incident events, and their `X-PagerDuty-Signature`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::json::{Obj, parse_body};
use super::{Alert, AlertAction, Details, IntakeError, MAX_SUMMARY, Source, one_line};
use crate::model::policy::AlertContext;

/// Why a PagerDuty webhook's signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The request carried no `X-PagerDuty-Signature` header.
    #[error("missing X-PagerDuty-Signature header")]
    MissingHeader,
    /// The header holds no `v1=` signature.
    #[error("X-PagerDuty-Signature holds no v1= signature")]
    NoV1Signature,
    /// No `v1=` signature is the HMAC-SHA256 of the body with the secret.
    #[error(
        "no X-PagerDuty-Signature v1 signature matches the body (wrong secret, or the body was altered)"
    )]
    NoMatch,
}

/// Checks the `X-PagerDuty-Signature` header (`header`, `None` when absent) of a webhook
/// whose raw body is `body`: comma-separated values such as `v1=<hex>`, several while a
/// secret is being rotated. Valid when any `v1=` value is the HMAC-SHA256 of the body with
/// `secret`; compared in constant time. Values that are not hex match nothing.
pub fn verify_pagerduty_signature(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::MissingHeader)?;
    let mut signatures = header
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .peekable();
    if signatures.peek().is_none() {
        return Err(SignatureError::NoV1Signature);
    }
    let mac = Hmac::<Sha256>::new_from_slice(secret)
        .map_err(|_| SignatureError::NoMatch)?
        .chain_update(body);
    let matched = signatures
        .any(|sig| hex::decode(sig.trim()).is_ok_and(|tag| mac.clone().verify_slice(&tag).is_ok()));
    if matched {
        Ok(())
    } else {
        Err(SignatureError::NoMatch)
    }
}

/// Parses a PagerDuty webhooks v3 body.
///
/// `incident.triggered`, `incident.acknowledged` and `incident.resolved` give one [`Alert`]
/// (trigger, acknowledge, resolve); every other event type (`incident.annotated`,
/// `incident.priority_updated`, `pagey.ping`, …) is ignored: `Ok(vec![])`.
///
/// The dedup key is `pagerduty:<data.id>`; the summary `data.title`; the service
/// `data.service.summary`, lowercased with spaces as `-`; the severity label
/// `data.priority.summary` (such as "p1"), else `data.urgency` (with neither, the feed
/// classifies it SEV3, as the seed guide's bot does); `by` the agent's summary.
/// A trigger starts at `occurred_at`; other events start at `data.created_at` when given,
/// and a resolve ends at `occurred_at`.
pub fn parse_pagerduty_v3(body: &[u8]) -> Result<Vec<Alert>, IntakeError> {
    let value = parse_body(body)?;
    let root = Obj::root(&value)?;
    let event = root.req_obj("event")?;
    let action = match event.req_str("event_type")? {
        "incident.triggered" => AlertAction::Trigger,
        "incident.acknowledged" => AlertAction::Acknowledge,
        "incident.resolved" => AlertAction::Resolve,
        _ => return Ok(Vec::new()),
    };
    let occurred_at = event.time("occurred_at")?;
    let by = match event.obj("agent")? {
        Some(agent) => agent.str("summary")?.map(str::to_string),
        None => None,
    };
    let data = event.req_obj("data")?;
    let id = data.req_str("id")?;
    let title = data.req_str("title")?;
    let created_at = data.time("created_at")?;
    let service = match data.obj("service")? {
        Some(s) => s.str("summary")?.map(|name| {
            name.split_whitespace()
                .collect::<Vec<_>>()
                .join("-")
                .to_lowercase()
        }),
        None => None,
    };
    let priority = match data.obj("priority")? {
        Some(p) => p.str("summary")?,
        None => None,
    };
    let urgency = data.str("urgency")?;

    let mut details = Details::default();
    let mut add = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            details.add_text(name, &value);
        }
    };
    add("event_id", event.text("id")?);
    add("event_type", event.text("event_type")?);
    add("number", data.text("number")?);
    add("status", data.text("status")?);
    add("urgency", urgency.map(str::to_string));
    add("priority", priority.map(str::to_string));
    add("html_url", data.text("html_url")?);
    add("incident_key", data.text("incident_key")?);
    if let Some(policy) = data.obj("escalation_policy")? {
        add("escalation_policy", policy.text("summary")?);
    }
    for list in ["assignees", "teams"] {
        add(list, summaries(&data, list)?);
    }

    Ok(vec![Alert {
        source: Source::PagerDuty,
        action,
        dedup_key: format!("pagerduty:{id}"),
        summary: one_line(title, MAX_SUMMARY),
        context: AlertContext {
            service,
            ..AlertContext::default()
        },
        severity_label: priority.or(urgency).map(str::to_lowercase),
        started_at: match action {
            AlertAction::Trigger => occurred_at,
            _ => created_at,
        },
        ended_at: match action {
            AlertAction::Resolve => occurred_at,
            _ => None,
        },
        by,
        runbook_url: None,
        details: details.finish(),
    }])
}

/// The `summary` of each reference in the array `obj[key]`, joined with ", ".
fn summaries(obj: &Obj<'_>, key: &str) -> Result<Option<String>, IntakeError> {
    let Some(items) = obj.arr(key)? else {
        return Ok(None);
    };
    let mut names = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item = Obj::at(format!("{}[{i}]", obj.path_of(key)), item)?;
        if let Some(name) = item.str("summary")? {
            names.push(name);
        }
    }
    Ok((!names.is_empty()).then(|| names.join(", ")))
}
