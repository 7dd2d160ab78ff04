//! The value parsers: what a person types turned into the model's values, refused with
//! the model's own messages.

use crate::model::{EntryKind, IncidentRef, PmSection, Role, Severity, Status};
use crate::protocol::Access;

pub(super) fn parse_access(s: &str) -> Result<Access, String> {
    s.parse()
}

pub(super) fn parse_detection(s: &str) -> Result<crate::model::Detection, String> {
    s.parse().map_err(|e: crate::model::Rejection| e.message)
}

pub(super) fn parse_impact(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "growing" => Ok(true),
        "stable" => Ok(false),
        _ => Err(format!("'{s}': say growing or stable")),
    }
}

pub(super) fn parse_yes_no(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" => Ok(true),
        "no" | "n" | "false" => Ok(false),
        _ => Err(format!("'{s}': say yes or no")),
    }
}

pub(super) fn parse_ref(s: &str) -> Result<IncidentRef, String> {
    s.parse().map_err(|e: crate::model::Rejection| e.message)
}
pub(super) fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse().map_err(|e: crate::model::Rejection| e.message)
}
pub(super) fn parse_status(s: &str) -> Result<Status, String> {
    s.parse().map_err(|e: crate::model::Rejection| e.message)
}
pub(super) fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse_loose(s).map_err(|e| e.message)
}
pub(super) fn parse_kind(s: &str) -> Result<EntryKind, String> {
    s.parse().map_err(|e: crate::model::Rejection| e.message)
}
pub(super) fn parse_section(s: &str) -> Result<PmSection, String> {
    match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
        "lessons_learned" => Ok(PmSection::Lessons),
        "contributing" => Ok(PmSection::ContributingFactors),
        _ => s.parse().map_err(|e: crate::model::Rejection| e.message),
    }
}
pub(super) fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("'{s}' is not a date: write YYYY-MM-DD (e.g. 2026-03-21)"))
}
/// `--since`: a day (from its start, UTC) or an RFC 3339 time.
pub(super) fn parse_since(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let t = s.trim();
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&chrono::Utc))
        .map_err(|_| format!("'{s}' is not a date: write YYYY-MM-DD (e.g. 2026-11-01)"))
}
/// A milestone as typed: `impact-started` or `impact_started`, `detected`, `mitigated`, …
pub(super) fn parse_milestone(s: &str) -> Result<crate::model::Milestone, String> {
    s.trim()
        .to_ascii_lowercase()
        .replace('-', "_")
        .parse()
        .map_err(|e: crate::model::Rejection| e.message)
}
/// `--next`: how long until the next update (`20m`, `1h`; a bare number is minutes).
pub(super) fn parse_next(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let secs = match t.parse::<u64>() {
        Ok(m) => m.saturating_mul(60),
        Err(_) => t.parse::<crate::model::Span>()?.0.as_secs(),
    };
    if !(60..=24 * 3600).contains(&secs) {
        return Err(format!(
            "'{s}': the next update comes in 1 minute to 24 hours (e.g. 20m)"
        ));
    }
    Ok(secs)
}
