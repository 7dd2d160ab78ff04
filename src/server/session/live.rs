//! The live loop: after the welcome and the catch-up, frames in (commands, focus) and the
//! feed out (each committed event as this reader may have it, presence at most every half
//! second), until the client leaves, its token is revoked or the server shuts down.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use futures_util::SinkExt;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::catch_up::{catch_up, needs_board, resync};
use super::commands::{handle_text, still_valid, text_of};
use super::handshake::Hello;
use super::send::{Closed, Sent, send, write};
use crate::model::access::{Delivery, Viewer};
use crate::protocol::{self, PROTOCOL_VERSION, ServerMessage, SyncMode};
use crate::server::App;
use crate::server::core::Fanout;
use crate::server::limits::RateLimiter;
use crate::server::presence::PresenceGuard;

/// Most live events written before one flush.
const MAX_BURST: usize = 64;

/// Catch-up then the live loop. `Ok` means the server is shutting down; `Err` the client left.
pub(super) async fn serve(
    socket: &mut WebSocket,
    app: &App,
    hello: &Hello,
    present: &PresenceGuard<'_>,
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
        Some(n) if n <= head && same_feed && !needs_board(app, viewer, n, head) => SyncMode::Events,
        _ => SyncMode::Snapshot,
    };
    send(socket, &welcome(app, hello, head, mode)).await?;
    // Watched from before the join's frame, so no change is missed (one just then is
    // sent twice, which a client takes as once).
    let mut policy_changes = app.cluster.as_ref().map(|h| h.policy_changes());
    let policy = app.policy_frame();
    write(policy.len(), socket.send(Message::Text(policy))).await?;
    // The rare and the large (a catch-up, a command's way to the core and back, a query's
    // answer) run boxed: a session's future is as small as its idle loop, which every idle
    // console keeps for its whole life.
    let mut sent = match mode {
        SyncMode::Snapshot => Box::pin(resync(socket, app, viewer)).await?,
        SyncMode::Events => {
            let from = hello.last_seq.unwrap_or(0);
            Box::pin(catch_up(socket, app, viewer, from, head)).await?
        }
    };
    send(socket, &ServerMessage::Synced { seq: sent }).await?;
    presence.mark_unchanged();
    send_presence(socket, app, viewer).await?;
    let mut rate = RateLimiter::new(&app.limits);
    let mut auth_changes = hello.auth_changes.clone();

    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => return Ok(()),
            // The tokens changed: a revoked one's session ends here.
            Ok(()) = auth_changes.changed() => still_valid(socket, app, &hello.who).await?,
            frame = socket.recv() => {
                if let Some(t) = text_of(socket, &hello.name, &mut rate, frame).await?
                    && let Some((replies, upto)) = Box::pin(handle_text(app, &hello.who, &t, Some(present))).await
                {
                    // A command's own events reach its sender before its answer.
                    if upto > sent {
                        sent = Box::pin(forward_until(socket, app, viewer, &mut live, sent, upto)).await?;
                    }
                    for reply in &replies {
                        send(socket, reply).await?;
                    }
                }
            }
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
                                sent = Box::pin(catch_up(socket, app, viewer, sent, head)).await?;
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
                    sent = Box::pin(catch_up(socket, app, viewer, sent, head)).await?;
                }
                Err(RecvError::Closed) => return Ok(()),
            },
            Some(frame) = policy_changed(&mut policy_changes) => {
                // Another policy is in use (a new leader works from other files).
                write(frame.len(), socket.send(Message::Text(frame))).await?;
            }
            // The board publishes at most every PRESENCE_INTERVAL, one shared list for
            // everyone: a room of a thousand consoles reconnecting at once costs each a
            // few frames, not one per joiner.
            changed = presence.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                presence.mark_unchanged();
                send_presence(socket, app, viewer).await?;
            }
        }
    }
}

/// The `welcome` of a joining connection: the feed's head when it was accepted, and what
/// follows (the board, or the events after the client's position).
pub(super) fn welcome(app: &App, hello: &Hello, head: u64, mode: SyncMode) -> ServerMessage {
    ServerMessage::Welcome {
        protocol: PROTOCOL_VERSION,
        feed_id: app.feed_id.clone(),
        name: hello.name.clone(),
        access: hello.who.access,
        head_seq: head,
        mode,
        server_time: app.clock.now(),
        max_frame_bytes: protocol::MAX_FRAME_BYTES,
        recent_secs: app.published.recent_secs,
    }
}

/// The next `policy` frame to send, when the policy in use changes (never, on a feed of
/// its own).
async fn policy_changed(
    changes: &mut Option<
        tokio::sync::watch::Receiver<Option<std::sync::Arc<crate::server::cluster::PolicyInUse>>>,
    >,
) -> Option<axum::extract::ws::Utf8Bytes> {
    match changes {
        Some(rx) => {
            rx.changed().await.ok()?;
            rx.borrow_and_update().as_ref().map(|p| p.frame.clone())
        }
        None => std::future::pending().await,
    }
}

pub(super) async fn send_presence(socket: &mut WebSocket, app: &App, viewer: Viewer<'_>) -> Sent {
    let current = app.presence.current();
    // Who is in a restricted incident's room is part of it.
    let hidden: Vec<_> = if viewer.sees_all || !current.anyone_viewing() {
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
    let others = current.others;
    send(socket, &ServerMessage::Presence { present, others }).await
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
        sent = Box::pin(catch_up(socket, app, viewer, sent, f.seq - 1)).await?;
        if sent >= f.seq {
            return Ok(sent); // it resynchronised past this event
        }
    }
    let frame = match &f.restricted {
        None => &f.frame,
        Some(r) => match r.audience.delivery(viewer) {
            Delivery::Event => &f.frame,
            Delivery::Withheld => &r.withheld,
            Delivery::Snapshot => return Box::pin(resync(socket, app, viewer)).await,
        },
    };
    // An incident coming back to the live work: the reader gets it before its event.
    if let Some(incident) = f.revived.as_ref().filter(|_| std::ptr::eq(frame, &f.frame)) {
        write(incident.len(), socket.feed(Message::Text(incident.clone()))).await?;
    }
    write(frame.len(), socket.feed(Message::Text(frame.clone()))).await?;
    app.metrics.fanout_delay(f.committed);
    Ok(f.seq)
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
            Err(_) => return Box::pin(catch_up(socket, app, viewer, sent, upto)).await,
        }
    }
    Ok(sent)
}
