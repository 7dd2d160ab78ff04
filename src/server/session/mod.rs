//! One WebSocket connection: handshake, catch-up, then commands in and events out. Here:
//! the connection's life from upgrade to close. Beside it: the hello (`handshake`), the
//! catch-up from the log and snapshots (`catch_up`), the live loop that feeds events and
//! presence (`live`), the loop of a connection that only sends commands (`commands_only`), a
//! command frame's way to the core and back (`commands`), and every
//! write bounded by a deadline (`send`).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::WebSocket;

use super::App;
use crate::protocol::ErrorCode;

pub(crate) mod board;
mod catch_up;
mod commands;
mod commands_only;
mod handshake;
mod live;
mod send;

use handshake::handshake;
use live::serve;
use send::{Closed, SESSION, Scope, WRITE_TIMEOUT, close, error, send};

/// How long a new connection may take to say hello.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs one connection to its end, every write bounded by the write timeout.
pub async fn run(socket: WebSocket, app: Arc<App>) {
    let scope = Scope {
        metrics: app.metrics.clone(),
        actor: Default::default(),
    };
    let session = WRITE_TIMEOUT.scope(app.limits.write_timeout, run_session(socket, app));
    SESSION.scope(scope, session).await
}

async fn run_session(mut socket: WebSocket, app: Arc<App>) {
    let _slot = app.connection_slot();
    let hello =
        match tokio::time::timeout(HELLO_TIMEOUT, Box::pin(handshake(&mut socket, &app))).await {
            Ok(Ok(h)) => h,
            Ok(Err(Closed)) => return,
            Err(_) => {
                let _ = send(
                    &mut socket,
                    &error(
                        None,
                        ErrorCode::ExpectedHello,
                        format!(
                            "no hello within {} seconds; closing",
                            HELLO_TIMEOUT.as_secs()
                        ),
                    ),
                )
                .await;
                close(&mut socket, 1008, "no hello").await;
                send::closed_for_cause("protocol", "no hello");
                return;
            }
        };
    tracing::info!(name = %hello.name, last_seq = ?hello.last_seq, "client joined");
    let _ = SESSION.try_with(|s| s.actor.replace(hello.name.clone()));
    let result = if hello.watch {
        let present = app.presence.join(&hello.name, app.clock.now());
        serve(&mut socket, &app, &hello, &present).await
    } else {
        commands_only::serve(&mut socket, &app, &hello).await
    };
    if result.is_ok() {
        close(&mut socket, 1001, "server shutting down").await;
    }
    tracing::info!(name = %hello.name, "client left");
}
