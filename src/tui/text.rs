//! The console's text helpers, in one place: making text from the feed safe to draw, ages
//! and countdowns, clock times in the console's zone, word wrapping, and the names entry
//! kinds go by on screen. Every screen formats through these, so an age or a kind reads the
//! same on the board, in a room and in an overlay.

use chrono::{DateTime, Duration, Utc};

use crate::clock::Zone;
use crate::model::EntryKind;
use crate::model::escalation::clock_span;

/// Makes text from the network safe to draw: control characters (escape sequences, bells)
/// and bidirectional overrides become visible placeholders; newlines become ⏎.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str(" ⏎ "),
            '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{FFFD}'),
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' => {
                out.push('\u{FFFD}')
            }
            c => out.push(c),
        }
    }
    out
}

/// `42s`, `14m05s`, `3h04m`, `2d03h`.
pub fn fmt_age(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

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

/// A countdown or a wait as escalation shows it: `4:55`, `1:02:03`.
pub fn span_secs(s: i64) -> String {
    clock_span(Duration::seconds(s))
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

/// Word-wraps `s` into lines of at most `width` characters (longer words are cut; runs of
/// spaces collapse). Help, the runbook and long messages wrap this way.
pub fn wrap(s: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_w = 0;
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        let mut chars: Vec<char> = word.chars().collect();
        if cur_w > 0 && cur_w + 1 + chars.len() > width {
            out.push(std::mem::take(&mut cur));
            cur_w = 0;
        }
        while chars.len() > width {
            if cur_w > 0 {
                out.push(std::mem::take(&mut cur));
                cur_w = 0;
            }
            let rest = chars.split_off(width);
            out.push(chars.into_iter().collect());
            chars = rest;
        }
        if cur_w > 0 {
            cur.push(' ');
            cur_w += 1;
        }
        cur_w += chars.len();
        cur.extend(chars);
    }
    if cur_w > 0 || out.is_empty() {
        out.push(cur);
    }
    out
}

/// Word-wraps plain text to `width` characters (at least 8), keeping runs of spaces: the
/// correction history, the status update's preview and action items wrap this way.
pub fn wrap_plain(s: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut out = Vec::new();
    let mut cur = String::new();
    for word in s.split(' ') {
        let w = word.chars().count();
        let c = cur.chars().count();
        if c > 0 && c + 1 + w > width {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
        while cur.chars().count() > width {
            let head: String = cur.chars().take(width).collect();
            let tail: String = cur.chars().skip(width).collect();
            out.push(head);
            cur = tail;
        }
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out
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

/// The names entry kinds go by on screen: timeline rows, help's scribe prefixes, history.
pub fn kind_label(k: EntryKind) -> &'static str {
    match k {
        EntryKind::Note => "note",
        EntryKind::Decision => "decision",
        EntryKind::Action => "action",
        EntryKind::Hypothesis => "hypothesis",
        EntryKind::RuledOut => "ruled out",
        EntryKind::StatusUpdate => "update",
        EntryKind::Milestone => "milestone",
        EntryKind::System => "system",
    }
}
