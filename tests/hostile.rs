//! Hostile input against a real feed on a loopback port: an oversized handshake header, an
//! unmasked client frame, invalid UTF-8, deeply nested JSON (frames and webhook bodies), the
//! per-connection command rate, and a client that stops reading. Each time the offender is
//! refused or cut, and the feed keeps serving everyone else.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use warroom::server::{Limits, RunningServer, ServerConfig};

async fn start_with(dir: &std::path::Path, limits: Limits) -> RunningServer {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.to_path_buf());
    cfg.rules = std::sync::Arc::new(quiet_rules());
    cfg.limits = limits;
    warroom::server::start(cfg).await.unwrap()
}

/// Sends `request` on a fresh TCP connection and returns what came back: up to the end of
/// the response head, or everything until the server closes when `to_eof`. A connection the
/// server resets gives what was read before (possibly nothing).
async fn exchange(addr: SocketAddr, request: Vec<u8>, to_eof: bool) -> String {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = tcp.into_split();
    // The server may answer and close while the request is still being written.
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&request).await;
        wr
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let read = async {
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            if !to_eof && got.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .expect("no answer from the server");
    drop(writer.await);
    String::from_utf8_lossy(&got).into_owned()
}

fn status_of(response: &str) -> Option<u16> {
    response.split(' ').nth(1)?.parse().ok()
}

fn upgrade_request(extra_headers: &str) -> Vec<u8> {
    format!(
        "GET /feed HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         {extra_headers}\r\n"
    )
    .into_bytes()
}

async fn healthz(addr: SocketAddr) -> Value {
    let r = exchange(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        true,
    )
    .await;
    assert_eq!(status_of(&r), Some(200), "{r}");
    let body = r.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("healthz body {body:?}: {e}"))
}

/// The feed still serves: a new client joins and a command is recorded.
async fn still_serving(server: &RunningServer, who: &str) {
    let (mut c, _) = Raw::join(&server.url(), who, None).await;
    let answer = c
        .command(declare(&format!("{who} checks the feed"), 3))
        .await;
    assert_eq!(answer["type"], "ok", "{answer}");
    assert_eq!(healthz(server.addr).await["status"], "ok");
}

type Sock = WebSocketStream<TcpStream>;

/// A WebSocket on a TCP stream this test can also write raw bytes to.
async fn ws_connect(addr: SocketAddr, recv_buffer: Option<u32>) -> Sock {
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(n) = recv_buffer {
        socket.set_recv_buffer_size(n).unwrap();
    }
    let tcp = tokio::time::timeout(WAIT, socket.connect(addr))
        .await
        .unwrap()
        .unwrap();
    tcp.set_nodelay(true).unwrap();
    let (ws, _) = tokio::time::timeout(
        WAIT,
        tokio_tungstenite::client_async(format!("ws://{addr}/feed"), tcp),
    )
    .await
    .unwrap()
    .unwrap();
    ws
}

#[derive(Debug)]
enum Got {
    Frame(Value),
    /// The server's close frame code, or `None` when the connection ended without one.
    Closed(Option<u16>),
}

async fn next(ws: &mut Sock) -> Got {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("nothing from the server within the wait")
        {
            Some(Ok(Message::Text(t))) => return Got::Frame(serde_json::from_str(&t).unwrap()),
            Some(Ok(Message::Close(c))) => return Got::Closed(c.map(|c| u16::from(c.code))),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Got::Closed(None),
        }
    }
}

/// Reads frames until the connection closes; returns the close code and the frames before.
async fn until_closed(ws: &mut Sock) -> (Option<u16>, Vec<Value>) {
    let mut frames = Vec::new();
    loop {
        match next(ws).await {
            Got::Frame(v) => frames.push(v),
            Got::Closed(code) => return (code, frames),
        }
    }
}

async fn hello(ws: &mut Sock, name: &str) {
    ws.send(Message::Text(
        json!({"type": "hello", "protocol": 2, "name": name})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    loop {
        match next(ws).await {
            Got::Frame(v) if v["type"] == "synced" => return,
            Got::Frame(_) => continue,
            Got::Closed(c) => panic!("closed during the handshake: {c:?}"),
        }
    }
}

/// One client-to-server text frame, written byte by byte as the test wants it.
fn text_frame(payload: &[u8], masked: bool) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![0x81];
    if masked {
        // A zero masking key leaves the payload as it is: still a masked frame.
        f.push(0x80 | payload.len() as u8);
        f.extend_from_slice(&[0, 0, 0, 0]);
    } else {
        f.push(payload.len() as u8);
    }
    f.extend_from_slice(payload);
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_handshake_header_is_refused_and_the_feed_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let addr = server.addr;
    let (mut alice, _) = Raw::join(&server.url(), "alice", None).await;

    // An ordinary large cookie (8 KB) is fine: the upgrade succeeds.
    let ok = exchange(
        addr,
        upgrade_request(&format!("Cookie: s={}\r\n", "a".repeat(8_000))),
        false,
    )
    .await;
    assert_eq!(status_of(&ok), Some(101), "{ok}");

    // A 100 KB cookie is over the feed's 32 KiB limit on request heads: 431, before the
    // upgrade handler runs.
    let r = exchange(
        addr,
        upgrade_request(&format!("Cookie: s={}\r\n", "a".repeat(100_000))),
        true,
    )
    .await;
    assert_eq!(status_of(&r), Some(431), "{r:.200}");
    assert!(r.contains("the limit is 32768"), "{r:.300}");

    // Over hyper's own buffer (about 400 KiB) the head is never even parsed: 431, or a
    // connection reset while the client is still writing. Never an upgrade.
    let r = exchange(
        addr,
        upgrade_request(&format!("Cookie: s={}\r\n", "a".repeat(1_000_000))),
        true,
    )
    .await;
    assert!(
        matches!(status_of(&r), Some(431) | None),
        "a 1 MB header: {r:.200}"
    );
    // Many small headers: hyper allows 100.
    let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let r = exchange(addr, upgrade_request(&many), true).await;
    assert_eq!(status_of(&r), Some(431), "{r:.200}");

    // The webhooks are behind the same limit.
    let r = exchange(
        addr,
        format!(
            "POST /webhook/alertmanager HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}",
            "p".repeat(40_000)
        )
        .into_bytes(),
        true,
    )
    .await;
    assert_eq!(status_of(&r), Some(431), "{r:.200}");

    // Everyone else carries on.
    assert_eq!(seqs(&alice.command(declare("still here", 2)).await), [1]);
    still_serving(&server, "bob").await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmasked_client_frame_closes_that_connection_with_a_protocol_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let (mut alice, _) = Raw::join(&server.url(), "alice", None).await;
    for after_hello in [false, true] {
        let mut ws = ws_connect(server.addr, None).await;
        if after_hello {
            hello(&mut ws, "mallory").await;
        }
        // Clients MUST mask every frame (RFC 6455 5.1).
        let frame = text_frame(br#"{"type":"hello","protocol":2,"name":"mallory"}"#, false);
        ws.get_mut().write_all(&frame).await.unwrap();
        let (code, frames) = until_closed(&mut ws).await;
        assert_eq!(
            code,
            Some(1002),
            "after hello: {after_hello}; frames: {frames:?}"
        );
        assert!(
            frames.iter().all(|f| f["type"] != "welcome" || after_hello),
            "the unmasked hello was not processed: {frames:?}"
        );
    }
    // The same frame masked is fine.
    let mut ws = ws_connect(server.addr, None).await;
    let frame = text_frame(br#"{"type":"hello","protocol":2,"name":"mallory"}"#, true);
    ws.get_mut().write_all(&frame).await.unwrap();
    match next(&mut ws).await {
        Got::Frame(v) => assert_eq!(v["type"], "welcome", "{v}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(seqs(&alice.command(declare("still here", 2)).await), [1]);
    still_serving(&server, "bob").await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_in_a_text_frame_closes_that_connection_with_1007() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let (mut alice, _) = Raw::join(&server.url(), "alice", None).await;
    for after_hello in [false, true] {
        let mut ws = ws_connect(server.addr, None).await;
        if after_hello {
            hello(&mut ws, "mallory").await;
        }
        let frame = text_frame(b"{\"type\":\"focus\",\"x\":\"\xff\xfe\xc0\xaf\"}", true);
        ws.get_mut().write_all(&frame).await.unwrap();
        let (code, frames) = until_closed(&mut ws).await;
        assert_eq!(
            code,
            Some(1007),
            "after hello: {after_hello}; frames: {frames:?}"
        );
    }
    assert_eq!(seqs(&alice.command(declare("still here", 2)).await), [1]);
    still_serving(&server, "bob").await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_json_gets_a_clear_error_not_a_stack_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let (mut c, _) = Raw::join(&server.url(), "alice", None).await;

    // In a command frame: refused past 128 levels, before anything is parsed.
    let deep_title = format!(
        r#"{{"type":"command","id":"deep","command":{{"op":"declare","severity":1,"title":{}}}}}"#,
        "[".repeat(50_000)
    );
    let cases = [
        (
            "[".repeat(60_000),
            "bad_frame",
            "nested deeper than 128 levels",
        ),
        (
            "{\"a\":".repeat(10_000),
            "bad_frame",
            "nested deeper than 128 levels",
        ),
        (deep_title, "bad_frame", "nested deeper than 128 levels"),
        // Over the application frame limit, nothing is parsed at all.
        ("[".repeat(100_000), "frame_too_large", "the limit is 65536"),
        (
            "[".repeat(1_000_000),
            "frame_too_large",
            "the limit is 65536",
        ),
    ];
    for (frame, code, needle) in cases {
        c.send_text(frame.clone()).await;
        let e = c
            .next_non_presence()
            .await
            .expect("the connection stays open");
        assert_eq!(e["type"], "error", "{frame:.40}: {e}");
        assert_eq!(e["code"], code, "{frame:.40}: {e}");
        assert!(
            e["message"].as_str().unwrap().contains(needle),
            "{frame:.40}: {e}"
        );
    }
    // Within the limit, a nested title is only a wrong value, named as such (the exact
    // limit is pinned by tests/protocol_doc.rs).
    let ok_depth = format!(
        r#"{{"type":"command","id":"d127","command":{{"op":"declare","severity":1,"title":{}1{}}}}}"#,
        "[".repeat(120),
        "]".repeat(120)
    );
    c.send_text(ok_depth).await;
    let e = c.next_non_presence().await.unwrap();
    assert_eq!(
        (e["code"].as_str(), e["id"].as_str()),
        (Some("invalid"), Some("d127")),
        "{e}"
    );
    assert_eq!(seqs(&c.command(declare("still here", 2)).await), [1]);

    // In a webhook body: a 400 that says so, for each intake route.
    for path in ["/webhook/alertmanager", "/webhook/pagerduty", "/v2/enqueue"] {
        for body in [
            "[".repeat(100_000),
            format!(
                r#"{{"version":"4","groupKey":"g","alerts":[{{"labels":{}}}]}}"#,
                "{\"a\":".repeat(50_000)
            ),
        ] {
            let r = exchange(
                server.addr,
                format!(
                    "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .into_bytes(),
                true,
            )
            .await;
            assert_eq!(status_of(&r), Some(400), "{path}: {r:.300}");
            assert!(
                r.contains("nested deeper than 128 levels"),
                "{path}: {r:.400}"
            );
        }
    }
    still_serving(&server, "bob").await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_over_the_rate_are_refused_and_a_flood_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        commands_per_second: 2,
        command_burst: 10,
        max_rate_refusals: 20,
        ..Limits::default()
    };
    let server = start_with(dir.path(), limits).await;
    let (mut alice, _) = Raw::join(&server.url(), "alice", None).await;
    assert_eq!(seqs(&alice.command(declare("Checkout 500s", 2)).await), [1]);

    // Fifteen notes at once: the rest of the burst passes, the others are refused with their
    // ids and recorded nowhere.
    for i in 0..15 {
        alice
            .send(&json!({"type": "command", "id": format!("n{i}"), "command": note("INC-1", &format!("note {i}"))}))
            .await;
    }
    let mut answers = std::collections::BTreeMap::new();
    while answers.len() < 15 {
        let f = alice.next().await.expect("open");
        if f["type"] == "ok" || f["type"] == "error" {
            let id = f["id"].as_str().expect("answers carry the id").to_string();
            answers.insert(id, f);
        }
    }
    let passed: Vec<usize> = (0..15)
        .filter(|i| answers[&format!("n{i}")]["type"] == "ok")
        .collect();
    assert!(
        (9..=13).contains(&passed.len()),
        "a burst of 10 (one went on the declare), plus what refilled: {passed:?}"
    );
    assert_eq!(
        passed,
        (0..passed.len()).collect::<Vec<_>>(),
        "the first ones"
    );
    let refused = &answers[&format!("n{}", passed.len())];
    assert_eq!(refused["code"], "rate_limited", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("more than 2 frames a second (bursts of 10)"),
        "{refused}"
    );
    for i in passed.len()..15 {
        assert_eq!(answers[&format!("n{i}")]["code"], "rate_limited");
    }
    // A refused command, retried with its id after a pause, goes through once.
    let retry_id = format!("n{}", passed.len());
    let deadline = Instant::now() + WAIT;
    let answer = loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let a = alice
            .command_with_id(&retry_id, note("INC-1", "retried"))
            .await;
        if a["type"] == "ok" || Instant::now() > deadline {
            break a;
        }
        assert_eq!(a["code"], "rate_limited", "{a}");
    };
    assert_eq!(seqs(&answer), [passed.len() as u64 + 2]);

    // Queries over the rate are refused with their ids too, so the asker knows which to ask
    // again (a console's room would otherwise wait on it until a reconnect).
    let (mut carol, _) = Raw::join(&server.url(), "carol", None).await;
    for i in 0..15 {
        carol
            .send(&json!({"type": "query", "id": format!("q{i}"), "query": {"op": "open", "incident": "INC-1", "limit": 5}}))
            .await;
    }
    let mut refused_queries = 0;
    let mut seen = 0;
    while seen < 15 {
        let f = carol.next().await.expect("open");
        if f["type"] == "result" || f["type"] == "error" {
            seen += 1;
            let id = f["id"].as_str().expect("query answers carry the id");
            assert!(id.starts_with('q'), "{f}");
            if f["type"] == "error" {
                assert_eq!(f["code"], "rate_limited", "{f}");
                refused_queries += 1;
            }
        }
    }
    assert!(
        refused_queries > 0,
        "a burst of 10: some of the 15 are refused"
    );

    // A client that floods on regardless is cut after 20 refusals in a row. (One frame at a
    // time, so that the server has read everything when it closes: closing a socket with
    // unread data resets it, which could swallow the close frame.)
    let (mut bob, _) = Raw::join(&server.url(), "bob", None).await;
    let mut ok = 0;
    let mut limited = 0;
    let mut close = None;
    'flood: for i in 0..200 {
        bob.send(
            &json!({"type": "command", "id": format!("b{i}"), "command": note("INC-1", "flood")}),
        )
        .await;
        loop {
            match tokio::time::timeout(WAIT, bob.ws.next()).await.unwrap() {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    match v["type"].as_str() {
                        Some("ok") => ok += 1,
                        Some("error") => {
                            assert_eq!(v["code"], "rate_limited", "{v}");
                            limited += 1;
                        }
                        _ => continue,
                    }
                    break;
                }
                Some(Ok(Message::Close(c))) => {
                    close = c.map(|c| u16::from(c.code));
                    break 'flood;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("no close frame: {e}"),
                None => break 'flood,
            }
        }
    }
    assert_eq!(close, Some(1008));
    // Refusals more than a second apart would start the count again (a slow machine).
    assert!(
        (20..=25).contains(&limited),
        "closed at the 20th refusal: {limited}"
    );
    assert!((10..=14).contains(&ok), "{ok}");

    // The limit is per connection: a newcomer has a full burst.
    let (mut carol, frames) = Raw::join(&server.url(), "carol", None).await;
    let head = frames[0]["head_seq"].as_u64().unwrap();
    assert_eq!(
        head,
        passed.len() as u64 + 2 + ok,
        "nothing refused was recorded"
    );
    for i in 0..10 {
        assert_eq!(
            seqs(&carol.command(note("INC-1", &format!("carol {i}"))).await),
            [head + 1 + i]
        );
    }
    server.shutdown().await.unwrap();
}

/// A client that says hello and then never reads, while others write a lot: the others keep
/// receiving promptly, and the stuck one is cut once a write to it has waited too long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_and_slows_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        write_timeout: Duration::from_secs(2),
        broadcast_capacity: 64,
        commands_per_second: 100_000,
        command_burst: 100_000,
        ..Limits::default()
    };
    let server = start_with(dir.path(), limits).await;
    let url = server.url();
    let (mut reader, _) = Raw::join(&url, "reader", None).await;
    const WRITERS: usize = 4;
    let mut writers = Vec::new();
    for i in 0..WRITERS {
        writers.push(Raw::join(&url, &format!("writer{i}"), None).await.0);
    }
    seqs(&writers[0].command(declare("Checkout 500s", 2)).await);
    // A small receive buffer, so the server's writes to it block sooner.
    let mut stuck = ws_connect(server.addr, Some(4096)).await;
    hello(&mut stuck, "stuck").await;
    let everyone = 2 + WRITERS as u64;
    assert_eq!(healthz(server.addr).await["connections"], everyone);

    let text = "x".repeat(3_900);
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut rounds = 0;
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the stuck client was never cut ({rounds} rounds)"
        );
        // Every writer adds a note at once; the reader must have them all promptly.
        let round = Instant::now();
        let answers = futures_util::future::join_all(
            writers.iter_mut().map(|w| w.command(note("INC-1", &text))),
        )
        .await;
        let top = answers.iter().flat_map(seqs).max().unwrap();
        tokio::time::timeout(Duration::from_secs(5), reader.events_until(top))
            .await
            .expect("the reader fell behind while one client was stuck");
        reader.events.clear();
        slowest = slowest.max(round.elapsed());
        rounds += 1;
        if rounds % 10 == 0 && healthz(server.addr).await["connections"] == everyone - 1 {
            break;
        }
    }
    eprintln!(
        "cut after {rounds} rounds, {:?}; slowest round {slowest:?}",
        started.elapsed()
    );
    assert!(
        slowest < Duration::from_secs(5),
        "a round took {slowest:?} while a client was stuck"
    );
    // What the stuck client has not read is all it gets: the connection ends (cut, so
    // without a close frame) after what was already in the socket buffers.
    let mut frames = 0;
    let end = loop {
        match next(&mut stuck).await {
            Got::Frame(_) => frames += 1,
            Got::Closed(code) => break code,
        }
    };
    eprintln!("the stuck client had {frames} frames waiting");
    assert_eq!(end, None, "cut, not closed politely");
    assert!(frames > 0);
    still_serving(&server, "late").await;
    tokio::time::timeout(WAIT, server.shutdown())
        .await
        .expect("shutdown is not held up")
        .unwrap();
}

/// A client that reads slowly — it stalls long enough for the broadcast to move on without
/// it, but less than the write timeout — resumes from the log and misses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_falls_behind_the_broadcast_catches_up_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        write_timeout: Duration::from_secs(60),
        broadcast_capacity: 8,
        commands_per_second: 100_000,
        command_burst: 100_000,
        ..Limits::default()
    };
    let server = start_with(dir.path(), limits).await;
    let url = server.url();
    let mut writers = Vec::new();
    for i in 0..4 {
        writers.push(Raw::join(&url, &format!("writer{i}"), None).await.0);
    }
    seqs(&writers[0].command(declare("Checkout 500s", 2)).await);
    let mut slow = ws_connect(server.addr, Some(4096)).await;
    hello(&mut slow, "slow").await;
    // About 4 MB of events while it reads nothing: more than the socket buffers hold, so the
    // feed's writes to it wait, and far more than the 8 events the broadcast keeps.
    let text = "x".repeat(3_900);
    let mut top = 1;
    for _ in 0..250 {
        let answers = futures_util::future::join_all(
            writers.iter_mut().map(|w| w.command(note("INC-1", &text))),
        )
        .await;
        top = top.max(answers.iter().flat_map(seqs).max().unwrap());
    }
    let mut got = Vec::new();
    while got.last().copied().unwrap_or(0) < top {
        match next(&mut slow).await {
            Got::Frame(v) if v["type"] == "event" => got.push(v["event"]["seq"].as_u64().unwrap()),
            Got::Frame(_) => {}
            Got::Closed(c) => panic!("closed after {} events: {c:?}", got.len()),
        }
    }
    assert_eq!(
        got,
        (2..=top).collect::<Vec<_>>(),
        "every event once, in order"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_sent_a_byte_at_a_time_is_cut_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        header_read_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let server = start_with(dir.path(), limits).await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let (mut rd, mut wr) = tcp.into_split();
    // A slowloris: the upgrade request, one byte every 20 ms, far slower than any client.
    let request = upgrade_request("");
    let started = Instant::now();
    let trickle = tokio::spawn(async move {
        let mut sent = 0;
        for b in request {
            if wr.write_all(&[b]).await.is_err() {
                break;
            }
            sent += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        sent
    });
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the trickling connection was never closed");
    let took = started.elapsed();
    let total = upgrade_request("").len();
    let sent = trickle.await.unwrap();
    assert!(
        sent < total,
        "the whole head ({total} bytes) went through before the cut ({sent} sent, {took:?})"
    );
    still_serving(&server, "bob").await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_and_the_feed_serves_once_they_go() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_http_connections: 2,
        ..Limits::default()
    };
    let server = start_with(dir.path(), limits).await;
    // Two silent connections take both slots...
    let a = TcpStream::connect(server.addr).await.unwrap();
    let b = TcpStream::connect(server.addr).await.unwrap();
    // ...so a third is closed without an answer (after the two are surely accepted: the
    // server answers a request on one of them only once it holds a slot).
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(WAIT, third.read(&mut buf))
        .await
        .expect("the connection over the cap was not closed");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    drop((a, b));
    // Their slots come back once the server sees them close.
    let deadline = Instant::now() + WAIT;
    loop {
        let reply = exchange(
            server.addr,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            false,
        )
        .await;
        if status_of(&reply) == Some(200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the feed never served again: {reply:?}"
        );
        tokio::task::yield_now().await;
    }
    server.shutdown().await.unwrap();
}
