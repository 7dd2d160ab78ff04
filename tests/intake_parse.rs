//! Alert intake parsers against webhook bodies shaped as Alertmanager and PagerDuty really
//! send them, their signatures, and malformed bodies (errors naming the field, never panics).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use warroom::intake::{
    Alert, AlertAction, IntakeError, SignatureError, Source, has_classifier_fields,
    parse_alertmanager, parse_events_v2, parse_pagerduty_v3, routing_key, severity_from_label,
    verify_pagerduty_signature,
};
use warroom::model::Severity;
use warroom::model::policy::{AlertContext, Span};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

fn details(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

fn err_string<T: std::fmt::Debug>(r: Result<T, IntakeError>) -> String {
    r.expect_err("should be refused").to_string()
}

// ---------------------------------------------------------------- Alertmanager

const GROUP_KEY: &str =
    r#"{}/{severity="critical"}:{alertname="HighErrorRate", service="payments"}"#;

/// A notification as Alertmanager 0.27 posts it to a `webhook_configs` receiver: two alerts
/// of one group, one still firing and one resolved.
fn alertmanager_body() -> Value {
    json!({
        "receiver": "warroom",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "HighErrorRate",
                    "env": "prod",
                    "error_rate": "62.5",
                    "instance": "payments-7d9f4c:8080",
                    "job": "payments",
                    "revenue_impacting": "true",
                    "service": "payments",
                    "severity": "critical"
                },
                "annotations": {
                    "runbook_url": "https://runbooks.example.com/payments/high-error-rate",
                    "summary": "Payments error rate 62.5% (threshold 5%)"
                },
                "startsAt": "2026-03-14T09:26:53.123Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=job%3Apayments%3Aerror_rate%3E5&g0.tab=1",
                "fingerprint": "c3a1f0e1b2d4a5f6"
            },
            {
                "status": "resolved",
                "labels": {
                    "alertname": "HighErrorRate",
                    "env": "prod",
                    "error_rate": "12",
                    "instance": "payments-5c2a11:8080",
                    "job": "payments",
                    "revenue_impacting": "true",
                    "service": "payments",
                    "severity": "critical"
                },
                "annotations": {
                    "description": "Error rate on payments-5c2a11 was above 5%\nfor 5 minutes.",
                    "runbook_url": "https://runbooks.example.com/payments/high-error-rate"
                },
                "startsAt": "2026-03-14T09:20:00Z",
                "endsAt": "2026-03-14T09:31:00.5Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=job%3Apayments%3Aerror_rate%3E5&g0.tab=1",
                "fingerprint": "0b9e2d7c6a5f4e3d"
            }
        ],
        "groupLabels": {"alertname": "HighErrorRate", "service": "payments"},
        "commonLabels": {
            "alertname": "HighErrorRate",
            "env": "prod",
            "job": "payments",
            "revenue_impacting": "true",
            "service": "payments",
            "severity": "critical"
        },
        "commonAnnotations": {
            "runbook_url": "https://runbooks.example.com/payments/high-error-rate"
        },
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": GROUP_KEY,
        "truncatedAlerts": 0
    })
}

#[test]
fn alertmanager_notification_gives_one_alert_per_element() {
    let alerts = parse_alertmanager(&bytes(&alertmanager_body())).unwrap();
    assert_eq!(alerts.len(), 2);
    let runbook = "https://runbooks.example.com/payments/high-error-rate";
    let generator = "http://prometheus:9090/graph?g0.expr=job%3Apayments%3Aerror_rate%3E5&g0.tab=1";

    assert_eq!(
        alerts[0],
        Alert {
            source: Source::Alertmanager,
            action: AlertAction::Trigger,
            dedup_key: format!("alertmanager:{GROUP_KEY}"),
            summary: "Payments error rate 62.5% (threshold 5%)".into(),
            context: AlertContext {
                service: Some("payments".into()),
                error_rate: Some(62.5),
                revenue_impacting: true,
                ..AlertContext::default()
            },
            severity_label: Some("critical".into()),
            started_at: Some(at("2026-03-14T09:26:53.123Z")),
            ended_at: None,
            by: None,
            runbook_url: Some(runbook.into()),
            details: details(&[
                ("alertname", "HighErrorRate"),
                ("env", "prod"),
                ("fingerprint", "c3a1f0e1b2d4a5f6"),
                ("generatorURL", generator),
                ("instance", "payments-7d9f4c:8080"),
                ("job", "payments"),
            ]),
        }
    );

    assert_eq!(
        alerts[1],
        Alert {
            source: Source::Alertmanager,
            action: AlertAction::Resolve,
            dedup_key: format!("alertmanager:{GROUP_KEY}"),
            summary: "Error rate on payments-5c2a11 was above 5% for 5 minutes.".into(),
            context: AlertContext {
                service: Some("payments".into()),
                error_rate: Some(12.0),
                revenue_impacting: true,
                ..AlertContext::default()
            },
            severity_label: Some("critical".into()),
            started_at: Some(at("2026-03-14T09:20:00Z")),
            ended_at: Some(at("2026-03-14T09:31:00.5Z")),
            by: None,
            runbook_url: Some(runbook.into()),
            details: details(&[
                ("alertname", "HighErrorRate"),
                ("env", "prod"),
                ("fingerprint", "0b9e2d7c6a5f4e3d"),
                ("generatorURL", generator),
                ("instance", "payments-5c2a11:8080"),
                ("job", "payments"),
            ]),
        }
    );
    assert!(has_classifier_fields(&alerts[0].context));
    assert_eq!(Source::Alertmanager.to_string(), "alertmanager");
}

#[test]
fn alertmanager_common_labels_fill_in_and_the_alert_wins() {
    let body = json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"SLOBurn\"}",
        "status": "firing",
        "commonLabels": {"service": "checkout", "priority": "P2", "burn_window": "5m"},
        "commonAnnotations": {"runbook_url": "https://rb/slo", "dashboard": "https://grafana/d/slo"},
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "SLOBurn", "burn_rate": "14.4x", "service": "checkout-api",
                       "dependent_services": "cart,orders,,ledger"},
            "annotations": {},
            "startsAt": "2026-03-14T10:00:00+01:00",
            "endsAt": "0001-01-01T00:00:00Z"
        }]
    });
    let a = &parse_alertmanager(&bytes(&body)).unwrap()[0];
    assert_eq!(a.context.service.as_deref(), Some("checkout-api"));
    assert_eq!(a.context.burn_rate, Some(14.4));
    assert_eq!(a.context.burn_window, Some(Span(Duration::from_secs(300))));
    assert_eq!(a.context.dependent_services, 3);
    assert_eq!(a.severity_label.as_deref(), Some("p2"));
    assert_eq!(severity_from_label("p2"), Some(Severity::Sev2));
    assert_eq!(a.summary, "SLOBurn on checkout-api");
    assert_eq!(a.runbook_url.as_deref(), Some("https://rb/slo"));
    assert_eq!(a.started_at, Some(at("2026-03-14T09:00:00Z")));
    assert_eq!(
        a.details,
        details(&[
            ("alertname", "SLOBurn"),
            ("dashboard", "https://grafana/d/slo")
        ])
    );
}

#[test]
fn alertmanager_summary_is_one_line_and_capped() {
    let mut body = alertmanager_body();
    body["alerts"][0]["annotations"]["summary"] = json!(format!("  {}\n", "ä".repeat(300)));
    let alerts = parse_alertmanager(&bytes(&body)).unwrap();
    assert_eq!(alerts[0].summary.chars().count(), 200);
    assert!(alerts[0].summary.ends_with('…'));
    assert!(alerts[0].summary.starts_with("ää"));
}

#[test]
fn alertmanager_details_are_capped() {
    let mut body = alertmanager_body();
    for i in 0..50 {
        body["alerts"][0]["labels"][format!("extra_{i:02}")] = json!("x".repeat(300));
    }
    let a = &parse_alertmanager(&bytes(&body)).unwrap()[0];
    assert_eq!(a.details.len(), 32);
    assert!(a.details.values().all(|v| v.chars().count() <= 200));
}

#[test]
fn alertmanager_refusals_name_the_field() {
    let with = |f: &dyn Fn(&mut Value)| {
        let mut body = alertmanager_body();
        f(&mut body);
        err_string(parse_alertmanager(&bytes(&body)))
    };
    assert_eq!(
        with(&|b| b["version"] = json!("3")),
        r#"version: received '3'; only Alertmanager webhook version "4" is supported"#
    );
    assert!(with(&|b| b["version"] = json!(4)).starts_with("version: received 4;"));
    assert!(
        with(&|b| {
            b.as_object_mut().unwrap().remove("version");
        })
        .starts_with("version: required but missing")
    );
    assert_eq!(
        with(&|b| {
            b.as_object_mut().unwrap().remove("groupKey");
        }),
        "groupKey: required but missing"
    );
    assert_eq!(
        with(&|b| b["alerts"] = json!([])),
        "alerts: empty; a notification carries at least one alert"
    );
    assert_eq!(
        with(&|b| {
            b["alerts"][1]["labels"]
                .as_object_mut()
                .unwrap()
                .remove("alertname");
        }),
        "alerts[1].labels.alertname: required but missing"
    );
    assert_eq!(
        with(&|b| {
            let third = b["alerts"][0].clone();
            b["alerts"].as_array_mut().unwrap().push(third);
            b["alerts"][2]["startsAt"] = json!("2026-13-01");
        }),
        "alerts[2].startsAt: '2026-13-01' is not an RFC 3339 time"
    );
    assert_eq!(
        with(&|b| b["alerts"][0]["labels"]["error_rate"] = json!("lots")),
        "alerts[0].labels.error_rate: 'lots' is not a percentage"
    );
    assert_eq!(
        with(&|b| b["alerts"][1]["labels"]["error_rate"] = json!("120%")),
        "alerts[1].labels.error_rate: '120%' is outside 0-100 (it is a percentage)"
    );
    assert_eq!(
        with(&|b| b["commonLabels"]["data_loss"] = json!("perhaps")),
        "commonLabels.data_loss: 'perhaps' is not true or false (write true/false, yes/no or 1/0)"
    );
    assert_eq!(
        with(&|b| b["alerts"][0]["status"] = json!("pending")),
        r#"alerts[0].status: 'pending' is neither "firing" nor "resolved""#
    );
    assert_eq!(
        with(&|b| b["alerts"][0]["labels"] = json!(["alertname"])),
        "alerts[0].labels: expected an object, got an array"
    );
    assert_eq!(
        with(&|b| b["alerts"][0]["endsAt"] = json!(0)),
        "alerts[0].endsAt: expected a string (an RFC 3339 time), got a number"
    );
    assert_eq!(
        with(&|b| b["alerts"] = json!({})),
        "alerts: expected an array, got an object"
    );
    assert_eq!(
        with(&|b| b["alerts"][0] = json!("firing")),
        "alerts[0]: expected an object, got a string"
    );
    assert_eq!(
        with(&|b| b["groupKey"] = json!(7)),
        "groupKey: expected a string, got a number"
    );
}

// ---------------------------------------------------------------- PagerDuty webhooks v3

/// Shaped like the `incident.triggered` example in PagerDuty's webhooks v3 documentation.
fn pd_triggered() -> Value {
    json!({
        "event": {
            "id": "01DEN3AVYDZTGSCBC0W2F5Z1TL",
            "event_type": "incident.triggered",
            "resource_type": "incident",
            "occurred_at": "2026-03-14T09:27:01.481Z",
            "agent": null,
            "client": null,
            "data": {
                "id": "Q1RYAZ5EQ1AQP3",
                "type": "incident",
                "self": "https://api.pagerduty.com/incidents/Q1RYAZ5EQ1AQP3",
                "html_url": "https://acme.pagerduty.com/incidents/Q1RYAZ5EQ1AQP3",
                "number": 2417,
                "status": "triggered",
                "incident_key": "d3640fbd41094207a1c11e58e46b1662",
                "created_at": "2026-03-14T09:27:01Z",
                "title": "Payments API 5xx above 50%",
                "service": {
                    "html_url": "https://acme.pagerduty.com/services/PF9KMXH",
                    "id": "PF9KMXH",
                    "self": "https://api.pagerduty.com/services/PF9KMXH",
                    "summary": "Payments API",
                    "type": "service_reference"
                },
                "assignees": [{
                    "html_url": "https://acme.pagerduty.com/users/PTUXL6G",
                    "id": "PTUXL6G",
                    "self": "https://api.pagerduty.com/users/PTUXL6G",
                    "summary": "User 123",
                    "type": "user_reference"
                }],
                "escalation_policy": {
                    "html_url": "https://acme.pagerduty.com/escalation_policies/PUS0KTE",
                    "id": "PUS0KTE",
                    "self": "https://api.pagerduty.com/escalation_policies/PUS0KTE",
                    "summary": "Default",
                    "type": "escalation_policy_reference"
                },
                "teams": [],
                "priority": {
                    "html_url": "https://acme.pagerduty.com/account/incident_priorities",
                    "id": "PSO75BM",
                    "self": "https://api.pagerduty.com/priorities/PSO75BM",
                    "summary": "P1",
                    "type": "priority"
                },
                "urgency": "high",
                "conference_bridge": null,
                "resolve_reason": null
            }
        }
    })
}

#[test]
fn pagerduty_triggered() {
    let alerts = parse_pagerduty_v3(&bytes(&pd_triggered())).unwrap();
    assert_eq!(
        alerts,
        vec![Alert {
            source: Source::PagerDuty,
            action: AlertAction::Trigger,
            dedup_key: "pagerduty:Q1RYAZ5EQ1AQP3".into(),
            summary: "Payments API 5xx above 50%".into(),
            context: AlertContext {
                service: Some("payments-api".into()),
                ..AlertContext::default()
            },
            severity_label: Some("p1".into()),
            started_at: Some(at("2026-03-14T09:27:01.481Z")),
            ended_at: None,
            by: None,
            runbook_url: None,
            details: details(&[
                ("assignees", "User 123"),
                ("escalation_policy", "Default"),
                ("event_id", "01DEN3AVYDZTGSCBC0W2F5Z1TL"),
                ("event_type", "incident.triggered"),
                (
                    "html_url",
                    "https://acme.pagerduty.com/incidents/Q1RYAZ5EQ1AQP3"
                ),
                ("incident_key", "d3640fbd41094207a1c11e58e46b1662"),
                ("number", "2417"),
                ("priority", "P1"),
                ("status", "triggered"),
                ("urgency", "high"),
            ]),
        }]
    );
    assert!(!has_classifier_fields(&alerts[0].context));
    assert_eq!(Source::PagerDuty.to_string(), "pagerduty");
}

#[test]
fn pagerduty_without_priority_uses_urgency() {
    let mut body = pd_triggered();
    body["event"]["data"]["priority"] = Value::Null;
    body["event"]["data"]["urgency"] = json!("low");
    let a = &parse_pagerduty_v3(&bytes(&body)).unwrap()[0];
    assert_eq!(a.severity_label.as_deref(), Some("low"));
    assert_eq!(severity_from_label("low"), Some(Severity::Sev4));
}

#[test]
fn pagerduty_acknowledged_and_resolved_say_who() {
    let mut body = pd_triggered();
    body["event"]["event_type"] = json!("incident.acknowledged");
    body["event"]["id"] = json!("01DEN3B7D5YMDRNV1SZ9VQZ6VM");
    body["event"]["occurred_at"] = json!("2026-03-14T09:29:40.000Z");
    body["event"]["agent"] = json!({
        "html_url": "https://acme.pagerduty.com/users/PLH1HKV",
        "id": "PLH1HKV",
        "self": "https://api.pagerduty.com/users/PLH1HKV",
        "summary": "Earline Greenholt",
        "type": "user_reference"
    });
    body["event"]["data"]["status"] = json!("acknowledged");
    let a = &parse_pagerduty_v3(&bytes(&body)).unwrap()[0];
    assert_eq!(a.action, AlertAction::Acknowledge);
    assert_eq!(a.by.as_deref(), Some("Earline Greenholt"));
    assert_eq!(a.dedup_key, "pagerduty:Q1RYAZ5EQ1AQP3");
    assert_eq!(a.started_at, Some(at("2026-03-14T09:27:01Z")));
    assert_eq!(a.ended_at, None);
    assert_eq!(
        a.details.get("status").map(String::as_str),
        Some("acknowledged")
    );

    body["event"]["event_type"] = json!("incident.resolved");
    body["event"]["occurred_at"] = json!("2026-03-14T09:58:12Z");
    let r = &parse_pagerduty_v3(&bytes(&body)).unwrap()[0];
    assert_eq!(r.action, AlertAction::Resolve);
    assert_eq!(r.ended_at, Some(at("2026-03-14T09:58:12Z")));
    assert_eq!(r.dedup_key, a.dedup_key);
}

#[test]
fn pagerduty_other_events_are_ignored() {
    let ping = json!({
        "event": {
            "id": "01BZ7IJ6ONAPPMEX4SMKKUO0PS",
            "event_type": "pagey.ping",
            "resource_type": "pagey",
            "occurred_at": "2026-03-14T09:00:00.000Z",
            "agent": null,
            "client": null,
            "data": {"message": "Hello from your friend Pagey!", "type": "ping"}
        }
    });
    assert_eq!(parse_pagerduty_v3(&bytes(&ping)).unwrap(), vec![]);
    for kind in [
        "incident.annotated",
        "incident.priority_updated",
        "service.updated",
    ] {
        let mut body = pd_triggered();
        body["event"]["event_type"] = json!(kind);
        assert_eq!(parse_pagerduty_v3(&bytes(&body)).unwrap(), vec![], "{kind}");
    }
}

#[test]
fn pagerduty_refusals_name_the_field() {
    let with = |f: &dyn Fn(&mut Value)| {
        let mut body = pd_triggered();
        f(&mut body);
        err_string(parse_pagerduty_v3(&bytes(&body)))
    };
    assert_eq!(
        err_string(parse_pagerduty_v3(br#"{"messages": []}"#)),
        "event: required but missing"
    );
    assert_eq!(
        with(&|b| b["event"]["event_type"] = json!(3)),
        "event.event_type: expected a string, got a number"
    );
    assert_eq!(
        with(&|b| b["event"]["data"]["title"] = json!(42)),
        "event.data.title: expected a string, got a number"
    );
    assert_eq!(
        with(&|b| {
            b["event"]["data"].as_object_mut().unwrap().remove("id");
        }),
        "event.data.id: required but missing"
    );
    assert_eq!(
        with(&|b| b["event"]["occurred_at"] = json!("yesterday")),
        "event.occurred_at: 'yesterday' is not an RFC 3339 time"
    );
    assert_eq!(
        with(&|b| b["event"]["data"]["service"] = json!("payments")),
        "event.data.service: expected an object, got a string"
    );
    assert_eq!(
        with(&|b| b["event"]["agent"] = json!({"summary": ["x"]})),
        "event.agent.summary: expected a string, got an array"
    );
    assert_eq!(
        with(&|b| b["event"]["data"]["assignees"] = json!(["PTUXL6G"])),
        "event.data.assignees[0]: expected an object, got a string"
    );
}

// ---------------------------------------------------------------- signatures

fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[test]
fn signatures() {
    let secret = b"ChangeMeToYourWebhookSigningSecret";
    let body = bytes(&pd_triggered());
    let good = format!("v1={}", sign(secret, &body));
    let other = format!("v1={}", sign(b"the old secret", &body));

    assert_eq!(
        verify_pagerduty_signature(secret, &body, Some(&good)),
        Ok(())
    );
    assert_eq!(
        verify_pagerduty_signature(secret, &body, Some(&format!("{other}, {good}"))),
        Ok(())
    );
    assert_eq!(
        verify_pagerduty_signature(secret, &body, Some(&format!("v1=bad,{good}"))),
        Ok(())
    );
    assert_eq!(
        verify_pagerduty_signature(b"wrong secret", &body, Some(&good)),
        Err(SignatureError::NoMatch)
    );
    let mut altered = body.clone();
    altered.push(b' ');
    assert_eq!(
        verify_pagerduty_signature(secret, &altered, Some(&good)),
        Err(SignatureError::NoMatch)
    );
    assert_eq!(
        verify_pagerduty_signature(secret, &body, None),
        Err(SignatureError::MissingHeader)
    );
    for header in ["", "v0=abcd", "sha256=abcd, t=1"] {
        assert_eq!(
            verify_pagerduty_signature(secret, &body, Some(header)),
            Err(SignatureError::NoV1Signature),
            "{header}"
        );
    }
    for header in ["v1=not-hex", "v1=", "v1=abc", "v1=zz,v1=ééé"] {
        assert_eq!(
            verify_pagerduty_signature(secret, &body, Some(header)),
            Err(SignatureError::NoMatch),
            "{header}"
        );
    }
    // The uppercase hex of the right signature is the same bytes.
    assert_eq!(
        verify_pagerduty_signature(
            secret,
            &body,
            Some(&good.to_uppercase().replace("V1=", "v1="))
        ),
        Ok(())
    );
    for e in [
        SignatureError::MissingHeader,
        SignatureError::NoV1Signature,
        SignatureError::NoMatch,
    ] {
        assert!(e.to_string().contains("X-PagerDuty-Signature"), "{e}");
    }
}

// ---------------------------------------------------------------- Events API v2

/// Shaped like the trigger example in PagerDuty's Events API v2 documentation.
fn events_trigger() -> Value {
    json!({
        "payload": {
            "summary": "DISK at 99% on machine prod-datapipe03.example.com",
            "timestamp": "2015-07-17T08:42:58.315+0000",
            "severity": "critical",
            "source": "prod-datapipe03.example.com",
            "component": "mysql",
            "group": "prod-datapipe",
            "class": "disk",
            "custom_details": {
                "free space": "1%",
                "ping time": "1500ms",
                "load avg": 0.75,
                "service": "database-primary",
                "data_loss": "yes",
                "affected_users_pct": 35,
                "dependent_services": ["orders", "payments", "search"],
                "runbook_url": "https://runbooks.example.com/db/disk-full",
                "host": {"az": "eu-west-1a", "rack": 12}
            }
        },
        "routing_key": "R0UT1NGKEY000000000000000000000A",
        "dedup_key": "disk-full/prod-datapipe03",
        "images": [{"src": "https://chart.example.com/disk.png", "href": "https://example.com/", "alt": "chart"}],
        "links": [
            {"href": "https://grafana.example.com/d/disk", "text": "Disk dashboard"},
            {"href": "https://runbooks.example.com/other", "text": "Runbook"}
        ],
        "event_action": "trigger",
        "client": "Sample Monitoring Service",
        "client_url": "https://monitoring.example.com"
    })
}

#[test]
fn events_trigger_with_every_field() {
    let body = bytes(&events_trigger());
    let a = parse_events_v2(&body).unwrap();
    assert_eq!(
        a,
        Alert {
            source: Source::EventsV2,
            action: AlertAction::Trigger,
            dedup_key: "events:disk-full/prod-datapipe03".into(),
            summary: "DISK at 99% on machine prod-datapipe03.example.com".into(),
            context: AlertContext {
                service: Some("database-primary".into()),
                affected_users_pct: Some(35.0),
                data_loss: true,
                dependent_services: 3,
                ..AlertContext::default()
            },
            severity_label: Some("critical".into()),
            started_at: Some(at("2015-07-17T08:42:58.315Z")),
            ended_at: None,
            by: None,
            runbook_url: Some("https://runbooks.example.com/db/disk-full".into()),
            details: details(&[
                ("class", "disk"),
                ("client", "Sample Monitoring Service"),
                ("client_url", "https://monitoring.example.com"),
                ("component", "mysql"),
                ("free space", "1%"),
                ("group", "prod-datapipe"),
                ("host.az", "eu-west-1a"),
                ("host.rack", "12"),
                ("load avg", "0.75"),
                ("ping time", "1500ms"),
                ("source", "prod-datapipe03.example.com"),
            ]),
        }
    );
    assert_eq!(
        routing_key(&body).as_deref(),
        Some("R0UT1NGKEY000000000000000000000A")
    );
    assert_eq!(Source::EventsV2.to_string(), "events-api");
    assert_eq!(severity_from_label("critical"), Some(Severity::Sev1));
}

#[test]
fn events_resolve_joins_its_trigger() {
    let trigger = parse_events_v2(&bytes(&events_trigger())).unwrap();
    let resolve = json!({
        "routing_key": "R0UT1NGKEY000000000000000000000A",
        "dedup_key": "disk-full/prod-datapipe03",
        "event_action": "resolve"
    });
    let r = parse_events_v2(&bytes(&resolve)).unwrap();
    assert_eq!(r.action, AlertAction::Resolve);
    assert_eq!(r.dedup_key, trigger.dedup_key);
    assert_eq!(r.summary, "resolved disk-full/prod-datapipe03");
    assert_eq!(r.context, AlertContext::default());

    let mut ack = resolve.clone();
    ack["event_action"] = json!("acknowledge");
    let k = parse_events_v2(&bytes(&ack)).unwrap();
    assert_eq!(k.action, AlertAction::Acknowledge);
    assert_eq!(k.dedup_key, trigger.dedup_key);
}

#[test]
fn events_trigger_without_dedup_key_derives_one() {
    let mut body = events_trigger();
    body.as_object_mut().unwrap().remove("dedup_key");
    body["payload"]
        .as_object_mut()
        .unwrap()
        .remove("custom_details");
    body.as_object_mut().unwrap().remove("links");
    let a = parse_events_v2(&bytes(&body)).unwrap();
    assert_eq!(
        a.dedup_key,
        "events:prod-datapipe03.example.com:DISK at 99% on machine prod-datapipe03.example.com"
    );
    assert_eq!(
        a.dedup_key,
        parse_events_v2(&bytes(&body)).unwrap().dedup_key
    );
    // No custom_details.service: the component names the service, else the source.
    assert_eq!(a.context.service.as_deref(), Some("mysql"));
    assert_eq!(a.runbook_url, None);
    body["payload"].as_object_mut().unwrap().remove("component");
    let b = parse_events_v2(&bytes(&body)).unwrap();
    assert_eq!(
        b.context.service.as_deref(),
        Some("prod-datapipe03.example.com")
    );
}

#[test]
fn events_runbook_from_links() {
    let mut body = events_trigger();
    body["payload"]["custom_details"]
        .as_object_mut()
        .unwrap()
        .remove("runbook_url");
    let a = parse_events_v2(&bytes(&body)).unwrap();
    assert_eq!(
        a.runbook_url.as_deref(),
        Some("https://runbooks.example.com/other")
    );
    body["links"] = json!([{"href": "https://grafana.example.com/d/disk"}]);
    let b = parse_events_v2(&bytes(&body)).unwrap();
    assert_eq!(
        b.runbook_url.as_deref(),
        Some("https://grafana.example.com/d/disk")
    );
}

#[test]
fn events_refusals_name_the_field() {
    let with = |f: &dyn Fn(&mut Value)| {
        let mut body = events_trigger();
        f(&mut body);
        err_string(parse_events_v2(&bytes(&body)))
    };
    assert_eq!(
        with(&|b| {
            b.as_object_mut().unwrap().remove("routing_key");
        }),
        "routing_key: required but missing"
    );
    assert_eq!(
        with(&|b| b["routing_key"] = json!(12)),
        "routing_key: expected a string, got a number"
    );
    assert_eq!(
        with(&|b| b["event_action"] = json!("escalate")),
        "event_action: 'escalate' is not one of trigger, acknowledge, resolve"
    );
    assert_eq!(
        with(&|b| {
            b["payload"].as_object_mut().unwrap().remove("summary");
        }),
        "payload.summary: required but missing"
    );
    assert_eq!(
        with(&|b| b["payload"]["summary"] = json!("   ")),
        "payload.summary: required but empty"
    );
    assert_eq!(
        with(&|b| b["payload"]["summary"] = json!("x".repeat(1025))),
        "payload.summary: 1025 characters; the Events API allows at most 1024"
    );
    assert_eq!(
        with(&|b| {
            b["payload"].as_object_mut().unwrap().remove("source");
        }),
        "payload.source: required but missing"
    );
    assert_eq!(
        with(&|b| b["payload"]["severity"] = json!("fatal")),
        "payload.severity: 'fatal' is not one of critical, error, warning, info"
    );
    assert_eq!(
        with(&|b| {
            b["payload"].as_object_mut().unwrap().remove("severity");
        }),
        "payload.severity: required but missing"
    );
    assert_eq!(
        with(&|b| {
            b.as_object_mut().unwrap().remove("payload");
        }),
        "payload: required but missing (a trigger needs summary, source and severity)"
    );
    assert_eq!(
        with(&|b| b["payload"] = json!("disk full")),
        "payload: expected an object, got a string"
    );
    assert_eq!(
        with(&|b| b["payload"]["timestamp"] = json!("17/07/2015")),
        "payload.timestamp: '17/07/2015' is not an RFC 3339 time"
    );
    assert_eq!(
        with(&|b| b["payload"]["custom_details"]["affected_users_pct"] = json!("most")),
        "payload.custom_details.affected_users_pct: 'most' is not a percentage"
    );
    assert_eq!(
        with(&|b| b["links"][0]["href"] = json!(null)),
        "links[0].href: required but missing"
    );
    assert_eq!(
        with(&|b| b["dedup_key"] = json!("k".repeat(256))),
        "dedup_key: 256 characters; the Events API allows at most 255"
    );
    let resolve_without_key = json!({"routing_key": "r", "event_action": "resolve"});
    assert_eq!(
        err_string(parse_events_v2(&bytes(&resolve_without_key))),
        "dedup_key: required to resolve an alert"
    );
}

#[test]
fn routing_key_is_none_when_absent_or_malformed() {
    assert_eq!(routing_key(b"not json"), None);
    assert_eq!(routing_key(b"[]"), None);
    assert_eq!(routing_key(br#"{"routing_key": 5}"#), None);
    assert_eq!(routing_key(br#"{"routing_key": " "}"#), None);
    assert_eq!(
        routing_key(br#"{"routing_key": "abc"}"#).as_deref(),
        Some("abc")
    );
}

// ---------------------------------------------------------------- malformed bodies

type Parser = fn(&[u8]) -> Result<usize, IntakeError>;

fn parsers() -> [(&'static str, Parser, Value); 3] {
    [
        (
            "alertmanager",
            |b| parse_alertmanager(b).map(|v| v.len()),
            alertmanager_body(),
        ),
        (
            "pagerduty",
            |b| parse_pagerduty_v3(b).map(|v| v.len()),
            pd_triggered(),
        ),
        (
            "events",
            |b| parse_events_v2(b).map(|_| 1),
            events_trigger(),
        ),
    ]
}

#[test]
fn not_json_and_not_objects_are_refused() {
    for (name, parse, _) in parsers() {
        let e = parse(b"alertname=HighErrorRate").unwrap_err();
        assert_eq!(e.field, "body", "{name}");
        assert!(e.message.starts_with("not JSON: "), "{name}: {e}");
        assert_eq!(
            parse(b"[{\"version\": \"4\"}]").unwrap_err().to_string(),
            "body: expected a JSON object, got an array",
            "{name}"
        );
        assert_eq!(
            parse(b"\"hello\"").unwrap_err().to_string(),
            "body: expected a JSON object, got a string"
        );
        assert_eq!(parse(b"").unwrap_err().field, "body");
        assert_eq!(parse(&[0xff, 0xfe, 0x00]).unwrap_err().field, "body");
    }
}

#[test]
fn every_truncation_is_refused_without_panicking() {
    for (name, parse, body) in parsers() {
        let full = bytes(&body);
        for cut in 0..full.len() {
            let e = parse(&full[..cut]).unwrap_err();
            assert!(!e.field.is_empty(), "{name} cut at {cut}");
        }
        assert!(parse(&full).is_ok(), "{name}");
    }
}

/// Every field, at every depth, replaced by a value of each JSON type: an error names a
/// field, or the body is still accepted; nothing panics.
#[test]
fn wrong_types_anywhere_never_panic() {
    fn paths(v: &Value, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    let mut p = prefix.clone();
                    p.push(k.clone());
                    out.push(p.clone());
                    paths(child, p, out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    let mut p = prefix.clone();
                    p.push(i.to_string());
                    out.push(p.clone());
                    paths(child, p, out);
                }
            }
            _ => {}
        }
    }
    fn slot<'a>(v: &'a mut Value, path: &[String]) -> &'a mut Value {
        path.iter().fold(v, |v, k| match v {
            Value::Array(items) => &mut items[k.parse::<usize>().unwrap()],
            other => &mut other[k.as_str()],
        })
    }
    let replacements = [
        Value::Null,
        json!(true),
        json!(-1.5),
        json!(""),
        json!("x"),
        json!([]),
        json!([1, "a"]),
        json!({}),
    ];
    let mut checked = 0;
    for (name, parse, body) in parsers() {
        let mut all = Vec::new();
        paths(&body, Vec::new(), &mut all);
        for path in &all {
            for r in &replacements {
                let mut b = body.clone();
                *slot(&mut b, path) = r.clone();
                if let Err(e) = parse(&bytes(&b)) {
                    assert!(!e.field.is_empty(), "{name} {path:?} = {r}");
                    assert!(!e.message.is_empty(), "{name} {path:?} = {r}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "{checked}");
}
