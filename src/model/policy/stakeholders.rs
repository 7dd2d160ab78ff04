//! Who hears a status update: `[stakeholders]` names, by severity, the people under
//! `[people]` every status update of an incident of that severity goes to (through their
//! channels, as escalation reaches them); `[status_page]` is where a public update is
//! POSTed. Checked here; delivered by the feed.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::file::PersonSpec;
use super::{Policy, Severity, severity_key};

/// `[status_page]` as written and checked: the URL a public status update is POSTed to, and
/// the environment variable holding its bearer token (read by the feed when it sends, so the
/// token is never in the policy file).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusPage {
    pub url: String,
    #[serde(default)]
    pub token_env: Option<String>,
}

/// Checks `[stakeholders]` (each key a severity, each name a person under `[people]`, none
/// twice) and `[status_page]`; the checked tables, and every problem found.
pub(super) fn check(
    stakeholders: &BTreeMap<String, Vec<String>>,
    status_page: Option<&StatusPage>,
    people: &BTreeMap<String, PersonSpec>,
) -> (BTreeMap<Severity, Vec<String>>, Vec<String>) {
    let mut errors = Vec::new();
    let mut by_severity = BTreeMap::new();
    for (key, names) in stakeholders {
        let Some(sev) = severity_key(key) else {
            errors.push(format!(
                "[stakeholders]: '{key}' is not a severity (write sev1 = [\"engineering-vp\"])"
            ));
            continue;
        };
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                errors.push(format!("[stakeholders]: {key} names \"{n}\" twice"));
            } else if !people.contains_key(n) {
                let known: Vec<&str> = people.keys().map(String::as_str).collect();
                errors.push(format!(
                    "[stakeholders]: {key} names \"{n}\", who is not under [people] (add \
                     [people.{n}] with their channels; known: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ));
            }
        }
        by_severity.insert(sev, names.clone());
    }
    if let Some(page) = status_page {
        if !(page.url.starts_with("https://") || page.url.starts_with("http://"))
            || page.url.chars().any(char::is_whitespace)
        {
            errors.push(format!(
                "[status_page]: url \"{}\" is not an http:// or https:// URL",
                page.url
            ));
        }
        if let Some(var) = &page.token_env
            && (var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            errors.push(format!(
                "[status_page]: token_env \"{var}\" is not an environment variable's name \
                 (letters, digits and _)"
            ));
        }
    }
    (by_severity, errors)
}

impl Policy {
    /// The people every status update of an incident of `severity` goes to.
    pub fn stakeholders(&self, severity: Severity) -> &[String] {
        self.stakeholders
            .get(&severity)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Where public status updates go, when the policy has a status page.
    pub fn status_page(&self) -> Option<&StatusPage> {
        self.status_page.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stakeholders_are_people_by_severity_and_the_status_page_a_url() {
        let p = Policy::parse(
            r#"
[stakeholders]
sev1 = ["leads", "vp"]
sev2 = ["leads"]

[status_page]
url = "https://status.example.com/api/updates"
token_env = "STATUS_PAGE_TOKEN"

[people.leads]
[people.vp]
"#,
        )
        .unwrap();
        assert_eq!(p.stakeholders(Severity::Sev1), ["leads", "vp"]);
        assert!(p.stakeholders(Severity::Sev3).is_empty());
        let page = p.status_page().unwrap();
        assert_eq!(page.token_env.as_deref(), Some("STATUS_PAGE_TOKEN"));

        let errors = Policy::parse(
            r#"
[stakeholders]
sev1 = ["leads", "ceo", "leads"]
urgent = ["leads"]

[status_page]
url = "status.example.com"
token_env = "MY TOKEN"

[people.leads]
"#,
        )
        .unwrap_err();
        let all = errors.join("\n");
        for want in [
            "sev1 names \"ceo\", who is not under [people] (add [people.ceo]",
            "sev1 names \"leads\" twice",
            "'urgent' is not a severity",
            "url \"status.example.com\" is not an http:// or https:// URL",
            "token_env \"MY TOKEN\" is not an environment variable's name",
        ] {
            assert!(all.contains(want), "{want} missing from:\n{all}");
        }
    }

    #[test]
    fn the_default_policy_tells_the_guides_groups() {
        let p = Policy::default_policy();
        assert_eq!(
            p.stakeholders(Severity::Sev1),
            ["oncall-leads", "engineering-vp"]
        );
        assert_eq!(p.stakeholders(Severity::Sev2), ["oncall-team"]);
        assert!(p.stakeholders(Severity::Sev3).is_empty());
        assert!(p.status_page().is_none(), "commented out: an example");
    }
}
