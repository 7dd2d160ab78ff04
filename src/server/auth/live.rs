//! The server's live view of who may join: the token file, the store (re-read when its
//! file changes, at every handshake and every `token_check_every`), on a shared PostgreSQL
//! log the database's tokens (read again by a thread of their own: `database`), and a
//! signal that has live sessions check their credential again, so a revoked token's
//! sessions are closed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use super::database::SharedTokens;
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

/// Where the feed's tokens are kept, beside a `--token-file`.
pub(crate) enum TokenSource {
    /// `tokens.json` in the data directory, re-read when it changes: a feed on its own log
    /// (SQLite), and the console's embedded local feed.
    Directory,
    /// The `tokens` table of a shared PostgreSQL log, the same for every replica (kept fresh
    /// by `database::spawn_token_reader`). A `tokens.json` in this replica's data directory
    /// still counts, on this replica alone, as it did before tokens were kept in the
    /// database.
    Database(Arc<SharedTokens>),
}

/// A token's hash, looked up in the database's tokens and the data directory's.
enum Looked {
    Active {
        name: String,
        role: Access,
        local: bool,
    },
    Revoked,
    Unknown,
    /// Not found where it could be read, and the data directory's store cannot be read.
    Unreadable,
}

impl Looked {
    fn of(found: Found<'_>) -> Looked {
        match found {
            Found::Active(t) => Looked::Active {
                name: t.name.clone(),
                role: t.role,
                local: t.local,
            },
            Found::Revoked => Looked::Revoked,
            Found::Unknown => Looked::Unknown,
        }
    }
}

/// How long a handshake with a token this replica does not know waits for a fresh read of
/// the database's tokens (one added a moment ago on another machine).
const FRESH_READ_WAIT: Duration = Duration::from_secs(2);

/// The feed's authentication: the token file, the token store (re-read when it changes) or
/// the database's tokens, and a signal to live sessions to check themselves again.
pub(crate) struct Auth {
    file: Option<TokenTable>,
    store_path: PathBuf,
    /// Listening beyond loopback: never open, even without tokens.
    exposed: bool,
    cache: Mutex<Cache>,
    source: TokenSource,
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
            source: TokenSource::Directory,
            changes: watch::channel(0).0,
        })
    }

    /// The same authentication, with its tokens also from `source`.
    pub fn with_source(self, source: TokenSource) -> Auth {
        Auth { source, ..self }
    }

    /// The database's tokens, when they are the feed's.
    pub fn database(&self) -> Option<&Arc<SharedTokens>> {
        match &self.source {
            TokenSource::Database(shared) => Some(shared),
            TokenSource::Directory => None,
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tells every live session to check its credential again (the tokens changed).
    pub fn tokens_changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
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
        self.tokens_changed();
        true
    }

    /// Tells every live session to check its credential again, now (the database's tokens
    /// are read again too, and sessions told again if they changed).
    pub fn recheck(&self) {
        self.refresh();
        if let Some(shared) = self.database() {
            shared.ask();
        }
        self.tokens_changed();
    }

    /// Sessions wait on this to check themselves again.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Whether the database holds any token, revoked ones included (as a `tokens.json`
    /// protects a feed once it exists).
    fn database_has_tokens(&self) -> bool {
        self.database()
            .is_some_and(|shared| !shared.tokens().tokens.is_empty())
    }

    fn protected_with(&self, cache: &Cache) -> bool {
        self.file.is_some()
            || self.exposed
            || !matches!(cache.store, Ok(None))
            || self.database_has_tokens()
    }

    /// Whether there are tokens at all: a token file, a token store (even an empty one), or
    /// tokens in the database.
    pub fn has_tokens(&self) -> bool {
        let cache = self.cache();
        self.file.is_some() || !matches!(cache.store, Ok(None)) || self.database_has_tokens()
    }

    /// Active tokens in the data directory's store (the ones only this replica knows when
    /// the database holds the feed's tokens).
    pub fn directory_tokens(&self) -> usize {
        match &self.cache().store {
            Ok(Some(store)) => store.tokens.iter().filter(|t| t.active()).count(),
            Ok(None) | Err(_) => 0,
        }
    }

    /// A token's hash in the database's tokens and the data directory's: revoked in either
    /// is revoked; then active in the database, then in the directory.
    fn look_up(&self, cache: &Cache, hash: &Hash) -> Looked {
        let in_database = self
            .database()
            .map(|shared| Looked::of(shared.tokens().find(hash)));
        let in_directory = match &cache.store {
            Ok(Some(store)) => Looked::of(store.find(hash)),
            Ok(None) => Looked::Unknown,
            Err(_) => Looked::Unreadable,
        };
        match (in_database, in_directory) {
            (Some(Looked::Revoked), _) | (_, Looked::Revoked) => Looked::Revoked,
            (Some(active @ Looked::Active { .. }), _) => active,
            (_, found) => found,
        }
    }

    /// The `hello`'s name and token, checked against the tokens as they are now; on a
    /// shared log, a token this replica does not know yet (or any token, while it knows of
    /// none) is looked for again in a fresh read of the database's tokens (waiting up to two
    /// seconds for it): one given a moment ago on another machine works at once.
    pub async fn authenticate_fresh(
        &self,
        name: &str,
        token: Option<&str>,
    ) -> Result<Identity, Refusal> {
        let first = self.check(name, token);
        let unknown = match &first {
            Err((_, unknown)) => *unknown,
            Ok(who) => who.credential == Credential::Open && token.is_some(),
        };
        if unknown && self.read_again().await {
            return self.authenticate(name, token);
        }
        first.map_err(|(refusal, _)| refusal)
    }

    async fn read_again(&self) -> bool {
        match self.database() {
            Some(shared) => shared.read_again(FRESH_READ_WAIT).await,
            None => false,
        }
    }

    /// The `hello`'s name and token, checked against the tokens as they are now.
    pub fn authenticate(&self, name: &str, token: Option<&str>) -> Result<Identity, Refusal> {
        self.check(name, token).map_err(|(refusal, _)| refusal)
    }

    /// [`Auth::authenticate`]; a refusal says too whether the token was unknown.
    fn check(&self, name: &str, token: Option<&str>) -> Result<Identity, (Refusal, bool)> {
        self.refresh();
        let cache = self.cache();
        let named = |credential: Credential, access: Option<Access>| {
            validate_name(name)
                .map(|name| Identity {
                    name,
                    access,
                    credential,
                })
                .map_err(|r| {
                    let refusal = Refusal {
                        code: ErrorCode::Invalid,
                        message: format!("hello: {}", r.message),
                        reason: "invalid hello",
                    };
                    (refusal, false)
                })
        };
        if !self.protected_with(&cache) {
            return named(Credential::Open, None);
        }
        let Some(token) = token else {
            let refusal = Refusal::unauthorized(
                "this feed requires a token: pass --token or set WARROOM_TOKEN",
                "unauthorized",
            );
            return Err((refusal, false));
        };
        let hash = sha256(token);
        if let Some((owner, access)) = self.file.as_ref().and_then(|f| f.lookup(&hash)) {
            return Ok(Identity {
                name: owner.to_string(),
                access: Some(access),
                credential: Credential::File,
            });
        }
        match self.look_up(&cache, &hash) {
            Looked::Unreadable => Err((
                Refusal {
                    code: ErrorCode::Unavailable,
                    message: "the feed cannot read its token store; nobody can join until its \
                              admin fixes it (the server's log says what is wrong)"
                        .into(),
                    reason: "token store unreadable",
                },
                false,
            )),
            Looked::Active {
                local: true, role, ..
            } => named(Credential::Store(hash), Some(role)),
            Looked::Active { name, role, .. } => Ok(Identity {
                name,
                access: Some(role),
                credential: Credential::Store(hash),
            }),
            Looked::Revoked => Err((
                Refusal::unauthorized(
                    "this token was revoked: ask an admin for a new one",
                    "token revoked",
                ),
                false,
            )),
            Looked::Unknown => Err((
                Refusal::unauthorized("the token is not valid on this feed", "unauthorized"),
                true,
            )),
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
            Credential::Store(hash) => match self.look_up(&cache, hash) {
                Looked::Unreadable | Looked::Active { .. } => Ok(()),
                Looked::Revoked => Err(Refusal::unauthorized(
                    "your token was revoked; this connection is closed",
                    "token revoked",
                )),
                Looked::Unknown if self.protected_with(&cache) => Err(gone()),
                Looked::Unknown => Ok(()),
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
            None => match self.look_up(&self.cache(), &hash) {
                Looked::Active { role, .. } => Some(role),
                Looked::Revoked | Looked::Unknown | Looked::Unreadable => None,
            },
        };
        access.is_some_and(|a| a >= Access::Responder)
    }

    /// [`Auth::may_post_alerts`]; on a shared log, a token refused is looked for again in a
    /// fresh read of the database's tokens (waiting up to two seconds for it), as at a
    /// handshake: one given a moment ago on another machine posts alerts at once.
    pub async fn may_post_alerts_fresh(&self, token: &str) -> bool {
        if self.may_post_alerts(token) {
            return true;
        }
        self.read_again().await && self.may_post_alerts(token)
    }
}
