//! Tokens: `--token-file FILE` holds one `name token` pair a line. A connection that
//! presents a token acts as that name. (Roles and hashed storage come with the permission
//! model; this is the minimum that lets the feed leave loopback safely.)

use std::collections::HashMap;
use std::path::Path;

/// Shortest token accepted, so a guessable one is refused at start-up.
pub const MIN_TOKEN_LEN: usize = 16;

/// The tokens the server accepts, each mapped to the person it stands for.
#[derive(Debug, Clone, Default)]
pub struct TokenTable {
    by_token: HashMap<String, String>,
}

impl TokenTable {
    /// Parses a token file; an error names the file, the line and what is wrong with it.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read token file {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("token file {}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let mut by_token = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let n = i + 1;
            let mut parts = line.split_whitespace();
            let (Some(name), Some(token), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(format!(
                    "line {n}: expected `name token` (two words), got {} word(s)",
                    line.split_whitespace().count()
                ));
            };
            if token.len() < MIN_TOKEN_LEN {
                return Err(format!(
                    "line {n}: the token for {name} is {} characters; use at least {MIN_TOKEN_LEN} \
                     (e.g. `openssl rand -hex 16`)",
                    token.len()
                ));
            }
            if by_token
                .insert(token.to_string(), name.to_string())
                .is_some()
            {
                return Err(format!(
                    "line {n}: this token is already given to someone else"
                ));
            }
        }
        if by_token.is_empty() {
            return Err("no tokens in the file (expected `name token` lines)".into());
        }
        Ok(TokenTable { by_token })
    }

    /// The person a token stands for, compared without early exit on the first differing byte.
    pub fn name_for(&self, token: &str) -> Option<&str> {
        let mut found = None;
        for (t, name) in &self.by_token {
            if constant_time_eq(t.as_bytes(), token.as_bytes()) {
                found = Some(name.as_str());
            }
        }
        found
    }

    pub fn len(&self) -> usize {
        self.by_token.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_token.is_empty()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_names_bad_lines() {
        let t =
            TokenTable::parse("# team\nalice 0123456789abcdef0123\n\nbob fedcba9876543210fedc\n")
                .unwrap();
        assert_eq!(t.name_for("0123456789abcdef0123"), Some("alice"));
        assert_eq!(t.name_for("nope"), None);
        let e = TokenTable::parse("alice\n").unwrap_err();
        assert!(e.contains("line 1") && e.contains("two words"), "{e}");
        let e = TokenTable::parse("alice short\n").unwrap_err();
        assert!(e.contains("at least 16"), "{e}");
        let e = TokenTable::parse("a 0123456789abcdef\nb 0123456789abcdef\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        assert!(TokenTable::parse("# nothing\n").is_err());
    }
}
