//! One connection's frames: the hello, then what the feed sends (welcome, policy, the board
//! in parts, events without gaps, incidents coming back, answers, query results, presence)
//! turned into updates, and queued commands and waiting queries sent once the client is
//! caught up; and noticing when the address now serves another feed.

use std::collections::VecDeque;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use super::QueryError;
use super::connection::{Ended, Task, Ws};
use super::queue::send_json;
use super::{ConnState, Request, Update};
use crate::model::State;
use crate::protocol::{self, Answer, ClientMessage, ErrorCode, ServerMessage};

impl Task {
    pub(super) async fn session(&mut self, mut ws: Ws) -> Ended {
        let hello = ClientMessage::Hello {
            name: self.config.name.clone(),
            token: self.config.token.clone(),
            last_seq: self.last_seq,
            feed_id: self.feed_id.clone(),
            protocol: protocol::PROTOCOL_VERSION,
            watch: true,
        };
        if let Err(e) = send_json(&mut ws, &hello).await {
            return Ended::Lost {
                reason: e,
                was_synced: false,
            };
        }
        let mut synced = false;
        let mut welcomed = false;
        // The board's parts so far, while the feed says more follow.
        let mut board: Option<State> = None;
        let lost = |reason: String, synced: bool| Ended::Lost {
            reason,
            was_synced: synced,
        };
        loop {
            tokio::select! {
                frame = ws.next() => {
                    let text = match frame {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(c))) => {
                            let why = c.map(|c| c.reason.to_string()).filter(|r| !r.is_empty())
                                .unwrap_or_else(|| "closed by the server".into());
                            return lost(format!("connection closed: {why}"), synced);
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => return lost(format!("connection lost: {e}"), synced),
                        None => return lost("connection lost".into(), synced),
                    };
                    let msg: ServerMessage = match serde_json::from_str(&text) {
                        Ok(m) => m,
                        Err(e) => {
                            tracing::warn!("ignoring a frame this client does not understand: {e}");
                            continue;
                        }
                    };
                    match msg {
                        ServerMessage::Welcome { name, head_seq, mode, feed_id, recent_secs, .. } => {
                            welcomed = true;
                            self.arrived_at(feed_id);
                            self.emit(Update::Welcome { name, head_seq, mode, recent_secs });
                        }
                        ServerMessage::Policy { policy } => self.emit(Update::Policy(Box::new(policy))),
                        ServerMessage::Snapshot { state, more } => {
                            let whole = match board.take() {
                                Some(mut so_far) => {
                                    add_part(&mut so_far, state);
                                    so_far
                                }
                                None => state,
                            };
                            if more {
                                board = Some(whole);
                            } else {
                                self.last_seq = Some(whole.seq);
                                self.emit(Update::Snapshot(whole));
                            }
                        }
                        ServerMessage::Event { .. } if board.is_some() => {
                            return lost("the feed sent an event in the middle of its board; resuming".into(), synced);
                        }
                        ServerMessage::Incident { incident } => self.emit(Update::Incident(incident)),
                        ServerMessage::Result { id, result } => self.query_result(&id, result),
                        ServerMessage::Event { event } => {
                            let last = self.last_seq.unwrap_or(0);
                            if event.seq <= last {
                                continue; // already have it
                            }
                            if event.seq != last + 1 {
                                // Never skip: reconnect and resume from what we have.
                                return lost(format!("gap in the feed after {last}; resuming"), synced);
                            }
                            self.last_seq = Some(event.seq);
                            self.emit(Update::Event(event));
                        }
                        ServerMessage::Synced { seq } => {
                            synced = true;
                            self.emit(Update::Synced(seq));
                            self.emit(Update::Conn(ConnState::Live));
                            if self.focus.is_some()
                                && let Err(e) = send_json(&mut ws, &ClientMessage::Focus { incident: self.focus }).await
                            {
                                return lost(e, synced);
                            }
                            // Everything queued goes out now, in order; re-sent ones get
                            // their first answer back.
                            for i in 0..self.pending.len() {
                                if let Err(e) = self.send_pending(&mut ws, i).await {
                                    return lost(e, synced);
                                }
                            }
                            // Queries waiting (asked before, or lost with the last
                            // connection) are asked now.
                            for i in 0..self.queries.len() {
                                if let Err(e) = self.send_query(&mut ws, i).await {
                                    return lost(e, synced);
                                }
                            }
                        }
                        ServerMessage::Ok { id, seqs, incident } => {
                            self.answered(&id, Answer::Ok { seqs, incident });
                        }
                        ServerMessage::Error { id: Some(id), code, message } => {
                            if matches!(code, ErrorCode::Unavailable | ErrorCode::RateLimited) {
                                // Nothing was recorded (or read); it stays queued and goes
                                // again after the reconnect (and its backoff).
                                return lost(message, synced);
                            }
                            let error = QueryError { code, message };
                            if !self.query_failed(&id, error.clone()) {
                                self.answered(&id, Answer::Error { code, message: error.message });
                            }
                        }
                        ServerMessage::Error { id: None, code, message } => {
                            // A refused hello is refused again on every retry: stop and say why.
                            let refused_hello = !welcomed && code == ErrorCode::Invalid;
                            if refused_hello
                                || matches!(code, ErrorCode::Unauthorized | ErrorCode::UnsupportedProtocol)
                            {
                                return Ended::Fatal(message);
                            }
                            self.emit(Update::ServerError { code, message });
                        }
                        ServerMessage::Presence { present, others } => {
                            self.emit(Update::Presence(present, others))
                        }
                    }
                }
                req = self.requests.recv() => {
                    let Some(req) = req else {
                        let _ = ws.close(None).await;
                        return Ended::Shutdown;
                    };
                    let resync = matches!(req, Request::Resync);
                    let focus = matches!(req, Request::Focus(_));
                    if let Request::Query { id, query, reply } = req {
                        let i = self.add_query(id, query, reply);
                        if synced && let Err(e) = self.send_query(&mut ws, i).await {
                            return lost(e, synced);
                        }
                        continue;
                    }
                    if let Some(i) = self.enqueue(req)
                        && synced
                        && let Err(e) = self.send_pending(&mut ws, i).await
                    {
                        return lost(e, synced);
                    }
                    if focus
                        && synced
                        && let Err(e) = send_json(&mut ws, &ClientMessage::Focus { incident: self.focus }).await
                    {
                        return lost(e, synced);
                    }
                    if resync {
                        let _ = ws.close(None).await;
                        return lost("resynchronising".into(), synced);
                    }
                }
            }
        }
    }

    /// Notes which feed this connection reached. If it is not the one this client knew
    /// (the address now serves another log), commands written for the old feed are set
    /// aside, kept on disk and reported, never replayed against different incidents.
    fn arrived_at(&mut self, feed_id: String) {
        let changed = self.feed_id.as_ref().is_some_and(|old| *old != feed_id);
        if changed {
            tracing::warn!("{} now serves a different feed", self.config.url);
        }
        let mut kept = VecDeque::new();
        let mut aside = Vec::new();
        for p in self.pending.drain(..) {
            match &p.queued.feed_id {
                Some(f) if *f != feed_id => aside.push(p),
                _ => kept.push_back(p),
            }
        }
        self.pending = kept;
        for p in &mut self.pending {
            p.queued.feed_id.get_or_insert_with(|| feed_id.clone());
        }
        let n = aside.len();
        for p in aside {
            let kept_at = self.outbox.set_aside(&p.queued.id);
            let place = kept_at
                .map(|a| format!(" (kept in {})", a.display()))
                .unwrap_or_default();
            let answer = Answer::Error {
                code: ErrorCode::Conflict,
                message: format!(
                    "not sent: it was written for another feed that used to be at this address{place}"
                ),
            };
            if let Some(tx) = p.reply {
                let _ = tx.send(answer.clone());
            }
            self.emit(Update::Answer {
                id: p.queued.id,
                command: p.queued.command,
                answer,
            });
        }
        if changed || n > 0 {
            let aside_note = if n > 0 {
                format!("; {n} queued commands for the old feed were set aside, not sent")
            } else {
                String::new()
            };
            self.emit(Update::ServerError {
                code: ErrorCode::Conflict,
                message: format!(
                    "{} now serves a different feed: showing its incidents{aside_note}",
                    self.config.url
                ),
            });
            self.emit(Update::Queued(self.pending.len()));
        }
        self.feed_id = Some(feed_id);
    }
}

/// Adds a further part of the board to the parts so far: its incidents and withheld
/// references; the numbers are the latest part's.
fn add_part(so_far: &mut State, part: State) {
    so_far.incidents.extend(part.incidents);
    so_far.withheld.extend(part.withheld);
    so_far.feed.deploys.extend(part.feed.deploys);
    so_far.feed.noted.extend(part.feed.noted);
    so_far.seq = so_far.seq.max(part.seq);
    so_far.next_ref = so_far.next_ref.max(part.next_ref);
    so_far.partial |= part.partial;
}
