//! The embedded local feed's token for this machine's account: an admin token kept hashed
//! in the store (flagged `local`) with its plain text in `local-token` beside it (mode
//! 0600), so consoles and scripts of the same account join without set-up.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::hash::{new_token, sha256};
use super::store::{Found, StoredToken, TokenStore, lock_store, write_private};
use super::{LOCAL_NAME, LOCAL_TOKEN_FILE};
use crate::clock::{Clock, SystemClock};
use crate::protocol::Access;

/// The local account's token from `dir`, if there is one.
pub fn read_local_token(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(LOCAL_TOKEN_FILE)).ok()?;
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// The embedded local feed's token for this machine's account: the one in `dir` when the
/// store knows it, else a new admin token (stored hashed, its plain text in `local-token`,
/// both mode 0600). `None` when the local token was revoked: the local feed then needs a
/// token like any other. A new token is made now by the machine's clock.
pub fn ensure_local_token(dir: &Path) -> anyhow::Result<Option<String>> {
    ensure_local_token_at(dir, SystemClock.now())
}

/// [`ensure_local_token`], recording `now` as the time a new token is made (and a lost one
/// revoked).
pub fn ensure_local_token_at(dir: &Path, now: DateTime<Utc>) -> anyhow::Result<Option<String>> {
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
