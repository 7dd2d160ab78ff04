//! `warroom demo`: an embedded feed where a payments outage plays out live, so a newcomer
//! sees a working war room at once. The script is data ([`scenario`]); [`play`] performs it
//! through ordinary feed clients, one per responder, on tokio's clock (so tests can run it
//! fast or with paused time).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::client::{Client, ClientConfig, Replica, Update};
use crate::model::{Command, EntryKind, IncidentRef, Milestone, Role, Severity, Status};
use crate::protocol::Answer;
use crate::server::{RunningServer, ServerConfig};

/// What a step does.
#[derive(Debug, Clone)]
pub enum Act {
    Run(Command),
    /// POST this Alertmanager notification to the feed's `/webhook/alertmanager`.
    Alert(serde_json::Value),
    /// Pin the entry the previous step recorded.
    PinPrevious(IncidentRef),
}

/// One moment of the script: `after` the start, `who` does `act`.
#[derive(Debug, Clone)]
pub struct Step {
    pub after: Duration,
    pub who: &'static str,
    pub act: Act,
}

/// How the script went.
#[derive(Debug, Clone, Default)]
pub struct PlaySummary {
    pub steps: usize,
    /// Steps the feed refused, with its reason (a healthy script has none).
    pub rejected: Vec<String>,
}

const PAYMENTS: IncidentRef = IncidentRef(1);
const SEARCH: IncidentRef = IncidentRef(2);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn note(inc: IncidentRef, kind: EntryKind, text: &str) -> Act {
    Act::Run(Command::AddEntry {
        incident: inc,
        entry_kind: kind,
        text: text.to_string(),
        occurred_at: None,
        next_update_secs: None,
        public: false,
        briefing: None,
    })
}

/// A SEV1 status update, with the executive briefing leadership reads.
fn sev1_update(inc: IncidentRef, text: &str, briefing: [&str; 3]) -> Act {
    let [impact, eta, at_risk] = briefing.map(str::to_string);
    Act::Run(Command::AddEntry {
        incident: inc,
        entry_kind: EntryKind::StatusUpdate,
        text: text.to_string(),
        occurred_at: None,
        next_update_secs: None,
        public: false,
        briefing: Some(crate::model::Briefing {
            impact,
            eta,
            at_risk,
        }),
    })
}

fn role(inc: IncidentRef, role: Role) -> Act {
    Act::Run(Command::AssignRole {
        incident: inc,
        role,
        person: "me".into(),
    })
}

fn status(inc: IncidentRef, status: Status) -> Act {
    Act::Run(Command::SetStatus {
        incident: inc,
        status,
    })
}

/// An Alertmanager v4 notification for the payments group, as Alertmanager sends it.
fn alert(now: DateTime<Utc>, alerts: &[(&str, &str, &str, &str)]) -> Act {
    let list: Vec<serde_json::Value> = alerts
        .iter()
        .map(|(status, name, error_rate, summary)| {
            serde_json::json!({
                "status": status,
                "labels": {
                    "alertname": name, "service": "payments", "severity": "critical",
                    "error_rate": error_rate, "revenue_impacting": "true", "env": "prod"
                },
                "annotations": {"summary": summary},
                "startsAt": (now - chrono::Duration::minutes(1)).to_rfc3339(),
                "endsAt": if *status == "resolved" { now.to_rfc3339() } else { "0001-01-01T00:00:00Z".into() },
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": format!("{name}-payments-api")
            })
        })
        .collect();
    let status = if alerts.iter().all(|a| a.0 == "resolved") {
        "resolved"
    } else {
        "firing"
    };
    Act::Alert(serde_json::json!({
        "version": "4",
        "groupKey": "{}:{service=\"payments\"}",
        "status": status,
        "receiver": "warroom",
        "groupLabels": {"service": "payments"},
        "commonLabels": {"service": "payments", "env": "prod"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list
    }))
}

/// The payments outage, about three and a half minutes at speed 1. `now` anchors the
/// backdated "impact started" entry a few minutes before the declaration.
pub fn scenario(now: DateTime<Utc>) -> Vec<Step> {
    use EntryKind::{Action, Decision, Hypothesis, Note, RuledOut, StatusUpdate};
    let s = |after, who, act| Step {
        after: secs(after),
        who,
        act,
    };
    let deploy = |version: &str, note: &str| {
        Act::Run(Command::RecordDeploy {
            service: "payments".into(),
            version: version.into(),
            environment: Some("production".into()),
            note: Some(note.into()),
        })
    };
    vec![
        // What changed: the deploy the room shows beside the incident.
        s(
            0,
            "ci-bot",
            deploy("4471", "payments-api: pool timeout 30s → 5s"),
        ),
        s(
            2,
            "alertmanager",
            alert(
                now,
                &[(
                    "firing",
                    "PaymentsHighErrorRate",
                    "12.4",
                    "Checkout failing: payments-api returning 5xx at 12.4% (threshold 5% for 3m)",
                )],
            ),
        ),
        s(
            10,
            "alertmanager",
            alert(
                now,
                &[
                    (
                        "firing",
                        "PaymentsHighErrorRate",
                        "12.4",
                        "Checkout failing: payments-api returning 5xx at 12.4% (threshold 5% for 3m)",
                    ),
                    (
                        "firing",
                        "CheckoutLatencyP99",
                        "",
                        "CheckoutLatencyP99: p99 3.8s on checkout-web (threshold 2s)",
                    ),
                ],
            ),
        ),
        s(
            16,
            "priya",
            Act::Run(Command::Acknowledge { incident: PAYMENTS }),
        ),
        s(20, "priya", role(PAYMENTS, Role::IncidentCommander)),
        s(
            24,
            "priya",
            note(
                PAYMENTS,
                Note,
                "IC here. Bridge open in #inc-payments; marco please take tech lead",
            ),
        ),
        s(30, "marco", role(PAYMENTS, Role::TechLead)),
        s(34, "lee", role(PAYMENTS, Role::Scribe)),
        s(
            38,
            "lee",
            Act::Run(Command::AddEntry {
                incident: PAYMENTS,
                entry_kind: Note,
                text: "impact started: first 5xx on payments-api (from the load balancer logs)"
                    .into(),
                occurred_at: Some(now - chrono::Duration::minutes(4)),
                next_update_secs: None,
                public: false,
                briefing: None,
            }),
        ),
        s(
            40,
            "lee",
            Act::Run(Command::SetMilestone {
                incident: PAYMENTS,
                milestone: Milestone::ImpactStarted,
                occurred_at: Some(now - chrono::Duration::minutes(4)),
            }),
        ),
        s(
            44,
            "marco",
            note(
                PAYMENTS,
                Hypothesis,
                "connection pool exhaustion after deploy 4471 (it changed the pool timeout)",
            ),
        ),
        s(
            54,
            "marco",
            note(
                PAYMENTS,
                Note,
                "payments-api pods: 48/50 DB connections in use, 900 requests waiting for a connection",
            ),
        ),
        s(62, "sam", role(PAYMENTS, Role::CommsLead)),
        s(
            68,
            "sam",
            note(
                PAYMENTS,
                StatusUpdate,
                "What is happening: elevated checkout failures. Impact: ~12% of card payments failing. What we are doing: on-call engaged, checking deploy 4471. Next update in 15 minutes.",
            ),
        ),
        s(
            78,
            "alertmanager",
            alert(
                now,
                &[(
                    "firing",
                    "PaymentsHighErrorRate",
                    "41.7",
                    "PaymentsHighErrorRate: 5xx at 41.7% on payments-api",
                )],
            ),
        ),
        s(
            84,
            "priya",
            Act::Run(Command::SetSeverity {
                incident: PAYMENTS,
                severity: Severity::Sev1,
            }),
        ),
        s(
            88,
            "priya",
            note(
                PAYMENTS,
                Note,
                "raising to SEV1: about 40% of checkouts failing; VP engineering paged per policy",
            ),
        ),
        s(
            96,
            "marco",
            note(
                PAYMENTS,
                RuledOut,
                "DNS: resolution is healthy from every payments pod",
            ),
        ),
        s(
            104,
            "priya",
            note(
                PAYMENTS,
                Decision,
                "roll back payments-api to 4470 now; investigate 4471 afterwards",
            ),
        ),
        s(106, "lee", Act::PinPrevious(PAYMENTS)),
        s(
            114,
            "marco",
            note(PAYMENTS, Action, "rollback of payments-api to 4470 started"),
        ),
        s(116, "ci-bot", deploy("4470", "payments-api rollback")),
        s(
            120,
            "grafana",
            Act::Run(Command::Declare {
                title: "Search p99 latency above 2s".into(),
                severity: Severity::Sev3,
                service: Some("search".into()),
                restricted: false,
                detected_by: None,
            }),
        ),
        s(
            122,
            "grafana",
            note(
                SEARCH,
                Note,
                "[alert firing] SearchLatencyP99: p99 2.4s on search-api (threshold 2s for 10m)",
            ),
        ),
        s(
            134,
            "marco",
            note(
                PAYMENTS,
                Action,
                "rollback complete; DB connections 22/50, no requests waiting",
            ),
        ),
        s(140, "priya", status(PAYMENTS, Status::Identified)),
        s(
            146,
            "alertmanager",
            // The error rate recovered; the latency alert of the group still fires, so the
            // incident stays open for the responders to resolve.
            alert(
                now,
                &[
                    (
                        "resolved",
                        "PaymentsHighErrorRate",
                        "0.8",
                        "PaymentsHighErrorRate: 5xx at 0.8% on payments-api",
                    ),
                    (
                        "firing",
                        "CheckoutLatencyP99",
                        "",
                        "CheckoutLatencyP99: p99 2.4s on checkout-web (threshold 2s)",
                    ),
                ],
            ),
        ),
        s(152, "priya", status(PAYMENTS, Status::Monitoring)),
        s(
            158,
            "sam",
            sev1_update(
                PAYMENTS,
                "What is happening: checkout has recovered after rolling back deploy 4471. Impact: ~40% of card payments failed for about 15 minutes. What we are doing: watching error rates before resolving. Next update in 15 minutes.",
                [
                    "~40% of card payments failed for about 15 minutes; checkout works again",
                    "resolved within 30 minutes if error rates stay at baseline",
                    "none: the card network's SLA allows 30 minutes of failures a month",
                ],
            ),
        ),
        s(
            170,
            "lee",
            note(
                PAYMENTS,
                Note,
                "post-mortem owner: marco, draft due within 48 hours",
            ),
        ),
        s(
            182,
            "marco",
            note(
                PAYMENTS,
                Note,
                "error rate at baseline for 10 minutes; pool usage steady",
            ),
        ),
        s(
            196,
            "priya",
            Act::Run(Command::Resolve { incident: PAYMENTS }),
        ),
        s(
            202,
            "sam",
            note(
                PAYMENTS,
                StatusUpdate,
                "Resolved: checkout is fully recovered. A post-mortem will follow within 48 hours.",
            ),
        ),
        s(
            210,
            "lee",
            note(
                SEARCH,
                Note,
                "search latency still elevated; owner is the search on-call during business hours",
            ),
        ),
    ]
}

/// Performs the script against the feed at `url`, `speed` times faster than written.
/// Refused steps are collected, never fatal.
pub async fn play(url: &str, steps: Vec<Step>, speed: f64) -> PlaySummary {
    let mut clients = connect(url, &steps).await;
    perform(url, &mut clients, steps, speed).await
}

/// Posts an alert to the feed behind `feed_url` (`ws://host:port/feed`).
async fn post_alert(feed_url: &str, body: &serde_json::Value) -> Result<(), String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = feed_url
        .replacen("ws://", "http://", 1)
        .replacen("wss://", "https://", 1)
        .replace("/feed", "/webhook/alertmanager");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client
        .post(&url)
        .json(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!(
            "HTTP {}: {}",
            resp.status(),
            resp.text().await.unwrap_or_default()
        ))
    }
}

/// One connected client per responder in the script.
async fn connect(url: &str, steps: &[Step]) -> HashMap<&'static str, Client> {
    let mut clients: HashMap<&'static str, Client> = HashMap::new();
    for step in steps {
        if clients.contains_key(step.who) || matches!(step.act, Act::Alert(_)) {
            continue;
        }
        let mut client = Client::start(ClientConfig::new(url, step.who));
        wait_synced(&mut client).await;
        clients.insert(step.who, client);
    }
    clients
}

async fn perform(
    feed_url: &str,
    clients: &mut HashMap<&'static str, Client>,
    steps: Vec<Step>,
    speed: f64,
) -> PlaySummary {
    let speed = if speed.is_finite() && speed > 0.0 {
        speed
    } else {
        1.0
    };
    let start = tokio::time::Instant::now();
    let mut summary = PlaySummary::default();
    let mut previous: Option<u64> = None;
    for step in steps {
        tokio::time::sleep_until(start + step.after.div_f64(speed)).await;
        if let Act::Alert(body) = &step.act {
            summary.steps += 1;
            if let Err(e) = post_alert(feed_url, body).await {
                tracing::warn!("demo alert refused: {e}");
                summary.rejected.push(format!("{}: alert: {e}", step.who));
            }
            continue;
        }
        let Some(client) = clients.get(step.who) else {
            continue;
        };
        let command = match step.act {
            Act::Run(c) => c,
            Act::Alert(_) => continue,
            Act::PinPrevious(incident) => match previous {
                Some(entry) => Command::PinEntry {
                    incident,
                    entry,
                    pinned: true,
                },
                None => continue,
            },
        };
        summary.steps += 1;
        let (_, answer) = client.submit(command.clone());
        match answer.await {
            Ok(Answer::Ok { seqs, .. }) => previous = seqs.first().copied(),
            Ok(Answer::Error { message, .. }) => {
                tracing::warn!("demo step refused ({}): {message}", step.who);
                summary
                    .rejected
                    .push(format!("{}: {command:?}: {message}", step.who));
            }
            Err(_) => summary
                .rejected
                .push(format!("{}: no answer (connection closed)", step.who)),
        }
        for c in clients.values_mut() {
            while c.try_next().is_some() {}
        }
    }
    summary
}

async fn wait_synced(client: &mut Client) {
    let mut replica = Replica::default();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(u) = client.next().await {
            let _ = replica.apply(&u);
            if matches!(u, Update::Synced(_)) {
                return;
            }
        }
    })
    .await;
}

/// The demo's data directory, removed when the demo ends.
pub struct DemoDir(pub PathBuf);

impl Drop for DemoDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts an embedded feed on a free loopback port with a fresh data directory, and the
/// script playing against it.
pub async fn start(
    speed: f64,
) -> anyhow::Result<(RunningServer, tokio::task::JoinHandle<()>, DemoDir)> {
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let dir =
        DemoDir(std::env::temp_dir().join(format!("warroom-demo-{}-{nanos}", std::process::id())));
    let addr = "127.0.0.1:0".parse()?;
    let server = crate::server::start(ServerConfig::new(addr, dir.0.clone())).await?;
    let url = server.url();
    let player = tokio::spawn(async move {
        let steps = scenario(Utc::now());
        let mut clients = connect(&url, &steps).await;
        let summary = perform(&url, &mut clients, steps, speed).await;
        tracing::info!(
            steps = summary.steps,
            refused = summary.rejected.len(),
            "demo scenario finished"
        );
        // The responders stay in the room until the demo is closed.
        loop {
            for c in clients.values_mut() {
                while c.try_next().is_some() {}
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    });
    Ok((server, player, dir))
}
