//! What every backend writes beside the log and how a search page is filled, defined once so
//! SQLite and PostgreSQL give the same answers: the row of each incident an append touched
//! (with its new words), and the paging rule applied to matching rows, newest first.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::{Append, SearchPage, StoreError, fold_into, words};
use crate::model::access::Viewer;
use crate::model::{Entry, Event, Incident, IncidentRef, State};

/// A time as the indexes keep it: nanoseconds since 1970 (saturating far from now).
pub(crate) fn nanos(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(if t.timestamp() > 0 {
        i64::MAX
    } else {
        i64::MIN
    })
}

pub(crate) fn json<T: serde::Serialize>(seq: u64, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt {
        seq,
        reason: e.to_string(),
    })
}

pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        seq: 0,
        reason: format!("{what}: {e}"),
    }
}

/// One incident's row in the indexes: what search filters on, its summary, and the words
/// to add for it.
#[derive(Debug, Clone)]
pub(crate) struct IncidentRow {
    pub reference: u32,
    pub declared_at: i64,
    pub updated_at: i64,
    pub severity: u8,
    pub active: bool,
    pub service: Option<String>,
    pub restricted: bool,
    /// Its members' names, as a JSON array.
    pub members: String,
    pub last_seq: u64,
    /// Its summary (no entries), as JSON.
    pub summary: String,
    /// The words of its title, service and the entries written now.
    pub words: BTreeSet<String>,
}

impl IncidentRow {
    /// The row of `inc` whose last event is `last_seq`, with the words of `new_entries`.
    pub fn of(inc: &Incident, last_seq: u64, new_entries: &[Entry]) -> Result<Self, StoreError> {
        let members: Vec<&String> = inc.members.keys().collect();
        Ok(IncidentRow {
            reference: inc.reference.0,
            declared_at: nanos(inc.declared_at),
            updated_at: nanos(inc.updated_at),
            severity: inc.severity.number(),
            active: inc.is_active(),
            service: inc.service.clone(),
            restricted: inc.restricted,
            members: json(last_seq, &members)?,
            last_seq,
            summary: json(last_seq, &inc.summary(0))?,
            words: words::incident_words(inc, new_entries),
        })
    }
}

/// The rows of the incidents `batch`'s events touched, each with the words of its entries
/// written by them. Refuses a state that is not the one the events make.
pub(crate) fn touched(batch: &Append<'_>) -> Result<Vec<IncidentRow>, StoreError> {
    if let Some(last) = batch.events.last()
        && last.seq != batch.state.seq
    {
        return Err(StoreError::Mismatch(format!(
            "the events end at seq {}, the state is at {}",
            last.seq, batch.state.seq
        )));
    }
    // Each touched incident: the seq of its first event here (its entries from there on
    // are new), and of its last.
    let mut spans: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    for e in batch.events {
        let Some(r) = e.kind.incident() else {
            continue;
        };
        let span = spans.entry(r.0).or_insert((e.seq, e.seq));
        span.1 = e.seq;
    }
    let mut rows = Vec::with_capacity(spans.len());
    for (n, (first, last)) in spans {
        let inc = batch.state.incidents.get(&n).ok_or_else(|| {
            StoreError::Mismatch(format!("its events touch INC-{n}, which the state lacks"))
        })?;
        let from = inc.entries.partition_point(|e| e.id < first);
        rows.push(IncidentRow::of(inc, last, &inc.entries[from..])?);
    }
    Ok(rows)
}

/// An incident's summary as the indexes keep it (JSON).
pub(crate) fn summary_of(n: u32, body: &str) -> Result<Incident, StoreError> {
    serde_json::from_str(body).map_err(|e| corrupt(&format!("the summary of INC-{n}"), e))
}

/// Fills a search page from the rows that match every filter, offered newest first: each
/// judged for the viewer (see [`words::found`]) until the page is full.
pub(crate) struct Pager<'v> {
    viewer: Viewer<'v>,
    /// The search filters on content: restricted rows the viewer may not see are skipped
    /// rather than withheld.
    content: bool,
    limit: usize,
    max_bytes: usize,
    page: SearchPage,
    bytes: usize,
    taken: usize,
    last: Option<IncidentRef>,
}

impl<'v> Pager<'v> {
    pub fn new(
        q: &crate::protocol::Search,
        viewer: Viewer<'v>,
        limit: usize,
        max_bytes: usize,
    ) -> Self {
        Pager {
            viewer,
            content: words::content_filtered(q),
            limit: limit.max(1),
            max_bytes,
            page: SearchPage::default(),
            bytes: 0,
            taken: 0,
            last: None,
        }
    }

    /// Offers the next matching row; `false` once the page is complete (offer no more).
    /// `members` (its JSON array) and `summary` are read only when needed.
    pub fn offer(
        &mut self,
        n: u32,
        restricted: bool,
        members: impl FnOnce() -> Result<String, StoreError>,
        summary: impl FnOnce() -> Result<String, StoreError>,
    ) -> Result<bool, StoreError> {
        let visible = !restricted || self.viewer.sees_all || {
            let members: Vec<String> = serde_json::from_str(&members()?)
                .map_err(|e| corrupt(&format!("the members of INC-{n}"), e))?;
            members.iter().any(|m| m == self.viewer.name)
        };
        if !visible && self.content {
            return Ok(true);
        }
        if self.taken == self.limit {
            self.page.next = self.last;
            return Ok(false);
        }
        if visible {
            let body = summary()?;
            if self.taken > 0 && self.bytes + body.len() > self.max_bytes {
                self.page.next = self.last;
                return Ok(false);
            }
            self.bytes += body.len();
            self.page.incidents.push(summary_of(n, &body)?);
        } else {
            self.page.withheld.push(IncidentRef(n));
        }
        self.taken += 1;
        self.last = Some(IncidentRef(n));
        Ok(true)
    }

    pub fn finish(self) -> SearchPage {
        self.page
    }
}

/// What a backend does to keep its indexes: the two reads a rebuild folds from, and the
/// writes. [`Indexer::write`] and [`rebuild`] are the one way both backends fill them.
pub(crate) trait Indexer {
    fn read_since(&mut self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError>;
    fn incident_events(&mut self, r: IncidentRef, upto: u64) -> Result<Vec<Event>, StoreError>;
    /// Drops every incident row, word and checkpoint.
    fn clear(&mut self) -> Result<(), StoreError>;
    /// Writes (or replaces) these incidents' rows and adds their words.
    fn put_incidents(&mut self, rows: &[IncidentRow]) -> Result<(), StoreError>;
    /// Writes `state` as the latest checkpoint, dropping older ones.
    fn put_checkpoint(&mut self, state: &State) -> Result<(), StoreError>;
    fn put_resume_floor(&mut self, floor: u64) -> Result<(), StoreError>;

    /// Writes the rows of the incidents `batch`'s events touched, their new words, the
    /// checkpoint when one is due, and the resume floor.
    fn write(&mut self, batch: &Append<'_>) -> Result<(), StoreError> {
        self.put_incidents(&touched(batch)?)?;
        if batch.checkpoint {
            self.put_checkpoint(batch.state)?;
        }
        self.put_resume_floor(batch.resume_floor)
    }
}

/// How long an incident stays in memory after its last event while the indexes are rebuilt
/// (a bound on the rebuild's memory, not the feed's recent window: one folded out early is
/// folded back when touched again).
const REBUILD_WINDOW_SECS: u64 = crate::model::DEFAULT_RECENT_SECS;
/// Events folded between two looks at what may leave memory during a rebuild.
const REBUILD_CHUNK: usize = 10_000;

/// Drops the indexes and makes them again from the events: the whole log folded once, in
/// order, keeping in memory only the incidents live as of the event being folded (others
/// are written out and folded back from their own events if touched again). Ends with a
/// checkpoint of what is still in memory at the head.
pub(crate) fn rebuild(ix: &mut impl Indexer) -> Result<(), StoreError> {
    ix.clear()?;
    let mut state = State::default();
    let mut last_seq: BTreeMap<u32, u64> = BTreeMap::new();
    let row = |inc: &Incident, last_seq: &BTreeMap<u32, u64>| {
        let seq = last_seq.get(&inc.reference.0).copied().unwrap_or(0);
        IncidentRow::of(inc, seq, &inc.entries)
    };
    loop {
        let chunk = ix.read_since(state.seq, REBUILD_CHUNK)?;
        let Some(last) = chunk.last() else { break };
        let now = last.at;
        for e in &chunk {
            fold_into(&mut state, e, |r, upto| {
                let events = ix.incident_events(r, upto)?;
                crate::model::fold_incident(&events).map_err(|err| StoreError::Corrupt {
                    seq: upto,
                    reason: err.to_string(),
                })
            })?;
            if let Some(r) = e.kind.incident() {
                last_seq.insert(r.0, e.seq);
            }
        }
        let gone: Vec<u32> = state
            .incidents
            .values()
            .filter(|i| !i.is_live(now, REBUILD_WINDOW_SECS))
            .map(|i| i.reference.0)
            .collect();
        let mut rows = Vec::with_capacity(gone.len());
        for n in gone {
            if let Some(inc) = state.incidents.remove(&n) {
                rows.push(row(&inc, &last_seq)?);
            }
        }
        ix.put_incidents(&rows)?;
    }
    let rows = state
        .incidents
        .values()
        .map(|inc| row(inc, &last_seq))
        .collect::<Result<Vec<_>, _>>()?;
    ix.put_incidents(&rows)?;
    if state.seq > 0 {
        ix.put_checkpoint(&state)?;
    }
    // A position from before the rebuild may miss what the indexes now say: resumes from it
    // are sent the board.
    ix.put_resume_floor(state.seq)
}
