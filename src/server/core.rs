//! The core: one thread that owns the authoritative state and the log writer. It takes
//! commands in groups, decides each against the state, appends the group's events in one
//! durable transaction (one fsync shared by every writer in the group), and only then
//! publishes them: replies to the senders and frames to every session.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::alerts::{self, IntakeAnswer, record};
use super::archive::ArchiveCache;
use super::rules::Rules;
use crate::clock::Clock;
use crate::intake::Alert;
use crate::model::{Command, Event, EventKind, Incident, IncidentRef, State, access, engine};
use crate::protocol::{self, Answer, ErrorCode, ServerMessage};
use crate::store::{Append, CommandRecord, EventStore, fold_into, load_live};

/// Most commands folded into one transaction.
pub const MAX_BATCH: usize = 512;

/// Events between two checkpoints of the live work: a start-up folds at most this many
/// after the latest one.
pub const CHECKPOINT_EVERY: u64 = 10_000;

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
    /// A shared log has new events (a hint: a follower reads them by seq).
    Tail,
    /// Another replica forwarded commands (a hint: the leader reads them).
    Forwarded,
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
    /// The incident is restricted: what was typed about it stays in warroom.
    pub restricted: bool,
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
    /// Set on the first event of an archived incident coming back to the live work: its
    /// `incident` frame (the incident as it stood before this event), sent just before
    /// `frame` to every reader who gets `frame`.
    pub revived: Option<Utf8Bytes>,
    /// When it was committed (published): its fan-out delay is counted from here.
    pub committed: std::time::Instant,
}

#[derive(Debug)]
pub struct Restricted {
    pub audience: access::Audience,
    pub withheld: Utf8Bytes,
}

/// What sessions read: the committed live work and the live event stream.
pub struct Published {
    /// The live work (active incidents and those whose last event is within the recent
    /// window, each whole) as of the last durable event. Never ahead of the log.
    pub state: RwLock<State>,
    pub events: broadcast::Sender<Arc<Fanout>>,
    /// Durable appends (one transaction, one fsync each) since start: with the number of
    /// events, it shows how many writers shared each fsync.
    pub commits: AtomicU64,
    /// A reader whose position is below this is sent the board, not the events since: an
    /// incident came back to the live work after it (the reader may lack it), or one left
    /// (its events would be judged without it). Raised before `state` changes, so whoever
    /// reads `state` and then this sees at least the floor that state needs.
    pub resume_floor: AtomicU64,
    /// How long an incident stays in the live work after its last event once it is no
    /// longer active, in seconds.
    pub recent_secs: u64,
}

impl Published {
    pub fn head(&self) -> u64 {
        self.read().seq
    }

    pub fn resume_floor(&self) -> u64 {
        self.resume_floor.load(Ordering::SeqCst)
    }

    /// The committed state, to read (a writer that panicked leaves it whole: each event is
    /// folded in completely or not at all).
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// The single writer: the store, the live work it decides against, and what it publishes.
pub struct Core {
    pub store: Box<dyn EventStore>,
    /// The live work, plus archived incidents brought back for this group of commands.
    pub state: State,
    pub published: Arc<Published>,
    pub rules: Arc<Rules>,
    pub deliveries: mpsc::UnboundedSender<Delivery>,
    /// Incidents that just left the live work, for a command that brings one back.
    pub archive: ArchiveCache,
    /// Events between two checkpoints ([`CHECKPOINT_EVERY`] but in tests).
    pub checkpoint_every: u64,
    /// On a log shared by several replicas: the way to the others (see `cluster`).
    pub link: Option<super::cluster::Link>,
    /// Whether this core decides and appends (always, on a log of its own).
    pub leading: bool,
    pub metrics: Arc<super::metrics::Metrics>,
}

/// Runs the core until every sender is gone.
pub fn run(mut core: Core, clock: Arc<dyn Clock>, mut rx: mpsc::Receiver<CoreInput>) {
    // The log's last event: what the live work holds may be older.
    let head = core.state.seq;
    let mut last_at = match core.store.read_since(head.saturating_sub(1), 1) {
        Ok(last) => last.first().map(|e| e.at),
        Err(e) => {
            tracing::error!("reading the log's last event: {e}");
            None
        }
    }
    .into_iter()
    .chain(core.state.incidents.values().map(|i| i.updated_at))
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
        if core.link.is_some() {
            core.replicated(now, batch);
        } else {
            core.process(now, batch);
        }
    }
    tracing::debug!("core stopped: no more command senders");
}

enum Reply {
    Answer(Answer),
    /// The same command id appeared earlier in this batch.
    SameAs(usize),
}

/// Most events one engine pass records (a guard against a policy that loops).
const MAX_ENGINE_EVENTS: usize = 10_000;

/// The actor of everything warroom records by itself.
pub const SYSTEM_ACTOR: &str = "warroom";

impl Core {
    fn recent_secs(&self) -> u64 {
        self.published.recent_secs
    }

    /// Brings archived incident `r` back into the state (from the cache, or folded from its
    /// events) so a command or an observation can be decided against it; keeps a copy as it
    /// stood, for the sessions, in `revived`.
    pub(super) fn bring_back(&mut self, r: IncidentRef, revived: &mut BTreeMap<u32, Incident>) {
        if self.state.incident(r).is_some() || r.0 == 0 || r >= self.state.next_reference() {
            return;
        }
        let inc = match self.archive.take(r) {
            Some(inc) => Arc::unwrap_or_clone(inc),
            None => match self.store.load_incident(r, self.state.seq) {
                Ok(Some(inc)) => inc,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!("reading archived {r} from the log: {e}");
                    return;
                }
            },
        };
        revived.insert(r.0, inc.clone());
        self.state.insert_incident(inc);
    }

    /// The live work as the log has it, plus `pending` (events not appended yet): the way
    /// back after something that did not fold. Checkpoint and tail, never the whole log.
    pub(super) fn rebuild(&mut self, now: chrono::DateTime<chrono::Utc>, pending: &[Event]) {
        let store = self.store.as_ref();
        let rebuilt = load_live(store, now, self.published.recent_secs).and_then(|(mut s, _)| {
            for e in pending {
                fold_into(&mut s, e, |r, upto| store.load_incident(r, upto))?;
            }
            Ok(s)
        });
        match rebuilt {
            Ok(s) => self.state = s,
            Err(e) => tracing::error!("rebuilding the live work from the log: {e}"),
        }
    }

    /// Moves the incidents that left the live work out of the state (into the cache) and
    /// out of what sessions read, raising the resume floor first. Run after every group.
    pub(super) fn evict(&mut self, now: chrono::DateTime<chrono::Utc>) {
        let gone = self.state.evict_archived(now, self.recent_secs());
        if gone.is_empty() {
            return;
        }
        let mut floor = self.published.resume_floor();
        for inc in gone {
            match self.store.last_seq_of(inc.reference) {
                Ok(Some(last)) => {
                    floor = floor.max(last);
                    self.archive.put(last, Arc::new(inc));
                }
                // Not in the indexes: nothing to resume from.
                Ok(None) => {}
                Err(e) => {
                    tracing::error!("reading {}'s last event: {e}", inc.reference);
                    floor = floor.max(self.state.seq);
                }
            }
        }
        self.published
            .resume_floor
            .fetch_max(floor, Ordering::SeqCst);
        let mut shared = self
            .published
            .state
            .write()
            .unwrap_or_else(|p| p.into_inner());
        shared.evict_archived(now, self.recent_secs());
    }

    /// The remembered answers to the group's commands, asked of the store at once (one
    /// query for the whole group on a shared log); an error is each command's answer.
    fn remembered(&self, batch: &[CoreInput]) -> Result<HashMap<(String, String), Answer>, String> {
        let keys: Vec<(String, String)> = batch
            .iter()
            .filter_map(|i| match i {
                CoreInput::Command(req) => Some((req.actor.clone(), req.id.clone())),
                _ => None,
            })
            .collect();
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        match self.store.answers(&keys) {
            Ok(found) => Ok(keys
                .into_iter()
                .zip(found)
                .filter_map(|(k, a)| Some((k, a?)))
                .collect()),
            Err(e) => {
                tracing::error!("reading command answers: {e}");
                Err(e.to_string())
            }
        }
    }

    pub(super) fn process(&mut self, now: chrono::DateTime<chrono::Utc>, batch: Vec<CoreInput>) {
        let before_seq = self.state.seq;
        let mut events: Vec<Event> = Vec::new();
        let mut records: Vec<CommandRecord> = Vec::new();
        let mut replies: Vec<(oneshot::Sender<Answer>, Reply)> = Vec::with_capacity(batch.len());
        let mut in_batch: HashMap<(String, String), usize> = HashMap::new();
        let mut ticks: Vec<oneshot::Sender<()>> = Vec::new();
        let mut intake_replies = Vec::new();
        // Archived incidents brought back in this group, as they stood before it.
        let mut revived: BTreeMap<u32, Incident> = BTreeMap::new();
        let mut remembered = self.remembered(&batch);
        for input in batch {
            let req = match input {
                CoreInput::Command(req) => req,
                CoreInput::Tick(done) => {
                    ticks.extend(done);
                    continue;
                }
                CoreInput::Tail | CoreInput::Forwarded => continue,
                CoreInput::Intake(req) => {
                    // Folded straight into the state (a copy of a large state per alert
                    // would cost more than the alert); should one alert fail, the state is
                    // rebuilt from the log plus this group's earlier events, so none of it
                    // stays. (Alerts attach only to active incidents: never archived ones.)
                    let before = events.len();
                    let outcome =
                        alerts::decide(&mut self.state, &mut events, &self.rules, now, &req.alerts);
                    if outcome.is_err() {
                        events.truncate(before);
                        self.rebuild(now, &events);
                    }
                    intake_replies.push((req.reply, outcome));
                    continue;
                }
                CoreInput::Record {
                    actor,
                    events: kinds,
                } => {
                    for kind in kinds {
                        self.bring_back(kind.incident(), &mut revived);
                        let mut scratch_events = Vec::new();
                        match record(&mut self.state, &mut scratch_events, &actor, now, kind) {
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
            if let Some(r) = req.command.incident() {
                self.bring_back(r, &mut revived);
            }
            if let Some(r) = req.command.incident()
                && let Some(inc) = self.state.incident(r)
                && !inc.visible_to(access::Viewer {
                    name: &req.actor,
                    sees_all: req.sees_all,
                })
            {
                // Not remembered: it may be allowed once an admin adds the sender.
                let message = format!(
                    "{r} is restricted (need to know): only its members and admins may see it \
                     or act on it; ask an admin to add you"
                );
                let answer = Answer::Error {
                    code: ErrorCode::Forbidden,
                    message,
                };
                self.metrics
                    .answered(&req.command, &req.actor, &req.id, &answer);
                replies.push((req.reply, Reply::Answer(answer)));
                continue;
            }
            match remembered.as_mut().map(|r| r.remove(&key)) {
                Ok(Some(previous)) => {
                    replies.push((req.reply, Reply::Answer(previous)));
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    replies.push((req.reply, Reply::Answer(unavailable(e))));
                    continue;
                }
            }
            // An action item given no due date gets the policy's default, if it has one.
            let filled = self.rules.with_defaults(&req.command, now);
            let command = filled.as_ref().unwrap_or(&req.command);
            let decided =
                self.state
                    .decide_with_policy(&req.actor, now, command, &self.rules.policy);
            let answer = match decided {
                Ok(kinds) => {
                    let mut seqs = Vec::with_capacity(kinds.len());
                    let mut incident = req.command.incident();
                    let mut failed = None;
                    let before = events.len();
                    for kind in kinds {
                        if let EventKind::Declared { incident: r, .. } = &kind {
                            incident = Some(*r);
                        }
                        match record(&mut self.state, &mut events, &req.actor, now, kind) {
                            Ok(seq) => seqs.push(seq),
                            Err(e) => {
                                failed = Some(e);
                                break;
                            }
                        }
                    }
                    match failed {
                        Some(e) => {
                            // "Nothing was recorded, retry" must be true: this command's
                            // events that did fold leave the batch, and the state is rebuilt
                            // without them.
                            tracing::error!("a decided event did not fold: {e}");
                            events.truncate(before);
                            self.rebuild(now, &events);
                            unavailable(&e.to_string())
                        }
                        None => Answer::Ok { seqs, incident },
                    }
                }
                Err(rejection) => Answer::rejected(rejection),
            };
            self.metrics
                .answered(&req.command, &req.actor, &req.id, &answer);
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
            let Some(kind) =
                engine::next_event(&self.state, &self.rules.policy, &self.rules.runbooks, now)
            else {
                break;
            };
            let is_step = matches!(
                kind,
                EventKind::StepFired {
                    person: Some(_),
                    ..
                }
            );
            match record(&mut self.state, &mut events, SYSTEM_ACTOR, now, kind) {
                Ok(_) if is_step => {
                    fired.push(events.len() - 1);
                    // Whoever is paged about a restricted incident may see it and acknowledge.
                    let member = events
                        .last()
                        .and_then(|e| access::let_in_paged(&self.state, &e.kind));
                    if let Some(member) = member
                        && let Err(e) =
                            record(&mut self.state, &mut events, SYSTEM_ACTOR, now, member)
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
            self.evict(now);
            finish(replies, intake_replies, ticks);
            return;
        }

        // An incident coming back: readers from before its first event here may lack it.
        let mut floor = self.published.resume_floor();
        let mut back = std::collections::BTreeSet::new();
        for e in &events {
            let r = e.kind.incident().0;
            if revived.contains_key(&r) && back.insert(r) {
                floor = floor.max(e.seq);
            }
        }
        let checkpoint =
            self.state.seq / self.checkpoint_every > before_seq / self.checkpoint_every;
        let started = std::time::Instant::now();
        let appended = self.store.append(&Append {
            events: &events,
            commands: &records,
            state: &self.state,
            checkpoint,
            resume_floor: floor,
        });
        if let Err(e) = appended {
            if self.link.is_some()
                && (matches!(e, crate::store::StoreError::NotLeader(_))
                    || !matches!(self.store.leading(), Ok(true)))
            {
                // Fenced: another replica leads. Nothing is answered here; the caller
                // hands the commands to the new leader.
                tracing::warn!("append refused, this replica no longer leads: {e}");
                self.leading = false;
                for (tx, _) in intake_replies {
                    let _ = tx.send(Err(format!(
                        "this replica lost the lead while recording the alert ({e}); nothing \
                         was recorded, retry"
                    )));
                }
                return;
            }
            tracing::error!("append failed, nothing of this batch was recorded: {e}");
            self.rebuild(now, &[]);
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

        // Pages on demand are delivered as fired steps are.
        fired.extend(
            events
                .iter()
                .enumerate()
                .filter(|(_, e)| matches!(e.kind, EventKind::Paged { .. }))
                .map(|(i, _)| i),
        );
        self.metrics.committed(events.len(), started.elapsed());
        self.metrics.appended(&self.state, &events);
        for i in fired {
            let ev = &events[i];
            if let Some(inc) = self.state.incident(ev.kind.incident()) {
                let (title, service) = Delivery::shown(inc);
                let _ = self.deliveries.send(Delivery {
                    event: ev.clone(),
                    title,
                    severity: inc.severity,
                    service,
                    steps: inc.escalation.as_ref().map_or(0, |e| e.plan.steps.len()),
                    already: Vec::new(),
                    restricted: inc.restricted,
                });
            }
        }

        self.publish(events, revived, floor);
        // What left the live work, before anyone hears this group is done (a tick's sender
        // then sees the live work as of its time).
        self.evict(now);
        finish(replies, intake_replies, ticks);
    }

    /// Sends `events` (durable now) to every session: folds them into what sessions read
    /// (bringing back the archived incidents in `revived` first) and encodes each once,
    /// judged for restricted incidents. The leader does this after its appends; a follower
    /// after reading them from the shared log.
    pub(super) fn publish(
        &mut self,
        events: Vec<Event>,
        mut revived: BTreeMap<u32, Incident>,
        floor: u64,
    ) {
        let published = &self.published;
        let committed = std::time::Instant::now();
        published.commits.fetch_add(1, Ordering::Relaxed);
        published.resume_floor.fetch_max(floor, Ordering::SeqCst);
        let mut outgoing = Vec::with_capacity(events.len());
        {
            let mut shared = published.state.write().unwrap_or_else(|p| p.into_inner());
            for e in events {
                let r = e.kind.incident();
                let revival = match revived.remove(&r.0) {
                    Some(inc) if shared.incident(r).is_none() => {
                        let frame = incident_frame(&inc);
                        shared.insert_incident(inc);
                        Some(frame)
                    }
                    _ => None,
                };
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
                outgoing.push((e, restricted, revival));
            }
        }
        for (e, restricted, revived) in outgoing {
            let seq = e.seq;
            let frame = protocol::encode(&ServerMessage::Event { event: e });
            // No receivers is fine: nobody is connected.
            let _ = published.events.send(Arc::new(Fanout {
                seq,
                frame: Utf8Bytes::from(frame),
                restricted,
                revived,
                committed,
            }));
        }
    }
}

/// The `incident` frame of an incident coming back to the live work: its board summary,
/// kept under the frame limit.
fn incident_frame(inc: &Incident) -> Utf8Bytes {
    let incident = super::session::board::fitted(inc.summary(super::session::board::KEEP));
    Utf8Bytes::from(protocol::encode(&ServerMessage::Incident {
        incident: Box::new(incident),
    }))
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
