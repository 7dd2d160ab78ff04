//! Loopback webhook receivers: what a channel, a tracker or a status page sees of warroom's
//! deliveries (pages, notifications, tickets, status updates).

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

/// Every request a receiver took: its `Idempotency-Key` header and its JSON body.
pub type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// A receiver on a loopback port answering the `n`th request (1 for the first), whose
/// JSON body is `v`, with `answer(n, v)`: a status and a body. Keeps every request's
/// idempotency key and body.
pub async fn receiver_answering<F>(answer: F) -> (String, Seen)
where
    F: Fn(usize, &Value) -> (StatusCode, String) + Send + Sync + 'static,
{
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let answer = Arc::new(answer);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let log = log.clone();
            let answer = answer.clone();
            async move {
                let key = header(&headers, "idempotency-key").unwrap_or_default();
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let n = {
                    let mut l = log.lock().unwrap();
                    l.push((key, v.clone()));
                    l.len()
                };
                answer(n, &v)
            }
        }),
    );
    (format!("http://{}/hook", serve(app).await), seen)
}

/// A receiver that answers 500 to the first request, then 200.
pub async fn receiver() -> (String, Seen) {
    receiver_answering(|n, _| {
        if n == 1 {
            (StatusCode::INTERNAL_SERVER_ERROR, String::new())
        } else {
            (StatusCode::OK, String::new())
        }
    })
    .await
}

/// A feed on a loopback port under `policy`, retrying deliveries 20 ms apart.
pub async fn serve_with_policy(
    dir: &std::path::Path,
    policy: &str,
) -> warroom::server::RunningServer {
    let mut cfg = super::server_config("127.0.0.1:0".parse().unwrap(), dir.to_path_buf());
    cfg.rules = Arc::new(warroom::server::Rules {
        policy: warroom::model::policy::Policy::parse(policy).unwrap(),
        runbooks: Default::default(),
    });
    cfg.notify_backoff = Some(std::time::Duration::from_millis(20));
    warroom::server::start(cfg).await.unwrap()
}

/// Serves `app` on a loopback port for the rest of the test; its address.
async fn serve(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// One request a [`hooks`] receiver got.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The path after `/hook/` (each channel of a test posts to its own).
    pub path: String,
    pub key: String,
    pub authorization: Option<String>,
    pub body: Value,
}

/// A receiver for several channels at once: `BASE/NAME` for each; answers 500 to the first
/// request on each path, then 200; keeps every request.
pub async fn hooks() -> (String, Arc<Mutex<Vec<Hit>>>) {
    let seen: Arc<Mutex<Vec<Hit>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/hook/{name}",
        axum::routing::post(
            move |axum::extract::Path(name): axum::extract::Path<String>,
                  headers: HeaderMap,
                  body: axum::body::Bytes| {
                let log = log.clone();
                async move {
                    let mut l = log.lock().unwrap();
                    let first = !l.iter().any(|h| h.path == name);
                    l.push(Hit {
                        path: name,
                        key: header(&headers, "idempotency-key").unwrap_or_default(),
                        authorization: header(&headers, "authorization"),
                        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                    });
                    if first {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                }
            },
        ),
    );
    (format!("http://{}/hook", serve(app).await), seen)
}
