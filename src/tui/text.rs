//! The console's own text helpers: clock times in the console's zone, seconds to and since
//! an instant, cadences, and cutting to a width. Everything the console shares with the
//! reports and the CLI (sanitising text from the feed, ages, countdowns, word wrap, entry-kind
//! names) is in [`crate::report::format`], so a thing reads the same wherever it is shown.

use chrono::{DateTime, Utc};

use crate::clock::Zone;

/// `02:10:03`: an instant in the console's zone, to the second (timeline rows).
pub fn hhmmss(tz: &Zone, t: DateTime<Utc>) -> String {
    t.with_timezone(tz).format("%H:%M:%S").to_string()
}

/// `02:10`: an instant in the console's zone, to the minute.
pub fn hhmm(tz: &Zone, t: DateTime<Utc>) -> String {
    t.with_timezone(tz).format("%H:%M").to_string()
}

/// Whole seconds from `now` until `t`, rounded up, so a countdown reads 0:00 only when due.
pub fn secs_until(t: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let ms = (t - now).num_milliseconds();
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) > 0)
}

/// Whole seconds since `t`.
pub fn secs_since(t: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (now - t).num_seconds().max(0)
}

/// `15m`, `1h30m`, `45s`: how often something is owed.
pub fn period(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

/// `s` cut to `n` characters, the last one an ellipsis when something was cut.
pub fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
