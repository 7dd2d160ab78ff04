//! The PostgreSQL log's tables and their migrations. Each step takes the schema from one
//! version to the next; a writer opening the log applies the missing ones in order, in one
//! transaction, holding a transaction-level advisory lock so that replicas starting at once
//! migrate one after the other (the second finds nothing left to do). A log of a newer
//! schema than this warroom knows is refused, naming both versions.
//!
//! Version 1 (what SQLite's version 2 holds, for several feeds on one database):
//! - `events`: `seq BIGINT PRIMARY KEY`, written with explicit values by the one appending
//!   feed (never a sequence: its values would become visible out of commit order), so two
//!   writers can never both append the same position: the second is refused whole;
//! - `commands`: remembered answers, by actor and command id;
//! - `incidents`, `words`, `checkpoints`: the indexes, as in SQLite; `incidents.service_key`
//!   is the service lower-cased in ASCII (search compares services but for ASCII case),
//!   and `words.word` sorts by byte (`COLLATE "C"`) so a prefix is a range, indexed both
//!   ways: by incident (is this word in it?) and by word (which incidents have words
//!   that begin so?), as PostgreSQL's planner takes either road;
//! - `meta`: `schema_version`, `feed_id` (made once per database) and `resume_floor`.
//!
//! Version 2 adds what replicas say to each other beside the log: `forwarded`, the
//! commands and alerts a follower passed to the leader and (once decided) the leader's answers (a
//! queue: its ids only order it, they are not positions of the log); `presence`, who is
//! connected to each replica (as it last said, with when); `meta` gains `leader` (the
//! leading replica's address) and `leader_epoch`.
//!
//! Version 3 adds what every replica must agree on beside the log: `tokens`, the feed's
//! tokens (`warroom token add|revoke --store URL`), as the data directory's `tokens.json`
//! keeps them: each token's SHA-256 (never the token), the person, the role, when it was
//! made and when it was revoked; at most one active token per name. `meta` gains the
//! policy the leader works from: `policy_sha256`, `policy_source` (its file, or `built in`)
//! and `policy_public` (what consoles are sent of it, never its channels).
//!
//! Version 4 adds `warroom_append`, one append as one statement (one round trip, in the
//! statement's own transaction): it checks the leader's lock is held by the calling
//! session (when asked), that the events continue the log, then writes the events, the
//! answers, the incident rows and words, the checkpoint and the resume floor, and notifies
//! `warroom_events` of the new head. `events.seq` stays the primary key, the second fence.
//!
//! Version 5 indexes the live incidents: `incidents_active` (the active ones, by
//! reference) and `incidents_by_update` (by last update, then reference), so a start-up
//! finds the incidents it must load (active, or updated lately) by walking these, never
//! by reading every incident the feed ever had.
//!
//! Version 6 makes `warroom_append` refuse (`WR003`, the whole append rolled back) an
//! append whose command answers are already recorded: such a command was decided before,
//! and deciding it again would record its events twice. The leader may then decide a group
//! without first asking which of its commands were answered before (one round trip less per
//! group); when the append is refused, it decides the group again, asking.
//!
//! Version 7 makes `warroom_append` cheaper on every append. It checks the lead by giving
//! back one of the two holds the leader's session has on its lock and taking it again
//! (`pg_advisory_unlock` is true only for a session that held it; the lock stays held
//! throughout), instead of reading `pg_locks`, which gathers every lock of the server. And
//! it writes the resume floor only when given one (the leader gives it when it changed).

use ::postgres::Client;

use crate::store::StoreError;

/// The schema this warroom writes.
pub const SCHEMA_VERSION: u32 = 7;

/// The advisory lock a migration holds (per database): "warroom" in ASCII.
const MIGRATION_LOCK: i64 = 0x0077_6172_726f_6f6d;

/// Migration steps: `STEPS[i]` takes the schema from version `i` to `i + 1`.
const STEPS: &[&str] = &[
    "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE events (
    seq      BIGINT PRIMARY KEY,
    body     TEXT NOT NULL,
    incident BIGINT NOT NULL,
    kind     TEXT NOT NULL
);
CREATE INDEX events_by_incident ON events (incident, seq);
CREATE INDEX events_fired ON events (seq) WHERE kind = 'step_fired';
CREATE TABLE commands (
    actor  TEXT NOT NULL,
    id     TEXT NOT NULL,
    answer TEXT NOT NULL,
    PRIMARY KEY (actor, id)
);
CREATE TABLE incidents (
    ref         BIGINT PRIMARY KEY,
    declared_at BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    severity    INTEGER NOT NULL,
    active      BOOLEAN NOT NULL,
    service_key TEXT,
    restricted  BOOLEAN NOT NULL,
    members     TEXT NOT NULL,
    last_seq    BIGINT NOT NULL,
    summary     TEXT NOT NULL
);
CREATE TABLE words (
    incident BIGINT NOT NULL,
    word     TEXT COLLATE \"C\" NOT NULL,
    PRIMARY KEY (incident, word)
);
CREATE INDEX words_by_word ON words (word, incident);
CREATE TABLE checkpoints (
    seq   BIGINT PRIMARY KEY,
    state TEXT NOT NULL
);
",
    "
CREATE TABLE forwarded (
    row_id   BIGSERIAL PRIMARY KEY,
    ticket   TEXT NOT NULL UNIQUE,
    kind     TEXT NOT NULL,
    actor    TEXT NOT NULL,
    sees_all BOOLEAN NOT NULL,
    cmd_id   TEXT NOT NULL,
    body     TEXT NOT NULL,
    answer   TEXT,
    answered_at TIMESTAMPTZ
);
CREATE TABLE presence (
    replica    TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
",
    "
CREATE TABLE tokens (
    sha256     TEXT PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX tokens_one_active_per_name ON tokens (name) WHERE revoked_at IS NULL;
",
    "
CREATE FUNCTION warroom_append(
    lead_key BIGINT, first_seq BIGINT,
    e_seq BIGINT[], e_body TEXT[], e_incident BIGINT[], e_kind TEXT[],
    c_actor TEXT[], c_id TEXT[], c_answer TEXT[],
    i_ref BIGINT[], i_declared BIGINT[], i_updated BIGINT[], i_severity INTEGER[],
    i_active BOOLEAN[], i_service TEXT[], i_restricted BOOLEAN[], i_members TEXT[],
    i_last BIGINT[], i_summary TEXT[],
    w_incident BIGINT[], w_word TEXT[],
    cp_seq BIGINT, cp_state TEXT, floor TEXT
) RETURNS BIGINT LANGUAGE plpgsql AS $fn$
DECLARE
    h BIGINT;
BEGIN
    IF lead_key IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
        AND granted AND classid = (lead_key >> 32)::OID
        AND objid = (lead_key & 4294967295)::OID AND objsubid = 1
    ) THEN
        RAISE EXCEPTION 'its session does not hold the leader''s lock' USING ERRCODE = 'WR001';
    END IF;
    SELECT COALESCE(MAX(seq), 0) INTO h FROM events;
    IF first_seq IS NOT NULL THEN
        IF first_seq <> h + 1 THEN
            RAISE EXCEPTION 'append must continue the log' USING ERRCODE = 'WR002',
                DETAIL = h::TEXT;
        END IF;
        INSERT INTO events (seq, body, incident, kind)
            SELECT * FROM UNNEST(e_seq, e_body, e_incident, e_kind);
        SELECT MAX(s) INTO h FROM UNNEST(e_seq) AS s;
    END IF;
    INSERT INTO commands (actor, id, answer)
        SELECT * FROM UNNEST(c_actor, c_id, c_answer) ON CONFLICT DO NOTHING;
    INSERT INTO incidents (ref, declared_at, updated_at, severity, active, service_key,
            restricted, members, last_seq, summary)
        SELECT * FROM UNNEST(i_ref, i_declared, i_updated, i_severity, i_active, i_service,
            i_restricted, i_members, i_last, i_summary)
        ON CONFLICT (ref) DO UPDATE SET declared_at = EXCLUDED.declared_at,
            updated_at = EXCLUDED.updated_at, severity = EXCLUDED.severity,
            active = EXCLUDED.active, service_key = EXCLUDED.service_key,
            restricted = EXCLUDED.restricted, members = EXCLUDED.members,
            last_seq = EXCLUDED.last_seq, summary = EXCLUDED.summary;
    INSERT INTO words (incident, word)
        SELECT * FROM UNNEST(w_incident, w_word) ON CONFLICT DO NOTHING;
    IF cp_seq IS NOT NULL THEN
        INSERT INTO checkpoints (seq, state) VALUES (cp_seq, cp_state)
            ON CONFLICT (seq) DO UPDATE SET state = EXCLUDED.state;
        DELETE FROM checkpoints WHERE seq < cp_seq;
    END IF;
    INSERT INTO meta (key, value) VALUES ('resume_floor', floor)
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
    PERFORM pg_notify('warroom_events', h::TEXT);
    RETURN h;
END
$fn$;
",
    "
CREATE INDEX incidents_active ON incidents (ref) WHERE active;
CREATE INDEX incidents_by_update ON incidents (updated_at, ref);
",
    "
CREATE OR REPLACE FUNCTION warroom_append(
    lead_key BIGINT, first_seq BIGINT,
    e_seq BIGINT[], e_body TEXT[], e_incident BIGINT[], e_kind TEXT[],
    c_actor TEXT[], c_id TEXT[], c_answer TEXT[],
    i_ref BIGINT[], i_declared BIGINT[], i_updated BIGINT[], i_severity INTEGER[],
    i_active BOOLEAN[], i_service TEXT[], i_restricted BOOLEAN[], i_members TEXT[],
    i_last BIGINT[], i_summary TEXT[],
    w_incident BIGINT[], w_word TEXT[],
    cp_seq BIGINT, cp_state TEXT, floor TEXT
) RETURNS BIGINT LANGUAGE plpgsql AS $fn$
DECLARE
    h BIGINT;
    n BIGINT;
BEGIN
    IF lead_key IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
        AND granted AND classid = (lead_key >> 32)::OID
        AND objid = (lead_key & 4294967295)::OID AND objsubid = 1
    ) THEN
        RAISE EXCEPTION 'its session does not hold the leader''s lock' USING ERRCODE = 'WR001';
    END IF;
    SELECT COALESCE(MAX(seq), 0) INTO h FROM events;
    IF first_seq IS NOT NULL THEN
        IF first_seq <> h + 1 THEN
            RAISE EXCEPTION 'append must continue the log' USING ERRCODE = 'WR002',
                DETAIL = h::TEXT;
        END IF;
        INSERT INTO events (seq, body, incident, kind)
            SELECT * FROM UNNEST(e_seq, e_body, e_incident, e_kind);
        SELECT MAX(s) INTO h FROM UNNEST(e_seq) AS s;
    END IF;
    INSERT INTO commands (actor, id, answer)
        SELECT * FROM UNNEST(c_actor, c_id, c_answer) ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n < COALESCE(cardinality(c_actor), 0) THEN
        RAISE EXCEPTION 'a command of this append was answered before' USING ERRCODE = 'WR003';
    END IF;
    INSERT INTO incidents (ref, declared_at, updated_at, severity, active, service_key,
            restricted, members, last_seq, summary)
        SELECT * FROM UNNEST(i_ref, i_declared, i_updated, i_severity, i_active, i_service,
            i_restricted, i_members, i_last, i_summary)
        ON CONFLICT (ref) DO UPDATE SET declared_at = EXCLUDED.declared_at,
            updated_at = EXCLUDED.updated_at, severity = EXCLUDED.severity,
            active = EXCLUDED.active, service_key = EXCLUDED.service_key,
            restricted = EXCLUDED.restricted, members = EXCLUDED.members,
            last_seq = EXCLUDED.last_seq, summary = EXCLUDED.summary;
    INSERT INTO words (incident, word)
        SELECT * FROM UNNEST(w_incident, w_word) ON CONFLICT DO NOTHING;
    IF cp_seq IS NOT NULL THEN
        INSERT INTO checkpoints (seq, state) VALUES (cp_seq, cp_state)
            ON CONFLICT (seq) DO UPDATE SET state = EXCLUDED.state;
        DELETE FROM checkpoints WHERE seq < cp_seq;
    END IF;
    INSERT INTO meta (key, value) VALUES ('resume_floor', floor)
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
    PERFORM pg_notify('warroom_events', h::TEXT);
    RETURN h;
END
$fn$;
",
    "
CREATE OR REPLACE FUNCTION warroom_append(
    lead_key BIGINT, first_seq BIGINT,
    e_seq BIGINT[], e_body TEXT[], e_incident BIGINT[], e_kind TEXT[],
    c_actor TEXT[], c_id TEXT[], c_answer TEXT[],
    i_ref BIGINT[], i_declared BIGINT[], i_updated BIGINT[], i_severity INTEGER[],
    i_active BOOLEAN[], i_service TEXT[], i_restricted BOOLEAN[], i_members TEXT[],
    i_last BIGINT[], i_summary TEXT[],
    w_incident BIGINT[], w_word TEXT[],
    cp_seq BIGINT, cp_state TEXT, floor TEXT
) RETURNS BIGINT LANGUAGE plpgsql AS $fn$
DECLARE
    h BIGINT;
    n BIGINT;
BEGIN
    -- The leader's session holds its lock twice (see `lead`): giving one back and taking
    -- it again leaves it held, and succeeds only for the session that held it.
    -- (Two statements: SQL does not promise to stop at the first false of an AND.)
    IF lead_key IS NOT NULL THEN
        IF NOT pg_advisory_unlock(lead_key) THEN
            RAISE EXCEPTION 'its session does not hold the leader''s lock' USING ERRCODE = 'WR001';
        END IF;
        IF NOT pg_try_advisory_lock(lead_key) THEN
            RAISE EXCEPTION 'its session lost the leader''s lock' USING ERRCODE = 'WR001';
        END IF;
    END IF;
    SELECT COALESCE(MAX(seq), 0) INTO h FROM events;
    IF first_seq IS NOT NULL THEN
        IF first_seq <> h + 1 THEN
            RAISE EXCEPTION 'append must continue the log' USING ERRCODE = 'WR002',
                DETAIL = h::TEXT;
        END IF;
        INSERT INTO events (seq, body, incident, kind)
            SELECT * FROM UNNEST(e_seq, e_body, e_incident, e_kind);
        SELECT MAX(s) INTO h FROM UNNEST(e_seq) AS s;
    END IF;
    INSERT INTO commands (actor, id, answer)
        SELECT * FROM UNNEST(c_actor, c_id, c_answer) ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n < COALESCE(cardinality(c_actor), 0) THEN
        RAISE EXCEPTION 'a command of this append was answered before' USING ERRCODE = 'WR003';
    END IF;
    INSERT INTO incidents (ref, declared_at, updated_at, severity, active, service_key,
            restricted, members, last_seq, summary)
        SELECT * FROM UNNEST(i_ref, i_declared, i_updated, i_severity, i_active, i_service,
            i_restricted, i_members, i_last, i_summary)
        ON CONFLICT (ref) DO UPDATE SET declared_at = EXCLUDED.declared_at,
            updated_at = EXCLUDED.updated_at, severity = EXCLUDED.severity,
            active = EXCLUDED.active, service_key = EXCLUDED.service_key,
            restricted = EXCLUDED.restricted, members = EXCLUDED.members,
            last_seq = EXCLUDED.last_seq, summary = EXCLUDED.summary;
    INSERT INTO words (incident, word)
        SELECT * FROM UNNEST(w_incident, w_word) ON CONFLICT DO NOTHING;
    IF cp_seq IS NOT NULL THEN
        INSERT INTO checkpoints (seq, state) VALUES (cp_seq, cp_state)
            ON CONFLICT (seq) DO UPDATE SET state = EXCLUDED.state;
        DELETE FROM checkpoints WHERE seq < cp_seq;
    END IF;
    IF floor IS NOT NULL THEN
        INSERT INTO meta (key, value) VALUES ('resume_floor', floor)
            ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
    END IF;
    PERFORM pg_notify('warroom_events', h::TEXT);
    RETURN h;
END
$fn$;
",
];

const _: () = assert!(STEPS.len() == SCHEMA_VERSION as usize);

/// The schema version a database holds (0: none of warroom's tables).
fn found_version(tx: &mut ::postgres::Transaction<'_>) -> Result<u32, StoreError> {
    let has_meta: bool = tx
        .query_one("SELECT to_regclass('meta') IS NOT NULL", &[])?
        .try_get(0)?;
    if !has_meta {
        return Ok(0);
    }
    let row = tx.query_opt("SELECT value FROM meta WHERE key = 'schema_version'", &[])?;
    let Some(row) = row else { return Ok(0) };
    let v: String = row.try_get(0)?;
    v.trim().parse::<u32>().map_err(|_| StoreError::Corrupt {
        seq: 0,
        reason: format!("its schema version is {v:?}, not a number"),
    })
}

/// Creates the tables of a new log or migrates an older one, and makes the feed's id if it
/// has none; writes nothing when the log is current. `at` names the log in messages.
pub(super) fn prepare(client: &mut Client, at: &str) -> Result<(), StoreError> {
    prepare_to(client, at, SCHEMA_VERSION)
}

/// [`prepare`], to schema version `known` (older ones: how an older warroom left a log).
pub(super) fn prepare_to(client: &mut Client, at: &str, known: u32) -> Result<(), StoreError> {
    let encoding: String = client.query_one("SHOW server_encoding", &[])?.try_get(0)?;
    if !encoding.eq_ignore_ascii_case("UTF8") {
        return Err(StoreError::BadAddress {
            at: at.to_string(),
            reason: format!(
                "the database's encoding is {encoding}; warroom keeps incidents in any \
                 language and needs UTF8 (CREATE DATABASE … ENCODING 'UTF8')"
            ),
        });
    }
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    let found = found_version(&mut tx)?;
    if found > known {
        return Err(StoreError::SchemaTooNew {
            at: at.to_string(),
            found,
            known,
        });
    }
    for (i, step) in STEPS
        .iter()
        .enumerate()
        .take(known as usize)
        .skip(found as usize)
    {
        tracing::info!(
            "migrating the event log at {at} to schema version {}",
            i + 1
        );
        tx.batch_execute(step)?;
    }
    if found < known {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', $1) \
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            &[&known.to_string()],
        )?;
    }
    let has_id = tx
        .query_opt("SELECT 1 FROM meta WHERE key = 'feed_id'", &[])?
        .is_some();
    if !has_id {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('feed_id', $1) ON CONFLICT DO NOTHING",
            &[&uuid::Uuid::new_v4().to_string()],
        )?;
    }
    tx.commit()?;
    Ok(())
}
