//! The domain's small value types. Each one parses from what a person or script types and
//! rejects anything else with a message that says what would have been accepted.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Rejection;

/// The human reference of an incident: `INC-1`, `INC-2`, … in declaration order.
///
/// On the wire it is the string `"INC-7"`, so scripts can paste what the console shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IncidentRef(pub u32);

impl fmt::Display for IncidentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "INC-{}", self.0)
    }
}

impl FromStr for IncidentRef {
    type Err = Rejection;

    /// Accepts `INC-7`, `inc-7` and a bare `7`, because responders type all three.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let digits = t
            .strip_prefix("INC-")
            .or_else(|| t.strip_prefix("inc-"))
            .unwrap_or(t);
        match digits.parse::<u32>() {
            Ok(n) if n > 0 => Ok(IncidentRef(n)),
            _ => Err(Rejection::invalid(format!(
                "'{s}' is not an incident reference (expected INC-<number>, e.g. INC-3)"
            ))),
        }
    }
}

impl Serialize for IncidentRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IncidentRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e: Rejection| serde::de::Error::custom(e.message))
    }
}

/// Severity, SEV1 (critical) to SEV4 (low). Lower number means more severe, so `Ord` sorts
/// the most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum Severity {
    Sev1 = 1,
    Sev2 = 2,
    Sev3 = 3,
    Sev4 = 4,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Sev1,
        Severity::Sev2,
        Severity::Sev3,
        Severity::Sev4,
    ];

    pub fn number(self) -> u8 {
        self as u8
    }

    /// Target time to respond (seed guide: 5 / 15 / 60 minutes; SEV4 is not paged).
    pub fn target_response_minutes(self) -> Option<u32> {
        match self {
            Severity::Sev1 => Some(5),
            Severity::Sev2 => Some(15),
            Severity::Sev3 => Some(60),
            Severity::Sev4 => None,
        }
    }

    /// Whether a dedicated comms lead is expected (seed guide: SEV-1 and SEV-2 have one,
    /// so the IC and engineers can focus on the fix).
    pub fn wants_comms_lead(self) -> bool {
        matches!(self, Severity::Sev1 | Severity::Sev2)
    }

    pub fn label(self) -> &'static str {
        match self {
            Severity::Sev1 => "critical",
            Severity::Sev2 => "major",
            Severity::Sev3 => "minor",
            Severity::Sev4 => "low",
        }
    }
}

impl TryFrom<u8> for Severity {
    type Error = Rejection;
    fn try_from(n: u8) -> Result<Self, Rejection> {
        match n {
            1 => Ok(Severity::Sev1),
            2 => Ok(Severity::Sev2),
            3 => Ok(Severity::Sev3),
            4 => Ok(Severity::Sev4),
            _ => Err(Rejection::invalid(format!(
                "severity {n} does not exist: use 1 (SEV1, critical) to 4 (SEV4, low)"
            ))),
        }
    }
}

impl From<Severity> for u8 {
    fn from(s: Severity) -> u8 {
        s as u8
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SEV{}", *self as u8)
    }
}

impl FromStr for Severity {
    type Err = Rejection;
    /// Accepts `1`, `SEV1`, `sev-1`, `SEV 1`.
    fn from_str(s: &str) -> Result<Self, Rejection> {
        let t = s.trim().to_ascii_lowercase();
        let digits = t.trim_start_matches("sev").trim_start_matches(['-', ' ']);
        match digits.parse::<u8>() {
            Ok(n) => Severity::try_from(n),
            Err(_) => Err(Rejection::invalid(format!(
                "'{s}' is not a severity: use 1 to 4 or SEV1 to SEV4"
            ))),
        }
    }
}

/// Declares a string-valued enum with its wire names, its parse error and its list of valid
/// values, so every enum the protocol carries rejects unknown values the same way.
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "&'static str")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire and command-line name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Rejection;
            fn from_str(s: &str) -> Result<Self, Rejection> {
                let norm = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
                $(if norm == $wire { return Ok($name::$variant); })+
                let valid: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                Err(Rejection::invalid(format!(
                    "unknown {} '{}' (expected one of: {})", $what, s, valid.join(", ")
                )))
            }
        }

        impl TryFrom<String> for $name {
            type Error = Rejection;
            fn try_from(s: String) -> Result<Self, Rejection> { s.parse() }
        }

        impl From<$name> for &'static str {
            fn from(v: $name) -> &'static str { v.as_str() }
        }
    };
}

named_enum!(
    /// Where an incident is in its life. Closed comes after the post-mortem.
    Status, "status", {
        Investigating => "investigating",
        Identified => "identified",
        Monitoring => "monitoring",
        Resolved => "resolved",
        Closed => "closed",
    }
);

named_enum!(
    /// Who found the incident (seed architecture: customer-detected incidents mean
    /// monitoring gaps).
    Detection, "detection source", {
        Monitoring => "monitoring",
        Customer => "customer",
        Engineer => "engineer",
    }
);

impl Status {
    /// Still being worked: investigating, identified or monitoring.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Status::Investigating | Status::Identified | Status::Monitoring
        )
    }
}

named_enum!(
    /// The war-room roles of the seed architecture.
    Role, "role", {
        IncidentCommander => "incident_commander",
        TechLead => "tech_lead",
        CommsLead => "comms_lead",
        Scribe => "scribe",
    }
);

impl Role {
    /// Short names people type: `ic`, `tl`, `comms`, `scribe`.
    pub fn parse_loose(s: &str) -> Result<Role, Rejection> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ic" | "commander" => Ok(Role::IncidentCommander),
            "tl" | "lead" => Ok(Role::TechLead),
            "comms" | "cl" => Ok(Role::CommsLead),
            _ => s.parse().map_err(|e: Rejection| {
                Rejection::invalid(format!("{} (or ic, tl, comms)", e.message))
            }),
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Role::IncidentCommander => "Incident commander",
            Role::TechLead => "Tech lead",
            Role::CommsLead => "Comms lead",
            Role::Scribe => "Scribe",
        }
    }
}

named_enum!(
    /// The moments MTTD / MTTA / MTTM / MTTR are measured between.
    Milestone, "milestone", {
        ImpactStarted => "impact_started",
        Detected => "detected",
        Acknowledged => "acknowledged",
        Mitigated => "mitigated",
        Resolved => "resolved",
    }
);

named_enum!(
    /// What a timeline entry records.
    EntryKind, "entry kind", {
        Note => "note",
        Decision => "decision",
        Action => "action",
        Hypothesis => "hypothesis",
        RuledOut => "ruled_out",
        StatusUpdate => "status_update",
        Milestone => "milestone",
        System => "system",
    }
);

named_enum!(
    /// What an escalation step does (seed guide: page, notify, create a ticket).
    StepAction, "step action", {
        Page => "page",
        Notify => "notify",
        Ticket => "ticket",
    }
);

named_enum!(
    /// What an incoming alert asked for.
    AlertAction, "alert action", {
        Trigger => "trigger",
        Acknowledge => "acknowledge",
        Resolve => "resolve",
    }
);

named_enum!(
    /// The free-text sections of a post-mortem (seed template). The root cause is a 5-whys
    /// chain and action items are a list; both have their own commands.
    PmSection, "post-mortem section", {
        Summary => "summary",
        ContributingFactors => "contributing_factors",
        WentWell => "went_well",
        WentPoorly => "went_poorly",
        Lessons => "lessons",
    }
);

impl PmSection {
    /// The heading the export uses.
    pub fn title(self) -> &'static str {
        match self {
            PmSection::Summary => "Summary",
            PmSection::ContributingFactors => "Contributing factors",
            PmSection::WentWell => "What went well",
            PmSection::WentPoorly => "What went poorly",
            PmSection::Lessons => "Lessons learned",
        }
    }
}

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
        let unit_secs: u64 = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            _ => return Err(bad()),
        };
        let secs = n
            .checked_mul(unit_secs)
            .filter(|s| *s <= 100 * 365 * 86_400)
            .ok_or_else(|| format!("'{s}' is longer than a hundred years"))?;
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

impl Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The executive briefing a SEV1 status update carries (seed guide: leadership is told the
/// business impact, the estimated time to resolution, and the customer commitments at risk).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Briefing {
    /// The business impact.
    pub impact: String,
    /// The estimated time to resolution, in words ("about 40 minutes", "unknown yet").
    pub eta: String,
    /// The customer commitments at risk (SLAs, launches, contracts; "none").
    pub at_risk: String,
}

impl Briefing {
    /// Each part trimmed and checked as other typed text is (non-empty, a length limit,
    /// no control characters); the refusal names the part.
    pub fn checked(&self) -> Result<Briefing, super::Rejection> {
        use super::validate::{MAX_ITEM, text};
        Ok(Briefing {
            impact: text("the briefing's impact", &self.impact, MAX_ITEM, true)?,
            eta: text("the briefing's ETA", &self.eta, MAX_ITEM, true)?,
            at_risk: text(
                "the briefing's commitments at risk",
                &self.at_risk,
                MAX_ITEM,
                true,
            )?,
        })
    }
}
