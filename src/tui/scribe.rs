//! What the scribe types, turned into a timeline entry: a leading `@HH:MM` backdates it,
//! a short prefix sets its kind (`d:` decision, `a:` action, `h:` hypothesis, `r:` ruled
//! out, `u:` status update, `n:` note), in either order.

use chrono::{DateTime, Utc};

use crate::clock::Zone;

use crate::model::EntryKind;

/// The prefixes, for help: (prefix, long form, kind).
pub const PREFIXES: &[(&str, &str, EntryKind)] = &[
    ("d:", "decision:", EntryKind::Decision),
    ("a:", "action:", EntryKind::Action),
    ("h:", "hypothesis:", EntryKind::Hypothesis),
    ("r:", "ruled out:", EntryKind::RuledOut),
    ("u:", "update:", EntryKind::StatusUpdate),
    ("n:", "note:", EntryKind::Note),
];

/// A parsed scribe line.
#[derive(Debug, Clone, PartialEq)]
pub struct ScribeLine {
    pub kind: EntryKind,
    pub text: String,
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Parses the scribe's text. `now` and the local offset are injected; `@HH:MM` later than
/// a few minutes from now means yesterday (logging at 00:10 what happened at 23:50).
pub fn parse(input: &str, now: DateTime<Utc>, tz: Zone) -> Result<ScribeLine, String> {
    let mut rest = input.trim();
    let mut kind = None;
    let mut occurred_at = None;
    for _ in 0..2 {
        if let Some(after) = rest.strip_prefix('@') {
            let (word, tail) = after.split_once(char::is_whitespace).unwrap_or((after, ""));
            occurred_at = Some(local_time(word, now, tz)?);
            rest = tail.trim_start();
            continue;
        }
        let lower = rest.to_ascii_lowercase();
        if let Some((p, long, k)) = PREFIXES
            .iter()
            .find(|(p, long, _)| lower.starts_with(p) || lower.starts_with(long))
        {
            if kind.is_some() {
                break;
            }
            let cut = if lower.starts_with(long) {
                long.len()
            } else {
                p.len()
            };
            rest = rest[cut..].trim_start();
            kind = Some(*k);
            continue;
        }
        break;
    }
    if rest.is_empty() {
        return Err("nothing to record: type the entry's text".into());
    }
    Ok(ScribeLine {
        kind: kind.unwrap_or(EntryKind::Note),
        text: rest.to_string(),
        occurred_at,
    })
}

/// What the feed would refuse in an entry's text (too long, control characters), in its
/// own words; `None` when it is fine.
pub fn entry_text_problem(text: &str) -> Option<String> {
    crate::model::validate::text("entry text", text, crate::model::validate::MAX_ENTRY, true)
        .err()
        .map(|r| r.message)
}

fn local_time(word: &str, now: DateTime<Utc>, tz: Zone) -> Result<DateTime<Utc>, String> {
    crate::clock::recent_local_time(word, now, &tz).unwrap_or_else(|| {
        Err(format!(
            "'@{word}' is not a time: write @HH:MM, e.g. @01:52"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, 2, 10, 0).unwrap()
    }
    fn utc() -> Zone {
        chrono::FixedOffset::east_opt(0).unwrap().into()
    }

    #[test]
    fn prefixes_and_times() {
        let l = parse("d: roll back 4471", now(), utc()).unwrap();
        assert_eq!(
            (l.kind, l.text.as_str(), l.occurred_at),
            (EntryKind::Decision, "roll back 4471", None)
        );
        let l = parse("@01:52 impact started", now(), utc()).unwrap();
        assert_eq!(l.kind, EntryKind::Note);
        assert_eq!(
            l.occurred_at,
            Some(Utc.with_ymd_and_hms(2026, 3, 10, 1, 52, 0).unwrap())
        );
        let l = parse("@01:52 h: pool exhausted", now(), utc()).unwrap();
        assert_eq!(
            (l.kind, l.text.as_str()),
            (EntryKind::Hypothesis, "pool exhausted")
        );
        let l = parse("Ruled out: DNS", now(), utc()).unwrap();
        assert_eq!((l.kind, l.text.as_str()), (EntryKind::RuledOut, "DNS"));
        let l = parse("r: @23:50 cache", now(), utc()).unwrap();
        assert_eq!(
            l.occurred_at,
            Some(Utc.with_ymd_and_hms(2026, 3, 9, 23, 50, 0).unwrap())
        );
        // A local zone two hours ahead: @04:00 local is 02:00 UTC.
        let l = parse(
            "@04:00 x",
            now(),
            chrono::FixedOffset::east_opt(7200).unwrap().into(),
        )
        .unwrap();
        assert_eq!(
            l.occurred_at,
            Some(Utc.with_ymd_and_hms(2026, 3, 10, 2, 0, 0).unwrap())
        );
        // Plain text that merely contains a colon stays a note.
        let l = parse("db: 100% cpu", now(), utc()).unwrap();
        assert_eq!((l.kind, l.text.as_str()), (EntryKind::Note, "db: 100% cpu"));
        assert!(
            parse("@1:5x hi", now(), utc())
                .unwrap_err()
                .contains("@HH:MM")
        );
        assert!(
            parse("d:   ", now(), utc())
                .unwrap_err()
                .contains("nothing to record")
        );
    }
}
