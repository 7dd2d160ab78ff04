//! What the feed benchmarks share: consoles on loopback (connect, join, commands, readers that
//! report a probe's arrival), the fan-out latency measure, and the baseline every one of them
//! is held against, a bare tokio-tungstenite broadcast server.
//!
//! Each bench uses part of it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, broadcast, mpsc};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// `WARROOM_BENCH_SMOKE` set (to anything but empty or `0`): the smoke run.
pub fn smoke() -> bool {
    std::env::var("WARROOM_BENCH_SMOKE").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The longest any one wait may take (an answer, an event reaching every client): past it
/// the benchmark is broken, not slow, and panics rather than hang.
pub const PATIENCE: Duration = Duration::from_secs(120);

pub async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: nothing within {}s", PATIENCE.as_secs()),
    }
}

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub fn pct(mut v: Vec<f64>, q: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 * q) as usize).min(v.len() - 1)]
}

pub async fn connect(url: &str) -> Ws {
    // TCP_NODELAY on, as the warroom client does.
    within(
        "connecting",
        tokio_tungstenite::connect_async_with_config(url, None, true),
    )
    .await
    .unwrap()
    .0
}

pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        match within("waiting for a frame", ws.next()).await {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("connection ended: {other:?}"),
        }
    }
}

/// Connects and says hello as `name`; returns once the feed says `synced`.
pub async fn join(url: &str, name: &str) -> Ws {
    let mut ws = connect(url).await;
    let hello = json!({"type": "hello", "name": name, "protocol": 2}).to_string();
    ws.send(Message::Text(hello.into())).await.unwrap();
    while next_json(&mut ws).await["type"] != "synced" {}
    ws
}

/// Sends a command and waits for its answer; returns the first seq. Other frames (every
/// event goes to every connection) are skipped by a cheap prefix check, not parsed, so the
/// benchmark's own clients take as little CPU from the feed as they can.
pub async fn command(ws: &mut Ws, id: &str, cmd: Value) -> u64 {
    let frame = json!({"type": "command", "id": id, "command": cmd}).to_string();
    ws.send(Message::Text(frame.into())).await.unwrap();
    loop {
        let t = match within("waiting for an answer", ws.next()).await {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(_)) => continue,
            other => panic!("connection ended: {other:?}"),
        };
        let t = t.as_str();
        if !(t.starts_with(r#"{"type":"ok""#) || t.starts_with(r#"{"type":"error""#)) {
            continue;
        }
        let v: Value = serde_json::from_str(t).unwrap();
        if v["id"] == id {
            assert_eq!(v["type"], "ok", "{v}");
            return v["seqs"][0].as_u64().unwrap();
        }
    }
}

/// `n` readers that report when they have seen an event with a given marker in its text,
/// each named `reader-{i}` (when `hello`: a warroom console, joined and synced; otherwise a
/// bare connection). At most `parallel` connect at once. Returns once all are connected.
pub async fn readers(
    url: &str,
    n: usize,
    marker_tx: mpsc::UnboundedSender<u64>,
    hello: bool,
    parallel: usize,
) -> Vec<tokio::task::JoinHandle<()>> {
    let gate = Arc::new(Semaphore::new(parallel.max(1)));
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let mut handles = Vec::with_capacity(n);
    for r in 0..n {
        let permit = gate.clone().acquire_owned().await.unwrap();
        let url = url.to_string();
        let tx = marker_tx.clone();
        let ready = ready_tx.clone();
        handles.push(tokio::spawn(async move {
            let mut ws = if hello {
                join(&url, &format!("reader-{r}")).await
            } else {
                connect(&url).await
            };
            drop(permit);
            let _ = ready.send(());
            while let Some(Ok(msg)) = ws.next().await {
                let Message::Text(t) = msg else { continue };
                // Cheap scan: only probe frames carry "probe-".
                if let Some(i) = t.as_str().find("probe-") {
                    let digits: String = t.as_str()[i + 6..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    if let Ok(k) = digits.parse() {
                        let _ = tx.send(k);
                    }
                }
            }
        }));
    }
    for _ in 0..n {
        within("waiting for the readers to connect", ready_rx.recv())
            .await
            .expect("a reader failed to connect");
    }
    handles
}

/// Sends `probes` notes one at a time and measures, for each, the time until all `n`
/// readers have it. Returns (p50, p99) in ms.
pub async fn fanout_latency(
    n: usize,
    probes: usize,
    mut send: impl FnMut(usize) -> futures_util::future::BoxFuture<'static, ()>,
    seen: &mut mpsc::UnboundedReceiver<u64>,
) -> (f64, f64) {
    let mut lat = Vec::with_capacity(probes);
    for k in 0..probes {
        let t = Instant::now();
        send(k).await;
        let mut count = 0;
        while count < n {
            let got = within("waiting for a probe to reach every client", seen.recv())
                .await
                .expect("every reader stopped");
            if got == k as u64 {
                count += 1;
            }
        }
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    (pct(lat.clone(), 0.5), pct(lat, 0.99))
}

/// The baseline: a bare tokio-tungstenite server relaying each text frame to everyone, with
/// `read_buffer` bytes of read buffer per connection. Runs until the task is aborted.
pub async fn bare_server(read_buffer: usize) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (btx, _) = broadcast::channel::<Arc<String>>(4096);
    let config = WebSocketConfig::default().read_buffer_size(read_buffer);
    let accept = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                break;
            };
            let btx = btx.clone();
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let Ok(ws) = tokio_tungstenite::accept_async_with_config(tcp, Some(config)).await
                else {
                    return;
                };
                let (mut sink, mut stream) = ws.split();
                let mut rx = btx.subscribe();
                loop {
                    tokio::select! {
                        m = stream.next() => match m {
                            Some(Ok(Message::Text(t))) => { let _ = btx.send(Arc::new(t.as_str().to_string())); }
                            Some(Ok(_)) => {}
                            _ => break,
                        },
                        f = rx.recv() => match f {
                            Ok(f) => { if sink.send(Message::Text(f.as_str().into())).await.is_err() { break; } }
                            Err(broadcast::error::RecvError::Lagged(_)) => {}
                            Err(_) => break,
                        },
                    }
                }
            });
        }
    });
    (format!("ws://{addr}/"), accept)
}

/// A probe note through the bare server: a frame shaped like an event, with the marker.
pub fn bare_probe(k: usize) -> Message {
    Message::Text(
        json!({"type": "event", "event": {"text": format!("probe-{k}")}})
            .to_string()
            .into(),
    )
}

/// 9600 -> "9,600".
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
