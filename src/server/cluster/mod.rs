//! Several replicas of one feed on a shared PostgreSQL log. Every replica serves consoles,
//! the CLI and webhooks; one of them, the leader, decides and appends. PostgreSQL is the
//! arbiter, nothing home-made:
//!
//! - **Leadership** is a session advisory lock taken by the connection that appends (the
//!   store's own): a leader that loses that connection loses the right to append at the same
//!   moment, and every append checks, in its transaction, that the lock is still held. The
//!   connection has `idle_session_timeout` set and the leader runs a keepalive every tick,
//!   so a frozen leader's session is ended by the database and the lock freed within about
//!   ten seconds. Each leader takes a new epoch (`meta.leader_epoch`); what it writes outside
//!   the log (answers to forwarded commands) carries it, so a stale leader's writes are
//!   refused too.
//! - **Followers** learn of new events from `LISTEN warroom_events` (a hint carrying the
//!   head only) and read them by `seq` from the log (on the notification connection, which
//!   hands them to the core), folding and publishing them as the leader does its own;
//!   every tick they read anyway, so a lost notification only delays.
//! - **Commands and alerts** that reach a follower go to the leader through the database:
//!   a row in `forwarded` (and `NOTIFY warroom_forward`, which carries the row itself when
//!   it fits, else its id); the leader decides it with its own commands and writes the
//!   answer into the row (`NOTIFY warroom_answer`, which carries the answers by ticket when
//!   they fit); the follower hands it to the sender, and clears the rows it was answered by
//!   once it is idle (or has many).
//!   Exactly once by command id as on one feed: the answers are remembered in the log's
//!   `commands` table, which refuses an answer recorded twice (see `core::process`).
//! - **The policy in use** is the leader's: it decides escalation, classifies alerts and
//!   pages. Taking the lead, a replica writes which policy it works from into `meta` (its
//!   SHA-256, its file, and the part consoles are sent); followers read it every tick, say
//!   in their log when theirs differs (naming both), send the leader's to the consoles that
//!   join them, and `/healthz` names it. What followers answer themselves from their own
//!   files: the shifts `metrics` counts pages by, and whatever they do once they lead.
//! - **Tokens** are kept in the database too, for every replica: see `server::auth`.
//!
//! Here: the shared handles ([`Health`], what `/healthz` says) and [`Link`], the core's
//! side of it; `listen` runs the notification connection, `forward` the follower's queue.

mod follow;
mod forward;
mod listen;
mod presence;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use crate::server::alerts::IntakeAnswer;
pub use forward::Forwarder;
pub use listen::spawn_listener;
pub use presence::spawn_presence;

use crate::model::Command;
use crate::protocol::Answer;
use crate::store::StoreError;

/// A PostgreSQL error of the cluster's own tables, as the store reports its own.
fn pg(e: ::postgres::Error) -> StoreError {
    match StoreError::from(e) {
        StoreError::Postgres { reason, .. } => StoreError::Postgres {
            at: "the feed's database".into(),
            what: "passing word between the replicas",
            reason,
        },
        other => other,
    }
}

pub use crate::store::Connect;

/// What this replica knows of the cluster, for `/healthz` and the log lines.
#[derive(Debug, Default)]
pub struct Health {
    leading: AtomicBool,
    /// Times this replica took or lost the lead.
    transitions: AtomicU64,
    /// The leader's address, as it announced it.
    leader: Mutex<Option<String>>,
    /// The log's head as the last notification told (0: not heard yet).
    log_head: AtomicU64,
    /// The policy in use, as the leader wrote it (`None`: not known yet); sessions watch
    /// it, to send a new one to their consoles when it changes.
    policy: tokio::sync::watch::Sender<Option<Arc<PolicyInUse>>>,
}

/// The policy a leader works from, as it wrote it for the others.
#[derive(Debug)]
pub struct PolicyInUse {
    /// SHA-256 of its files (see `PolicySource`).
    pub sha256: String,
    /// The `policy` frame consoles are sent (never the policy's channels).
    pub frame: axum::extract::ws::Utf8Bytes,
}

impl PolicyInUse {
    /// The policy of hash `sha256` with what consoles are sent of it (`public`, JSON).
    pub fn new(sha256: String, public: &str) -> Result<PolicyInUse, String> {
        let policy: crate::model::policy::PublicPolicy =
            serde_json::from_str(public).map_err(|e| e.to_string())?;
        let frame = crate::protocol::encode(&crate::protocol::ServerMessage::Policy { policy });
        Ok(PolicyInUse {
            sha256,
            frame: frame.into(),
        })
    }
}

impl Health {
    pub fn leading(&self) -> bool {
        self.leading.load(Ordering::SeqCst)
    }

    pub fn set_leading(&self, yes: bool) {
        if self.leading.swap(yes, Ordering::SeqCst) != yes {
            self.transitions.fetch_add(1, Ordering::SeqCst);
            let role = if yes { "leader" } else { "follower" };
            tracing::info!(
                role,
                reason = if yes {
                    "took the lead"
                } else {
                    "lost the lead"
                },
                "leader change"
            );
        }
    }

    /// Times this replica took or lost the lead since it started.
    pub fn transitions(&self) -> u64 {
        self.transitions.load(Ordering::SeqCst)
    }

    pub fn leader(&self) -> Option<String> {
        self.leader
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_leader(&self, addr: Option<String>) {
        *self.leader.lock().unwrap_or_else(|p| p.into_inner()) = addr;
    }

    pub fn log_head(&self) -> u64 {
        self.log_head.load(Ordering::SeqCst)
    }

    pub fn saw_head(&self, head: u64) {
        self.log_head.fetch_max(head, Ordering::SeqCst);
    }

    /// The policy in use, once known.
    pub fn policy(&self) -> Option<Arc<PolicyInUse>> {
        self.policy.borrow().clone()
    }

    /// Takes `policy` as the one in use; sessions watching hear of it when it is another
    /// policy than the one before (a new leader with the same files changes nothing for
    /// consoles), or the first known (they joined with this replica's own).
    pub fn set_policy(&self, policy: Arc<PolicyInUse>) {
        self.policy.send_if_modified(|current| {
            let changed = current.as_ref().map(|c| &c.sha256) != Some(&policy.sha256);
            *current = Some(policy);
            changed
        });
    }

    /// Hears of each change of the policy in use (see [`Health::set_policy`]).
    pub fn policy_changes(&self) -> tokio::sync::watch::Receiver<Option<Arc<PolicyInUse>>> {
        self.policy.subscribe()
    }
}

/// Who leads and which policy it works from, as the database has it.
#[derive(Debug, Default)]
pub struct LeaderSays {
    pub leader: Option<String>,
    pub policy_sha256: Option<String>,
    pub policy_source: Option<String>,
}

/// What another replica forwarded to the leader.
#[derive(Debug, Clone)]
pub enum Forwarded {
    Command {
        row: i64,
        actor: String,
        sees_all: bool,
        id: String,
        command: Command,
    },
    /// A webhook's alerts, decided together.
    Intake {
        row: i64,
        alerts: Vec<(crate::intake::Alert, bool)>,
    },
}

impl Forwarded {
    /// Its row in `forwarded`.
    pub fn row(&self) -> i64 {
        match self {
            Forwarded::Command { row, .. } | Forwarded::Intake { row, .. } => *row,
        }
    }
}

/// A row of `forwarded` as a follower wrote it; its notification carries it whole when it
/// fits (see `forward`), so the leader need not read it.
#[derive(Debug, serde::Deserialize)]
pub struct ForwardedRow {
    pub row: i64,
    pub kind: String,
    pub actor: String,
    pub sees_all: bool,
    pub id: String,
    pub body: String,
}

impl ForwardedRow {
    /// What the leader decides; or, when it cannot read it (written by a replica of another
    /// version), the row and the answer that says so.
    pub fn read(self) -> Result<Forwarded, (i64, String)> {
        let row = self.row;
        let read = match self.kind.as_str() {
            "command" => serde_json::from_str::<Command>(&self.body)
                .map(|command| Forwarded::Command {
                    row,
                    actor: self.actor,
                    sees_all: self.sees_all,
                    id: self.id,
                    command,
                })
                .map_err(|e| e.to_string()),
            "intake" => serde_json::from_str(&self.body)
                .map(|alerts| Forwarded::Intake { row, alerts })
                .map_err(|e| e.to_string()),
            other => Err(format!("unknown kind {other:?}")),
        };
        read.map_err(|e| {
            let answer = if self.kind == "intake" {
                serde_json::to_string(&Err::<(), _>(format!(
                    "the leader could not read the forwarded alerts: {e}"
                )))
            } else {
                serde_json::to_string(&Answer::Error {
                    code: crate::protocol::ErrorCode::Invalid,
                    message: format!("the leader could not read the forwarded command: {e}"),
                })
            };
            (row, answer.unwrap_or_default())
        })
    }
}

/// The leader's side of the cluster, used on the core's thread: the forwarded commands to
/// decide, their answers, and the announcement of who leads.
pub struct Link {
    connect: Connect,
    db: Option<::postgres::Client>,
    /// Statements prepared on `db` (made again with it): those a forwarded command's way
    /// runs cost one round trip each, not two.
    prepared: std::collections::HashMap<&'static str, ::postgres::Statement>,
    /// This replica's address, as clients and other replicas reach it.
    pub advertise: String,
    /// This replica's own policy, and what consoles are sent of it (JSON).
    pub policy: crate::server::PolicySource,
    pub public_policy: String,
    pub health: std::sync::Arc<Health>,
    pub forwarder: Forwarder,
    /// The epoch this replica leads in (0: not leading).
    pub epoch: u64,
}

impl Link {
    pub fn new(
        connect: Connect,
        advertise: String,
        (policy, public_policy): (crate::server::PolicySource, String),
        health: std::sync::Arc<Health>,
        forwarder: Forwarder,
    ) -> Link {
        Link {
            connect,
            db: None,
            prepared: Default::default(),
            advertise,
            policy,
            public_policy,
            health,
            forwarder,
            epoch: 0,
        }
    }

    fn db(&mut self) -> Result<&mut ::postgres::Client, StoreError> {
        if self.db.as_ref().is_none_or(::postgres::Client::is_closed) {
            let mut c = (self.connect)()?;
            // Answers to forwarded requests need not wait for the disk: one the database
            // loses leaves its row unanswered, and the next leader answers it again from
            // the log's remembered answers.
            c.batch_execute("SET synchronous_commit = off")
                .map_err(pg)?;
            self.db = Some(c);
            self.prepared.clear();
        }
        self.db
            .as_mut()
            .ok_or_else(|| StoreError::ReaderStopped("no connection".into()))
    }

    /// The connection, and `sql` prepared on it (once per connection).
    fn statement(
        &mut self,
        sql: &'static str,
    ) -> Result<(&mut ::postgres::Client, ::postgres::Statement), StoreError> {
        self.db()?;
        let db = self
            .db
            .as_mut()
            .ok_or_else(|| StoreError::ReaderStopped("no connection".into()))?;
        let statement = match self.prepared.get(sql) {
            Some(s) => s.clone(),
            None => {
                let s = db.prepare(sql).map_err(pg)?;
                self.prepared.insert(sql, s.clone());
                s
            }
        };
        Ok((db, statement))
    }

    /// Records that this replica leads in `epoch`, at its address, working from its own
    /// policy (written only while `epoch` is the leader's).
    pub fn announce(&mut self, epoch: u64) -> Result<(), StoreError> {
        self.epoch = epoch;
        let addr = self.advertise.clone();
        let (sha, source, public) = (
            self.policy.sha256.clone(),
            self.policy.name.clone(),
            self.public_policy.clone(),
        );
        let mine = PolicyInUse::new(sha.clone(), &public);
        let db = self.db()?;
        let mut tx = db.transaction().map_err(pg)?;
        let current: Option<String> = tx
            .query_opt("SELECT value FROM meta WHERE key = 'leader_epoch'", &[])
            .map_err(pg)?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(pg)?;
        if current.as_deref() != Some(epoch.to_string().as_str()) {
            return Err(StoreError::NotLeader(format!(
                "the leader's epoch is {}, this replica took the lead in {epoch}",
                current.unwrap_or_default()
            )));
        }
        for (key, value) in [
            ("leader", &addr),
            ("policy_sha256", &sha),
            ("policy_source", &source),
            ("policy_public", &public),
        ] {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[&key, value],
            )
            .map_err(pg)?;
        }
        tx.commit().map_err(pg)?;
        self.health.set_leading(true);
        self.health.set_leader(Some(addr));
        match mine {
            Ok(p) => self.health.set_policy(Arc::new(p)),
            Err(e) => tracing::error!("this replica's own policy cannot be sent: {e}"),
        }
        tracing::info!("the policy in use is this replica's own: {}", self.policy);
        Ok(())
    }

    /// Who leads and which policy it works from, as the database has it (a follower's
    /// view).
    pub fn read_leader(&mut self) -> Result<LeaderSays, StoreError> {
        let db = self.db()?;
        let rows = db
            .query(
                "SELECT key, value FROM meta \
                 WHERE key IN ('leader', 'policy_sha256', 'policy_source')",
                &[],
            )
            .map_err(pg)?;
        let mut says = LeaderSays::default();
        for r in rows {
            let (Ok(key), Ok(value)) = (r.try_get::<_, String>(0), r.try_get::<_, String>(1))
            else {
                continue;
            };
            match key.as_str() {
                "leader" => says.leader = Some(value),
                "policy_sha256" => says.policy_sha256 = Some(value),
                "policy_source" => says.policy_source = Some(value),
                _ => {}
            }
        }
        Ok(says)
    }

    /// What consoles are sent of the leader's policy (JSON), as it wrote it.
    pub fn read_public_policy(&mut self) -> Result<Option<String>, StoreError> {
        let db = self.db()?;
        let row = db
            .query_opt("SELECT value FROM meta WHERE key = 'policy_public'", &[])
            .map_err(pg)?;
        Ok(row.and_then(|r| r.try_get::<_, String>(0).ok()))
    }

    /// Takes what the database says of the leader's policy: the one sent to consoles from
    /// now on, and a warning in the log when it is not this replica's own (once a change).
    pub fn follow_policy(&mut self, says: &LeaderSays) {
        let Some(sha) = says.policy_sha256.as_deref() else {
            return;
        };
        if self.health.policy().is_some_and(|p| p.sha256 == sha) {
            return;
        }
        let source = says.policy_source.clone().unwrap_or_default();
        let public = match self.read_public_policy() {
            Ok(Some(p)) => p,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!("reading the leader's policy: {e}");
                return;
            }
        };
        let leader = says.leader.as_deref().unwrap_or("the leader");
        match PolicyInUse::new(sha.to_string(), &public) {
            Ok(p) => self.health.set_policy(Arc::new(p)),
            Err(e) => {
                tracing::warn!(
                    "the leader's policy ({source} at {leader}) cannot be read here ({e}); \
                     consoles joining this replica are sent its own"
                );
                return;
            }
        }
        if sha == self.policy.sha256 {
            tracing::info!(
                "the leader ({leader}) works from the same policy as this replica: {}",
                self.policy
            );
        } else {
            tracing::warn!(
                "this replica's policy, {}, differs from the leader's, {source} (sha256 {}) at \
                 {leader}: the leader's is in use (it escalates, pages and classifies alerts, and \
                 consoles joining here are sent it); start every replica with the same --policy",
                self.policy,
                sha.get(..12).unwrap_or(sha)
            );
        }
    }

    /// Commands and alerts forwarded to the leader and not answered yet, oldest first;
    /// with `clear`, first the answers nobody came for (the leader's tick asks for that,
    /// so the path of a forwarded command has one statement less).
    pub fn take_forwarded(
        &mut self,
        limit: i64,
        clear: bool,
    ) -> Result<Vec<Forwarded>, StoreError> {
        // Answers nobody came for (the follower that asked is gone) are cleared after a
        // while.
        if clear {
            self.db()?
                .execute(
                    "DELETE FROM forwarded WHERE answered_at < now() - interval '10 minutes'",
                    &[],
                )
                .map_err(pg)?;
        }
        let (db, pending) = self.statement(
            "SELECT row_id, actor, sees_all, cmd_id, body, kind FROM forwarded \
             WHERE answer IS NULL ORDER BY row_id LIMIT $1",
        )?;
        let rows = db.query(&pending, &[&limit]).map_err(pg)?;
        let mut out = Vec::with_capacity(rows.len());
        let mut unreadable = Vec::new();
        for r in rows {
            let row = ForwardedRow {
                row: r.try_get(0).map_err(pg)?,
                actor: r.try_get(1).map_err(pg)?,
                sees_all: r.try_get(2).map_err(pg)?,
                id: r.try_get(3).map_err(pg)?,
                body: r.try_get(4).map_err(pg)?,
                kind: r.try_get(5).map_err(pg)?,
            };
            match row.read() {
                Ok(f) => out.push(f),
                // Written by a replica of another version: answered, never retried.
                Err(answer) => unreadable.push(answer),
            }
        }
        self.answer_forwarded(&unreadable)?;
        Ok(out)
    }

    /// Writes the answers to forwarded commands, in one transaction, if this replica still
    /// leads in its epoch (a stale leader's answers are dropped: the new leader answers).
    pub fn answer_forwarded(&mut self, answers: &[(i64, String)]) -> Result<(), StoreError> {
        if answers.is_empty() {
            return Ok(());
        }
        let epoch = self.epoch.to_string();
        let (rows, bodies): (Vec<i64>, Vec<&str>) =
            answers.iter().map(|(r, b)| (*r, b.as_str())).unzip();
        // One statement (one round trip): the epoch checked, every answer written, and one
        // notification, all or nothing. The notification carries the answers by ticket
        // when they fit (the waiting follower then hands them over without reading the
        // rows); otherwise it is empty, and the follower reads them.
        let (db, answer) = self.statement(
            "WITH lead AS (SELECT value FROM meta WHERE key = 'leader_epoch'), \
             done AS (UPDATE forwarded f SET answer = a.answer, answered_at = now() \
                 FROM UNNEST($2::BIGINT[], $3::TEXT[]) AS a(row_id, answer) \
                 WHERE f.row_id = a.row_id AND (SELECT value FROM lead) = $1 \
                 RETURNING f.ticket, f.answer), \
             said AS (SELECT json_object_agg(ticket, answer)::TEXT AS carried FROM done \
                 HAVING count(*) > 0) \
             SELECT (SELECT value FROM lead), \
                 (SELECT pg_notify('warroom_answer', \
                     CASE WHEN octet_length(carried) <= 7900 THEN carried ELSE '' END) \
                  FROM said) IS NOT NULL",
        )?;
        let said = db
            .query_one(&answer, &[&epoch, &rows, &bodies])
            .map_err(pg)?;
        let current: Option<String> = said.try_get(0).map_err(pg)?;
        if current.as_deref() != Some(epoch.as_str()) {
            return Err(StoreError::NotLeader(format!(
                "the leader's epoch is {}, this replica led in {epoch}",
                current.unwrap_or_default()
            )));
        }
        Ok(())
    }
}
