//! Commands waiting for their answer: queued (on disk first, in the outbox), sent in order,
//! matched to their answer by id and then forgotten.

use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

use super::connection::{Pending, Task, Ws};
use super::outbox::Queued;
use super::{Request, Update};
use crate::protocol::{self, Answer, ClientMessage, ErrorCode};

impl Task {
    /// Adds a command to the queue (on disk first, when there is a disk outbox).
    pub(super) fn enqueue(&mut self, req: Request) -> Option<usize> {
        match req {
            Request::Submit { id, command, reply } => {
                let frame = ClientMessage::Command {
                    id: id.clone(),
                    command: command.clone(),
                };
                let size = serde_json::to_string(&frame).map_or(usize::MAX, |t| t.len());
                if size > protocol::MAX_FRAME_BYTES {
                    // The feed would refuse it without being able to say which command it
                    // was; refuse it here, with the reason, instead of queueing it forever.
                    let answer = Answer::Error {
                        code: ErrorCode::FrameTooLarge,
                        message: format!(
                            "the command is {size} bytes; the feed accepts at most {}",
                            protocol::MAX_FRAME_BYTES
                        ),
                    };
                    if let Some(tx) = reply {
                        let _ = tx.send(answer.clone());
                    }
                    self.emit(Update::Answer {
                        id,
                        command,
                        answer,
                    });
                    return None;
                }
                let queued = match self.outbox.push(&id, &command, self.feed_id.as_deref()) {
                    Ok(q) => q,
                    Err(e) => {
                        self.emit(Update::ServerError {
                            code: ErrorCode::Unavailable,
                            message: format!("could not write the outbox ({e}); the command is kept in memory only"),
                        });
                        Queued {
                            id,
                            command,
                            order: 0,
                            feed_id: self.feed_id.clone(),
                        }
                    }
                };
                self.pending.push_back(Pending { queued, reply });
                self.emit(Update::Queued(self.pending.len()));
                Some(self.pending.len() - 1)
            }
            Request::Resync => {
                self.last_seq = None;
                None
            }
            Request::Focus(f) => {
                self.focus = f;
                None
            }
            // Queries wait apart (see `query`); the caller sends them.
            Request::Query { id, query, reply } => {
                self.add_query(id, query, reply);
                None
            }
        }
    }

    pub(super) async fn send_pending(&self, ws: &mut Ws, i: usize) -> Result<(), String> {
        let Some(p) = self.pending.get(i) else {
            return Ok(());
        };
        let msg = ClientMessage::Command {
            id: p.queued.id.clone(),
            command: p.queued.command.clone(),
        };
        send_json(ws, &msg).await
    }

    pub(super) fn answered(&mut self, id: &str, answer: Answer) {
        let Some(pos) = self.pending.iter().position(|p| p.queued.id == id) else {
            return; // an answer to a duplicate send, already delivered
        };
        let Some(p) = self.pending.remove(pos) else {
            return;
        };
        self.outbox.remove(id);
        if let Some(tx) = p.reply {
            let _ = tx.send(answer.clone());
        }
        self.emit(Update::Answer {
            id: id.to_string(),
            command: p.queued.command,
            answer,
        });
        self.emit(Update::Queued(self.pending.len()));
    }
}

pub(super) async fn send_json(ws: &mut Ws, msg: &ClientMessage) -> Result<(), String> {
    let text = serde_json::to_string(msg).map_err(|e| format!("encoding a frame: {e}"))?;
    ws.send(Message::Text(text.into()))
        .await
        .map_err(|e| format!("connection lost while sending: {e}"))
}
