//! Reading the metrics: `GET /metrics` on the feed's port (loopback, or the token's
//! holders) and on `--metrics-listen`; and the count of every HTTP request by route.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State as AxState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::watch;

use crate::server::App;

/// Whether a scraper may read the metrics: `presented` its bearer token, `loopback` whether
/// it connects from this machine, `anywhere` whether this is the operator's own
/// `--metrics-listen` address rather than the feed's port. The refusal's status and words.
fn may_scrape(
    token: Option<&str>,
    presented: Option<&str>,
    loopback: bool,
    anywhere: bool,
) -> Result<(), (StatusCode, &'static str)> {
    match (token, presented) {
        (Some(token), Some(p))
            if crate::server::auth::constant_time_eq(token.as_bytes(), p.as_bytes()) =>
        {
            Ok(())
        }
        (Some(_), Some(_)) => Err((StatusCode::UNAUTHORIZED, "the metrics token is wrong\n")),
        _ if loopback && !anywhere => Ok(()),
        (Some(_), None) => Err((
            StatusCode::UNAUTHORIZED,
            "metrics need a token: send `Authorization: Bearer <token>`\n",
        )),
        (None, _) if anywhere => Ok(()),
        (None, _) => Err((
            StatusCode::FORBIDDEN,
            "metrics are served to loopback only: start the feed with --metrics-token TOKEN, \
             or --metrics-listen ADDR for an address of your choosing\n",
        )),
    }
}

fn allowed(
    app: &App,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    anywhere: bool,
) -> Result<(), (StatusCode, &'static str)> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let loopback = peer.is_some_and(|p| p.ip().is_loopback());
    may_scrape(
        app.metrics_config.token.as_deref(),
        presented,
        loopback,
        anywhere,
    )
}

fn exposition(app: &App) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(app),
    )
        .into_response()
}

/// `GET /metrics` on the feed's port.
pub(crate) async fn serve_metrics(AxState(app): AxState<Arc<App>>, req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|p| p.0);
    match allowed(&app, req.headers(), peer, false) {
        Ok(()) => exposition(&app),
        Err(refusal) => refusal.into_response(),
    }
}

/// `GET /metrics` on `--metrics-listen`.
pub(crate) async fn serve_metrics_anywhere(
    AxState(app): AxState<Arc<App>>,
    headers: HeaderMap,
) -> Response {
    match allowed(&app, &headers, None, true) {
        Ok(()) => exposition(&app),
        Err(refusal) => refusal.into_response(),
    }
}

/// Which webhook a route is, as the `source` of `warroom_alerts_received_total`.
fn alert_source(route: &str) -> Option<&'static str> {
    match route {
        "/webhook/alertmanager" => Some("alertmanager"),
        "/webhook/pagerduty" => Some("pagerduty"),
        "/v2/enqueue" => Some("events_v2"),
        _ => None,
    }
}

/// Counts every request by route and status; a webhook request refused (authentication,
/// a bad body, the rate limit, the core unavailable) counts as a `refused` alert too.
pub(crate) async fn count_requests(
    AxState(app): AxState<Arc<App>>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let response = next.run(req).await;
    let route = route.as_deref().unwrap_or("unmatched");
    let code = response.status();
    app.metrics.http_request(route, code.as_u16());
    if let Some(source) = alert_source(route)
        && (code.is_client_error() || code.is_server_error())
    {
        app.metrics.alert(source, "refused");
    }
    response
}

/// Serves `/metrics` alone on `--metrics-listen`, when set, until shutdown; and folds the
/// histograms' observations every few seconds. Returns the address it listens on.
pub(crate) async fn listener(
    app: &Arc<App>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<Option<SocketAddr>> {
    let upkept = app.metrics.clone();
    let mut upkeep_stop = stop.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(5)) => upkept.upkeep(),
                _ = upkeep_stop.wait_for(|s| *s) => return,
            }
        }
    });
    let Some(listen) = app.metrics_config.listen else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (--metrics-listen)"))?;
    let addr = listener.local_addr()?;
    let router = Router::new()
        .route("/metrics", get(serve_metrics_anywhere))
        .with_state(app.clone());
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::error!("serving metrics on {addr}: {e}");
        }
    });
    tracing::info!("serving metrics on http://{addr}/metrics");
    if !addr.ip().is_loopback() && app.metrics_config.token.is_none() {
        tracing::warn!(
            "metrics on {addr} are open to anyone who can reach it: pass --metrics-token to \
             require a token"
        );
    }
    Ok(Some(addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feed_port_serves_metrics_to_loopback_and_beyond_only_with_the_token() {
        let t = Some("metrics-token-0123456789");
        assert!(may_scrape(None, None, true, false).is_ok());
        assert_eq!(
            may_scrape(None, None, false, false).unwrap_err().0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            may_scrape(t, None, false, false).unwrap_err().0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            may_scrape(t, Some("wrong"), false, false).unwrap_err().0,
            StatusCode::UNAUTHORIZED
        );
        assert!(may_scrape(t, t, false, false).is_ok());
        // The operator's own address: anyone who reaches it, or the token's holders.
        assert!(may_scrape(None, None, false, true).is_ok());
        assert!(may_scrape(t, None, true, true).is_err());
        assert!(may_scrape(t, t, false, true).is_ok());
    }
}
