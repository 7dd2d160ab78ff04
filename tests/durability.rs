//! Nothing acknowledged is ever lost: the real `warroom serve` is killed with SIGKILL in the
//! middle of concurrent writes, and stopped with SIGTERM between them; after each restart
//! every acknowledged event is there exactly once and the log is contiguous.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const WRITERS: usize = 4;

/// How many commands the writers have had acknowledged, with a wake-up on each.
#[derive(Default)]
struct Progress {
    acked: AtomicUsize,
    notify: tokio::sync::Notify,
}

#[derive(Default, Debug)]
struct Outcome {
    /// id -> seq of the acknowledged event
    acked: HashMap<String, u64>,
    /// sent, connection died before the answer: recorded at most once
    in_flight: Vec<String>,
}

/// Writes notes whose text is their command id until the connection dies or `limit` is hit.
async fn writer(url: String, name: String, round: usize, progress: Arc<Progress>) -> Outcome {
    let mut out = Outcome::default();
    let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url.as_str()).await else {
        return out;
    };
    let hello = json!({"type": "hello", "protocol": 2, "name": name}).to_string();
    if ws.send(Message::Text(hello.into())).await.is_err() {
        return out;
    }
    for i in 0..10_000 {
        let id = format!("{name}-r{round}-{i}");
        let cmd = json!({"type": "command", "id": id, "command": note("INC-1", &id)}).to_string();
        if ws.send(Message::Text(cmd.into())).await.is_err() {
            out.in_flight.push(id);
            return out;
        }
        loop {
            match tokio::time::timeout(WAIT, ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    if v["type"] == "ok" && v["id"] == id.as_str() {
                        out.acked.insert(id.clone(), v["seqs"][0].as_u64().unwrap());
                        progress.acked.fetch_add(1, Ordering::SeqCst);
                        progress.notify.notify_waiters();
                        break;
                    }
                    assert_ne!(v["type"], "error", "unexpected error: {v}");
                }
                Ok(Some(Ok(_))) => {}
                _ => {
                    out.in_flight.push(id);
                    return out;
                }
            }
        }
    }
    out
}

/// Reads the whole log through a fresh client and checks it: contiguous, and every text
/// (a command id) at most once. Returns text -> seq.
async fn read_log(url: &str) -> BTreeMap<String, u64> {
    let (mut c, frames) = Raw::join(url, "auditor", Some(0)).await;
    drop(frames);
    let events = c.events.clone();
    let _ = &mut c;
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "the log is contiguous"
    );
    let mut by_text = BTreeMap::new();
    for e in &events {
        if e["kind"] == "entry_added" {
            let t = e["text"].as_str().unwrap().to_string();
            let seq = e["seq"].as_u64().unwrap();
            assert!(
                by_text.insert(t.clone(), seq).is_none(),
                "'{t}' recorded twice"
            );
        }
    }
    by_text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_concurrent_writes_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServeProcess::start(dir.path());
    {
        let (mut a, _) = Raw::join(&server.url, "setup", None).await;
        seqs(&a.command(declare("Checkout 500s", 1)).await);
    }
    let mut all_acked: HashMap<String, u64> = HashMap::new();
    let rounds = 3;
    for round in 0..rounds {
        let progress = Arc::new(Progress::default());
        let tasks: Vec<_> = (0..WRITERS)
            .map(|w| {
                tokio::spawn(writer(
                    server.url.clone(),
                    format!("w{w}"),
                    round,
                    progress.clone(),
                ))
            })
            .collect();
        // Kill once writes are flowing: a varying amount into each round.
        let target = 30 + round * 25;
        tokio::time::timeout(WAIT, async {
            loop {
                let woken = progress.notify.notified();
                if progress.acked.load(Ordering::SeqCst) >= target {
                    break;
                }
                woken.await;
            }
        })
        .await
        .expect("writes did not flow");
        server.kill();
        let mut in_flight = Vec::new();
        for t in tasks {
            let o = t.await.unwrap();
            all_acked.extend(o.acked);
            in_flight.extend(o.in_flight);
        }
        server = ServeProcess::start(dir.path());
        let log = read_log(&server.url).await;
        for (id, seq) in &all_acked {
            assert_eq!(
                log.get(id),
                Some(seq),
                "acknowledged {id} missing or moved after SIGKILL"
            );
        }
        // Commands caught in flight: re-sent with the same id, each lands exactly once.
        for id in &in_flight {
            let name = id.split('-').next().unwrap();
            let (mut c, _) = Raw::join(&server.url, name, None).await;
            let answer = c.command_with_id(id, note("INC-1", id)).await;
            let s = seqs(&answer)[0];
            if let Some(before) = log.get(id) {
                assert_eq!(*before, s, "a retry returns the first answer");
            }
            all_acked.insert(id.clone(), s);
        }
        let log = read_log(&server.url).await;
        assert_eq!(
            log.len(),
            all_acked.len(),
            "exactly the acknowledged notes, once each"
        );
    }

    // SIGKILL between writes, then a graceful stop: everything is still there each time.
    server.kill();
    let server = ServeProcess::start(dir.path());
    assert_eq!(read_log(&server.url).await.len(), all_acked.len());
    assert!(server.terminate(), "SIGTERM exits cleanly");
    let server = ServeProcess::start(dir.path());
    let log = read_log(&server.url).await;
    assert_eq!(log.len(), all_acked.len());
    server.kill();
}
