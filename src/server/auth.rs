//! Who may join a feed, as whom, and what they may do.
//!
//! A token names a person and their role (viewer, responder or admin). Tokens come from:
//!
//! - the **token store**, `tokens.json` in the server's data directory (mode 0600), written by
//!   `warroom token add|revoke` and holding only each token's SHA-256. The server re-reads it
//!   when it changes: at every handshake, and every [`ServerConfig::token_check_every`]
//!   (live sessions of a revoked token are then closed).
//! - `--token-file FILE`: `name token [role]` lines, read once at start (role: responder).
//!
//! A feed with neither, listening on loopback, is open: the `hello`'s name is who a
//! connection acts as, and it may do everything.
//!
//! The embedded local feed keeps an admin token for this machine's account in the store
//! (flagged `local`) and its plaintext in `local-token` (mode 0600) beside it: consoles and
//! scripts of the same account read it from there. A local token acts under the name the
//! client gives, as everyone did on the open local feed.
//!
//! [`ServerConfig::token_check_every`]: super::ServerConfig::token_check_every

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::model::{Command, validate_name};
use crate::protocol::{Access, ErrorCode};

/// Shortest token accepted in a token file, so a guessable one is refused at start-up.
pub const MIN_TOKEN_LEN: usize = 16;
/// The token store's file in the data directory.
pub const STORE_FILE: &str = "tokens.json";
/// The local account's token, in plain text, in the data directory.
pub const LOCAL_TOKEN_FILE: &str = "local-token";
/// The name the local account's token is listed under.
pub const LOCAL_NAME: &str = "local";
/// Taken (flock) while the store is read and rewritten, so two writers do not lose updates.
const LOCK_FILE: &str = "tokens.lock";
const STORE_VERSION: u32 = 1;

/// What a viewer is told when they try to change something.
pub const MEMBERSHIP_REFUSAL: &str =
    "only an admin adds or removes the members of a restricted incident";
const VIEWER_REFUSAL: &str =
    "not allowed: viewers can read but not change incidents (ask an admin for a responder token)";

type Hash = [u8; 32];

fn sha256(token: &str) -> Hash {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares without stopping at the first differing byte.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh token: 244 random bits (two v4 UUIDs, from the OS's CSPRNG), hex, `wr_` first.
pub fn new_token() -> String {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    format!(
        "wr_{}{}",
        hex::encode(a.as_bytes()),
        hex::encode(b.as_bytes())
    )
}

// ---------------------------------------------------------------------------------------
// --token-file

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
    fn lookup(&self, hash: &Hash) -> Option<(&str, Access)> {
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

// ---------------------------------------------------------------------------------------
// The token store

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
enum Found<'a> {
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
    fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        write_private(&Self::path(dir), text.as_bytes())
    }

    /// Looks a token's hash up, in constant time against every entry.
    fn find(&self, hash: &Hash) -> Found<'_> {
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
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
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
struct StoreLock(#[allow(dead_code)] std::fs::File);

fn lock_store(dir: &Path) -> anyhow::Result<StoreLock> {
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

/// `warroom token add`: a new token for `name` with `role`, stored hashed in `dir`.
/// Returns the token, which exists nowhere else: show it once.
pub fn add_token(dir: &Path, name: &str, role: Access) -> anyhow::Result<String> {
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
        created_at: Utc::now(),
        revoked_at: None,
        local: false,
    });
    store.save(dir)?;
    Ok(token)
}

/// `warroom token revoke`: revokes `name`'s token. Its next handshake is refused and its
/// live sessions are closed.
pub fn revoke_token(dir: &Path, name: &str) -> anyhow::Result<StoredToken> {
    let name = name.trim();
    let _lock = lock_store(dir)?;
    let Some(mut store) = TokenStore::load(dir)? else {
        bail!(
            "there are no tokens in {} (warroom token add NAME --role ROLE makes one)",
            dir.display()
        );
    };
    let now = Utc::now();
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

/// The local account's token from `dir`, if there is one.
pub fn read_local_token(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(LOCAL_TOKEN_FILE)).ok()?;
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// The embedded local feed's token for this machine's account: the one in `dir` when the
/// store knows it, else a new admin token (stored hashed, its plain text in `local-token`,
/// both mode 0600). `None` when the local token was revoked: the local feed then needs a
/// token like any other.
pub fn ensure_local_token(dir: &Path) -> anyhow::Result<Option<String>> {
    let _lock = lock_store(dir)?;
    let mut store = TokenStore::load(dir)?.unwrap_or_default();
    if let Some(t) = read_local_token(dir)
        && !matches!(store.find(&sha256(&t)), Found::Unknown)
    {
        // A revoked one too: the feed then says so.
        return Ok(Some(t));
    }
    let locals = || store.tokens.iter().filter(|t| t.local);
    if locals().next().is_some() && locals().all(|t| !t.active()) {
        return Ok(None);
    }
    // The plain text of an active local token was lost: that token goes, a new one comes.
    let now = Utc::now();
    for t in store.tokens.iter_mut().filter(|t| t.local && t.active()) {
        t.revoked_at = Some(now);
    }
    let token = new_token();
    store.tokens.push(StoredToken {
        name: LOCAL_NAME.into(),
        role: Access::Admin,
        sha256: hex::encode(sha256(&token)),
        created_at: now,
        revoked_at: None,
        local: true,
    });
    store.save(dir)?;
    write_private(&dir.join(LOCAL_TOKEN_FILE), format!("{token}\n").as_bytes())?;
    Ok(Some(token))
}

// ---------------------------------------------------------------------------------------
// The server's view

/// Who a connection is, and the credential it got in with.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub name: String,
    /// `None` on an open feed (no tokens): everything is allowed.
    pub access: Option<Access>,
    credential: Credential,
}

#[derive(Debug, Clone, PartialEq)]
enum Credential {
    Open,
    File,
    Store(Hash),
}

impl Identity {
    /// Whether this connection may send `command`; the refusal to send when not.
    pub fn may(&self, command: &Command) -> Result<(), &'static str> {
        match (self.access, command) {
            (Some(Access::Viewer), _) => Err(VIEWER_REFUSAL),
            (Some(Access::Responder), Command::AddMember { .. } | Command::RemoveMember { .. }) => {
                Err(MEMBERSHIP_REFUSAL)
            }
            (Some(Access::Responder | Access::Admin) | None, _) => Ok(()),
        }
    }

    /// Who reads through this connection. On an open feed (no tokens) names are only
    /// claimed, so nobody sees all: restricted incidents reach the names that are members.
    pub fn viewer(&self) -> crate::model::access::Viewer<'_> {
        crate::model::access::Viewer {
            name: &self.name,
            sees_all: self.access == Some(Access::Admin),
        }
    }
}

/// Why a handshake was refused or a live session is closed.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub code: ErrorCode,
    pub message: String,
    /// The WebSocket close reason.
    pub reason: &'static str,
}

impl Refusal {
    fn unauthorized(message: impl Into<String>, reason: &'static str) -> Self {
        Refusal {
            code: ErrorCode::Unauthorized,
            message: message.into(),
            reason,
        }
    }
}

/// The store file as last seen: a rewrite (always a new file, renamed into place) changes it.
#[derive(Debug, Clone, PartialEq)]
struct Stamp {
    modified: Option<std::time::SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> std::io::Result<Option<Stamp>> {
    match std::fs::metadata(path) {
        Ok(m) => {
            #[cfg(unix)]
            let inode = std::os::unix::fs::MetadataExt::ino(&m);
            #[cfg(not(unix))]
            let inode = 0;
            Ok(Some(Stamp {
                modified: m.modified().ok(),
                len: m.len(),
                inode,
            }))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

struct Cache {
    /// The file as last read (`Some(None)`: there was none); `None` after a failed look.
    stamp: Option<Option<Stamp>>,
    /// `Err`: the store exists but cannot be read; nobody new gets in until it is fixed.
    store: Result<Option<TokenStore>, String>,
}

/// The feed's authentication: the token file, the store (re-read when it changes), and a
/// signal to live sessions to check themselves again.
pub(crate) struct Auth {
    file: Option<TokenTable>,
    store_path: PathBuf,
    /// Listening beyond loopback: never open, even without tokens.
    exposed: bool,
    cache: Mutex<Cache>,
    changes: watch::Sender<u64>,
}

impl Auth {
    /// Reads the store in `data_dir`; a store that cannot be read is an error.
    pub fn new(file: Option<TokenTable>, data_dir: &Path, exposed: bool) -> anyhow::Result<Auth> {
        let store_path = TokenStore::path(data_dir);
        let stamp =
            stamp(&store_path).with_context(|| format!("cannot read {}", store_path.display()))?;
        let store = TokenStore::load(data_dir)?;
        Ok(Auth {
            file,
            store_path,
            exposed,
            cache: Mutex::new(Cache {
                stamp: Some(stamp),
                store: Ok(store),
            }),
            changes: watch::channel(0).0,
        })
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Re-reads the store if its file changed; live sessions are told to check themselves
    /// again. Returns whether it changed.
    pub fn refresh(&self) -> bool {
        let mut cache = self.cache();
        let now = match stamp(&self.store_path) {
            Ok(s) => s,
            Err(e) => {
                let msg = format!("cannot read {}: {e}", self.store_path.display());
                let changed = cache.store.as_ref().err() != Some(&msg);
                if changed {
                    tracing::error!("{msg}");
                    cache.store = Err(msg);
                    cache.stamp = None;
                }
                return changed;
            }
        };
        if cache.stamp.as_ref() == Some(&now) {
            return false;
        }
        let dir = self.store_path.parent().unwrap_or(Path::new("."));
        cache.store = TokenStore::load(dir).map_err(|e| {
            let msg = format!("{e:#}");
            tracing::error!("{msg}; nobody new can join until it is fixed");
            msg
        });
        cache.stamp = Some(now);
        drop(cache);
        tracing::info!("token store changed; checking live sessions");
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
        true
    }

    /// Tells every live session to check its credential again, now.
    pub fn recheck(&self) {
        self.refresh();
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Sessions wait on this to check themselves again.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn protected_with(&self, cache: &Cache) -> bool {
        self.file.is_some() || self.exposed || !matches!(cache.store, Ok(None))
    }

    /// Whether there are tokens at all: a token file, or a token store (even an empty one).
    pub fn has_tokens(&self) -> bool {
        let cache = self.cache();
        self.file.is_some() || !matches!(cache.store, Ok(None))
    }

    /// The `hello`'s name and token, checked against the tokens as they are now.
    pub fn authenticate(&self, name: &str, token: Option<&str>) -> Result<Identity, Refusal> {
        self.refresh();
        let cache = self.cache();
        let named = |credential: Credential, access: Option<Access>| {
            validate_name(name)
                .map(|name| Identity {
                    name,
                    access,
                    credential,
                })
                .map_err(|r| Refusal {
                    code: ErrorCode::Invalid,
                    message: format!("hello: {}", r.message),
                    reason: "invalid hello",
                })
        };
        if !self.protected_with(&cache) {
            return named(Credential::Open, None);
        }
        let Some(token) = token else {
            return Err(Refusal::unauthorized(
                "this feed requires a token: pass --token or set WARROOM_TOKEN",
                "unauthorized",
            ));
        };
        let hash = sha256(token);
        if let Some((owner, access)) = self.file.as_ref().and_then(|f| f.lookup(&hash)) {
            return Ok(Identity {
                name: owner.to_string(),
                access: Some(access),
                credential: Credential::File,
            });
        }
        let not_valid =
            || Refusal::unauthorized("the token is not valid on this feed", "unauthorized");
        match &cache.store {
            Err(_) => Err(Refusal {
                code: ErrorCode::Unavailable,
                message: "the feed cannot read its token store; nobody can join until its \
                          admin fixes it (the server's log says what is wrong)"
                    .into(),
                reason: "token store unreadable",
            }),
            Ok(None) => Err(not_valid()),
            Ok(Some(store)) => match store.find(&hash) {
                Found::Active(t) if t.local => named(Credential::Store(hash), Some(t.role)),
                Found::Active(t) => Ok(Identity {
                    name: t.name.clone(),
                    access: Some(t.role),
                    credential: Credential::Store(hash),
                }),
                Found::Revoked => Err(Refusal::unauthorized(
                    "this token was revoked: ask an admin for a new one",
                    "token revoked",
                )),
                Found::Unknown => Err(not_valid()),
            },
        }
    }

    /// Whether a live session may stay: its token is still valid (and an open session's
    /// feed still open). A store that cannot be read keeps sessions as they are.
    pub fn still_valid(&self, who: &Identity) -> Result<(), Refusal> {
        let cache = self.cache();
        let gone = || {
            Refusal::unauthorized(
                "your token is no longer valid on this feed; this connection is closed",
                "unauthorized",
            )
        };
        match &who.credential {
            Credential::File => Ok(()),
            Credential::Open if self.protected_with(&cache) => Err(Refusal::unauthorized(
                "this feed now requires a token: pass --token or set WARROOM_TOKEN",
                "unauthorized",
            )),
            Credential::Open => Ok(()),
            Credential::Store(hash) => match &cache.store {
                Err(_) => Ok(()),
                Ok(None) if self.protected_with(&cache) => Err(gone()),
                Ok(None) => Ok(()),
                Ok(Some(store)) => match store.find(hash) {
                    Found::Active(_) => Ok(()),
                    Found::Revoked => Err(Refusal::unauthorized(
                        "your token was revoked; this connection is closed",
                        "token revoked",
                    )),
                    Found::Unknown => Err(gone()),
                },
            },
        }
    }

    /// Whether `token` may post alerts: a responder's or admin's token. (Alerts declare and
    /// change incidents.)
    pub fn may_post_alerts(&self, token: &str) -> bool {
        self.refresh();
        let hash = sha256(token);
        let access = match self.file.as_ref().and_then(|f| f.lookup(&hash)) {
            Some((_, access)) => Some(access),
            None => match &self.cache().store {
                Ok(Some(store)) => match store.find(&hash) {
                    Found::Active(t) => Some(t.role),
                    Found::Revoked | Found::Unknown => None,
                },
                Ok(None) | Err(_) => None,
            },
        };
        access.is_some_and(|a| a >= Access::Responder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_names_bad_lines() {
        let t = TokenTable::parse(
            "# team\nalice 0123456789abcdef0123\n\nbob fedcba9876543210fedc viewer\n",
        )
        .unwrap();
        assert_eq!(t.name_for("0123456789abcdef0123"), Some("alice"));
        assert_eq!(
            t.lookup(&sha256("fedcba9876543210fedc")),
            Some(("bob", Access::Viewer))
        );
        assert_eq!(
            t.lookup(&sha256("0123456789abcdef0123")),
            Some(("alice", Access::Responder))
        );
        assert_eq!(t.name_for("nope"), None);
        let e = TokenTable::parse("alice\n").unwrap_err();
        assert!(
            e.contains("line 1") && e.contains("two or three words"),
            "{e}"
        );
        let e = TokenTable::parse("alice short\n").unwrap_err();
        assert!(e.contains("at least 16"), "{e}");
        let e = TokenTable::parse("alice 0123456789abcdef chef\n").unwrap_err();
        assert!(e.contains("unknown role 'chef'"), "{e}");
        let e = TokenTable::parse("a 0123456789abcdef\nb 0123456789abcdef\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        assert!(TokenTable::parse("# nothing\n").is_err());
    }

    #[test]
    fn tokens_are_random_and_long() {
        let a = new_token();
        assert!(a.starts_with("wr_") && a.len() == 67, "{a}");
        assert_ne!(a, new_token());
    }

    #[test]
    fn the_store_keeps_hashes_and_knows_revoked_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let auth = |exposed| Auth::new(None, dir.path(), exposed).unwrap();
        // No store on loopback: open, the hello's name is who you are.
        let who = auth(false).authenticate("alice", None).unwrap();
        assert_eq!((who.name.as_str(), who.access), ("alice", None));
        assert_eq!(
            auth(true).authenticate("alice", None).unwrap_err().code,
            ErrorCode::Unauthorized
        );

        let t = add_token(dir.path(), "bob", Access::Viewer).unwrap();
        let text = std::fs::read_to_string(dir.path().join(STORE_FILE)).unwrap();
        assert!(!text.contains(&t), "the token itself is never stored");
        assert!(add_token(dir.path(), "bob", Access::Admin).is_err());
        assert!(add_token(dir.path(), "local", Access::Admin).is_err());
        let a = auth(false);
        let who = a.authenticate("mallory", Some(&t)).unwrap();
        assert_eq!(
            (who.name.as_str(), who.access),
            ("bob", Some(Access::Viewer))
        );
        assert_eq!(
            a.authenticate("bob", None).unwrap_err().code,
            ErrorCode::Unauthorized
        );
        assert!(
            who.may(&Command::Acknowledge {
                incident: crate::model::IncidentRef(1)
            })
            .is_err()
        );

        revoke_token(dir.path(), "bob").unwrap();
        assert!(
            revoke_token(dir.path(), "bob")
                .unwrap_err()
                .to_string()
                .contains("already")
        );
        a.refresh();
        let e = a.still_valid(&who).unwrap_err();
        assert_eq!(e.reason, "token revoked");
        let e = a.authenticate("bob", Some(&t)).unwrap_err();
        assert_eq!(
            (e.code, e.reason),
            (ErrorCode::Unauthorized, "token revoked")
        );
        // A new token for bob after the revocation.
        let t2 = add_token(dir.path(), "bob", Access::Responder).unwrap();
        assert_eq!(
            a.authenticate("x", Some(&t2)).unwrap().access,
            Some(Access::Responder)
        );
    }

    #[test]
    fn the_local_token_is_made_once_and_acts_under_the_given_name() {
        let dir = tempfile::tempdir().unwrap();
        let t = ensure_local_token(dir.path()).unwrap().unwrap();
        assert_eq!(
            ensure_local_token(dir.path()).unwrap().as_deref(),
            Some(t.as_str())
        );
        assert_eq!(read_local_token(dir.path()).as_deref(), Some(t.as_str()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in [STORE_FILE, LOCAL_TOKEN_FILE] {
                let mode = std::fs::metadata(dir.path().join(f))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{f}");
            }
        }
        let a = Auth::new(None, dir.path(), false).unwrap();
        let who = a.authenticate("priya", Some(&t)).unwrap();
        assert_eq!(
            (who.name.as_str(), who.access),
            ("priya", Some(Access::Admin))
        );
        assert!(
            a.authenticate("priya", None).is_err(),
            "the store protects the feed"
        );
        // Its plain text lost: a new one replaces it.
        std::fs::remove_file(dir.path().join(LOCAL_TOKEN_FILE)).unwrap();
        let t2 = ensure_local_token(dir.path()).unwrap().unwrap();
        assert_ne!(t, t2);
        a.refresh();
        assert!(a.authenticate("priya", Some(&t)).is_err());
        // Revoked on purpose: not made again.
        revoke_token(dir.path(), LOCAL_NAME).unwrap();
        std::fs::remove_file(dir.path().join(LOCAL_TOKEN_FILE)).unwrap();
        assert_eq!(ensure_local_token(dir.path()).unwrap(), None);
    }
}
