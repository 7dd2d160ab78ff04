//! Times as responders type them: `01:52` (today, local time; yesterday if that would be in
//! the future) or a full RFC 3339 timestamp.

use chrono::{DateTime, Utc};

use crate::clock::Zone;

/// Parses `--at`. `now` and the zone are injected so the "today or yesterday" choice and
/// daylight-saving days are testable.
pub fn parse_at(s: &str, now: DateTime<Utc>, zone: Zone) -> Result<DateTime<Utc>, String> {
    let t = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    crate::clock::recent_local_time(t, now, &zone).unwrap_or_else(|| {
        Err(format!(
            "'{s}' is not a time: use HH:MM (local) or RFC 3339 (2026-01-31T01:52:00Z)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, TimeZone};

    #[test]
    fn hh_mm_is_today_or_last_night() {
        let cet = Zone::Fixed(FixedOffset::east_opt(3600).unwrap());
        // 00:10 in a zone an hour ahead of UTC.
        let now = Utc.with_ymd_and_hms(2026, 3, 9, 23, 10, 0).unwrap();
        let t = parse_at("23:50", now, cet).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-03-09T22:50:00+00:00");
        let t = parse_at("00:05", now, cet).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-03-09T23:05:00+00:00");
        let t = parse_at("2026-03-09T01:52:00Z", now, cet).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-03-09T01:52:00+00:00");
        assert!(parse_at("25:00", now, cet).unwrap_err().contains("HH:MM"));
    }
}
