//! The feed's tokens in its PostgreSQL database (the `tokens` table, schema version 3), for
//! replicas of a feed on a shared log: `warroom token add|revoke|list --store URL` writes
//! and reads them ([`DatabaseTokens`]), and every replica keeps a copy it checks handshakes
//! and sessions against ([`SharedTokens`]), read again by a thread of its own whenever a
//! change is notified (`NOTIFY warroom_tokens`), whenever a handshake brings a token it does
//! not know, and every second anyway (a notification lost with a connection only delays).
//!
//! The rules are the token file's: only each token's SHA-256 is kept, a person has at most
//! one active token (the database holds to it too), revoked tokens stay so they are refused
//! as revoked. The `postgres` client is blocking: everything here runs on threads of its
//! own or in the CLI's blocking task, never on an async worker.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ::postgres::Client;
use ::postgres::error::SqlState;
use ::postgres::fallible_iterator::FallibleIterator;
use anyhow::{Context, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use tokio::sync::watch;

use super::LOCAL_NAME;
use super::hash::{new_token, sha256};
use super::live::Auth;
use super::store::{StoredToken, TokenStore};
use crate::clock::{Clock, SystemClock};
use crate::model::validate_name;
use crate::protocol::Access;
use crate::store::Connect;

/// The channel a change of the tokens is notified on.
pub const TOKENS_CHANNEL: &str = "warroom_tokens";

/// A replica reads the tokens at least this often, notified or not.
const READ_EVERY: Duration = Duration::from_secs(1);
/// How often the reading thread looks for handshakes waiting for a read.
const LOOK_EVERY: Duration = Duration::from_millis(50);

/// The tokens' columns, times as RFC 3339 in UTC (whatever the session's settings).
const COLUMNS: &str = "sha256, name, role, \
     to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
     to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// One row of `tokens`; `Err` names what is wrong with it.
fn row_token(row: &::postgres::Row) -> Result<StoredToken, String> {
    let text = |i: usize| row.try_get::<_, String>(i).map_err(|e| e.to_string());
    let name = text(1)?;
    let time = |i: usize, t: Option<String>| -> Result<Option<DateTime<Utc>>, String> {
        t.map(|t| {
            DateTime::parse_from_rfc3339(&t)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|e| format!("the token of {name}: column {i} is not a time ({t}): {e}"))
        })
        .transpose()
    };
    let role: Access = text(2)?
        .parse()
        .map_err(|e| format!("the token of {name}: {e}"))?;
    let created = row.try_get::<_, String>(3).map_err(|e| e.to_string())?;
    let revoked = row
        .try_get::<_, Option<String>>(4)
        .map_err(|e| e.to_string())?;
    Ok(StoredToken {
        sha256: text(0)?,
        role,
        created_at: time(3, Some(created))?.unwrap_or_default(),
        revoked_at: time(4, revoked)?,
        local: false,
        name,
    })
}

/// Every token in the database, oldest first, and what is wrong with rows that cannot be
/// read (written by a newer warroom, say: those tokens are refused, the others work).
pub(super) fn read_tokens(
    db: &mut impl ::postgres::GenericClient,
) -> Result<(TokenStore, Vec<String>), ::postgres::Error> {
    let rows = db.query(
        &format!("SELECT {COLUMNS} FROM tokens ORDER BY created_at, sha256"),
        &[],
    )?;
    let mut store = TokenStore::default();
    let mut problems = Vec::new();
    for row in &rows {
        match row_token(row) {
            Ok(t) => store.tokens.push(t),
            Err(e) => problems.push(e),
        }
    }
    Ok((store, problems))
}

/// The tokens of a feed whose log is in PostgreSQL, for `warroom token … --store URL`.
/// Blocking: call it off the async runtime's workers.
pub struct DatabaseTokens {
    connect: Connect,
    /// The database's address without its password.
    pub shown: String,
}

impl DatabaseTokens {
    /// The database at `url`, its tables made or migrated first as a feed opening it would.
    pub fn open(url: &str) -> anyhow::Result<DatabaseTokens> {
        let (connect, shown) = crate::store::prepare_database(url)?;
        Ok(DatabaseTokens { connect, shown })
    }

    fn client(&self) -> anyhow::Result<Client> {
        Ok((self.connect)()?)
    }

    fn failed(&self, doing: &str) -> String {
        format!("the tokens in {} ({doing})", self.shown)
    }

    /// `warroom token add --store`: a new token for `name` with `role`, made `now`, kept
    /// hashed in the database; every replica is told. Returns the token: show it once.
    pub fn add(&self, name: &str, role: Access, now: DateTime<Utc>) -> anyhow::Result<String> {
        let name = validate_name(name).map_err(|r| anyhow::anyhow!("{}", r.message))?;
        if name.eq_ignore_ascii_case(LOCAL_NAME) {
            bail!("'{LOCAL_NAME}' is the name of a machine's own token; choose another");
        }
        let taken = || {
            anyhow::anyhow!(
                "{name} already has a token; revoke it first (warroom token revoke {name} \
                 --store URL) to give them a new one"
            )
        };
        let token = new_token();
        let mut db = self.client()?;
        let mut tx = db.transaction().with_context(|| self.failed("adding"))?;
        let active = tx
            .query_opt(
                "SELECT 1 FROM tokens WHERE name = $1 AND revoked_at IS NULL",
                &[&name],
            )
            .with_context(|| self.failed("adding"))?;
        if active.is_some() {
            return Err(taken());
        }
        let inserted = tx.execute(
            "INSERT INTO tokens (sha256, name, role, created_at) \
             VALUES ($1, $2, $3, $4::TEXT::TIMESTAMPTZ)",
            &[
                &hex::encode(sha256(&token)),
                &name,
                &role.as_str(),
                &stamp(now),
            ],
        );
        match inserted {
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => return Err(taken()),
            other => other.with_context(|| self.failed("adding"))?,
        };
        tx.execute("SELECT pg_notify($1, '')", &[&TOKENS_CHANNEL])
            .with_context(|| self.failed("adding"))?;
        match tx.commit() {
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Err(taken()),
            other => other.map(|()| token).with_context(|| self.failed("adding")),
        }
    }

    /// [`DatabaseTokens::add`] now by the machine's clock.
    pub fn add_now(&self, name: &str, role: Access) -> anyhow::Result<String> {
        self.add(name, role, SystemClock.now())
    }

    /// `warroom token revoke --store`: revokes `name`'s token as of `now`; every replica
    /// refuses it from its next read of the tokens (within about a second) and closes its
    /// live sessions.
    pub fn revoke(&self, name: &str, now: DateTime<Utc>) -> anyhow::Result<StoredToken> {
        let name = name.trim();
        let mut db = self.client()?;
        let mut tx = db.transaction().with_context(|| self.failed("revoking"))?;
        let rows = tx
            .query(
                &format!(
                    "UPDATE tokens SET revoked_at = $2::TEXT::TIMESTAMPTZ \
                     WHERE name = $1 AND revoked_at IS NULL RETURNING {COLUMNS}"
                ),
                &[&name, &stamp(now)],
            )
            .with_context(|| self.failed("revoking"))?;
        let Some(row) = rows.first() else {
            let known = tx
                .query_opt("SELECT 1 FROM tokens WHERE name = $1", &[&name])
                .with_context(|| self.failed("revoking"))?
                .is_some();
            if known {
                bail!("{name}'s token is already revoked");
            }
            bail!(
                "nobody called {name} has a token in {} (warroom token list --store URL shows \
                 who has)",
                self.shown
            );
        };
        let revoked =
            row_token(row).map_err(|e| anyhow::anyhow!("{}: {e}", self.failed("revoking")))?;
        tx.execute("SELECT pg_notify($1, '')", &[&TOKENS_CHANNEL])
            .with_context(|| self.failed("revoking"))?;
        tx.commit().with_context(|| self.failed("revoking"))?;
        Ok(revoked)
    }

    /// [`DatabaseTokens::revoke`] now by the machine's clock.
    pub fn revoke_now(&self, name: &str) -> anyhow::Result<StoredToken> {
        self.revoke(name, SystemClock.now())
    }

    /// `warroom token list --store`: every token in the database, oldest first (hashes
    /// only); rows this warroom cannot read are named in the error.
    pub fn list(&self) -> anyhow::Result<Vec<StoredToken>> {
        let mut db = self.client()?;
        let (store, problems) = read_tokens(&mut db).with_context(|| self.failed("listing"))?;
        if let Some(p) = problems.first() {
            bail!("{}: {p}", self.failed("listing"));
        }
        Ok(store.tokens)
    }
}

/// A replica's copy of the database's tokens, as its reading thread last found them.
pub(crate) struct SharedTokens {
    tokens: Mutex<TokenStore>,
    /// Reads asked for by handshakes, numbered…
    asked: AtomicU64,
    /// …and the number of the latest request a finished read began after.
    served: watch::Sender<u64>,
    /// The database's address without its password.
    shown: String,
}

impl SharedTokens {
    /// The tokens as read at start (`shown` names the database in the log).
    pub fn new(tokens: TokenStore, shown: String) -> SharedTokens {
        SharedTokens {
            tokens: Mutex::new(tokens),
            asked: AtomicU64::new(0),
            served: watch::channel(0).0,
            shown,
        }
    }

    pub(super) fn tokens(&self) -> MutexGuard<'_, TokenStore> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a read of the database; returns whether the tokens changed.
    fn replace(&self, read: TokenStore) -> bool {
        let mut tokens = self.tokens();
        if *tokens == read {
            return false;
        }
        *tokens = read;
        true
    }

    /// Asks the reading thread for a read without waiting for it.
    pub(super) fn ask(&self) -> u64 {
        self.asked.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Waits, at most `wait`, for a read of the database begun after this call (a token
    /// added a moment ago is then known). Returns whether one finished in time.
    pub(super) async fn read_again(&self, wait: Duration) -> bool {
        let mut served = self.served.subscribe();
        let ticket = self.ask();
        matches!(
            tokio::time::timeout(wait, served.wait_for(|s| *s >= ticket)).await,
            Ok(Ok(_))
        )
    }
}

/// Starts the thread that keeps `auth`'s copy of the database's tokens fresh; it stops when
/// `shutdown` says so. Nothing to do when `auth` does not read the database.
pub(crate) fn spawn_token_reader(
    connect: Connect,
    auth: Arc<Auth>,
    shutdown: watch::Receiver<bool>,
) {
    if auth.database().is_none() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("warroom-tokens".into())
        .spawn(move || run(connect, auth, shutdown));
    if let Err(e) = spawned {
        tracing::error!("cannot start the thread that reads the tokens: {e}");
    }
}

fn run(connect: Connect, auth: Arc<Auth>, shutdown: watch::Receiver<bool>) {
    let Some(shared) = auth.database().cloned() else {
        return;
    };
    let stopping = || *shutdown.borrow();
    let mut outage = Outage::default();
    while !stopping() {
        let listening = connect().map_err(|e| e.to_string()).and_then(|mut c| {
            c.batch_execute(&format!("LISTEN {TOKENS_CHANNEL}"))
                .map(|()| c)
                .map_err(|e| e.to_string())
        });
        let mut db = match listening {
            Ok(c) => c,
            Err(e) => {
                outage.tell(format!(
                    "reading the tokens in {}: {e}; the tokens as last read stay in force",
                    shared.shown
                ));
                std::thread::sleep(READ_EVERY / 2);
                continue;
            }
        };
        'connected: while !stopping() {
            let ticket = shared.asked.load(Ordering::SeqCst);
            match read_tokens(&mut db) {
                Ok((tokens, problems)) => {
                    if outage.over() {
                        tracing::info!("the tokens in {} are read again", shared.shown);
                    }
                    for p in &problems {
                        tracing::error!("{p}; that token is refused until it is fixed");
                    }
                    if shared.replace(tokens) {
                        tracing::info!("the feed's tokens changed; checking live sessions");
                        auth.tokens_changed();
                    }
                    shared.served.send_modify(|s| *s = (*s).max(ticket));
                }
                Err(e) => {
                    outage.tell(format!(
                        "reading the tokens in {}: {e}; the tokens as last read stay in force",
                        shared.shown
                    ));
                    std::thread::sleep(READ_EVERY / 2);
                    break 'connected;
                }
            }
            // Until a change is notified, a handshake asks, or it is time anyway.
            let until = Instant::now() + READ_EVERY;
            loop {
                if stopping() {
                    return;
                }
                if shared.asked.load(Ordering::SeqCst) > ticket {
                    break;
                }
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                match db.notifications().timeout_iter(left.min(LOOK_EVERY)).next() {
                    Ok(Some(_)) => break,
                    Ok(None) => {}
                    Err(e) => {
                        outage.tell(format!(
                            "listening for changes of the tokens in {}: {e}",
                            shared.shown
                        ));
                        break 'connected;
                    }
                }
            }
        }
    }
}

/// What was last said about a problem reaching the tokens, so an outage is told once, not
/// every second.
#[derive(Default)]
struct Outage(Option<String>);

impl Outage {
    fn tell(&mut self, what: String) {
        if self.0.as_ref() != Some(&what) {
            tracing::warn!("{what}");
            self.0 = Some(what);
        }
    }

    /// Whether there was an outage, now over.
    fn over(&mut self) -> bool {
        self.0.take().is_some()
    }
}

/// The database's tokens as a replica starts, read once before it serves (`shown` names the
/// database). Blocking.
pub(crate) fn first_read(connect: &Connect, shown: &str) -> anyhow::Result<SharedTokens> {
    let mut db = connect()?;
    let (tokens, problems) =
        read_tokens(&mut db).with_context(|| format!("reading the tokens in {shown}"))?;
    for p in &problems {
        tracing::error!("{p}; that token is refused until it is fixed");
    }
    Ok(SharedTokens::new(tokens, shown.to_string()))
}
