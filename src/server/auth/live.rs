//! The server's live view of who may join: the token file, the store (re-read when its
//! file changes, at every handshake and every `token_check_every`), and a signal that has
//! live sessions check their credential again, so a revoked token's sessions are closed.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use tokio::sync::watch;

use super::file::TokenTable;
use super::hash::{Hash, sha256};
use super::store::{Found, TokenStore};
use super::{MEMBERSHIP_REFUSAL, VIEWER_REFUSAL};
use crate::model::{Command, validate_name};
use crate::protocol::{Access, ErrorCode};

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
