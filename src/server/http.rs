//! Serving HTTP connections (the feed's upgrades, webhooks, health) with the limits
//! `axum::serve` has no setting for: a deadline for each request head, so a client that
//! sends its headers a byte at a time is cut off, and a cap on connections that have not
//! yet become WebSocket sessions (sessions have their own cap, `Limits::max_connections`).

use std::pin::pin;

use axum::Router;
use axum::body::Body;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use super::Limits;

/// Serves `router` on every connection `listener` accepts until `stop` says so, then lets
/// requests in progress finish and returns once every connection has closed.
pub async fn serve<L>(
    mut listener: L,
    router: Router,
    limits: &Limits,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()>
where
    L: Listener<Addr = std::net::SocketAddr>,
{
    let open = std::sync::Arc::new(Semaphore::new(limits.max_http_connections.max(1)));
    // Every connection task holds a receiver; `closed()` resolves when the last one ends.
    let (close_tx, close_rx) = watch::channel(());
    let (drain_tx, drain_rx) = watch::channel(false);
    loop {
        let (io, peer) = tokio::select! {
            c = listener.accept() => c,
            _ = stop.wait_for(|s| *s) => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            // Over the cap: closed at once, so the client's retry backs off rather than
            // every connection waiting behind the ones that hold their slots.
            tracing::warn!(
                ?peer,
                "refused a connection: {} HTTP connections are open",
                limits.max_http_connections
            );
            drop(io);
            continue;
        };
        // Handlers that answer by the peer (`/metrics`) read it as axum's `ConnectInfo`.
        let service = TowerToHyperService::new(router.clone().map_request(
            move |req: axum::http::Request<Incoming>| {
                let mut req = req.map(Body::new);
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req
            },
        ));
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        let close_rx = close_rx.clone();
        let mut drain = drain_rx.clone();
        tokio::spawn(async move {
            let conn = builder
                .serve_connection(TokioIo::new(io), service)
                .with_upgrades();
            let mut conn = pin!(conn);
            let mut draining = false;
            loop {
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(?peer, "HTTP connection ended: {e}");
                        }
                        break;
                    }
                    _ = drain.wait_for(|d| *d), if !draining => {
                        draining = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(permit);
            drop(close_rx);
        });
    }
    drop(listener);
    drop(close_rx);
    let _ = drain_tx.send(true);
    close_tx.closed().await;
    Ok(())
}
