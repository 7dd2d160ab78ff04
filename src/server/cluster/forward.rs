//! A follower's queue to the leader: each command (and each webhook's alerts) becomes a row of `forwarded` (and a
//! `NOTIFY warroom_forward`); the leader's answer comes back in that row, announced by
//! `NOTIFY warroom_answer`, and goes to whoever waits for it. A thread of its own owns the
//! connection (the PostgreSQL client blocks); it also looks for answers every quarter of a
//! second while any are awaited, since a notification is only a hint.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::Connect;
use crate::intake::Alert;
use crate::model::Command;
use crate::protocol::{Answer, ErrorCode};
use crate::server::alerts::IntakeAnswer;

/// Who waits for the leader's answer, and how to read it.
enum Reply {
    Command(oneshot::Sender<Answer>),
    Intake(oneshot::Sender<IntakeAnswer>),
}

impl Reply {
    fn kind(&self) -> &'static str {
        match self {
            Reply::Command(_) => "command",
            Reply::Intake(_) => "intake",
        }
    }

    /// Hands over the answer the leader wrote (JSON), or says why there is none.
    fn send(self, answer: Result<&str, String>) {
        match self {
            Reply::Command(tx) => {
                let a = answer.and_then(|body| {
                    serde_json::from_str::<Answer>(body)
                        .map_err(|e| format!("the leader's answer could not be read: {e}"))
                });
                let _ = tx.send(a.unwrap_or_else(|why| unavailable(&why)));
            }
            Reply::Intake(tx) => {
                let a = answer.and_then(|body| {
                    serde_json::from_str::<IntakeAnswer>(body)
                        .map_err(|e| format!("the leader's answer could not be read: {e}"))
                });
                let _ = tx.send(a.unwrap_or_else(|why| {
                    Err(format!(
                        "this replica could not reach the feed's leader ({why}); nothing was \
                         recorded, retry"
                    ))
                }));
            }
        }
    }
}

enum Job {
    Forward {
        actor: String,
        sees_all: bool,
        id: String,
        body: String,
        reply: Reply,
    },
    /// An answer was written (or may have been): look at every awaited row.
    Answered,
}

/// The handle the core forwards with; cheap to clone.
#[derive(Clone)]
pub struct Forwarder {
    jobs: mpsc::Sender<Job>,
}

/// How often awaited answers are looked for without a notification.
const POLL: Duration = Duration::from_millis(250);

impl Forwarder {
    /// Starts the forwarding thread.
    pub fn start(connect: Connect) -> Forwarder {
        let (jobs, inbox) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("warroom-forward".into())
            .spawn(move || run(connect, inbox));
        if let Err(e) = spawned {
            tracing::error!("cannot start the forwarding thread: {e}");
        }
        Forwarder { jobs }
    }

    /// Sends `command` to the leader; its answer goes to `reply`.
    pub fn forward(
        &self,
        actor: String,
        sees_all: bool,
        id: String,
        command: Command,
        reply: oneshot::Sender<Answer>,
    ) {
        let body = serde_json::to_string(&command).unwrap_or_default();
        self.send(actor, sees_all, id, body, Reply::Command(reply));
    }

    /// Sends alerts a webhook brought to the leader, to be decided together.
    pub fn forward_alerts(&self, alerts: &[(Alert, bool)], reply: oneshot::Sender<IntakeAnswer>) {
        let body = serde_json::to_string(alerts).unwrap_or_default();
        self.send(
            String::new(),
            true,
            String::new(),
            body,
            Reply::Intake(reply),
        );
    }

    fn send(&self, actor: String, sees_all: bool, id: String, body: String, reply: Reply) {
        let job = Job::Forward {
            actor,
            sees_all,
            id,
            body,
            reply,
        };
        if let Err(mpsc::SendError(Job::Forward { reply, .. })) = self.jobs.send(job) {
            reply.send(Err("the forwarding thread stopped".into()));
        }
    }

    /// A notification said an answer was written.
    pub fn answered(&self) {
        let _ = self.jobs.send(Job::Answered);
    }
}

fn unavailable(why: &str) -> Answer {
    Answer::Error {
        code: ErrorCode::Unavailable,
        message: format!(
            "this replica could not reach the feed's leader ({why}); nothing was recorded, retry"
        ),
    }
}

fn run(connect: Connect, inbox: mpsc::Receiver<Job>) {
    let mut db: Option<::postgres::Client> = None;
    let mut waiting: HashMap<i64, Reply> = HashMap::new();
    loop {
        let job = if waiting.is_empty() {
            match inbox.recv() {
                Ok(j) => Some(j),
                Err(_) => return,
            }
        } else {
            match inbox.recv_timeout(POLL) {
                Ok(j) => Some(j),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        };
        if db.as_ref().is_none_or(::postgres::Client::is_closed) {
            db = match connect() {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!("forwarding to the leader: {e}");
                    if let Some(Job::Forward { reply, .. }) = job {
                        reply.send(Err(e.to_string()));
                    }
                    std::thread::sleep(POLL);
                    continue;
                }
            };
        }
        let Some(client) = db.as_mut() else { continue };
        if let Some(Job::Forward {
            actor,
            sees_all,
            id,
            body,
            reply,
        }) = job
        {
            let inserted = client.query_one(
                "WITH r AS (INSERT INTO forwarded (kind, actor, sees_all, cmd_id, body) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING row_id) \
                 SELECT row_id, pg_notify('warroom_forward', row_id::text) FROM r",
                &[&reply.kind(), &actor, &sees_all, &id, &body],
            );
            match inserted.and_then(|r| r.try_get::<_, i64>(0)) {
                Ok(row) => {
                    waiting.insert(row, reply);
                }
                Err(e) => {
                    reply.send(Err(e.to_string()));
                    continue;
                }
            }
        }
        if waiting.is_empty() {
            continue;
        }
        let rows: Vec<i64> = waiting.keys().copied().collect();
        let found = client.query(
            "DELETE FROM forwarded WHERE row_id = ANY($1) AND answer IS NOT NULL \
             RETURNING row_id, answer",
            &[&rows],
        );
        match found {
            Ok(found) => {
                for r in found {
                    let (Ok(row), Ok(body)) = (r.try_get::<_, i64>(0), r.try_get::<_, String>(1))
                    else {
                        continue;
                    };
                    if let Some(reply) = waiting.remove(&row) {
                        reply.send(Ok(&body));
                    }
                }
            }
            Err(e) => tracing::warn!("reading the leader's answers: {e}"),
        }
    }
}
