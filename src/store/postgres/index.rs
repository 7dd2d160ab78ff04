//! Reading and writing the PostgreSQL log: the events, the remembered answers, and the
//! indexes beside them (written by [`rows`]' one rule for both backends). Every function
//! takes a [`Db`]: a connection or a transaction, with the connection's prepared
//! statements. The search of incidents is beside it (`search`).

use std::collections::HashMap;

use ::postgres::error::SqlState;
use ::postgres::types::ToSql;
use ::postgres::{GenericClient, Row, Statement};
use chrono::{DateTime, Utc};

use crate::model::{Event, Incident, IncidentRef, State};
use crate::protocol::Answer;
use crate::store::rows::{self, IncidentRow, Indexer, nanos};
use crate::store::{Append, StoreError};

/// Statements prepared on one connection, by their text.
pub(super) type Prepared = HashMap<&'static str, Statement>;

/// A connection or a transaction, and the statements prepared on its connection.
pub(super) struct Db<'a, C: GenericClient> {
    pub c: &'a mut C,
    prepared: &'a mut Prepared,
}

type Params<'p> = [&'p (dyn ToSql + Sync)];

impl<'a, C: GenericClient> Db<'a, C> {
    pub fn new(c: &'a mut C, prepared: &'a mut Prepared) -> Self {
        Db { c, prepared }
    }

    pub(super) fn statement(&mut self, sql: &'static str) -> Result<Statement, ::postgres::Error> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self.c.prepare(sql)?;
        self.prepared.insert(sql, s.clone());
        Ok(s)
    }

    fn query(&mut self, sql: &'static str, params: &Params<'_>) -> Result<Vec<Row>, StoreError> {
        let s = self.statement(sql)?;
        Ok(self.c.query(&s, params)?)
    }

    fn query_opt(
        &mut self,
        sql: &'static str,
        params: &Params<'_>,
    ) -> Result<Option<Row>, StoreError> {
        let s = self.statement(sql)?;
        Ok(self.c.query_opt(&s, params)?)
    }

    fn execute(&mut self, sql: &'static str, params: &Params<'_>) -> Result<u64, StoreError> {
        let s = self.statement(sql)?;
        Ok(self.c.execute(&s, params)?)
    }
}

/// A seq or limit as PostgreSQL keeps it (saturating: none is near the top).
pub(super) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) fn seq_of(row: &Row, i: usize) -> Result<u64, StoreError> {
    Ok(u64::try_from(row.try_get::<_, i64>(i)?).unwrap_or(0))
}

pub(super) fn ref_of(row: &Row, i: usize) -> Result<u32, StoreError> {
    let n: i64 = row.try_get(i)?;
    u32::try_from(n).map_err(|_| rows::corrupt("an incident reference", n))
}

/// A service as search compares it: lower-cased in ASCII, with the one character a
/// PostgreSQL text cannot hold escaped (and the escape itself), so equal keys are equal
/// services but for ASCII case.
pub(super) fn service_key(s: &str) -> String {
    s.to_ascii_lowercase()
        .replace('\\', "\\\\")
        .replace('\0', "\\0")
}

fn events(rows: Vec<Row>) -> Result<Vec<Event>, StoreError> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let seq = seq_of(&row, 0)?;
        let body: String = row.try_get(1)?;
        out.push(
            serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
                seq,
                reason: e.to_string(),
            })?,
        );
    }
    Ok(out)
}

fn meta(db: &mut Db<'_, impl GenericClient>, key: &str) -> Result<Option<String>, StoreError> {
    let row = db.query_opt("SELECT value FROM meta WHERE key = $1", &[&key])?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

fn put_meta(db: &mut Db<'_, impl GenericClient>, key: &str, value: &str) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO meta (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        &[&key, &value],
    )?;
    Ok(())
}

pub(super) fn feed_id(db: &mut Db<'_, impl GenericClient>) -> Result<String, StoreError> {
    meta(db, "feed_id")?.ok_or_else(|| rows::corrupt("the log", "it has no feed id"))
}

pub(super) fn set_feed_id(db: &mut Db<'_, impl GenericClient>, id: &str) -> Result<(), StoreError> {
    put_meta(db, "feed_id", id)
}

pub(super) fn head(db: &mut Db<'_, impl GenericClient>) -> Result<u64, StoreError> {
    let row = db.query_opt("SELECT COALESCE(MAX(seq), 0) FROM events", &[])?;
    row.map_or(Ok(0), |r| seq_of(&r, 0))
}

pub(super) fn read_since(
    db: &mut Db<'_, impl GenericClient>,
    after: u64,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let limit = int(limit as u64);
    events(db.query(
        "SELECT seq, body FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
        &[&int(after), &limit],
    )?)
}

pub(super) fn incident_events(
    db: &mut Db<'_, impl GenericClient>,
    incident: IncidentRef,
    upto: u64,
) -> Result<Vec<Event>, StoreError> {
    events(db.query(
        "SELECT seq, body FROM events WHERE incident = $1 AND seq <= $2 ORDER BY seq",
        &[&i64::from(incident.0), &int(upto)],
    )?)
}

pub(super) fn fired_steps(db: &mut Db<'_, impl GenericClient>) -> Result<Vec<Event>, StoreError> {
    events(db.query(
        "SELECT seq, body FROM events WHERE kind = 'step_fired' ORDER BY seq",
        &[],
    )?)
}

pub(super) fn last_seq_of(
    db: &mut Db<'_, impl GenericClient>,
    r: IncidentRef,
) -> Result<Option<u64>, StoreError> {
    let row = db.query_opt(
        "SELECT last_seq FROM incidents WHERE ref = $1",
        &[&i64::from(r.0)],
    )?;
    row.map(|r| seq_of(&r, 0)).transpose()
}

pub(super) fn latest_checkpoint(
    db: &mut Db<'_, impl GenericClient>,
) -> Result<Option<State>, StoreError> {
    let row = db.query_opt(
        "SELECT seq, state FROM checkpoints ORDER BY seq DESC LIMIT 1",
        &[],
    )?;
    let Some(row) = row else { return Ok(None) };
    let seq = seq_of(&row, 0)?;
    let body: String = row.try_get(1)?;
    serde_json::from_str(&body)
        .map(Some)
        .map_err(|e| StoreError::Corrupt {
            seq,
            reason: format!("the checkpoint does not decode: {e}"),
        })
}

/// The incidents a start-up loads: the active ones and those updated after `$1`, by
/// reference. Each is found by one step along an index (`incidents_active`, then
/// `incidents_by_update` from `$1` on), whatever the plan: as one filter, planned on a new
/// feed's empty table (or any table the planner has no statistics of), it read every
/// incident the feed ever had at each start-up.
pub(super) const LIVE_REFS: &str = "WITH RECURSIVE \
     active_refs(ref) AS ((SELECT ref FROM incidents WHERE active ORDER BY ref LIMIT 1) \
     UNION ALL SELECT n.ref FROM active_refs a, LATERAL (SELECT i.ref FROM incidents i \
     WHERE i.active AND i.ref > a.ref ORDER BY i.ref LIMIT 1) n), \
     recent(updated_at, ref) AS ((SELECT updated_at, ref FROM incidents \
     WHERE updated_at > $1 ORDER BY updated_at, ref LIMIT 1) \
     UNION ALL SELECT n.updated_at, n.ref FROM recent r, LATERAL (SELECT i.updated_at, i.ref \
     FROM incidents i WHERE (i.updated_at, i.ref) > (r.updated_at, r.ref) \
     ORDER BY i.updated_at, i.ref LIMIT 1) n) \
     SELECT ref FROM active_refs UNION SELECT ref FROM recent ORDER BY ref";

pub(super) fn live_refs(
    db: &mut Db<'_, impl GenericClient>,
    updated_after: DateTime<Utc>,
) -> Result<Vec<IncidentRef>, StoreError> {
    let rows = db.query(LIVE_REFS, &[&nanos(updated_after)])?;
    rows.iter().map(|r| ref_of(r, 0).map(IncidentRef)).collect()
}

pub(super) fn resume_floor(db: &mut Db<'_, impl GenericClient>) -> Result<u64, StoreError> {
    Ok(meta(db, "resume_floor")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

pub(super) fn summaries(db: &mut Db<'_, impl GenericClient>) -> Result<Vec<Incident>, StoreError> {
    let rows = db.query("SELECT ref, summary FROM incidents ORDER BY ref", &[])?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let body: String = row.try_get(1)?;
        out.push(rows::summary_of(ref_of(&row, 0)?, &body)?);
    }
    Ok(out)
}

pub(super) fn answer(
    db: &mut Db<'_, impl GenericClient>,
    actor: &str,
    id: &str,
) -> Result<Option<Answer>, StoreError> {
    let row = db.query_opt(
        "SELECT answer FROM commands WHERE actor = $1 AND id = $2",
        &[&actor, &id],
    )?;
    let Some(row) = row else { return Ok(None) };
    let body: String = row.try_get(0)?;
    serde_json::from_str(&body)
        .map(Some)
        .map_err(|e| StoreError::Corrupt {
            seq: 0,
            reason: format!("stored answer to command {id}: {e}"),
        })
}

/// The remembered answers to a group's commands: one index lookup per key, whatever the
/// plan. A join let the planner (planning once, on a new feed's empty table) hash the keys
/// and scan the whole table of answers, years of commands, for every group.
pub(super) const ANSWERS: &str = "SELECT i, answer FROM (SELECT k.i, (SELECT c.answer \
     FROM commands c WHERE c.actor = k.actor AND c.id = k.id) AS answer \
     FROM UNNEST($1::TEXT[], $2::TEXT[]) WITH ORDINALITY AS k(actor, id, i)) found \
     WHERE answer IS NOT NULL";

/// The answers to the commands `(actors[i], ids[i])`, in their order, in one query.
pub(super) fn answers(
    db: &mut Db<'_, impl GenericClient>,
    actors: &[String],
    ids: &[String],
) -> Result<Vec<Option<Answer>>, StoreError> {
    let rows = db.query(ANSWERS, &[&actors, &ids])?;
    let mut out = vec![None; actors.len()];
    for row in rows {
        let i: i64 = row.try_get(0)?;
        let body: String = row.try_get(1)?;
        let at = usize::try_from(i - 1)
            .ok()
            .filter(|&at| at < out.len())
            .ok_or_else(|| rows::corrupt("a command answer's position", i))?;
        out[at] = Some(
            serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
                seq: 0,
                reason: format!("stored answer to command {}: {e}", ids[at]),
            })?,
        );
    }
    Ok(out)
}

/// Everything of one append, encoded by the caller (off the connection's thread): the
/// events, the answers, and the index rows.
pub(super) struct Batch {
    pub(super) first: Option<u64>,
    pub(super) seqs: Vec<i64>,
    pub(super) bodies: Vec<String>,
    pub(super) incidents: Vec<i64>,
    pub(super) kinds: Vec<&'static str>,
    pub(super) commands: Commands,
    pub(super) rows: Vec<IncidentRow>,
    pub(super) checkpoint: Option<(i64, String)>,
    pub(super) resume_floor: u64,
}

/// Command answers as columns: actors, ids, answers (JSON).
#[derive(Default)]
pub(super) struct Commands(
    pub(super) Vec<String>,
    pub(super) Vec<String>,
    pub(super) Vec<String>,
);

impl Commands {
    pub fn push(&mut self, c: &crate::store::CommandRecord) -> Result<(), StoreError> {
        self.0.push(c.actor.clone());
        self.1.push(c.id.clone());
        self.2.push(rows::json(0, &c.answer)?);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl Batch {
    pub fn of(batch: &Append<'_>) -> Result<Batch, StoreError> {
        let rows = rows::touched(batch)?;
        let mut out = Batch::events(batch.events)?;
        for c in batch.commands {
            out.commands.push(c)?;
        }
        out.rows = rows;
        if batch.checkpoint {
            out.checkpoint = Some((
                int(batch.state.seq),
                rows::json(batch.state.seq, batch.state)?,
            ));
        }
        out.resume_floor = batch.resume_floor;
        Ok(out)
    }

    /// Events alone, for a copy (its indexes are rebuilt after).
    pub fn events(events: &[Event]) -> Result<Batch, StoreError> {
        let mut out = Batch {
            first: events.first().map(|e| e.seq),
            seqs: Vec::with_capacity(events.len()),
            bodies: Vec::with_capacity(events.len()),
            incidents: Vec::with_capacity(events.len()),
            kinds: Vec::with_capacity(events.len()),
            commands: Commands::default(),
            rows: Vec::new(),
            checkpoint: None,
            resume_floor: 0,
        };
        for e in events {
            out.seqs.push(int(e.seq));
            out.bodies.push(rows::json(e.seq, e)?);
            out.incidents
                .push(i64::from(super::super::event_incident(e)));
            out.kinds.push(e.kind.name());
        }
        Ok(out)
    }
}

/// Appends the events (continuing the log, or refused), then the answers. A writer that
/// lost the race for these positions gets [`StoreError::Conflict`].
pub(super) fn insert_log(db: &mut Db<'_, impl GenericClient>, b: &Batch) -> Result<(), StoreError> {
    if let Some(first) = b.first {
        let head = head(db)?;
        if first != head + 1 {
            return Err(StoreError::NotContiguous { head, first });
        }
        let insert = db.statement(
            "INSERT INTO events (seq, body, incident, kind) \
             SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[])",
        )?;
        match db
            .c
            .execute(&insert, &[&b.seqs, &b.bodies, &b.incidents, &b.kinds])
        {
            Ok(_) => {}
            Err(e)
                if e.code() == Some(&SqlState::UNIQUE_VIOLATION)
                    && e.as_db_error().and_then(|d| d.constraint()) == Some("events_pkey") =>
            {
                return Err(StoreError::Conflict { first });
            }
            Err(e) => return Err(e.into()),
        }
    }
    insert_commands(db, &b.commands)
}

pub(super) fn insert_commands(
    db: &mut Db<'_, impl GenericClient>,
    c: &Commands,
) -> Result<(), StoreError> {
    if c.len() > 0 {
        db.execute(
            "INSERT INTO commands (actor, id, answer) \
             SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[]) ON CONFLICT DO NOTHING",
            &[&c.0, &c.1, &c.2],
        )?;
    }
    Ok(())
}

fn put_checkpoint(
    db: &mut Db<'_, impl GenericClient>,
    seq: i64,
    state: &str,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO checkpoints (seq, state) VALUES ($1, $2) \
         ON CONFLICT (seq) DO UPDATE SET state = EXCLUDED.state",
        &[&seq, &state],
    )?;
    db.execute("DELETE FROM checkpoints WHERE seq < $1", &[&seq])?;
    Ok(())
}

impl<C: GenericClient> Indexer for Db<'_, C> {
    fn read_since(&mut self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        read_since(self, after, limit)
    }

    fn incident_events(&mut self, r: IncidentRef, upto: u64) -> Result<Vec<Event>, StoreError> {
        incident_events(self, r, upto)
    }

    fn clear(&mut self) -> Result<(), StoreError> {
        self.c
            .batch_execute("DELETE FROM incidents; DELETE FROM words; DELETE FROM checkpoints;")?;
        Ok(())
    }

    fn put_incidents(&mut self, rows: &[IncidentRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let c = Columns::of(rows);
        self.execute(
            "INSERT INTO incidents (ref, declared_at, updated_at, severity, active, \
             service_key, restricted, members, last_seq, summary) \
             SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::INTEGER[], \
             $5::BOOLEAN[], $6::TEXT[], $7::BOOLEAN[], $8::TEXT[], $9::BIGINT[], $10::TEXT[]) \
             ON CONFLICT (ref) DO UPDATE SET declared_at = EXCLUDED.declared_at, \
             updated_at = EXCLUDED.updated_at, severity = EXCLUDED.severity, \
             active = EXCLUDED.active, service_key = EXCLUDED.service_key, \
             restricted = EXCLUDED.restricted, members = EXCLUDED.members, \
             last_seq = EXCLUDED.last_seq, summary = EXCLUDED.summary",
            &[
                &c.refs,
                &c.declared,
                &c.updated,
                &c.severity,
                &c.active,
                &c.service,
                &c.restricted,
                &c.members,
                &c.last,
                &c.summary,
            ],
        )?;
        if !c.word.is_empty() {
            self.execute(
                "INSERT INTO words (incident, word) \
                 SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[]) ON CONFLICT DO NOTHING",
                &[&c.word_incident, &c.word],
            )?;
        }
        Ok(())
    }

    fn put_checkpoint(&mut self, state: &State) -> Result<(), StoreError> {
        put_checkpoint(self, int(state.seq), &rows::json(state.seq, state)?)
    }

    fn put_resume_floor(&mut self, floor: u64) -> Result<(), StoreError> {
        put_meta(self, "resume_floor", &floor.to_string())
    }
}

/// A batch of incident rows as the arrays a statement takes (`UNNEST`), and their words as
/// (incident, word) pairs: what both the plain write and `warroom_append` send.
pub(super) struct Columns<'a> {
    pub(super) refs: Vec<i64>,
    pub(super) declared: Vec<i64>,
    pub(super) updated: Vec<i64>,
    pub(super) severity: Vec<i32>,
    pub(super) active: Vec<bool>,
    pub(super) service: Vec<Option<String>>,
    pub(super) restricted: Vec<bool>,
    pub(super) members: Vec<&'a str>,
    pub(super) last: Vec<i64>,
    pub(super) summary: Vec<&'a str>,
    pub(super) word_incident: Vec<i64>,
    pub(super) word: Vec<&'a str>,
}

impl<'a> Columns<'a> {
    pub(super) fn of(rows: &'a [IncidentRow]) -> Columns<'a> {
        let (mut word_incident, mut word) = (Vec::new(), Vec::new());
        for r in rows {
            for w in &r.words {
                word_incident.push(i64::from(r.reference));
                word.push(w.as_str());
            }
        }
        Columns {
            refs: rows.iter().map(|r| i64::from(r.reference)).collect(),
            declared: rows.iter().map(|r| r.declared_at).collect(),
            updated: rows.iter().map(|r| r.updated_at).collect(),
            severity: rows.iter().map(|r| i32::from(r.severity)).collect(),
            active: rows.iter().map(|r| r.active).collect(),
            service: rows
                .iter()
                .map(|r| r.service.as_deref().map(service_key))
                .collect(),
            restricted: rows.iter().map(|r| r.restricted).collect(),
            members: rows.iter().map(|r| r.members.as_str()).collect(),
            last: rows.iter().map(|r| int(r.last_seq)).collect(),
            summary: rows.iter().map(|r| r.summary.as_str()).collect(),
            word_incident,
            word,
        }
    }
}
