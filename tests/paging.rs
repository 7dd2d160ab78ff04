//! Pulling people in, against a running feed server over loopback: a page on demand
//! (`page` command) delivered through the person's channels with the escalation's retries
//! and idempotency keys, recorded, acknowledged, and letting its person into a restricted
//! incident; a step naming several targets, and the policy's bridge carried in SEV1 pages.

mod common;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use common::hooks::receiver;
use common::*;
use serde_json::{Value, json};
use warroom::model::State;
use warroom::model::policy::Policy;
use warroom::server::{Rules, RunningServer, ServerConfig};

async fn serve(dir: &std::path::Path, policy: &str) -> RunningServer {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.to_path_buf());
    cfg.rules = Arc::new(Rules {
        policy: Policy::parse(policy).unwrap(),
        runbooks: Default::default(),
    });
    cfg.notify_backoff = Some(StdDuration::from_millis(20));
    warroom::server::start(cfg).await.unwrap()
}

async fn state(server: &RunningServer) -> State {
    let (_c, frames) = Raw::join(&server.url(), "observer", None).await;
    let snap = frames.iter().find(|f| f["type"] == "snapshot").unwrap();
    serde_json::from_value(snap["state"].clone()).unwrap()
}

/// Reads the feed until `n` notification results have arrived.
async fn results(c: &mut Raw, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.len() < n {
        let f = c.next().await.expect("feed closed");
        if f["type"] == "event" && f["event"]["kind"] == "notification_result" {
            out.push(f["event"].clone());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_demand_is_delivered_recorded_and_acknowledged() {
    let (url, seen) = receiver().await;
    // No escalation at all: every page here is one somebody asked for.
    let policy = format!(
        r#"
[targets]
db-lead = "marco"

[people.marco]
channels = ["hook"]

[channel.hook]
webhook = "{url}"
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &policy).await;
    let (mut c, _) = Raw::join(&server.url(), "alice", None).await;
    seqs(&c.command(declare("Checkout down", 2)).await);
    let page = json!({"op": "page", "incident": "INC-1", "target": "db-lead",
                      "message": "pool exhausted?"});
    let paged = seqs(&c.command(page).await)[0];
    let r = results(&mut c, 1).await;
    assert_eq!(r[0]["delivered"], true, "{}", r[0]);
    assert_eq!(r[0]["attempts"], 2, "one 500, then delivered");
    assert_eq!(r[0]["step_seq"], paged, "the result names the page");

    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, got[1].0, "a retry carries the same key");
    assert!(
        got[0].0.ends_with(&format!(":{paged}:hook")),
        "{}",
        got[0].0
    );
    let body = &got[1].1;
    assert_eq!(body["person"], "marco");
    assert_eq!(body["target"], "db-lead");
    assert_eq!(body["on_demand"], true);
    assert_eq!(body["requested_by"], "alice");
    assert_eq!(body["note"], "pool exhausted?");
    assert!(body.get("step").is_none(), "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("paging marco (db-lead, on demand, by alice): pool exhausted?"),
        "{body}"
    );

    // A name the policy does not know is refused, saying whom it knows.
    let e = c
        .command(json!({"op": "page", "incident": "INC-1", "target": "nobody"}))
        .await;
    assert_eq!(e["type"], "error", "{e}");
    assert!(e["message"].as_str().unwrap().contains("marco"), "{e}");

    // marco acknowledges: the incident and his page.
    let (mut m, _) = Raw::join(&server.url(), "marco", None).await;
    let acked = seqs(
        &m.command(json!({"op": "acknowledge", "incident": "INC-1"}))
            .await,
    );
    assert_eq!(acked.len(), 2, "acknowledged, and the page acknowledged");
    let s = state(&server).await;
    let inc = &s.incidents[&1];
    assert_eq!(inc.pages.len(), 1);
    assert!(inc.pages[0].acknowledged_at.is_some());
    assert_eq!(inc.pages[0].deliveries, [("hook".to_string(), true)]);
    let texts: Vec<&str> = inc.entries.iter().map(|e| e.text.as_str()).collect();
    assert!(
        texts.contains(&"paged marco as db-lead (on demand, by alice): pool exhausted?"),
        "{texts:?}"
    );
    assert!(texts.contains(&"marco acknowledged the page"), "{texts:?}");
    assert!(texts.contains(&"delivered to marco via hook after 2 attempts"));

    // On a restricted incident the person paged is let in; the page keeps what was typed
    // (and the title) in warroom.
    let declared = c
        .command(
            json!({"op": "declare", "title": "Leaked keys", "severity": 2,
                        "restricted": true}),
        )
        .await;
    seqs(&declared);
    let page = json!({"op": "page", "incident": "INC-2", "target": "marco",
                      "message": "keys in the public repo"});
    let s2 = seqs(&c.command(page).await);
    assert_eq!(s2.len(), 2, "paged, and let in");
    let r = results(&mut c, 1).await;
    assert_eq!(r[0]["delivered"], true, "{}", r[0]);
    let last = seen.lock().unwrap().last().unwrap().1.clone();
    assert_eq!(last["person"], "marco");
    assert!(last.get("note").is_none(), "{last}");
    assert!(!last.to_string().contains("Leaked keys"), "{last}");
    assert!(!last.to_string().contains("public repo"), "{last}");
    let (_m, frames) = Raw::join(&server.url(), "marco", None).await;
    let snap = frames.iter().find(|f| f["type"] == "snapshot").unwrap();
    let s: State = serde_json::from_value(snap["state"].clone()).unwrap();
    assert!(
        s.incidents[&2].members.contains_key("marco"),
        "marco now sees INC-2"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sev1_tells_several_at_once_and_its_pages_carry_the_bridge() {
    let (url, seen) = receiver().await;
    let policy = format!(
        r#"
[bridge]
sev1 = "https://meet.example.com/warroom-{{incident}}"

[escalation.sev1]
steps = [
  {{ after = "0m", notify = ["oncall-leads", "engineering-vp"] }},
  {{ after = "0m", page = "ana" }},
  {{ after = "5m", page = "ana" }},
]

[escalation.sev2]
steps = [{{ after = "0m", page = "ana" }}]

[people.oncall-leads]
channels = ["hook"]
[people.engineering-vp]
channels = ["hook"]
[people.ana]
channels = ["hook"]

[channel.hook]
webhook = "{url}"
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &policy).await;
    let (mut c, _) = Raw::join(&server.url(), "alice", None).await;
    seqs(&c.command(declare("Checkout down", 1)).await);
    let r = results(&mut c, 3).await;
    assert!(r.iter().all(|r| r["delivered"] == true), "{r:?}");
    let mut people: Vec<&str> = r.iter().map(|r| r["person"].as_str().unwrap()).collect();
    people.sort();
    assert_eq!(people, ["ana", "engineering-vp", "oncall-leads"]);
    let got = seen.lock().unwrap().clone();
    for (_, body) in &got {
        assert_eq!(
            body["bridge"], "https://meet.example.com/warroom-INC-1",
            "{body}"
        );
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .ends_with("bridge: https://meet.example.com/warroom-INC-1"),
            "{body}"
        );
    }
    let s = state(&server).await;
    let esc = s.incidents[&1].escalation.as_ref().unwrap();
    let plan: Vec<(u64, &str)> = esc
        .plan
        .steps
        .iter()
        .map(|s| (s.after_secs, s.target.as_str()))
        .collect();
    assert_eq!(
        plan,
        [
            (0, "oncall-leads"),
            (0, "engineering-vp"),
            (0, "ana"),
            (300, "ana")
        ]
    );
    assert_eq!(esc.fired.len(), 3, "all three at once; the 5m page waits");
    let texts: Vec<&str> = s.incidents[&1]
        .entries
        .iter()
        .map(|e| e.text.as_str())
        .collect();
    assert!(
        texts.contains(&"notified oncall-leads (step 1 of 4)"),
        "{texts:?}"
    );
    assert!(
        texts.contains(&"notified engineering-vp (step 2 of 4)"),
        "{texts:?}"
    );

    // A SEV2 has no bridge in this policy: its pages carry none.
    let before = seen.lock().unwrap().len();
    seqs(&c.command(declare("Search slow", 2)).await);
    results(&mut c, 1).await;
    let got = seen.lock().unwrap().clone();
    assert!(got[before..].iter().all(|(_, b)| b.get("bridge").is_none()));
    server.shutdown().await.unwrap();
}
