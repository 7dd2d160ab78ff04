//! What the connection reports, in order, and the replica a console keeps by folding those
//! reports with the same model the server runs.
//!
//! The replica is a partial state: the board (the live work) as the feed sent it, each
//! incident a summary (its newest entries and the key ones, `elided` counting the rest),
//! plus the incidents and older pages a console asked for while it shows them. What it no
//! longer shows it drops: an incident's older pages ([`Replica::trim`]) and archived
//! incidents ([`Replica::evict_archived`]), so its memory follows the live work and the
//! rooms open, not the history.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::model::{ApplyError, Command, Entry, Event, Incident, IncidentRef, State};
use crate::protocol::{Answer, ErrorCode, Presence, QueryResult, SyncMode};

/// The connection as a person should see it in the status bar.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnState {
    Connecting,
    Live,
    /// Waiting before the next attempt; `queued` commands wait for the connection.
    Reconnecting {
        attempt: u32,
        retry_at: Instant,
        reason: String,
        queued: usize,
    },
    /// Given up: not reconnecting (CLI mode, a refused token, an unsupported protocol).
    Stopped {
        reason: String,
    },
}

/// A query the feed did not answer: refused (with the feed's code), or the connection
/// ended before the answer came.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    pub code: ErrorCode,
    pub message: String,
}

/// What the connection reports, in order.
#[derive(Debug, Clone)]
pub enum Update {
    Conn(ConnState),
    /// The replica this client is connecting to now, when the feed has several (the
    /// status bar names it; a failover moves it).
    Address(String),
    Welcome {
        name: String,
        head_seq: u64,
        mode: SyncMode,
        /// How long a resolved incident stays in the live work after its last event
        /// (seconds); older ones are archived, reached by query.
        recent_secs: u64,
    },
    /// What the feed tells its consoles of its policy (on-call, escalation, cadences).
    Policy(Box<crate::model::policy::PublicPolicy>),
    /// Replace the replica's state with this one (the board, every part of it; partial).
    Snapshot(State),
    /// Hold this incident from here, replacing what was held of it: one that came back to
    /// the live work (its events follow).
    Incident(Box<Incident>),
    /// The next event; always contiguous with what came before.
    Event(Event),
    /// Caught up to `seq`; live from here.
    Synced(u64),
    /// Who is present (the first 40 by name), and how many more are.
    Presence(Vec<Presence>, u32),
    /// The server's answer to a command (including ones queued by an earlier run).
    Answer {
        id: String,
        command: Command,
        answer: Answer,
    },
    /// The answer to a query asked under `id` (an export's parts joined into one: part 0,
    /// `last`).
    Result {
        id: String,
        result: QueryResult,
    },
    /// The query asked under `id` was refused, or cannot be answered any more.
    QueryFailed {
        id: String,
        error: QueryError,
    },
    /// An error not tied to a command.
    ServerError {
        code: ErrorCode,
        message: String,
    },
    /// How many commands are waiting to be sent or answered.
    Queued(usize),
}

/// A replica of the feed's state, kept by applying updates with the same model fold.
#[derive(Debug, Clone, Default)]
pub struct Replica {
    pub state: State,
    pub presence: Vec<Presence>,
    /// How many more people are present than `presence` lists.
    pub presence_others: u32,
    /// The name the server knows us by.
    pub me: Option<String>,
    pub synced: bool,
    pub queued: usize,
    /// The feed's policy as it last told us (absent from a feed that does not send it).
    pub policy: Option<crate::model::policy::PublicPolicy>,
    /// The feed's live window (`welcome.recent_secs`): a resolved incident whose last event
    /// is older is archived. `None` until the feed has said.
    pub recent: Option<Duration>,
}

/// How many of an incident's newest entries a replica keeps when it no longer shows the
/// rest (what the feed's board sends).
pub const SUMMARY_ENTRIES: usize = 20;

impl Replica {
    /// Applies one update. An error means the replica diverged and must resync.
    pub fn apply(&mut self, u: &Update) -> Result<(), ApplyError> {
        match u {
            Update::Welcome {
                name, recent_secs, ..
            } => {
                self.me = Some(name.clone());
                self.synced = false;
                self.recent = Some(Duration::from_secs(*recent_secs));
            }
            Update::Policy(p) => self.policy = Some((**p).clone()),
            Update::Snapshot(s) => {
                self.state = s.clone();
                // What a console holds is never the whole feed.
                self.state.partial = true;
            }
            Update::Incident(inc) => self.hold((**inc).clone()),
            Update::Event(e) => self.state.apply(e)?,
            Update::Synced(_) => self.synced = true,
            Update::Presence(p, others) => {
                self.presence = p.clone();
                self.presence_others = *others;
            }
            Update::Conn(ConnState::Live) => {}
            Update::Conn(_) => self.synced = false,
            Update::Queued(n) => self.queued = *n,
            Update::Answer { .. }
            | Update::Address(_)
            | Update::Result { .. }
            | Update::QueryFailed { .. }
            | Update::ServerError { .. } => {}
        }
        Ok(())
    }

    /// Holds `inc` as the feed sent it (replacing what was held), e.g. an incident coming
    /// back to the live work.
    pub fn hold(&mut self, inc: Incident) {
        self.state.withheld.remove(&inc.reference);
        self.state.next_ref = self.state.next_ref.max(inc.reference.0.saturating_add(1));
        self.state.incidents.insert(inc.reference.0, inc);
    }

    /// Takes the answer to `open`: an incident with the newest page of its timeline.
    /// An incident not held is held as sent. One held (a board summary kept current by
    /// events) keeps what the events made of it and gains the page's entries it lacks; an
    /// entry recorded after what this replica has folded is left to its event, which
    /// follows. Returns the id of the oldest entry of the newest `page` entries (every entry
    /// from it on is now held), where the next older page starts; `None` when none.
    pub fn take_opened(&mut self, opened: Incident, page: usize) -> Option<u64> {
        let mut ids: Vec<u64> = opened.entries.iter().map(|e| e.id).collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        let from = ids.get(page.max(1).min(ids.len()).wrapping_sub(1)).copied();
        let r = opened.reference;
        let seq = self.state.seq;
        match self.state.incidents.get_mut(&r.0) {
            None => self.hold(opened),
            Some(held) => {
                let newest_sent = ids.first().copied().unwrap_or(0);
                // Held entries the page does not have, older than its newest: counted in
                // its `elided`, held here already (the board keeps key entries).
                let extra = held
                    .entries
                    .iter()
                    .filter(|e| e.id < newest_sent && opened.entry(e.id).is_none())
                    .count() as u64;
                let fresh: Vec<Entry> = opened
                    .entries
                    .into_iter()
                    .filter(|e| e.id <= seq && held.entry(e.id).is_none())
                    .collect();
                merge_entries(held, fresh);
                held.elided = opened.elided.saturating_sub(extra);
            }
        }
        from
    }

    /// Takes a page of older entries of `r` (the answer to `timeline`): the ones not held
    /// yet join the timeline, and `elided` counts what is still not held; none when the
    /// feed says there are no more (`more` false). Returns how many entries were added.
    pub fn take_page(&mut self, r: IncidentRef, entries: Vec<Entry>, more: bool) -> usize {
        let Some(inc) = self.state.incidents.get_mut(&r.0) else {
            return 0;
        };
        let fresh: Vec<Entry> = entries
            .into_iter()
            .filter(|e| inc.entry(e.id).is_none())
            .collect();
        let n = fresh.len();
        merge_entries(inc, fresh);
        inc.elided = if more {
            inc.elided.saturating_sub(n as u64).max(1)
        } else {
            0
        };
        n
    }

    /// Drops what is held of `r`'s older entries: back to a summary (the newest
    /// [`SUMMARY_ENTRIES`] and the key ones), as the board has it. For a room that is left.
    pub fn trim(&mut self, r: IncidentRef) {
        if let Some(inc) = self.state.incidents.get_mut(&r.0)
            && inc.entries.len() > SUMMARY_ENTRIES
        {
            *inc = inc.summary(SUMMARY_ENTRIES);
        }
    }

    /// Drops the archived incidents this replica holds (resolved or closed, last event
    /// older than the feed's live window as of `now`), except those `keep` says are shown.
    /// Returns the references dropped. Nothing before the feed has said its window.
    pub fn evict_archived(
        &mut self,
        now: DateTime<Utc>,
        keep: impl Fn(IncidentRef) -> bool,
    ) -> Vec<IncidentRef> {
        let gone: Vec<IncidentRef> = self
            .state
            .incidents
            .values()
            .filter(|i| self.archived(i, now) && !keep(i.reference))
            .map(|i| i.reference)
            .collect();
        for r in &gone {
            self.state.incidents.remove(&r.0);
        }
        gone
    }
}

impl Replica {
    /// Whether `inc` is out of the feed's live window as of `now`: resolved or closed, its
    /// last event older than the window (the feed keeps it on disk, found by search).
    pub fn archived(&self, inc: &Incident, now: DateTime<Utc>) -> bool {
        let Some(recent) = self.recent.and_then(|d| chrono::Duration::from_std(d).ok()) else {
            return false;
        };
        !inc.is_active() && inc.updated_at + recent < now
    }
}

/// Adds `fresh` entries (none of them held) to `inc`, keeping the entries in id order.
fn merge_entries(inc: &mut Incident, fresh: Vec<Entry>) {
    if fresh.is_empty() {
        return;
    }
    inc.entries.extend(fresh);
    inc.entries.sort_by_key(|e| e.id);
}
