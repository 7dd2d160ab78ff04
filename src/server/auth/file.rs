//! `--token-file FILE`: `name token [role]` lines, read once at start. Only the tokens'
//! hashes are kept.

use std::path::Path;

use super::MIN_TOKEN_LEN;
use super::hash::{Hash, constant_time_eq, sha256};
use crate::model::validate_name;
use crate::protocol::Access;

/// The tokens of a `--token-file`, each mapped to the person it stands for and their role.
/// Only the tokens' hashes are kept.
#[derive(Debug, Clone, Default)]
pub struct TokenTable {
    entries: Vec<(Hash, String, Access)>,
}

impl TokenTable {
    /// Parses a token file; an error names the file, the line and what is wrong with it.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read token file {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("token file {}: {e}", path.display()))
    }

    /// `name token [role]` lines (`#` comments); the role is viewer, responder (the default)
    /// or admin.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut entries: Vec<(Hash, String, Access)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let n = i + 1;
            let words: Vec<&str> = line.split_whitespace().collect();
            let (name, token, access) = match words.as_slice() {
                [name, token] => (*name, *token, Access::Responder),
                [name, token, role] => (
                    *name,
                    *token,
                    role.parse::<Access>()
                        .map_err(|e| format!("line {n}: {e}"))?,
                ),
                _ => {
                    return Err(format!(
                        "line {n}: expected `name token` or `name token role` (two or three \
                         words), got {} word(s)",
                        words.len()
                    ));
                }
            };
            if token.len() < MIN_TOKEN_LEN {
                return Err(format!(
                    "line {n}: the token for {name} is {} characters; use at least {MIN_TOKEN_LEN} \
                     (e.g. `openssl rand -hex 16`)",
                    token.len()
                ));
            }
            let name = validate_name(name).map_err(|r| format!("line {n}: {}", r.message))?;
            let hash = sha256(token);
            if entries.iter().any(|(h, _, _)| *h == hash) {
                return Err(format!(
                    "line {n}: this token is already given to someone else"
                ));
            }
            entries.push((hash, name, access));
        }
        if entries.is_empty() {
            return Err("no tokens in the file (expected `name token` lines)".into());
        }
        Ok(TokenTable { entries })
    }

    /// The person a token stands for.
    pub fn name_for(&self, token: &str) -> Option<&str> {
        self.lookup(&sha256(token)).map(|(name, _)| name)
    }

    /// The person and role of a token's hash, compared in constant time against every entry.
    pub(super) fn lookup(&self, hash: &Hash) -> Option<(&str, Access)> {
        let mut found = None;
        for (h, name, access) in &self.entries {
            if constant_time_eq(h, hash) {
                found = Some((name.as_str(), *access));
            }
        }
        found
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
