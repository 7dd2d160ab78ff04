//! Checks on free text and times that arrive from people and scripts.

use chrono::{DateTime, Duration, Utc};

use super::Rejection;

/// Longest incident title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest timeline entry, in characters.
pub const MAX_ENTRY: usize = 4000;
/// Longest action item, and each side of a 5-whys link, in characters.
pub const MAX_ITEM: usize = MAX_TITLE * 5;
/// Longest person or service name, in characters.
pub const MAX_NAME: usize = 64;
/// How far in the future an occurred-at may lie (clock skew between laptops and the server).
pub const FUTURE_SKEW_MINUTES: i64 = 5;

/// Trims `value` and checks it is non-empty, short enough and free of control characters
/// (newlines and tabs are allowed where `multiline`).
pub fn text(field: &str, value: &str, max: usize, multiline: bool) -> Result<String, Rejection> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Rejection::invalid(format!("{field} is empty")));
    }
    let len = trimmed.chars().count();
    if len > max {
        return Err(Rejection::invalid(format!(
            "{field} is {len} characters long; the limit is {max}"
        )));
    }
    if let Some(c) = trimmed
        .chars()
        .find(|c| c.is_control() && !(multiline && (*c == '\n' || *c == '\t')))
    {
        return Err(Rejection::invalid(format!(
            "{field} contains a control character (U+{:04X})",
            c as u32
        )));
    }
    Ok(trimmed.to_string())
}

/// A time a person says something happened: not later than a few minutes from now.
pub fn past_time(field: &str, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Rejection> {
    if at > now + Duration::minutes(FUTURE_SKEW_MINUTES) {
        return Err(Rejection::invalid(format!(
            "{field} {} is in the future (server time is {})",
            at.format("%Y-%m-%d %H:%M:%S UTC"),
            now.format("%Y-%m-%d %H:%M:%S UTC")
        )));
    }
    Ok(())
}
