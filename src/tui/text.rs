//! The console's own text helpers: clock times in the console's zone, seconds to and since
//! an instant, cadences, and cutting to a width. Everything the console shares with the
//! reports and the CLI (sanitising text from the feed, ages, countdowns, word wrap, entry-kind
//! names) is in [`crate::report::format`], so a thing reads the same wherever it is shown.

use chrono::{DateTime, Utc};
use ratatui::text::{Line, Span};

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

/// The longest of `variants` (most detailed first) that fits `width` columns; when none
/// does, the shortest cut to the width with an ellipsis, so a cell never runs into the next.
pub fn fit(variants: Vec<Vec<Span<'static>>>, width: u16) -> Line<'static> {
    let n = variants.len();
    let width = width as usize;
    for (i, v) in variants.into_iter().enumerate() {
        let line = Line::from(v);
        if line.width() <= width {
            return line;
        }
        if i + 1 == n {
            return cut(line, width);
        }
    }
    Line::default()
}

/// `line` cut to `width` columns, its last one an ellipsis; spans keep their styles.
fn cut(line: Line<'static>, width: usize) -> Line<'static> {
    let mut out = Vec::new();
    let mut left = width.saturating_sub(1);
    for span in line.spans {
        if left == 0 {
            break;
        }
        let w = span.width();
        if w <= left {
            left -= w;
            out.push(span);
        } else {
            let text: String = span
                .content
                .chars()
                .scan(0, |used, c| {
                    *used += Span::raw(c.to_string()).width();
                    (*used <= left).then_some(c)
                })
                .collect();
            out.push(Span::styled(text, span.style));
            left = 0;
        }
    }
    if width > 0 {
        let style = out.last().map(|s| s.style).unwrap_or_default();
        out.push(Span::styled("…", style));
    }
    Line::from(out)
}
