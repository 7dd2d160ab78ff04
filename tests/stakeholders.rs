//! Status updates reaching stakeholders, against a running feed over loopback: a SEV1
//! update goes to the people the policy names for SEV1, with the executive briefing, and,
//! marked public, to the status page with its documented body, a bearer token and an
//! idempotency key; a restricted incident's update is announced without its content and
//! never goes to the status page. Each delivery's outcome is recorded on the timeline; an
//! update the feed stopped delivering is sent again after a restart, and only then.

mod common;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use common::hooks::{Hit, hooks, serve_with_policy};
use common::*;
use serde_json::{Value, json};
use warroom::model::State;

const TOKEN_VAR: &str = "WARROOM_TEST_STATUS_PAGE_TOKEN";

/// Reads the feed until `n` notification results have arrived.
async fn results(c: &mut Raw, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.len() < n {
        let f = tokio::time::timeout(WAIT, c.next())
            .await
            .expect("no notification result in time")
            .expect("feed closed");
        if f["type"] == "event" && f["event"]["kind"] == "notification_result" {
            out.push(f["event"].clone());
        }
    }
    out
}

/// The last request `path` got (the one answered 200, after the first's 500).
fn last(seen: &[Hit], path: &str) -> Hit {
    let hits: Vec<&Hit> = seen.iter().filter(|h| h.path == path).collect();
    assert_eq!(hits.len(), 2, "{path}: one 500, then delivered: {seen:?}");
    assert_eq!(hits[0].key, hits[1].key, "a retry carries the same key");
    hits[1].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_updates_reach_the_stakeholders_and_public_ones_the_status_page() {
    // SAFETY: set before the feed starts, and only this test reads it.
    unsafe { std::env::set_var(TOKEN_VAR, "s3cret") };
    let (base, seen) = hooks().await;
    let policy = format!(
        r#"
[stakeholders]
sev1 = ["leads", "vp"]
sev2 = ["team"]

[status_page]
url = "{base}/status"
token_env = "{TOKEN_VAR}"

[people.leads]
channels = ["leads-chat"]
[people.vp]
channels = ["vp-mail"]
[people.team]
channels = ["team-chat"]

[channel.leads-chat]
webhook = "{base}/leads"
format = "slack"
[channel.vp-mail]
webhook = "{base}/vp"
[channel.team-chat]
webhook = "{base}/team"
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_policy(dir.path(), &policy).await;
    let (mut c, _) = Raw::join(&server.url(), "carol", None).await;
    seqs(
        &c.command(
            json!({"op": "declare", "title": "Checkout down", "severity": 1,
                           "service": "payments"}),
        )
        .await,
    );
    let update = |public: bool, briefing: Option<Value>| {
        let mut u = json!({"op": "add_entry", "incident": "INC-1",
            "entry_kind": "status_update", "text": "15% of payments fail; rolling back 4471.",
            "next_update_secs": 1200, "public": public});
        if let Some(b) = briefing {
            u["briefing"] = b;
        }
        u
    };
    // A SEV1 update without the briefing is refused, naming it; nothing is sent.
    let e = c.command(update(true, None)).await;
    assert_eq!(e["type"], "error", "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("executive briefing")
    );
    let briefing = json!({"impact": "15% of card payments fail",
        "eta": "about 40 minutes", "at_risk": "the EU merchants' 99.9% SLA"});
    let seq = seqs(&c.command(update(true, Some(briefing.clone()))).await)[0];
    let r = results(&mut c, 3).await;
    for x in &r {
        assert_eq!(x["delivered"], true, "{x}");
        assert_eq!(x["attempts"], 2, "{x}");
        assert_eq!(x["step_seq"], seq, "the result names the update");
    }
    let mut reached: Vec<&str> = r.iter().map(|x| x["channel"].as_str().unwrap()).collect();
    reached.sort();
    assert_eq!(reached, ["leads-chat", "status_page", "vp-mail"]);

    let got = seen.lock().unwrap().clone();
    // The chat channel: one line with everything, the briefing included.
    let leads = last(&got, "leads");
    assert!(
        leads.key.ends_with(&format!(":{seq}:leads-chat")),
        "{}",
        leads.key
    );
    let text = leads.body["text"].as_str().unwrap();
    assert!(
        text.starts_with(
            "SEV1 INC-1 [payments]: Checkout down — status update (investigating): \
             15% of payments fail; rolling back 4471. · next update "
        ),
        "{text}"
    );
    assert!(
        text.ends_with(
            " · Briefing: impact: 15% of card payments fail; ETA: about 40 minutes; \
             commitments at risk: the EU merchants' 99.9% SLA"
        ),
        "{text}"
    );
    // warroom's JSON body.
    let vp = last(&got, "vp").body;
    assert_eq!(vp["type"], "status_update");
    assert_eq!(vp["person"], "vp");
    assert_eq!(vp["severity"], "SEV1");
    assert_eq!(vp["status"], "investigating");
    assert_eq!(vp["briefing"], briefing);
    assert_eq!(vp["posted_by"], "carol");
    assert!(vp["next_update_at"].is_string(), "{vp}");
    assert!(vp.get("authorization").is_none());
    // The status page: its documented body, the token, the key.
    let page = last(&got, "status");
    assert_eq!(page.authorization.as_deref(), Some("Bearer s3cret"));
    assert!(
        page.key.ends_with(&format!(":{seq}:status_page")),
        "{}",
        page.key
    );
    let mut keys: Vec<&str> = page
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "idempotency_key",
            "incident",
            "next_update_at",
            "severity",
            "status",
            "text",
            "title",
            "updated_at"
        ],
        "nothing internal (no briefing, no names) goes to customers"
    );
    assert_eq!(page.body["incident"], "INC-1");
    assert_eq!(
        page.body["text"],
        "15% of payments fail; rolling back 4471."
    );
    assert_eq!(page.body["idempotency_key"], json!(page.key));
    assert!(
        got.iter().all(|h| h.path != "team"),
        "SEV2 stakeholders not told"
    );

    // A restricted incident: never public; its stakeholders hear only that there is news.
    seqs(
        &c.command(
            json!({"op": "declare", "title": "Leaked keys", "severity": 2,
                           "restricted": true}),
        )
        .await,
    );
    let e = c
        .command(json!({"op": "add_entry", "incident": "INC-2",
            "entry_kind": "status_update", "text": "keys rotated", "public": true}))
        .await;
    assert_eq!(e["code"], "conflict", "{e}");
    let quiet = seqs(
        &c.command(json!({"op": "add_entry", "incident": "INC-2",
            "entry_kind": "status_update", "text": "keys rotated"}))
            .await,
    )[0];
    let r = results(&mut c, 1).await;
    assert_eq!(r[0]["channel"], "team-chat", "{}", r[0]);
    assert_eq!(r[0]["step_seq"], quiet);
    let got = seen.lock().unwrap().clone();
    let team = last(&got, "team").body;
    let all = team.to_string();
    assert!(
        !all.contains("Leaked keys") && !all.contains("keys rotated"),
        "{all}"
    );
    assert!(
        team["text"]
            .as_str()
            .unwrap()
            .contains("read it in warroom (need to know)"),
        "{team}"
    );
    assert_eq!(
        got.iter().filter(|h| h.path == "status").count(),
        2,
        "nothing more went to the status page"
    );

    // Every outcome is on the timeline.
    let (_o, frames) = Raw::join(&server.url(), "observer", None).await;
    let snap = frames.iter().find(|f| f["type"] == "snapshot").unwrap();
    let s: State = serde_json::from_value(snap["state"].clone()).unwrap();
    let texts: Vec<&str> = s.incidents[&1]
        .entries
        .iter()
        .map(|e| e.text.as_str())
        .collect();
    for want in [
        "delivered to leads via leads-chat after 2 attempts",
        "delivered to vp via vp-mail after 2 attempts",
        "delivered to status page via status_page after 2 attempts",
    ] {
        assert!(texts.contains(&want), "{want}: {texts:?}");
    }
    server.shutdown().await.unwrap();
}

/// A webhook that takes requests and never answers: a delivery in flight when the feed
/// stops. Counts the connections it took.
async fn never_answers() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let taken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = taken.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(conn);
        }
    });
    (format!("http://{addr}"), taken)
}

fn team_policy(base: &str) -> String {
    format!(
        r#"
[stakeholders]
sev2 = ["team"]

[people.team]
channels = ["team-chat"]

[channel.team-chat]
webhook = "{base}/team"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_update_the_feed_stopped_delivering_is_sent_after_a_restart_and_only_then() {
    let dir = tempfile::tempdir().unwrap();
    let (stuck, taken) = never_answers().await;
    let server = serve_with_policy(dir.path(), &team_policy(&stuck)).await;
    let (mut c, _) = Raw::join(&server.url(), "carol", None).await;
    c.command(json!({"op": "declare", "title": "Checkout slow", "severity": 2}))
        .await;
    let update = |text: &str| {
        json!({"op": "add_entry", "incident": "INC-1", "entry_kind": "status_update",
            "text": text})
    };
    let seq = seqs(&c.command(update("p99 at 4s; rolling back")).await)[0];
    // The delivery is under way when the feed stops: no outcome is recorded.
    let deadline = std::time::Instant::now() + WAIT;
    while taken.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the webhook was never called"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
    drop(c);
    server.shutdown().await.unwrap();

    // Started again (the team's hook answering now): the update goes out, with its key, and
    // its outcome is recorded on the entry.
    let (base, seen) = hooks().await;
    let server = serve_with_policy(dir.path(), &team_policy(&base)).await;
    let key = format!(":{seq}:team-chat");
    let deadline = std::time::Instant::now() + WAIT;
    let entry = loop {
        let s = board_now(&server).await;
        let e = s.incidents[&1]
            .entries
            .iter()
            .find(|e| e.id == seq)
            .cloned();
        if let Some(e) = e.filter(|e| !e.deliveries.is_empty()) {
            break e;
        }
        assert!(std::time::Instant::now() < deadline, "never redelivered");
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    };
    assert_eq!(entry.deliveries, [("team-chat".to_string(), true)]);
    let got = seen.lock().unwrap().clone();
    assert!(got.iter().all(|h| h.key.ends_with(&key)), "{got:?}");
    assert_eq!(got.last().unwrap().body["text"], "p99 at 4s; rolling back");
    server.shutdown().await.unwrap();

    // Delivered and recorded: a further restart sends only what is new.
    let server = serve_with_policy(dir.path(), &team_policy(&base)).await;
    let (mut c, _) = Raw::join(&server.url(), "carol", None).await;
    let next = c
        .command_with_id("after-restart", update("rolled back; p99 back to 300ms"))
        .await;
    let next = seqs(&next)[0];
    assert!(next > seq, "a new update, not the first one's answer again");
    let fresh = format!(":{next}:team-chat");
    let deadline = std::time::Instant::now() + WAIT;
    while !seen.lock().unwrap().iter().any(|h| h.key.ends_with(&fresh)) {
        assert!(
            std::time::Instant::now() < deadline,
            "the new update never went out"
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    let got = seen.lock().unwrap().clone();
    let keys: Vec<&str> = got.iter().map(|h| h.key.as_str()).collect();
    assert_eq!(
        got.iter().filter(|h| h.key.ends_with(&key)).count(),
        2,
        "the first update: a 500, then delivered, and never again: {keys:?}"
    );
    server.shutdown().await.unwrap();
}
