//! A follower's queue to the leader: each command (and each webhook's alerts) becomes a row of `forwarded` (and a
//! `NOTIFY warroom_forward`); the leader's answer comes back in that row, announced by
//! `NOTIFY warroom_answer` (which carries it when it fits), and goes to whoever waits for
//! it; the answered rows are cleared once the queue is idle. A thread of its own owns the
//! connection (the PostgreSQL client blocks); it also looks for answers every quarter of a
//! second while any are awaited, since a notification is only a hint.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

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
    /// Answers were written (or may have been): those the notification carried, by ticket,
    /// or (`None`) look at every awaited row.
    Answered(Option<HashMap<String, String>>),
}

/// The handle the core forwards with; cheap to clone.
#[derive(Clone)]
pub struct Forwarder {
    jobs: mpsc::Sender<Job>,
}

/// How often awaited answers are looked for without a notification.
const POLL: Duration = Duration::from_millis(250);

/// Answered rows cleared at once, at most (sooner when the queue is idle).
const CLEAR_AT: usize = 256;

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

    /// A notification said answers were written, carrying them (by ticket) or not.
    pub fn answered(&self, carried: Option<HashMap<String, String>>) {
        let _ = self.jobs.send(Job::Answered(carried));
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

/// A forwarded request: inserted (by its ticket, so never twice) until the database
/// confirms it, and again on every new connection while its answer is awaited.
#[derive(Clone)]
struct Unsent {
    ticket: String,
    kind: &'static str,
    actor: String,
    sees_all: bool,
    id: String,
    body: String,
}

/// The queue's connection, with the statements every request runs prepared once on it (a
/// statement sent as text is prepared anew each time: a second round trip).
struct Queue {
    client: ::postgres::Client,
    insert: ::postgres::Statement,
    answers: ::postgres::Statement,
    clear: ::postgres::Statement,
}

impl Queue {
    fn open(connect: &Connect) -> Result<Queue, crate::store::StoreError> {
        let mut client = connect()?;
        client.batch_execute("SET synchronous_commit = off")?;
        // The notification carries the row whole when it fits (a notification holds at most
        // 8,000 bytes), so the leader need not read it; else its id alone, and the leader
        // reads it.
        let insert = client.prepare(
            "WITH r AS (INSERT INTO forwarded (ticket, kind, actor, sees_all, cmd_id, body) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (ticket) DO NOTHING \
             RETURNING row_id, kind, actor, sees_all, cmd_id, body) \
             SELECT pg_notify('warroom_forward', \
                 CASE WHEN octet_length(whole) < 7900 THEN whole ELSE row_id::TEXT END) \
             FROM r, LATERAL (SELECT json_build_object('row', row_id, 'kind', kind, \
                 'actor', actor, 'sees_all', sees_all, 'id', cmd_id, 'body', body)::TEXT \
                 AS whole) w",
        )?;
        let answers = client.prepare(
            "SELECT ticket, answer FROM forwarded WHERE ticket = ANY($1) AND answer IS NOT NULL",
        )?;
        let clear = client.prepare("DELETE FROM forwarded WHERE ticket = ANY($1)")?;
        Ok(Queue {
            client,
            insert,
            answers,
            clear,
        })
    }
}

fn run(connect: Connect, inbox: mpsc::Receiver<Job>) {
    let mut db: Option<Queue> = None;
    // By ticket: who waits for the answer. A request stays here until its answer is read,
    // whatever happens to the connection meanwhile (an insert or a read whose reply was
    // lost is made again; the ticket makes that safe).
    let mut waiting: HashMap<String, (Unsent, Reply)> = HashMap::new();
    let mut unsent: Vec<Unsent> = Vec::new();
    // Tickets answered and handed over: their rows are cleared once the queue is idle (or
    // holds many), off the path of the next command.
    let mut cleared: Vec<String> = Vec::new();
    let mut last_look = Instant::now();
    loop {
        let job = if waiting.is_empty() && cleared.is_empty() {
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
        let idle = job.is_none();
        // Answers are looked for when a notification says some were written without
        // carrying them, when none came for a while, or on a new connection (notifications
        // may have been missed): not right after sending, when the leader has not decided.
        let mut look = last_look.elapsed() >= POLL;
        match job {
            Some(Job::Forward {
                actor,
                sees_all,
                id,
                body,
                reply,
            }) => {
                let ticket = uuid::Uuid::new_v4().simple().to_string();
                let u = Unsent {
                    ticket: ticket.clone(),
                    kind: reply.kind(),
                    actor,
                    sees_all,
                    id,
                    body,
                };
                unsent.push(u.clone());
                waiting.insert(ticket, (u, reply));
            }
            Some(Job::Answered(Some(answers))) => {
                for (ticket, body) in answers {
                    if let Some((_, reply)) = waiting.remove(&ticket) {
                        reply.send(Ok(&body));
                        cleared.push(ticket);
                    }
                }
            }
            Some(Job::Answered(None)) | None => look = true,
        }
        if db.as_ref().is_none_or(|q| q.client.is_closed()) {
            // The queue's rows need not wait for the disk: should the database lose one
            // (a crash), it is inserted again here, on the new connection, and the leader
            // answers a command it already decided from the log's remembered answers.
            db = match Queue::open(&connect) {
                Ok(c) => {
                    unsent = waiting.values().map(|(u, _)| u.clone()).collect();
                    look = true;
                    Some(c)
                }
                Err(e) => {
                    tracing::warn!("forwarding to the leader: {e}");
                    std::thread::sleep(POLL);
                    continue;
                }
            };
        }
        let Some(q) = db.as_mut() else { continue };
        while let Some(u) = unsent.first() {
            let inserted = q.client.execute(
                &q.insert,
                &[&u.ticket, &u.kind, &u.actor, &u.sees_all, &u.id, &u.body],
            );
            match inserted {
                Ok(_) => {
                    unsent.remove(0);
                }
                Err(e) => {
                    tracing::warn!("forwarding to the leader: {e}");
                    break;
                }
            }
        }
        if !cleared.is_empty() && (idle || cleared.len() >= CLEAR_AT) {
            // Rows left (an error) are cleared by the leader after a while.
            if let Err(e) = q.client.execute(&q.clear, &[&cleared]) {
                tracing::debug!("clearing answered forwards: {e}");
            }
            cleared.clear();
        }
        if waiting.is_empty() || !look {
            continue;
        }
        last_look = Instant::now();
        let tickets: Vec<String> = waiting.keys().cloned().collect();
        match q.client.query(&q.answers, &[&tickets]) {
            Ok(found) => {
                for r in found {
                    let (Ok(ticket), Ok(body)) =
                        (r.try_get::<_, String>(0), r.try_get::<_, String>(1))
                    else {
                        continue;
                    };
                    if let Some((_, reply)) = waiting.remove(&ticket) {
                        reply.send(Ok(&body));
                    }
                    cleared.push(ticket);
                }
            }
            Err(e) => tracing::warn!("reading the leader's answers: {e}"),
        }
    }
}
