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
//!   head only) and read them by `seq` from the log, folding and publishing them as the
//!   leader does its own; every tick they read anyway, so a lost notification only delays.
//! - **Commands and alerts** that reach a follower go to the leader through the database:
//!   a row in `forwarded` (and `NOTIFY warroom_forward`); the leader decides it with its own
//!   commands and writes the answer into the row (`NOTIFY warroom_answer`); the follower
//!   hands it to the sender. Exactly once by command id as on one feed: the answers are
//!   remembered in the log's `commands` table, which every leader reads first.
//!
//! Here: the shared handles ([`Health`], what `/healthz` says) and [`Link`], the core's
//! side of it; `listen` runs the notification connection, `forward` the follower's queue.

mod follow;
mod forward;
mod listen;
mod presence;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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
    /// The leader's address, as it announced it.
    leader: Mutex<Option<String>>,
    /// The log's head as the last notification told (0: not heard yet).
    log_head: AtomicU64,
}

impl Health {
    pub fn leading(&self) -> bool {
        self.leading.load(Ordering::SeqCst)
    }

    pub fn set_leading(&self, yes: bool) {
        self.leading.store(yes, Ordering::SeqCst);
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

/// The leader's side of the cluster, used on the core's thread: the forwarded commands to
/// decide, their answers, and the announcement of who leads.
pub struct Link {
    connect: Connect,
    db: Option<::postgres::Client>,
    /// This replica's address, as clients and other replicas reach it.
    pub advertise: String,
    pub health: std::sync::Arc<Health>,
    pub forwarder: Forwarder,
    /// The epoch this replica leads in (0: not leading).
    pub epoch: u64,
}

impl Link {
    pub fn new(
        connect: Connect,
        advertise: String,
        health: std::sync::Arc<Health>,
        forwarder: Forwarder,
    ) -> Link {
        Link {
            connect,
            db: None,
            advertise,
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
        }
        self.db
            .as_mut()
            .ok_or_else(|| StoreError::ReaderStopped("no connection".into()))
    }

    /// Records that this replica leads in `epoch`, at its address.
    pub fn announce(&mut self, epoch: u64) -> Result<(), StoreError> {
        self.epoch = epoch;
        let addr = self.advertise.clone();
        let db = self.db()?;
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('leader', $1) \
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            &[&addr],
        )
        .map_err(pg)?;
        self.health.set_leading(true);
        self.health.set_leader(Some(addr));
        Ok(())
    }

    /// The leader's address as the database has it (a follower's view).
    pub fn read_leader(&mut self) -> Result<Option<String>, StoreError> {
        let db = self.db()?;
        let row = db
            .query_opt("SELECT value FROM meta WHERE key = 'leader'", &[])
            .map_err(pg)?;
        Ok(row.and_then(|r| r.try_get::<_, String>(0).ok()))
    }

    /// Commands and alerts forwarded to the leader and not answered yet, oldest first.
    pub fn take_forwarded(&mut self, limit: i64) -> Result<Vec<Forwarded>, StoreError> {
        let db = self.db()?;
        // Answers nobody came for (the follower that asked is gone) are cleared after a
        // while.
        db.execute(
            "DELETE FROM forwarded WHERE answered_at < now() - interval '10 minutes'",
            &[],
        )
        .map_err(pg)?;
        let rows = db
            .query(
                "SELECT row_id, actor, sees_all, cmd_id, body, kind FROM forwarded \
                 WHERE answer IS NULL ORDER BY row_id LIMIT $1",
                &[&limit],
            )
            .map_err(pg)?;
        let mut out = Vec::with_capacity(rows.len());
        let mut unreadable = Vec::new();
        for r in rows {
            let row: i64 = r.try_get(0).map_err(pg)?;
            let body: String = r.try_get(4).map_err(pg)?;
            let kind: String = r.try_get(5).map_err(pg)?;
            let read = match kind.as_str() {
                "command" => serde_json::from_str::<Command>(&body)
                    .map_err(|e| e.to_string())
                    .and_then(|command| {
                        Ok(Forwarded::Command {
                            row,
                            actor: r.try_get(1).map_err(|e| e.to_string())?,
                            sees_all: r.try_get(2).map_err(|e| e.to_string())?,
                            id: r.try_get(3).map_err(|e| e.to_string())?,
                            command,
                        })
                    }),
                "intake" => serde_json::from_str(&body)
                    .map(|alerts| Forwarded::Intake { row, alerts })
                    .map_err(|e| e.to_string()),
                other => Err(format!("unknown kind {other:?}")),
            };
            match read {
                Ok(f) => out.push(f),
                // Written by a replica of another version: answered, never retried.
                Err(e) => unreadable.push((
                    row,
                    if kind == "intake" {
                        serde_json::to_string(&Err::<(), _>(format!(
                            "the leader could not read the forwarded alerts: {e}"
                        )))
                    } else {
                        serde_json::to_string(&Answer::Error {
                            code: crate::protocol::ErrorCode::Invalid,
                            message: format!(
                                "the leader could not read the forwarded command: {e}"
                            ),
                        })
                    }
                    .unwrap_or_default(),
                )),
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
        let db = self.db()?;
        let mut tx = db.transaction().map_err(pg)?;
        let current: Option<String> = tx
            .query_opt("SELECT value FROM meta WHERE key = 'leader_epoch'", &[])
            .map_err(pg)?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(pg)?;
        if current.as_deref() != Some(epoch.as_str()) {
            return Err(StoreError::NotLeader(format!(
                "the leader's epoch is {}, this replica led in {epoch}",
                current.unwrap_or_default()
            )));
        }
        for (row, body) in answers {
            tx.execute(
                "UPDATE forwarded SET answer = $2, answered_at = now() WHERE row_id = $1",
                &[row, body],
            )
            .map_err(pg)?;
            tx.execute(
                "SELECT pg_notify('warroom_answer', $1)",
                &[&row.to_string()],
            )
            .map_err(pg)?;
        }
        tx.commit().map_err(pg)?;
        Ok(())
    }
}
