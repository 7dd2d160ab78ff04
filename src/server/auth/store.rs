//! The token store, `tokens.json` in the data directory (mode 0600): every token ever given
//! on the feed, as hashes, revoked ones included; written atomically under a lock by
//! `warroom token add|revoke`, and read by the live view. The times it records are passed
//! in (`*_at`); the wrappers without `_at` read the machine's clock, for the CLI.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::hash::{Hash, constant_time_eq, new_token, sha256};
use super::{LOCAL_NAME, LOCK_FILE, STORE_FILE, STORE_VERSION};
use crate::clock::{Clock, SystemClock};
use crate::model::validate_name;
use crate::protocol::Access;

/// One token in the store. The token itself is never kept, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredToken {
    pub name: String,
    pub role: Access,
    /// SHA-256 of the token, lower-case hex.
    pub sha256: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// This machine's own token (plain text in `local-token`): acts under the name the
    /// client gives.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub local: bool,
}

impl StoredToken {
    pub fn active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// `tokens.json`: every token ever given on this feed, revoked ones included (so a revoked
/// token is told so).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenStore {
    pub version: u32,
    pub tokens: Vec<StoredToken>,
}

impl Default for TokenStore {
    fn default() -> Self {
        TokenStore {
            version: STORE_VERSION,
            tokens: Vec::new(),
        }
    }
}

/// The outcome of looking a token up in the store.
pub(super) enum Found<'a> {
    Active(&'a StoredToken),
    Revoked,
    Unknown,
}

impl TokenStore {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(STORE_FILE)
    }

    /// Reads the store in `dir`; `None` when there is none.
    pub fn load(dir: &Path) -> anyhow::Result<Option<TokenStore>> {
        let path = Self::path(dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text)
                .map(Some)
                .with_context(|| format!("the token store {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    fn parse(text: &str) -> anyhow::Result<TokenStore> {
        let store: TokenStore = serde_json::from_str(text)?;
        if store.version != STORE_VERSION {
            bail!(
                "version {} (this warroom reads version {STORE_VERSION})",
                store.version
            );
        }
        for t in &store.tokens {
            let ok = t.sha256.len() == 64
                && t.sha256
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if !ok {
                bail!(
                    "the token of {} has no valid sha256 (64 hex digits)",
                    t.name
                );
            }
        }
        Ok(store)
    }

    /// Writes the store atomically (a new file renamed over the old one), mode 0600.
    pub(super) fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        write_private(&Self::path(dir), text.as_bytes())
    }

    /// Looks a token's hash up, in constant time against every entry.
    pub(super) fn find(&self, hash: &Hash) -> Found<'_> {
        let hex = hex::encode(hash);
        let mut found = None;
        for t in &self.tokens {
            if constant_time_eq(t.sha256.as_bytes(), hex.as_bytes()) {
                found = Some(t);
            }
        }
        match found {
            Some(t) if t.active() => Found::Active(t),
            Some(_) => Found::Revoked,
            None => Found::Unknown,
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory (mode 0600 on
/// unix), synced, then renamed over `path`.
pub(super) fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{file_name}.{}.tmp",
        uuid::Uuid::new_v4().simple()
    ));
    let result = (|| {
        let mut f = private_options()
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
        // The rename itself survives a crash (a revocation must not come undone).
        #[cfg(unix)]
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("cannot sync {}", dir.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn private_options() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    o.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

/// Holds the store's lock (released when dropped).
pub(super) struct StoreLock(#[allow(dead_code)] std::fs::File);

pub(super) fn lock_store(dir: &Path) -> anyhow::Result<StoreLock> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let f = private_options()
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    f.lock()
        .with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(StoreLock(f))
}

/// `warroom token add`: a new token for `name` with `role`, stored hashed in `dir`, made
/// now by the machine's clock. Returns the token, which exists nowhere else: show it once.
pub fn add_token(dir: &Path, name: &str, role: Access) -> anyhow::Result<String> {
    add_token_at(dir, name, role, SystemClock.now())
}

/// [`add_token`], recording `now` as the token's creation time.
pub fn add_token_at(
    dir: &Path,
    name: &str,
    role: Access,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let name = validate_name(name).map_err(|r| anyhow::anyhow!("{}", r.message))?;
    if name.eq_ignore_ascii_case(LOCAL_NAME) {
        bail!("'{LOCAL_NAME}' is the name of this machine's own token; choose another");
    }
    let _lock = lock_store(dir)?;
    let mut store = TokenStore::load(dir)?.unwrap_or_default();
    if store.tokens.iter().any(|t| t.active() && t.name == name) {
        bail!(
            "{name} already has a token; revoke it first (warroom token revoke {name}) to give \
             them a new one"
        );
    }
    let token = new_token();
    store.tokens.push(StoredToken {
        name,
        role,
        sha256: hex::encode(sha256(&token)),
        created_at: now,
        revoked_at: None,
        local: false,
    });
    store.save(dir)?;
    Ok(token)
}

/// `warroom token revoke`: revokes `name`'s token, now by the machine's clock. Its next
/// handshake is refused and its live sessions are closed.
pub fn revoke_token(dir: &Path, name: &str) -> anyhow::Result<StoredToken> {
    revoke_token_at(dir, name, SystemClock.now())
}

/// [`revoke_token`], recording `now` as the time of the revocation.
pub fn revoke_token_at(dir: &Path, name: &str, now: DateTime<Utc>) -> anyhow::Result<StoredToken> {
    let name = name.trim();
    let _lock = lock_store(dir)?;
    let Some(mut store) = TokenStore::load(dir)? else {
        bail!(
            "there are no tokens in {} (warroom token add NAME --role ROLE makes one)",
            dir.display()
        );
    };
    let mut revoked = None;
    for t in store
        .tokens
        .iter_mut()
        .filter(|t| t.active() && t.name == name)
    {
        t.revoked_at = Some(now);
        revoked = Some(t.clone());
    }
    let Some(revoked) = revoked else {
        let known = store.tokens.iter().any(|t| t.name == name);
        if known {
            bail!("{name}'s token is already revoked");
        }
        bail!("nobody called {name} has a token (warroom token list shows who has)");
    };
    store.save(dir)?;
    Ok(revoked)
}

/// `warroom token list`: every token in `dir`'s store, oldest first (hashes only).
pub fn list_tokens(dir: &Path) -> anyhow::Result<Vec<StoredToken>> {
    Ok(TokenStore::load(dir)?.unwrap_or_default().tokens)
}
