//! Runbooks (seed architecture): alert context, diagnostic steps, common causes,
//! remediation, escalation criteria, rollback. A runbook is a Markdown file; warroom reads
//! its `##` sections and their list items as a checklist the incident room can tick off.

use serde::{Deserialize, Serialize};

/// Longest runbook text read, in bytes.
pub const MAX_RUNBOOK_BYTES: usize = 32 * 1024;
/// Most checklist items in one runbook.
pub const MAX_ITEMS: usize = 200;

/// The runbook a restricted (security) incident works from, by this name: built in, and
/// replaced by a policy's `[runbooks] security = "FILE"`.
pub const SECURITY: &str = "security";

/// A runbook as a checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Runbook {
    /// What it was found by: the service or alert name it is for.
    pub name: String,
    /// The first `#` heading, or the name.
    pub title: String,
    /// Where it came from (a path, or `built-in`).
    pub source: String,
    pub sections: Vec<RunbookSection>,
}

/// One `##` section: its heading, free text, and its list items (the checklist).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunbookSection {
    pub heading: String,
    /// Lines that are not list items (the alert context, say), joined.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// Each top-level list item; indented lines under it follow its first line after `\n`.
    pub items: Vec<String>,
}

impl Runbook {
    /// Every checklist item with its number (1-based, across sections) and its section.
    pub fn items(&self) -> Vec<(u32, &str, &str)> {
        let mut n = 0;
        let mut v = Vec::new();
        for s in &self.sections {
            for i in &s.items {
                n += 1;
                v.push((n, s.heading.as_str(), i.as_str()));
            }
        }
        v
    }

    /// The item with number `n` (1-based).
    pub fn item(&self, n: u32) -> Option<&str> {
        self.items()
            .into_iter()
            .find(|(k, _, _)| *k == n)
            .map(|(_, _, t)| t)
    }

    pub fn item_count(&self) -> u32 {
        self.sections.iter().map(|s| s.items.len() as u32).sum()
    }
}

/// The six sections a runbook should have (seed architecture, "What a runbook should
/// contain"), each with the words a heading is recognised by.
pub const EXPECTED_SECTIONS: [(&str, &[&str]); 6] = [
    ("Alert context", &["context"]),
    ("Diagnostic steps", &["diagnos"]),
    ("Common causes", &["cause"]),
    ("Remediation steps", &["remediat", "fix"]),
    ("Escalation criteria", &["escalat"]),
    ("Rollback procedures", &["rollback", "roll back"]),
];

impl Runbook {
    /// Which of the six expected sections no `##` heading names, in order.
    pub fn missing_sections(&self) -> Vec<&'static str> {
        EXPECTED_SECTIONS
            .iter()
            .filter(|(_, words)| {
                !self.sections.iter().any(|s| {
                    let h = s.heading.to_lowercase();
                    words.iter().any(|w| h.contains(w))
                })
            })
            .map(|(name, _)| *name)
            .collect()
    }
}

fn list_item(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let rest = if let Some(r) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
        r
    } else {
        let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
        if digits == 0 {
            return None;
        }
        t[digits..]
            .strip_prefix(". ")
            .or_else(|| t[digits..].strip_prefix(") "))?
    };
    let rest = rest
        .strip_prefix("[ ] ")
        .or_else(|| rest.strip_prefix("[x] "))
        .or_else(|| rest.strip_prefix("[X] "))
        .unwrap_or(rest);
    Some(rest.trim())
}

/// Reads a Markdown runbook. Errors say what is wrong with the file.
pub fn parse_markdown(name: &str, source: &str, text: &str) -> Result<Runbook, String> {
    if text.len() > MAX_RUNBOOK_BYTES {
        return Err(format!(
            "runbook {source} is {} bytes; at most {MAX_RUNBOOK_BYTES} are read",
            text.len()
        ));
    }
    let mut title = None;
    let mut sections: Vec<RunbookSection> = Vec::new();
    let mut in_code = false;
    let mut items = 0usize;
    for raw in text.lines() {
        let line = raw.trim_end();
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        if !in_code && let Some(h) = line.strip_prefix("# ") {
            title.get_or_insert_with(|| h.trim().to_string());
            continue;
        }
        if !in_code && let Some(h) = line.strip_prefix("## ") {
            sections.push(RunbookSection {
                heading: h.trim().to_string(),
                text: String::new(),
                items: Vec::new(),
            });
            continue;
        }
        let Some(sec) = sections.last_mut() else {
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        let indented = raw.starts_with("  ") || raw.starts_with('\t');
        match list_item(line) {
            Some(item) if !indented && !in_code => {
                items += 1;
                if items > MAX_ITEMS {
                    return Err(format!(
                        "runbook {source} has more than {MAX_ITEMS} checklist items"
                    ));
                }
                sec.items.push(item.to_string());
            }
            _ => match sec.items.last_mut() {
                Some(last) if indented || in_code => {
                    last.push('\n');
                    last.push_str(line.trim());
                }
                _ => {
                    if !sec.text.is_empty() {
                        sec.text.push(' ');
                    }
                    sec.text.push_str(line.trim());
                }
            },
        }
    }
    if sections.iter().all(|s| s.items.is_empty()) {
        return Err(format!(
            "runbook {source} has no checklist: write `## Section` headings with `- step` items"
        ));
    }
    Ok(Runbook {
        name: name.to_string(),
        title: title.unwrap_or_else(|| name.to_string()),
        source: source.to_string(),
        sections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# Payments: error rate high\n\n## Alert context\nFires when checkout errors exceed 5%.\n\n## Diagnostic steps\n- Check recent deploys\n  Command: kubectl rollout history deployment/payments\n- [ ] Check the database connection pool\n1. Check downstream health\n\n## Rollback\n- kubectl rollout undo deployment/payments\n";

    #[test]
    fn sections_items_and_detail_lines() {
        let r = parse_markdown("payments", "built-in", SAMPLE).unwrap();
        assert_eq!(r.title, "Payments: error rate high");
        assert_eq!(r.sections.len(), 3);
        assert_eq!(r.sections[0].text, "Fires when checkout errors exceed 5%.");
        assert!(r.sections[0].items.is_empty());
        assert_eq!(
            r.sections[1].items,
            vec![
                "Check recent deploys\nCommand: kubectl rollout history deployment/payments",
                "Check the database connection pool",
                "Check downstream health",
            ]
        );
        assert_eq!(r.item_count(), 4);
        assert_eq!(r.item(4), Some("kubectl rollout undo deployment/payments"));
        assert_eq!(r.item(5), None);
    }

    #[test]
    fn a_runbook_without_steps_is_refused() {
        let r = parse_markdown("payments", "built-in", SAMPLE).unwrap();
        assert_eq!(
            r.missing_sections(),
            ["Common causes", "Remediation steps", "Escalation criteria"]
        );
        let thin = parse_markdown(
            "x",
            "x.md",
            "# X\n## Diagnosis\n- look\n## How to fix\n- restart\n",
        )
        .unwrap();
        assert_eq!(
            thin.missing_sections(),
            [
                "Alert context",
                "Common causes",
                "Escalation criteria",
                "Rollback procedures"
            ]
        );
        let e = parse_markdown("x", "x.md", "# Title\nJust prose.\n").unwrap_err();
        assert!(e.contains("no checklist"), "{e}");
    }

    #[test]
    fn oversized_runbooks_are_refused() {
        let big = format!("## A\n{}", "- step\n".repeat(MAX_RUNBOOK_BYTES));
        assert!(parse_markdown("x", "x.md", &big).is_err());
    }
}
