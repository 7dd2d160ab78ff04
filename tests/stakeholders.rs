//! Status updates reaching stakeholders, against a running feed over loopback: a SEV1
//! update goes to the people the policy names for SEV1, with the executive briefing, and,
//! marked public, to the status page with its documented body, a bearer token and an
//! idempotency key; a restricted incident's update is announced without its content and
//! never goes to the status page. Each delivery's outcome is recorded on the timeline.

mod common;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use common::hooks::{Hit, hooks};
use common::*;
use serde_json::{Value, json};
use warroom::model::State;
use warroom::model::policy::Policy;
use warroom::server::{Rules, RunningServer, ServerConfig};

const TOKEN_VAR: &str = "WARROOM_TEST_STATUS_PAGE_TOKEN";

async fn serve(dir: &std::path::Path, policy: &str) -> RunningServer {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.to_path_buf());
    cfg.rules = Arc::new(Rules {
        policy: Policy::parse(policy).unwrap(),
        runbooks: Default::default(),
    });
    cfg.notify_backoff = Some(StdDuration::from_millis(20));
    warroom::server::start(cfg).await.unwrap()
}

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
    let server = serve(dir.path(), &policy).await;
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
