//! Classifying an alert: what an alert says about the problem (`AlertContext`), the severity
//! rules a policy lists (first match wins), and the verdict with the rule that decided it.

use serde::Deserialize;

use super::{Policy, Severity, Span};

/// How much a service matters to the business (seed guide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criticality {
    Critical,
    High,
    Normal,
}

/// What an alert says about the problem, by the documented names its labels, annotations
/// or custom details use.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, Deserialize)]
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
    /// An incident this rule opens is need-to-know (restricted) from its first event:
    /// security events, which the seed guide discusses only with those who must know.
    #[serde(default)]
    pub restricted: bool,
}

/// The classifier's verdict, with the rule that decided it.
#[derive(Debug, Clone, PartialEq)]
pub enum Classification {
    /// Open (or join) an incident at this severity. `rule` is `None` when no rule matched.
    Incident {
        severity: Severity,
        rule: Option<usize>,
        why: String,
        /// The incident opens restricted (the rule says so).
        restricted: bool,
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

pub(super) fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

impl Rule {
    pub(super) fn conditions(&self) -> usize {
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
    pub fn criticality(&self, service: &str) -> Criticality {
        if self.services.critical.iter().any(|s| s == service) {
            Criticality::Critical
        } else if self.services.high.iter().any(|s| s == service) {
            Criticality::High
        } else {
            Criticality::Normal
        }
    }

    /// The services listed as critical.
    pub fn critical_services(&self) -> &[String] {
        &self.services.critical
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
                    restricted: r.restricted,
                },
                (None, _) => Classification::Informational { rule: i, why },
            };
        }
        Classification::Incident {
            severity: Severity::Sev4,
            rule: None,
            why: "no rule matched (low impact)".into(),
            restricted: false,
        }
    }
}
