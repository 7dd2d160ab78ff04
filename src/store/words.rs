//! What archive search matches, defined once: the words of an incident (its title, its
//! service and every entry's text, lower-cased, split at anything that is not a letter or a
//! digit), how a query's text becomes words, and [`matches`], the whole rule on a folded
//! incident. The store's index answers the same questions from its tables; the tests hold
//! one to the other.

use std::collections::BTreeSet;

use crate::model::access::Viewer;
use crate::model::{Entry, Incident};
use crate::protocol::Search;

/// Longest word kept, in characters: longer ones are cut (a query word is cut the same
/// way, so it still finds them).
pub const MAX_WORD_CHARS: usize = 40;

/// The words of `text`: runs of letters and digits, lower-cased, cut to
/// [`MAX_WORD_CHARS`].
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.chars()
                .flat_map(char::to_lowercase)
                .take(MAX_WORD_CHARS)
                .collect()
        })
}

/// The distinct words a search's text asks for (none without a text).
pub fn wanted(q: &Search) -> BTreeSet<String> {
    q.text
        .as_deref()
        .map(|t| words(t).collect())
        .unwrap_or_default()
}

/// The words of an incident's title and service, and of `entries`.
pub fn incident_words<'a>(inc: &'a Incident, entries: &'a [Entry]) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = words(&inc.title).collect();
    if let Some(s) = &inc.service {
        out.extend(words(s));
    }
    for e in entries {
        out.extend(words(&e.text));
    }
    out
}

/// Whether a search filters on anything of an incident's content (its words, severity,
/// service or status). A restricted incident the reader may not see is judged only on what
/// is public of it (its reference and when it was declared, as its `withheld` stand-ins
/// show): it is listed in `withheld` only by searches that filter on none of these, so a
/// search can never tell a non-member what a restricted incident says.
pub fn content_filtered(q: &Search) -> bool {
    q.text.as_deref().is_some_and(|t| words(t).next().is_some())
        || q.severity.is_some()
        || q.service.is_some()
        || q.active.is_some()
}

/// Whether a whole incident matches every filter of `q` but `before` (paging), on its
/// content: each query word begins a word of the incident; the severity and the status as
/// they are now; the service equal but for ASCII case; declared at or after `since` and
/// before `until`.
pub fn matches(inc: &Incident, q: &Search) -> bool {
    let wanted: Vec<String> = q
        .text
        .as_deref()
        .map(|t| words(t).collect())
        .unwrap_or_default();
    if !wanted.is_empty() {
        let have = incident_words(inc, &inc.entries);
        let found = |w: &String| {
            have.range(w.clone()..)
                .next()
                .is_some_and(|h| h.starts_with(w.as_str()))
        };
        if !wanted.iter().all(found) {
            return false;
        }
    }
    q.severity.is_none_or(|s| inc.severity == s)
        && q.service.as_deref().is_none_or(|s| {
            inc.service
                .as_deref()
                .is_some_and(|have| have.eq_ignore_ascii_case(s))
        })
        && q.active.is_none_or(|a| inc.is_active() == a)
        && q.since.is_none_or(|t| inc.declared_at >= t)
        && q.until.is_none_or(|t| inc.declared_at < t)
}

/// How `viewer` meets an incident in search results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Listed, as a summary.
    Listed,
    /// Its reference in `withheld`.
    Withheld,
    /// Not in the results.
    Skipped,
}

/// The search rule for one whole incident and one reader, paging aside: what
/// [`LogReader::search`](super::LogReader::search) answers for it.
pub fn found(inc: &Incident, q: &Search, viewer: Viewer<'_>) -> Found {
    if inc.visible_to(viewer) {
        if matches(inc, q) {
            Found::Listed
        } else {
            Found::Skipped
        }
    } else if !content_filtered(q)
        && q.since.is_none_or(|t| inc.declared_at >= t)
        && q.until.is_none_or(|t| inc.declared_at < t)
    {
        Found::Withheld
    } else {
        Found::Skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lower_case_runs_of_letters_and_digits() {
        let w: Vec<String> = words("DB-primary: 500s, Ünïcode!  x").collect();
        assert_eq!(w, ["db", "primary", "500s", "ünïcode", "x"]);
        let long = "a".repeat(100);
        assert_eq!(words(&long).next().unwrap().chars().count(), MAX_WORD_CHARS);
        assert!(words(" -- ").next().is_none());
    }
}
