//! `warroom store copy`: an SQLite log (a feed's data directory) into an empty PostgreSQL
//! store, in one transaction: the feed's id, every event and remembered answer, copied in
//! batches; then the indexes built from the events; then the copy read back through the
//! destination's indexes and checked against the source (every event equal, every
//! incident's summary equal, and the live work folded from each equal). Only then is it
//! committed: a copy that stops or differs leaves the destination as it was.

use std::cell::RefCell;
use std::path::Path;

use ::postgres::Transaction;

use super::index::{self, Batch, Commands, Db};
use super::{LogReader, PgStore, StoreError};
use crate::model::access::Viewer;
use crate::model::{Event, Incident, IncidentRef, State};
use crate::protocol::Search;
use crate::store::{SearchPage, SqliteStore, load_live};

/// Events (and answers) read from the source and written at a time.
const BATCH: usize = 5_000;

/// What a copy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// The source's `events.db`.
    pub from: String,
    /// The destination, without its password.
    pub to: String,
    pub feed_id: String,
    /// Events copied (the log's head: seqs 1 to this).
    pub events: u64,
    pub answers: u64,
    /// Incidents in the indexes built at the destination.
    pub incidents: usize,
    /// Incidents in the live work, folded the same from both.
    pub live: usize,
}

impl std::fmt::Display for CopyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "copied the event log {} to {}: feed {}, {} events (seq 1 to {}), {} command \
             answers, {} incidents indexed; checked: every event and summary reads back the \
             same, and the live work ({} incidents) folds the same from both",
            self.from,
            self.to,
            self.feed_id,
            self.events,
            self.events,
            self.answers,
            self.incidents,
            self.live
        )
    }
}

/// Copies the SQLite log in `from` (a data directory) to the empty PostgreSQL store at
/// `to`. `progress` hears the events copied so far and the source's head, after each
/// batch. Stop the feed on `from` first: what it appends during the copy is not copied.
pub fn copy_to_postgres(
    from: &Path,
    to: &str,
    mut progress: impl FnMut(u64, u64) + Send + 'static,
) -> Result<CopyReport, StoreError> {
    let file = from.join("events.db");
    if !file.is_file() {
        return Err(StoreError::BadAddress {
            at: from.display().to_string(),
            reason: "it holds no event log (events.db)".into(),
        });
    }
    let source = SqliteStore::open(from)?.reader()?;
    let dest = PgStore::open(to)?;
    let to = dest.shown().to_string();
    let from = file.display().to_string();
    dest.call("copying", move |conn| {
        conn.write(|db| {
            let answers = count_answers(db)?;
            let head = index::head(db)?;
            if head > 0 || answers > 0 {
                return Err(StoreError::NotEmpty {
                    at: to.clone(),
                    head,
                    answers,
                });
            }
            let feed_id = source.feed_id()?;
            index::set_feed_id(db, &feed_id)?;
            let last = source.head()?;
            let mut copied = 0;
            loop {
                let events = source.read_since(copied, BATCH)?;
                let Some(e) = events.last() else { break };
                copied = e.seq;
                index::insert_log(db, &Batch::events(&events)?)?;
                progress(copied, last);
            }
            let mut answers = 0u64;
            let mut after = None;
            loop {
                let records = source.answers_after(after.as_ref(), BATCH)?;
                let Some(r) = records.last() else { break };
                after = Some((r.actor.clone(), r.id.clone()));
                let mut columns = Commands::default();
                for r in &records {
                    columns.push(r)?;
                }
                index::insert_commands(db, &columns)?;
                answers += records.len() as u64;
            }
            crate::store::rows::rebuild(db)?;
            // The tables were just filled: let the planner know their sizes.
            db.c.batch_execute("ANALYZE events, commands, incidents, words, checkpoints")?;
            let (incidents, live) = check(db, &source, copied, answers)?;
            Ok(CopyReport {
                from,
                to,
                feed_id,
                events: copied,
                answers,
                incidents,
                live,
            })
        })
    })
}

fn count_answers(db: &mut Db<'_, Transaction<'_>>) -> Result<u64, StoreError> {
    let n: i64 =
        db.c.query_one("SELECT COUNT(*) FROM commands", &[])?
            .try_get(0)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Reads the copy back (inside its transaction) and compares it with the source; returns
/// the incidents indexed and the live ones.
fn check(
    db: &mut Db<'_, Transaction<'_>>,
    source: &SqliteStore,
    head: u64,
    answers: u64,
) -> Result<(usize, usize), StoreError> {
    let differs = |what: String| Err(StoreError::CopyDiffers(what));
    let mut at = 0;
    while at < head {
        let want = source.read_since(at, BATCH)?;
        let got = index::read_since(db, at, BATCH)?;
        if got != want {
            let seq = got
                .iter()
                .zip(&want)
                .find(|(g, w)| g != w)
                .map_or(at + 1, |(g, _)| g.seq);
            return differs(format!("the events differ at seq {seq}"));
        }
        at = want.last().map_or(head, |e| e.seq);
    }
    if count_answers(db)? != answers {
        return differs("the command answers differ in number".into());
    }
    let summaries = index::summaries(db)?;
    if summaries != source.summaries()? {
        return differs("the incidents' summaries differ".into());
    }
    let now = chrono::Utc::now();
    let recent = crate::model::DEFAULT_RECENT_SECS;
    let (want, _) = load_live(source, now, recent)?;
    let (got, _) = load_live(&InTransaction(RefCell::new(db)), now, recent)?;
    if got != want {
        return differs("the live work folds differently".into());
    }
    Ok((summaries.len(), got.incidents.len()))
}

/// The copy as a reader, before it is committed.
struct InTransaction<'d, 'a, 't>(RefCell<&'d mut Db<'a, Transaction<'t>>>);

impl LogReader for InTransaction<'_, '_, '_> {
    fn feed_id(&self) -> Result<String, StoreError> {
        index::feed_id(&mut self.0.borrow_mut())
    }

    fn head(&self) -> Result<u64, StoreError> {
        index::head(&mut self.0.borrow_mut())
    }

    fn read_since(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        index::read_since(&mut self.0.borrow_mut(), after, limit)
    }

    fn incident_events(&self, incident: IncidentRef, upto: u64) -> Result<Vec<Event>, StoreError> {
        index::incident_events(&mut self.0.borrow_mut(), incident, upto)
    }

    fn last_seq_of(&self, incident: IncidentRef) -> Result<Option<u64>, StoreError> {
        index::last_seq_of(&mut self.0.borrow_mut(), incident)
    }

    fn latest_checkpoint(&self) -> Result<Option<State>, StoreError> {
        index::latest_checkpoint(&mut self.0.borrow_mut())
    }

    fn live_refs(
        &self,
        updated_after: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<IncidentRef>, StoreError> {
        index::live_refs(&mut self.0.borrow_mut(), updated_after)
    }

    fn search(
        &self,
        query: &Search,
        viewer: Viewer<'_>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<SearchPage, StoreError> {
        super::search::search(&mut self.0.borrow_mut(), query, viewer, limit, max_bytes)
    }

    fn summaries(&self) -> Result<Vec<Incident>, StoreError> {
        index::summaries(&mut self.0.borrow_mut())
    }

    fn fired_steps(&self) -> Result<Vec<Event>, StoreError> {
        index::fired_steps(&mut self.0.borrow_mut())
    }

    fn resume_floor(&self) -> Result<u64, StoreError> {
        index::resume_floor(&mut self.0.borrow_mut())
    }
}
