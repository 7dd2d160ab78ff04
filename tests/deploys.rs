//! What the feed records outside incidents, over loopback: deploys posted by a pipeline
//! (`POST /webhook/deploy`) or sent as a command, and informational alerts kept for the
//! stand-up digest; every console has them from its join and live, and they outlive a
//! restart.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipelines_deploy_is_recorded_once_and_every_console_has_it_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let (mut watcher, _) = Raw::join(&server.url(), "watcher", None).await;
    let deploy = json!({"service": "checkout", "version": "v2.14.1",
        "environment": "production", "by": "ci-bot", "note": "new cart", "commit": "abc"});
    let key = [("idempotency-key", "build-77")];
    let (code, first) = post(&server, "/webhook/deploy", &deploy, &key).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{first}");
    // The pipeline's retry is answered with the same event, and records nothing more.
    let (code, again) = post(&server, "/webhook/deploy", &deploy, &key).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{again}");
    assert_eq!(first["seq"], again["seq"]);
    assert_eq!(first["seq"], 1);
    // A console connected before sees it live, as a feed-level event.
    let ev = watcher.events_until(1).await;
    assert_eq!(ev[0]["kind"], "deploy_recorded", "{ev:?}");
    assert_eq!(ev[0]["actor"], "ci-bot");
    assert!(ev[0].get("incident").is_none(), "{ev:?}");

    // A person records one over the feed (as `warroom deploy` does).
    let (mut ana, _) = Raw::join(&server.url(), "ana", None).await;
    let answer = ana
        .command(json!({"op": "record_deploy", "service": "payments", "version": "v9"}))
        .await;
    assert_eq!(seqs(&answer), vec![2], "{answer}");
    let refused = ana
        .command(json!({"op": "record_deploy", "service": "payments", "version": " "}))
        .await;
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("version is empty"),
        "{refused}"
    );

    // Bad bodies name their field and record nothing.
    for (body, field) in [
        (json!({"version": "v1"}), "service"),
        (json!({"service": "api", "version": ["v1"]}), "version"),
        (
            json!({"service": "api", "version": "v1", "by": "warroom"}),
            "by",
        ),
    ] {
        let (code, answer) = post(&server, "/webhook/deploy", &body, &[]).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["field"], field, "{answer}");
    }

    let s = board_now(&server).await;
    assert_eq!(s.seq, 2);
    assert!(s.incidents.is_empty());
    let d: Vec<(&str, &str, &str)> = s
        .feed
        .deploys
        .iter()
        .map(|d| (d.service.as_str(), d.version.as_str(), d.by.as_str()))
        .collect();
    assert_eq!(
        d,
        [("checkout", "v2.14.1", "ci-bot"), ("payments", "v9", "ana")]
    );
    assert_eq!(s.feed.deploys[0].environment.as_deref(), Some("production"));
    server.shutdown().await.unwrap();

    // From the log again after a restart.
    let server = start_server(dir.path()).await;
    let s = board_now(&server).await;
    assert_eq!(s.feed.deploys.len(), 2);
    assert_eq!(s.feed.deploys[1].version, "v9");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deploy_webhook_needs_the_intake_token_once_one_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = server_config("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
    cfg.rules = std::sync::Arc::new(quiet_rules());
    cfg.intake.token = Some("intake-token-0123456789".into());
    let server = warroom::server::start(cfg).await.unwrap();
    let body = json!({"service": "checkout", "version": "v1"});
    let (code, _) = post(&server, "/webhook/deploy", &body, &[]).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let wrong = [("authorization", "Bearer nope")];
    let (code, _) = post(&server, "/webhook/deploy", &body, &wrong).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let right = [("authorization", "Bearer intake-token-0123456789")];
    let (code, answer) = post(&server, "/webhook/deploy", &body, &right).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(board_now(&server).await.feed.deploys.len(), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_burn_is_kept_for_the_standup_digest_counted_once_per_alert() {
    let dir = tempfile::tempdir().unwrap();
    // The shipped policy: its 1x-over-3-days rule is informational (seed architecture).
    let mut cfg = server_config("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
    cfg.rules = std::sync::Arc::new(warroom::server::Rules {
        policy: warroom::model::policy::Policy::parse(include_str!("../assets/policy.toml"))
            .unwrap(),
        runbooks: Default::default(),
    });
    let server = warroom::server::start(cfg).await.unwrap();
    let slow = json!({
        "version": "4", "groupKey": "{}:{alertname=\"SLOBurnSlow\"}", "status": "firing",
        "receiver": "warroom",
        "alerts": [{"status": "firing",
            "labels": {"alertname": "SLOBurnSlow", "service": "search",
                "burn_rate": "1.1", "burn_window": "3d"},
            "annotations": {"summary": "search error budget slow burn"},
            "startsAt": "2026-12-01T10:00:00Z"}]
    });
    for _ in 0..3 {
        let (code, answer) = post(&server, "/webhook/alertmanager", &slow, &[]).await;
        assert_eq!(code, StatusCode::ACCEPTED, "{answer}");
        assert_eq!(answer["alerts"][0]["outcome"], "informational", "{answer}");
        assert!(
            answer["alerts"][0]["detail"]
                .as_str()
                .unwrap()
                .contains("stand-up digest"),
            "{answer}"
        );
    }
    let s = board_now(&server).await;
    assert!(s.incidents.is_empty(), "no incident, no page");
    assert_eq!(s.feed.noted.len(), 1, "{:?}", s.feed.noted);
    let n = &s.feed.noted[0];
    assert_eq!(n.count, 3);
    assert_eq!(n.service.as_deref(), Some("search"));
    assert_eq!(n.summary, "search error budget slow burn");
    assert!(n.why.contains("1.1x over 3d"), "{}", n.why);
    server.shutdown().await.unwrap();
}
