//! A feed run as three replicas of `warroom serve` on one PostgreSQL database: one leads,
//! the others follow and forward; the leader is killed and frozen, and the war room goes on.
//! Needs `WARROOM_TEST_POSTGRES` (an address with the right to create databases, such as
//! `postgres://postgres@127.0.0.1:5432/test`); without it each test says it was skipped.
//! Each test makes a database of its own and drops it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{Raw, ServeProcess, WAIT, env_count};
use serde_json::Value;
use warroom::client::{Client, ClientConfig, ConnState, Update};
use warroom::model::{Command, EntryKind, IncidentRef, Severity};
use warroom::protocol::Answer;

/// A database of the test's own, dropped when the test ends.
struct Database {
    admin: String,
    name: String,
    url: String,
}

impl Database {
    fn create(test: &str) -> Option<Database> {
        let Ok(admin) = std::env::var("WARROOM_TEST_POSTGRES") else {
            eprintln!("skipped {test}: WARROOM_TEST_POSTGRES is not set");
            return None;
        };
        let name = format!("warroom_replicas_{}", fastrand::u64(..));
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("the test database");
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let url = match admin.rfind('/') {
            Some(i) => format!("{}/{name}", &admin[..i]),
            None => panic!("WARROOM_TEST_POSTGRES has no database name: {admin}"),
        };
        Some(Database { admin, name, url })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A loopback port free now.
fn free_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// Three replicas, each with a data directory of its own, on fixed loopback ports (a
/// replica restarted comes back on its own address).
struct Cluster {
    db: Database,
    dir: tempfile::TempDir,
    addrs: Vec<String>,
    replicas: Vec<Option<ServeProcess>>,
    /// Each replica's `--policy` (a quiet one unless a test gives another).
    policies: Vec<std::path::PathBuf>,
}

impl Cluster {
    fn start(db: Database, n: usize) -> Cluster {
        let mut c = Cluster::stopped(db, n);
        for i in 0..n {
            c.replicas[i] = Some(c.spawn(i));
        }
        c
    }

    /// The cluster's directories and addresses, no replica started yet.
    fn stopped(db: Database, n: usize) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join("quiet.toml");
        std::fs::write(&policy, "").unwrap();
        Cluster {
            db,
            addrs: (0..n).map(|_| free_port()).collect(),
            replicas: (0..n).map(|_| None).collect(),
            dir,
            policies: vec![policy; n],
        }
    }

    fn spawn(&self, i: usize) -> ServeProcess {
        ServeProcess::start_with(
            &self.dir.path().join(format!("replica-{i}")),
            &self.addrs[i],
            &[
                "--store",
                &self.db.url,
                "--policy",
                self.policies[i].to_str().unwrap(),
                // A leader decides first and the log refuses an answer recorded twice from
                // the start (not a minute after it): every retry here takes that road.
                "--ask-answers-for",
                "0",
            ],
        )
    }

    fn urls(&self) -> Vec<String> {
        self.addrs
            .iter()
            .map(|a| format!("ws://{a}/feed"))
            .collect()
    }

    /// `/healthz` of replica `i`, if it answers within a second.
    fn health(&self, i: usize) -> Option<Value> {
        use std::io::{Read, Write};
        let addr: std::net::SocketAddr = self.addrs[i].parse().ok()?;
        let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
        write!(
            s,
            "GET /healthz HTTP/1.0\r\nHost: {}\r\n\r\n",
            self.addrs[i]
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        serde_json::from_str(out.split("\r\n\r\n").nth(1)?).ok()
    }

    /// `/healthz` of replica `i` once it says what `want` looks for (within the wait).
    fn health_once(&self, i: usize, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(h) = self.health(i)
                && want(&h)
            {
                return h;
            }
            assert!(
                Instant::now() < deadline,
                "replica {i} does not say what is wanted: {:?}",
                self.health(i)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until exactly one running replica says it leads; returns it.
    fn leader(&self) -> usize {
        let deadline = Instant::now() + WAIT;
        loop {
            let leaders: Vec<usize> = (0..self.addrs.len())
                .filter(|&i| self.replicas[i].is_some())
                .filter(|&i| self.health(i).is_some_and(|h| h["role"] == "leader"))
                .collect();
            if leaders.len() == 1 {
                return leaders[0];
            }
            assert!(
                Instant::now() < deadline,
                "no single leader within {WAIT:?}: {leaders:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every event of the log, read from the database itself.
    fn log(&self) -> Vec<(i64, Value)> {
        let mut c = postgres::Client::connect(&self.db.url, postgres::NoTls).unwrap();
        c.query("SELECT seq, body FROM events ORDER BY seq", &[])
            .unwrap()
            .into_iter()
            .map(|r| {
                let body: String = r.get(1);
                (r.get(0), serde_json::from_str(&body).unwrap())
            })
            .collect()
    }
}

#[test]
fn a_command_at_any_replica_reaches_the_consoles_of_every_replica() {
    let Some(db) =
        Database::create("a_command_at_any_replica_reaches_the_consoles_of_every_replica")
    else {
        return;
    };
    let cluster = Cluster::start(db, 3);
    let leader = cluster.leader();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let urls = cluster.urls();
        let mut raws = Vec::new();
        for (i, u) in urls.iter().enumerate() {
            let (r, _) = Raw::join(u, &format!("reader-{i}"), None).await;
            raws.push(r);
        }
        // A command at each replica, the leader's and the followers'.
        let mut seqs = Vec::new();
        for (i, r) in raws.iter_mut().enumerate() {
            let cmd = if i == 0 {
                common::declare("Checkout 500s", 2)
            } else {
                common::note("INC-1", &format!("from replica {i}"))
            };
            let answer = r.command(cmd).await;
            assert_eq!(
                answer["type"], "ok",
                "at replica {i} (leader {leader}): {answer}"
            );
            seqs.extend(common::seqs(&answer));
        }
        assert_eq!(seqs, [1, 2, 3]);
        // Who is in the room spans the replicas: reader-0 sees the readers of the others.
        let deadline = Instant::now() + WAIT;
        loop {
            let f = raws[0].until("presence").await;
            let names: BTreeSet<String> = f.last().unwrap()["present"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| p["name"].as_str().map(String::from))
                .collect();
            if ["reader-0", "reader-1", "reader-2"]
                .iter()
                .all(|n| names.contains(*n))
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "presence on replica 0: {names:?}"
            );
        }
        // Every console on every replica sees the three, in order.
        for (i, r) in raws.iter_mut().enumerate() {
            let got: Vec<u64> = r
                .events_until(3)
                .await
                .iter()
                .filter_map(|e| e["seq"].as_u64())
                .collect();
            assert!(
                got.ends_with(&[1, 2, 3]) || got == [2, 3] || got == [3],
                "replica {i}: {got:?}"
            );
        }
        // A note too large for a notification to carry (9,000 bytes): the leader reads
        // its row instead; a small one rides in the notification.
        let follower = (leader + 1) % 3;
        let big = "€".repeat(3_000);
        for text in [big.as_str(), "pool back to 40 connections"] {
            let answer = raws[follower].command(common::note("INC-1", text)).await;
            assert_eq!(answer["type"], "ok", "{answer}");
            let seq = common::seqs(&answer)[0];
            let seen = raws[(leader + 2) % 3].events_until(seq).await;
            assert_eq!(seen.last().unwrap()["text"], text);
        }
    });
    let follower = (leader + 1) % 3;
    let health = cluster.health(follower).unwrap();
    assert_eq!(health["role"], "follower", "{health}");
    assert_eq!(health["leader"], cluster.urls()[leader], "{health}");

    // An alert posted to a follower is decided by the leader and answered at the follower.
    let alert = serde_json::json!({
        "routing_key": "R0UT1NGK3Y0000000000000000000000",
        "event_action": "trigger",
        "dedup_key": "disk-db1",
        "payload": {
            "summary": "DISK at 99% on db-primary-1",
            "source": "db-primary-1",
            "severity": "critical",
            "component": "database-primary"
        }
    });
    let (status, answer) = post(&cluster.addrs[follower], "/v2/enqueue", &alert.to_string());
    assert_eq!(status, 202, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["alerts"][0]["outcome"], "opened", "{answer}");
    assert_eq!(answer["alerts"][0]["incident"], "INC-2", "{answer}");
    let log = cluster.log();
    let opened = log
        .iter()
        .filter(|(_, e)| e["kind"] == "declared" && e["incident"] == "INC-2")
        .count();
    assert_eq!(opened, 1);
    let big = log
        .iter()
        .filter(|(_, e)| e["text"] == "€".repeat(3_000))
        .count();
    assert_eq!(big, 1);
}

/// The same commands sent at once over several connections by one person (a console and
/// its retries, a script run twice): a leader that decides before asking which were
/// answered before records each once, and every copy gets the first answer.
#[test]
fn the_same_command_sent_many_times_at_once_is_recorded_once() {
    let Some(db) = Database::create("the_same_command_sent_many_times_at_once_is_recorded_once")
    else {
        return;
    };
    let cluster = Cluster::start(db, 1);
    cluster.leader();
    let url = cluster.urls().remove(0);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let answers = rt.block_on(common::the_same_commands_at_once(&url));
    let log: Vec<(u64, Value)> = cluster
        .log()
        .into_iter()
        .map(|(seq, e)| (seq as u64, e))
        .collect();
    common::each_recorded_once(&log, &answers);
}

/// A plain HTTP/1.0 POST on loopback: the status and the body.
fn post(addr: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    (status, body)
}

/// What one writer (a client with every replica's address) sent and was told.
#[derive(Default)]
struct Writes {
    /// Acknowledged command ids, with their first seq.
    acked: BTreeMap<String, u64>,
}

async fn writer(
    urls: Vec<String>,
    name: String,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Writes {
    let mut cfg = ClientConfig::new(urls[0].clone(), name.clone());
    cfg.fallbacks = urls[1..].to_vec();
    cfg.backoff.initial = Duration::from_millis(50);
    cfg.backoff.max = Duration::from_millis(500);
    let mut c = Client::start(cfg);
    let mut w = Writes::default();
    let mut n = 0;
    while !*stop.borrow() {
        n += 1;
        let (id, answer) = c.submit(Command::AddEntry {
            incident: IncidentRef(1),
            entry_kind: EntryKind::Note,
            text: format!("{name} note {n}"),
            occurred_at: None,
            next_update_secs: None,
            public: false,
            briefing: None,
        });
        // Keep reading updates while waiting (the client needs none, but its queue grows).
        let answered = tokio::time::timeout(Duration::from_secs(60), answer).await;
        while c.try_next().is_some() {}
        match answered {
            Ok(Ok(Answer::Ok { seqs, .. })) => {
                w.acked.insert(id, seqs[0]);
            }
            // "Nothing was recorded, retry": a person would, with the command again.
            Ok(Ok(Answer::Error {
                code: warroom::protocol::ErrorCode::Unavailable,
                message,
            })) => eprintln!("{name}: {message}"),
            Ok(Ok(Answer::Error { message, .. })) => panic!("{name}: {message}"),
            Ok(Err(_)) => panic!("{name}: the client stopped"),
            Err(_) => panic!("{name}: no answer to {id} within a minute"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    w
}

/// A console on one replica (and then the others, as they fail): every event it is given.
async fn reader(
    urls: Vec<String>,
    name: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<u64> {
    let mut cfg = ClientConfig::new(urls[0].clone(), name);
    cfg.fallbacks = urls[1..].to_vec();
    cfg.backoff.initial = Duration::from_millis(50);
    cfg.backoff.max = Duration::from_millis(500);
    let mut c = Client::start(cfg);
    let mut seen = Vec::new();
    loop {
        tokio::select! {
            u = c.next() => match u {
                Some(Update::Event(e)) => seen.push(e.seq),
                Some(Update::Snapshot(s)) => seen.push(s.seq | (1 << 63)),
                Some(Update::Conn(ConnState::Stopped { reason })) => panic!("{reason}"),
                Some(_) => {}
                None => break,
            },
            _ = stop.changed() => break,
        }
    }
    seen
}

#[test]
fn the_leader_killed_again_and_again_loses_nothing_acknowledged() {
    let Some(db) = Database::create("the_leader_killed_again_and_again_loses_nothing_acknowledged")
    else {
        return;
    };
    let rounds = env_count("WARROOM_FAILOVERS", 20);
    let mut cluster = Cluster::start(db, 3);
    cluster.leader();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let urls = cluster.urls();
    rt.block_on(async {
        let (mut r, _) = Raw::join(&urls[0], "setup", None).await;
        r.command(common::declare("Checkout 500s", 2)).await;
    });
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for i in 0..3 {
        // Each starts at another replica.
        let mut mine = urls.clone();
        mine.rotate_left(i);
        writers.push(rt.spawn(writer(mine.clone(), format!("writer-{i}"), stop.clone())));
        readers.push(rt.spawn(reader(mine, format!("reader-{i}"), stop.clone())));
    }
    let mut failovers = Vec::new();
    for round in 0..rounds {
        std::thread::sleep(Duration::from_millis(300));
        let leader = cluster.leader();
        let head_before = cluster.log().len();
        let killed_at = Instant::now();
        cluster.replicas[leader].take().unwrap().kill();
        // Commands are accepted again through another replica.
        let new = cluster.leader();
        assert_ne!(new, leader, "round {round}");
        let deadline = Instant::now() + WAIT;
        while cluster.log().len() <= head_before + 1 {
            assert!(
                Instant::now() < deadline,
                "round {round}: no command got through"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        failovers.push(killed_at.elapsed());
        // The killed one comes back, as a follower.
        let p = cluster.spawn(leader);
        cluster.replicas[leader] = Some(p);
    }
    stop_tx.send(true).unwrap();
    let writes: Vec<Writes> = writers
        .into_iter()
        .map(|h| rt.block_on(h).unwrap())
        .collect();
    let seen: Vec<Vec<u64>> = readers
        .into_iter()
        .map(|h| rt.block_on(h).unwrap())
        .collect();
    let log = cluster.log();
    // Contiguous.
    let seqs: Vec<i64> = log.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        seqs,
        (1..=log.len() as i64).collect::<Vec<_>>(),
        "the log has a gap"
    );
    // Every acknowledged command is in the log exactly once, at the seq it was told.
    let mut texts: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (s, e) in &log {
        if let Some(t) = e["text"].as_str() {
            texts.entry(t.to_string()).or_default().push(*s);
        }
    }
    let mut acked = 0;
    for (i, w) in writes.iter().enumerate() {
        for (id, seq) in &w.acked {
            let (_, body) = &log[*seq as usize - 1];
            assert_eq!(body["actor"], format!("writer-{i}"), "{id} at {seq}");
            let text = body["text"].as_str().unwrap();
            assert_eq!(texts[text].len(), 1, "{text} in the log {:?}", texts[text]);
            acked += 1;
        }
    }
    // Every reader was given the log in order, each event once (a board in between stands
    // for the events before it).
    let head = log.len() as u64;
    for (i, s) in seen.iter().enumerate() {
        let mut last = 0;
        let mut got = BTreeSet::new();
        for &x in s {
            if x & (1 << 63) != 0 {
                last = last.max(x & !(1 << 63));
                continue;
            }
            assert_eq!(x, last + 1, "reader {i}: event {x} after {last}");
            assert!(got.insert(x));
            last = x;
        }
        assert!(
            last + 50 >= head || last == head,
            "reader {i} at {last} of {head}"
        );
    }
    failovers.sort();
    let p = |q: f64| failovers[((failovers.len() - 1) as f64 * q).round() as usize];
    eprintln!(
        "{rounds} failovers, {acked} commands acknowledged, {head} events: kill → a command \
         through the new leader p50 {:?}, p99 {:?}",
        p(0.5),
        p(0.99)
    );
    let _ = Severity::Sev1;
}

#[test]
fn a_frozen_leader_is_fenced_and_steps_down_without_appending() {
    let Some(db) = Database::create("a_frozen_leader_is_fenced_and_steps_down_without_appending")
    else {
        return;
    };
    let cluster = Cluster::start(db, 3);
    let leader = cluster.leader();
    let urls = cluster.urls();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (mut r, _) = Raw::join(&urls[leader], "setup", None).await;
        r.command(common::declare("Checkout 500s", 2)).await;
    });
    let pid = cluster.replicas[leader]
        .as_ref()
        .unwrap()
        .child
        .id()
        .to_string();
    let signal = |sig: &str| {
        std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap();
    };
    // A client of the frozen leader sends a command that waits there.
    let frozen_url = urls[leader].clone();
    signal("-STOP");
    let stopped_at = Instant::now();
    let waiting = rt.spawn(async move {
        let mut cfg = ClientConfig::new(frozen_url, "stuck");
        cfg.reconnect = true;
        let c = Client::start(cfg);
        let (_, answer) = c.submit(Command::AddEntry {
            incident: IncidentRef(1),
            entry_kind: EntryKind::Note,
            text: "sent to the frozen leader".into(),
            occurred_at: None,
            next_update_secs: None,
            public: false,
            briefing: None,
        });
        let a = tokio::time::timeout(Duration::from_secs(60), answer).await;
        drop(c);
        a
    });
    // Another takes over within the fencing time.
    let deadline = Instant::now() + Duration::from_secs(30);
    let new = loop {
        let leaders: Vec<usize> = (0..3)
            .filter(|&i| i != leader)
            .filter(|&i| cluster.health(i).is_some_and(|h| h["role"] == "leader"))
            .collect();
        if let [one] = leaders[..] {
            break one;
        }
        assert!(
            Instant::now() < deadline,
            "no one took over from the frozen leader"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let replaced = stopped_at.elapsed();
    rt.block_on(async {
        let (mut r, _) = Raw::join(&urls[new], "after", None).await;
        let a = r
            .command(common::note("INC-1", "through the new leader"))
            .await;
        assert_eq!(a["type"], "ok", "{a}");
    });
    let head = cluster.log().len();
    signal("-CONT");
    // It finds it no longer leads, appends nothing, and follows.
    let deadline = Instant::now() + WAIT;
    while cluster
        .health(leader)
        .is_none_or(|h| h["role"] != "follower")
    {
        assert!(
            Instant::now() < deadline,
            "the old leader did not step down"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = cluster.log();
    let seqs: Vec<i64> = log.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (1..=log.len() as i64).collect::<Vec<_>>());
    // Its waiting command was answered once, by the new leader, and is in the log once.
    let a = rt.block_on(waiting).unwrap();
    if let Ok(Ok(answer)) = a {
        assert!(matches!(answer, Answer::Ok { .. }), "{answer:?}");
    }
    let stuck = log
        .iter()
        .filter(|(_, e)| e["text"] == "sent to the frozen leader")
        .count();
    assert!(stuck <= 1, "{stuck} copies");
    assert!(log.len() >= head);
    eprintln!("a frozen leader was fenced and replaced in {replaced:?}");
}

/// A receiver of pages on a loopback port: every request's idempotency key and body.
async fn pager() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>,
) {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/page",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let log = log.clone();
                async move {
                    let key = headers
                        .get("idempotency-key")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    log.lock().unwrap().push((key, v));
                    axum::http::StatusCode::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/page"), seen)
}

/// On a fake clock: the leader pages the primary and goes away; the second step comes due
/// while no one leads; the replica that takes over fires it once, marked late, and pages the
/// secondary; the old leader back as a follower pages no one again.
#[test]
fn a_step_due_while_no_one_leads_fires_once_late_on_the_new_leader() {
    let Some(db) =
        Database::create("a_step_due_while_no_one_leads_fires_once_late_on_the_new_leader")
    else {
        return;
    };
    use chrono::TimeZone;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (url, pages) = pager().await;
        let policy = format!(
            r#"
[escalation.sev1]
steps = [{{ after = "0m", page = "oncall.primary" }}, {{ after = "5m", page = "oncall.secondary" }}]

[[schedule]]
name = "platform"
start = "2026-11-23"
primary = ["ana"]
secondary = ["ben"]

[people.ana]
channels = ["hook"]

[people.ben]
channels = ["hook"]

[channel.hook]
webhook = "{url}"
"#
        );
        let rules = std::sync::Arc::new(warroom::server::Rules {
            policy: warroom::model::policy::Policy::parse(&policy).unwrap(),
            runbooks: Default::default(),
        });
        let t0 = chrono::Utc
            .with_ymd_and_hms(2026, 11, 26, 10, 0, 0)
            .unwrap();
        let clock = std::sync::Arc::new(warroom::clock::FakeClock::new(t0));
        let dir = tempfile::tempdir().unwrap();
        let replica = |name: &str| {
            let mut cfg = warroom::server::ServerConfig::new(
                "127.0.0.1:0".parse().unwrap(),
                dir.path().join(name),
            );
            cfg.store = warroom::server::StoreLocation::Postgres(db.url.clone());
            cfg.rules = rules.clone();
            cfg.clock = clock.clone();
            cfg.notify_backoff = Some(Duration::from_millis(20));
            warroom::server::start(cfg)
        };
        let a = replica("a").await.unwrap();
        let (mut c, _) = Raw::join(&a.url(), "alice", None).await;
        c.command(common::declare("Checkout down", 1)).await;
        let delivered = |n: usize| {
            let pages = pages.clone();
            async move {
                tokio::time::timeout(WAIT, async {
                    while pages.lock().unwrap().len() < n {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                })
                .await
                .unwrap_or_else(|_| panic!("{n} pages within {WAIT:?}"));
            }
        };
        delivered(1).await;
        drop(c);
        a.shutdown().await.unwrap();
        // Eight minutes pass with no leader: the second step is three minutes overdue.
        clock.set(t0 + chrono::Duration::minutes(8));
        let b = replica("b").await.unwrap();
        delivered(2).await;
        let a = replica("a-again").await.unwrap();
        // A command and a tick through each: nothing more is paged.
        let (mut c, _) = Raw::join(&a.url(), "alice", None).await;
        c.command(common::note("INC-1", "still down")).await;
        b.tick().await.unwrap();
        a.tick().await.unwrap();
        let pages = pages.lock().unwrap().clone();
        let who: Vec<&str> = pages
            .iter()
            .filter_map(|(_, p)| p["person"].as_str())
            .collect();
        assert_eq!(who, ["ana", "ben"], "{pages:#?}");
        assert_ne!(pages[0].0, pages[1].0, "one key per step");
        b.shutdown().await.unwrap();
        a.shutdown().await.unwrap();
    });
    // The log, read from the database itself (a blocking client, off the runtime).
    let log: Vec<Value> = {
        let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
        c.query("SELECT body FROM events ORDER BY seq", &[])
            .unwrap()
            .into_iter()
            .map(|r| serde_json::from_str(&r.get::<_, String>(0)).unwrap())
            .collect()
    };
    let fired: Vec<&Value> = log.iter().filter(|e| e["kind"] == "step_fired").collect();
    assert_eq!(fired.len(), 2, "{fired:#?}");
    assert_eq!(fired[0]["late"], false, "{:?}", fired[0]);
    assert_eq!(fired[1]["late"], true, "{:?}", fired[1]);
}

/// The database cuts every replica's connections (as a restart of PostgreSQL would) again
/// and again while writers write: no command is acknowledged that is not in the log, none
/// twice, and service comes back each time.
#[test]
fn connections_to_the_database_cut_acknowledge_nothing_that_is_not_in_the_log() {
    let Some(db) = Database::create(
        "connections_to_the_database_cut_acknowledge_nothing_that_is_not_in_the_log",
    ) else {
        return;
    };
    let cuts = env_count("WARROOM_DB_CUTS", 5);
    let cluster = Cluster::start(db, 3);
    cluster.leader();
    let urls = cluster.urls();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (mut r, _) = Raw::join(&urls[0], "setup", None).await;
        r.command(common::declare("Checkout 500s", 2)).await;
    });
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let writers: Vec<_> = (0..3)
        .map(|i| {
            let mut mine = urls.clone();
            mine.rotate_left(i);
            rt.spawn(writer(mine, format!("writer-{i}"), stop.clone()))
        })
        .collect();
    let mut admin = postgres::Client::connect(&cluster.db.url, postgres::NoTls).unwrap();
    for _ in 0..cuts {
        std::thread::sleep(Duration::from_millis(500));
        let before = cluster.log().len();
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .unwrap();
        // Service resumes: commands get through again.
        let deadline = Instant::now() + WAIT;
        while cluster.log().len() <= before + 3 {
            assert!(
                Instant::now() < deadline,
                "no command got through after the cut"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    stop_tx.send(true).unwrap();
    let writes: Vec<Writes> = writers
        .into_iter()
        .map(|h| rt.block_on(h).unwrap())
        .collect();
    let log = cluster.log();
    let seqs: Vec<i64> = log.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        seqs,
        (1..=log.len() as i64).collect::<Vec<_>>(),
        "the log has a gap"
    );
    let mut texts: BTreeMap<String, usize> = BTreeMap::new();
    for (_, e) in &log {
        if let Some(t) = e["text"].as_str() {
            *texts.entry(t.to_string()).or_default() += 1;
        }
    }
    let mut acked = 0;
    for (i, w) in writes.iter().enumerate() {
        for (id, seq) in &w.acked {
            let (_, body) = &log[*seq as usize - 1];
            assert_eq!(body["actor"], format!("writer-{i}"), "{id} at {seq}");
            assert_eq!(texts[body["text"].as_str().unwrap()], 1);
            acked += 1;
        }
    }
    eprintln!(
        "{cuts} cuts, {acked} commands acknowledged, {} events",
        log.len()
    );
}

/// `warroom …` through the real binary, kept away from this machine's data and store.
fn warroom_cli(
    home: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut p = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"));
    p.args(args)
        .env_remove("WARROOM_STORE")
        .env_remove("WARROOM_TOKEN")
        .env("WARROOM_DATA_DIR", home.join("cli-data"))
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        p.env(k, v);
    }
    p.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The token `warroom token add` printed (alone on stdout).
fn printed_token(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "only the token goes to stdout: {out}");
    lines[0].trim().to_string()
}

/// Connects and says hello with `token`; the frames up to `synced` or the refusal.
async fn hello(url: &str, name: &str, token: Option<&str>) -> (Raw, Vec<Value>) {
    let mut c = Raw::connect(url).await;
    c.name = name.to_string();
    let mut h = serde_json::json!({"type": "hello", "protocol": 2, "name": name});
    if let Some(t) = token {
        h["token"] = t.into();
    }
    c.send(&h).await;
    let mut frames = Vec::new();
    while let Some(f) = c.next().await {
        let done = f["type"] == "synced" || f["type"] == "error";
        frames.push(f);
        if done {
            break;
        }
    }
    (c, frames)
}

/// The frames until the feed closes the connection, and its close code and reason; fails
/// when that takes longer than `wait`.
async fn closed_within(c: &mut Raw, wait: Duration) -> (Vec<Value>, Option<(u16, String)>) {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let deadline = tokio::time::Instant::now() + wait;
    let mut frames = Vec::new();
    loop {
        let f = tokio::time::timeout_at(deadline, c.ws.next())
            .await
            .unwrap_or_else(|_| panic!("{}'s session still open after {wait:?}", c.name));
        match f {
            Some(Ok(Message::Text(t))) => frames.push(serde_json::from_str(t.as_str()).unwrap()),
            Some(Ok(Message::Close(close))) => {
                let close = close.map(|c| (u16::from(c.code), c.reason.to_string()));
                return (frames, close);
            }
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return (frames, None),
        }
    }
}

/// Tokens given with `warroom token add --store` are the feed's on every replica, though no
/// replica's data directory holds them; a revocation closes the token's sessions on all
/// three within two seconds (notified), and so does one the database did not notify (the
/// replicas read the tokens every second anyway).
#[test]
fn a_token_in_the_database_is_known_to_every_replica_and_its_revocation_closes_it_on_all() {
    let test =
        "a_token_in_the_database_is_known_to_every_replica_and_its_revocation_closes_it_on_all";
    let Some(db) = Database::create(test) else {
        return;
    };
    let cluster = Cluster::start(db, 3);
    let leader = cluster.leader();
    let store = cluster.db.url.clone();
    let home = tempfile::tempdir().unwrap();
    let cli = |args: &[&str], env: &[(&str, &str)]| warroom_cli(home.path(), args, env);

    let alice = printed_token(&cli(
        &[
            "token",
            "add",
            "alice",
            "--role",
            "responder",
            "--store",
            &store,
        ],
        &[],
    ));
    // WARROOM_STORE names the database when neither --store nor --data is given.
    let bob = printed_token(&cli(
        &["token", "add", "bob", "--role", "responder"],
        &[("WARROOM_STORE", &store)],
    ));
    let vera = printed_token(&cli(
        &[
            "token", "add", "vera", "--role", "viewer", "--store", &store,
        ],
        &[],
    ));
    let o = cli(
        &[
            "token", "add", "alice", "--role", "admin", "--store", &store,
        ],
        &[],
    );
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("alice already has a token"),
        "{}",
        text(&o.stderr)
    );
    let o = cli(
        &[
            "token", "add", "carol", "--role", "admin", "--store", &store, "--data", "x",
        ],
        &[],
    );
    assert!(
        !o.status.success(),
        "--store and --data together are refused"
    );
    let o = cli(&["token", "list", "--store", &store], &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let list = text(&o.stdout);
    for (name, role) in [
        ("alice", "responder"),
        ("bob", "responder"),
        ("vera", "viewer"),
    ] {
        assert!(
            list.lines()
                .any(|l| l.starts_with(name) && l.contains(role) && l.ends_with("active")),
            "{list}"
        );
    }
    for t in [&alice, &bob, &vera] {
        assert!(!list.contains(t.as_str()), "list never shows a token");
    }
    // --data names a data directory even with WARROOM_STORE set.
    let own = home.path().join("own");
    let o = cli(
        &["token", "list", "--data", own.to_str().unwrap()],
        &[("WARROOM_STORE", &store)],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).starts_with(&format!("no tokens in {}", own.display())),
        "{}",
        text(&o.stdout)
    );
    // Only hashes in the database, nothing on the replicas' disks.
    let rows = std::thread::scope(|s| {
        s.spawn(|| {
            let mut c = postgres::Client::connect(&store, postgres::NoTls).unwrap();
            c.query("SELECT sha256, name, role FROM tokens", &[])
                .unwrap()
                .iter()
                .map(|r| {
                    format!(
                        "{} {} {}",
                        r.get::<_, String>(0),
                        r.get::<_, String>(1),
                        r.get::<_, String>(2)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .join()
        .unwrap()
    });
    assert!(
        !rows.contains(alice.as_str()) && rows.contains("alice"),
        "{rows}"
    );
    for i in 0..3 {
        let file = cluster.dir.path().join(format!("replica-{i}/tokens.json"));
        assert!(!file.exists(), "{}", file.display());
    }

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let urls = cluster.urls();
        // Every replica takes them at once (a token it does not know yet has it read the
        // database's tokens again), under the token's name and role.
        let mut alices = Vec::new();
        let mut bobs = Vec::new();
        for u in &urls {
            for (token, name, role, list) in [
                (&alice, "alice", "responder", &mut alices),
                (&bob, "bob", "responder", &mut bobs),
            ] {
                let (c, frames) = hello(u, "mallory", Some(token)).await;
                assert_eq!(frames[0]["type"], "welcome", "at {u}: {frames:?}");
                assert_eq!(frames[0]["name"], name);
                assert_eq!(frames[0]["access"], role);
                assert_eq!(frames.last().unwrap()["type"], "synced", "{frames:?}");
                list.push(c);
            }
            let (mut v, frames) = hello(u, "vera", Some(&vera)).await;
            assert_eq!(frames[0]["access"], "viewer", "at {u}: {frames:?}");
            let a = v.command(common::declare("a viewer may not", 3)).await;
            assert_eq!(a["type"], "error", "{a}");
            // The database's tokens protect every replica: no token, or a wrong one, is
            // refused.
            for token in [None, Some("wr_0123456789abcdef0123456789abcdef")] {
                let (_, frames) = hello(u, "mallory", token).await;
                let last = frames.last().unwrap();
                assert_eq!(last["type"], "error", "at {u} with {token:?}: {frames:?}");
                assert_eq!(last["code"], "unauthorized", "{last}");
            }
        }
        // Alice acts through a follower.
        let follower = (leader + 1) % 3;
        let a = alices[follower]
            .command(common::declare("Checkout 500s", 2))
            .await;
        assert_eq!(a["type"], "ok", "{a}");

        // Revoked through the database: every replica closes alice's sessions.
        let o = cli(&["token", "revoke", "alice", "--store", &store], &[]);
        let revoked = Instant::now();
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(
            text(&o.stdout).contains("alice's responder token is revoked"),
            "{}",
            text(&o.stdout)
        );
        let closes = futures_util::future::join_all(
            alices
                .iter_mut()
                .map(|c| closed_within(c, Duration::from_secs(2))),
        )
        .await;
        let took = revoked.elapsed();
        for (i, (frames, close)) in closes.iter().enumerate() {
            assert_eq!(
                close.as_ref().map(|(c, r)| (*c, r.as_str())),
                Some((1008, "token revoked")),
                "replica {i}: {frames:?}"
            );
            let e: Vec<&Value> = frames.iter().filter(|f| f["type"] == "error").collect();
            assert_eq!(e.len(), 1, "{frames:?}");
            assert_eq!(e[0]["code"], "unauthorized");
        }
        eprintln!("a revocation closed its sessions on 3 replicas in {took:?}");
        // Refused at every replica from now on, saying why; bob is untouched.
        for (i, u) in urls.iter().enumerate() {
            let (_, frames) = hello(u, "alice", Some(&alice)).await;
            let last = frames.last().unwrap();
            assert_eq!(last["type"], "error", "{frames:?}");
            assert!(
                last["message"].as_str().unwrap().contains("revoked"),
                "{last}"
            );
            let a = bobs[i]
                .command(common::note("INC-1", &format!("bob at replica {i}")))
                .await;
            assert_eq!(a["type"], "ok", "{a}");
        }

        // A revocation nobody notified (written by hand, as if the notification were lost):
        // the replicas' reading every second finds it.
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut c = postgres::Client::connect(&store, postgres::NoTls).unwrap();
                c.execute(
                    "UPDATE tokens SET revoked_at = now() WHERE name = 'bob'",
                    &[],
                )
                .unwrap();
            })
            .join()
            .unwrap()
        });
        let revoked = Instant::now();
        let closes = futures_util::future::join_all(
            bobs.iter_mut()
                .map(|c| closed_within(c, Duration::from_secs(3))),
        )
        .await;
        for (i, (frames, close)) in closes.iter().enumerate() {
            assert_eq!(
                close.as_ref().map(|(c, r)| (*c, r.as_str())),
                Some((1008, "token revoked")),
                "replica {i}: {frames:?}"
            );
        }
        eprintln!(
            "a revocation without a notification closed its sessions in {:?}",
            revoked.elapsed()
        );
        let o = cli(&["token", "list", "--store", &store], &[]);
        let list = text(&o.stdout);
        assert!(
            list.lines()
                .any(|l| l.starts_with("alice") && l.contains("revoked")),
            "{list}"
        );
    });
}

/// The leader's policy is the one in use: a follower started with another says so on
/// `/healthz` (both named) and sends the consoles that join it the leader's; when it takes
/// the lead, its own is in use, and the others say theirs differs.
#[test]
fn the_leaders_policy_is_in_use_and_a_follower_with_another_says_so() {
    let Some(db) =
        Database::create("the_leaders_policy_is_in_use_and_a_follower_with_another_says_so")
    else {
        return;
    };
    let mut cluster = Cluster::stopped(db, 3);
    let other = cluster.dir.path().join("other.toml");
    std::fs::write(&other, "[services]\ncritical = [\"payments\"]\n").unwrap();
    cluster.policies[2] = other.clone();
    let sha = |p: &std::path::Path| {
        warroom::server::load_rules_with_source(Some(p))
            .unwrap()
            .1
            .sha256
    };
    let (quiet, theirs) = (sha(&cluster.policies[0]), sha(&other));
    assert_ne!(quiet, theirs);
    cluster.replicas[0] = Some(cluster.spawn(0));
    assert_eq!(cluster.leader(), 0);
    cluster.replicas[1] = Some(cluster.spawn(1));
    cluster.replicas[2] = Some(cluster.spawn(2));
    let says = |c: &Cluster, i, want: &str| c.health_once(i, |h| h["policy"] == want);
    assert_eq!(says(&cluster, 0, &quiet)["own_policy"], quiet.as_str());
    assert_eq!(says(&cluster, 1, &quiet)["own_policy"], quiet.as_str());
    let h = says(&cluster, 2, &quiet);
    assert_eq!(h["own_policy"], theirs.as_str(), "{h}");
    assert_eq!(h["role"], "follower");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let policy_at = |c: &Cluster, i: usize| {
        let url = c.urls()[i].clone();
        rt.block_on(async move {
            let (_, frames) = Raw::join(&url, "reader", None).await;
            frames
                .into_iter()
                .find(|f| f["type"] == "policy")
                .expect("a policy frame")
        })
    };
    let leaders = policy_at(&cluster, 0);
    assert_eq!(
        policy_at(&cluster, 2),
        leaders,
        "a follower sends the leader's policy"
    );
    assert_eq!(
        leaders["policy"]["services"]["critical"],
        serde_json::json!([])
    );

    // A console that stays on replica 2 through what follows.
    let url2 = cluster.urls()[2].clone();
    let (mut stays, _) = rt.block_on(Raw::join(&url2, "stays", None));
    // The next `policy` frame a console is sent, while it stays connected.
    let next_policy = |c: &mut Raw| {
        rt.block_on(async {
            let frames = c.until("policy").await;
            frames.last().cloned().unwrap()["policy"]["services"]["critical"].clone()
        })
    };

    // Replica 2 left alone takes the lead: its own policy is in use; replica 1 back says
    // its own differs.
    cluster.replicas[0].take().unwrap().kill();
    cluster.replicas[1].take().unwrap().kill();
    assert_eq!(cluster.leader(), 2);
    assert_eq!(says(&cluster, 2, &theirs)["own_policy"], theirs.as_str());
    assert_eq!(
        policy_at(&cluster, 2)["policy"]["services"]["critical"],
        serde_json::json!(["payments"])
    );
    assert_eq!(
        next_policy(&mut stays),
        serde_json::json!(["payments"]),
        "a console connected before the change is sent the new policy in use"
    );
    cluster.replicas[1] = Some(cluster.spawn(1));
    let h = says(&cluster, 1, &theirs);
    assert_eq!(h["own_policy"], quiet.as_str(), "{h}");
    assert_eq!(policy_at(&cluster, 1), policy_at(&cluster, 2));

    // Replica 2 goes; replica 0 and 1 (both with the first policy) remain: whichever leads,
    // consoles connected to either are sent the first policy again, the follower's through
    // the database as the leader's own.
    cluster.replicas[0] = Some(cluster.spawn(0));
    says(&cluster, 0, &theirs);
    let mut on = [0, 1].map(|i| {
        let url = cluster.urls()[i].clone();
        rt.block_on(Raw::join(&url, &format!("on-{i}"), None)).0
    });
    cluster.replicas[2].take().unwrap().kill();
    for c in &mut on {
        assert_eq!(next_policy(c), serde_json::json!([]));
    }
}
