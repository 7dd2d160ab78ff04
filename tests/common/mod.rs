//! Helpers for tests that run a real feed on a loopback port and talk to it as clients do.
#![allow(dead_code)]

pub mod cli;
pub mod history;
pub mod hooks;
pub mod pg;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use warroom::server::{RunningServer, ServerConfig, StoreLocation};

/// Every wait in these tests is bounded by this, so a broken build fails instead of hanging.
pub const WAIT: Duration = Duration::from_secs(20);

pub async fn start_server(dir: &std::path::Path) -> RunningServer {
    start_on(dir, "127.0.0.1:0").await
}

/// A feed's configuration with its data in `dir`: its log there too, or in a database of
/// its own when the tests run on PostgreSQL (`WARROOM_TEST_STORE=postgres`, see [`pg`]).
pub fn server_config(listen: std::net::SocketAddr, dir: std::path::PathBuf) -> ServerConfig {
    let store = pg::store_for(&dir);
    let mut cfg = ServerConfig::new(listen, dir);
    if let Some(url) = store {
        cfg.store = StoreLocation::Postgres(url);
    }
    cfg
}

/// Feed tests run on a policy with no escalation, cadence or runbooks, so the log holds
/// exactly what each test's commands caused. Escalation has its own tests.
pub async fn start_on(dir: &std::path::Path, addr: &str) -> RunningServer {
    let mut cfg = server_config(addr.parse().unwrap(), dir.to_path_buf());
    cfg.rules = std::sync::Arc::new(quiet_rules());
    warroom::server::start(cfg).await.unwrap()
}

/// Rules that never add events of their own.
pub fn quiet_rules() -> warroom::server::Rules {
    warroom::server::Rules {
        policy: warroom::model::policy::Policy::parse("").unwrap(),
        runbooks: Default::default(),
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw protocol client: sends JSON, reads frames.
pub struct Raw {
    pub ws: Ws,
    next_id: u64,
    pub name: String,
    /// Every event frame read so far, whatever was waiting for what.
    pub events: Vec<Value>,
}

impl Raw {
    pub async fn connect(url: &str) -> Raw {
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect timed out")
            .expect("connect failed");
        Raw {
            ws,
            next_id: 0,
            name: String::new(),
            events: Vec::new(),
        }
    }

    /// Connects, says hello, and reads up to `synced`; returns the frames before it.
    pub async fn join(url: &str, name: &str, last_seq: Option<u64>) -> (Raw, Vec<Value>) {
        let mut c = Raw::connect(url).await;
        c.name = name.to_string();
        let mut hello = json!({"type": "hello", "protocol": 2, "name": name});
        if let Some(s) = last_seq {
            hello["last_seq"] = json!(s);
        }
        c.send(&hello).await;
        let frames = c.until("synced").await;
        (c, frames)
    }

    pub async fn send(&mut self, v: &Value) {
        self.send_text(v.to_string()).await;
    }

    pub async fn send_text(&mut self, t: String) {
        self.ws.send(Message::Text(t.into())).await.unwrap();
    }

    /// The next text frame as JSON; `None` when the connection closed.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            let f = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("no frame within the wait");
            match f {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    if v["type"] == "event" {
                        self.events.push(v["event"].clone());
                    }
                    return Some(v);
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Frames up to and including the first of type `ty` (presence frames included).
    pub async fn until(&mut self, ty: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let f = self
                .next()
                .await
                .unwrap_or_else(|| panic!("closed before {ty}: {out:?}"));
            let done = f["type"] == ty;
            out.push(f);
            if done {
                return out;
            }
        }
    }

    /// The next frame that is not presence.
    pub async fn next_non_presence(&mut self) -> Option<Value> {
        loop {
            let f = self.next().await?;
            if f["type"] != "presence" {
                return Some(f);
            }
        }
    }

    /// Sends a command with a fresh id and returns its answer frame (ok or error).
    pub async fn command(&mut self, cmd: Value) -> Value {
        self.next_id += 1;
        let id = format!("{}-{}", self.name, self.next_id);
        self.command_with_id(&id, cmd).await
    }

    pub async fn command_with_id(&mut self, id: &str, cmd: Value) -> Value {
        self.send(&json!({"type": "command", "id": id, "command": cmd}))
            .await;
        loop {
            let f = self.next().await.expect("closed before the answer");
            if (f["type"] == "ok" || f["type"] == "error") && f["id"] == id {
                return f;
            }
        }
    }

    /// Reads until the event with `seq` has arrived; returns every event read so far.
    pub async fn events_until(&mut self, seq: u64) -> Vec<Value> {
        while self
            .events
            .last()
            .and_then(|e| e["seq"].as_u64())
            .unwrap_or(0)
            < seq
        {
            self.next().await.expect("closed while waiting for events");
        }
        self.events.clone()
    }
}

pub fn declare(title: &str, sev: u8) -> Value {
    json!({"op": "declare", "title": title, "severity": sev})
}

pub fn note(inc: &str, text: &str) -> Value {
    json!({"op": "add_entry", "incident": inc, "text": text})
}

pub fn seqs(answer: &Value) -> Vec<u64> {
    assert_eq!(answer["type"], "ok", "expected ok, got {answer}");
    answer["seqs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

/// A `warroom serve` process on a loopback port.
pub struct ServeProcess {
    pub child: std::process::Child,
    pub url: String,
    pub addr: String,
}

impl ServeProcess {
    /// Starts the real binary on a free port and waits for it to say where it listens.
    pub fn start(data: &std::path::Path) -> ServeProcess {
        Self::start_on(data, "127.0.0.1:0")
    }

    pub fn start_on(data: &std::path::Path, listen: &str) -> ServeProcess {
        Self::start_with(data, listen, &[])
    }

    /// As `start_on`, with more arguments for `warroom serve` (a `--policy` of the test's
    /// own, so what it asserts does not hang on the real date).
    pub fn start_with(data: &std::path::Path, listen: &str, args: &[&str]) -> ServeProcess {
        use std::io::BufRead;
        let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"));
        serve
            .args(["serve", "--listen", listen, "--data"])
            .arg(data);
        if !args.contains(&"--store")
            && let Some(url) = pg::store_for(data)
        {
            serve.args(["--store", &url]);
        }
        let mut child = serve
            .args(args)
            .env("WARROOM_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn warroom serve");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // WARROOM_TEST_SERVER_LOG=FILE keeps what every server said (a failing test's
        // servers can be read afterwards).
        let mut keep = std::env::var_os("WARROOM_TEST_SERVER_LOG").and_then(|f| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(f)
                .ok()
        });
        let pid = child.id();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(f) = keep.as_mut() {
                    use std::io::Write;
                    let _ = writeln!(f, "[{pid}] {line}");
                }
                if let Some(i) = line.find("listening on ws://")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(line[i + "listening on ".len()..].trim().to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(WAIT)
            .expect("the server did not start listening");
        let addr = url
            .trim_start_matches("ws://")
            .trim_end_matches("/feed")
            .to_string();
        ServeProcess { child, url, addr }
    }

    /// SIGKILL: no chance to flush or say goodbye.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then wait for the exit; returns whether it exited cleanly.
    pub fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        let mut child = std::mem::replace(
            &mut self.child,
            std::process::Command::new("true").spawn().unwrap(),
        );
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait().map(|s| s.success()).unwrap_or(false));
        });
        rx.recv_timeout(WAIT).unwrap_or_else(|_| {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status();
            false
        })
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A count from the environment (a test's full run), or the default.
pub fn env_count(var: &str, default: usize) -> usize {
    match std::env::var(var) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{var}={v} is not a count")),
        Err(_) => default,
    }
}

/// The seed in `var`, or a fresh one (the test prints it, so a failing run can be replayed).
pub fn seed_from(var: &str) -> u64 {
    match std::env::var(var) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{var}={v} is not a number")),
        Err(_) => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            t.as_nanos() as u64 ^ u64::from(std::process::id())
        }
    }
}

/// A policy whose on-call are people the built-in policy never names: pete's rotation, with
/// olga covering the primary from ten minutes ago to two hours from now (times relative to
/// the test's clock, so whatever the date, olga is on call and pete has just handed over).
pub fn olga_covers_for_pete() -> String {
    let now = chrono::Utc::now();
    let t = |m: i64| (now + chrono::Duration::minutes(m)).format("%Y-%m-%dT%H:%M:%SZ");
    format!(
        r#"
[escalation.sev1]
steps = [{{ after = "0m", page = "oncall.primary" }}]

[oncall]
default_schedule = "night-shift"

[[schedule]]
name = "night-shift"
start = "2000-01-03"
primary = ["pete"]
secondary = ["quinn"]

[[schedule.override]]
layer = "primary"
person = "olga"
from = "{}"
until = "{}"
"#,
        // Olga took over from pete ten minutes ago, for two hours: the shift change
        // nearest is the one just made, from pete to olga.
        t(-10),
        t(120)
    )
}

/// An HTTP client for posting to a feed on loopback.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(WAIT).build().unwrap()
}

/// POSTs `body` (JSON) to `path` on `server` with `headers`: the status and the JSON answer
/// (null when the answer is not JSON).
pub async fn post(
    server: &RunningServer,
    path: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> (axum::http::StatusCode, Value) {
    let mut req = http()
        .post(format!("http://{}{path}", server.addr))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = axum::http::StatusCode::from_u16(resp.status().as_u16()).unwrap();
    (status, resp.json::<Value>().await.unwrap_or(Value::Null))
}

/// The board a join received, every `snapshot` part of it in one state: the incidents, the
/// withheld references (the first part's) and the feed's notes.
pub fn board(frames: &[Value]) -> warroom::model::State {
    let mut parts = frames.iter().filter(|f| f["type"] == "snapshot");
    let mut s: warroom::model::State =
        serde_json::from_value(parts.next().unwrap()["state"].clone()).unwrap();
    for p in parts {
        let more: warroom::model::State = serde_json::from_value(p["state"].clone()).unwrap();
        s.incidents.extend(more.incidents);
        s.feed.deploys.extend(more.feed.deploys);
        s.feed.noted.extend(more.feed.noted);
    }
    s
}

/// The board as a reader joining `server` now is sent it.
pub async fn board_now(server: &RunningServer) -> warroom::model::State {
    let (_c, frames) = Raw::join(&server.url(), "observer", None).await;
    board(&frames)
}

/// The same 40 notes (ids `n-0`…) sent at once over six connections by one person (a
/// console and its retries, a script run twice), each copy in another order, so that some
/// copies of an id meet in one group and others come after the first is recorded. The
/// answers, each copy's in the ids' order; every copy's answer to an id is the same.
pub async fn the_same_commands_at_once(url: &str) -> Vec<Vec<Value>> {
    let (copies, commands) = (6, env_count("WARROOM_TEST_REPEATS", 40));
    let (mut setup, _) = Raw::join(url, "alice", None).await;
    let declared = setup.command(declare("Checkout 500s", 2)).await;
    assert_eq!(declared["type"], "ok", "{declared}");
    let tasks: Vec<_> = (0..copies)
        .map(|copy| {
            let url = url.to_string();
            tokio::spawn(async move {
                let (mut c, _) = Raw::join(&url, "alice", None).await;
                let mut got = Vec::new();
                for i in 0..commands {
                    let i = if copy % 2 == 0 { i } else { commands - 1 - i };
                    let text = note("INC-1", &format!("note {i}"));
                    got.push((i, c.command_with_id(&format!("n-{i}"), text).await));
                }
                got.sort_by_key(|(i, _)| *i);
                got.into_iter().map(|(_, a)| a).collect::<Vec<Value>>()
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    for (i, first) in answers[0].iter().enumerate() {
        assert_eq!(first["type"], "ok", "n-{i}: {first}");
        for (copy, a) in answers.iter().enumerate() {
            assert_eq!(a[i], *first, "n-{i}, copy {copy}");
        }
    }
    answers
}

/// Each note of [`the_same_commands_at_once`] is in `log` (every event, by seq) once, at
/// the seq its answer names, and the log has no gap.
pub fn each_recorded_once(log: &[(u64, Value)], answers: &[Vec<Value>]) {
    for (i, answer) in answers[0].iter().enumerate() {
        let text = format!("note {i}");
        let recorded: Vec<u64> = log
            .iter()
            .filter(|(_, e)| e["text"] == text.as_str())
            .map(|(seq, _)| *seq)
            .collect();
        assert_eq!(recorded, seqs(answer), "{text}");
    }
    let found: Vec<u64> = log.iter().map(|(s, _)| *s).collect();
    assert_eq!(found, (1..=found.len() as u64).collect::<Vec<_>>(), "a gap");
}
