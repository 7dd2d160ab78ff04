//! The indexes beside the log in SQLite: written with each append and made again from the
//! events (by [`rows`]' one rule for both backends), read for search, summaries and
//! checkpoints.

use chrono::{DateTime, Utc};
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use crate::model::access::Viewer;
use crate::model::{Event, Incident, IncidentRef, State};
use crate::protocol::Search;
use crate::store::rows::{self, IncidentRow, Indexer, Pager, nanos};
use crate::store::words;
use crate::store::{SearchPage, StoreError};

/// The indexes of one SQLite connection (inside the caller's transaction).
pub(super) struct Index<'c>(pub &'c Connection);

impl Indexer for Index<'_> {
    fn read_since(&mut self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        super::read_since(self.0, after, limit)
    }

    fn incident_events(&mut self, r: IncidentRef, upto: u64) -> Result<Vec<Event>, StoreError> {
        super::incident_events(self.0, r, upto)
    }

    fn clear(&mut self) -> Result<(), StoreError> {
        self.0
            .execute_batch("DELETE FROM incidents; DELETE FROM words; DELETE FROM checkpoints;")?;
        Ok(())
    }

    fn put_incidents(&mut self, rows: &[IncidentRow]) -> Result<(), StoreError> {
        let mut put = self.0.prepare_cached(
            "INSERT OR REPLACE INTO incidents (ref, declared_at, updated_at, severity, active, \
             service, restricted, members, last_seq, summary) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        let mut word = self
            .0
            .prepare_cached("INSERT OR IGNORE INTO words (incident, word) VALUES (?1, ?2)")?;
        for row in rows {
            put.execute(params![
                row.reference,
                row.declared_at,
                row.updated_at,
                row.severity,
                row.active,
                row.service,
                row.restricted,
                row.members,
                row.last_seq as i64,
                row.summary
            ])?;
            for w in &row.words {
                word.execute(params![row.reference, w])?;
            }
        }
        Ok(())
    }

    fn put_checkpoint(&mut self, state: &State) -> Result<(), StoreError> {
        let body = rows::json(state.seq, state)?;
        self.0.execute(
            "INSERT OR REPLACE INTO checkpoints (seq, state) VALUES (?1, ?2)",
            params![state.seq as i64, body],
        )?;
        self.0.execute(
            "DELETE FROM checkpoints WHERE seq < ?1",
            params![state.seq as i64],
        )?;
        Ok(())
    }

    fn put_resume_floor(&mut self, floor: u64) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('resume_floor', ?1)",
            [floor.to_string()],
        )?;
        Ok(())
    }
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

pub(super) fn summary(conn: &Connection, r: IncidentRef) -> Result<Option<Incident>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT summary FROM incidents WHERE ref = ?1")?;
    let body: Option<String> = stmt.query_row([r.0], |row| row.get(0)).optional()?;
    body.map(|b| rows::summary_of(r.0, &b)).transpose()
}

pub(super) fn summaries(conn: &Connection) -> Result<Vec<Incident>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT ref, summary FROM incidents ORDER BY ref")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (n, body) = row?;
        out.push(rows::summary_of(n, &body)?);
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
    let mut sql =
        String::from("SELECT ref, restricted, members, summary FROM incidents WHERE ref < ?1");
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
    // Content filters apply to every row: the pager skips the restricted incidents the
    // viewer may not see when the search filters on content (see `words::found`).
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
    let wanted = words::wanted(q);
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
    let mut found = stmt.query(params_from_iter(args.iter()))?;
    let mut pager = Pager::new(q, viewer, limit, max_bytes);
    while let Some(row) = found.next()? {
        let more = pager.offer(
            row.get(0)?,
            row.get(1)?,
            || Ok(row.get(2)?),
            || Ok(row.get(3)?),
        )?;
        if !more {
            break;
        }
    }
    Ok(pager.finish())
}
