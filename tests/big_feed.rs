//! Issue 13's done-criterion: a console and the CLI connect and work on a feed whose history
//! would have been a 40 MB snapshot. The history (one incident with 150,000 entries, 3,000
//! resolved incidents from the last year and a half, 20 small active ones) is appended
//! through the store in batches of 1,000, as the feed would have recorded it, and
//! `warroom serve` runs on it. Asserted on bytes and frame sizes, never on time: every frame a
//! client receives is at most 1 MiB, and a join carries the live work, not the history.
//!
//! The sizes can be changed for a bigger run:
//!
//! ```sh
//! WARROOM_BIG_ENTRIES=400000 WARROOM_BIG_ARCHIVED=10000 \
//!     cargo test --release --test big_feed -- --nocapture
//! ```

mod common;

use chrono::Utc;
use common::history::{Sizes, generate};
use common::{ServeProcess, WAIT, env_count};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use warroom::client::{Client, ClientConfig, Replica, Update};
use warroom::protocol::{HARD_FRAME_BYTES, Query, QueryResult};

/// Frames as a client receives them: every one measured.
struct Wire {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    bytes: usize,
    frames: usize,
    largest: usize,
}

impl Wire {
    async fn connect(url: &str) -> Wire {
        // No cap here: an oversized frame is measured and reported, not refused.
        let cfg = WebSocketConfig::default()
            .max_message_size(None)
            .max_frame_size(None);
        let (ws, _) = tokio::time::timeout(
            WAIT,
            tokio_tungstenite::connect_async_with_config(url, Some(cfg), false),
        )
        .await
        .expect("connect timed out")
        .expect("connect");
        Wire {
            ws,
            bytes: 0,
            frames: 0,
            largest: 0,
        }
    }

    async fn send(&mut self, v: Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    async fn next(&mut self) -> Value {
        loop {
            let f = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("no frame within the wait")
                .expect("the feed closed the connection")
                .expect("a frame");
            if let Message::Text(t) = f {
                self.bytes += t.len();
                self.frames += 1;
                self.largest = self.largest.max(t.len());
                return serde_json::from_str(t.as_str()).unwrap();
            }
        }
    }

    /// Frames until the first of type `ty`, presence left out.
    async fn until(&mut self, ty: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let f = self.next().await;
            let done = f["type"] == ty;
            if f["type"] != "presence" {
                out.push(f);
            }
            if done {
                return out;
            }
        }
    }

    /// The frames answering query `id`, up to the last (an error, or a result not in parts
    /// or the last part).
    async fn answer(&mut self, id: &str, query: Value) -> Vec<Value> {
        self.send(json!({"type": "query", "id": id, "query": query}))
            .await;
        let mut out = Vec::new();
        loop {
            let f = self.next().await;
            if f["id"] != id {
                continue;
            }
            let last = f["type"] == "error"
                || f["result"]["kind"] != "export"
                || f["result"]["last"] == true;
            out.push(f);
            if last {
                return out;
            }
        }
    }
}

fn mib(n: usize) -> String {
    format!("{:.2} MiB", n as f64 / (1024.0 * 1024.0))
}

#[test]
fn a_console_and_the_cli_work_on_a_feed_whose_history_would_be_a_40_mb_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("feed");
    let now = Utc::now();
    let started = std::time::Instant::now();
    let made = generate(
        &data,
        now,
        Sizes {
            big_entries: env_count("WARROOM_BIG_ENTRIES", 150_000),
            archived: env_count("WARROOM_BIG_ARCHIVED", 3_000),
            live: 20,
        },
    );
    eprintln!(
        "history: {} incidents, the long one {} entries; as a v1 snapshot {} (made in {:.1}s)",
        made.incidents,
        made.big_entries,
        mib(made.v1_snapshot_bytes),
        started.elapsed().as_secs_f64()
    );
    if std::env::var_os("WARROOM_BIG_ENTRIES").is_none() {
        assert!(
            made.v1_snapshot_bytes >= 40_000_000,
            "the history must be one that a v1 join would have sent as 40 MB: {}",
            made.v1_snapshot_bytes
        );
    }
    let policy = dir.path().join("quiet.toml");
    std::fs::write(&policy, "").unwrap();
    let server = ServeProcess::start_with(
        &data,
        "127.0.0.1:0",
        &["--policy", policy.to_str().unwrap()],
    );
    let rt = tokio::runtime::Runtime::new().unwrap();

    // ---- a join, as any client sees it on the wire ----
    let mut head_seq = 0;
    let (join_bytes, join_frames, join_largest, mut wire) = rt.block_on(async {
        let mut wire = Wire::connect(&server.url).await;
        wire.send(json!({"type": "hello", "name": "ann", "protocol": 2}))
            .await;
        let frames = wire.until("synced").await;
        assert_eq!(frames[0]["type"], "welcome", "{:?}", frames[0]);
        head_seq = frames[0]["head_seq"].as_u64().unwrap();
        let board: usize = frames
            .iter()
            .filter(|f| f["type"] == "snapshot")
            .map(|f| f["state"]["incidents"].as_array().map_or(0, Vec::len))
            .sum();
        // The live work: the long incident and the 20 of today, not the archive.
        assert_eq!(board, 21, "incidents on the board");
        let big = frames
            .iter()
            .filter(|f| f["type"] == "snapshot")
            .flat_map(|f| {
                f["state"]["incidents"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .find(|i| i["reference"] == made.big.to_string())
            .expect("the long incident is on the board");
        let held = big["entries"].as_array().unwrap().len();
        let elided = big["elided"].as_u64().unwrap_or(0) as usize;
        assert_eq!(held + elided, made.big_entries, "held + elided");
        assert!(
            held <= 200,
            "the board holds a summary, not the timeline: {held}"
        );
        let w = (wire.bytes, wire.frames, wire.largest);
        (w.0, w.1, w.2, wire)
    });
    eprintln!("join: {join_bytes} bytes in {join_frames} frames, the largest {join_largest} bytes");
    assert!(
        join_bytes <= 1_000_000,
        "a join carries the live work, not the history: {join_bytes} bytes"
    );
    assert!(join_largest <= HARD_FRAME_BYTES);

    // ---- a room opened on the long incident, paged back; the archive; export; metrics ----
    rt.block_on(async {
        let before = (wire.bytes, wire.largest);
        let open = wire
            .answer(
                "o1",
                json!({"op": "open", "incident": made.big.to_string()}),
            )
            .await;
        assert_eq!(open[0]["result"]["kind"], "incident", "{:?}", open[0]);
        let entries = open[0]["result"]["incident"]["entries"]
            .as_array()
            .unwrap()
            .clone();
        assert!(!entries.is_empty());
        let mut oldest = entries
            .iter()
            .filter_map(|e| e["id"].as_u64())
            .min()
            .unwrap();
        let mut paged = entries.len();
        for p in 0..3 {
            let page = wire
                .answer(
                    &format!("t{p}"),
                    json!({"op": "timeline", "incident": made.big.to_string(), "before": oldest}),
                )
                .await;
            let r = &page[0]["result"];
            assert_eq!(r["kind"], "entries", "{:?}", page[0]);
            let ids: Vec<u64> = r["entries"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| e["id"].as_u64())
                .collect();
            assert!(!ids.is_empty() && ids.iter().all(|id| *id < oldest));
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first");
            assert_eq!(r["more"], true);
            oldest = ids[0];
            paged += ids.len();
        }
        eprintln!(
            "room: {paged} entries in 4 answers, {} bytes, the largest frame {} bytes",
            wire.bytes - before.0,
            wire.largest
        );

        let found = wire
            .answer(
                "s1",
                json!({"op": "search", "text": "double-charges failover"}),
            )
            .await;
        let incidents = found[0]["result"]["incidents"].as_array().unwrap();
        assert_eq!(incidents.len(), 1, "{:?}", found[0]);
        assert_eq!(incidents[0]["reference"], made.needle.to_string());
        // The archive, a page at a time.
        let page = wire
            .answer("s2", json!({"op": "search", "active": false, "limit": 50}))
            .await;
        let r = &page[0]["result"];
        assert_eq!(r["incidents"].as_array().unwrap().len(), 50);
        assert!(r["next"].is_string(), "{r}");

        let before = wire.bytes;
        let export = wire
            .answer(
                "e1",
                json!({"op": "export", "incident": made.big.to_string(), "format": "md"}),
            )
            .await;
        let text: String = export
            .iter()
            .map(|f| f["result"]["text"].as_str().unwrap_or_default())
            .collect();
        assert!(
            text.contains("000000 checked checkout-api") && text.contains("re-check the cache"),
            "the export holds the whole timeline: {} parts, {} bytes: {:?} … {:?}",
            export.len(),
            text.len(),
            &export[0].to_string().chars().take(600).collect::<String>(),
            &text.chars().rev().take(300).collect::<String>()
        );
        eprintln!(
            "export of the long incident: {} in {} parts ({} bytes on the wire)",
            mib(text.len()),
            export.len(),
            wire.bytes - before
        );

        let m = wire.answer("m1", json!({"op": "metrics"})).await;
        assert_eq!(m[0]["result"]["kind"], "metrics", "{:?}", m[0]);
        assert_eq!(
            m[0]["result"]["metrics"]["incidents"].as_u64(),
            Some(made.incidents as u64)
        );
        eprintln!(
            "every frame: {} frames, the largest {} bytes",
            wire.frames, wire.largest
        );
        assert!(
            wire.largest <= HARD_FRAME_BYTES,
            "a frame of {} bytes",
            wire.largest
        );
    });

    // ---- the console's client: its replica, a room opened and paged back ----
    rt.block_on(async {
        // The client refuses any frame over 1 MiB: getting through is the assertion.
        let mut c = Client::start(ClientConfig::new(server.url.clone(), "cid"));
        let mut replica = Replica::default();
        tokio::time::timeout(WAIT, async {
            while !replica.synced {
                let u = c.next().await.expect("the client stopped");
                if let Update::Conn(warroom::client::ConnState::Stopped { reason }) = &u {
                    panic!("{reason}");
                }
                replica.apply(&u).unwrap();
            }
        })
        .await
        .expect("the console's client syncs");
        assert_eq!(replica.state.incidents.len(), 21);
        c.query_with_id(
            "open-1".into(),
            Query::Open {
                incident: made.big,
                limit: Some(200),
            },
        );
        let opened = tokio::time::timeout(WAIT, async {
            loop {
                match c.next().await.expect("the client stopped") {
                    Update::Result { id, result } if id == "open-1" => return result,
                    Update::QueryFailed { error, .. } => panic!("{error}"),
                    _ => {}
                }
            }
        })
        .await
        .unwrap();
        let QueryResult::Incident { incident } = opened else {
            panic!("{opened:?}")
        };
        let from = replica.take_opened(*incident, 200).unwrap();
        let held = replica.state.incident(made.big).unwrap();
        assert!(held.entries.len() >= 200 && held.elided > 0);
        let answer = c.ask(Query::Timeline {
            incident: made.big,
            before: from,
            limit: Some(200),
        });
        let page = tokio::time::timeout(WAIT, answer)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let QueryResult::Entries { entries, more, .. } = page else {
            panic!("{page:?}")
        };
        assert!(more);
        let n = replica.take_page(made.big, entries, more);
        assert!(n > 0);
    });

    // ---- the CLI ----
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
            .args(args)
            .env("WARROOM_SERVER", &server.addr)
            .env("WARROOM_NAME", "cli")
            .env_remove("WARROOM_TOKEN")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "warroom {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let board = cli(&["incidents"]);
    assert_eq!(board.lines().count(), 22, "{board}");
    assert!(board.contains("Checkout latency storm"), "{board}");
    let found = cli(&["incidents", "--all", "--search", "double-charges"]);
    assert!(
        found.contains(&made.needle.to_string()) && found.lines().count() == 2,
        "{found}"
    );
    let sev1 = cli(&[
        "incidents",
        "--all",
        "--severity",
        "1",
        "--service",
        "payments",
    ]);
    assert!(sev1.lines().count() > 100, "{} lines", sev1.lines().count());
    let small = cli(&["export", &made.needle.to_string(), "--format", "json"]);
    let doc: Value = serde_json::from_str(&small).unwrap();
    assert_eq!(
        doc["incident"]["title"],
        "Ledger double-charges after the failover"
    );
    let m: Value = serde_json::from_str(&cli(&["metrics", "--json"])).unwrap();
    assert_eq!(m["incidents"].as_u64(), Some(made.incidents as u64));
    let brief = cli(&["handoff"]);
    assert!(brief.contains("Checkout latency storm"), "{brief}");
    // The log from further back than a resume replays (the feed sends its board): read
    // from the feed's log, page by page, every event once and in order.
    let since = head_seq - 15_000;
    let log = cli(&["events", "--since", &since.to_string(), "--json"]);
    let seqs: Vec<u64> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        seqs,
        (since + 1..=head_seq).collect::<Vec<_>>(),
        "warroom events --since {since} prints every event after it"
    );
    drop(rt);
}
