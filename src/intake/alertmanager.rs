//! Prometheus Alertmanager webhooks (`webhook_configs`, payload version "4").

use std::collections::BTreeMap;

use serde_json::Value;

use super::fields::is_context_field;
use super::json::{Obj, is_zero_time, parse_body, quote, scalar_text, show};
use super::{
    Alert, AlertAction, Details, IntakeError, MAX_SUMMARY, Source, context_from, one_line,
};

/// Parses an Alertmanager webhook body (version "4") into one [`Alert`] per element of
/// `alerts[]`.
///
/// Each alert triggers while its `status` is "firing" and resolves once "resolved". All
/// alerts of a notification share the dedup key `alertmanager:<groupKey>`: a group is one
/// incident. Labels and annotations, the alert's own over `commonLabels` and
/// `commonAnnotations` (labels over annotations), give the context, the severity label
/// (`severity`, else `priority`), the summary (`summary`, else `description`, else
/// `alertname` plus `" on <service>"`) and the runbook (`runbook_url`); the rest, with
/// `generatorURL` and `fingerprint`, become details.
///
/// Refused: a body that is not a JSON object, a `version` other than "4", a missing
/// `groupKey`, no alerts, an alert without `labels.alertname`, a status other than
/// "firing"/"resolved", times that are not RFC 3339, and fields of the wrong type.
pub fn parse_alertmanager(body: &[u8]) -> Result<Vec<Alert>, IntakeError> {
    let value = parse_body(body)?;
    let root = Obj::root(&value)?;
    match root.get("version") {
        Some(Value::String(v)) if v == "4" => {}
        None => {
            return Err(IntakeError::new(
                "version",
                "required but missing; Alertmanager webhook version \"4\" is supported",
            ));
        }
        Some(other) => {
            return Err(IntakeError::new(
                "version",
                format!(
                    "received {}; only Alertmanager webhook version \"4\" is supported",
                    show(other)
                ),
            ));
        }
    }
    let group_key = root.req_str("groupKey")?;
    if let Some(status) = root.str("status")? {
        action(&root.path_of("status"), status)?;
    }
    // Not used, but a notification with these of the wrong type is not Alertmanager's.
    root.str("receiver")?;
    root.str("externalURL")?;
    root.obj("groupLabels")?;
    let common_labels = root.obj("commonLabels")?;
    let common_annotations = root.obj("commonAnnotations")?;
    let alerts = root
        .arr("alerts")?
        .ok_or_else(|| IntakeError::new("alerts", "required but missing"))?;
    if alerts.is_empty() {
        return Err(IntakeError::new(
            "alerts",
            "empty; a notification carries at least one alert",
        ));
    }
    let common = [common_labels.as_ref(), common_annotations.as_ref()];
    alerts
        .iter()
        .enumerate()
        .map(|(i, v)| alert(i, v, group_key, common))
        .collect()
}

fn action(field: &str, status: &str) -> Result<AlertAction, IntakeError> {
    match status {
        "firing" => Ok(AlertAction::Trigger),
        "resolved" => Ok(AlertAction::Resolve),
        other => Err(IntakeError::new(
            field,
            format!("{} is neither \"firing\" nor \"resolved\"", quote(other)),
        )),
    }
}

fn alert(
    i: usize,
    v: &Value,
    group_key: &str,
    common: [Option<&Obj<'_>>; 2],
) -> Result<Alert, IntakeError> {
    let a = Obj::at(format!("alerts[{i}]"), v)?;
    let action = action(&a.path_of("status"), a.req_str("status")?)?;
    let labels = a.req_obj("labels")?;
    let alertname = labels.req_str("alertname")?;
    let annotations = a.obj("annotations")?;
    let started_at = a.time("startsAt")?.filter(|t| !is_zero_time(t));
    let ended_at = a.time("endsAt")?.filter(|t| !is_zero_time(t));
    let generator_url = a.str("generatorURL")?;
    let fingerprint = a.str("fingerprint")?;

    // Every label and annotation, with the object it came from (for error paths); the
    // first source to name a field wins.
    let mut merged: BTreeMap<&str, (&Value, &Obj<'_>)> = BTreeMap::new();
    for src in [Some(&labels), annotations.as_ref(), common[0], common[1]]
        .into_iter()
        .flatten()
    {
        for (k, v) in src.map() {
            if !v.is_null() {
                merged.entry(k.as_str()).or_insert((v, src));
            }
        }
    }
    let text = |k: &str| {
        merged
            .get(k)
            .and_then(|(v, _)| scalar_text(v))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };

    let fields: BTreeMap<String, Value> = merged
        .iter()
        .filter(|(k, _)| is_context_field(k))
        .map(|(k, (v, _))| ((*k).to_string(), (*v).clone()))
        .collect();
    let context = context_from(&fields).map_err(|mut e| {
        if let Some((_, src)) = merged.get(e.field.as_str()) {
            e.field = src.path_of(&e.field);
        }
        e
    })?;

    let (severity_key, severity_label) = match text("severity") {
        Some(s) => ("severity", Some(s)),
        None => ("priority", text("priority")),
    };
    let (summary_key, summary) = match (text("summary"), text("description")) {
        (Some(s), _) => ("summary", s),
        (None, Some(d)) => ("description", d),
        (None, None) => (
            "",
            match &context.service {
                Some(service) => format!("{alertname} on {service}"),
                None => alertname.to_string(),
            },
        ),
    };
    let runbook_url = text("runbook_url");

    let mut details = Details::default();
    for (k, (v, _)) in &merged {
        if !is_context_field(k) && ![severity_key, summary_key, "runbook_url"].contains(k) {
            details.add(k, v);
        }
    }
    for (name, value) in [
        ("generatorURL", generator_url),
        ("fingerprint", fingerprint),
    ] {
        if let Some(value) = value {
            details.add_text(name, value);
        }
    }

    Ok(Alert {
        source: Source::Alertmanager,
        action,
        dedup_key: format!("alertmanager:{group_key}"),
        summary: one_line(&summary, MAX_SUMMARY),
        context,
        severity_label: severity_label.map(|s| s.to_lowercase()),
        started_at,
        ended_at,
        by: None,
        runbook_url,
        details: details.finish(),
    })
}
