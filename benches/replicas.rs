//! A feed run as three replicas on one PostgreSQL, each figure beside a baseline measured in
//! the same run:
//!
//! 1. failover: the leader SIGKILLed, then a command sent through a follower; how long until
//!    it is answered (p50, p99), beside a command's round trip with a leader in place;
//! 2. a frozen leader (SIGSTOP) fenced and replaced: until a command through a follower is
//!    answered (full run only: it takes the database's 10 s session timeout);
//! 3. durable appends through PostgreSQL with 1 and 64 writers, beside `pgbench` inserting
//!    rows of the same size at the same concurrency into the same database server;
//! 4. a command at replica A to its event at a console on replica C (p50, p99), beside the
//!    same with command and console on the leader, the two measured in turns (a probe of
//!    each, then the next) so that the shared machine's slow moments fall on both alike.
//!
//! Needs `WARROOM_TEST_POSTGRES` (a URL allowed to create databases); without it, it says it
//! was skipped. Run: `cargo bench --bench replicas`. Smoke run (what `.ci/run` does):
//! `WARROOM_BENCH_SMOKE=1 cargo test --bench replicas`: small counts, figures meaningless,
//! every answer still checked and every wait bounded. `WARROOM_BENCH_PARTS=3` (or `1,4`)
//! runs only the parts named. The replicas' leader decides each group before asking which
//! of its commands were answered before, as a leader does a minute after taking the lead;
//! `WARROOM_BENCH_ASK_ANSWERS_FOR=3600` measures one that asks first (the first minute).

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

struct Counts {
    smoke: bool,
    failovers: usize,
    /// Commands each writer sends, at 1 and at `writers` writers.
    single: usize,
    writers: usize,
    per_writer: usize,
    probes: usize,
    /// The parts to run (all unless `WARROOM_BENCH_PARTS` names some).
    parts: Vec<u32>,
}

impl Counts {
    fn from_env() -> Counts {
        let smoke = std::env::var("WARROOM_BENCH_SMOKE").is_ok_and(|v| !v.is_empty() && v != "0");
        let named: Vec<u32> = std::env::var("WARROOM_BENCH_PARTS")
            .unwrap_or_default()
            .split(',')
            .filter_map(|p| p.trim().parse().ok())
            .collect();
        let parts = if named.is_empty() {
            vec![1, 2, 3, 4]
        } else {
            named
        };
        if smoke {
            Counts {
                smoke,
                failovers: 2,
                single: 50,
                writers: 4,
                per_writer: 10,
                probes: 5,
                parts,
            }
        } else {
            Counts {
                smoke,
                failovers: 20,
                single: 2000,
                writers: 64,
                per_writer: 300,
                probes: 1000,
                parts,
            }
        }
    }
}

const PATIENCE: Duration = Duration::from_secs(60);

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: nothing within {}s", PATIENCE.as_secs()),
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn pct(v: &[f64], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 * q) as usize).min(v.len() - 1)]
}

/// A database of the bench's own, dropped at the end.
struct Database {
    admin: String,
    name: String,
    url: String,
}

impl Database {
    fn create(admin: &str) -> Database {
        let name = format!("warroom_bench_{}", fastrand::u64(..));
        let mut c = postgres::Client::connect(admin, postgres::NoTls).expect("the database");
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let url = format!("{}/{name}", &admin[..admin.rfind('/').unwrap()]);
        Database {
            admin: admin.to_string(),
            name,
            url,
        }
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

/// `warroom serve` on a fixed loopback port, its log in `db`.
struct Replica {
    child: std::process::Child,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// `WARROOM_BENCH_ASK_ANSWERS_FOR` (seconds; default 0): how long a new leader asks first.
fn ask_answers_for() -> String {
    std::env::var("WARROOM_BENCH_ASK_ANSWERS_FOR").unwrap_or_else(|_| "0".into())
}

fn spawn(db: &str, addr: &str, data: &std::path::Path, policy: &std::path::Path) -> Replica {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["serve", "--listen", addr, "--store", db, "--data"])
        .arg(data)
        .arg("--policy")
        .arg(policy)
        .args(["--max-commands-per-second", "1000000"])
        // As a leader runs a minute after it took the lead (see `--ask-answers-for`): it
        // decides a group before asking which commands were answered before.
        .args(["--ask-answers-for", &ask_answers_for()])
        .env("WARROOM_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(match std::env::var_os("WARROOM_BENCH_SERVER_LOG") {
            // What the replicas said, kept for a run that went wrong.
            Some(d) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(std::path::Path::new(&d).join(format!("{addr}.log")))
                .map(std::process::Stdio::from)
                .unwrap_or_else(|_| std::process::Stdio::null()),
            None => std::process::Stdio::null(),
        })
        .spawn()
        .expect("warroom serve");
    Replica { child }
}

fn health(addr: &str) -> Option<Value> {
    use std::io::{Read, Write};
    let a: std::net::SocketAddr = addr.parse().ok()?;
    let mut s = std::net::TcpStream::connect_timeout(&a, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    write!(s, "GET /healthz HTTP/1.0\r\nHost: bench\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    serde_json::from_str(out.split("\r\n\r\n").nth(1)?).ok()
}

/// The one replica (of those running) that says it leads.
fn leader(addrs: &[String], running: &[bool]) -> usize {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let l: Vec<usize> = (0..addrs.len())
            .filter(|&i| running[i])
            .filter(|&i| health(&addrs[i]).is_some_and(|h| h["role"] == "leader"))
            .collect();
        if l.len() == 1 {
            return l[0];
        }
        assert!(Instant::now() < deadline, "no single leader");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn join(addr: &str, name: &str) -> Ws {
    join_as(addr, name, true).await
}

/// Joins as a console (`watch`), or as a connection that only sends commands.
async fn join_as(addr: &str, name: &str, watch: bool) -> Ws {
    let url = format!("ws://{addr}/feed");
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok((mut ws, _)) =
            tokio_tungstenite::connect_async_with_config(url.as_str(), None, true).await
        {
            let hello =
                json!({"type": "hello", "name": name, "protocol": 2, "watch": watch}).to_string();
            ws.send(Message::Text(hello.into())).await.unwrap();
            loop {
                match within("joining", ws.next()).await {
                    Some(Ok(Message::Text(t))) if t.as_str().starts_with(r#"{"type":"synced""#) => {
                        return ws;
                    }
                    Some(Ok(_)) => {}
                    other => panic!("{other:?}"),
                }
            }
        }
        assert!(Instant::now() < deadline, "cannot join {url}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends a command; waits for its answer (which must be `ok`); returns its first seq.
async fn command(ws: &mut Ws, id: &str, cmd: Value) -> u64 {
    let frame = json!({"type": "command", "id": id, "command": cmd}).to_string();
    ws.send(Message::Text(frame.into())).await.unwrap();
    loop {
        let t = match within("an answer", ws.next()).await {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(_)) => continue,
            other => panic!("connection ended: {other:?}"),
        };
        let t = t.as_str();
        if !(t.starts_with(r#"{"type":"ok""#) || t.starts_with(r#"{"type":"error""#)) {
            continue;
        }
        let v: Value = serde_json::from_str(t).unwrap();
        if v["id"] == id {
            assert_eq!(v["type"], "ok", "{v}");
            return v["seqs"][0].as_u64().unwrap();
        }
    }
}

fn note(i: usize) -> Value {
    // About the size of a scribe's note: 300 bytes of text.
    json!({"op": "add_entry", "incident": "INC-1", "text": format!("{i:06} {}", "x".repeat(293))})
}

async fn appends(addr: &str, writers: usize, per_writer: usize, watch: bool) -> f64 {
    let mut conns = Vec::new();
    for w in 0..writers {
        conns.push(join_as(addr, &format!("writer-{w}"), watch).await);
    }
    let start = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(w, mut ws)| {
            tokio::spawn(async move {
                for i in 0..per_writer {
                    command(&mut ws, &format!("a{writers}-{w}-{i}-{watch}"), note(i)).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    (writers * per_writer) as f64 / start.elapsed().as_secs_f64()
}

/// `pgbench` inserting 300-byte rows, `clients` at once, for `secs`: transactions a second.
fn pgbench(url: &str, clients: usize, secs: u64) -> Option<f64> {
    let mut c = postgres::Client::connect(url, postgres::NoTls).ok()?;
    c.batch_execute("CREATE TABLE IF NOT EXISTS bench_rows (id BIGSERIAL PRIMARY KEY, body TEXT)")
        .ok()?;
    pgbench_script(
        url,
        "INSERT INTO bench_rows (body) VALUES (repeat('x', 300));\n",
        clients,
        secs,
    )
}

/// The log's own append statement alone, one client at a time, through `pgbench` (no feed
/// in front of it): the appends a second the database allows one writer, whatever the
/// feed does. On a database of its own (`db`), its tables made by a replica started and
/// stopped there; each append is one note's event, its answer, its incident's row and
/// words, as the feed writes them (without the lead check).
fn append_alone(
    db: &Database,
    dir: &std::path::Path,
    policy: &std::path::Path,
    secs: u64,
) -> Option<f64> {
    let addr = free_port();
    let replica = spawn(&db.url, &addr, &dir.join("alone"), policy);
    leader(std::slice::from_ref(&addr), &[true]);
    drop(replica);
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).ok()?;
    c.batch_execute(
        "CREATE SEQUENCE bench_seq; \
         SELECT setval('bench_seq', (SELECT COALESCE(MAX(seq), 0) FROM events) + 1, false); \
         INSERT INTO incidents VALUES (1, 1, 1, 3, true, NULL, false, '[]', 1, '{}') \
         ON CONFLICT DO NOTHING",
    )
    .ok()?;
    let body = format!(
        "{{\"seq\":0,\"at\":\"2026-01-01T00:00:00Z\",\"actor\":\"writer-0\",\"kind\":{{\"type\":\"entry_added\",\"incident\":1,\"text\":\"{}\"}}}}",
        "x".repeat(300)
    );
    let script = format!(
        "SELECT warroom_append(NULL, s, ARRAY[s], ARRAY['{body}'], ARRAY[1::BIGINT], \
         ARRAY['entry_added'], ARRAY['writer-0'], ARRAY['a-' || s], ARRAY['{{\"type\":\"ok\"}}'], \
         ARRAY[1::BIGINT], ARRAY[1::BIGINT], ARRAY[s], ARRAY[3], ARRAY[true], ARRAY[NULL::TEXT], \
         ARRAY[false], ARRAY['[]'], ARRAY[s], ARRAY['{{\"title\":\"Bench\"}}'], \
         ARRAY[1::BIGINT, 1::BIGINT], ARRAY['000001', 'xxxx'], NULL, NULL, NULL) \
         FROM nextval('bench_seq') AS s;\n"
    );
    pgbench_script(&db.url, &script, 1, secs)
}

/// `pgbench` running `script`, `clients` at once, for `secs`: transactions a second.
fn pgbench_script(url: &str, script_text: &str, clients: usize, secs: u64) -> Option<f64> {
    let script = std::env::temp_dir().join(format!(
        "warroom-pgbench-{}-{}.sql",
        std::process::id(),
        fastrand::u32(..)
    ));
    std::fs::write(&script, script_text).ok()?;
    let out = std::process::Command::new("pgbench")
        .args(["-n", "-f"])
        .arg(&script)
        .args([
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &secs.to_string(),
            url,
        ])
        .output()
        .ok()?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l["tps = ".len()..].split_whitespace().next()?.parse().ok())
}

/// A command at a writer's replica, and the time its event takes to reach a console on
/// another (or the same) replica: for each pair of `(writer's, console's)` addresses, in
/// turns (one probe of each pair, then the next round), so that a slow moment of a shared
/// machine falls on every pair alike. One series of milliseconds per pair.
async fn cross_latency(pairs: &[(&str, &str)], probes: usize) -> Vec<Vec<f64>> {
    let mut ends = Vec::new();
    for (from, to) in pairs {
        ends.push((join(from, "prober").await, join(to, "watcher").await));
    }
    let mut out = vec![Vec::with_capacity(probes); pairs.len()];
    // Command ids are remembered with their answers: each run of probes has its own.
    let run = fastrand::u32(..);
    for p in 0..probes {
        for (k, (writer, reader)) in ends.iter_mut().enumerate() {
            out[k].push(probe(writer, reader, &format!("p{run}-{k}-{p}")).await);
        }
    }
    out
}

/// One probe: a note sent by `writer`, until `reader` sees it (ms); then its answer.
async fn probe(writer: &mut Ws, reader: &mut Ws, id: &str) -> f64 {
    let marker = format!("probe-{id}-{}", fastrand::u32(..));
    let start = Instant::now();
    let frame = json!({"type": "command", "id": id,
        "command": {"op": "add_entry", "incident": "INC-1", "text": marker}})
    .to_string();
    writer.send(Message::Text(frame.into())).await.unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match reader.next().await {
                Some(Ok(Message::Text(t))) if t.as_str().contains(&marker) => break,
                Some(Ok(_)) => {}
                other => panic!("{other:?}"),
            }
        }
    })
    .await;
    if seen.is_err() {
        let answer = within("the probe's answer", writer.next()).await;
        panic!("the probe's event did not reach the console; the writer got {answer:?}");
    }
    let took = start.elapsed().as_secs_f64() * 1e3;
    // Its answer, so the next probe starts on a quiet connection.
    loop {
        match within("the probe's answer", writer.next()).await {
            Some(Ok(Message::Text(t))) if t.as_str().contains(&format!("\"{id}\"")) => break,
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    took
}

fn signal(child: &std::process::Child, sig: &str) {
    std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
}

fn main() {
    let Ok(admin) = std::env::var("WARROOM_TEST_POSTGRES") else {
        println!("warroom replicas benchmark: skipped (WARROOM_TEST_POSTGRES is not set)");
        return;
    };
    let c = Counts::from_env();
    println!(
        "warroom replicas benchmark (3 replicas, one PostgreSQL, loopback){}",
        if c.smoke {
            " - smoke run (WARROOM_BENCH_SMOKE): small counts, figures not meaningful"
        } else {
            ""
        }
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = Database::create(&admin);
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("quiet.toml");
    std::fs::write(&policy, "").unwrap();
    let addrs: Vec<String> = (0..3).map(|_| free_port()).collect();
    let start_one = |i: usize| {
        spawn(
            &db.url,
            &addrs[i],
            &dir.path().join(format!("r{i}")),
            &policy,
        )
    };
    let mut replicas: Vec<Option<Replica>> = (0..3).map(|i| Some(start_one(i))).collect();
    let running = |r: &[Option<Replica>]| r.iter().map(Option::is_some).collect::<Vec<_>>();
    let l = leader(&addrs, &running(&replicas));
    rt.block_on(async {
        let mut ws = join(&addrs[l], "setup").await;
        command(
            &mut ws,
            "declare",
            json!({"op": "declare", "title": "Bench", "severity": 3}),
        )
        .await;
    });

    // 1. Failover.
    if c.parts.contains(&1) {
        let mut baseline = Vec::new();
        let mut failover = Vec::new();
        for round in 0..c.failovers {
            let l = leader(&addrs, &running(&replicas));
            let f = (l + 1) % 3;
            let mut ws = rt.block_on(join(&addrs[f], "failover"));
            let t = Instant::now();
            rt.block_on(command(&mut ws, &format!("b{round}"), note(round)));
            baseline.push(t.elapsed().as_secs_f64());
            let killed = Instant::now();
            if let Some(mut r) = replicas[l].take() {
                let _ = r.child.kill();
                let _ = r.child.wait();
            }
            rt.block_on(command(&mut ws, &format!("f{round}"), note(round)));
            failover.push(killed.elapsed().as_secs_f64());
            replicas[l] = Some(start_one(l));
        }
        println!(
            "\n1. failover, {} leaders SIGKILLed: a command through a follower answered after\n   \
             p50 {:.3} s, p99 {:.3} s (goal p99 <= 3 s: {}); baseline, a leader in place: p50 {:.4} s",
            c.failovers,
            pct(&failover, 0.5),
            pct(&failover, 0.99),
            if pct(&failover, 0.99) <= 3.0 {
                "met"
            } else {
                "NOT met"
            },
            pct(&baseline, 0.5),
        );
    }

    // 2. A frozen leader.
    let frozen = c.parts.contains(&2);
    if frozen && c.smoke {
        println!(
            "\n2. frozen leader: skipped in the smoke run (it waits out a 10 s session timeout)"
        );
    } else if frozen {
        let l = leader(&addrs, &running(&replicas));
        let f = (l + 1) % 3;
        let mut ws = rt.block_on(join(&addrs[f], "frozen"));
        let stopped = Instant::now();
        signal(&replicas[l].as_ref().unwrap().child, "-STOP");
        rt.block_on(command(&mut ws, "frozen", note(0)));
        let took = stopped.elapsed().as_secs_f64();
        signal(&replicas[l].as_ref().unwrap().child, "-CONT");
        println!(
            "\n2. frozen leader (SIGSTOP) fenced and replaced: a command through a follower \
             answered after {took:.1} s (goal <= 15 s: {})",
            if took <= 15.0 { "met" } else { "NOT met" }
        );
    }

    // 3. Durable appends through PostgreSQL, beside pgbench.
    if c.parts.contains(&3) {
        let l = leader(&addrs, &running(&replicas));
        println!("\n3. durable appends through PostgreSQL (each acknowledged after its commit):");
        println!(
            "   writers: scripts (hello \"watch\": false, sent only their answers) and consoles \
             (sent every event)"
        );
        for (writers, per) in [(1, c.single), (c.writers, c.per_writer)] {
            let scripts = rt.block_on(appends(&addrs[l], writers, per, false));
            let consoles = rt.block_on(appends(&addrs[l], writers, per, true));
            let secs = if c.smoke { 1 } else { 5 };
            let Some(base) = pgbench(&db.url, writers, secs) else {
                println!(
                    "   {writers:>2} writers: scripts {scripts:>6.0}/s, consoles {consoles:>6.0}/s; \
                     pgbench not found or failed: no baseline"
                );
                continue;
            };
            println!(
                "   {writers:>2} writers: pgbench ({writers} clients inserting 300-byte rows) \
                 {base:>6.0}/s\n      scripts  {scripts:>6.0} commands/s, ratio {:.2}x (goal >= \
                 0.7x: {})\n      consoles {consoles:>6.0} commands/s, ratio {:.2}x",
                scripts / base,
                if scripts / base >= 0.7 {
                    "met"
                } else {
                    "NOT met"
                },
                consoles / base,
            );
            if writers == 1 {
                // What the database allows one writer of the log's appends, the feed aside.
                let alone_db = Database::create(&admin);
                match append_alone(&alone_db, dir.path(), &policy, secs) {
                    Some(alone) => println!(
                        "      the log's append statement alone (pgbench, 1 client, no feed) \
                         {alone:>6.0}/s, ratio {:.2}x: the most one writer could reach",
                        alone / base
                    ),
                    None => println!("      the log's append statement alone: pgbench failed"),
                }
            }
        }
    }

    // 4. Across replicas.
    if c.parts.contains(&4) {
        let l = leader(&addrs, &running(&replicas));
        let (a, cc) = ((l + 1) % 3, (l + 2) % 3);
        let mut series = rt.block_on(cross_latency(
            &[(&addrs[a], &addrs[cc]), (&addrs[l], &addrs[l])],
            c.probes,
        ));
        let (one, across) = (series.pop().unwrap(), series.pop().unwrap());
        println!(
            "\n4. a command to its event at another console (ms):        p50      p99\n   \
             on one replica (the leader)                        {:>8.2} {:>8.2}\n   \
             at follower A, seen on follower C                  {:>8.2} {:>8.2}\n   \
             goal p99 <= 2 x one replica's: {}",
            pct(&one, 0.5),
            pct(&one, 0.99),
            pct(&across, 0.5),
            pct(&across, 0.99),
            if pct(&across, 0.99) <= 2.0 * pct(&one, 0.99) {
                "met"
            } else {
                "NOT met"
            }
        );
    }

    drop(replicas);
}
