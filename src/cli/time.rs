//! Times as responders type them: `01:52` (today, local time; yesterday if that would be in
//! the future) or a full RFC 3339 timestamp.

use chrono::{DateTime, Local, Utc};

/// Parses `--at`. `now` is injected so the "today or yesterday" choice is testable.
pub fn parse_at(s: &str, now: DateTime<Local>) -> Result<DateTime<Utc>, String> {
    let t = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    crate::clock::recent_local_time(t, now.with_timezone(&Utc), *now.offset()).ok_or_else(|| {
        format!("'{s}' is not a time: use HH:MM (local) or RFC 3339 (2026-01-31T01:52:00Z)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn hh_mm_is_today_or_last_night() {
        let now = Local.with_ymd_and_hms(2026, 3, 10, 0, 10, 0).unwrap();
        let t = parse_at("23:50", now).unwrap();
        assert_eq!(
            t.with_timezone(&Local).date_naive().to_string(),
            "2026-03-09"
        );
        let t = parse_at("00:05", now).unwrap();
        assert_eq!(
            t.with_timezone(&Local).date_naive().to_string(),
            "2026-03-10"
        );
        let t = parse_at("2026-03-09T01:52:00Z", now).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-03-09T01:52:00+00:00");
        assert!(parse_at("25:00", now).unwrap_err().contains("HH:MM"));
    }
}
