//! Queries waiting for their answer: asked once the client is in sync, matched to their
//! `result` frames (or an `error`) by id, an export's parts joined in order, then
//! forgotten. Kept in memory only (a query reads, it records nothing): after a lost
//! connection they are asked again, and when the client stops they fail with its reason.

use super::QueryReply;
use super::connection::{Task, Ws};
use super::queue::send_json;
use super::{QueryError, Update};
use crate::protocol::{ClientMessage, ErrorCode, Query, QueryResult};

/// A query waiting for its answer.
pub(super) struct Asked {
    pub(super) id: String,
    pub(super) query: Query,
    pub(super) reply: QueryReply,
    /// An export's text so far, and the part expected next.
    export: String,
    next_part: u32,
}

impl Task {
    /// Takes a query to ask (once in sync); returns its place among those waiting.
    pub(super) fn add_query(&mut self, id: String, query: Query, reply: QueryReply) -> usize {
        self.queries.retain(|a| a.id != id);
        self.queries.push(Asked {
            id,
            query,
            reply,
            export: String::new(),
            next_part: 0,
        });
        self.queries.len() - 1
    }

    /// Sends the `i`th waiting query (from its start: an export's parts so far are dropped).
    pub(super) async fn send_query(&mut self, ws: &mut Ws, i: usize) -> Result<(), String> {
        let Some(a) = self.queries.get_mut(i) else {
            return Ok(());
        };
        a.export.clear();
        a.next_part = 0;
        let msg = ClientMessage::Query {
            id: a.id.clone(),
            query: a.query.clone(),
        };
        send_json(ws, &msg).await
    }

    /// A `result` frame: the answer, or (an export) one part of it.
    pub(super) fn query_result(&mut self, id: &str, result: QueryResult) {
        let Some(pos) = self.queries.iter().position(|a| a.id == id) else {
            return; // not asked here, or already failed
        };
        let result = match result {
            QueryResult::Export {
                incident,
                part,
                text,
                last,
            } => {
                let a = &mut self.queries[pos];
                if part != a.next_part {
                    let expected = a.next_part;
                    self.query_failed(
                        id,
                        QueryError {
                            code: ErrorCode::Invalid,
                            message: format!(
                                "the feed sent part {part} of the export of {incident} where \
                                 part {expected} was due; ask again"
                            ),
                        },
                    );
                    return;
                }
                a.export.push_str(&text);
                a.next_part += 1;
                if !last {
                    return;
                }
                QueryResult::Export {
                    incident,
                    part: 0,
                    text: std::mem::take(&mut a.export),
                    last: true,
                }
            }
            other => other,
        };
        let a = self.queries.remove(pos);
        match a.reply {
            Some(tx) => {
                let _ = tx.send(Ok(result));
            }
            None => self.emit(Update::Result { id: a.id, result }),
        }
    }

    /// Fails the query `id` with `error`; returns whether `id` was a query waiting here.
    pub(super) fn query_failed(&mut self, id: &str, error: QueryError) -> bool {
        let Some(pos) = self.queries.iter().position(|a| a.id == id) else {
            return false;
        };
        let a = self.queries.remove(pos);
        match a.reply {
            Some(tx) => {
                let _ = tx.send(Err(error));
            }
            None => self.emit(Update::QueryFailed { id: a.id, error }),
        }
        true
    }

    /// Fails every waiting query: the client stopped, for `reason`.
    pub(super) fn fail_queries(&mut self, reason: &str) {
        let ids: Vec<String> = self.queries.iter().map(|a| a.id.clone()).collect();
        for id in ids {
            self.query_failed(
                &id,
                QueryError {
                    code: ErrorCode::Unavailable,
                    message: format!("no answer from the feed: {reason}"),
                },
            );
        }
    }
}
