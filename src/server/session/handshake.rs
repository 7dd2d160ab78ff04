//! The hello: the first frames of a connection, until the client says who it is and the
//! tokens say it may join (or the connection is closed saying why).

use axum::extract::ws::{Message, WebSocket};

use super::send::{Closed, answer_close, close, error, send, transport_close};
use crate::protocol::{self, ClientMessage, ErrorCode, PROTOCOL_VERSION};
use crate::server::App;
use crate::server::auth::Identity;

/// How many wrong frames before hello are tolerated before the connection is closed.
const MAX_FRAMES_BEFORE_HELLO: usize = 16;

pub(super) struct Hello {
    pub(super) name: String,
    pub(super) last_seq: Option<u64>,
    pub(super) feed_id: Option<String>,
    /// A console (the board, the live events, presence), or a connection that only sends
    /// commands and queries (`watch: false`).
    pub(super) watch: bool,
    /// Who this is and what they may do.
    pub(super) who: Identity,
    /// Changes of the tokens after this hello was checked: the session checks itself again.
    pub(super) auth_changes: tokio::sync::watch::Receiver<u64>,
}

pub(super) async fn handshake(socket: &mut WebSocket, app: &App) -> Result<Hello, Closed> {
    let mut wrong = 0;
    loop {
        let text = match socket.recv().await {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Binary(_))) => {
                send(
                    socket,
                    &error(
                        None,
                        ErrorCode::BadFrame,
                        "frames are JSON text, not binary",
                    ),
                )
                .await?;
                wrong += 1;
                if wrong >= MAX_FRAMES_BEFORE_HELLO {
                    close(socket, 1008, "no valid hello").await;
                    return Err(Closed);
                }
                continue;
            }
            Some(Ok(Message::Close(_))) => {
                answer_close(socket).await;
                return Err(Closed);
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                if let Some((code, reason)) = transport_close(e) {
                    close(socket, code, reason).await;
                }
                return Err(Closed);
            }
            None => return Err(Closed),
        };
        let reply = match protocol::decode_client(&text) {
            Ok(ClientMessage::Hello {
                name,
                token,
                last_seq,
                feed_id,
                protocol,
                watch,
            }) => {
                if protocol != PROTOCOL_VERSION {
                    let msg = if protocol < PROTOCOL_VERSION {
                        format!(
                            "this feed speaks protocol {PROTOCOL_VERSION}, the client protocol \
                             {protocol}: upgrade the client (warroom, or your script's client) to \
                             one that speaks protocol {PROTOCOL_VERSION}"
                        )
                    } else {
                        format!(
                            "this feed speaks protocol {PROTOCOL_VERSION}, the client asked for \
                             {protocol}: upgrade the feed, or use a client that speaks protocol \
                             {PROTOCOL_VERSION}"
                        )
                    };
                    send(socket, &error(None, ErrorCode::UnsupportedProtocol, msg)).await?;
                    close(socket, 1002, "unsupported protocol").await;
                    return Err(Closed);
                }
                // Subscribed first, so a revocation right after the check is not missed.
                let auth_changes = app.auth.subscribe();
                match app.auth.authenticate_fresh(&name, token.as_deref()).await {
                    Ok(who) => {
                        return Ok(Hello {
                            name: who.name.clone(),
                            last_seq,
                            feed_id,
                            watch,
                            who,
                            auth_changes,
                        });
                    }
                    Err(refusal) => {
                        // A refused hello ends the connection: retrying the same hello cannot help.
                        send(socket, &error(None, refusal.code, refusal.message)).await?;
                        close(socket, 1008, refusal.reason).await;
                        return Err(Closed);
                    }
                }
            }
            Ok(ClientMessage::Focus { .. }) => error(
                None,
                ErrorCode::ExpectedHello,
                "say hello first: the first frame must be {\"type\":\"hello\",...}",
            ),
            Ok(ClientMessage::Command { id, .. } | ClientMessage::Query { id, .. }) => error(
                Some(id),
                ErrorCode::ExpectedHello,
                "say hello first: the first frame must be {\"type\":\"hello\",...}",
            ),
            Err(e) => e.to_message(),
        };
        send(socket, &reply).await?;
        wrong += 1;
        if wrong >= MAX_FRAMES_BEFORE_HELLO {
            close(socket, 1008, "no valid hello").await;
            return Err(Closed);
        }
    }
}
