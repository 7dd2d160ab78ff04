//! A text frame from a joined client: a command goes to the core and its answer comes back
//! (forbidden ones are refused here, by the sender's role); a query is answered off the
//! core (`server::query`); a focus moves its presence; a flood is refused `rate_limited`,
//! then cut.

use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use tokio::sync::oneshot;

use super::send::{
    Closed, SESSION, Sent, answer_close, close, closed_for_cause, error, send, transport_close,
};
use crate::protocol::{self, Answer, ClientMessage, ErrorCode, ServerMessage};
use crate::server::auth::Identity;
use crate::server::core::{CommandRequest, CoreInput};
use crate::server::limits::{RateLimiter, Verdict};
use crate::server::presence::PresenceGuard;
use crate::server::{App, query};

/// Answers a frame over the connection's rate `rate_limited` (with the command's or the
/// query's id, so the client can retry it), or closes the connection when it keeps flooding.
pub(super) async fn refuse(socket: &mut WebSocket, rate: &RateLimiter, frame: &Message) -> Sent {
    /// Just enough of a frame to answer a command or a query by its id.
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "type")]
        ty: Option<String>,
        id: Option<String>,
    }
    let id = match frame {
        Message::Text(t) => serde_json::from_str::<Probe>(t)
            .ok()
            .filter(|p| matches!(p.ty.as_deref(), Some("command" | "query")))
            .and_then(|p| p.id),
        _ => None,
    };
    let message = format!(
        "more than {} frames a second (bursts of {}): this one was not processed and nothing \
         was recorded; retry after a pause",
        rate.per_second(),
        rate.burst(),
    );
    let _ = SESSION.try_with(|s| s.metrics.frame_refused("rate_limited"));
    send(socket, &error(id, ErrorCode::RateLimited, message)).await?;
    if rate.last() == Verdict::Cut {
        closed_for_cause("rate_limited", "too many frames");
        close(socket, 1008, "too many frames").await;
        return Err(Closed);
    }
    Ok(())
}

/// Ends the session when the tokens changed and its own is no longer valid (revoked).
pub(super) async fn still_valid(socket: &mut WebSocket, app: &App, who: &Identity) -> Sent {
    if let Err(refusal) = app.auth.still_valid(who) {
        closed_for_cause("revoked", refusal.reason);
        send(socket, &error(None, refusal.code, refusal.message)).await?;
        close(socket, 1008, refusal.reason).await;
        return Err(Closed);
    }
    Ok(())
}

/// A frame read from the client: the text to act on, when it is one (and within the
/// connection's rate). Anything else is answered here: a frame over the rate, a binary
/// frame, a close, a broken connection.
pub(super) async fn text_of(
    socket: &mut WebSocket,
    name: &str,
    rate: &mut RateLimiter,
    frame: Option<Result<Message, axum::Error>>,
) -> Result<Option<Utf8Bytes>, Closed> {
    match frame {
        Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) if rate.check() != Verdict::Pass => {
            refuse(socket, rate, &m).await?;
            Ok(None)
        }
        Some(Ok(Message::Text(t))) => Ok(Some(t)),
        Some(Ok(Message::Binary(_))) => {
            let refused = error(
                None,
                ErrorCode::BadFrame,
                "frames are JSON text, not binary",
            );
            send(socket, &refused).await?;
            Ok(None)
        }
        Some(Ok(Message::Close(_))) => {
            answer_close(socket).await;
            Err(Closed)
        }
        None => Err(Closed),
        Some(Ok(_)) => Ok(None),
        Some(Err(e)) => {
            tracing::debug!(name, "connection error: {e}");
            if let Some((code, reason)) = transport_close(e) {
                closed_for_cause("protocol", reason);
                close(socket, code, reason).await;
            }
            Err(Closed)
        }
    }
}

/// Handles one text frame; returns the replies to send, if any, and the highest sequence
/// number they refer to (0 when none).
pub(super) async fn handle_text(
    app: &App,
    who: &Identity,
    text: &str,
    present: Option<&PresenceGuard<'_>>,
) -> Option<(Vec<ServerMessage>, u64)> {
    let reply = match protocol::decode_client(text) {
        Ok(ClientMessage::Hello { .. }) => error(
            None,
            ErrorCode::ExpectedHello,
            "hello was already received on this connection",
        ),
        Ok(ClientMessage::Query { id, query }) => {
            let asker = query::Asker {
                name: who.name.clone(),
                sees_all: who.viewer().sees_all,
            };
            let replies = match query::answer(app, asker, query).await {
                Ok(results) => results
                    .into_iter()
                    .map(|result| ServerMessage::Result {
                        id: id.clone(),
                        result,
                    })
                    .collect(),
                Err(refusal) => vec![error(Some(id), refusal.code, refusal.message)],
            };
            return Some((replies, 0));
        }
        Ok(ClientMessage::Command { id, command }) => {
            if let Err(refusal) = who.may(&command) {
                let refused = Answer::Error {
                    code: ErrorCode::Forbidden,
                    message: refusal.into(),
                };
                app.metrics.answered(&command, &who.name, &id, &refused);
                return Some((vec![refused.to_message(&id)], 0));
            }
            let (tx, rx) = oneshot::channel();
            let req = CommandRequest {
                actor: who.name.clone(),
                sees_all: who.viewer().sees_all,
                id: id.clone(),
                command,
                reply: tx,
            };
            let answer = if let Some(forwarder) = app.following() {
                // Straight to the leader's queue: the follower's core, busy following the
                // log, need not pass it on. Should this replica lead by now, it takes its
                // own forwarded rows as any other's.
                forwarder.forward(req.actor, req.sees_all, req.id, req.command, req.reply);
                rx.await.unwrap_or_else(|_| unavailable())
            } else if app.commands.send(CoreInput::Command(req)).await.is_err() {
                unavailable()
            } else {
                rx.await.unwrap_or_else(|_| unavailable())
            };
            let upto = match &answer {
                Answer::Ok { seqs, .. } => seqs.iter().copied().max().unwrap_or(0),
                Answer::Error { .. } => 0,
            };
            return Some((vec![answer.to_message(&id)], upto));
        }
        Ok(ClientMessage::Focus { incident }) => match present {
            Some(present) => {
                present.set_viewing(incident);
                return None;
            }
            None => error(
                None,
                ErrorCode::BadFrame,
                "this connection said hello with \"watch\": false: it is not among those \
                 present, so it has no focus to move",
            ),
        },
        Err(e) => e.to_message(),
    };
    Some((vec![reply], 0))
}

fn unavailable() -> Answer {
    Answer::Error {
        code: ErrorCode::Unavailable,
        message: "the server is shutting down; nothing was recorded, retry".into(),
    }
}
