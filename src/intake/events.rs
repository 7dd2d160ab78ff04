//! PagerDuty Events API v2 (`POST /v2/enqueue`): what monitoring tools send to page.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::fields::is_context_field;
use super::json::{Obj, parse_body, quote};
use super::{
    Alert, AlertAction, Details, IntakeError, MAX_SUMMARY, Source, context_from, one_line,
};

/// Longest `payload.summary` the Events API accepts, in characters.
pub const MAX_EVENT_SUMMARY: usize = 1024;
/// Longest `dedup_key` the Events API accepts, in characters.
pub const MAX_DEDUP_KEY: usize = 255;

const SEVERITIES: [&str; 4] = ["critical", "error", "warning", "info"];

/// The `routing_key` of an Events API v2 body, for the server to check against its intake
/// token; `None` when the body is not a JSON object with a non-empty string `routing_key`.
/// [`parse_events_v2`] checks it is present but does not return it.
pub fn routing_key(body: &[u8]) -> Option<String> {
    let value: Value = crate::protocol::parse_json(body).ok()?;
    let key = value.get("routing_key")?.as_str()?.trim();
    (!key.is_empty()).then(|| key.to_string())
}

/// Parses an Events API v2 event.
///
/// Required: `routing_key` (see [`routing_key`]) and `event_action` ("trigger",
/// "acknowledge" or "resolve"). A trigger requires `payload` with `summary` (at most 1024
/// characters), `source` and `severity` ("critical", "error", "warning" or "info");
/// acknowledge and resolve require `dedup_key` and read whatever payload they carry.
///
/// The dedup key is `events:<dedup_key>`, or for a trigger without one
/// `events:<payload.source>:<payload.summary>`. The context comes from
/// `payload.custom_details`; the service is `custom_details.service`, else
/// `payload.component`, else `payload.source`. `payload.timestamp` is the start; the
/// runbook is `custom_details.runbook_url`, else the `links[]` entry whose text mentions a
/// runbook, else the first link.
pub fn parse_events_v2(body: &[u8]) -> Result<Alert, IntakeError> {
    let value = parse_body(body)?;
    let root = Obj::root(&value)?;
    root.req_str("routing_key")?;
    let action = match root.req_str("event_action")? {
        "trigger" => AlertAction::Trigger,
        "acknowledge" => AlertAction::Acknowledge,
        "resolve" => AlertAction::Resolve,
        other => {
            return Err(IntakeError::new(
                "event_action",
                format!(
                    "{} is not one of trigger, acknowledge, resolve",
                    quote(other)
                ),
            ));
        }
    };
    let trigger = action == AlertAction::Trigger;
    let given_key = root.str("dedup_key")?;
    if let Some(key) = given_key {
        let len = key.chars().count();
        if len > MAX_DEDUP_KEY {
            return Err(IntakeError::new(
                "dedup_key",
                format!("{len} characters; the Events API allows at most {MAX_DEDUP_KEY}"),
            ));
        }
    }
    let payload = match root.obj("payload")? {
        Some(p) => payload(&p, trigger)?,
        None if trigger => {
            return Err(IntakeError::new(
                "payload",
                "required but missing (a trigger needs summary, source and severity)",
            ));
        }
        None => Payload::default(),
    };
    let client = root.str("client")?;
    let client_url = root.str("client_url")?;
    let links = links(&root)?;

    let dedup_key = match (given_key, payload.source, payload.summary) {
        (Some(key), _, _) => format!("events:{key}"),
        (None, Some(source), Some(summary)) if trigger => format!("events:{source}:{summary}"),
        (None, _, _) => {
            return Err(IntakeError::new(
                "dedup_key",
                format!("required to {action} an alert"),
            ));
        }
    };
    let summary = match payload.summary {
        Some(s) => one_line(s, MAX_SUMMARY),
        None => one_line(
            &format!(
                "{} {}",
                match action {
                    AlertAction::Trigger => "triggered",
                    AlertAction::Acknowledge => "acknowledged",
                    AlertAction::Resolve => "resolved",
                },
                given_key.unwrap_or_default()
            ),
            MAX_SUMMARY,
        ),
    };

    let custom = payload.custom_details.as_ref();
    let fields: BTreeMap<String, Value> = custom
        .map(|c| {
            c.map()
                .iter()
                .filter(|(k, _)| is_context_field(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let mut context = context_from(&fields).map_err(|mut e| {
        e.field = format!("payload.custom_details.{}", e.field);
        e
    })?;
    if context.service.is_none() {
        context.service = payload.component.or(payload.source).map(str::to_string);
    }

    let custom_runbook = match custom {
        Some(c) => c.text("runbook_url")?,
        None => None,
    };
    let runbook_url = custom_runbook.or_else(|| {
        links
            .iter()
            .find(|(_, text)| text.is_some_and(|t| t.to_lowercase().contains("runbook")))
            .or(links.first())
            .map(|(href, _)| (*href).to_string())
    });

    let mut details = Details::default();
    for (name, value) in [
        ("source", payload.source),
        ("component", payload.component),
        ("group", payload.group),
        ("class", payload.class),
        ("client", client),
        ("client_url", client_url),
    ] {
        if let Some(value) = value {
            details.add_text(name, value);
        }
    }
    match (custom, payload.custom_other) {
        (Some(c), _) => {
            for (k, v) in c.map() {
                if !is_context_field(k) && k != "runbook_url" {
                    details.add(k, v);
                }
            }
        }
        (None, Some(other)) => details.add("custom_details", other),
        (None, None) => {}
    }

    Ok(Alert {
        source: Source::EventsV2,
        action,
        dedup_key,
        summary,
        context,
        severity_label: payload.severity.map(str::to_string),
        started_at: payload.timestamp,
        ended_at: None,
        by: None,
        runbook_url,
        details: details.finish(),
    })
}

/// The fields of `payload`, checked.
#[derive(Default)]
struct Payload<'a> {
    summary: Option<&'a str>,
    source: Option<&'a str>,
    severity: Option<&'a str>,
    timestamp: Option<DateTime<Utc>>,
    component: Option<&'a str>,
    group: Option<&'a str>,
    class: Option<&'a str>,
    /// `custom_details` when it is an object.
    custom_details: Option<Obj<'a>>,
    /// `custom_details` when it is anything else (the Events API accepts any JSON there).
    custom_other: Option<&'a Value>,
}

fn payload<'a>(p: &Obj<'a>, trigger: bool) -> Result<Payload<'a>, IntakeError> {
    let field = |key: &str| {
        if trigger {
            p.req_str(key).map(Some)
        } else {
            p.str(key)
        }
    };
    let summary = field("summary")?;
    if let Some(s) = summary {
        let len = s.chars().count();
        if len > MAX_EVENT_SUMMARY {
            return Err(IntakeError::new(
                p.path_of("summary"),
                format!("{len} characters; the Events API allows at most {MAX_EVENT_SUMMARY}"),
            ));
        }
    }
    let severity = field("severity")?;
    if let Some(s) = severity
        && !SEVERITIES.contains(&s)
    {
        return Err(IntakeError::new(
            p.path_of("severity"),
            format!("{} is not one of {}", quote(s), SEVERITIES.join(", ")),
        ));
    }
    let (custom_details, custom_other) = match p.get("custom_details") {
        Some(v @ Value::Object(_)) => (Some(Obj::at(p.path_of("custom_details"), v)?), None),
        other => (None, other),
    };
    Ok(Payload {
        summary,
        source: field("source")?,
        severity,
        timestamp: p.time("timestamp")?,
        component: p.str("component")?,
        group: p.str("group")?,
        class: p.str("class")?,
        custom_details,
        custom_other,
    })
}

/// `links[]`: each `{"href": …, "text": …}`, as (href, text).
fn links<'a>(root: &Obj<'a>) -> Result<Vec<(&'a str, Option<&'a str>)>, IntakeError> {
    let Some(items) = root.arr("links")? else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let link = Obj::at(format!("links[{i}]"), item)?;
            Ok((link.req_str("href")?, link.str("text")?))
        })
        .collect()
}
