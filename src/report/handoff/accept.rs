//! Accepting a handoff: what `accept_handoff` did on each incident, read back from the
//! state, and how the console's status bar and `warroom accept-handoff` say it.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::model::{Entry, EntryKind, IncidentRef, Severity, State};
use crate::report::format::one_line;

/// What accepting a handoff did on one incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accepted {
    pub reference: IncidentRef,
    pub title: String,
    pub severity: Severity,
    /// The sender became incident commander here (the outgoing person held the role).
    pub took_ic: bool,
}

/// What an `accept_handoff` did, read from the state after its events (`seqs`, as the
/// answer lists them): the incidents it recorded the handoff on, in reference order.
pub fn accepted(state: &State, seqs: &[u64]) -> Vec<Accepted> {
    state
        .incidents
        .values()
        .filter_map(|i| {
            let mine: Vec<&Entry> = i.entries.iter().filter(|e| seqs.contains(&e.id)).collect();
            if mine.is_empty() {
                return None;
            }
            Some(Accepted {
                reference: i.reference,
                title: i.title.clone(),
                severity: i.severity,
                // The handoff is a note; the role change is recorded as a system entry.
                took_ic: mine.iter().any(|e| e.kind == EntryKind::System),
            })
        })
        .collect()
}

/// One line for a status bar: `took over from bob on INC-1, INC-3; incident commander of
/// INC-1`.
pub fn accepted_summary(from: &str, done: &[Accepted]) -> String {
    let refs = |it: &mut dyn Iterator<Item = &Accepted>| {
        it.map(|a| a.reference.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let all = refs(&mut done.iter());
    let ic = refs(&mut done.iter().filter(|a| a.took_ic));
    let ic = if ic.is_empty() {
        format!("{} was incident commander nowhere", one_line(from))
    } else {
        format!("incident commander of {ic}")
    };
    format!("took over from {} on {all}; {ic}", one_line(from))
}

/// The report `warroom accept-handoff` prints: one line per incident.
pub fn accepted_text(actor: &str, from: &str, done: &[Accepted]) -> String {
    let mut out = String::new();
    let n = done.len();
    let _ = writeln!(
        out,
        "{} took over from {} on {n} active incident{}:",
        one_line(actor),
        one_line(from),
        if n == 1 { "" } else { "s" }
    );
    for a in done {
        let ic = if a.took_ic {
            format!(
                "; {} is now incident commander (was {})",
                one_line(actor),
                one_line(from)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  {:<7} {}  {}: handoff recorded{ic}",
            a.reference.to_string(),
            a.severity,
            one_line(&a.title)
        );
    }
    let ic = done.iter().filter(|a| a.took_ic).count();
    if ic == 0 {
        let _ = writeln!(
            out,
            "{} was not incident commander of any of them; no role changed.",
            one_line(from)
        );
    }
    out
}
