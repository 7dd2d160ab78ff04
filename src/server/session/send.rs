//! Writing to one connection, every write bounded in time: a client that stops reading is
//! cut off instead of holding the server's buffers; and closing with the right code.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::SinkExt;

use crate::protocol::{self, ErrorCode, ServerMessage};

/// The session ended; the reason is only logged.
pub(super) struct Closed;

pub(super) type Sent = Result<(), Closed>;

pub(super) async fn send(socket: &mut WebSocket, msg: &ServerMessage) -> Sent {
    let frame = Utf8Bytes::from(protocol::encode(msg));
    let len = frame.len();
    write(len, socket.send(Message::Text(frame))).await
}

tokio::task_local! {
    /// This connection's `Limits::write_timeout` (set by [`run`]).
    pub(super) static WRITE_TIMEOUT: Duration;
    /// Who this connection is, for the line and the count of a close for cause.
    pub(super) static SESSION: Scope;
}

/// A connection's metrics, and its name once it said hello.
pub(crate) struct Scope {
    pub metrics: std::sync::Arc<crate::server::metrics::Metrics>,
    pub actor: std::cell::RefCell<String>,
}

/// The feed closes this session for cause (`slow_consumer`, `rate_limited`, `revoked`,
/// `protocol`): counted, and one log line.
pub(super) fn closed_for_cause(reason: &'static str, detail: &str) {
    let actor = SESSION
        .try_with(|s| {
            s.metrics.session_closed(reason);
            s.actor.borrow().clone()
        })
        .unwrap_or_default();
    tracing::info!(actor = %actor, reason, detail, "session closed");
}

/// Slowest reading allowed on a large message (a snapshot), on top of the write timeout.
const MIN_READ_BYTES_PER_SEC: usize = 64 * 1024;

/// One write of `len` bytes to the socket, bounded in time: a client that stops reading
/// blocks its own session's writes once the socket buffers are full, and is cut when one
/// takes too long: the write timeout, plus a second per 64 KiB of the message. (Fan-out
/// never waits for a session: a session that falls behind the broadcast resumes from the log.)
pub(super) async fn write(len: usize, w: impl Future<Output = Result<(), axum::Error>>) -> Sent {
    let base = WRITE_TIMEOUT
        .try_with(|t| *t)
        .unwrap_or(crate::server::Limits::default().write_timeout);
    let limit = base + Duration::from_secs((len / MIN_READ_BYTES_PER_SEC) as u64);
    match tokio::time::timeout(limit, w).await {
        Ok(r) => r.map_err(|_| Closed),
        Err(_) => {
            closed_for_cause(
                "slow_consumer",
                &format!("a write took over {limit:?}: the client is not reading"),
            );
            Err(Closed)
        }
    }
}

pub(super) async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let _ = write(
        0,
        socket.send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from(reason),
        }))),
    )
    .await;
}

/// Answers the client's close frame (RFC 6455 §5.5.1: an endpoint that receives one MUST
/// send one back). The WebSocket layer has queued the reply, echoing the client's status
/// code and reason, when it read the close; sending it is this flush. The session then
/// ends, closing the TCP connection, as the server should (§7.1.1).
pub(super) async fn answer_close(socket: &mut WebSocket) {
    let _ = write(0, socket.flush()).await;
}

pub(super) fn error(
    id: Option<String>,
    code: ErrorCode,
    message: impl Into<String>,
) -> ServerMessage {
    ServerMessage::Error {
        id,
        code,
        message: message.into(),
    }
}

/// The close code and reason for a receive error, when the connection can still be told:
/// an over-limit frame or message (1009), a text frame that is not UTF-8 (1007), a broken
/// WebSocket rule such as an unmasked client frame (1002).
pub(super) fn transport_close(e: axum::Error) -> Option<(u16, &'static str)> {
    use tokio_tungstenite::tungstenite::Error as WsError;
    use tokio_tungstenite::tungstenite::error::ProtocolError;
    let inner = e.into_inner();
    match inner.downcast_ref::<WsError>()? {
        WsError::Capacity(_) => Some((1009, "frame larger than the transport limit")),
        WsError::Utf8(_) => Some((1007, "text frame is not valid UTF-8")),
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        WsError::Protocol(ProtocolError::UnmaskedFrameFromClient) => {
            Some((1002, "client frames must be masked"))
        }
        WsError::Protocol(_) => Some((1002, "WebSocket protocol error")),
        _ => None,
    }
}
