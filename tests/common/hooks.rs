//! Webhook receivers on loopback ports, for the tests of what the feed sends out (pages,
//! notifications, status updates).

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

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

/// A receiver on a loopback port: answers 500 to the first request, then 200; keeps every
/// request's idempotency key and body.
pub async fn receiver() -> (String, Arc<Mutex<Vec<(String, Value)>>>) {
    let seen: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let log = log.clone();
            async move {
                let key = header(&headers, "idempotency-key").unwrap_or_default();
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let mut l = log.lock().unwrap();
                l.push((key, v));
                if l.len() == 1 {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    (format!("http://{}/hook", serve(app).await), seen)
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
