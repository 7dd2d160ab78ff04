//! The append-only event log behind two small traits: [`LogReader`] reads it (by sequence
//! number, by incident, and through the indexes kept beside it), [`EventStore`] is the one
//! writer's view (durable appends, remembered answers, and readers of its own for everyone
//! else). The server's core and its sessions work through these traits only; SQLite is the
//! embedded backend, and a shared PostgreSQL backend implements the same two when teams run
//! several servers.
//!
//! Beside the log, in the same transaction as each append (so a crash never leaves them
//! behind it), a store keeps what lets a feed's cost follow the live work instead of the
//! history: the events by incident, one row per incident (what search filters on, and its
//! summary), the words of each incident for search, and checkpoints of the live state. All
//! of it is derived from the log by the model's fold: [`EventStore::rebuild_indexes`] makes
//! it again from the events alone, with the same answers.

mod postgres;
mod rows;
mod sqlite;
#[cfg(test)]
mod tests;
pub mod words;

/// A database of a test's own, for the tests of what else is kept in PostgreSQL.
#[cfg(test)]
pub(crate) use self::postgres::testdb;
pub use self::postgres::{
    Connect, CopyReport, LEADER_LOCK, LogTail, PG_SCHEMA_VERSION, PgStore, copy_to_postgres,
    prepare_database, redact_url,
};
pub use sqlite::{SCHEMA_VERSION, SqliteStore};

use crate::model::access::Viewer;
use crate::model::{ApplyError, Event, EventKind, Incident, IncidentRef, State};
use crate::protocol::{Answer, Search};

/// Something went wrong reading or writing the log. Nothing half-written is ever visible:
/// an append either lands whole or not at all.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("event log: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("event log holds an unreadable event at seq {seq}: {reason}")]
    Corrupt { seq: u64, reason: String },
    #[error("append must continue the log: head is {head}, batch starts at {first}")]
    NotContiguous { head: u64, first: u64 },
    #[error("the event log reader stopped: {0}")]
    ReaderStopped(String),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    /// `at`: the log's file, or its database's URL (without its password).
    #[error(
        "the event log {at} has schema version {found}, newer than this warroom knows \
         ({known}): it was written by a newer warroom; run that one (or a newer one) instead"
    )]
    SchemaTooNew { at: String, found: u32, known: u32 },
    #[error("the append does not match its state: {0}")]
    Mismatch(String),
    /// A shared log's append (or a leader's write) from a replica that no longer leads.
    #[error("this replica no longer leads the feed: {0}")]
    NotLeader(String),
    /// The database could not be reached (or refused us): nothing was read or written.
    #[error("cannot connect to the event log at {at}: {reason}")]
    Connect { at: String, reason: String },
    /// A PostgreSQL statement failed; `what` is what the store was doing.
    #[error("the event log at {at} failed {what}: {reason}")]
    Postgres {
        at: String,
        what: &'static str,
        reason: String,
    },
    /// Another writer appended at these positions first (two feeds on one database): this
    /// append was rolled back whole.
    #[error(
        "another writer appended to the event log at seq {first} first: nothing of this \
         append was recorded (is a second `warroom serve` writing to the same database?)"
    )]
    Conflict { first: u64 },
    /// A command of the append was answered before (its answer is recorded): deciding it
    /// again would record its events twice. Nothing of this append was recorded.
    #[error(
        "a command of this append was answered before: nothing of the append was recorded; \
         decide it again with the recorded answers"
    )]
    AnsweredBefore,
    /// The event log's address cannot be used as it is.
    #[error("the event log address {at} cannot be used: {reason}")]
    BadAddress { at: String, reason: String },
    /// `warroom store copy` writes only into an empty store.
    #[error(
        "the event log at {at} is not empty (its head is seq {head}, with {answers} command \
         answers): copy only into a new database"
    )]
    NotEmpty { at: String, head: u64, answers: u64 },
    /// The copy does not read back as its source does; nothing of it was kept.
    #[error("the copy does not match its source ({0}); nothing was copied")]
    CopyDiffers(String),
}

impl StoreError {
    fn fold(seq: u64, e: ApplyError) -> Self {
        StoreError::Corrupt {
            seq,
            reason: format!("does not fold: {e}"),
        }
    }
}

/// One command's outcome to remember, so a retry with the same id gets the same answer.
#[derive(Debug, Clone)]
pub struct CommandRecord {
    pub actor: String,
    pub id: String,
    pub answer: Answer,
}

/// One durable append: events, the answers to the commands that caused them, and what the
/// indexes need, all in one transaction.
pub struct Append<'a> {
    /// Events continuing the log (possibly none: only answers to remember).
    pub events: &'a [Event],
    pub commands: &'a [CommandRecord],
    /// The state with `events` folded in (their incidents whole): the store reads each
    /// incident the events touched from it, for that incident's row and words.
    pub state: &'a State,
    /// Write `state` as the latest checkpoint (start-up folds only what follows it).
    pub checkpoint: bool,
    /// The feed's resume floor (see [`LogReader::resume_floor`]), kept across restarts.
    pub resume_floor: u64,
}

/// A page of search results, judged for its reader.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchPage {
    /// Matching incidents the reader may see, newest first, each a summary (no entries;
    /// `elided` counts them).
    pub incidents: Vec<Incident>,
    /// Restricted incidents in the page's range that the reader may not see: references
    /// only, and only when the search filtered on nothing of their content (see
    /// [`words::content_filtered`]).
    pub withheld: Vec<IncidentRef>,
    /// More may follow: ask again with `before` set to this.
    pub next: Option<IncidentRef>,
}

/// Reading the log: by sequence number (start-ups, catch-ups, followers), by incident (an
/// archived incident folded back), and through the indexes (search, summaries, the latest
/// checkpoint). The sequence number is the order; readers never depend on being told in time.
pub trait LogReader: Send {
    /// This log's identity, made when the log was created and never changed.
    fn feed_id(&self) -> Result<String, StoreError>;
    /// The last sequence number in the log (0 when empty).
    fn head(&self) -> Result<u64, StoreError>;
    /// Up to `limit` events with seq greater than `after`, in order.
    fn read_since(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError>;
    /// Every event of one incident with seq at most `upto`, in order.
    fn incident_events(&self, incident: IncidentRef, upto: u64) -> Result<Vec<Event>, StoreError>;
    /// The seq of the last event of an incident (`None`: no such incident).
    fn last_seq_of(&self, incident: IncidentRef) -> Result<Option<u64>, StoreError>;
    /// The latest checkpoint: incidents folded up to its `seq` (some of the feed's, at
    /// least the live work when it was written; each one whole and exact).
    fn latest_checkpoint(&self) -> Result<Option<State>, StoreError>;
    /// The incidents that are active or whose last event is later than `updated_after`:
    /// the live work, for a start-up to make sure it holds all of it.
    fn live_refs(
        &self,
        updated_after: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<IncidentRef>, StoreError>;
    /// Incidents matching `query` as `viewer` may have them, newest first, at most
    /// `limit` and about `max_bytes` of summaries (JSON) in a page.
    fn search(
        &self,
        query: &Search,
        viewer: Viewer<'_>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<SearchPage, StoreError>;
    /// Every incident's summary (no entries), by reference: what metrics count.
    fn summaries(&self) -> Result<Vec<Incident>, StoreError>;
    /// Every `step_fired` event (pages, notifications, tickets), in order: what metrics
    /// count pages from.
    fn fired_steps(&self) -> Result<Vec<Event>, StoreError>;
    /// The resume floor last appended: a client whose position is below it is sent the
    /// board instead of the events since (an incident it may lack came back, or one was
    /// archived, after that position).
    fn resume_floor(&self) -> Result<u64, StoreError>;

    /// One incident's summary as the log holds it now (no entries; `elided` counts them),
    /// `None` when there is no such incident: whether a reader may see an archived
    /// incident's events, without folding its timeline.
    fn summary(&self, incident: IncidentRef) -> Result<Option<Incident>, StoreError> {
        Ok(self
            .load_incident(incident, u64::MAX)?
            .map(|inc| inc.newest(0)))
    }

    /// One incident folded from its own events up to `upto` (`None`: no such incident).
    fn load_incident(
        &self,
        incident: IncidentRef,
        upto: u64,
    ) -> Result<Option<Incident>, StoreError> {
        let events = self.incident_events(incident, upto)?;
        crate::model::fold_incident(&events)
            .map_err(|e| StoreError::fold(events.last().map_or(0, |e| e.seq), e))
    }
}

/// The durable event log as its one writer (the server's core) uses it.
pub trait EventStore: LogReader {
    /// Appends events (whose seqs continue the log), command answers and the indexes in
    /// one durable transaction: when this returns `Ok`, all of it survives a crash.
    fn append(&mut self, batch: &Append<'_>) -> Result<(), StoreError>;
    /// The stored answer to `actor`'s command `id`, if it was seen before.
    fn answer(&self, actor: &str, id: &str) -> Result<Option<Answer>, StoreError>;
    /// The stored answers to several commands (`(actor, id)` each), in their order: what
    /// the core asks once per group, so a shared log costs one round trip, not one per
    /// command.
    fn answers(&self, keys: &[(String, String)]) -> Result<Vec<Option<Answer>>, StoreError>;
    /// Another handle on the same log, for reading while this one appends, so sessions
    /// catching up never wait for the writer's transaction (SQLite: a read-only connection
    /// to the same file; PostgreSQL: a connection of its own to the same database).
    fn open_reader(&self) -> Result<Box<dyn LogReader>, StoreError>;
    /// Drops every index (incident rows, words, checkpoints) and makes them again from the
    /// events alone, by the model's fold. Opening a log of an older schema does this once.
    fn rebuild_indexes(&mut self) -> Result<(), StoreError>;

    /// Whether an append whose command answers are already recorded is refused whole
    /// ([`StoreError::AnsweredBefore`]): then a group may be decided without asking first
    /// which of its commands were answered before, and decided again, asking, when refused.
    fn refuses_answered_twice(&self) -> bool {
        false
    }
    /// Whether several feeds share this log (one leads and appends, the others follow).
    /// A log of one feed's own is always led by it.
    fn shared(&self) -> bool {
        false
    }
    /// Takes the right to append, if no one holds it: the new leader's epoch, or `None`
    /// when another replica leads. Once taken, every append checks it is still held.
    fn lead(&mut self) -> Result<Option<u64>, StoreError> {
        Ok(Some(0))
    }
    /// Whether this store still holds the right to append (and keeps its session alive):
    /// the leader asks every tick.
    fn leading(&mut self) -> Result<bool, StoreError> {
        Ok(true)
    }
}

/// The `incident` column of `e`'s row: its incident's number, or 0 for a feed-level event
/// (a deploy, an alert noted for the digest), which no incident's reads ask for.
pub(crate) fn event_incident(e: &Event) -> u32 {
    e.kind.incident().map_or(0, |r| r.0)
}

/// Folds `e` into `state`, first bringing back the incident it is about (folded from its own
/// events before `e`, by `load`) when the state does not hold it: an archived incident that
/// an event touches again.
pub fn fold_into(
    state: &mut State,
    e: &Event,
    load: impl FnOnce(IncidentRef, u64) -> Result<Option<Incident>, StoreError>,
) -> Result<(), StoreError> {
    if let Some(r) = e.kind.incident()
        && !matches!(e.kind, EventKind::Declared { .. })
        && state.incident(r).is_none()
    {
        match load(r, e.seq.saturating_sub(1))? {
            Some(inc) => state.insert_incident(inc),
            None => {
                return Err(StoreError::Corrupt {
                    seq: e.seq,
                    reason: format!("it refers to {r}, which has no earlier event"),
                });
            }
        }
    }
    state.apply(e).map_err(|err| StoreError::fold(e.seq, err))
}

/// Folds the log into the live work as of `now`: the latest checkpoint, then the events
/// after it (bringing back archived incidents they touch), then every incident the indexes
/// say is live that the fold does not hold yet; archived ones are dropped. Start-up reads
/// this much, never the whole log. Returns the state and the seq of the last event of the
/// incidents it dropped (a resume from before that is sent the board).
pub fn load_live<R: LogReader + ?Sized>(
    store: &R,
    now: chrono::DateTime<chrono::Utc>,
    recent_secs: u64,
) -> Result<(State, u64), StoreError> {
    let mut state = store.latest_checkpoint()?.unwrap_or_default();
    loop {
        let chunk = store.read_since(state.seq, 10_000)?;
        if chunk.is_empty() {
            break;
        }
        for e in &chunk {
            fold_into(&mut state, e, |r, upto| store.load_incident(r, upto))?;
        }
    }
    let after = now - crate::model::escalation::secs(recent_secs);
    for r in store.live_refs(after)? {
        if state.incident(r).is_none()
            && let Some(inc) = store.load_incident(r, state.seq)?
        {
            state.insert_incident(inc);
        }
    }
    let mut archived_upto = 0;
    for inc in state.evict_archived(now, recent_secs) {
        let last = store.last_seq_of(inc.reference)?.unwrap_or(0);
        archived_upto = archived_upto.max(last);
    }
    Ok((state, archived_upto))
}
