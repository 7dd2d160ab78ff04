//! A crowd of idle consoles on one feed, each figure beside a bare tokio-tungstenite
//! broadcast server (4 KiB read buffers, as the feed's) measured the same way in the same run:
//!
//! 1. memory per idle console: the server's RSS growth divided by the consoles, once all of
//!    them have said hello and been told `synced` (and presence has settled), at 1,000 and
//!    at 10,000 consoles. Target: at most 2x the bare server's;
//! 2. with 10,000 consoles connected: the time until all of them are connected and synced
//!    (at most 2x the bare server's time to connect them), and the fan-out latency from a
//!    command to its event at every console (p99 at most 1.5x the bare broadcast's).
//!
//! 3. the first crowd again on a busy feed (20 active incidents of 31 entries each, the
//!    board a console is sent on joining), beside the same bare server.
//!
//! Every console is a distinct person (`reader-N`), as on the day of a big outage.
//!
//! The server runs in a process of its own (this same binary, started again with
//! `WARROOM_CROWD_SERVER=warroom|bare`), so its RSS is the server's alone and not the
//! consoles'. Loopback only; the open-files limit is raised to its hard limit in both.
//!
//! Run: `cargo bench --bench crowd`. Smoke run: `WARROOM_BENCH_SMOKE=1 cargo test --bench
//! crowd` (what `.ci/run` does): every section with a few dozen consoles, in seconds; its
//! figures mean nothing. `WARROOM_CROWD_CONSOLES=N` runs one crowd of N consoles only.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde_json::json;
use tokio::sync::mpsc;
use warroom::server::ServerConfig;

mod loopback;
use loopback::{
    bare_probe, bare_server, command, connect, fanout_latency, join, readers, thousands,
};

/// Which server a child process runs (`warroom` or `bare`).
const CHILD: &str = "WARROOM_CROWD_SERVER";
/// The bare server's read buffer per connection: the feed's own default.
const BARE_READ_BUFFER: usize = 4 * 1024;
/// Consoles connecting at once.
const PARALLEL: usize = 64;

struct Counts {
    smoke: bool,
    /// (consoles, fan-out probes) per section.
    crowds: Vec<(usize, usize)>,
    /// Time after the last console synced for presence to settle before RSS is read.
    settle: Duration,
}

impl Counts {
    fn from_env() -> Counts {
        let smoke = loopback::smoke();
        // One crowd of this size only (to look at one figure).
        let only = std::env::var("WARROOM_CROWD_CONSOLES")
            .ok()
            .and_then(|v| v.parse::<usize>().ok());
        if let Some(n) = only {
            Counts {
                smoke,
                crowds: vec![(n, 20)],
                settle: Duration::from_secs(3),
            }
        } else if smoke {
            Counts {
                smoke,
                crowds: vec![(20, 3), (50, 5)],
                settle: Duration::from_millis(700),
            }
        } else {
            Counts {
                smoke,
                crowds: vec![(1_000, 50), (10_000, 100)],
                settle: Duration::from_secs(3),
            }
        }
    }
}

fn main() {
    raise_open_files();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    match std::env::var(CHILD) {
        Ok(kind) => rt.block_on(serve_child(&kind)),
        Err(_) => rt.block_on(run(Counts::from_env())),
    }
}

/// The soft limit of open files raised to the hard one: 10,000 sockets need it.
fn raise_open_files() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain calls with a pointer to a live, initialised struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// The child: serves until its stdin closes, having printed its URL.
async fn serve_child(kind: &str) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (url, _keep): (String, Box<dyn std::any::Any>) = match kind {
        "bare" => {
            let (url, task) = bare_server(BARE_READ_BUFFER).await;
            (url, Box::new(task))
        }
        "warroom" => {
            let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
            let mut config = ServerConfig::new(addr, dir.path().to_path_buf());
            // Room for the crowd and the writer; the writer's probes are not rate-limited.
            config.limits.max_connections = 20_000;
            config.limits.commands_per_second = 1_000_000;
            config.limits.command_burst = 4_000_000;
            let server = warroom::server::start(config).await.unwrap();
            (server.url(), Box::new(server))
        }
        other => panic!("{CHILD}={other}: expected warroom or bare"),
    };
    println!("{url}");
    std::io::stdout().flush().unwrap();
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {}
    })
    .await
    .unwrap();
    // Ten thousand sessions need no goodbye: the process ends.
    std::process::exit(0);
}

/// A server in a process of its own.
struct ServerProcess {
    child: Child,
    url: String,
}

impl ServerProcess {
    fn start(kind: &str) -> ServerProcess {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(CHILD, kind)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("ws://"), "the {kind} server said {line:?}");
        ServerProcess {
            child,
            url: line.trim().to_string(),
        }
    }

    /// Resident memory, in bytes.
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status");
        kb * 1024
    }

    fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// What one crowd cost one server.
struct Figures {
    /// RSS growth per console, bytes.
    per_console: f64,
    /// Until all were connected (and, on warroom, synced), seconds.
    connect: f64,
    /// Fan-out latency (p50, p99), ms.
    fanout: (f64, f64),
    /// What one join is sent (warroom): frames, bytes, the largest frame.
    join: Option<(usize, usize, usize)>,
}

/// Incidents on the busy feed, and entries in each.
const BUSY: (usize, usize) = (20, 30);

async fn crowd(kind: &str, n: usize, probes: usize, settle: Duration, busy: bool) -> Figures {
    let server = ServerProcess::start(kind);
    let url = server.url.clone();
    let warroom = kind == "warroom";
    // The writer first, and what it made, so the RSS baseline has them.
    let mut writer = if warroom {
        let mut w = join(&url, "writer").await;
        command(
            &mut w,
            "declare",
            json!({"op": "declare", "title": "the crowd's incident", "severity": 2}),
        )
        .await;
        if busy {
            for i in 2..=BUSY.0 {
                let title = format!("incident {i} of the busy feed");
                command(
                    &mut w,
                    &format!("declare-{i}"),
                    json!({"op": "declare", "title": title, "severity": 2}),
                )
                .await;
            }
            for i in 1..=BUSY.0 {
                for e in 0..BUSY.1 {
                    let text = format!(
                        "entry {e}: checked the dashboards, error rate still {e}% above the \
                         baseline on the checkout path; rolling back deploy 44{i} on the \
                         canary hosts first, then the rest if the canaries recover"
                    );
                    let note =
                        json!({"op": "add_entry", "incident": format!("INC-{i}"), "text": text});
                    command(&mut w, &format!("note-{i}-{e}"), note).await;
                }
            }
        }
        w
    } else {
        connect(&url).await
    };
    let join = if warroom {
        Some(join_bytes(&url).await)
    } else {
        None
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server.rss();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let start = Instant::now();
    let handles = readers(&url, n, tx, warroom, PARALLEL).await;
    let connect_secs = start.elapsed().as_secs_f64();
    // Presence goes out at most every 500 ms: let the last lists reach everyone.
    tokio::time::sleep(settle).await;
    let after = server.rss();
    let per_console = after.saturating_sub(before) as f64 / n as f64;
    let writer = Arc::new(tokio::sync::Mutex::new({
        // The writer's own presence frames wait unread; skip them before timing.
        if warroom {
            command(
                &mut writer,
                "warm",
                json!({"op": "add_entry", "incident": "INC-1", "text": "warm-up"}),
            )
            .await;
        }
        writer
    }));
    let fanout = fanout_latency(
        n,
        probes,
        move |k| {
            let w = writer.clone();
            Box::pin(async move {
                let mut w = w.lock().await;
                if warroom {
                    let note = json!({"op": "add_entry", "incident": "INC-1", "text": format!("probe-{k}")});
                    command(&mut w, &format!("p{k}"), note).await;
                } else {
                    w.send(bare_probe(k)).await.unwrap();
                }
            })
        },
        &mut rx,
    )
    .await;
    for h in handles {
        h.abort();
    }
    server.stop();
    Figures {
        per_console,
        connect: connect_secs,
        fanout,
        join,
    }
}

/// What one join is sent, up to and with its first presence: frames, bytes, largest frame.
async fn join_bytes(url: &str) -> (usize, usize, usize) {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let mut ws = connect(url).await;
    let hello = json!({"type": "hello", "name": "counter", "protocol": 2}).to_string();
    ws.send(Message::Text(hello.into())).await.unwrap();
    let (mut frames, mut bytes, mut largest) = (0, 0, 0);
    loop {
        let Some(Ok(Message::Text(t))) = loopback::within("joining", ws.next()).await else {
            continue;
        };
        frames += 1;
        bytes += t.len();
        largest = largest.max(t.len());
        if t.as_str().starts_with(r#"{"type":"presence""#) {
            return (frames, bytes, largest);
        }
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

async fn run(c: Counts) {
    println!(
        "warroom crowd benchmark ({} cores){}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if c.smoke {
            " - smoke run (WARROOM_BENCH_SMOKE): small counts, figures not meaningful"
        } else {
            ""
        }
    );
    let mut sections: Vec<(usize, usize, bool)> =
        c.crowds.iter().map(|&(n, p)| (n, p, false)).collect();
    // The first crowd again, on a feed with a board worth the name.
    sections.push((c.crowds[0].0, c.crowds[0].1, true));
    for (i, (n, probes, busy)) in sections.into_iter().enumerate() {
        let bare = crowd("bare", n, probes, c.settle, false).await;
        let feed = crowd("warroom", n, probes, c.settle, busy).await;
        if busy {
            println!(
                "\n{}. {} idle consoles, the feed holding {} active incidents of {} entries each:",
                i + 1,
                thousands(n),
                BUSY.0,
                BUSY.1 + 1
            );
        } else {
            println!(
                "\n{}. {} idle consoles, the feed holding one incident:",
                i + 1,
                thousands(n)
            );
        }
        if let Some((frames, bytes, largest)) = feed.join {
            println!(
                "   a console's join is sent {frames} frames, {bytes} bytes, the largest {largest}"
            );
        }
        println!(
            "   memory per console (server RSS growth / consoles): bare {:.1} KB, warroom {:.1} KB",
            bare.per_console / 1e3,
            feed.per_console / 1e3
        );
        println!(
            "   target <= 2 x bare = {:.1} KB: {}",
            2.0 * bare.per_console / 1e3,
            verdict(feed.per_console <= 2.0 * bare.per_console)
        );
        println!(
            "   all connected (warroom: and synced), {PARALLEL} at a time: bare {:.2} s, warroom {:.2} s",
            bare.connect, feed.connect
        );
        println!(
            "   target <= 2 x bare = {:.2} s: {}",
            2.0 * bare.connect,
            verdict(feed.connect <= 2.0 * bare.connect)
        );
        println!(
            "   command -> event at every console ({probes} probes): bare p50 {:.2} ms p99 {:.2} ms, warroom p50 {:.2} ms p99 {:.2} ms",
            bare.fanout.0, bare.fanout.1, feed.fanout.0, feed.fanout.1
        );
        println!(
            "   target p99 <= 1.5 x bare = {:.2} ms: {}",
            1.5 * bare.fanout.1,
            verdict(feed.fanout.1 <= 1.5 * bare.fanout.1)
        );
    }
}
