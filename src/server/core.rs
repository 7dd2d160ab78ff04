//! The core: one thread that owns the authoritative state and the log writer. It takes
//! commands in groups, decides each against the state, appends the group's events in one
//! durable transaction (one fsync shared by every writer in the group), and only then
//! publishes them: replies to the senders and frames to every session.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::alerts::{self, IntakeAnswer, record};
use super::rules::Rules;
use crate::clock::Clock;
use crate::intake::Alert;
use crate::model::{Command, Event, EventKind, State, access, engine};
use crate::protocol::{self, Answer, ErrorCode, ServerMessage};
use crate::store::{CommandRecord, EventStore, LogReader};

/// Most commands folded into one transaction.
pub const MAX_BATCH: usize = 512;

/// Everything the core acts on.
pub enum CoreInput {
    Command(CommandRequest),
    /// Run the escalation engine now; the sender (if any) hears when that is done.
    Tick(Option<oneshot::Sender<()>>),
    /// Alerts from a webhook, recorded all together or not at all.
    Intake(IntakeRequest),
    /// Facts the server observed itself (notification deliveries), recorded as `actor`.
    Record {
        actor: String,
        events: Vec<EventKind>,
    },
}

/// A fired step to deliver, sent to the notifier once it is durable.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: Event,
    pub title: String,
    pub severity: crate::model::Severity,
    pub service: Option<String>,
    pub steps: usize,
    /// Channels already delivered to (only after a restart).
    pub already: Vec<String>,
}

impl Delivery {
    /// The title and service a page carries: a restricted incident's stay in warroom,
    /// since a page goes through channels (chat, SMS bridges) its members do not control.
    pub fn shown(inc: &crate::model::Incident) -> (String, Option<String>) {
        if inc.restricted {
            (
                format!(
                    "restricted incident {}: details in warroom (need to know)",
                    inc.reference
                ),
                None,
            )
        } else {
            (inc.title.clone(), inc.service.clone())
        }
    }
}

/// Alerts to decide together, each with whether it may resolve its incident (an
/// Alertmanager group resolves only when none of its alerts is still firing).
pub struct IntakeRequest {
    pub alerts: Vec<(Alert, bool)>,
    pub reply: oneshot::Sender<IntakeAnswer>,
}

/// A command from a session, with where to send its answer.
pub struct CommandRequest {
    pub actor: String,
    /// The sender sees (and may act on) every incident, restricted or not: an admin.
    pub sees_all: bool,
    pub id: String,
    pub command: Command,
    pub reply: oneshot::Sender<Answer>,
}

/// An event ready to go out to every session: encoded once, shared by all.
#[derive(Debug)]
pub struct Fanout {
    pub seq: u64,
    pub frame: Utf8Bytes,
    /// Set when the event belongs to a restricted incident: who may have `frame`, and the
    /// `withheld` stand-in (also encoded once) for everyone else.
    pub restricted: Option<Restricted>,
}

#[derive(Debug)]
pub struct Restricted {
    pub audience: access::Audience,
    pub withheld: Utf8Bytes,
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
        self.read().seq
    }

    /// The committed state, to read (a writer that panicked leaves it whole: each event is
    /// folded in completely or not at all).
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// Folds the whole log into a state, reading it in chunks.
pub fn load_state<R: LogReader + ?Sized>(store: &R) -> anyhow::Result<State> {
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

/// Runs the core until every sender is gone.
pub fn run(
    mut store: Box<dyn EventStore>,
    mut state: State,
    published: Arc<Published>,
    clock: Arc<dyn Clock>,
    rules: Arc<Rules>,
    deliveries: mpsc::UnboundedSender<Delivery>,
    mut rx: mpsc::Receiver<CoreInput>,
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
        process(
            store.as_mut(),
            &mut state,
            &published,
            &rules,
            &deliveries,
            now,
            batch,
        );
    }
    tracing::debug!("core stopped: no more command senders");
}

enum Reply {
    Answer(Answer),
    /// The same command id appeared earlier in this batch.
    SameAs(usize),
}

/// The log's state plus events not yet appended.
fn rebuild(store: &dyn EventStore, state: &mut State, pending: &[Event]) -> anyhow::Result<()> {
    let mut s = load_state(store)?;
    for e in pending {
        s.apply(e)?;
    }
    *state = s;
    Ok(())
}

/// Most events one engine pass records (a guard against a policy that loops).
const MAX_ENGINE_EVENTS: usize = 10_000;

/// The actor of everything warroom records by itself.
pub const SYSTEM_ACTOR: &str = "warroom";

fn process(
    store: &mut dyn EventStore,
    state: &mut State,
    published: &Published,
    rules: &Rules,
    deliveries: &mpsc::UnboundedSender<Delivery>,
    now: chrono::DateTime<chrono::Utc>,
    batch: Vec<CoreInput>,
) {
    let mut events: Vec<Event> = Vec::new();
    let mut records: Vec<CommandRecord> = Vec::new();
    let mut replies: Vec<(oneshot::Sender<Answer>, Reply)> = Vec::with_capacity(batch.len());
    let mut in_batch: HashMap<(String, String), usize> = HashMap::new();
    let mut ticks: Vec<oneshot::Sender<()>> = Vec::new();
    let mut intake_replies = Vec::new();
    for input in batch {
        let req = match input {
            CoreInput::Command(req) => req,
            CoreInput::Tick(done) => {
                ticks.extend(done);
                continue;
            }
            CoreInput::Intake(req) => {
                // Folded straight into the state (a copy of a large state per alert would
                // cost more than the alert); should one alert fail, the state is rebuilt
                // from the log plus this group's earlier events, so none of it stays.
                let before = events.len();
                let outcome = alerts::decide(state, &mut events, rules, now, &req.alerts);
                if outcome.is_err() {
                    events.truncate(before);
                    if let Err(e) = rebuild(store, state, &events) {
                        tracing::error!("rebuilding state after a refused alert: {e}");
                    }
                }
                intake_replies.push((req.reply, outcome));
                continue;
            }
            CoreInput::Record {
                actor,
                events: kinds,
            } => {
                for kind in kinds {
                    let mut scratch_events = Vec::new();
                    match record(state, &mut scratch_events, &actor, now, kind) {
                        Ok(_) => events.extend(scratch_events),
                        Err(e) => tracing::warn!("a server observation did not fold: {e}"),
                    }
                }
                continue;
            }
        };
        let key = (req.actor.clone(), req.id.clone());
        if let Some(&i) = in_batch.get(&key) {
            replies.push((req.reply, Reply::SameAs(i)));
            continue;
        }
        if let Some(r) = req.command.incident()
            && let Some(inc) = state.incident(r)
            && !inc.visible_to(access::Viewer {
                name: &req.actor,
                sees_all: req.sees_all,
            })
        {
            // Not remembered: it may be allowed once an admin adds the sender.
            let message = format!(
                "{r} is restricted (need to know): only its members and admins may see it or \
                 act on it; ask an admin to add you"
            );
            replies.push((
                req.reply,
                Reply::Answer(Answer::Error {
                    code: ErrorCode::Forbidden,
                    message,
                }),
            ));
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
                let before = events.len();
                for kind in kinds {
                    if let EventKind::Declared { incident: r, .. } = &kind {
                        incident = Some(*r);
                    }
                    match record(state, &mut events, &req.actor, now, kind) {
                        Ok(seq) => seqs.push(seq),
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                match failed {
                    Some(e) => {
                        // "Nothing was recorded, retry" must be true: this command's events
                        // that did fold leave the batch, and the state is rebuilt without them.
                        tracing::error!("a decided event did not fold: {e}");
                        events.truncate(before);
                        if let Err(e) = rebuild(store, state, &events) {
                            tracing::error!(
                                "rebuilding state after a command that did not fold: {e}"
                            );
                        }
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

    // The engine: escalation steps, cadences and runbooks owed as of now, in the same
    // transaction as the commands that caused them.
    let mut fired: Vec<usize> = Vec::new();
    for _ in 0..MAX_ENGINE_EVENTS {
        let Some(kind) = engine::next_event(state, &rules.policy, &rules.runbooks, now) else {
            break;
        };
        let is_step = matches!(
            kind,
            EventKind::StepFired {
                person: Some(_),
                ..
            }
        );
        match record(state, &mut events, SYSTEM_ACTOR, now, kind) {
            Ok(_) if is_step => {
                fired.push(events.len() - 1);
                // Whoever is paged about a restricted incident may see it and acknowledge.
                let member = events
                    .last()
                    .and_then(|e| access::let_in_paged(state, &e.kind));
                if let Some(member) = member
                    && let Err(e) = record(state, &mut events, SYSTEM_ACTOR, now, member)
                {
                    tracing::error!("letting a paged person in did not fold: {e}");
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!("an escalation event did not fold: {e}");
                break;
            }
        }
    }

    if events.is_empty() && records.is_empty() {
        // Nothing to record (a quiet tick, or only rejections of unremembered kinds).
        finish(replies, intake_replies, ticks);
        return;
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
        for (tx, _) in intake_replies {
            let _ = tx.send(Err(format!(
                "the server could not record the alert ({e}); nothing was recorded, retry"
            )));
        }
        return;
    }

    for i in fired {
        let ev = &events[i];
        if let Some(inc) = state.incident(ev.kind.incident()) {
            let (title, service) = Delivery::shown(inc);
            let _ = deliveries.send(Delivery {
                event: ev.clone(),
                title,
                severity: inc.severity,
                service,
                steps: inc.escalation.as_ref().map_or(0, |e| e.plan.steps.len()),
                already: Vec::new(),
            });
        }
    }

    published
        .commits
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut outgoing = Vec::with_capacity(events.len());
    {
        let mut shared = published.state.write().unwrap_or_else(|p| p.into_inner());
        for e in events {
            if let Err(err) = shared.apply(&e) {
                tracing::error!("published state diverged: {err}");
            }
            // Judged as of this event: who may have it.
            let restricted = access::audience(&shared, &e).map(|audience| Restricted {
                audience,
                withheld: Utf8Bytes::from(protocol::encode(&ServerMessage::Event {
                    event: access::withheld(&e),
                })),
            });
            outgoing.push((e, restricted));
        }
    }
    for (e, restricted) in outgoing {
        let seq = e.seq;
        let frame = protocol::encode(&ServerMessage::Event { event: e });
        // No receivers is fine: nobody is connected.
        let _ = published.events.send(Arc::new(Fanout {
            seq,
            frame: Utf8Bytes::from(frame),
            restricted,
        }));
    }
    finish(replies, intake_replies, ticks);
}

type IntakeReply = (oneshot::Sender<IntakeAnswer>, IntakeAnswer);

fn finish(
    replies: Vec<(oneshot::Sender<Answer>, Reply)>,
    intake_replies: Vec<IntakeReply>,
    ticks: Vec<oneshot::Sender<()>>,
) {
    for (tx, a) in intake_replies {
        let _ = tx.send(a);
    }
    for t in ticks {
        let _ = t.send(());
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
