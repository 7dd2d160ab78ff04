//! One append to the PostgreSQL log as one statement: the schema's `warroom_append`
//! function (see `schema`), called with the batch's columns as arrays, and its refusals
//! told apart (not the leader, not continuing the log, a command answered before, another
//! writer first).

use ::postgres::GenericClient;
use ::postgres::error::SqlState;

use super::index::{Batch, Columns, Db, int, seq_of};
use crate::store::StoreError;

/// One append as one statement, `warroom_append` (see `schema`), in the statement's own
/// transaction: one round trip, whatever the batch holds. With `lead`, it is refused unless
/// this session holds that advisory lock. The resume floor is written when given (`None`:
/// the same as the last append wrote). Returns the log's new head (notified to the
/// other replicas when it commits).
pub(super) fn append(
    db: &mut Db<'_, impl GenericClient>,
    lead: Option<i64>,
    floor: Option<u64>,
    b: &Batch,
) -> Result<u64, StoreError> {
    let c = Columns::of(&b.rows);
    let first = b.first.map(int);
    let (cp_seq, cp_state) = match &b.checkpoint {
        Some((seq, state)) => (Some(*seq), Some(state.as_str())),
        None => (None, None),
    };
    let floor = floor.map(|f| f.to_string());
    let call = db.statement(
        "SELECT warroom_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,          $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)",
    )?;
    let done = db.c.query_one(
        &call,
        &[
            &lead,
            &first,
            &b.seqs,
            &b.bodies,
            &b.incidents,
            &b.kinds,
            &b.commands.0,
            &b.commands.1,
            &b.commands.2,
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
            &c.word_incident,
            &c.word,
            &cp_seq,
            &cp_state,
            &floor,
        ],
    );
    match done {
        Ok(row) => seq_of(&row, 0),
        Err(e) => {
            let db_error = e.as_db_error();
            let code = e.code().map(SqlState::code);
            if code == Some("WR001") {
                Err(StoreError::NotLeader(
                    "its session does not hold the leader's lock".into(),
                ))
            } else if code == Some("WR002") {
                let head = db_error
                    .and_then(|d| d.detail())
                    .and_then(|h| h.parse().ok())
                    .unwrap_or(0);
                Err(StoreError::NotContiguous {
                    head,
                    first: b.first.unwrap_or(0),
                })
            } else if code == Some("WR003") {
                Err(StoreError::AnsweredBefore)
            } else if code == Some(SqlState::UNIQUE_VIOLATION.code())
                && db_error.and_then(|d| d.constraint()) == Some("events_pkey")
            {
                Err(StoreError::Conflict {
                    first: b.first.unwrap_or(0),
                })
            } else {
                Err(e.into())
            }
        }
    }
}
