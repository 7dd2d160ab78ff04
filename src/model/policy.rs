//! The policy: services and their criticality, and the severity rules that classify an
//! alert. Policies are data (`assets/policy.toml` is the default, reproducing the seed
//! guide's classifier); this module parses them, checks them, and classifies. Pure: text in,
//! decisions out.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use super::Severity;

/// The default policy, embedded.
pub const DEFAULT_POLICY: &str = include_str!("../../assets/policy.toml");

/// A duration as policies write it: `30s`, `5m`, `4h`, `3d`, `1w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub Duration);

impl FromStr for Span {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let bad = || format!("'{s}' is not a duration (write 30s, 5m, 4h, 3d or 1w)");
        let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let secs = match unit {
            "s" => n,
            "m" => n * 60,
            "h" => n * 3600,
            "d" => n * 86_400,
            "w" => n * 7 * 86_400,
            _ => return Err(bad()),
        };
        Ok(Span(Duration::from_secs(secs)))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs();
        match s {
            s if s % (7 * 86_400) == 0 && s > 0 => write!(f, "{}w", s / (7 * 86_400)),
            s if s % 86_400 == 0 && s > 0 => write!(f, "{}d", s / 86_400),
            s if s % 3600 == 0 && s > 0 => write!(f, "{}h", s / 3600),
            s if s % 60 == 0 && s > 0 => write!(f, "{}m", s / 60),
            s => write!(f, "{s}s"),
        }
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

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

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Services {
    #[serde(default)]
    critical: Vec<String>,
    #[serde(default)]
    high: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    services: Services,
    #[serde(default, rename = "rule")]
    rules: Vec<toml::Spanned<Rule>>,
}

/// A checked policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    services: Services,
    rules: Vec<Rule>,
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
        Policy::parse(DEFAULT_POLICY).unwrap_or(Policy {
            services: Services::default(),
            rules: Vec::new(),
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
        if errors.is_empty() {
            Ok(Policy {
                services: file.services,
                rules: file
                    .rules
                    .into_iter()
                    .map(toml::Spanned::into_inner)
                    .collect(),
            })
        } else {
            Err(errors)
        }
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
