//! Operating the feed: `/metrics` passes `promtool check metrics` and a real Prometheus
//! scrapes it; the counters and histograms move as a scenario says (a declared incident, a
//! deduplicated alert, a failed then retried notification, a rate-limited client, a revoked
//! token); `--log-format json` lines parse with the documented fields, and a whole
//! scenario's logs hold none of the secrets it used; the alert rules pass `promtool check
//! rules`. The Prometheus tests skip, saying so, where promtool and prometheus are not
//! installed (CI installs them: Debian's `prometheus` package).

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::*;
use serde_json::{Value, json};
use warroom::model::policy::Policy;
use warroom::protocol::Access;
use warroom::server::auth::{add_token, revoke_token};
use warroom::server::{Rules, RunningServer, ServerConfig};

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(WAIT).build().unwrap()
}

fn rules_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/prometheus/warroom-rules.yml")
}

/// The program's path, or `None` after saying which test skips and why.
fn tool(program: &str, test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        // CI installs them: there, a missing tool is a broken set-up, not a skip.
        assert!(
            std::env::var_os("CI").is_none_or(|v| v.is_empty() || v == "false"),
            "operations::{test}: `{program}` is not installed, and CI must run this test"
        );
        eprintln!(
            "operations::{test} skipped: `{program}` is not installed (Debian's `prometheus` \
             package has it; .ci/run installs it)"
        );
    }
    found
}

async fn scrape(addr: &str, token: Option<&str>) -> (u16, String) {
    let mut req = http().get(format!("http://{addr}/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// The value of the sample `name` whose labels include `labels`, if exposed.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (n, rest) = series.split_once('{').unwrap_or((series, "}"));
            if n != name {
                return None;
            }
            let all = labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            all.then(|| value.parse().ok())?
        })
}

async fn metric(server: &RunningServer, name: &str, labels: &[(&str, &str)]) -> f64 {
    let (code, text) = scrape(&server.addr.to_string(), None).await;
    assert_eq!(code, 200, "{text}");
    sample(&text, name, labels).unwrap_or(0.0)
}

/// Reads `metric` until it reaches `at_least` (its update may trail the frame a test saw
/// by a moment), bounded by `WAIT`.
async fn metric_reaches(
    server: &RunningServer,
    name: &str,
    labels: &[(&str, &str)],
    at_least: f64,
) {
    let deadline = Instant::now() + WAIT;
    loop {
        let v = metric(server, name, labels).await;
        if v >= at_least {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name}{labels:?} stayed at {v}, expected {at_least}"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A receiver on a loopback port: answers 500 to the first `failures` requests, then 200.
async fn receiver(failures: usize) -> String {
    let seen: Arc<Mutex<usize>> = Arc::default();
    let app = axum::Router::new().route(
        "/hook/{*secret}",
        axum::routing::post(move || {
            let seen = seen.clone();
            async move {
                let mut n = seen.lock().unwrap();
                *n += 1;
                if *n <= failures {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/hook")
}

/// SEV1 pages ana at once through the webhook `url`.
fn paging_policy(url: &str) -> String {
    format!(
        r#"
[escalation.sev1]
steps = [{{ after = "0m", page = "oncall.primary" }}]

[[schedule]]
name = "platform"
start = "2026-11-23"
primary = ["ana"]

[people.ana]
channels = ["hook"]

[channel.hook]
webhook = "{url}"

[notify]
attempts = 3
backoff = "1s"
timeout = "10s"
"#
    )
}

async fn hello(url: &str, name: &str, token: &str) -> Raw {
    let mut c = Raw::connect(url).await;
    c.name = name.to_string();
    c.send(&json!({"type": "hello", "protocol": 2, "name": name, "token": token}))
        .await;
    c.until("synced").await;
    c
}

/// Reads until the connection closes; the close code.
async fn until_closed(c: &mut Raw) -> Option<u16> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match tokio::time::timeout(WAIT, c.ws.next()).await {
            Ok(Some(Ok(Message::Close(f)))) => return f.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => {}
            Ok(_) => return None,
            Err(_) => panic!("the connection stayed open"),
        }
    }
}

/// Reads until the answer to command `id` (`None`) or the close (`Some` of its code).
async fn answer_or_close(c: &mut Raw, id: &str) -> Option<Option<u16>> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match tokio::time::timeout(WAIT, c.ws.next()).await {
            Ok(Some(Ok(Message::Close(f)))) => return Some(f.map(|f| u16::from(f.code))),
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["id"] == id {
                    return None;
                }
            }
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("the connection ended without a close frame: {other:?}"),
            Err(_) => panic!("no answer to {id} and no close"),
        }
    }
}

fn enqueue(key: &str) -> Value {
    json!({
        "routing_key": "R0UT1NGK3Y0000000000000000000000",
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {"summary": "DISK at 99% on db-1", "source": "db-1", "severity": "warning"}
    })
}

async fn post(server: &RunningServer, path: &str, body: &Value) -> u16 {
    http()
        .post(format!("http://{}{path}", server.addr))
        .json(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_and_histograms_move_as_the_scenario_says() {
    let dir = tempfile::tempdir().unwrap();
    let alice = add_token(dir.path(), "alice", Access::Responder).unwrap();
    let bob = add_token(dir.path(), "bob", Access::Responder).unwrap();
    let mallory = add_token(dir.path(), "mallory", Access::Responder).unwrap();
    let hook = receiver(1).await;
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
    cfg.rules = Arc::new(Rules {
        policy: Policy::parse(&paging_policy(&format!("{hook}/s3cr3t"))).unwrap(),
        runbooks: Default::default(),
    });
    cfg.notify_backoff = Some(Duration::from_millis(20));
    cfg.limits.commands_per_second = 5;
    cfg.limits.command_burst = 5;
    cfg.limits.max_rate_refusals = 5;
    let server = warroom::server::start(cfg).await.unwrap();
    let url = server.url();

    // A declared incident: the command, its events, the board, a frame fanned out; its
    // page fails once (HTTP 500), then is delivered.
    let mut a = hello(&url, "alice", &alice).await;
    assert_eq!(seqs(&a.command(declare("Checkout down", 1)).await)[0], 1);
    loop {
        let f = a.next().await.expect("feed closed");
        if f["type"] == "event" && f["event"]["kind"] == "notification_result" {
            assert_eq!(f["event"]["delivered"], true, "{f}");
            break;
        }
    }
    let ok = [("op", "declare"), ("outcome", "ok")];
    assert_eq!(metric(&server, "warroom_commands_total", &ok).await, 1.0);
    assert!(metric(&server, "warroom_events_appended_total", &[]).await >= 3.0);
    let sev1 = [("severity", "SEV1")];
    assert_eq!(
        metric(&server, "warroom_incidents_active", &sev1).await,
        1.0
    );
    assert!(metric(&server, "warroom_fanout_delay_seconds_count", &[]).await >= 1.0);
    assert!(metric(&server, "warroom_commit_duration_seconds_count", &[]).await >= 1.0);
    let on_time = [("late", "false")];
    assert_eq!(
        metric(&server, "warroom_escalation_steps_fired_total", &on_time).await,
        1.0
    );
    let failed = [("channel", "hook"), ("reason", "http_5xx")];
    assert_eq!(
        metric(&server, "warroom_notifications_failed_total", &failed).await,
        1.0
    );
    let delivered = [("channel", "hook"), ("outcome", "delivered")];
    metric_reaches(&server, "warroom_notifications_total", &delivered, 1.0).await;

    // The acknowledgement: time to acknowledge, by severity.
    a.command(json!({"op": "acknowledge", "incident": "INC-1"}))
        .await;
    assert_eq!(
        metric(&server, "warroom_incident_ack_seconds_count", &sev1).await,
        1.0
    );
    // A refused command, by its code.
    let answer = a
        .command(json!({"op": "acknowledge", "incident": "INC-99"}))
        .await;
    assert_eq!(answer["code"], "not_found");
    let refused = [("op", "acknowledge"), ("outcome", "not_found")];
    assert_eq!(
        metric(&server, "warroom_commands_total", &refused).await,
        1.0
    );

    // An alert, the same again (deduplicated), and one refused.
    assert_eq!(
        post(&server, "/v2/enqueue", &enqueue("disk-db1")).await,
        202
    );
    assert_eq!(
        post(&server, "/v2/enqueue", &enqueue("disk-db1")).await,
        202
    );
    assert_eq!(
        post(&server, "/v2/enqueue", &json!({"nonsense": 1})).await,
        400
    );
    for (outcome, n) in [("created", 1.0), ("deduplicated", 1.0), ("refused", 1.0)] {
        let labels = [("source", "events_v2"), ("outcome", outcome)];
        assert_eq!(
            metric(&server, "warroom_alerts_received_total", &labels).await,
            n,
            "{outcome}"
        );
    }
    let webhook = [("route", "/v2/enqueue"), ("code", "202")];
    assert_eq!(
        metric(&server, "warroom_http_requests_total", &webhook).await,
        2.0
    );

    // A client over its rate: its frames are refused, then it is cut.
    // Each frame is answered before the next goes: the cut then finds nothing unread, so the
    // close frame is not lost to a reset.
    let mut m = hello(&url, "mallory", &mallory).await;
    let mut closed = None;
    for i in 0..40 {
        let id = format!("n{i}");
        m.send(&json!({"type": "command", "id": id,
                       "command": {"op": "add_entry", "incident": "INC-1", "kind": "note", "text": "spam"}}))
            .await;
        closed = answer_or_close(&mut m, &id).await;
        if closed.is_some() {
            break;
        }
    }
    assert_eq!(closed, Some(Some(1008)));
    let rate = [("reason", "rate_limited")];
    metric_reaches(&server, "warroom_sessions_closed_total", &rate, 1.0).await;
    assert!(metric(&server, "warroom_frames_refused_total", &rate).await >= 5.0);

    // A revoked token: its live session is closed.
    let mut b = hello(&url, "bob", &bob).await;
    revoke_token(dir.path(), "bob").unwrap();
    server.check_tokens();
    assert_eq!(until_closed(&mut b).await, Some(1008));
    let revoked = [("reason", "revoked")];
    metric_reaches(&server, "warroom_sessions_closed_total", &revoked, 1.0).await;
    assert_eq!(metric(&server, "warroom_leader", &[]).await, 1.0);
    assert_eq!(
        metric(
            &server,
            "warroom_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        )
        .await,
        1.0
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_listen_serves_the_token_holder_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = server_config("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
    cfg.rules = Arc::new(quiet_rules());
    cfg.metrics.token = Some("metrics-token-0123456789".into());
    cfg.metrics.listen = Some("127.0.0.1:0".parse().unwrap());
    let server = warroom::server::start(cfg).await.unwrap();
    let extra = server
        .metrics_addr
        .expect("--metrics-listen is served")
        .to_string();
    let (code, _) = scrape(&extra, None).await;
    assert_eq!(code, 401);
    let (code, _) = scrape(&extra, Some("wrong-token-000000000000")).await;
    assert_eq!(code, 401);
    let (code, text) = scrape(&extra, Some("metrics-token-0123456789")).await;
    assert_eq!(code, 200);
    assert!(text.contains("warroom_build_info"), "{text}");
    // The feed's port serves loopback without it.
    let (code, text) = scrape(&server.addr.to_string(), None).await;
    assert_eq!(code, 200);
    assert!(
        text.contains("# TYPE warroom_commands_total counter"),
        "{text}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_passes_the_exposition_and_the_alert_rules() {
    let Some(promtool) = tool(
        "promtool",
        "promtool_passes_the_exposition_and_the_alert_rules",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let (mut c, _) = Raw::join(&server.url(), "alice", None).await;
    c.command(declare("Search slow", 2)).await;
    c.command(json!({"op": "acknowledge", "incident": "INC-1"}))
        .await;
    let (_, text) = scrape(&server.addr.to_string(), None).await;
    server.shutdown().await.unwrap();
    let mut check = std::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        check
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(&promtool)
        .args(["check", "rules"])
        .arg(rules_file())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The dashboard is JSON and draws from metrics the feed exposes.
    let dashboard = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/grafana/warroom.json");
    let board: Value = serde_json::from_str(&std::fs::read_to_string(dashboard).unwrap()).unwrap();
    let exprs: Vec<String> = board["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect();
    assert!(exprs.len() >= 8, "{exprs:?}");
    for e in &exprs {
        assert!(e.contains("warroom_"), "{e}");
    }
}

/// A free loopback port (for a program that cannot be told to pick one).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Stops the Prometheus server when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_the_feed() {
    let Some(prometheus) = tool("prometheus", "a_real_prometheus_scrapes_the_feed") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let prom_dir = tempfile::tempdir().unwrap();
    let config = prom_dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {rules}\n\
             scrape_configs:\n  - job_name: warroom\n    static_configs:\n      - targets: ['{addr}']\n",
            rules = rules_file().display(),
            addr = server.addr
        ),
    )
    .unwrap();
    let port = free_port();
    let log = std::fs::File::create(prom_dir.path().join("prometheus.log")).unwrap();
    let _prom = Child(
        std::process::Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                prom_dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let (mut c, _) = Raw::join(&server.url(), "alice", None).await;
    c.command(declare("Search slow", 2)).await;
    let query = format!(
        "http://127.0.0.1:{port}/api/v1/query?query=warroom_commands_total%7Bop%3D%22declare%22%2Coutcome%3D%22ok%22%7D"
    );
    // Prometheus starts, scrapes every second: bounded wait for the sample.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    loop {
        if let Ok(resp) = http().get(&query).send().await
            && let Ok(v) = resp.json::<Value>().await
        {
            let result = &v["data"]["result"];
            if result.as_array().is_some_and(|r| !r.is_empty()) {
                assert_eq!(result[0]["value"][1], "1", "{v}");
                break;
            }
            last = v.to_string();
        }
        if Instant::now() > deadline {
            let said =
                std::fs::read_to_string(prom_dir.path().join("prometheus.log")).unwrap_or_default();
            panic!("Prometheus never had the sample; last answer {last}\n{said}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The rules loaded: Prometheus lists their groups.
    let rules: Value = http()
        .get(format!("http://127.0.0.1:{port}/api/v1/rules"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !rules["data"]["groups"].as_array().unwrap().is_empty(),
        "{rules}"
    );
    server.shutdown().await.unwrap();
}

/// `warroom serve --log-format json` and a scenario that touches every secret it was given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_parse_with_their_fields_and_hold_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let alice = add_token(&data, "alice", Access::Responder).unwrap();
    let bob = add_token(&data, "bob", Access::Responder).unwrap();
    let hook_secret = "T0SECRET/B0SECRET/hookpathsecret0123";
    let hook = receiver(usize::MAX).await;
    let tracker_secret = "trackerpathsecret0123";
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        paging_policy(&format!("{hook}/{hook_secret}")).replace("attempts = 3", "attempts = 2")
            + &format!("\n[tracker]\nurl = \"{hook}/{tracker_secret}\"\n"),
    )
    .unwrap();
    let intake_token = "intake-secret-0123456789abcdef";
    let pd_secret = "pagerduty-signing-secret-0123456789";
    let metrics_token = "metrics-secret-0123456789abcdef";
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--data",
        ])
        .arg(&data)
        .arg("--policy")
        .arg(&policy)
        .args([
            "--intake-token",
            intake_token,
            "--pagerduty-secret",
            pd_secret,
        ])
        .args([
            "--metrics-token",
            metrics_token,
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .env_remove("RUST_LOG")
        .env_remove("WARROOM_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut child = Child(child);
    let lines = |p: &Path| -> Vec<Value> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    };
    let logged = |lines: &[Value], message: &str| -> Option<Value> {
        lines.iter().find(|l| l["message"] == message).cloned()
    };
    let deadline = Instant::now() + WAIT;
    let addr = loop {
        let found = lines(&log_path).iter().find_map(|l| {
            l["message"]
                .as_str()?
                .strip_prefix("listening on ws://")
                .map(|a| a.trim_end_matches("/feed").to_string())
        });
        if let Some(a) = found {
            break a;
        }
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let url = format!("ws://{addr}/feed");

    let mut a = hello(&url, "alice", &alice).await;
    a.command(declare("Checkout down", 1)).await;
    // An action item for the tracker, which fails as the channel does.
    a.command(
        json!({"op": "add_action_item", "incident": "INC-1", "text": "Alert on pool use",
                     "owner": "alice", "due": "2026-12-03"}),
    )
    .await;
    let answer = a
        .command_with_id("c-404", json!({"op": "acknowledge", "incident": "INC-99"}))
        .await;
    assert_eq!(answer["code"], "not_found");
    // Alerts with the intake token, and with a wrong one.
    for token in [intake_token, "wrong-token-0000000000000"] {
        http()
            .post(format!("http://{addr}/v2/enqueue"))
            .bearer_auth(token)
            .json(&enqueue("disk-db1"))
            .send()
            .await
            .unwrap();
    }
    // The metrics, with the token.
    let (code, _) = scrape(&addr, Some(metrics_token)).await;
    assert_eq!(code, 200);
    // Bob's token is revoked while he is connected (the feed looks every second).
    let mut b = hello(&url, "bob", &bob).await;
    revoke_token(&data, "bob").unwrap();
    assert_eq!(until_closed(&mut b).await, Some(1008));
    // Both attempts at the page and at the ticket fail (the receiver answers 500).
    let mut channels: std::collections::BTreeSet<String> = Default::default();
    while channels.len() < 2 {
        if let Some(e) = a.events.iter().find(|e| {
            e["kind"] == "notification_result"
                && !channels.contains(e["channel"].as_str().unwrap_or(""))
        }) {
            assert_eq!(e["delivered"], false, "{e}");
            channels.insert(e["channel"].as_str().unwrap_or("").to_string());
            continue;
        }
        a.next().await.expect("feed closed");
    }
    drop(a);
    let pid = child.0.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let _ = child.0.wait();

    let all = lines(&log_path);
    for l in &all {
        for field in ["timestamp", "level", "target", "message"] {
            assert!(l.get(field).is_some(), "no {field}: {l}");
        }
    }
    let refused = logged(&all, "command refused").expect("a refusal is logged");
    assert_eq!(refused["incident"], "INC-99");
    assert_eq!(refused["actor"], "alice");
    assert_eq!(refused["command_id"], "c-404");
    assert_eq!(refused["code"], "not_found");
    assert!(
        refused["reason"].as_str().unwrap().contains("INC-99"),
        "{refused}"
    );
    let failed = logged(&all, "notification failed").expect("a failure is logged");
    assert_eq!(failed["incident"], "INC-1");
    assert_eq!(failed["channel"], "hook");
    assert_eq!(failed["reason"], "http_5xx");
    let ticket = logged(&all, "ticket not opened").expect("a tracker failure is logged");
    assert_eq!(ticket["incident"], "INC-1");
    assert_eq!(ticket["reason"], "http_5xx");
    let closed = all
        .iter()
        .find(|l| l["message"] == "session closed" && l["reason"] == "revoked")
        .unwrap_or_else(|| panic!("the revoked session's close is logged: {all:?}"));
    assert_eq!(closed["actor"], "bob");

    let text = std::fs::read_to_string(&log_path).unwrap();
    for secret in [
        alice.as_str(),
        bob.as_str(),
        intake_token,
        pd_secret,
        metrics_token,
        hook_secret,
        "hookpathsecret0123",
        tracker_secret,
        hook.as_str(),
    ] {
        assert!(
            !text.contains(secret),
            "a log line holds a secret ({secret}):\n{text}"
        );
    }
}
