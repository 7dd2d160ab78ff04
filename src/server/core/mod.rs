//! The core: one thread that owns the authoritative state and the log writer. It takes
//! commands in groups, decides each against the state, appends the group's events in one
//! durable transaction (one fsync shared by every writer in the group), and only then
//! publishes them: replies to the senders and frames to every session. Here: what the core
//! takes and publishes, and its loop. Beside it: a group of commands decided, the engine's
//! pass and the one durable append (`group`), what is published to the sessions
//! (`fanout`), and archived incidents brought back to the live work and evicted from it
//! (`live_work`).

mod fanout;
mod group;
mod live_work;

pub use fanout::Fanout;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::{broadcast, mpsc, oneshot};

use super::alerts::IntakeAnswer;
use super::archive::ArchiveCache;
use super::rules::Rules;
use crate::clock::Clock;
use crate::intake::Alert;
use crate::model::{Command, Event, EventKind, State};
use crate::protocol::Answer;
use crate::store::EventStore;

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
    /// New events of a shared log, read by seq on the notification connection for a
    /// follower to fold (from its position; `more`: the read stopped at its limit).
    Read {
        events: Vec<Event>,
        more: bool,
    },
    /// Another replica forwarded commands (a hint: the leader reads them).
    Forwarded,
    /// A command or alerts another replica forwarded, as its notification carried them
    /// (the leader decides them, unless already answered).
    ForwardedRow(super::cluster::Forwarded),
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
    /// The incident's status, and when its next status update is due, as of the delivery
    /// (what a status update's stakeholders are told).
    pub status: crate::model::Status,
    pub next_update_at: Option<chrono::DateTime<chrono::Utc>>,
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
    /// Until when the core asks the store, before deciding a group, which of its commands
    /// were answered before (always, on a store that does not refuse an answer recorded
    /// twice; see `process`).
    pub ask_answers_until: std::time::Instant,
    /// How long it asks after starting, taking the lead, or a group refused as answered
    /// before: while the retries of commands sent before are likely.
    pub ask_answers_for: std::time::Duration,
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

/// The actor of everything warroom records by itself.
pub const SYSTEM_ACTOR: &str = "warroom";

impl Core {
    fn recent_secs(&self) -> u64 {
        self.published.recent_secs
    }
}
