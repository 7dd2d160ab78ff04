//! Action items as tickets, against a running feed over loopback: the policy's `[tracker]`
//! webhook gets each new action item with its idempotency key and the feed's retries; its
//! answer (the ticket's reference) goes on the record, into the post-mortem and both
//! exports; a failure is recorded and the item sent again after a restart, never once it
//! has its ticket; a restricted incident's item leaves warroom without its words.

mod common;

use axum::http::StatusCode;
use common::hooks::{receiver_answering, serve_with_policy};
use common::*;
use serde_json::{Value, json};

fn policy(url: &str) -> String {
    format!("[tracker]\nurl = \"{url}\"\n")
}

/// The feed's id, from the frames before `synced`.
fn feed_id(frames: &[Value]) -> String {
    let w = frames.iter().find(|f| f["type"] == "welcome").unwrap();
    w["feed_id"].as_str().unwrap().to_string()
}

fn action_item(inc: &str, text: &str) -> Value {
    json!({"op": "add_action_item", "incident": inc, "text": text, "owner": "bob",
           "due": "2026-03-24"})
}

/// The event of `kind` about item `item`: read already (it may come before the answer to
/// the command that caused it), or read from the feed until it arrives.
async fn event_for(c: &mut Raw, kind: &str, item: u64) -> Value {
    let about = |e: &Value| e["kind"] == kind && (e["item"] == item || e["step_seq"] == item);
    loop {
        if let Some(e) = c.events.iter().find(|e| about(e)) {
            return e.clone();
        }
        c.next().await.expect("feed closed");
    }
}

/// The text of an export, its parts joined.
async fn export(c: &mut Raw, inc: &str, format: &str) -> String {
    let id = format!("export-{inc}-{format}");
    c.send(&json!({"type": "query", "id": id,
                   "query": {"op": "export", "incident": inc, "format": format}}))
        .await;
    let mut text = String::new();
    loop {
        let f = c.next().await.expect("feed closed");
        if f["id"] != id.as_str() {
            continue;
        }
        assert_eq!(f["type"], "result", "{f}");
        text.push_str(f["result"]["text"].as_str().unwrap());
        if f["result"]["last"] == true {
            return text;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_item_becomes_a_ticket_whose_reference_is_recorded_and_exported() {
    // The tracker fails once (503), then opens the ticket.
    let (url, seen) = receiver_answering(|n, body| {
        if n == 1 {
            return (StatusCode::SERVICE_UNAVAILABLE, String::new());
        }
        let r = format!("OPS-{}", body["item"]);
        let answer =
            json!({"reference": r, "url": format!("https://tracker.example.com/browse/{r}")});
        (StatusCode::CREATED, answer.to_string())
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_policy(dir.path(), &policy(&url)).await;
    let (mut c, frames) = Raw::join(&server.url(), "alice", None).await;
    let feed = feed_id(&frames);
    seqs(
        &c.command(
            json!({"op": "declare", "title": "Checkout down", "severity": 2,
                          "service": "payments"}),
        )
        .await,
    );
    let item = seqs(
        &c.command(action_item("INC-1", "Alert on pool saturation"))
            .await,
    )[0];
    let t = event_for(&mut c, "action_item_ticketed", item).await;
    let reference = format!("OPS-{item}");
    assert_eq!(t["reference"], reference.as_str(), "{t}");
    assert_eq!(
        t["url"],
        format!("https://tracker.example.com/browse/{reference}")
    );
    assert_eq!(t["actor"], "warroom");

    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "one 503, then the ticket");
    for (key, _) in &got {
        assert_eq!(key, &format!("{feed}-{item}"), "the same key on the retry");
    }
    let body = &got[1].1;
    assert_eq!(body["idempotency_key"], format!("{feed}-{item}"));
    assert_eq!(body["incident"], "INC-1");
    assert_eq!(body["title"], "Checkout down");
    assert_eq!(body["severity"], "SEV2");
    assert_eq!(body["service"], "payments");
    assert_eq!(body["item"], item);
    assert_eq!(body["text"], "Alert on pool saturation");
    assert_eq!(body["owner"], "bob");
    assert_eq!(body["due"], "2026-03-24");
    let description = body["description"].as_str().unwrap();
    assert!(description.contains("Alert on pool saturation"), "{body}");
    assert!(!description.contains("http"), "link-free: {description}");

    // On the record: the post-mortem's item, the timeline, both exports.
    let md = export(&mut c, "INC-1", "md").await;
    assert!(
        md.contains("| # | Action | Owner | Due | State | Ticket |"),
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "| Alert on pool saturation | bob | 2026-03-24 | open | {reference} <https://tracker.example.com/browse/{reference}> |"
        )),
        "{md}"
    );
    let js: Value = serde_json::from_str(&export(&mut c, "INC-1", "json").await).unwrap();
    let a = &js["incident"]["postmortem"]["action_items"][0];
    assert_eq!(a["ticket"]["reference"], reference.as_str(), "{a}");
    assert!(
        js["incident"]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["text"] == format!("action item #{item} ticketed: {reference}")),
        "{js}"
    );

    // A restricted incident's item: its id, owner and due date, none of its words.
    seqs(
        &c.command(
            json!({"op": "declare", "title": "Keys leaked in a bucket", "severity": 1,
                          "service": "storage", "restricted": true}),
        )
        .await,
    );
    let secret = seqs(
        &c.command(action_item("INC-2", "Rotate the leaked signing key"))
            .await,
    )[0];
    event_for(&mut c, "action_item_ticketed", secret).await;
    let got = seen.lock().unwrap().clone();
    let (key, body) = got.last().unwrap();
    assert_eq!(key, &format!("{feed}-{secret}"));
    assert_eq!(body["restricted"], true);
    assert_eq!(body["owner"], "bob");
    assert_eq!(body["item"], secret);
    assert_eq!(body["due"], "2026-03-24");
    let sent = body.to_string();
    for word in ["Rotate", "leaked", "Keys", "storage", "SEV1"] {
        assert!(!sent.contains(word), "'{word}' left warroom: {sent}");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_ticket_is_recorded_and_sent_again_after_a_restart_never_once_it_has_one() {
    let dir = tempfile::tempdir().unwrap();
    // The tracker refuses (400: not retried).
    let (down, refused) =
        receiver_answering(|_, _| (StatusCode::BAD_REQUEST, "no project".into())).await;
    let server = serve_with_policy(dir.path(), &policy(&down)).await;
    let (mut c, frames) = Raw::join(&server.url(), "alice", None).await;
    let feed = feed_id(&frames);
    seqs(&c.command(declare("Checkout down", 2)).await);
    let item = seqs(
        &c.command(action_item("INC-1", "Alert on pool saturation"))
            .await,
    )[0];
    let r = event_for(&mut c, "notification_result", item).await;
    assert_eq!(r["delivered"], false, "{r}");
    assert_eq!(r["channel"], "tracker");
    assert_eq!(r["attempts"], 1, "a 400 is not retried");
    assert_eq!(r["detail"], "webhook answered HTTP 400");
    assert_eq!(refused.lock().unwrap().len(), 1);
    let (_o, frames) = Raw::join(&server.url(), "observer", None).await;
    let board = frames.iter().find(|f| f["type"] == "snapshot").unwrap();
    let entries = board["state"]["incidents"][0]["entries"]
        .as_array()
        .unwrap();
    assert!(
        entries.iter().any(|e| e["text"]
            == format!(
                "action item #{item}: NO ticket opened via tracker: webhook answered HTTP 400"
            )),
        "{entries:?}"
    );
    drop(c);
    server.shutdown().await.unwrap();

    // Restarted with a tracker that works: the item goes again, with the same key.
    let (up, opened) =
        receiver_answering(|_, _| (StatusCode::OK, json!({"reference": "OPS-7"}).to_string()))
            .await;
    let server = serve_with_policy(dir.path(), &policy(&up)).await;
    let (mut c, _) = Raw::join(&server.url(), "alice", Some(0)).await;
    let t = event_for(&mut c, "action_item_ticketed", item).await;
    assert_eq!(t["reference"], "OPS-7");
    assert!(t.get("url").is_none(), "{t}");
    assert_eq!(opened.lock().unwrap()[0].0, format!("{feed}-{item}"));
    drop(c);
    server.shutdown().await.unwrap();

    // Once more: the item has its ticket and is never sent again; a new one is.
    let (again, seen) = receiver_answering(|_, body| {
        (
            StatusCode::OK,
            json!({"reference": format!("OPS-{}", body["item"])}).to_string(),
        )
    })
    .await;
    let server = serve_with_policy(dir.path(), &policy(&again)).await;
    let (mut c, _) = Raw::join(&server.url(), "alice", None).await;
    // A command id of its own: this connection's first would repeat the declaration's.
    let added = c
        .command_with_id("after-restart", action_item("INC-1", "Load-test the pool"))
        .await;
    let second = seqs(&added)[0];
    event_for(&mut c, "action_item_ticketed", second).await;
    let keys: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(keys, [format!("{feed}-{second}")]);
    server.shutdown().await.unwrap();
}
