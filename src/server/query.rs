//! Answering a client's `query`: an incident's room (`open`) and older pages of its
//! timeline (`timeline`), the archive (`search`), exports and metrics, each judged for the
//! asker as events are. Read-only and off the core thread: the live work is read under the
//! published state's lock (copying only the page), everything else from the store through a
//! reader connection of its own, on the blocking pool. No answer frame passes the
//! transport's limit: pages are cut by count and by encoded size, exports come in parts.

use std::sync::Arc;

use crate::model::access::Viewer;
use crate::model::{Entry, Incident, IncidentRef, State};
use crate::protocol::{ErrorCode, Query, QueryResult, Search};
use crate::report::export::ExportFormat;
use crate::server::App;
use crate::server::session::board::FRAME_BUDGET;
use crate::store::{LogReader, StoreError};

/// Entries in an `open` or `timeline` page when the query gives no `limit`.
pub const DEFAULT_PAGE: usize = 100;
/// Most entries in a page, whatever the query asks.
pub const MAX_PAGE: usize = 1000;
/// Incidents in a `search` page when the query gives no `limit`.
pub const DEFAULT_SEARCH: usize = 50;
/// Most incidents in a `search` page.
pub const MAX_SEARCH: usize = 200;
/// Events in a `log` page when the query gives no `limit`.
pub const DEFAULT_LOG: usize = 500;
/// Most events in a `log` page.
pub const MAX_LOG: usize = 2000;

/// Why a query was not answered: an `error` frame with the query's id.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
}

impl Refusal {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
        }
    }

    fn store(e: StoreError) -> Self {
        tracing::error!("a query could not read the log: {e}");
        Refusal::new(
            ErrorCode::Unavailable,
            format!("the event log could not be read ({e}); retry"),
        )
    }
}

/// Who asks, owned (the answer is made on another thread).
#[derive(Debug, Clone)]
pub struct Asker {
    pub name: String,
    pub sees_all: bool,
}

impl Asker {
    fn viewer(&self) -> Viewer<'_> {
        Viewer {
            name: &self.name,
            sees_all: self.sees_all,
        }
    }
}

fn restricted(r: IncidentRef) -> Refusal {
    Refusal::new(
        ErrorCode::Forbidden,
        format!("{r} is restricted (need to know): you are not a member; ask an admin to add you"),
    )
}

fn not_found(r: IncidentRef) -> Refusal {
    Refusal::new(ErrorCode::NotFound, format!("{r} does not exist"))
}

fn page_size(limit: Option<u32>, default: usize, max: usize) -> usize {
    limit.map_or(default, |l| l as usize).clamp(1, max)
}

fn encoded_len<T: serde::Serialize>(v: &T) -> usize {
    serde_json::to_string(v).map_or(0, |s| s.len())
}

/// How many of `entries`, counted from the end, fit in `budget` bytes (at least one, when
/// there is one: a single entry is at most 4,000 characters).
fn fit_from_end(entries: &[Entry], limit: usize, budget: usize) -> usize {
    let mut used = 0;
    let mut n = 0;
    for e in entries.iter().rev().take(limit) {
        let len = encoded_len(e) + 1;
        if n > 0 && used + len > budget {
            break;
        }
        used += len;
        n += 1;
    }
    n
}

/// The room's first page: the incident with its newest entries, as many as `limit` and the
/// frame allow; `elided` counts the older ones.
fn opened(inc: &Incident, limit: usize) -> Incident {
    let head = inc.newest(0);
    let budget = FRAME_BUDGET.saturating_sub(encoded_len(&head));
    let n = fit_from_end(&inc.entries, limit, budget);
    inc.newest(n)
}

/// The page of entries before `before`, newest ones first to fit; `more` when older remain.
fn older(inc: &Incident, before: u64, limit: usize) -> QueryResult {
    let (page, _) = inc.entries_before(before, limit);
    let n = fit_from_end(page, limit, FRAME_BUDGET);
    let page = &page[page.len() - n..];
    let more = page
        .first()
        .is_some_and(|first| inc.entries.first().is_some_and(|e| e.id < first.id));
    QueryResult::Entries {
        incident: inc.reference,
        entries: page.to_vec(),
        more,
    }
}

/// Answers `query` for `asker`: one result, or several (an export's parts).
pub(crate) async fn answer(
    app: &App,
    asker: Asker,
    query: Query,
) -> Result<Vec<QueryResult>, Refusal> {
    match query {
        Query::Open { incident, limit } => {
            let limit = page_size(limit, DEFAULT_PAGE, MAX_PAGE);
            let inc = with_incident(app, &asker, incident, move |inc| opened(inc, limit)).await?;
            Ok(vec![QueryResult::Incident {
                incident: Box::new(inc),
            }])
        }
        Query::Timeline {
            incident,
            before,
            limit,
        } => {
            let limit = page_size(limit, DEFAULT_PAGE, MAX_PAGE);
            let page =
                with_incident(app, &asker, incident, move |inc| older(inc, before, limit)).await?;
            Ok(vec![page])
        }
        Query::Search(search) => {
            let limit = page_size(search.limit, DEFAULT_SEARCH, MAX_SEARCH);
            let page = read(app, move |r| search_page(r, &search, &asker, limit)).await?;
            Ok(vec![page])
        }
        Query::Export { incident, format } => {
            read(app, move |r| export(r, incident, format, &asker)).await
        }
        Query::Metrics { since } => {
            let rules = app.rules.clone();
            let now = app.clock.now();
            read(app, move |r| {
                let m = metrics(r, &asker, &rules, since, now)?;
                Ok(QueryResult::Metrics {
                    metrics: Box::new(m),
                })
            })
            .await
            .map(|m| vec![m])
        }
        Query::Log { after, limit } => {
            let limit = page_size(limit, DEFAULT_LOG, MAX_LOG);
            let judge = LogJudge::of(&app.published.read(), asker.viewer());
            let page = read(app, move |r| log_page(r, judge, after, limit)).await?;
            Ok(vec![page])
        }
    }
}

/// Who may see which incident's events, by today's membership, as a catch-up judges: the
/// live work as the published state holds it, an archived incident by its summary in the
/// store. A page reads no further than the state it is judged by.
struct LogJudge {
    /// The state's seq: the page ends there.
    upto: u64,
    sees_all: bool,
    name: String,
    /// The live incidents, and whether this reader may see each.
    live: std::collections::BTreeMap<IncidentRef, bool>,
}

impl LogJudge {
    fn of(state: &State, viewer: Viewer<'_>) -> LogJudge {
        LogJudge {
            upto: state.seq,
            sees_all: viewer.sees_all,
            name: viewer.name.to_string(),
            live: if viewer.sees_all {
                Default::default()
            } else {
                state
                    .incidents
                    .values()
                    .map(|i| (i.reference, i.visible_to(viewer)))
                    .collect()
            },
        }
    }

    /// Whether the reader may see `r`'s events; an archived incident is looked up once per
    /// page. Fails closed: an incident the store does not know is withheld.
    fn may_see(&mut self, r: IncidentRef, store: &dyn LogReader) -> Result<bool, StoreError> {
        if self.sees_all {
            return Ok(true);
        }
        if let Some(&seen) = self.live.get(&r) {
            return Ok(seen);
        }
        let viewer = Viewer {
            name: &self.name,
            sees_all: false,
        };
        let seen = store.summary(r)?.is_some_and(|inc| inc.visible_to(viewer));
        self.live.insert(r, seen);
        Ok(seen)
    }
}

/// A page of the log after `after`, judged, cut by count and by the frame's budget.
fn log_page(
    r: &dyn LogReader,
    mut judge: LogJudge,
    after: u64,
    limit: usize,
) -> Result<QueryResult, Refusal> {
    let want = limit.min(judge.upto.saturating_sub(after) as usize);
    let read = if want == 0 {
        Vec::new()
    } else {
        r.read_since(after, want).map_err(Refusal::store)?
    };
    let mut events = Vec::with_capacity(read.len());
    let mut used = 0;
    for e in read {
        if e.seq > judge.upto {
            break;
        }
        let visible = match e.kind.incident() {
            Some(incident) => judge.may_see(incident, r).map_err(Refusal::store)?,
            None => true,
        };
        let e = if visible {
            e
        } else {
            crate::model::access::withheld(&e)
        };
        let len = encoded_len(&e) + 1;
        if !events.is_empty() && used + len > FRAME_BUDGET {
            break;
        }
        used += len;
        events.push(e);
    }
    let last = events.last().map_or(after, |e: &crate::model::Event| e.seq);
    Ok(QueryResult::Events {
        more: last < judge.upto,
        events,
    })
}

/// Runs `f` on the incident as `asker` may have it: the live one under the published
/// state's lock, an archived one folded from its events (or from the cache).
async fn with_incident<T: Send + 'static>(
    app: &App,
    asker: &Asker,
    r: IncidentRef,
    f: impl FnOnce(&Incident) -> T + Send + 'static,
) -> Result<T, Refusal> {
    {
        let state = app.published.read();
        if let Some(inc) = state.incident(r) {
            if !inc.visible_to(asker.viewer()) {
                return Err(restricted(r));
            }
            return Ok(f(inc));
        }
    }
    let asker = asker.clone();
    let cache = app.archive.clone();
    read(app, move |reader| {
        let last = reader
            .last_seq_of(r)
            .map_err(Refusal::store)?
            .ok_or_else(|| not_found(r))?;
        let cached = cache.lock().unwrap_or_else(|p| p.into_inner()).get(r, last);
        let inc = match cached {
            Some(inc) => inc,
            None => {
                let inc = reader
                    .load_incident(r, u64::MAX)
                    .map_err(Refusal::store)?
                    .ok_or_else(|| not_found(r))?;
                let inc = Arc::new(inc);
                cache
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .put(last, inc.clone());
                inc
            }
        };
        if !inc.visible_to(asker.viewer()) {
            return Err(restricted(r));
        }
        Ok(f(&inc))
    })
    .await
}

/// Runs `f` with the queries' own reader connection, on the blocking pool.
async fn read<T: Send + 'static>(
    app: &App,
    f: impl FnOnce(&dyn LogReader) -> Result<T, Refusal> + Send + 'static,
) -> Result<T, Refusal> {
    let reader = app.query_reader.clone();
    tokio::task::spawn_blocking(move || {
        let reader = reader.lock().unwrap_or_else(|p| p.into_inner());
        f(reader.as_ref())
    })
    .await
    .unwrap_or_else(|e| {
        Err(Refusal::new(
            ErrorCode::Unavailable,
            format!("the query stopped ({e}); retry"),
        ))
    })
}

fn search_page(
    r: &dyn LogReader,
    search: &Search,
    asker: &Asker,
    limit: usize,
) -> Result<QueryResult, Refusal> {
    let page = r
        .search(search, asker.viewer(), limit, FRAME_BUDGET)
        .map_err(Refusal::store)?;
    Ok(QueryResult::Incidents {
        incidents: page.incidents,
        next: page.next,
        withheld: page.withheld,
    })
}

/// Bytes of export text in one part, at most, as the frame carries it (escaped).
pub const EXPORT_PART_BYTES: usize = 512 * 1024;

/// `text` cut at character boundaries into parts of at most `budget` bytes each once
/// escaped as a JSON string (always at least one part).
pub fn parts(text: &str, budget: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut used = 0;
    for (i, c) in text.char_indices() {
        let len = match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        };
        if used + len > budget && i > start {
            out.push(text[start..i].to_string());
            start = i;
            used = 0;
        }
        used += len;
    }
    out.push(text[start..].to_string());
    out
}

fn export(
    r: &dyn LogReader,
    incident: IncidentRef,
    format: ExportFormat,
    asker: &Asker,
) -> Result<Vec<QueryResult>, Refusal> {
    let events = r
        .incident_events(incident, u64::MAX)
        .map_err(Refusal::store)?;
    let inc = crate::model::fold_incident(&events)
        .map_err(|e| {
            Refusal::store(StoreError::Corrupt {
                seq: 0,
                reason: e.to_string(),
            })
        })?
        .ok_or_else(|| not_found(incident))?;
    if !inc.visible_to(asker.viewer()) {
        return Err(restricted(incident));
    }
    let text = crate::report::export::render(&inc, &events, format)
        .map_err(|e| Refusal::new(ErrorCode::Unavailable, e))?;
    let parts = parts(&text, EXPORT_PART_BYTES);
    let last = parts.len() - 1;
    Ok(parts
        .into_iter()
        .enumerate()
        .map(|(i, text)| QueryResult::Export {
            incident,
            part: i as u32,
            text,
            last: i == last,
        })
        .collect())
}

/// The figures `warroom metrics` computed from the whole log, from the store's summaries
/// and its fired steps: the incidents `asker` may not see are withheld (not counted, nor
/// their pages).
fn metrics(
    r: &dyn LogReader,
    asker: &Asker,
    rules: &crate::server::Rules,
    since: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<crate::report::metrics::Metrics, Refusal> {
    let mut state = State::default();
    for inc in r.summaries().map_err(Refusal::store)? {
        if inc.visible_to(asker.viewer()) {
            state.incidents.insert(inc.reference.0, inc);
        } else {
            state.withheld.insert(inc.reference);
        }
    }
    let fired: Vec<_> = r
        .fired_steps()
        .map_err(Refusal::store)?
        .into_iter()
        .filter(|e| {
            e.kind
                .incident()
                .is_some_and(|r| state.incident(r).is_some())
        })
        .collect();
    Ok(crate::report::metrics::compute(
        &state,
        Some(&fired),
        rules.policy.schedule_for(None),
        rules.policy.critical_services(),
        since,
        now,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_parts_stay_under_their_budget_once_escaped() {
        let text = "a\"b\\c\nd\u{1}é".repeat(1000);
        let ps = parts(&text, 100);
        assert!(ps.len() > 1);
        assert_eq!(ps.concat(), text);
        for p in &ps {
            let escaped = serde_json::to_string(p).unwrap().len() - 2;
            assert!(escaped <= 100, "{escaped}");
        }
        assert_eq!(parts("", 10), [""]);
    }
}
