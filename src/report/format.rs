//! How warroom writes durations, times, names and text from the feed, for every reader: the
//! console's screens, the reports (briefing, metrics, export) and the CLI's output. One
//! function per purpose, each written once, so the same thing reads the same everywhere and a
//! fix (an escape sequence that slipped through, a rounding) lands on every screen at once.
//!
//! It lives in `report` because that is the floor both the console and the CLI reach; it is
//! pure (text in, text out) and imports only the model.
//!
//! Durations come in five styles, each with its purpose (the tests pin what each prints):
//!
//! | function            | reads like               | for                                     |
//! |---------------------|--------------------------|-----------------------------------------|
//! | [`age`]             | `42s` `14m05s` `3h04m`   | how long something has been going       |
//! | [`countdown`]       | `4:12` `1:02:03`         | a clock running down (or up) to a step  |
//! | [`span`]            | `42s` `14m` `3h05m`      | a coarse span a briefing reads aloud    |
//! | [`table_clock`]     | `04:12` `1:02:03` `-`    | a figure in the metrics table           |
//! | [`human_duration`]  | `1h 12m` `14m 05s`       | a duration in a written post-mortem     |

use chrono::{DateTime, Duration, Utc};

use crate::model::{EntryKind, IncidentRef, Role};

// ---- durations -------------------------------------------------------------------------

/// `42s`, `14m05s`, `3h04m`, `2d03h`: how long something has been going (an incident's age,
/// time since the last update). A negative span (clock skew) reads `0s`.
pub fn age(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

/// `4:12`, `1:02:03`: a countdown to an escalation step or an update, or how late one is
/// (the sign is dropped: the words around it say which). The model writes the same clock
/// into its system entries, so this is the model's
/// [`clock_span`](crate::model::escalation::clock_span).
pub fn countdown(secs: i64) -> String {
    crate::model::escalation::clock_span(Duration::seconds(secs))
}

/// `42s`, `14m`, `3h05m`, `2d04h`: an age or a countdown in a briefing, coarse enough to
/// read aloud at a handoff. The sign is dropped (see [`relative`]).
pub fn span(secs: i64) -> String {
    let s = secs.abs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// `04:12`, `1:02:03`; `-` for none: a mean or median in the metrics table, where the
/// columns line up. Negative reads `00:00`.
pub fn table_clock(secs: Option<i64>) -> String {
    let Some(s) = secs else {
        return "-".to_string();
    };
    let t = s.max(0);
    let (h, m, s) = (t / 3600, (t % 3600) / 60, t % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// `1h 12m`, `14m 05s`, `42s`, `2d 3h 04m`, `-5s`: a duration in a written post-mortem.
pub fn human_duration(secs: i64) -> String {
    let neg = if secs < 0 { "-" } else { "" };
    let s = secs.abs();
    let (d, h, m, sec) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60, s % 60);
    if d > 0 {
        format!("{neg}{d}d {h}h {m:02}m")
    } else if h > 0 {
        format!("{neg}{h}h {m:02}m")
    } else if m > 0 {
        format!("{neg}{m}m {sec:02}s")
    } else {
        format!("{neg}{sec}s")
    }
}

// ---- times -----------------------------------------------------------------------------

/// `2026-03-09 14:05 UTC`: an instant in a report or a table, never ambiguous.
pub fn utc_stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `14:05 UTC` on the day of `now`, `2026-03-09 14:05 UTC` on another day.
pub fn when(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if t.date_naive() == now.date_naive() {
        t.format("%H:%M UTC").to_string()
    } else {
        utc_stamp(t)
    }
}

/// `in 12m`, `12m ago`, `now` (by [`span`]).
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    match secs {
        0 => "now".to_string(),
        s if s > 0 => format!("in {}", span(s)),
        s => format!("{} ago", span(s)),
    }
}

/// `02:14:05` when everything in the document happened on one day, else
/// `2026-03-14 02:14:05`: the times of an exported timeline.
pub fn log_time(t: DateTime<Utc>, same_day: bool) -> String {
    if same_day {
        t.format("%H:%M:%S").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

// ---- text from the feed ----------------------------------------------------------------

/// Text from the network made safe to show in a terminal: control characters (escape
/// sequences, bells, carriage returns) and bidirectional overrides become `�`, so a title
/// or note typed by someone else cannot drive the reader's terminal or reorder what it
/// shows; a newline becomes ` ⏎ ` and a tab a space, so it stays on one line. Nothing is
/// trimmed (the console lays it out as it came).
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

/// [`clean`] for printed reports: trimmed first, and a carriage return is dropped rather
/// than shown (`a\r\nb` reads `a ⏎ b`).
pub fn one_line(s: &str) -> String {
    clean(&s.trim().replace('\r', ""))
}

/// Word-wraps `s` into lines of at most `width` characters, for text that flows in a pane
/// (messages, help, runbooks): runs of spaces collapse to one, a word longer than the line
/// is cut. Always at least one line.
pub fn wrap(s: &str, width: usize) -> Vec<String> {
    wrap_words(s, width.max(1), false)
}

/// Word-wraps text as it was typed (a timeline entry, a status update, an action item):
/// the spaces between words are kept (leading ones dropped), a word longer than the line is
/// cut, and a line is never narrower than 8 characters. Always at least one line.
pub fn wrap_as_typed(s: &str, width: usize) -> Vec<String> {
    wrap_words(s, width.max(8), true)
}

/// The one word-wrapper: splits on spaces; `keep_spaces` keeps the empty words that runs
/// of spaces make (each is a space at a line's end or inside it).
fn wrap_words(s: &str, width: usize, keep_spaces: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_w = 0;
    for word in s.split(' ') {
        if word.is_empty() && !keep_spaces {
            continue;
        }
        let w = word.chars().count();
        if cur_w > 0 && cur_w + 1 + w > width {
            out.push(std::mem::take(&mut cur));
            cur_w = 0;
        }
        if cur_w > 0 {
            cur.push(' ');
            cur_w += 1;
        }
        cur.push_str(word);
        cur_w += w;
        while cur_w > width {
            let rest: String = cur.chars().skip(width).collect();
            cur = cur.chars().take(width).collect();
            out.push(std::mem::replace(&mut cur, rest));
            cur_w -= width;
        }
    }
    if cur_w > 0 || out.is_empty() {
        out.push(cur);
    }
    out
}

// ---- names -----------------------------------------------------------------------------

/// `ruled out`, `status update`: an entry's kind in running text and exports.
pub fn kind_name(k: EntryKind) -> String {
    k.as_str().replace('_', " ")
}

/// `ruled out`, `update`: an entry's kind in the console's timeline column and help, where
/// it must fit eleven characters.
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

/// `incident commander`, `tech lead`: a role in running text.
pub fn role_name(r: Role) -> String {
    r.title().to_lowercase()
}

/// `IC`, `Tech`, `Comms`, `Scribe`: a role in the console's room header.
pub fn role_short(r: Role) -> &'static str {
    match r {
        Role::IncidentCommander => "IC",
        Role::TechLead => "Tech",
        Role::CommsLead => "Comms",
        Role::Scribe => "Scribe",
    }
}

// ---- restricted incidents withheld from the reader -------------------------------------

/// `1 restricted incident`, `3 restricted incidents`.
pub fn restricted_count(n: usize) -> String {
    format!("{n} restricted incident{}", if n == 1 { "" } else { "s" })
}

/// `INC-3, INC-7`; with more than `shown`, the first `shown` and `, +N more`.
pub fn ref_list(refs: &[IncidentRef], shown: usize) -> String {
    let n = refs.len();
    let mut s = refs[..shown.min(n)]
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if n > shown {
        s.push_str(&format!(", +{} more", n - shown));
    }
    s
}

/// `2 restricted incidents you are not a member of: INC-3, INC-7`; `None` when there are
/// none. Only their references: what they are is need to know.
pub fn withheld_line(withheld: &[IncidentRef]) -> Option<String> {
    let n = withheld.len();
    (n > 0).then(|| {
        format!(
            "{} you are not a member of: {}",
            restricted_count(n),
            ref_list(withheld, n)
        )
    })
}

#[cfg(test)]
mod tests;
