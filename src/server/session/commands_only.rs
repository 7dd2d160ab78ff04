//! A connection that said hello with `"watch": false`: a script, a bot or a one-shot command
//! that only sends commands and queries. It is welcomed and synced at once (no board, no
//! catch-up), is not listed among those present, and is sent nothing but the answers to
//! what it sends: each command's answer once it is durable, as a console's is. What such a
//! connection costs follows what it sends, never the live work or the other connections'
//! traffic.

use axum::extract::ws::WebSocket;

use super::commands::{handle_text, still_valid, text_of};
use super::handshake::Hello;
use super::live::welcome;
use super::send::{Sent, send};
use crate::protocol::{ServerMessage, SyncMode};
use crate::server::App;
use crate::server::limits::RateLimiter;

/// The welcome, `synced` at the feed's head, then frames in and answers out until the
/// client leaves, its token is revoked or the server shuts down (`Ok`).
pub(super) async fn serve(socket: &mut WebSocket, app: &App, hello: &Hello) -> Sent {
    let mut shutdown = app.shutdown.clone();
    let head = app.published.head();
    send(socket, &welcome(app, hello, head, SyncMode::Events)).await?;
    send(socket, &ServerMessage::Synced { seq: head }).await?;
    let mut rate = RateLimiter::new(&app.limits);
    let mut auth_changes = hello.auth_changes.clone();
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => return Ok(()),
            Ok(()) = auth_changes.changed() => still_valid(socket, app, &hello.who).await?,
            frame = socket.recv() => {
                if let Some(t) = text_of(socket, &hello.name, &mut rate, frame).await?
                    && let Some((replies, _)) = Box::pin(handle_text(app, &hello.who, &t, None)).await
                {
                    for reply in &replies {
                        send(socket, reply).await?;
                    }
                }
            }
        }
    }
}
