//! The core: one thread that owns the authoritative state and the log writer. It takes
//! commands in groups, decides each against the state, appends the group's events in one
//! durable transaction (one fsync shared by every writer in the group), and only then
//! publishes them: replies to the senders and frames to every session.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::clock::Clock;
use crate::model::{Command, Event, EventKind, State};
use crate::protocol::{self, Answer, ErrorCode, ServerMessage};
use crate::store::{CommandRecord, EventStore, SqliteStore};

/// Most commands folded into one transaction.
pub const MAX_BATCH: usize = 512;

/// A command from a session, with where to send its answer.
pub struct CommandRequest {
    pub actor: String,
    pub id: String,
    pub command: Command,
    pub reply: oneshot::Sender<Answer>,
}

/// An event ready to go out to every session: encoded once, shared by all.
#[derive(Debug)]
pub struct Fanout {
    pub seq: u64,
    pub frame: Utf8Bytes,
}

/// What sessions read: the committed state and the live event stream.
pub struct Published {
    /// The state as of the last durable event. Never ahead of the log.
    pub state: RwLock<State>,
    pub events: broadcast::Sender<Arc<Fanout>>,
    /// Durable appends (one transaction, one fsync each) since start: with the number of
    /// events, it shows how many writers shared each fsync.
    pub commits: std::sync::atomic::AtomicU64,
}

impl Published {
    pub fn head(&self) -> u64 {
        self.state
            .read()
            .map(|s| s.seq)
            .unwrap_or_else(|p| p.into_inner().seq)
    }

    pub fn snapshot(&self) -> State {
        match self.state.read() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

/// Folds the whole log into a state, reading it in chunks.
pub fn load_state(store: &SqliteStore) -> anyhow::Result<State> {
    let mut state = State::default();
    loop {
        let chunk = store.read_since(state.seq, 10_000)?;
        if chunk.is_empty() {
            return Ok(state);
        }
        for e in &chunk {
            state
                .apply(e)
                .map_err(|err| anyhow::anyhow!("event log does not fold: {err}"))?;
        }
    }
}

/// Runs the core until every command sender is gone.
pub fn run(
    mut store: SqliteStore,
    mut state: State,
    published: Arc<Published>,
    clock: Arc<dyn Clock>,
    mut rx: mpsc::Receiver<CommandRequest>,
) {
    let mut last_at = state
        .incidents
        .values()
        .map(|i| i.updated_at)
        .max()
        .unwrap_or_else(|| clock.now());
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        // Timestamps never run backwards, even if the machine's clock does.
        let now = clock.now().max(last_at);
        last_at = now;
        process(&mut store, &mut state, &published, now, batch);
    }
    tracing::debug!("core stopped: no more command senders");
}

enum Reply {
    Answer(Answer),
    /// The same command id appeared earlier in this batch.
    SameAs(usize),
}

fn process(
    store: &mut SqliteStore,
    state: &mut State,
    published: &Published,
    now: chrono::DateTime<chrono::Utc>,
    batch: Vec<CommandRequest>,
) {
    let mut events: Vec<Event> = Vec::new();
    let mut records: Vec<CommandRecord> = Vec::new();
    let mut replies: Vec<(oneshot::Sender<Answer>, Reply)> = Vec::with_capacity(batch.len());
    let mut in_batch: HashMap<(String, String), usize> = HashMap::new();
    for req in batch {
        let key = (req.actor.clone(), req.id.clone());
        if let Some(&i) = in_batch.get(&key) {
            replies.push((req.reply, Reply::SameAs(i)));
            continue;
        }
        match store.answer(&req.actor, &req.id) {
            Ok(Some(previous)) => {
                replies.push((req.reply, Reply::Answer(previous)));
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!("reading command answers: {e}");
                replies.push((req.reply, Reply::Answer(unavailable(&e.to_string()))));
                continue;
            }
        }
        let answer = match state.decide(&req.actor, now, &req.command) {
            Ok(kinds) => {
                let mut seqs = Vec::with_capacity(kinds.len());
                let mut incident = req.command.incident();
                let mut failed = None;
                for kind in kinds {
                    if let EventKind::Declared { incident: r, .. } = &kind {
                        incident = Some(*r);
                    }
                    let ev = Event {
                        seq: state.seq + 1,
                        at: now,
                        actor: req.actor.clone(),
                        kind,
                    };
                    if let Err(e) = state.apply(&ev) {
                        failed = Some(e);
                        break;
                    }
                    seqs.push(ev.seq);
                    events.push(ev);
                }
                match failed {
                    Some(e) => {
                        tracing::error!("a decided event did not fold: {e}");
                        unavailable(&e.to_string())
                    }
                    None => Answer::Ok { seqs, incident },
                }
            }
            Err(rejection) => Answer::rejected(rejection),
        };
        in_batch.insert(key.clone(), replies.len());
        // Only definitive answers are remembered: "unavailable" must stay safe to retry.
        let definitive = !matches!(
            &answer,
            Answer::Error {
                code: ErrorCode::Unavailable,
                ..
            }
        );
        if definitive {
            records.push(CommandRecord {
                actor: key.0,
                id: key.1,
                answer: answer.clone(),
            });
        }
        replies.push((req.reply, Reply::Answer(answer)));
    }

    if let Err(e) = store.append(&events, &records) {
        tracing::error!("append failed, nothing of this batch was recorded: {e}");
        match load_state(store) {
            Ok(s) => *state = s,
            Err(e2) => tracing::error!("reloading state after a failed append: {e2}"),
        }
        let answer = unavailable(&e.to_string());
        for (tx, _) in replies {
            let _ = tx.send(answer.clone());
        }
        return;
    }

    published
        .commits
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    {
        let mut shared = published.state.write().unwrap_or_else(|p| p.into_inner());
        for e in &events {
            if let Err(err) = shared.apply(e) {
                tracing::error!("published state diverged: {err}");
            }
        }
    }
    for e in events {
        let frame = protocol::encode(&ServerMessage::Event { event: e.clone() });
        // No receivers is fine: nobody is connected.
        let _ = published.events.send(Arc::new(Fanout {
            seq: e.seq,
            frame: Utf8Bytes::from(frame),
        }));
    }
    let mut answers: Vec<Answer> = Vec::with_capacity(replies.len());
    for (_, r) in &replies {
        let a = match r {
            Reply::Answer(a) => a.clone(),
            Reply::SameAs(i) => answers
                .get(*i)
                .cloned()
                .unwrap_or_else(|| unavailable("duplicate command id in one batch")),
        };
        answers.push(a);
    }
    for ((tx, _), a) in replies.into_iter().zip(answers) {
        let _ = tx.send(a);
    }
}

fn unavailable(reason: &str) -> Answer {
    Answer::Error {
        code: ErrorCode::Unavailable,
        message: format!(
            "the server could not record the command ({reason}); nothing was recorded, retry"
        ),
    }
}
