//! The indexes beside the log: writing them with each append, reading them (search,
//! summaries, checkpoints), and making them again from the events alone.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use crate::model::access::Viewer;
use crate::model::{Incident, IncidentRef, State};
use crate::protocol::Search;
use crate::store::words::{self, content_filtered};
use crate::store::{Append, SearchPage, StoreError, fold_into};

/// A time as the index keeps it: nanoseconds since 1970 (saturating far from now).
fn nanos(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(if t.timestamp() > 0 {
        i64::MAX
    } else {
        i64::MIN
    })
}

fn json<T: serde::Serialize>(seq: u64, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt {
        seq,
        reason: e.to_string(),
    })
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        seq: 0,
        reason: format!("{what}: {e}"),
    }
}

/// Writes the rows of the incidents `batch`'s events touched, their new words, the
/// checkpoint when one is due, and the resume floor.
pub(super) fn write(conn: &Connection, batch: &Append<'_>) -> Result<(), StoreError> {
    if let Some(last) = batch.events.last()
        && last.seq != batch.state.seq
    {
        return Err(StoreError::Mismatch(format!(
            "the events end at seq {}, the state is at {}",
            last.seq, batch.state.seq
        )));
    }
    // Each touched incident: the seq of its last event here, and of its first (its entries
    // from there on are new).
    let mut touched: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    for e in batch.events {
        let span = touched.entry(e.kind.incident().0).or_insert((e.seq, e.seq));
        span.1 = e.seq;
    }
    for (n, (first, last)) in touched {
        let inc = batch.state.incidents.get(&n).ok_or_else(|| {
            StoreError::Mismatch(format!("its events touch INC-{n}, which the state lacks"))
        })?;
        let from = inc.entries.partition_point(|e| e.id < first);
        put_incident(conn, inc, last, &inc.entries[from..])?;
    }
    if batch.checkpoint {
        put_checkpoint(conn, batch.state)?;
    }
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('resume_floor', ?1)",
        [batch.resume_floor.to_string()],
    )?;
    Ok(())
}

/// An incident's row, and the words of its title, service and `new_entries`.
fn put_incident(
    conn: &Connection,
    inc: &Incident,
    last_seq: u64,
    new_entries: &[crate::model::Entry],
) -> Result<(), StoreError> {
    let summary = json(last_seq, &inc.summary(0))?;
    let members: Vec<&String> = inc.members.keys().collect();
    conn.prepare_cached(
        "INSERT OR REPLACE INTO incidents (ref, declared_at, updated_at, severity, active, \
         service, restricted, members, last_seq, summary) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        inc.reference.0,
        nanos(inc.declared_at),
        nanos(inc.updated_at),
        inc.severity.number(),
        inc.is_active(),
        inc.service,
        inc.restricted,
        json(last_seq, &members)?,
        last_seq as i64,
        summary
    ])?;
    let mut put =
        conn.prepare_cached("INSERT OR IGNORE INTO words (incident, word) VALUES (?1, ?2)")?;
    for w in words::incident_words(inc, new_entries) {
        put.execute(params![inc.reference.0, w])?;
    }
    Ok(())
}

fn put_checkpoint(conn: &Connection, state: &State) -> Result<(), StoreError> {
    let body = json(state.seq, state)?;
    conn.execute(
        "INSERT OR REPLACE INTO checkpoints (seq, state) VALUES (?1, ?2)",
        params![state.seq as i64, body],
    )?;
    conn.execute(
        "DELETE FROM checkpoints WHERE seq < ?1",
        params![state.seq as i64],
    )?;
    Ok(())
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
pub(super) fn rebuild(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("DELETE FROM incidents; DELETE FROM words; DELETE FROM checkpoints;")?;
    let mut state = State::default();
    let mut last_seq: BTreeMap<u32, u64> = BTreeMap::new();
    loop {
        let chunk = super::read_since(conn, state.seq, REBUILD_CHUNK)?;
        let Some(last) = chunk.last() else { break };
        let now = last.at;
        for e in &chunk {
            fold_into(&mut state, e, |r, upto| {
                let events = super::incident_events(conn, r, upto)?;
                crate::model::fold_incident(&events).map_err(|err| StoreError::Corrupt {
                    seq: upto,
                    reason: err.to_string(),
                })
            })?;
            last_seq.insert(e.kind.incident().0, e.seq);
        }
        let gone: Vec<u32> = state
            .incidents
            .values()
            .filter(|i| !i.is_live(now, REBUILD_WINDOW_SECS))
            .map(|i| i.reference.0)
            .collect();
        for n in gone {
            if let Some(inc) = state.incidents.remove(&n) {
                let seq = last_seq.get(&n).copied().unwrap_or(0);
                put_incident(conn, &inc, seq, &inc.entries)?;
            }
        }
    }
    for inc in state.incidents.values() {
        let seq = last_seq.get(&inc.reference.0).copied().unwrap_or(0);
        put_incident(conn, inc, seq, &inc.entries)?;
    }
    if state.seq > 0 {
        put_checkpoint(conn, &state)?;
    }
    // A position from before the rebuild may miss what the indexes now say: resumes from it
    // are sent the board.
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('resume_floor', ?1)",
        [state.seq.to_string()],
    )?;
    Ok(())
}

pub(super) fn last_seq_of(conn: &Connection, r: IncidentRef) -> Result<Option<u64>, StoreError> {
    let seq: Option<i64> = conn
        .prepare_cached("SELECT last_seq FROM incidents WHERE ref = ?1")?
        .query_row([r.0], |row| row.get(0))
        .optional()?;
    Ok(seq.map(|s| s as u64))
}

pub(super) fn latest_checkpoint(conn: &Connection) -> Result<Option<State>, StoreError> {
    let row: Option<(i64, String)> = conn
        .query_row(
            "SELECT seq, state FROM checkpoints ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match row {
        None => Ok(None),
        Some((seq, body)) => {
            serde_json::from_str(&body)
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    seq: seq as u64,
                    reason: format!("the checkpoint does not decode: {e}"),
                })
        }
    }
}

pub(super) fn live_refs(
    conn: &Connection,
    updated_after: DateTime<Utc>,
) -> Result<Vec<IncidentRef>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT ref FROM incidents WHERE active = 1 OR updated_at > ?1 ORDER BY ref",
    )?;
    let rows = stmt.query_map([nanos(updated_after)], |r| r.get::<_, u32>(0))?;
    let mut out = Vec::new();
    for r in rows {
        out.push(IncidentRef(r?));
    }
    Ok(out)
}

pub(super) fn resume_floor(conn: &Connection) -> Result<u64, StoreError> {
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'resume_floor'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

fn decode_summary(n: u32, body: &str) -> Result<Incident, StoreError> {
    serde_json::from_str(body).map_err(|e| corrupt(&format!("the summary of INC-{n}"), e))
}

pub(super) fn summary(conn: &Connection, r: IncidentRef) -> Result<Option<Incident>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT summary FROM incidents WHERE ref = ?1")?;
    let body: Option<String> = stmt.query_row([r.0], |row| row.get(0)).optional()?;
    body.map(|b| decode_summary(r.0, &b)).transpose()
}

pub(super) fn summaries(conn: &Connection) -> Result<Vec<Incident>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT ref, summary FROM incidents ORDER BY ref")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (n, body) = row?;
        out.push(decode_summary(n, &body)?);
    }
    Ok(out)
}

/// The search, paged: the rows matching every filter, newest first, judged for `viewer`
/// one by one (see [`words::found`]) until the page is full.
pub(super) fn search(
    conn: &Connection,
    q: &Search,
    viewer: Viewer<'_>,
    limit: usize,
    max_bytes: usize,
) -> Result<SearchPage, StoreError> {
    let limit = limit.max(1);
    let mut sql = String::from(
        "SELECT ref, restricted, members, summary, declared_at FROM incidents WHERE ref < ?1",
    );
    let mut args: Vec<Sql> = vec![Sql::Integer(q.before.map_or(i64::MAX, |r| i64::from(r.0)))];
    let mut arg = |sql: &mut String, clause: &str, v: Sql| {
        args.push(v);
        sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(t) = q.since {
        arg(&mut sql, " AND declared_at >= ?", Sql::Integer(nanos(t)));
    }
    if let Some(t) = q.until {
        arg(&mut sql, " AND declared_at < ?", Sql::Integer(nanos(t)));
    }
    // Content filters leave out the restricted incidents the viewer may not see: those
    // are judged on what is public of them only.
    let content = content_filtered(q);
    let mut filters = String::new();
    if let Some(s) = q.severity {
        arg(
            &mut filters,
            " AND severity = ?",
            Sql::Integer(i64::from(s.number())),
        );
    }
    if let Some(s) = &q.service {
        arg(
            &mut filters,
            " AND service = ? COLLATE NOCASE",
            Sql::Text(s.clone()),
        );
    }
    if let Some(a) = q.active {
        arg(&mut filters, " AND active = ?", Sql::Integer(i64::from(a)));
    }
    let wanted: BTreeSet<String> = q
        .text
        .as_deref()
        .map(|t| words::words(t).collect())
        .unwrap_or_default();
    for w in wanted {
        arg(
            &mut filters,
            " AND EXISTS (SELECT 1 FROM words WHERE incident = incidents.ref AND word >= ? \
             AND word < ",
            Sql::Text(w.clone()),
        );
        arg(&mut filters, "? || char(1114111))", Sql::Text(w));
    }
    sql.push_str(&filters);
    sql.push_str(" ORDER BY ref DESC");
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params_from_iter(args.iter()))?;
    let mut page = SearchPage::default();
    let mut bytes = 0usize;
    let mut taken = 0usize;
    let mut last: Option<IncidentRef> = None;
    while let Some(row) = rows.next()? {
        let n: u32 = row.get(0)?;
        let restricted: bool = row.get(1)?;
        let visible = !restricted || viewer.sees_all || {
            let members: String = row.get(2)?;
            let members: Vec<String> = serde_json::from_str(&members)
                .map_err(|e| corrupt(&format!("the members of INC-{n}"), e))?;
            members.iter().any(|m| m == viewer.name)
        };
        if !visible && content {
            continue;
        }
        if taken == limit {
            page.next = last;
            break;
        }
        if visible {
            let body: String = row.get(3)?;
            if taken > 0 && bytes + body.len() > max_bytes {
                page.next = last;
                break;
            }
            bytes += body.len();
            page.incidents.push(decode_summary(n, &body)?);
        } else {
            page.withheld.push(IncidentRef(n));
        }
        taken += 1;
        last = Some(IncidentRef(n));
    }
    Ok(page)
}
