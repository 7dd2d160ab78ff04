//! What the feed's engine and intake work from: the policy (classification, escalation,
//! on-call, cadences, channels) and the runbooks it attaches, built in or named by the
//! policy file. Read once at start (`warroom serve --policy FILE`); consoles are told the
//! readable part of it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::model::policy::{DEFAULT_POLICY, Policy, PublicPolicy, RunbookRef};
use crate::model::runbook::{self, Runbook};

/// What the engine works from: the policy and the runbooks it found.
pub struct Rules {
    pub policy: Policy,
    /// By service or alert name.
    pub runbooks: BTreeMap<String, Runbook>,
}

impl Rules {
    /// What consoles are told of the policy: no channels, no secrets.
    pub fn public_policy(&self) -> PublicPolicy {
        self.policy.public(
            self.runbooks
                .iter()
                .map(|(name, r)| RunbookRef {
                    name: name.clone(),
                    title: r.title.clone(),
                })
                .collect(),
        )
    }
}

/// The runbooks that ship with warroom (`assets/runbooks/`), by service or alert name.
pub const BUILT_IN_RUNBOOKS: &[(&str, &str)] = &[
    (
        "payments",
        include_str!("../../assets/runbooks/payments.md"),
    ),
    ("auth", include_str!("../../assets/runbooks/auth.md")),
    (
        "database-primary",
        include_str!("../../assets/runbooks/database-primary.md"),
    ),
    (
        "api-gateway",
        include_str!("../../assets/runbooks/api-gateway.md"),
    ),
    (
        "SLOBurnRateHigh",
        include_str!("../../assets/runbooks/SLOBurnRateHigh.md"),
    ),
    // Every restricted (security) incident's checklist, whatever its service.
    (
        crate::model::runbook::SECURITY,
        include_str!("../../assets/runbooks/security.md"),
    ),
];

fn built_in_runbooks() -> BTreeMap<String, Runbook> {
    BUILT_IN_RUNBOOKS
        .iter()
        .filter_map(|(name, text)| {
            runbook::parse_markdown(name, &format!("built-in {name}.md"), text)
                .map_err(|e| tracing::error!("built-in runbook {name}: {e}"))
                .ok()
                .map(|r| (name.to_string(), r))
        })
        .collect()
}

/// Which policy a feed works from, so replicas can tell whether theirs are the same: where
/// it was read from and a SHA-256 of what was read (the policy file, then each runbook file
/// it names, by name; the built-in runbooks come with the version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySource {
    /// The policy file as given (`--policy FILE`), or `built in`.
    pub name: String,
    /// Lower-case hex.
    pub sha256: String,
}

impl PolicySource {
    /// The built-in policy's.
    pub fn built_in() -> PolicySource {
        PolicySource::of("built in", DEFAULT_POLICY, &[])
    }

    fn of(name: &str, policy: &str, runbooks: &[(&str, &str)]) -> PolicySource {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(policy.as_bytes());
        for (name, text) in runbooks {
            for part in [name.as_bytes(), b"\0", text.as_bytes(), b"\0"] {
                h.update(part);
            }
        }
        PolicySource {
            name: name.to_string(),
            sha256: hex::encode(h.finalize()),
        }
    }

    /// The first twelve hex digits, as messages name it.
    pub fn short(&self) -> &str {
        self.sha256.get(..12).unwrap_or(&self.sha256)
    }
}

impl std::fmt::Display for PolicySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (sha256 {})", self.name, self.short())
    }
}

/// The default policy with the built-in runbooks.
pub fn default_rules() -> Rules {
    Rules {
        policy: Policy::default_policy(),
        runbooks: built_in_runbooks(),
    }
}

/// Reads a policy file (or the default) and the runbooks it names (paths relative to the
/// file), over the built-in ones. Every problem is reported, with its line where it has one.
pub fn load_rules(path: Option<&Path>) -> Result<Rules, Vec<String>> {
    load_rules_with_source(path).map(|(rules, _)| rules)
}

/// [`load_rules`], with which policy it read (see [`PolicySource`]).
pub fn load_rules_with_source(path: Option<&Path>) -> Result<(Rules, PolicySource), Vec<String>> {
    let (text, base) = match path {
        Some(p) => (
            std::fs::read_to_string(p)
                .map_err(|e| vec![format!("cannot read {}: {e}", p.display())])?,
            p.parent().map(Path::to_path_buf).unwrap_or_default(),
        ),
        None => (DEFAULT_POLICY.to_string(), PathBuf::new()),
    };
    let policy = Policy::parse(&text)?;
    let mut runbooks = built_in_runbooks();
    let mut errors = Vec::new();
    let mut read = Vec::new();
    for (name, rel) in policy.runbook_paths() {
        let file = base.join(rel);
        match std::fs::read_to_string(&file) {
            Ok(t) => match runbook::parse_markdown(name, &file.display().to_string(), &t) {
                Ok(rb) => {
                    runbooks.insert(name.clone(), rb);
                    read.push((name.as_str(), t));
                }
                Err(e) => errors.push(format!("[runbooks] {name}: {e}")),
            },
            Err(e) => errors.push(format!(
                "[runbooks] {name}: cannot read {}: {e}",
                file.display()
            )),
        }
    }
    if errors.is_empty() {
        let name = path.map_or("built in".to_string(), |p| p.display().to_string());
        let texts: Vec<(&str, &str)> = read.iter().map(|(n, t)| (*n, t.as_str())).collect();
        let source = PolicySource::of(&name, &text, &texts);
        Ok((Rules { policy, runbooks }, source))
    } else {
        Err(errors)
    }
}

impl Rules {
    /// The command with what the policy fills in when it is left out: an action item's due
    /// date (`[postmortem] action_item_due`). `None`: the command goes as sent.
    pub fn with_defaults(
        &self,
        command: &crate::model::Command,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<crate::model::Command> {
        use crate::model::Command;
        let secs = self.policy.action_item_due_secs()?;
        let Command::AddActionItem {
            incident,
            text,
            owner,
            due: None,
        } = command
        else {
            return None;
        };
        let due = i64::try_from(secs)
            .ok()
            .and_then(chrono::Duration::try_seconds)
            .and_then(|d| now.checked_add_signed(d))?;
        Some(Command::AddActionItem {
            incident: *incident,
            text: text.clone(),
            owner: owner.clone(),
            due: Some(due.date_naive()),
        })
    }
}
