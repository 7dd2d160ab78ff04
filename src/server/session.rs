//! One WebSocket connection: handshake, catch-up, then commands in and events out.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::SinkExt;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::oneshot;

use super::App;
use super::auth::Identity;
use super::core::{CommandRequest, Fanout};
use super::limits::{RateLimiter, Verdict};
use crate::model::access::{Delivery, Viewer};
use crate::protocol::{
    self, Answer, ClientMessage, ErrorCode, PROTOCOL_VERSION, ServerMessage, SyncMode,
};

/// How long a new connection may take to say hello.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How many wrong frames before hello are tolerated before the connection is closed.
const MAX_FRAMES_BEFORE_HELLO: usize = 16;
/// Shortest time between two presence frames to one connection.
pub const PRESENCE_INTERVAL: Duration = Duration::from_millis(500);
/// Most live events written before one flush.
const MAX_BURST: usize = 64;
/// Events read from the log per catch-up query.
const CATCH_UP_CHUNK: usize = 500;

/// The session ended; the reason is only logged.
struct Closed;

type Sent = Result<(), Closed>;

async fn send(socket: &mut WebSocket, msg: &ServerMessage) -> Sent {
    let frame = Utf8Bytes::from(protocol::encode(msg));
    let len = frame.len();
    write(len, socket.send(Message::Text(frame))).await
}

tokio::task_local! {
    /// This connection's `Limits::write_timeout` (set by [`run`]).
    static WRITE_TIMEOUT: Duration;
}

/// Slowest reading allowed on a large message (a snapshot), on top of the write timeout.
const MIN_READ_BYTES_PER_SEC: usize = 64 * 1024;

/// One write of `len` bytes to the socket, bounded in time: a client that stops reading
/// blocks its own session's writes once the socket buffers are full, and is cut when one
/// takes too long: the write timeout, plus a second per 64 KiB of the message. (Fan-out
/// never waits for a session: a session that falls behind the broadcast resumes from the log.)
async fn write(len: usize, w: impl Future<Output = Result<(), axum::Error>>) -> Sent {
    let base = WRITE_TIMEOUT
        .try_with(|t| *t)
        .unwrap_or(super::Limits::default().write_timeout);
    let limit = base + Duration::from_secs((len / MIN_READ_BYTES_PER_SEC) as u64);
    match tokio::time::timeout(limit, w).await {
        Ok(r) => r.map_err(|_| Closed),
        Err(_) => {
            tracing::info!(
                "a write to a client took over {limit:?}: it is not reading; cutting it off"
            );
            Err(Closed)
        }
    }
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
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
async fn answer_close(socket: &mut WebSocket) {
    let _ = write(0, socket.flush()).await;
}

fn error(id: Option<String>, code: ErrorCode, message: impl Into<String>) -> ServerMessage {
    ServerMessage::Error {
        id,
        code,
        message: message.into(),
    }
}

struct Hello {
    name: String,
    last_seq: Option<u64>,
    feed_id: Option<String>,
    /// Who this is and what they may do.
    who: Identity,
    /// Changes of the tokens after this hello was checked: the session checks itself again.
    auth_changes: tokio::sync::watch::Receiver<u64>,
}

/// Runs one connection to its end, every write bounded by the write timeout.
pub async fn run(socket: WebSocket, app: Arc<App>) {
    WRITE_TIMEOUT
        .scope(app.limits.write_timeout, run_session(socket, app))
        .await
}

async fn run_session(mut socket: WebSocket, app: Arc<App>) {
    let _slot = app.connection_slot();
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, handshake(&mut socket, &app)).await {
        Ok(Ok(h)) => h,
        Ok(Err(Closed)) => return,
        Err(_) => {
            let _ = send(
                &mut socket,
                &error(
                    None,
                    ErrorCode::ExpectedHello,
                    "no hello within 10 seconds; closing",
                ),
            )
            .await;
            close(&mut socket, 1008, "no hello").await;
            return;
        }
    };
    tracing::info!(name = %hello.name, last_seq = ?hello.last_seq, "client joined");
    let present = app.presence.join(&hello.name, app.clock.now());
    let result = serve(&mut socket, &app, &hello, &present).await;
    if result.is_ok() {
        close(&mut socket, 1001, "server shutting down").await;
    }
    tracing::info!(name = %hello.name, "client left");
}

async fn handshake(socket: &mut WebSocket, app: &App) -> Result<Hello, Closed> {
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
            }) => {
                if protocol != PROTOCOL_VERSION {
                    let msg = format!(
                        "this server speaks protocol {PROTOCOL_VERSION}, the client asked for {protocol}"
                    );
                    send(socket, &error(None, ErrorCode::UnsupportedProtocol, msg)).await?;
                    close(socket, 1002, "unsupported protocol").await;
                    return Err(Closed);
                }
                // Subscribed first, so a revocation right after the check is not missed.
                let auth_changes = app.auth.subscribe();
                match app.auth.authenticate(&name, token.as_deref()) {
                    Ok(who) => {
                        return Ok(Hello {
                            name: who.name.clone(),
                            last_seq,
                            feed_id,
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
            Ok(ClientMessage::Command { id, .. }) => error(
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

/// The close code and reason for a receive error, when the connection can still be told:
/// an over-limit frame or message (1009), a text frame that is not UTF-8 (1007), a broken
/// WebSocket rule such as an unmasked client frame (1002).
fn transport_close(e: axum::Error) -> Option<(u16, &'static str)> {
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

/// Catch-up then the live loop. `Ok` means the server is shutting down; `Err` the client left.
async fn serve(
    socket: &mut WebSocket,
    app: &App,
    hello: &Hello,
    present: &super::presence::PresenceGuard<'_>,
) -> Sent {
    // Subscribe before reading state, so nothing committed in between is missed; anything
    // seen twice is skipped by its sequence number.
    let mut live = app.published.events.subscribe();
    let mut presence = app.presence.subscribe();
    let mut shutdown = app.shutdown.clone();
    let head = app.published.head();
    let viewer = hello.who.viewer();
    // A position in another feed's log means nothing here.
    let same_feed = hello.feed_id.as_deref().is_none_or(|f| f == app.feed_id);
    let mode = match hello.last_seq {
        Some(n) if n <= head && same_feed && !needs_snapshot(app, viewer, n) => SyncMode::Events,
        _ => SyncMode::Snapshot,
    };
    send(
        socket,
        &ServerMessage::Welcome {
            protocol: PROTOCOL_VERSION,
            feed_id: app.feed_id.clone(),
            name: hello.name.clone(),
            access: hello.who.access,
            head_seq: head,
            mode,
            server_time: app.clock.now(),
            max_frame_bytes: protocol::MAX_FRAME_BYTES,
        },
    )
    .await?;
    let policy = app.policy_frame.clone();
    write(policy.len(), socket.send(Message::Text(policy))).await?;
    let mut sent = match mode {
        SyncMode::Snapshot => resync(socket, app, viewer).await?,
        SyncMode::Events => {
            let from = hello.last_seq.unwrap_or(0);
            catch_up(socket, app, viewer, from, head).await?
        }
    };
    send(socket, &ServerMessage::Synced { seq: sent }).await?;
    presence.mark_unchanged();
    send_presence(socket, app, viewer).await?;
    // Presence goes out at most every PRESENCE_INTERVAL, latest state only: a room of a
    // thousand consoles reconnecting at once must not cost a million full lists.
    let mut presence_tick = tokio::time::interval(PRESENCE_INTERVAL);
    presence_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut presence_due = false;
    let mut rate = RateLimiter::new(&app.limits);
    let mut auth_changes = hello.auth_changes.clone();

    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => return Ok(()),
            Ok(()) = auth_changes.changed() => {
                // The tokens changed: a revoked one's session ends here.
                if let Err(refusal) = app.auth.still_valid(&hello.who) {
                    tracing::info!(name = %hello.name, "closing the session: {}", refusal.reason);
                    send(socket, &error(None, refusal.code, refusal.message)).await?;
                    close(socket, 1008, refusal.reason).await;
                    return Err(Closed);
                }
            }
            frame = socket.recv() => match frame {
                Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) if rate.check() != Verdict::Pass => {
                    refuse(socket, &rate, &m).await?;
                }
                Some(Ok(Message::Text(t))) => {
                    if let Some((reply, upto)) = handle_text(app, &hello.who, &t, present).await {
                        // A command's own events reach its sender before its answer.
                        if upto > sent {
                            sent = forward_until(socket, app, viewer, &mut live, sent, upto).await?;
                        }
                        send(socket, &reply).await?;
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    send(socket, &error(None, ErrorCode::BadFrame, "frames are JSON text, not binary")).await?;
                }
                Some(Ok(Message::Close(_))) => {
                    answer_close(socket).await;
                    return Err(Closed);
                }
                None => return Err(Closed),
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::debug!(name = %hello.name, "connection error: {e}");
                    if let Some((code, reason)) = transport_close(e) {
                        close(socket, code, reason).await;
                    }
                    return Err(Closed);
                }
            },
            ev = live.recv() => match ev {
                Ok(f) => {
                    if f.seq <= sent {
                        continue;
                    }
                    // Under load several events wait; write them all, then flush once.
                    sent = feed_live(socket, app, viewer, &f, sent).await?;
                    let mut burst = 1;
                    while burst < MAX_BURST {
                        match live.try_recv() {
                            Ok(f) if f.seq <= sent => continue,
                            Ok(f) => {
                                sent = feed_live(socket, app, viewer, &f, sent).await?;
                                burst += 1;
                            }
                            Err(TryRecvError::Lagged(_)) => {
                                let head = app.published.head();
                                sent = catch_up(socket, app, viewer, sent, head).await?;
                                break;
                            }
                            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                        }
                    }
                    write(0, socket.flush()).await?;
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::debug!(name = %hello.name, missed = n, "slow client: resuming from the log");
                    let head = app.published.head();
                    sent = catch_up(socket, app, viewer, sent, head).await?;
                }
                Err(RecvError::Closed) => return Ok(()),
            },
            changed = presence.changed(), if !presence_due => {
                if changed.is_err() {
                    return Ok(());
                }
                presence_due = true;
            }
            _ = presence_tick.tick(), if presence_due => {
                presence_due = false;
                presence.mark_unchanged();
                send_presence(socket, app, viewer).await?;
            }
        }
    }
}

/// Answers a frame over the connection's rate `rate_limited` (with the command's id, so the
/// client can retry it), or closes the connection when it keeps flooding.
async fn refuse(socket: &mut WebSocket, rate: &RateLimiter, frame: &Message) -> Sent {
    /// Just enough of a frame to answer a command by its id.
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "type")]
        ty: Option<String>,
        id: Option<String>,
    }
    let id = match frame {
        Message::Text(t) => serde_json::from_str::<Probe>(t)
            .ok()
            .filter(|p| p.ty.as_deref() == Some("command"))
            .and_then(|p| p.id),
        _ => None,
    };
    let message = format!(
        "more than {} frames a second (bursts of {}): this one was not processed and nothing \
         was recorded; retry after a pause",
        rate.per_second(),
        rate.burst(),
    );
    send(socket, &error(id, ErrorCode::RateLimited, message)).await?;
    if rate.last() == Verdict::Cut {
        close(socket, 1008, "too many frames").await;
        return Err(Closed);
    }
    Ok(())
}

async fn send_presence(socket: &mut WebSocket, app: &App, viewer: Viewer<'_>) -> Sent {
    let current = app.presence.current();
    // Who is in a restricted incident's room is part of it.
    let hidden: Vec<_> = if viewer.sees_all {
        Vec::new()
    } else {
        let state = app.published.read();
        current
            .list
            .iter()
            .flat_map(|p| &p.viewing)
            .filter(|r| !state.may_see(**r, viewer))
            .copied()
            .collect()
    };
    if hidden.is_empty() {
        let frame = current.frame();
        return write(frame.len(), socket.send(Message::Text(frame))).await;
    }
    let mut present = current.list.clone();
    for p in &mut present {
        p.viewing.retain(|r| !hidden.contains(r));
    }
    send(socket, &ServerMessage::Presence { present }).await
}

/// Whether a reader holding the feed up to `from` must be sent a snapshot instead of the
/// events since: it was let into a restricted incident it holds only the reference of.
fn needs_snapshot(app: &App, viewer: Viewer<'_>, from: u64) -> bool {
    let state = app.published.read();
    state.resume_needs_snapshot(viewer, from)
}

/// Sends the state as this reader may have it; returns its seq.
async fn resync(socket: &mut WebSocket, app: &App, viewer: Viewer<'_>) -> Result<u64, Closed> {
    let state = {
        let shared = app.published.read();
        shared.view_for(viewer)
    };
    let seq = state.seq;
    send(socket, &ServerMessage::Snapshot { state }).await?;
    Ok(seq)
}

/// Feeds (without flushing) one live event as this reader may have it, filling any gap
/// before it from the log first; returns the seq the reader now holds.
async fn feed_live(
    socket: &mut WebSocket,
    app: &App,
    viewer: Viewer<'_>,
    f: &Fanout,
    mut sent: u64,
) -> Result<u64, Closed> {
    if f.seq > sent + 1 {
        // Fill the gap from the log (catch_up flushes what was fed).
        sent = catch_up(socket, app, viewer, sent, f.seq - 1).await?;
        if sent >= f.seq {
            return Ok(sent); // it resynchronised past this event
        }
    }
    let frame = match &f.restricted {
        None => &f.frame,
        Some(r) => match r.audience.delivery(viewer) {
            Delivery::Event => &f.frame,
            Delivery::Withheld => &r.withheld,
            Delivery::Snapshot => return resync(socket, app, viewer).await,
        },
    };
    write(frame.len(), socket.feed(Message::Text(frame.clone()))).await?;
    Ok(f.seq)
}

/// Sends the logged events after `from` up to `upto`, as this reader may have them, and
/// returns the last seq sent (beyond `upto` when it sent a snapshot instead, or when
/// today's state was further on).
async fn catch_up(
    socket: &mut WebSocket,
    app: &App,
    viewer: Viewer<'_>,
    from: u64,
    upto: u64,
) -> Result<u64, Closed> {
    // One judgement for the whole catch-up: today's membership, with the log read through
    // today's seq. (Judging by today's state only up to `upto` and the rest live, each event
    // as of itself, would withhold an incident just restricted, or a reader just removed
    // from it, then send its events committed before that: a fold the reader cannot make.)
    // A reader let in since `from` is sent a snapshot instead, so whoever may see an
    // incident now already holds it.
    let judged = {
        let state = app.published.read();
        (!state.resume_needs_snapshot(viewer, from)).then(|| Judged::of(&state, viewer))
    };
    let Some(judged) = judged else {
        return resync(socket, app, viewer).await;
    };
    let upto = upto.max(judged.seq);
    let mut sent = from;
    while sent < upto {
        let chunk = app
            .read_log(sent, CATCH_UP_CHUNK.min((upto - sent) as usize))
            .await;
        let events = match chunk {
            Ok(ev) if !ev.is_empty() => ev,
            Ok(_) => break,
            Err(e) => {
                tracing::error!("catch-up read failed: {e}");
                send(
                    socket,
                    &error(
                        None,
                        ErrorCode::Unavailable,
                        "the event log could not be read; reconnect to resume",
                    ),
                )
                .await?;
                return Err(Closed);
            }
        };
        for event in events {
            let seq = event.seq;
            let event = if judged.may_see(event.kind.incident()) {
                event
            } else {
                crate::model::access::withheld(&event)
            };
            send(socket, &ServerMessage::Event { event }).await?;
            sent = seq;
        }
    }
    Ok(sent)
}

/// Who may see what, as of one state: a catch-up judges all its events by it.
struct Judged {
    seq: u64,
    sees_all: bool,
    /// The newest incident the state holds (judging fails closed for any later one).
    newest: u32,
    /// The restricted incidents this reader may not see.
    hidden: std::collections::BTreeSet<crate::model::IncidentRef>,
}

impl Judged {
    fn of(state: &crate::model::State, viewer: Viewer<'_>) -> Judged {
        Judged {
            seq: state.seq,
            sees_all: viewer.sees_all,
            newest: state.incidents.keys().next_back().copied().unwrap_or(0),
            hidden: state
                .incidents
                .values()
                .filter(|i| i.restricted && !i.visible_to(viewer))
                .map(|i| i.reference)
                .collect(),
        }
    }

    fn may_see(&self, r: crate::model::IncidentRef) -> bool {
        self.sees_all || (r.0 <= self.newest && !self.hidden.contains(&r))
    }
}

/// Sends the events after `sent` up to `upto`, from the live channel where they already
/// wait, or from the log if this session fell behind. Returns the last seq sent.
async fn forward_until(
    socket: &mut WebSocket,
    app: &App,
    viewer: Viewer<'_>,
    live: &mut tokio::sync::broadcast::Receiver<Arc<Fanout>>,
    mut sent: u64,
    upto: u64,
) -> Result<u64, Closed> {
    while sent < upto {
        match live.try_recv() {
            Ok(f) if f.seq <= sent => continue,
            Ok(f) => {
                sent = feed_live(socket, app, viewer, &f, sent).await?;
                write(0, socket.flush()).await?;
            }
            Err(_) => return catch_up(socket, app, viewer, sent, upto).await,
        }
    }
    Ok(sent)
}

/// Handles one text frame; returns the reply to send, if any, and the highest sequence
/// number the reply refers to (0 when none).
async fn handle_text(
    app: &App,
    who: &Identity,
    text: &str,
    present: &super::presence::PresenceGuard<'_>,
) -> Option<(ServerMessage, u64)> {
    let reply = match protocol::decode_client(text) {
        Ok(ClientMessage::Hello { .. }) => error(
            None,
            ErrorCode::ExpectedHello,
            "hello was already received on this connection",
        ),
        Ok(ClientMessage::Command { id, command }) => {
            if let Err(refusal) = who.may(&command) {
                return Some((error(Some(id), ErrorCode::Forbidden, refusal), 0));
            }
            let (tx, rx) = oneshot::channel();
            let req = CommandRequest {
                actor: who.name.clone(),
                sees_all: who.viewer().sees_all,
                id: id.clone(),
                command,
                reply: tx,
            };
            let answer = if app
                .commands
                .send(super::core::CoreInput::Command(req))
                .await
                .is_err()
            {
                unavailable()
            } else {
                rx.await.unwrap_or_else(|_| unavailable())
            };
            let upto = match &answer {
                Answer::Ok { seqs, .. } => seqs.iter().copied().max().unwrap_or(0),
                Answer::Error { .. } => 0,
            };
            return Some((answer.to_message(&id), upto));
        }
        Ok(ClientMessage::Focus { incident }) => {
            present.set_viewing(incident);
            return None;
        }
        Err(e) => e.to_message(),
    };
    Some((reply, 0))
}

fn unavailable() -> Answer {
    Answer::Error {
        code: ErrorCode::Unavailable,
        message: "the server is shutting down; nothing was recorded, retry".into(),
    }
}
