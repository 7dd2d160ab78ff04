//! The post-mortem (seed template): summary, root cause as a 5-whys chain, contributing
//! factors, what went well, what went poorly, lessons learned, and action items with owners
//! and due dates. Stored as events like everything else, folded into the incident.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::PmSection;

/// Most whys in a root-cause chain.
pub const MAX_WHYS: usize = 10;

/// One link of the 5-whys chain: "Why did X happen?" "Because Y."
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Why {
    pub why: String,
    pub because: String,
}

/// A follow-up with an owner and a due date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionItem {
    /// The sequence number of the event that added it.
    pub id: u64,
    pub text: String,
    pub owner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<NaiveDate>,
    pub done: bool,
    /// When it was marked done (the completion rate counts items done by their due date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<DateTime<Utc>>,
    /// When it was added (the `action_item_added` event's time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_at: Option<DateTime<Utc>>,
    /// The ticket the policy's tracker opened for it; once it has one, it is never
    /// ticketed again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Ticket>,
}

/// A ticket in the team's tracker, as its webhook answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// The tracker's reference (`OPS-123`).
    pub reference: String,
    /// Where the ticket is, when the tracker said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// An incident's post-mortem as the events describe it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Postmortem {
    /// Free-text sections that have been written.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sections: BTreeMap<PmSection, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub whys: Vec<Why>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub action_items: Vec<ActionItem>,
    /// Why no post-mortem is needed (an incident may then be closed without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waived: Option<String>,
    /// When it was last edited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// When it was marked done (held and written up), or the incident closed with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    /// Who marked it done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_by: Option<String>,
}

/// How long after resolution a post-mortem is due (seed guide G390: within 48 hours, while
/// memory is fresh).
pub const POSTMORTEM_DUE_SECS: i64 = 48 * 3600;

impl Postmortem {
    pub fn section(&self, s: PmSection) -> Option<&str> {
        self.sections.get(&s).map(String::as_str)
    }

    /// Complete enough to close the incident: a summary and at least one action item.
    pub fn is_complete(&self) -> bool {
        self.section(PmSection::Summary).is_some() && !self.action_items.is_empty()
    }

    /// Nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.sections.is_empty()
            && self.whys.is_empty()
            && self.action_items.is_empty()
            && self.waived.is_none()
            && self.completed_at.is_none()
    }

    pub fn item(&self, id: u64) -> Option<&ActionItem> {
        self.action_items.iter().find(|a| a.id == id)
    }

    pub fn item_mut(&mut self, id: u64) -> Option<&mut ActionItem> {
        self.action_items.iter_mut().find(|a| a.id == id)
    }

    /// What still stands in the way of closing, for the person who tried.
    pub fn missing_for_close(&self) -> Option<String> {
        if self.waived.is_some() || self.is_complete() {
            return None;
        }
        let mut missing = Vec::new();
        if self.section(PmSection::Summary).is_none() {
            missing.push("a summary");
        }
        if self.action_items.is_empty() {
            missing.push("at least one action item");
        }
        Some(missing.join(" and "))
    }
}

/// A 5-whys chain as people write it: one link a line, `why | because`. A leading number
/// (`1.`, `2)`) is ignored and blank lines are skipped; a line without `|` is refused with
/// its number, so the writer can fix it.
pub fn parse_whys(text: &str) -> Result<Vec<Why>, String> {
    let mut whys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let line = strip_number(line);
        let Some((why, because)) = line.split_once('|') else {
            return Err(format!(
                "line {}: write the link as `why | because` (no '|' in '{}')",
                n + 1,
                line
            ));
        };
        let (why, because) = (why.trim(), because.trim());
        if why.is_empty() || because.is_empty() {
            return Err(format!(
                "line {}: both sides of '|' are needed: `why | because`",
                n + 1
            ));
        }
        whys.push(Why {
            why: why.to_string(),
            because: because.to_string(),
        });
    }
    if whys.len() > MAX_WHYS {
        return Err(format!(
            "{} links; a 5-whys chain has at most {MAX_WHYS}",
            whys.len()
        ));
    }
    Ok(whys)
}

/// The chain written back as `why | because` lines (what [`parse_whys`] reads).
pub fn whys_text(whys: &[Why]) -> String {
    whys.iter()
        .map(|w| {
            format!(
                "{} | {}",
                w.why.replace('\n', " "),
                w.because.replace('\n', " ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `1. text` / `2) text` → `text`.
fn strip_number(line: &str) -> &str {
    let digits = line.len() - line.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return line;
    }
    match line[digits..].strip_prefix(['.', ')']) {
        Some(rest) if rest.starts_with(char::is_whitespace) => rest.trim_start(),
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whys_parse_from_lines_and_back() {
        let w = parse_whys(
            "1. Why did checkout fail? | The pool ran dry\n\n2) Why? | Deploy 4471 | halved it\n",
        )
        .unwrap();
        assert_eq!(
            w,
            vec![
                Why {
                    why: "Why did checkout fail?".into(),
                    because: "The pool ran dry".into()
                },
                Why {
                    why: "Why?".into(),
                    because: "Deploy 4471 | halved it".into()
                },
            ]
        );
        assert_eq!(parse_whys(&whys_text(&w)).unwrap(), w);
        assert!(
            parse_whys("a | b\nno pipe here")
                .unwrap_err()
                .starts_with("line 2:")
        );
        assert!(parse_whys("a | ").unwrap_err().contains("both sides"));
        assert_eq!(parse_whys("  \n").unwrap(), vec![]);
        // A why that is itself a number stays as written.
        assert_eq!(parse_whys("42 | b").unwrap()[0].why, "42");
        assert_eq!(parse_whys("3.2 broke | x").unwrap()[0].why, "3.2 broke");
    }
}
