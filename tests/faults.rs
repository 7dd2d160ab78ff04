//! Faults survived, with the real binaries:
//!
//! - `warroom serve` killed with SIGKILL at random moments while several clients write, and
//!   restarted on the same log and port, again and again: every acknowledged command's event
//!   is in the log exactly once, at the sequence number its answer named, and the log is
//!   contiguous and folds. The feed checkpoints its live work every 7 events here, so each
//!   restart reads a checkpoint and the tail: what it then serves is the fold of the log.
//! - A reconnect storm: every client cut at once; each reconnects by itself, resumes from its
//!   last sequence number, and ends with the server's sequence, no gaps, no duplicates.
//! - The console killed with notes waiting in its outbox: they are delivered, once, when it
//!   starts again.
//!
//! CI runs reduced counts; the full ones (and a seed to replay a run's kill moments):
//!
//! ```sh
//! WARROOM_FAULT_ROUNDS=50 WARROOM_STORM_CLIENTS=1000 \
//!     cargo test --release --test faults -- --nocapture
//! WARROOM_FAULT_SEED=1234 cargo test --test faults -- --nocapture sigkill
//! ```

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use futures_util::stream::FuturesUnordered;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use warroom::client::{Backoff, Client, ClientConfig, ConnState, Replica, Update};
use warroom::model::access::Viewer;
use warroom::model::{Command as Cmd, EntryKind, Event, IncidentRef, State};
use warroom::protocol::{Answer, SyncMode};
use warroom::server::BOARD_KEEP;

/// `warroom serve` checkpointing its live work every 7 events: restarts read a checkpoint
/// and a short tail.
const CHECKPOINT_OFTEN: &[&str] = &["--checkpoint-every", "7"];

/// Every incident is public in these tests: whoever reads sees them all.
const EVERYONE: Viewer = Viewer {
    name: "auditor",
    sees_all: true,
};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// Waits (bounded) until `cond` holds, woken by `notify` whenever it may have changed.
async fn wait_until(notify: &Notify, within: Duration, what: &str, cond: impl Fn() -> bool) {
    tokio::time::timeout(within, async {
        loop {
            let woken = notify.notified();
            if cond() {
                return;
            }
            woken.await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: not within {within:?}"));
}

/// Every event of a log read through a fresh client, checked contiguous from 1.
async fn whole_log(url: &str) -> Vec<Event> {
    let (auditor, _) = Raw::join(url, "auditor", Some(0)).await;
    let events: Vec<Event> = auditor
        .events
        .iter()
        .map(|e| serde_json::from_value(e.clone()).expect("an event"))
        .collect();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "the log is contiguous from 1"
    );
    events
}

/// Timeline entry text -> seq; each text must appear once.
fn entries(events: &[Event]) -> BTreeMap<String, u64> {
    let mut by_text = BTreeMap::new();
    for e in events {
        let v = serde_json::to_value(e).unwrap();
        if v["kind"] == "entry_added" {
            let text = v["text"].as_str().unwrap().to_string();
            if let Some(first) = by_text.insert(text.clone(), e.seq) {
                panic!("'{text}' recorded twice: at {first} and {}", e.seq);
            }
        }
    }
    by_text
}

fn add_note(text: &str) -> Cmd {
    Cmd::AddEntry {
        incident: IncidentRef(1),
        entry_kind: EntryKind::Note,
        text: text.to_string(),
        occurred_at: None,
        next_update_secs: None,
        public: false,
        briefing: None,
    }
}

// ---------------------------------------------------------------------------------------
// SIGKILL during concurrent writes
// ---------------------------------------------------------------------------------------

/// Shared by the writers and the killer.
#[derive(Default)]
struct Progress {
    /// Acknowledged commands so far: note text (also the raw writers' command id) -> seq.
    acked: Mutex<BTreeMap<String, u64>>,
    count: AtomicUsize,
    notify: Notify,
    /// Kills so far (the killer counts one just before sending SIGKILL).
    kills: AtomicUsize,
    stop: AtomicBool,
}

impl Progress {
    fn ack(&self, text: &str, seq: u64) {
        let before = self.acked.lock().unwrap().insert(text.to_string(), seq);
        assert!(before.is_none(), "{text} acknowledged twice");
        self.count.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// The kill that just cut a connection (0-based); `None` before the first (a
    /// connection the server closed, say for the command rate: retried all the same).
    fn current_kill(&self) -> Option<usize> {
        self.kills.load(Ordering::SeqCst).checked_sub(1)
    }
}

/// Commands a writer had sent (or queued) but not had answered when a kill cut it, with
/// the kill that did (0-based): sent again, with the same id, until answered.
type Caught = BTreeMap<String, usize>;

/// Writes notes over the raw protocol, one at a time, each with an id equal to its text.
/// A command the connection dies under is sent again with the SAME id after reconnecting.
async fn raw_writer(url: String, name: String, p: Arc<Progress>, deadline: Instant) -> Caught {
    let mut caught = Caught::new();
    let mut n = 0u64;
    let mut pending: Option<String> = None;
    let mut last_seq: Option<u64> = None;
    'connect: loop {
        assert!(
            Instant::now() < deadline,
            "{name}: still writing at the deadline"
        );
        if pending.is_none() && p.stop.load(Ordering::SeqCst) {
            return caught;
        }
        let mut ws = match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(&url)).await
        {
            Ok(Ok((ws, _))) => ws,
            // Down (being restarted): try again shortly.
            _ => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        let mut hello = json!({"type": "hello", "protocol": 2, "name": name});
        if let Some(s) = last_seq {
            // Resume after what this writer knows is durable: no snapshot on each reconnect.
            hello["last_seq"] = json!(s);
        }
        if ws
            .send(Message::Text(hello.to_string().into()))
            .await
            .is_err()
        {
            continue;
        }
        loop {
            let id = match pending.take() {
                Some(id) => id,
                None if p.stop.load(Ordering::SeqCst) => {
                    let _ = ws.close(None).await;
                    return caught;
                }
                None => {
                    n += 1;
                    format!("{name}-{n}")
                }
            };
            let cmd = json!({"type": "command", "id": id, "command": note("INC-1", &id)});
            let answer = if ws
                .send(Message::Text(cmd.to_string().into()))
                .await
                .is_err()
            {
                None
            } else {
                loop {
                    match tokio::time::timeout(WAIT, ws.next()).await {
                        Ok(Some(Ok(Message::Text(t)))) => {
                            let v: Value = serde_json::from_str(t.as_str()).unwrap();
                            if (v["type"] == "ok" || v["type"] == "error") && v["id"] == id.as_str()
                            {
                                break Some(v);
                            }
                        }
                        Ok(Some(Ok(_))) => {}
                        // Closed under us (killed), or silent: reconnect and send it again.
                        _ => break None,
                    }
                }
            };
            let Some(v) = answer else {
                if let Some(kill) = p.current_kill() {
                    caught.entry(id.clone()).or_insert(kill);
                }
                pending = Some(id);
                continue 'connect;
            };
            if v["type"] == "ok" {
                let seq = v["seqs"][0].as_u64().unwrap();
                last_seq = Some(last_seq.unwrap_or(0).max(seq));
                p.ack(&id, seq);
            } else if v["code"] == "unavailable" || v["code"] == "rate_limited" {
                // Nothing was recorded: the same id again, after a pause.
                pending = Some(id);
                tokio::time::sleep(Duration::from_millis(20)).await;
            } else {
                panic!("{name}: {id} refused: {v}");
            }
        }
    }
}

/// Commands each library writer keeps in flight.
const WINDOW: usize = 8;

/// Writes notes through the client library (what consoles and the CLI use), several in
/// flight at once: the library keeps unanswered commands and sends them again, same ids,
/// after it reconnects by itself.
async fn library_writer(url: String, name: String, p: Arc<Progress>, deadline: Instant) -> Caught {
    let mut cfg = ClientConfig::new(url, name.clone());
    cfg.backoff = Backoff {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(100),
    };
    let mut client = Client::start(cfg);
    let mut caught = Caught::new();
    let mut in_flight = FuturesUnordered::new();
    let mut outstanding = BTreeSet::new();
    let mut n = 0u64;
    loop {
        while in_flight.len() < WINDOW && !p.stop.load(Ordering::SeqCst) {
            n += 1;
            let text = format!("{name}-{n}");
            let (_, rx) = client.submit(add_note(&text));
            outstanding.insert(text.clone());
            in_flight.push(async move { (text, rx.await) });
        }
        if in_flight.is_empty() {
            return caught;
        }
        tokio::select! {
            Some((text, answer)) = in_flight.next() => {
                outstanding.remove(&text);
                match answer {
                    Ok(Answer::Ok { seqs, .. }) => p.ack(&text, seqs[0]),
                    Ok(other) => panic!("{name}: {text} refused: {other:?}"),
                    Err(_) => panic!("{name}: the client stopped before answering {text}"),
                }
            }
            u = client.next() => match u {
                Some(Update::Conn(ConnState::Reconnecting { .. })) => {
                    if let Some(kill) = p.current_kill() {
                        for t in &outstanding {
                            caught.entry(t.clone()).or_insert(kill);
                        }
                    }
                }
                Some(Update::Conn(ConnState::Stopped { reason })) => {
                    panic!("{name} stopped: {reason}")
                }
                None => panic!("{name}: the client task ended"),
                Some(_) => {}
            },
            _ = tokio::time::sleep_until(deadline) => {
                panic!("{name}: still writing at the deadline")
            }
        }
    }
}

/// The log as SIGKILL left it, read straight from the file before anything restarts
/// (read-only: recovery is left to the server). Returns the head and entry text -> seq.
fn durable_log(data: &Path) -> (u64, BTreeMap<String, u64>) {
    let conn = rusqlite::Connection::open_with_flags(
        data.join("events.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the killed server's log read-only");
    let mut stmt = conn
        .prepare("SELECT seq, body FROM events ORDER BY seq")
        .unwrap();
    let events: Vec<Event> = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(|row| {
            let (seq, body) = row.unwrap();
            let e: Event = serde_json::from_str(&body).unwrap();
            assert_eq!(e.seq, seq as u64, "stored seq and body agree");
            e
        })
        .collect();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "the killed server's log is contiguous"
    );
    (seqs.len() as u64, entries(&events))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_concurrent_writes_loses_and_duplicates_nothing() {
    const WRITERS: usize = 4;
    // Acknowledgements to wait for on each new server before the random delay starts, so
    // every kill lands while writes are flowing.
    const FLOWING: usize = 8;
    const MAX_DELAY_MS: u64 = 150;
    let rounds = env_count("WARROOM_FAULT_ROUNDS", 5);
    let seed = seed_from("WARROOM_FAULT_SEED");
    println!(
        "sigkill: {rounds} rounds, {WRITERS} writers, seed {seed} \
         (replay: WARROOM_FAULT_SEED={seed})"
    );
    let mut rng = fastrand::Rng::with_seed(seed);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60) + Duration::from_secs(2) * rounds as u32;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("feed");
    let first = ServeProcess::start_with(&data, "127.0.0.1:0", CHECKPOINT_OFTEN);
    let (url, addr) = (first.url.clone(), first.addr.clone());
    {
        let (mut a, _) = Raw::join(&url, "setup", None).await;
        seqs(&a.command(declare("Checkout 500s", 4)).await);
    }
    let mut server = Some(first);

    let p = Arc::new(Progress::default());
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (url, p) = (url.clone(), p.clone());
            // Half speak the protocol directly, half go through the client library.
            if w % 2 == 0 {
                tokio::spawn(raw_writer(url, format!("raw{w}"), p, deadline))
            } else {
                tokio::spawn(library_writer(url, format!("lib{w}"), p, deadline))
            }
        })
        .collect();

    let mut heads_at_kill = Vec::with_capacity(rounds);
    let mut restart_times = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let base = p.count.load(Ordering::SeqCst);
        wait_until(&p.notify, WAIT, "writes flowing", || {
            p.count.load(Ordering::SeqCst) >= base + FLOWING
        })
        .await;
        let delay = Duration::from_millis(rng.u64(0..=MAX_DELAY_MS));
        tokio::time::sleep(delay).await;
        p.kills.fetch_add(1, Ordering::SeqCst);
        server.take().unwrap().kill();
        // Every answer a writer has by now was sent before the process died: it must be
        // in the log exactly as answered, before anything restarts.
        let acked = p.acked.lock().unwrap().clone();
        let (head, durable) = durable_log(&data);
        for (text, seq) in &acked {
            assert_eq!(
                durable.get(text),
                Some(seq),
                "round {round}: acknowledged {text} missing or moved after SIGKILL (seed {seed})"
            );
        }
        heads_at_kill.push(head);
        let t = Instant::now();
        server = Some(ServeProcess::start_with(&data, &addr, CHECKPOINT_OFTEN));
        restart_times.push(t.elapsed());
        println!(
            "  round {:>2}: killed {:>3} ms into the writes, log head {head}, {} acknowledged",
            round + 1,
            delay.as_millis(),
            acked.len()
        );
    }
    // Writers finish what they have in flight (retrying it on the last server) and stop.
    p.stop.store(true, Ordering::SeqCst);
    let mut caught = Caught::new();
    for w in writers {
        let c = tokio::time::timeout(WAIT, w)
            .await
            .expect("a writer did not finish")
            .unwrap();
        caught.extend(c);
    }

    let server = server.unwrap();
    let events = whole_log(&server.url).await;
    let logged = entries(&events);
    let acked = p.acked.lock().unwrap().clone();
    // Exactly the acknowledged notes, each at the seq its answer named; nothing else.
    for (text, seq) in &acked {
        assert_eq!(
            logged.get(text),
            Some(seq),
            "acknowledged {text} missing or moved (seed {seed})"
        );
    }
    assert_eq!(
        logged.len(),
        acked.len(),
        "a note in the log that nobody had acknowledged (seed {seed})"
    );
    // The log folds, to the state the server serves.
    let folded = State::from_events(&events).expect("the log folds");
    let (_, frames) = Raw::join(&server.url, "auditor", None).await;
    let snapshot = frames
        .iter()
        .find(|f| f["type"] == "snapshot")
        .expect("a snapshot");
    let served: State = serde_json::from_value(snapshot["state"].clone()).unwrap();
    assert_eq!(
        served,
        folded.board_view(EVERYONE, BOARD_KEEP),
        "the served board is the fold of the log's"
    );
    // And the incident itself, every entry of it (read from the live work the last start
    // rebuilt from its checkpoint and tail).
    let mut auditor = Raw::join(&server.url, "auditor", None).await.0;
    auditor
        .send(&json!({"type": "query", "id": "q1", "query": {"op": "open", "incident": "INC-1", "limit": 1000}}))
        .await;
    let opened = auditor.until("result").await.pop().unwrap();
    let whole = folded.incident(IncidentRef(1)).unwrap();
    assert!(
        whole.entries.len() < 1000,
        "{} entries",
        whole.entries.len()
    );
    assert_eq!(
        opened["result"]["incident"],
        serde_json::to_value(whole).unwrap(),
        "the served incident is the fold of the log's"
    );
    server.kill();

    // Commands a kill caught in flight: had the dead server already recorded them?
    let recorded_before = caught
        .iter()
        .filter(|(text, kill)| acked[*text] <= heads_at_kill[**kill])
        .count();
    restart_times.sort();
    println!(
        "sigkill: {rounds} kills in {:.1} s; {} commands acknowledged, log contiguous \
         1..={}, each exactly once; {} caught in flight by a kill and sent again with the \
         same id: {recorded_before} had been recorded before the kill (the retry got the \
         first answer back), {} were recorded on retry; restart to listening p50 {} max {}",
        started.elapsed().as_secs_f64(),
        acked.len(),
        events.len(),
        caught.len(),
        caught.len() - recorded_before,
        ms(percentile(&restart_times, 0.5)),
        ms(percentile(&restart_times, 1.0)),
    );
}

// ---------------------------------------------------------------------------------------
// Reconnect storm
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Storm {
    /// Clients synced once (at start) and twice (after the cut).
    synced: [AtomicUsize; 2],
    notify: Notify,
}

/// One resumption after the cut, as a client saw it.
#[derive(Debug)]
struct Resume {
    mode: SyncMode,
    /// From the attempt starting (after the backoff) to the welcome: TCP, WebSocket
    /// upgrade, hello.
    connect: Duration,
    /// From the welcome to `synced`: the catch-up.
    catch_up: Duration,
    events: usize,
    synced_at: Instant,
}

#[derive(Debug, Default)]
struct Seen {
    snapshots: Vec<u64>,
    /// Every event's seq, in the order the client applied it.
    events: Vec<u64>,
    resumes: Vec<Resume>,
    /// Why each reconnect happened.
    reasons: Vec<String>,
    max_attempt: u32,
    state: State,
}

/// A console-like client: the library's default backoff, a replica, and a record of every
/// update it applied. Ends once caught up to the target the test sets at the end.
async fn storm_client(
    url: String,
    name: String,
    storm: Arc<Storm>,
    mut target: watch::Receiver<Option<u64>>,
    deadline: Instant,
) -> Seen {
    let mut client = Client::start(ClientConfig::new(url, name.clone()));
    let mut replica = Replica::default();
    let mut seen = Seen::default();
    let mut welcome: Option<(Instant, SyncMode, usize, Duration)> = None;
    let mut connecting = Instant::now();
    let mut synced = 0;
    loop {
        let t = *target.borrow();
        if let Some(t) = t
            && replica.synced
            && replica.state.seq >= t
        {
            break;
        }
        let u = tokio::select! {
            u = client.next() => u.unwrap_or_else(|| panic!("{name}: the client task ended")),
            changed = target.changed() => {
                changed.expect("the test ended");
                continue;
            }
            _ = tokio::time::sleep_until(deadline) => {
                panic!("{name} did not catch up: at {} of {t:?}; {seen:?}", replica.state.seq)
            }
        };
        replica
            .apply(&u)
            .unwrap_or_else(|e| panic!("{name}: the replica does not fold: {e}"));
        match &u {
            Update::Conn(ConnState::Connecting) => connecting = Instant::now(),
            Update::Welcome { mode, .. } => {
                let connect = connecting.elapsed();
                welcome = Some((Instant::now(), *mode, seen.events.len(), connect));
            }
            Update::Snapshot(s) => seen.snapshots.push(s.seq),
            Update::Event(e) => seen.events.push(e.seq),
            Update::Synced(_) => {
                let (at, mode, before, connect) = welcome.take().expect("synced before welcome");
                if synced > 0 {
                    seen.resumes.push(Resume {
                        mode,
                        connect,
                        catch_up: at.elapsed(),
                        events: seen.events.len() - before,
                        synced_at: Instant::now(),
                    });
                }
                if synced < 2 {
                    storm.synced[synced].fetch_add(1, Ordering::SeqCst);
                    storm.notify.notify_waiters();
                }
                synced += 1;
            }
            Update::Conn(ConnState::Reconnecting {
                attempt, reason, ..
            }) => {
                seen.max_attempt = seen.max_attempt.max(*attempt);
                seen.reasons.push(reason.clone());
            }
            Update::Conn(ConnState::Stopped { reason }) => panic!("{name} stopped: {reason}"),
            _ => {}
        }
    }
    seen.state = replica.state;
    seen
}

/// A client that resumes by hand over the raw protocol, to see exactly what the server
/// sends on a resume (the library quietly drops duplicates; this does not).
async fn raw_observer(
    url: String,
    name: String,
    storm: Arc<Storm>,
    mut target: watch::Receiver<Option<u64>>,
) {
    let (mut c, frames) = Raw::join(&url, &name, None).await;
    let start: State = serde_json::from_value(
        frames.iter().find(|f| f["type"] == "snapshot").unwrap()["state"].clone(),
    )
    .unwrap();
    storm.synced[0].fetch_add(1, Ordering::SeqCst);
    storm.notify.notify_waiters();
    let mut last = start.seq;
    let check = |e: &Value, last: &mut u64| {
        let seq = e["seq"].as_u64().unwrap();
        assert_eq!(seq, *last + 1, "{name}: the server sent {seq} after {last}");
        *last = seq;
    };
    // Live until the cut closes the connection.
    loop {
        match tokio::time::timeout(WAIT * 4, c.ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == "event" {
                    check(&v["event"], &mut last);
                }
            }
            Ok(Some(Ok(_))) => {}
            Ok(_) => break,
            Err(_) => panic!("{name}: never cut"),
        }
    }
    // Resume from `last`, retrying while the server restarts.
    let until = Instant::now() + WAIT;
    let mut ws = loop {
        assert!(Instant::now() < until, "{name}: the server never came back");
        if let Ok(Ok((ws, _))) =
            tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(&url)).await
        {
            break ws;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let hello = json!({"type": "hello", "protocol": 2, "name": name, "last_seq": last});
    ws.send(Message::Text(hello.to_string().into()))
        .await
        .unwrap();
    let mut welcomed = false;
    loop {
        let t = *target.borrow();
        if let Some(t) = t
            && last >= t
        {
            return;
        }
        tokio::select! {
            f = tokio::time::timeout(WAIT, ws.next()) => match f.expect("no frame in time") {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    match v["type"].as_str() {
                        Some("welcome") => {
                            assert_eq!(v["mode"], "events", "{name}: resumed, not snapshotted");
                            welcomed = true;
                        }
                        Some("event") => {
                            assert!(welcomed);
                            check(&v["event"], &mut last);
                        }
                        Some("snapshot") => panic!("{name}: a snapshot instead of a resume"),
                        _ => {}
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("{name}: connection ended: {other:?}"),
            },
            changed = target.changed() => changed.expect("the test ended"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_storm_resumes_every_client_without_gaps_or_duplicates() {
    /// Notes written live before and after the cut.
    const LIVE: usize = 20;
    /// Notes typed during the outage: queued by the writer's client, sent when it is back,
    /// so clients that come back later catch up from the log.
    const BACKLOG: usize = 100;
    const OBSERVERS: usize = 2;
    let m = env_count("WARROOM_STORM_CLIENTS", 50);
    let started = Instant::now();
    let within = WAIT + Duration::from_millis(30) * m as u32;
    let deadline = started + within * 4;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("feed");
    let server = ServeProcess::start(&data);
    let (url, addr) = (server.url.clone(), server.addr.clone());
    {
        let (mut a, _) = Raw::join(&url, "setup", None).await;
        seqs(&a.command(declare("Checkout 500s", 4)).await);
    }
    let storm = Arc::new(Storm::default());
    let (target_tx, target_rx) = watch::channel(None);
    let clients: Vec<_> = (0..m)
        .map(|i| {
            tokio::spawn(storm_client(
                url.clone(),
                format!("c{i}"),
                storm.clone(),
                target_rx.clone(),
                deadline,
            ))
        })
        .collect();
    let observers: Vec<_> = (0..OBSERVERS)
        .map(|i| {
            tokio::spawn(raw_observer(
                url.clone(),
                format!("o{i}"),
                storm.clone(),
                target_rx.clone(),
            ))
        })
        .collect();
    wait_until(&storm.notify, within, "every client synced", || {
        storm.synced[0].load(Ordering::SeqCst) == m + OBSERVERS
    })
    .await;
    let connected = started.elapsed();

    let writer = Client::start(ClientConfig::new(url.clone(), "scribe"));
    let answer = async |rx: tokio::sync::oneshot::Receiver<Answer>| -> u64 {
        match tokio::time::timeout(within, rx).await {
            Ok(Ok(Answer::Ok { seqs, .. })) => seqs[0],
            other => panic!("the writer's note was not recorded: {other:?}"),
        }
    };
    for i in 0..LIVE {
        answer(writer.submit(add_note(&format!("before the cut {i}"))).1).await;
    }

    // The cut: the feed dies under every connection at once.
    let t0 = Instant::now();
    server.kill();
    let backlog: Vec<_> = (0..BACKLOG)
        .map(|i| writer.submit(add_note(&format!("during the outage {i}"))).1)
        .collect();
    let server = ServeProcess::start_on(&data, &addr);
    let restarted = t0.elapsed();
    wait_until(&storm.notify, within, "every client resumed", || {
        storm.synced[1].load(Ordering::SeqCst) == m
    })
    .await;
    for rx in backlog {
        answer(rx).await;
    }
    for i in 0..LIVE {
        answer(writer.submit(add_note(&format!("after the cut {i}"))).1).await;
    }

    // The server's log is the reference: every client must end with exactly it.
    let events = whole_log(&server.url).await;
    let head = events.len() as u64;
    let reference = State::from_events(&events).expect("the log folds");
    assert_eq!(entries(&events).len(), 2 * LIVE + BACKLOG);
    target_tx.send(Some(head)).unwrap();
    let mut seen = Vec::with_capacity(m);
    for c in clients {
        seen.push(
            tokio::time::timeout(within, c)
                .await
                .expect("a client did not finish")
                .unwrap(),
        );
    }
    for o in observers {
        tokio::time::timeout(within, o)
            .await
            .expect("an observer did not finish")
            .unwrap();
    }
    drop(writer);
    server.kill();

    let mut settle = Vec::with_capacity(m);
    let mut connects = Vec::new();
    // Welcome -> synced, for resumes that read events from the log and for those that had
    // nothing to catch up (the catch-up reads share one SQLite reader behind a mutex).
    let (mut from_log, mut at_head) = (Vec::new(), Vec::new());
    let mut max_events = 0;
    for (i, s) in seen.iter().enumerate() {
        assert_eq!(
            s.snapshots.len(),
            1,
            "c{i}: one snapshot (the first connection) and resumes after that: {s:?}"
        );
        let from = s.snapshots[0];
        assert_eq!(
            s.events,
            (from + 1..=head).collect::<Vec<_>>(),
            "c{i}: every event after its snapshot, once each, in order"
        );
        assert_eq!(
            s.state.board_view(EVERYONE, BOARD_KEEP),
            reference.board_view(EVERYONE, BOARD_KEEP),
            "c{i}: the replica holds the server's state (its board, at least)"
        );
        assert!(
            !s.resumes.is_empty() && s.max_attempt >= 1,
            "c{i} was never cut: {s:?}"
        );
        assert!(
            s.resumes.iter().all(|r| r.mode == SyncMode::Events),
            "c{i}: resumed from its last seq, not a snapshot: {:?}",
            s.resumes
        );
        assert!(
            !s.reasons.iter().any(|r| r.contains("gap")),
            "c{i}: the server sent a gap: {:?}",
            s.reasons
        );
        settle.push(s.resumes[0].synced_at - t0);
        for r in &s.resumes {
            connects.push(r.connect);
            max_events = max_events.max(r.events);
            if r.events > 0 {
                from_log.push(r.catch_up);
            } else {
                at_head.push(r.catch_up);
            }
        }
    }
    let max_attempt = seen.iter().map(|s| s.max_attempt).max().unwrap_or(0);
    let spread = |v: &mut Vec<Duration>| {
        v.sort();
        format!(
            "p50 {} p99 {} max {}",
            ms(percentile(v, 0.5)),
            ms(percentile(v, 0.99)),
            ms(percentile(v, 1.0))
        )
    };
    println!(
        "storm: {m} clients (+{OBSERVERS} raw observers), the library's default backoff\n\
         \x20 all connected and synced at the start in {:.2} s\n\
         \x20 cut by SIGKILL; the feed listening again after {}\n\
         \x20 cut -> each client resumed: {}\n\
         \x20 per resume ({} in all, at most {max_attempt} attempts after the cut):\n\
         \x20   attempt -> welcome (TCP, upgrade, hello): {}\n\
         \x20   welcome -> synced, {} resumes that read up to {max_events} events from the \
         log: {}\n\
         \x20   welcome -> synced, {} resumes already at the head: {}\n\
         \x20 log head {head}; no gaps, no duplicates, every replica equal to the server's \
         state; {:.1} s in all",
        connected.as_secs_f64(),
        ms(restarted),
        spread(&mut settle),
        connects.len(),
        spread(&mut connects),
        from_log.len(),
        spread(&mut from_log),
        at_head.len(),
        spread(&mut at_head),
        started.elapsed().as_secs_f64(),
    );
}

// ---------------------------------------------------------------------------------------
// The console killed with notes in its outbox
// ---------------------------------------------------------------------------------------

/// A private tmux server (the minimum of tests/tmux.rs's helper), killed when the test ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new() -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            assert!(
                std::env::var_os("WARROOM_SKIP_TMUX").is_some(),
                "tmux is needed for the console's fault test: apt-get install -y tmux \
                 (or set WARROOM_SKIP_TMUX=1 to skip it)"
            );
            return None;
        }
        Some(Tmux {
            socket: format!("warroom-faults-{}", std::process::id()),
        })
    }

    fn cmd(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts the console through a wrapper that writes its pid to `pidfile` and `exec`s
    /// it, so the test can SIGKILL the console itself. Returns the pid.
    fn console(&self, session: &str, env: &[(&str, String)], pidfile: &Path) -> u32 {
        let _ = std::fs::remove_file(pidfile);
        let script = format!(
            "echo $$ > '{}'; exec '{}'",
            pidfile.display(),
            env!("CARGO_BIN_EXE_warroom")
        );
        let status = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(["new-session", "-d", "-s", session, "-x", "160", "-y", "48"])
            .args(
                env.iter()
                    .flat_map(|(k, v)| ["-e".to_string(), format!("{k}={v}")]),
            )
            .args(["-e", "TERM=xterm-256color", "-e", "WARROOM_LOG=debug"])
            // The console's log in the test's directory, not the machine's state directory.
            .args([
                "-e".to_string(),
                format!("WARROOM_STATE_DIR={}", pidfile.parent().unwrap().display()),
            ])
            .args(["sh", "-c", &script])
            .status()
            .unwrap();
        assert!(status.success());
        poll(&format!("{session}'s pid file"), || {
            std::fs::read_to_string(pidfile)
                .ok()
                .and_then(|s| s.trim().parse().ok())
        })
    }

    fn screen(&self, session: &str) -> String {
        self.cmd(&["capture-pane", "-p", "-t", session])
    }

    fn keys(&self, session: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", session];
        args.extend_from_slice(keys);
        self.cmd(&args);
    }

    fn type_text(&self, session: &str, text: &str) {
        self.cmd(&["send-keys", "-t", session, "-l", text]);
    }

    fn wait_for(&self, session: &str, needle: &str) -> String {
        let mut last = String::new();
        poll(&format!("'{needle}' on {session}"), || {
            last = self.screen(session);
            last.contains(needle).then(|| last.clone())
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

/// Polls `f` every 50 ms until it gives a value; panics after the wait.
fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within {WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGKILL to a process this test started, then wait until it is gone.
fn sigkill(pid: u32) {
    let pid = pid.to_string();
    let status = Command::new("kill").args(["-KILL", &pid]).status().unwrap();
    assert!(status.success(), "kill -KILL {pid}");
    poll(&format!("process {pid} gone"), || {
        let alive = Command::new("kill")
            .args(["-0", &pid])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        (!alive).then_some(())
    });
}

/// The commands waiting in every outbox under `data`.
fn outbox_files(data: &Path) -> Vec<PathBuf> {
    let Ok(dirs) = std::fs::read_dir(data.join("outbox")) else {
        return Vec::new();
    };
    dirs.flatten()
        .filter_map(|d| std::fs::read_dir(d.path()).ok())
        .flat_map(|files| files.flatten().map(|f| f.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect()
}

/// How many times each of `texts` is in the feed's log.
fn count_in_log(rt: &tokio::runtime::Runtime, url: &str, texts: &[&str]) -> Vec<usize> {
    let events = rt.block_on(async {
        let (c, _) = Raw::join(url, "auditor", Some(0)).await;
        c.events
    });
    texts
        .iter()
        .map(|t| events.iter().filter(|e| e["text"] == *t).count())
        .collect()
}

#[test]
fn the_console_outbox_survives_the_console_being_killed() {
    let Some(tmux) = Tmux::new() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("feed");
    let console_data = dir.path().join("lee-data");
    let pidfile = dir.path().join("console.pid");
    let server = ServeProcess::start(&feed);
    let (url, addr) = (server.url.clone(), server.addr.clone());
    rt.block_on(async {
        let (mut c, _) = Raw::join(&url, "bot", None).await;
        seqs(&c.command(declare("Checkout returns 500s", 1)).await);
    });
    let env = [
        ("WARROOM_SERVER", url.clone()),
        ("WARROOM_NAME", "lee".to_string()),
        ("WARROOM_DATA_DIR", console_data.display().to_string()),
        (
            "WARROOM_CONFIG",
            dir.path().join("lee-config.toml").display().to_string(),
        ),
    ];
    let open_room = |session: &str| {
        tmux.wait_for(session, "Checkout returns 500s");
        tmux.keys(session, &["Enter"]);
        tmux.wait_for(session, "Timeline");
        tmux.keys(session, &["i"]);
        tmux.wait_for(session, "enter records");
    };

    // The console is in the room; the feed goes away; the scribe records two notes, which
    // wait in the on-disk outbox.
    let pid = tmux.console("one", &env, &pidfile);
    tmux.wait_for("one", "● live");
    open_room("one");
    server.kill();
    tmux.wait_for("one", "DISCONNECTED");
    let notes = ["first note typed offline", "second note typed offline"];
    tmux.type_text("one", notes[0]);
    tmux.keys("one", &["Enter"]);
    tmux.wait_for("one", "1 queued");
    tmux.type_text("one", notes[1]);
    tmux.keys("one", &["Enter"]);
    tmux.wait_for("one", "2 queued");
    assert_eq!(outbox_files(&console_data).len(), 2, "both notes on disk");

    // The console itself is killed: no chance to save anything more.
    sigkill(pid);
    assert_eq!(
        outbox_files(&console_data).len(),
        2,
        "the outbox survives the kill"
    );

    // The feed comes back; the console starts again with the same data directory and
    // delivers what was queued, once.
    let server = ServeProcess::start_on(&feed, &addr);
    let pid = tmux.console("two", &env, &pidfile);
    tmux.wait_for("two", "● live");
    poll("the queued notes delivered", || {
        (count_in_log(&rt, &server.url, &notes) == [1, 1]).then_some(())
    });
    poll("the outbox emptied", || {
        outbox_files(&console_data).is_empty().then_some(())
    });
    open_room("two");
    let s = tmux.wait_for("two", notes[1]);
    assert_eq!(s.matches(notes[0]).count(), 1, "{s}");
    assert_eq!(s.matches(notes[1]).count(), 1, "{s}");

    // Killed again, this time just after a note reached the outbox while the feed is up:
    // sent or not, answered or not, it ends up in the log exactly once.
    let third = "third note, the console killed as it was sent";
    tmux.type_text("two", third);
    tmux.keys("two", &["Enter"]);
    poll("the third note written to the outbox", || {
        let on_disk = outbox_files(&console_data)
            .iter()
            .any(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains(third)));
        // Or already answered and removed.
        (on_disk || count_in_log(&rt, &server.url, &[third]) == [1]).then_some(())
    });
    sigkill(pid);
    let left = outbox_files(&console_data).len();
    let _pid = tmux.console("three", &env, &pidfile);
    tmux.wait_for("three", "● live");
    poll("the third note delivered", || {
        (count_in_log(&rt, &server.url, &[third]) == [1]).then_some(())
    });
    poll("the outbox emptied", || {
        outbox_files(&console_data).is_empty().then_some(())
    });
    assert_eq!(
        count_in_log(&rt, &server.url, &[notes[0], notes[1], third]),
        [1, 1, 1],
        "each note exactly once"
    );
    println!(
        "console outbox: two notes queued offline survived SIGKILL and were delivered once; \
         the third was {} when the console was killed",
        if left > 0 {
            "still in the outbox"
        } else {
            "already answered"
        }
    );
    server.kill();
}
