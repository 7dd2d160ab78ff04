//! The documented field names an alert uses to describe itself to the classifier, and the
//! severity-label mapping.

use std::collections::BTreeMap;

use serde_json::Value;

use super::IntakeError;
use super::json::{kind, quote, show};
use crate::model::Severity;
use crate::model::policy::{AlertContext, Span};

/// The classifier's field names (besides `service`), as labels, annotations and custom
/// details write them.
pub const CLASSIFIER_FIELDS: [&str; 9] = [
    "error_rate",
    "affected_users_pct",
    "latency_p99_ms",
    "data_loss",
    "security_event",
    "revenue_impacting",
    "dependent_services",
    "burn_rate",
    "burn_window",
];

/// Whether `name` is `service` or one of [`CLASSIFIER_FIELDS`]: a field [`context_from`] reads.
pub(super) fn is_context_field(name: &str) -> bool {
    name == "service" || CLASSIFIER_FIELDS.contains(&name)
}

/// Reads the documented names (see the [module documentation](super)) from an alert's
/// labels, annotations or custom details. Absent, `null` and empty values are absent; a
/// present value that does not parse is an error naming the field (just its name, such as
/// `error_rate`; the parsers prefix the path it came from).
pub fn context_from(fields: &BTreeMap<String, Value>) -> Result<AlertContext, IntakeError> {
    let get = |name: &str| {
        fields
            .get(name)
            .filter(|v| !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty()))
    };
    let percent = |name: &str| get(name).map(|v| percent(name, v)).transpose();
    let flag = |name: &str| get(name).map_or(Ok(false), |v| flag(name, v));
    Ok(AlertContext {
        service: get("service").map(service).transpose()?,
        error_rate: percent("error_rate")?,
        latency_p99_ms: get("latency_p99_ms")
            .map(|v| amount("latency_p99_ms", v, "ms", "a latency in milliseconds"))
            .transpose()?,
        affected_users_pct: percent("affected_users_pct")?,
        data_loss: flag("data_loss")?,
        security_event: flag("security_event")?,
        revenue_impacting: flag("revenue_impacting")?,
        dependent_services: get("dependent_services")
            .map_or(Ok(0), |v| count("dependent_services", v))?,
        burn_rate: get("burn_rate")
            .map(|v| amount("burn_rate", v, "x", "a burn rate"))
            .transpose()?,
        burn_window: get("burn_window")
            .map(|v| window("burn_window", v))
            .transpose()?,
    })
}

/// True if any of the classifier's names other than `service` was present. A flag given as
/// false or a count given as 0 cannot be told from an absent one, and changes no rule.
pub fn has_classifier_fields(ctx: &AlertContext) -> bool {
    ctx.error_rate.is_some()
        || ctx.latency_p99_ms.is_some()
        || ctx.affected_users_pct.is_some()
        || ctx.data_loss
        || ctx.security_event
        || ctx.revenue_impacting
        || ctx.dependent_services > 0
        || ctx.burn_rate.is_some()
        || ctx.burn_window.is_some()
}

/// The documented severity-label mapping (case-insensitive; see the module documentation):
/// `critical` is SEV1, `high`/`error`/`major` SEV2, `warning`/`minor` SEV3, `low`/`info`
/// SEV4, as are `sevN`, `sev-N`, `pN` and `N`; `p5` and `5` are SEV4 too. Anything else is
/// `None`.
pub fn severity_from_label(label: &str) -> Option<Severity> {
    match label.trim().to_ascii_lowercase().as_str() {
        "critical" | "sev1" | "sev-1" | "p1" | "1" => Some(Severity::Sev1),
        "high" | "error" | "major" | "sev2" | "sev-2" | "p2" | "2" => Some(Severity::Sev2),
        "warning" | "warn" | "minor" | "sev3" | "sev-3" | "p3" | "3" => Some(Severity::Sev3),
        "low" | "info" | "informational" | "sev4" | "sev-4" | "p4" | "p5" | "4" | "5" => {
            Some(Severity::Sev4)
        }
        _ => None,
    }
}

fn err(name: &str, message: String) -> IntakeError {
    IntakeError::new(name, message)
}

fn service(v: &Value) -> Result<String, IntakeError> {
    match v {
        Value::String(s) => Ok(s.trim().to_string()),
        other => Err(err(
            "service",
            format!("expected a string, got {}", kind(other)),
        )),
    }
}

/// A finite number from a JSON number or a string, with an optional `suffix` (`%`, `ms`, `x`).
fn number(v: &Value, suffix: &str) -> Option<f64> {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let t = s.trim();
            let t = t
                .strip_suffix(suffix)
                .or_else(|| t.strip_suffix(&suffix.to_ascii_uppercase()))
                .unwrap_or(t);
            t.trim_end().parse::<f64>().ok()
        }
        _ => None,
    };
    n.filter(|n| n.is_finite())
}

fn percent(name: &str, v: &Value) -> Result<f64, IntakeError> {
    let p = number(v, "%").ok_or_else(|| err(name, format!("{} is not a percentage", show(v))))?;
    if (0.0..=100.0).contains(&p) {
        Ok(p)
    } else {
        Err(err(
            name,
            format!("{} is outside 0-100 (it is a percentage)", show(v)),
        ))
    }
}

/// A non-negative number, such as a latency (`"850ms"`) or a burn rate (`"14.4x"`).
fn amount(name: &str, v: &Value, suffix: &str, what: &str) -> Result<f64, IntakeError> {
    let n = number(v, suffix).ok_or_else(|| err(name, format!("{} is not {what}", show(v))))?;
    if n >= 0.0 {
        Ok(n)
    } else {
        Err(err(name, format!("{} is negative", show(v))))
    }
}

fn flag(name: &str, v: &Value) -> Result<bool, IntakeError> {
    let parsed = match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_u64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    };
    parsed.ok_or_else(|| {
        err(
            name,
            format!(
                "{} is not true or false (write true/false, yes/no or 1/0)",
                show(v)
            ),
        )
    })
}

fn count(name: &str, v: &Value) -> Result<u32, IntakeError> {
    let bad = || {
        err(
            name,
            format!(
                "{} is not a count (write a whole number, a list, or comma-separated names)",
                show(v)
            ),
        )
    };
    let whole = |x: f64| {
        if x.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&x) {
            Ok(x as u32)
        } else {
            Err(bad())
        }
    };
    match v {
        Value::Number(n) => n.as_f64().map_or_else(|| Err(bad()), whole),
        Value::Array(items) => u32::try_from(items.len()).map_err(|_| bad()),
        Value::String(s) => {
            let t = s.trim();
            if let Ok(n) = t.parse::<i64>() {
                return u32::try_from(n).map_err(|_| bad());
            }
            let items = t.split(',').filter(|item| !item.trim().is_empty()).count();
            u32::try_from(items).map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

fn window(name: &str, v: &Value) -> Result<Span, IntakeError> {
    let Value::String(s) = v else {
        return Err(err(
            name,
            format!(
                "expected a duration such as \"5m\", got {} {}",
                kind(v),
                show(v)
            ),
        ));
    };
    // Span multiplies without overflow checks; refuse counts that would overflow first.
    let t = s.trim();
    let digits = t.split(|c: char| !c.is_ascii_digit()).next().unwrap_or("");
    if digits
        .parse::<u64>()
        .is_ok_and(|n| n > u64::MAX / (7 * 86_400))
    {
        return Err(err(name, format!("{} is too long a window", quote(s))));
    }
    s.parse::<Span>().map_err(|e| err(name, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn ctx(pairs: &[(&str, Value)]) -> Result<AlertContext, IntakeError> {
        let map: BTreeMap<String, Value> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect();
        context_from(&map)
    }

    fn error(pairs: &[(&str, Value)]) -> String {
        ctx(pairs).expect_err("should be refused").to_string()
    }

    #[test]
    fn strings_and_numbers_both_read() {
        let c = ctx(&[
            ("service", json!(" payments ")),
            ("error_rate", json!("62.5%")),
            ("affected_users_pct", json!(40)),
            ("latency_p99_ms", json!("850ms")),
            ("data_loss", json!("yes")),
            ("security_event", json!(false)),
            ("revenue_impacting", json!("TRUE")),
            ("dependent_services", json!("checkout, ledger,,refunds")),
            ("burn_rate", json!("14.4x")),
            ("burn_window", json!("5m")),
            ("unrelated", json!({"nested": true})),
        ])
        .expect("parses");
        assert_eq!(c.service.as_deref(), Some("payments"));
        assert_eq!(c.error_rate, Some(62.5));
        assert_eq!(c.affected_users_pct, Some(40.0));
        assert_eq!(c.latency_p99_ms, Some(850.0));
        assert!(c.data_loss && !c.security_event && c.revenue_impacting);
        assert_eq!(c.dependent_services, 3);
        assert_eq!(c.burn_rate, Some(14.4));
        assert_eq!(c.burn_window, Some(Span(Duration::from_secs(300))));
        assert!(has_classifier_fields(&c));
    }

    #[test]
    fn counts_take_three_forms() {
        let n = |v: Value| ctx(&[("dependent_services", v)]).map(|c| c.dependent_services);
        assert_eq!(n(json!(4)), Ok(4));
        assert_eq!(n(json!("4")), Ok(4));
        assert_eq!(n(json!(["a", "b"])), Ok(2));
        assert_eq!(n(json!("a")), Ok(1));
        assert!(n(json!(-1)).is_err());
        assert!(n(json!("-1")).is_err());
        assert!(n(json!(2.5)).is_err());
        assert!(n(json!(true)).is_err());
    }

    #[test]
    fn absent_null_and_empty_are_absent() {
        let c = ctx(&[
            ("error_rate", Value::Null),
            ("burn_window", json!("  ")),
            ("service", json!("")),
        ])
        .expect("parses");
        assert_eq!(c, AlertContext::default());
        assert!(!has_classifier_fields(&c));
        let only_service = ctx(&[("service", json!("auth"))]).expect("parses");
        assert!(!has_classifier_fields(&only_service));
    }

    #[test]
    fn bad_values_name_the_field_and_value() {
        assert_eq!(
            error(&[("error_rate", json!("lots"))]),
            "error_rate: 'lots' is not a percentage"
        );
        assert_eq!(
            error(&[("affected_users_pct", json!(140))]),
            "affected_users_pct: 140 is outside 0-100 (it is a percentage)"
        );
        assert!(error(&[("error_rate", json!("-3%"))]).starts_with("error_rate: "));
        assert!(error(&[("error_rate", json!("NaN"))]).starts_with("error_rate: "));
        assert!(error(&[("data_loss", json!("maybe"))]).starts_with("data_loss: 'maybe'"));
        assert!(error(&[("data_loss", json!(2))]).starts_with("data_loss: 2 "));
        assert!(error(&[("burn_rate", json!("fast"))]).starts_with("burn_rate: 'fast'"));
        assert!(error(&[("burn_rate", json!(-1))]).starts_with("burn_rate: -1 is negative"));
        assert!(error(&[("latency_p99_ms", json!([1]))]).starts_with("latency_p99_ms: "));
        assert!(error(&[("service", json!(7))]).starts_with("service: expected a string"));
        assert_eq!(
            error(&[("burn_window", json!("5 minutes"))]),
            "burn_window: '5 minutes' is not a duration (write 30s, 5m, 4h, 3d or 1w)"
        );
        assert!(error(&[("burn_window", json!(300))]).starts_with("burn_window: expected"));
        assert!(
            error(&[("burn_window", json!("999999999999999999w"))])
                .starts_with("burn_window: '999999999999999999w' is too long")
        );
    }

    #[test]
    fn severity_labels_map_as_documented() {
        for (labels, sev) in [
            (
                &["critical", "sev1", "SEV-1", "P1", "1"][..],
                Severity::Sev1,
            ),
            (
                &["high", "error", "Major", "sev2", "sev-2", "p2", "2"][..],
                Severity::Sev2,
            ),
            (
                &["warning", "warn", "minor", "sev3", "sev-3", "p3", "3"][..],
                Severity::Sev3,
            ),
            (
                &[
                    "low",
                    "info",
                    "informational",
                    "sev4",
                    "sev-4",
                    "p4",
                    "p5",
                    "4",
                    " 5 ",
                ][..],
                Severity::Sev4,
            ),
        ] {
            for l in labels {
                assert_eq!(severity_from_label(l), Some(sev), "{l}");
            }
        }
        for l in ["", "page", "none", "sev5", "6", "crit"] {
            assert_eq!(severity_from_label(l), None, "{l}");
        }
    }
}
