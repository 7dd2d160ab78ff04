//! Feed throughput and fan-out latency, each beside a baseline measured in the same run:
//!
//! 1. the disk's raw fsync rate (append 1 KiB + fdatasync, in a loop), in the directory the
//!    feed's log lives in;
//! 2. durable events/s through a real `warroom` feed with 1 and with 64 concurrent writers
//!    (an `ok` arrives only after the event is in the log, fsynced);
//! 3. latency from sending a command to its event reaching *every* connected client, with
//!    100 and 1,000 clients, beside a bare tokio-tungstenite broadcast server with no log;
//! 4. the same fan-out to 1,000 clients with the feed's metrics counted (as `warroom serve`
//!    runs) and not, side by side: counting must cost nothing measurable (p99 within 5%).
//!
//! Run: `cargo bench --bench feed`. Loopback only; bounded counts; it stops by itself.
//!
//! Smoke run: `WARROOM_BENCH_SMOKE=1 cargo test --bench feed` (what `.ci/run` does) runs
//! every section with small counts in a debug build, in seconds. Its figures mean nothing;
//! it is there so that a bench that no longer runs (a refused command, a changed frame)
//! fails CI. Every answer is checked in both modes, and every wait is bounded: a broken
//! bench panics, and the process exits non-zero, instead of hanging.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use warroom::server::{RunningServer, ServerConfig};

mod loopback;
use loopback::{
    bare_probe, bare_server, command, connect, fanout_latency, join, pct, readers, thousands,
};

/// The baseline's read buffer per connection: the feed's own (`Limits::read_buffer_bytes`).
const BARE_READ_BUFFER: usize = 4 * 1024;

/// How much each section does: the full benchmark, or the smoke run.
struct Counts {
    smoke: bool,
    fsyncs: usize,
    /// Commands sent by the single writer.
    single: usize,
    /// Concurrent writers, and commands each sends.
    writers: usize,
    per_writer: usize,
    /// (clients, probes) for the fan-out latency.
    fanout: [(usize, usize); 2],
    /// Rounds of the fan-out with metrics on and off (section 4), and its (clients, probes).
    metric_rounds: usize,
    metric_fanout: (usize, usize),
    /// Time for a join storm's presence frames to settle before probes are sent.
    settle: Duration,
}

impl Counts {
    /// `WARROOM_BENCH_SMOKE` set (to anything but empty or `0`): the smoke run.
    fn from_env() -> Counts {
        let smoke = loopback::smoke();
        if smoke {
            Counts {
                smoke,
                fsyncs: 20,
                // More than a feed's default burst (200 frames), so the smoke run, too,
                // fails if the writers are refused as senders too fast.
                single: 300,
                writers: 8,
                per_writer: 30,
                fanout: [(10, 5), (30, 5)],
                metric_rounds: 1,
                metric_fanout: (30, 5),
                settle: Duration::from_millis(100),
            }
        } else {
            Counts {
                smoke,
                fsyncs: 1000,
                single: 1000,
                writers: 64,
                per_writer: 150,
                fanout: [(100, 200), (1000, 100)],
                metric_rounds: 3,
                metric_fanout: (1000, 200),
                settle: Duration::from_secs(1),
            }
        }
    }
}

/// 1 KiB appended and fdatasync'd, `n` times: the disk's durable-write rate.
fn raw_fsync(dir: &std::path::Path, n: usize) -> (f64, f64) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("fsync-probe"))
        .unwrap();
    let block = [b'x'; 1024];
    let mut lat = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        f.write_all(&block).unwrap();
        f.sync_data().unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    (n as f64 / start.elapsed().as_secs_f64(), pct(lat, 0.5))
}

/// A feed as `warroom serve --max-commands-per-second 1000000` starts it. The default (50
/// frames a second per connection, bursts of 200) is right for people and scripts, and
/// would refuse these writers, which send as fast as the feed answers, after their first
/// 200 commands (`rate_limited`). Raising it is the setting the feed offers; what is
/// measured is the feed, not its rate limiter.
async fn start_feed(dir: &std::path::Path) -> RunningServer {
    start_feed_with(dir, true).await
}

/// As [`start_feed`], with its metrics counted or not (`/metrics` then empty).
async fn start_feed_with(dir: &std::path::Path, metrics: bool) -> RunningServer {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut config = ServerConfig::new(addr, dir.to_path_buf());
    config.metrics.disabled = !metrics;
    config.limits.commands_per_second = 1_000_000;
    // As `serve` sets it: bursts of four seconds' worth.
    config.limits.command_burst = 4_000_000;
    warroom::server::start(config).await.unwrap()
}

/// The feed's count of durable commits (transactions, each one fsync), from /healthz.
async fn commits(addr: SocketAddr) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.0\r\nHost: bench\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    tcp.read_to_string(&mut body).await.unwrap();
    let json = &body[body.find('{').unwrap()..];
    serde_json::from_str::<Value>(json).unwrap()["commits"]
        .as_u64()
        .unwrap()
}

/// `writers` connections each send `per_writer` notes, one at a time: durable events/s.
async fn throughput(url: &str, writers: usize, per_writer: usize) -> f64 {
    let mut conns = Vec::new();
    for w in 0..writers {
        conns.push(join(url, &format!("writer-{w}")).await);
    }
    let start = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(w, mut ws)| {
            tokio::spawn(async move {
                for i in 0..per_writer {
                    let text = format!("writer {w} note {i}");
                    let note = json!({"op": "add_entry", "incident": "INC-1", "text": text});
                    command(&mut ws, &format!("w{w}-{i}"), note).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    (writers * per_writer) as f64 / start.elapsed().as_secs_f64()
}

/// warroom: a writer declares, then sends probe notes; the event must reach every reader.
async fn warroom_latency(n: usize, probes: usize, settle: Duration, metrics: bool) -> (f64, f64) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let server = start_feed_with(dir.path(), metrics).await;
    let url = server.url();
    let mut writer = join(&url, "writer").await;
    command(
        &mut writer,
        "declare",
        json!({"op": "declare", "title": "latency", "severity": 3}),
    )
    .await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let handles = readers(&url, n, tx, true, 1).await;
    // Let the join storm's presence frames settle.
    tokio::time::sleep(settle).await;
    let writer = Arc::new(tokio::sync::Mutex::new(writer));
    let result = fanout_latency(
        n,
        probes,
        move |k| {
            let w = writer.clone();
            Box::pin(async move {
                let mut w = w.lock().await;
                let note =
                    json!({"op": "add_entry", "incident": "INC-1", "text": format!("probe-{k}")});
                command(&mut w, &format!("p{k}"), note).await;
            })
        },
        &mut rx,
    )
    .await;
    for h in handles {
        h.abort();
    }
    server.shutdown().await.unwrap();
    result
}

/// The baseline: a bare tokio-tungstenite server relaying each text frame to everyone.
async fn bare_latency(n: usize, probes: usize) -> (f64, f64) {
    let (url, server) = bare_server(BARE_READ_BUFFER).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let handles = readers(&url, n, tx, false, 1).await;
    let sender = Arc::new(tokio::sync::Mutex::new(connect(&url).await));
    let result = fanout_latency(
        n,
        probes,
        move |k| {
            let s = sender.clone();
            Box::pin(async move {
                s.lock().await.send(bare_probe(k)).await.unwrap();
            })
        },
        &mut rx,
    )
    .await;
    for h in handles {
        h.abort();
    }
    server.abort();
    result
}

fn main() {
    let counts = Counts::from_env();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(counts));
}

async fn run(c: Counts) {
    println!(
        "warroom feed benchmark ({} cores){}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if c.smoke {
            " - smoke run (WARROOM_BENCH_SMOKE): small counts, figures not meaningful"
        } else {
            ""
        }
    );
    let probe_dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (fsync_rate, fsync_ms) = raw_fsync(probe_dir.path(), c.fsyncs);
    println!(
        "\n1. raw disk: 1 KiB append + fdatasync: {fsync_rate:.0} /s (median {fsync_ms:.3} ms)"
    );

    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let server = start_feed(dir.path()).await;
    let url = server.url();
    let mut setup = join(&url, "setup").await;
    command(
        &mut setup,
        "declare",
        json!({"op": "declare", "title": "bench", "severity": 3}),
    )
    .await;
    let c0 = commits(server.addr).await;
    let one = throughput(&url, 1, c.single).await;
    let c1 = commits(server.addr).await;
    let many = throughput(&url, c.writers, c.per_writer).await;
    let c2 = commits(server.addr).await;
    server.shutdown().await.unwrap();
    // Every command was answered `ok`, so it is in the log; the feed's count of commits must
    // have moved with them. (Not an exact count: the policy's escalation may commit a
    // notification of the bench incident while the writers write.)
    let many_commands = c.writers * c.per_writer;
    assert!(c1 > c0, "no commits counted for {} commands", c.single);
    assert!(c2 > c1, "no commits counted for {many_commands} commands");
    println!("\n2. durable events/s through the feed (each acknowledged after fsync):");
    let label = |w: usize, n: usize| {
        format!(
            "{w} {:<8}({} commands):",
            if w == 1 { "writer" } else { "writers" },
            thousands(n)
        )
    };
    println!(
        "   {:<32} {one:>8.0} /s  ({:.2}x the raw fsync rate; {:.1} events per fsync)",
        label(1, c.single),
        one / fsync_rate,
        c.single as f64 / (c1 - c0) as f64
    );
    println!(
        "   {:<32} {many:>8.0} /s  ({:.2}x the raw fsync rate; {:.1} events per fsync)",
        label(c.writers, many_commands),
        many / fsync_rate,
        many_commands as f64 / (c2 - c1) as f64
    );
    println!(
        "   group commit: {} writers reach {:.1}x the single writer (target >= 5x: {})",
        c.writers,
        many / one,
        if many / one >= 5.0 { "met" } else { "NOT met" }
    );

    println!("\n3. command → event at every client (ms):");
    println!("   {:<34} {:>8} {:>8}", "", "p50", "p99");
    for (n, probes) in c.fanout {
        let (b50, b99) = bare_latency(n, probes).await;
        let (w50, w99) = warroom_latency(n, probes, c.settle, true).await;
        println!(
            "   {:<34} {:>8.3} {:>8.3}",
            format!("bare broadcast, {n} clients"),
            b50,
            b99
        );
        println!(
            "   {:<34} {:>8.3} {:>8.3}",
            format!("warroom, {n} clients ({probes} probes)"),
            w50,
            w99
        );
        let bound = 2.0 * (b99 + fsync_ms);
        println!(
            "   target p99 <= 2 x (bare p99 + one fsync) = {bound:.3} ms: {}",
            if w99 <= bound { "met" } else { "NOT met" }
        );
    }

    // The same fan-out with the feed's metrics counted (as `warroom serve` runs) and not:
    // rounds alternate, so a drift of the machine's load falls on both alike; the median
    // round's p99 of each is compared.
    println!(
        "\n4. fan-out with metrics on vs off (ms, median of {} rounds each):",
        c.metric_rounds
    );
    println!("   {:<34} {:>8} {:>8}", "", "p50", "p99");
    let (n, probes) = c.metric_fanout;
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for _ in 0..c.metric_rounds {
        off.push(warroom_latency(n, probes, c.settle, false).await);
        on.push(warroom_latency(n, probes, c.settle, true).await);
    }
    let median = |v: &[(f64, f64)], pick: fn(&(f64, f64)) -> f64| {
        let mut x: Vec<f64> = v.iter().map(pick).collect();
        x.sort_by(f64::total_cmp);
        x[x.len() / 2]
    };
    let (off50, off99) = (median(&off, |r| r.0), median(&off, |r| r.1));
    let (on50, on99) = (median(&on, |r| r.0), median(&on, |r| r.1));
    println!(
        "   {:<34} {off50:>8.3} {off99:>8.3}",
        format!("metrics off, {n} clients ({probes} probes)")
    );
    println!(
        "   {:<34} {on50:>8.3} {on99:>8.3}",
        format!("metrics on, {n} clients ({probes} probes)")
    );
    let change = (on99 / off99 - 1.0) * 100.0;
    println!(
        "   p99 with metrics: {change:+.1}% (target <= +5%: {})",
        if change <= 5.0 { "met" } else { "NOT met" }
    );
}
