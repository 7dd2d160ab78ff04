//! Alerts POSTed to a running feed server over loopback, with the resulting incidents read
//! back over the feed: an Alertmanager v4 notification, PagerDuty v3 webhooks with valid and
//! invalid signatures, Events v2 trigger then resolve with one dedup key, malformed bodies,
//! intake tokens, and notifications delivered to a receiver inside the test.

mod common;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use axum::http::StatusCode;
use common::hooks::receiver;
use common::*;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use warroom::model::policy::Policy;
use warroom::model::{Milestone, Severity, Status};
use warroom::server::{Rules, RunningServer, ServerConfig};

async fn serve_with(dir: &std::path::Path, f: impl FnOnce(&mut ServerConfig)) -> RunningServer {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.to_path_buf());
    f(&mut cfg);
    warroom::server::start(cfg).await.unwrap()
}

const GROUP: &str = r#"{}/{severity="critical"}:{alertname="HighErrorRate", service="payments"}"#;

/// An Alertmanager v4 notification, as a `webhook_configs` receiver gets it.
fn alertmanager(status: &str, alert_status: &str) -> Value {
    json!({
        "version": "4",
        "groupKey": GROUP,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "warroom",
        "groupLabels": {"alertname": "HighErrorRate", "service": "payments"},
        "commonLabels": {"alertname": "HighErrorRate", "service": "payments", "severity": "critical", "env": "prod"},
        "commonAnnotations": {"summary": "Payments error rate 62.5% (threshold 5%)"},
        "externalURL": "http://alertmanager:9093",
        "alerts": [{
            "status": alert_status,
            "labels": {
                "alertname": "HighErrorRate", "service": "payments", "severity": "critical",
                "env": "prod", "error_rate": "62.5", "revenue_impacting": "true",
                "latency_p99_ms": "12000", "affected_users_pct": "45", "dependent_services": "invoicing,receipts,analytics"
            },
            "annotations": {
                "summary": "Payments error rate 62.5% (threshold 5%)",
                "runbook_url": "https://runbooks.example.com/payments/high-error-rate"
            },
            "startsAt": "2026-11-26T01:52:00Z",
            "endsAt": if alert_status == "resolved" { "2026-11-26T02:40:00Z" } else { "0001-01-01T00:00:00Z" },
            "generatorURL": "http://prometheus:9090/graph?g0.expr=job%3Apayments%3Aerror_rate",
            "fingerprint": "c3a1f0e1b2d4a5f6"
        }]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_opens_a_classified_incident_dedups_and_resolves() {
    let dir = tempfile::tempdir().unwrap();
    // The feed's clock stands eight minutes after the alert started, whatever today is (a
    // start in the feed's future would be taken as "now").
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-26T02:00:00Z")
        .unwrap()
        .to_utc();
    let clock = Arc::new(warroom::clock::FakeClock::new(at));
    let server = serve_with(dir.path(), |c| c.clock = clock.clone()).await;

    let (code, body) = post(
        &server,
        "/webhook/alertmanager",
        &alertmanager("firing", "firing"),
        &[],
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["alerts"][0]["outcome"], "opened", "{body}");
    assert_eq!(body["alerts"][0]["incident"], "INC-1");
    let s = board_now(&server).await;
    let inc = &s.incidents[&1];
    // The seed's own example: payments, 62.5% errors, revenue impacting → SEV1.
    assert_eq!(inc.severity, Severity::Sev1);
    assert_eq!(inc.title, "Payments error rate 62.5% (threshold 5%)");
    assert_eq!(inc.service.as_deref(), Some("payments"));
    assert_eq!(inc.declared_by, "alertmanager");
    assert_eq!(inc.alert_count, 1);
    assert_eq!(
        inc.milestones[&Milestone::ImpactStarted].to_rfc3339(),
        "2026-11-26T01:52:00+00:00",
        "the alert's start is the impact-started milestone"
    );
    let texts: Vec<&str> = inc.entries.iter().map(|e| e.text.as_str()).collect();
    assert!(
        texts.contains(&"classified SEV1: error rate 62.5% on a revenue-impacting service"),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t.starts_with("alert details: ")
        && t.contains("runbook_url=https://runbooks.example.com")));
    // Escalation started on its own, the payments runbook is attached.
    assert!(inc.escalation.is_some());
    assert_eq!(inc.runbook.as_ref().unwrap().name, "payments");

    // The same group again: attached, counted, no second incident.
    let (code, body) = post(
        &server,
        "/webhook/alertmanager",
        &alertmanager("firing", "firing"),
        &[],
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED);
    assert_eq!(body["alerts"][0]["outcome"], "attached");
    assert_eq!(body["alerts"][0]["alert_count"], 2);
    let s = board_now(&server).await;
    assert_eq!(s.incidents.len(), 1);
    assert_eq!(s.incidents[&1].alert_count, 2);

    // Resolved: the incident is resolved, by the source.
    let (code, body) = post(
        &server,
        "/webhook/alertmanager",
        &alertmanager("resolved", "resolved"),
        &[],
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["alerts"][0]["outcome"], "resolved");
    let s = board_now(&server).await;
    assert_eq!(s.incidents[&1].status, Status::Resolved);

    // After resolution the same key opens a new incident.
    let (_, body) = post(
        &server,
        "/webhook/alertmanager",
        &alertmanager("firing", "firing"),
        &[],
    )
    .await;
    assert_eq!(body["alerts"][0]["incident"], "INC-2");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_get_a_json_error_and_record_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with(dir.path(), |_| {}).await;
    let before = board_now(&server).await.seq;
    let mut v3 = alertmanager("firing", "firing");
    v3["version"] = json!("3");
    let mut bad_time = alertmanager("firing", "firing");
    bad_time["alerts"][0]["startsAt"] = json!("yesterday");
    let mut bad_rate = alertmanager("firing", "firing");
    bad_rate["alerts"][0]["labels"]["error_rate"] = json!("lots");
    for (body, field) in [
        (v3, "version"),
        (bad_time, "alerts[0].startsAt"),
        (bad_rate, "error_rate"),
        (json!([1, 2]), "body"),
    ] {
        let (code, answer) = post(&server, "/webhook/alertmanager", &body, &[]).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{answer}");
        assert!(
            answer["field"].as_str().unwrap().contains(field),
            "{field}: {answer}"
        );
        assert!(answer["error"].as_str().unwrap().len() > 10);
    }
    let resp = http()
        .post(format!("http://{}/v2/enqueue", server.addr))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(answer["status"], "invalid event");
    assert_eq!(board_now(&server).await.seq, before, "nothing was recorded");
    server.shutdown().await.unwrap();
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn pd(event_type: &str, agent: Option<&str>) -> Value {
    json!({
        "event": {
            "id": "01DEN1HF5DPRNXXSOQ5T4JEHFH",
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2026-11-26T01:55:00.000Z",
            "agent": agent.map(|a| json!({"html_url": "https://acme.pagerduty.com/users/PLH1HKV", "id": "PLH1HKV", "self": "https://api.pagerduty.com/users/PLH1HKV", "summary": a, "type": "user_reference"})),
            "client": null,
            "data": {
                "id": "PGR0VU2",
                "type": "incident",
                "self": "https://api.pagerduty.com/incidents/PGR0VU2",
                "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
                "number": 2,
                "status": if event_type == "incident.triggered" { "triggered" } else { "acknowledged" },
                "incident_key": "d3640fbd41094207a1c11e58e46b1662",
                "created_at": "2026-11-26T01:55:00Z",
                "title": "Login failures on auth",
                "service": {"html_url": "https://acme.pagerduty.com/services/PF9KMXH", "id": "PF9KMXH", "self": "https://api.pagerduty.com/services/PF9KMXH", "summary": "auth", "type": "service_reference"},
                "assignees": [],
                "escalation_policy": {"id": "PUS0KTE", "summary": "Default", "type": "escalation_policy_reference"},
                "teams": [],
                "priority": {"id": "PSO75BM", "summary": "P2", "type": "priority_reference"},
                "urgency": "high",
                "conference_bridge": null,
                "resolve_reason": null
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_v3_signatures_are_verified() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "whsec-0123456789abcdef";
    let server = serve_with(dir.path(), |c| {
        c.intake.pagerduty_secret = Some(secret.into());
    })
    .await;
    let body = pd("incident.triggered", None);
    let raw = serde_json::to_vec(&body).unwrap();

    // Wrong signature, or none: 401 and nothing recorded.
    let wrong = sign("not-the-secret", &raw);
    let (code, answer) = post(
        &server,
        "/webhook/pagerduty",
        &body,
        &[("x-pagerduty-signature", &wrong)],
    )
    .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "{answer}");
    let (code, _) = post(&server, "/webhook/pagerduty", &body, &[]).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert!(board_now(&server).await.incidents.is_empty());

    // Valid (as the second of two values, as during a secret rotation).
    let good = format!("{wrong},{}", sign(secret, &raw));
    let (code, answer) = post(
        &server,
        "/webhook/pagerduty",
        &body,
        &[("x-pagerduty-signature", &good)],
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{answer}");
    let s = board_now(&server).await;
    let inc = &s.incidents[&1];
    assert_eq!(inc.title, "Login failures on auth");
    assert_eq!(inc.service.as_deref(), Some("auth"));
    // No impact figures: the PagerDuty priority P2 maps to SEV2.
    assert_eq!(inc.severity, Severity::Sev2);

    // Acknowledged in PagerDuty by a person: acknowledged here, by them.
    let ack = pd("incident.acknowledged", Some("Priya Raman"));
    let raw = serde_json::to_vec(&ack).unwrap();
    let (code, answer) = post(
        &server,
        "/webhook/pagerduty",
        &ack,
        &[("x-pagerduty-signature", &sign(secret, &raw))],
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["alerts"][0]["outcome"], "acknowledged");
    let s = board_now(&server).await;
    assert_eq!(
        s.incidents[&1].acknowledged_by.as_deref(),
        Some("Priya Raman")
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pagerduty_incident_without_urgency_is_a_sev3_as_the_guides_bot_has_it() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "whsec-0123456789abcdef";
    let server = serve_with(dir.path(), |c| {
        c.intake.pagerduty_secret = Some(secret.into());
    })
    .await;
    let send = |body: Value| {
        let raw = serde_json::to_vec(&body).unwrap();
        let sig = sign(secret, &raw);
        let server = &server;
        async move {
            let (code, answer) = post(
                server,
                "/webhook/pagerduty",
                &body,
                &[("x-pagerduty-signature", &sig)],
            )
            .await;
            assert_eq!(code, StatusCode::ACCEPTED, "{answer}");
        }
    };
    // Neither priority nor urgency: the guide's bot takes "warning", SEV-3 (not SEV4).
    let mut body = pd("incident.triggered", None);
    let data = body["event"]["data"].as_object_mut().unwrap();
    data.remove("urgency");
    data.insert("priority".into(), Value::Null);
    send(body).await;
    // Urgency alone decides as the guide's table does: high is SEV-2.
    let mut body = pd("incident.triggered", None);
    body["event"]["data"]["id"] = json!("PGR0VU3");
    body["event"]["data"]["priority"] = Value::Null;
    send(body).await;
    // Low urgency is none of the bot's severities: "warning" again, SEV-3.
    let mut body = pd("incident.triggered", None);
    body["event"]["data"]["id"] = json!("PGR0VU4");
    body["event"]["data"]["priority"] = Value::Null;
    body["event"]["data"]["urgency"] = json!("low");
    send(body).await;
    let s = board_now(&server).await;
    assert_eq!(s.incidents[&3].severity, Severity::Sev3);
    assert!(
        s.incidents[&3]
            .entries
            .iter()
            .any(|e| e.text.contains("PagerDuty urgency 'low'")),
        "{:#?}",
        s.incidents[&3].entries
    );
    let inc = &s.incidents[&1];
    assert_eq!(inc.severity, Severity::Sev3);
    assert!(
        inc.entries.iter().any(|e| e
            .text
            .contains("PagerDuty gave no urgency or priority: taken as 'warning'")),
        "{:#?}",
        inc.entries
    );
    assert_eq!(s.incidents[&2].severity, Severity::Sev2);
    server.shutdown().await.unwrap();
}

fn enqueue(action: &str, key: &str) -> Value {
    json!({
        "routing_key": "R0UT1NGK3Y0000000000000000000000",
        "event_action": action,
        "dedup_key": key,
        "payload": {
            "summary": "DISK at 99% on db-primary-1",
            "source": "db-primary-1",
            "severity": "critical",
            "timestamp": "2026-11-26T01:58:00.000+0000",
            "component": "database-primary",
            "group": "storage",
            "class": "disk",
            "custom_details": {"free_space": "1%", "data_loss": "false"}
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_v2_trigger_then_resolve_with_one_dedup_key() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with(dir.path(), |_| {}).await;
    let (code, answer) = post(&server, "/v2/enqueue", &enqueue("trigger", "disk-db1"), &[]).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["status"], "success");
    assert_eq!(answer["dedup_key"], "disk-db1");
    // A second trigger with the same key attaches.
    post(&server, "/v2/enqueue", &enqueue("trigger", "disk-db1"), &[]).await;
    let (code, answer) = post(&server, "/v2/enqueue", &enqueue("resolve", "disk-db1"), &[]).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["alerts"][0]["outcome"], "resolved");
    let s = board_now(&server).await;
    assert_eq!(s.incidents.len(), 1);
    let inc = &s.incidents[&1];
    assert_eq!(
        inc.severity,
        Severity::Sev1,
        "severity critical, no impact figures"
    );
    assert_eq!(inc.service.as_deref(), Some("database-primary"));
    assert_eq!(inc.alert_count, 2);
    assert_eq!(inc.status, Status::Resolved);
    assert_eq!(inc.runbook.as_ref().unwrap().name, "database-primary");
    // A resolve for a key nobody has is answered, not an error, and records nothing.
    let seq = s.seq;
    let (code, answer) = post(&server, "/v2/enqueue", &enqueue("resolve", "unknown"), &[]).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    assert_eq!(answer["alerts"][0]["outcome"], "ignored");
    // A slow burn (1x over 3 days) is informational only.
    let mut slow = enqueue("trigger", "budget");
    slow["payload"]["custom_details"] =
        json!({"service": "search", "burn_rate": "1.2x", "burn_window": "3d"});
    let (_, answer) = post(&server, "/v2/enqueue", &slow, &[]).await;
    assert_eq!(answer["alerts"][0]["outcome"], "informational", "{answer}");
    // No incident: only a note for the stand-up digest.
    let after = board_now(&server).await;
    assert_eq!(after.seq, seq + 1);
    assert_eq!(after.incidents.len(), 1);
    assert_eq!(after.feed.noted.len(), 1);
    assert_eq!(after.feed.noted[0].service.as_deref(), Some("search"));
    // A fast burn pages: 14.4x over 5 minutes is SEV2.
    let mut fast = enqueue("trigger", "budget-fast");
    fast["payload"]["custom_details"] =
        json!({"service": "search", "burn_rate": "14.4", "burn_window": "5m"});
    let (_, answer) = post(&server, "/v2/enqueue", &fast, &[]).await;
    assert_eq!(answer["alerts"][0]["severity"], 2, "{answer}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intake_token_is_required_once_configured() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with(dir.path(), |c| {
        c.intake.token = Some("intake-token-0123456789".into());
    })
    .await;
    let body = alertmanager("firing", "firing");
    let (code, answer) = post(&server, "/webhook/alertmanager", &body, &[]).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("Bearer"));
    let (code, _) = post(
        &server,
        "/webhook/alertmanager",
        &body,
        &[("authorization", "Bearer wrong-token-000000000")],
    )
    .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    // Events v2: the routing key is the token.
    let (code, _) = post(&server, "/v2/enqueue", &enqueue("trigger", "k"), &[]).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert!(board_now(&server).await.incidents.is_empty());
    let (code, _) = post(
        &server,
        "/webhook/alertmanager",
        &body,
        &[("authorization", "Bearer intake-token-0123456789")],
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED);
    let mut ev = enqueue("trigger", "k");
    ev["routing_key"] = json!("intake-token-0123456789");
    let (code, _) = post(&server, "/v2/enqueue", &ev, &[]).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    assert_eq!(board_now(&server).await.incidents.len(), 2);
    server.shutdown().await.unwrap();
}

/// A feed that pages by `policy`, retrying deliveries quickly.
async fn serve_paging(dir: &std::path::Path, policy: &str) -> RunningServer {
    let rules = Arc::new(Rules {
        policy: Policy::parse(policy).unwrap(),
        runbooks: Default::default(),
    });
    serve_with(dir, |c| {
        c.rules = rules;
        c.notify_backoff = Some(StdDuration::from_millis(20));
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_delivered_with_a_retry_and_recorded_on_the_timeline() {
    let (url, seen) = receiver().await;
    let out = tempfile::tempdir().unwrap();
    let marker = out.path().join("paged.txt");
    let policy = format!(
        r#"
[escalation.sev1]
steps = [{{ after = "0m", page = "oncall.primary" }}]

[[schedule]]
name = "platform"
start = "2026-11-23"
primary = ["ana"]

[people.ana]
channels = ["hook", "script"]

[channel.hook]
webhook = "{url}"

[channel.script]
command = ["sh", "-c", "echo \"$WARROOM_PERSON $WARROOM_INCIDENT $WARROOM_SEVERITY $WARROOM_IDEMPOTENCY_KEY\" >> '{}'"]
"#,
        marker.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let server = serve_paging(dir.path(), &policy).await;
    let (mut c, _) = Raw::join(&server.url(), "alice", None).await;
    c.command(declare("Checkout down", 1)).await;
    // Wait, bounded, for both delivery results to arrive on the feed.
    let mut results = Vec::new();
    while results.len() < 2 {
        let f = c.next().await.expect("feed closed");
        if f["type"] == "event" && f["event"]["kind"] == "notification_result" {
            results.push(f["event"].clone());
        }
    }
    let hook = results.iter().find(|r| r["channel"] == "hook").unwrap();
    assert_eq!(hook["delivered"], true, "{hook}");
    assert_eq!(hook["attempts"], 2, "one 500, then delivered");
    assert_eq!(hook["person"], "ana");
    let script = results.iter().find(|r| r["channel"] == "script").unwrap();
    assert_eq!(script["delivered"], true, "{script}");

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].0, seen[1].0,
        "a retry carries the same idempotency key"
    );
    assert!(!seen[0].0.is_empty());
    assert_eq!(seen[1].1["idempotency_key"], seen[1].0);
    assert_eq!(seen[1].1["incident"], "INC-1");
    assert_eq!(seen[1].1["person"], "ana");
    assert_eq!(seen[1].1["severity"], "SEV1");
    assert_eq!(seen[1].1["action"], "page");
    let line = std::fs::read_to_string(&marker).unwrap();
    assert!(line.starts_with("ana INC-1 SEV1 "), "{line}");

    let s = board_now(&server).await;
    let texts: Vec<&str> = s.incidents[&1]
        .entries
        .iter()
        .map(|e| e.text.as_str())
        .collect();
    assert!(
        texts.contains(&"delivered to ana via hook after 2 attempts"),
        "{texts:?}"
    );
    assert!(texts.contains(&"delivered to ana via script"), "{texts:?}");
    // Events are well formed: the results name the step that fired.
    let step_seq = s.incidents[&1].escalation.as_ref().unwrap().fired[0].seq;
    assert_eq!(hook["step_seq"], step_seq);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_over_the_intake_rate_get_429_and_record_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with(dir.path(), |c| {
        c.limits.intake_per_second = 1;
        c.limits.intake_burst = 2;
    })
    .await;
    let (mut accepted, mut limited) = (0, 0);
    for n in 0..10 {
        let (code, answer) = post(
            &server,
            "/v2/enqueue",
            &enqueue("trigger", &format!("disk-{n}")),
            &[],
        )
        .await;
        match code {
            StatusCode::ACCEPTED => accepted += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                limited += 1;
                assert_eq!(answer["status"], "rate_limited");
                let why = answer["error"].as_str().unwrap();
                assert!(why.contains("not recorded; retry"), "{why}");
            }
            other => panic!("unexpected answer {other}: {answer}"),
        }
    }
    // Ten requests in far less than the eight seconds the rate would need.
    assert!(limited >= 1, "none of 10 alerts was limited");
    assert!(accepted >= 2, "the burst of 2 was not let through");
    // Every accepted alert opened its incident; no refused one did.
    assert_eq!(board_now(&server).await.incidents.len(), accepted);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_channel_gets_text_and_a_restricted_incident_pages_without_its_title() {
    let (url, seen) = receiver().await;
    let policy = format!(
        r#"
[escalation.sev1]
steps = [{{ after = "0m", page = "oncall.primary" }}]

[[schedule]]
name = "platform"
start = "2026-11-23"
primary = ["ana"]

[people.ana]
channels = ["chat"]

[channel.chat]
webhook = "{url}"
format = "slack"
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let server = serve_paging(dir.path(), &policy).await;
    let (mut c, _) = Raw::join(&server.url(), "alice", None).await;
    c.command(declare("Checkout down", 1)).await;
    let mut secret = declare("Customer records copied to an unknown host", 1);
    secret["restricted"] = json!(true);
    c.command(secret).await;
    // Each page: the receiver's first answer is a 500, so each is delivered on a retry.
    let mut results = 0;
    while results < 2 {
        let f = c.next().await.expect("feed closed");
        if f["type"] == "event" && f["event"]["kind"] == "notification_result" {
            assert_eq!(f["event"]["delivered"], true, "{f}");
            results += 1;
        }
    }
    let seen = seen.lock().unwrap().clone();
    let texts: Vec<&str> = seen
        .iter()
        .filter_map(|(_, b)| b["text"].as_str())
        .collect();
    assert_eq!(
        texts.len(),
        seen.len(),
        "every body is Slack's {{text}}: {seen:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("SEV1 INC-1: Checkout down — paging ana")),
        "{texts:?}"
    );
    let restricted: Vec<&&str> = texts.iter().filter(|t| t.contains("INC-2")).collect();
    assert!(!restricted.is_empty(), "{texts:?}");
    for t in restricted {
        assert!(
            !t.contains("Customer records"),
            "the page leaked the title: {t}"
        );
        assert!(t.contains("restricted incident INC-2"), "{t}");
    }
    // Ana was paged about it, so she was let in: she sees it and can acknowledge it.
    let (mut ana, frames) = Raw::join(&server.url(), "ana", None).await;
    let s = board(&frames);
    let inc = &s.incidents[&2];
    assert!(inc.members.contains_key("ana"), "{:?}", inc.members);
    let let_in = inc
        .entries
        .iter()
        .find(|e| e.text == "ana added to the members");
    assert_eq!(let_in.map(|e| e.author.as_str()), Some("warroom"));
    let answer = ana
        .command(json!({"op": "acknowledge", "incident": "INC-2"}))
        .await;
    assert_eq!(answer["type"], "ok", "{answer}");
    // Someone neither paged nor a member still sees only the reference.
    let s = board_now(&server).await;
    assert!(s.incident(warroom::model::IncidentRef(2)).is_none());
    assert!(s.withheld.contains(&warroom::model::IncidentRef(2)));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exposed_feed_takes_no_alert_without_a_token_or_signature() {
    // What a feed listening beyond loopback does, on a loopback port (tests stay on it).
    let dir = tempfile::tempdir().unwrap();
    let closed = serve_with(dir.path(), |c| c.intake.exposed = true).await;
    let body = alertmanager("firing", "firing");
    let (code, answer) = post(&closed, "/webhook/alertmanager", &body, &[]).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{answer}");
    let why = answer["error"].as_str().unwrap();
    assert!(why.contains("alert intake is closed"), "{why}");
    assert!(why.contains("--intake-token"), "{why}");
    // Events v2 always carries a routing key, and this one is no token here.
    let (code, _) = post(&closed, "/v2/enqueue", &enqueue("trigger", "k"), &[]).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, answer) = post(
        &closed,
        "/webhook/pagerduty",
        &pd("incident.triggered", None),
        &[],
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("--pagerduty-secret")
    );
    assert!(board_now(&closed).await.incidents.is_empty());
    closed.shutdown().await.unwrap();

    // With an intake token it takes alerts that carry it.
    let dir = tempfile::tempdir().unwrap();
    let open = serve_with(dir.path(), |c| {
        c.intake.exposed = true;
        c.intake.token = Some("intake-token-0123456789".into());
    })
    .await;
    let (code, _) = post(&open, "/webhook/alertmanager", &body, &[]).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, answer) = post(
        &open,
        "/webhook/alertmanager",
        &body,
        &[("authorization", "Bearer intake-token-0123456789")],
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(board_now(&open).await.incidents.len(), 1);
    open.shutdown().await.unwrap();
}

/// An Alertmanager alert whose labels say it is a security event on `service`.
fn security_alert(service: &str) -> Value {
    let mut v = alertmanager("firing", "firing");
    v["groupKey"] = json!(format!(
        "{{}}:{{alertname=\"UnusualLogins\", service=\"{service}\"}}"
    ));
    v["alerts"][0]["labels"] = json!({
        "alertname": "UnusualLogins", "service": service, "security_event": "true",
    });
    v["alerts"][0]["annotations"] = json!({"summary": "Admin logins from an unknown network"});
    v["alerts"][0]["fingerprint"] = json!(format!("sec-{service}"));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_security_alert_opens_a_restricted_incident_with_the_security_runbook() {
    let dir = tempfile::tempdir().unwrap();
    // The built-in policy and rotation; in the week of 2026-11-23 sam is the primary.
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-26T02:00:00Z")
        .unwrap()
        .to_utc();
    let clock = Arc::new(warroom::clock::FakeClock::new(at));
    let server = serve_with(dir.path(), |c| c.clock = clock.clone()).await;

    let (code, body) = post(
        &server,
        "/webhook/alertmanager",
        &security_alert("auth"),
        &[],
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["alerts"][0]["outcome"], "opened", "{body}");
    // Need to know from its first event: someone neither paged nor a member sees only the
    // reference, never the title.
    let (_c, frames) = Raw::join(&server.url(), "observer", None).await;
    for f in &frames {
        assert!(
            !f.to_string().contains("unknown network"),
            "the title reached a non-member: {f}"
        );
    }
    let s = board_now(&server).await;
    assert!(s.incident(warroom::model::IncidentRef(1)).is_none());
    assert!(s.withheld.contains(&warroom::model::IncidentRef(1)));

    // The on-call paged about it was let in, and works from the security checklist.
    let (_sam, frames) = Raw::join(&server.url(), "sam", None).await;
    let s = board(&frames);
    let inc = &s.incidents[&1];
    assert!(inc.restricted);
    assert_eq!(inc.severity, Severity::Sev1, "a security event on auth");
    assert!(inc.members.contains_key("sam"), "{:?}", inc.members);
    let rb = inc.runbook.as_ref().expect("a checklist");
    assert_eq!(rb.name, "security");
    let headings: Vec<&str> = rb.sections.iter().map(|s| s.heading.as_str()).collect();
    for h in [
        "Containment",
        "Evidence preservation",
        "Legal and notification",
    ] {
        assert!(headings.contains(&h), "{headings:?}");
    }
    let items: Vec<&str> = rb.items().into_iter().map(|(_, _, t)| t).collect();
    assert!(items.iter().any(|t| t.contains("72-hour")), "{items:?}");
    assert!(
        items.iter().any(|t| t.contains("legal counsel")),
        "{items:?}"
    );
    // The breach-notification deadline runs from the declaration.
    assert_eq!(
        inc.breach_notice_due(),
        Some(inc.declared_at + chrono::Duration::hours(72))
    );

    // Any other alert on the same service stays public, with the service's runbook.
    let (_, body) = post(
        &server,
        "/webhook/alertmanager",
        &alertmanager("firing", "firing"),
        &[],
    )
    .await;
    assert_eq!(body["alerts"][0]["incident"], "INC-2", "{body}");
    let s = board_now(&server).await;
    let inc = &s.incidents[&2];
    assert!(!inc.restricted);
    assert_eq!(inc.runbook.as_ref().unwrap().name, "payments");
    server.shutdown().await.unwrap();
}
