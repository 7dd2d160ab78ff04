//! A feed with years of history, against a real `warroom serve` and the console's own client
//! and rendering code, each figure beside a baseline from the same run: the same live work
//! (20 active incidents, one of them 100,000 entries long) on an empty history.
//!
//! 1. server start: listening, and serving a console's join; its resident memory with no
//!    console connected;
//! 2. a console's join: first frame, `synced`, bytes on the wire (median of several joins);
//! 3. the room of the 100,000-entry incident opened in the console (`:open`): its first
//!    timeline page received and drawn into ratatui's TestBackend;
//! 4. the archive in the console (`r`, and `:archive WORDS`): its first page drawn;
//! 5. a console's resident memory after an hour of browsing rooms: a console process of its
//!    own (this bench run again as a child) opening hundreds of rooms in turn, archived and
//!    active, scrolling each back a few pages, then back on the board.
//!
//! The feed is made by the tests' history generator (`tests/common/history.rs`): 10,000
//! incidents and 2,000,000 events decided and folded by the model, appended through the real
//! SQLite store. It is kept under `target/bench-history/` by its shape, so later runs reuse
//! it; each server runs on a copy.
//!
//! Run: `cargo bench --bench history`. Loopback only; every wait bounded.
//!
//! Smoke run: `WARROOM_BENCH_SMOKE=1 cargo test --bench history` (what `.ci/run` does): every
//! section on a small feed in a debug build, in seconds. Its figures mean nothing; it fails
//! if a section no longer runs (a room not drawn, a join not synced).

#[path = "history/console.rs"]
mod console;
#[allow(dead_code)]
#[path = "../tests/common/history.rs"]
mod history;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use console::{archive, browse, browse_in_child, open_long_room};
use futures_util::{SinkExt, StreamExt};
use history::{Feed, Shape, generate_feed};
use tokio_tungstenite::tungstenite::Message;
use warroom::client::{Client, ClientConfig, ConnState, Update};

/// How much each section does: the full benchmark, or the smoke run.
struct Counts {
    smoke: bool,
    shape: Shape,
    /// Joins measured on each feed.
    joins: usize,
    /// Times the long room is opened.
    opens: usize,
    /// Rooms the browsing console opens, and pages it scrolls back in each.
    rooms: usize,
    pages: usize,
}

impl Counts {
    /// `WARROOM_BENCH_SMOKE` set (to anything but empty or `0`): the smoke run.
    fn from_env() -> Counts {
        let smoke = std::env::var("WARROOM_BENCH_SMOKE").is_ok_and(|v| !v.is_empty() && v != "0");
        if smoke {
            let shape = Shape {
                incidents: 120,
                events: 12_000,
                active: 20,
                big_entries: 2_000,
                history: true,
            };
            Counts {
                smoke,
                shape,
                joins: 2,
                opens: 2,
                rooms: 12,
                pages: 2,
            }
        } else {
            let shape = Shape {
                incidents: 10_000,
                events: 2_000_000,
                active: 20,
                big_entries: 100_000,
                history: true,
            };
            Counts {
                smoke,
                shape,
                joins: 10,
                opens: 10,
                rooms: 400,
                pages: 3,
            }
        }
    }
}

/// The longest any one wait may take: past it the bench is broken, not slow.
const PATIENCE: Duration = Duration::from_secs(120);

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: nothing within {}s", PATIENCE.as_secs()),
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// The feed of `shape`, made once and kept under `target/bench-history/` (by the shape
/// and the log's schema); made in a directory of its own and renamed when complete, so
/// an interrupted run never leaves half a feed to reuse.
fn cached_feed(shape: Shape) -> (PathBuf, Feed) {
    let root = target_dir().join("bench-history");
    let dir = root.join(format!(
        "s{}-{}",
        warroom::store::SCHEMA_VERSION,
        shape.key()
    ));
    let made = dir.join("made.txt");
    if let Some(feed) = std::fs::read_to_string(&made)
        .ok()
        .and_then(|t| Feed::from_lines(&t))
    {
        return (dir, feed);
    }
    let partial = root.join(format!("{}.partial", shape.key()));
    let _ = std::fs::remove_dir_all(&partial);
    let started = Instant::now();
    let feed = generate_feed(&partial.join("data"), Utc::now(), shape);
    std::fs::write(partial.join("made.txt"), feed.to_lines()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&partial, &dir).unwrap();
    println!(
        "  made the feed {} ({} events) in {:.1}s",
        shape.key(),
        feed.events,
        started.elapsed().as_secs_f64()
    );
    (dir, feed)
}

/// A copy of a cached feed's data directory, for one server to run on.
fn copy_feed(cached: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in std::fs::read_dir(cached.join("data")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A `warroom serve` on a copy of a feed, with a policy that adds no events of its own.
struct Serve {
    child: std::process::Child,
    url: String,
    /// From spawning the process to its "listening on" line.
    listening: Duration,
    _dir: tempfile::TempDir,
}

impl Serve {
    fn start(cached: &Path) -> Serve {
        let dir = tempfile::tempdir_in(target_dir()).unwrap();
        copy_feed(cached, &dir.path().join("data"));
        let policy = dir.path().join("quiet.toml");
        std::fs::write(&policy, "").unwrap();
        let started = Instant::now();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("data"))
            .arg("--policy")
            .arg(&policy)
            // The browsing console opens rooms and pages back as fast as the feed answers,
            // faster than a person: above the default rate (50 frames a second), which
            // would refuse its queries. What is measured is the feed, not its rate limiter.
            .args(["--max-commands-per-second", "100000"])
            .env("WARROOM_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn warroom serve");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(i) = line.find("listening on ws://")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(line[i + "listening on ".len()..].trim().to_string());
                }
            }
        });
        let url = rx.recv_timeout(PATIENCE).expect("the feed did not listen");
        Serve {
            listening: started.elapsed(),
            child,
            url,
            _dir: dir,
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A join as the console's client makes it: (first update from the feed, synced).
async fn client_join(url: &str) -> (Duration, Duration) {
    let start = Instant::now();
    let mut c = Client::start(ClientConfig::new(url, "bench"));
    let mut replica = warroom::client::Replica::default();
    let mut first = None;
    while !replica.synced {
        let u = within("a join", c.next())
            .await
            .expect("the client stopped");
        if let Update::Conn(ConnState::Stopped { reason }) = &u {
            panic!("{reason}");
        }
        if first.is_none() && matches!(u, Update::Welcome { .. }) {
            first = Some(start.elapsed());
        }
        replica.apply(&u).unwrap();
    }
    (first.unwrap_or_default(), start.elapsed())
}

/// A join on the wire: bytes and frames up to `synced`, and the largest frame.
async fn wire_join(url: &str) -> (usize, usize, usize) {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let hello = r#"{"type":"hello","name":"wire","protocol":2}"#;
    ws.send(Message::Text(hello.into())).await.unwrap();
    let (mut bytes, mut frames, mut largest) = (0, 0, 0);
    loop {
        let Some(Ok(Message::Text(t))) = within("a frame", ws.next()).await else {
            continue;
        };
        bytes += t.len();
        frames += 1;
        largest = largest.max(t.len());
        if t.as_str().starts_with(r#"{"type":"synced""#) {
            return (bytes, frames, largest);
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn max(v: &[Duration]) -> Duration {
    v.iter().copied().max().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

fn field(line: &str, name: &str) -> u64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
        .unwrap_or(0)
}

/// Everything measured on one feed.
struct Figures {
    listening: Duration,
    serving: Duration,
    server_rss: u64,
    first: Vec<Duration>,
    synced: Vec<Duration>,
    wire: (usize, usize, usize),
    opens: Vec<Duration>,
    browse: Vec<Duration>,
    search: Vec<Duration>,
    console: String,
}

fn measure(c: &Counts, cached: &Path, feed: &Feed) -> Figures {
    let serve = Serve::start(cached);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = serve.url.clone();
    let listening = serve.listening;
    let start = Instant::now();
    rt.block_on(client_join(&url));
    let serving = listening + start.elapsed();
    // No console connected: what the feed holds for the live work.
    std::thread::sleep(Duration::from_millis(500));
    let server_rss = rss_kib(serve.child.id());
    let (mut first, mut synced) = (Vec::new(), Vec::new());
    for _ in 0..c.joins {
        let (f, s) = rt.block_on(client_join(&url));
        first.push(f);
        synced.push(s);
    }
    let wire = rt.block_on(wire_join(&url));
    let opens = rt.block_on(open_long_room(&url, feed, c.opens));
    let (browse, search) = rt.block_on(archive(&url, feed, c.opens));
    let console = browse_in_child(&url, cached);
    Figures {
        listening,
        serving,
        server_rss,
        first,
        synced,
        wire,
        opens,
        browse,
        search,
        console,
    }
}

fn main() {
    if let Some(url) = std::env::var_os("WARROOM_BENCH_BROWSE") {
        let c = Counts::from_env();
        let cached = PathBuf::from(std::env::var_os("WARROOM_BENCH_FEED").unwrap());
        let feed =
            Feed::from_lines(&std::fs::read_to_string(cached.join("made.txt")).unwrap()).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(browse(&url.to_string_lossy(), &feed, c.rooms, c.pages));
        return;
    }
    let c = Counts::from_env();
    println!(
        "warroom history benchmark: {} incidents, {} events, {} active, the long one {} entries{}",
        c.shape.incidents,
        c.shape.events,
        c.shape.active,
        c.shape.big_entries,
        if c.smoke {
            " - smoke run (WARROOM_BENCH_SMOKE): small counts, figures not meaningful"
        } else {
            ""
        }
    );
    let (hist_dir, hist) = cached_feed(c.shape);
    let base_shape = Shape {
        history: false,
        ..c.shape
    };
    let (base_dir, base) = cached_feed(base_shape);
    println!(
        "  feed: {} events, {} archived incidents; baseline: {} events, the same {} active",
        hist.events, hist.archived, base.events, base.active
    );
    let b = measure(&c, &base_dir, &base);
    let h = measure(&c, &hist_dir, &hist);

    println!();
    println!(
        "{:<44} {:>14} {:>14} {:>9}",
        "", "history", "baseline", "ratio"
    );
    let row = |name: &str, hv: f64, bv: f64, unit: &str| {
        println!(
            "{:<44} {:>11.1} {unit:<2} {:>11.1} {unit:<2} {:>8.2}x",
            name,
            hv,
            bv,
            hv / bv.max(1e-9)
        );
    };
    row(
        "server: listening (ms)",
        ms(h.listening),
        ms(b.listening),
        "",
    );
    row(
        "server: serving, first join synced (ms)",
        ms(h.serving),
        ms(b.serving),
        "",
    );
    row(
        "server: RSS, no console (MiB)",
        mib(h.server_rss),
        mib(b.server_rss),
        "",
    );
    row(
        "join: first frame, median (ms)",
        ms(median(h.first.clone())),
        ms(median(b.first.clone())),
        "",
    );
    row(
        "join: first frame, max (ms)",
        ms(max(&h.first)),
        ms(max(&b.first)),
        "",
    );
    row(
        "join: synced, median (ms)",
        ms(median(h.synced.clone())),
        ms(median(b.synced.clone())),
        "",
    );
    row(
        "join: synced, max (ms)",
        ms(max(&h.synced)),
        ms(max(&b.synced)),
        "",
    );
    row(
        "join: bytes on the wire (KB)",
        h.wire.0 as f64 / 1e3,
        b.wire.0 as f64 / 1e3,
        "",
    );
    row("join: frames", h.wire.1 as f64, b.wire.1 as f64, "");
    row(
        "join: largest frame (KB)",
        h.wire.2 as f64 / 1e3,
        b.wire.2 as f64 / 1e3,
        "",
    );
    row(
        "long room: first page drawn, median (ms)",
        ms(median(h.opens.clone())),
        ms(median(b.opens.clone())),
        "",
    );
    row(
        "long room: first page drawn, max (ms)",
        ms(max(&h.opens)),
        ms(max(&b.opens)),
        "",
    );
    row(
        "archive: first page drawn, median (ms)",
        ms(median(h.browse.clone())),
        ms(median(b.browse.clone())),
        "",
    );
    row(
        "archive: search by words drawn, median (ms)",
        ms(median(h.search.clone())),
        ms(median(b.search.clone())),
        "",
    );
    let (hc, bc) = (&h.console, &b.console);
    row(
        "console: RSS after the join (MiB)",
        mib(field(hc, "joined_kib")),
        mib(field(bc, "joined_kib")),
        "",
    );
    row(
        "console: RSS after browsing (MiB)",
        mib(field(hc, "after_kib")),
        mib(field(bc, "after_kib")),
        "",
    );
    row(
        "console: RSS peak while browsing (MiB)",
        mib(field(hc, "peak_kib")),
        mib(field(bc, "peak_kib")),
        "",
    );
    row(
        "console: entries held after browsing",
        field(hc, "entries") as f64,
        field(bc, "entries") as f64,
        "",
    );
    println!(
        "  browsing: {} rooms opened, {} pages back in each; after it the console holds {} incidents, {} room views, {} timeline indexes",
        c.rooms,
        c.pages,
        field(hc, "incidents"),
        field(hc, "rooms"),
        field(hc, "timelines")
    );

    println!();
    let within20 = |hv: f64, bv: f64| hv <= bv * 1.2;
    let first = ms(median(h.first.clone()));
    let synced = ms(median(h.synced.clone()));
    let targets = [
        ("join: first frame <= 300 ms", first <= 300.0),
        ("join: synced <= 1 s", synced <= 1000.0),
        ("join: bytes <= 1 MB", h.wire.0 <= 1_000_000),
        (
            "join: first frame, synced and bytes within 20% of the baseline",
            within20(first, ms(median(b.first.clone())).max(1.0))
                && within20(synced, ms(median(b.synced.clone())).max(1.0))
                && within20(h.wire.0 as f64, b.wire.0 as f64),
        ),
        (
            "long room: first page drawn <= 200 ms",
            ms(median(h.opens.clone())) <= 200.0,
        ),
        (
            "archive: first page <= 200 ms",
            ms(median(h.browse.clone())).max(ms(median(h.search.clone()))) <= 200.0,
        ),
        (
            "server: listening and serving <= 1 s",
            ms(h.serving) <= 1000.0,
        ),
        ("server: RSS <= 150 MB", h.server_rss * 1024 <= 150_000_000),
        (
            "console: RSS after browsing <= 50 MB",
            field(hc, "after_kib") * 1024 <= 50_000_000,
        ),
    ];
    for (what, ok) in targets {
        println!("target {what}: {}", verdict(ok));
    }
}
