//! The feed over real WebSockets on a loopback port: shared order, late joiners, resume,
//! idempotent commands, bad frames, presence, and the client library's queue.

mod common;

use common::*;
use serde_json::{Value, json};
use warroom::client::{Client, ClientConfig, ConnState, Replica, Update};
use warroom::model::access::Viewer;
use warroom::model::{Command, IncidentRef, State};
use warroom::protocol::Answer;

fn state_of(frames: &[Value]) -> State {
    let snap = frames
        .iter()
        .find(|f| f["type"] == "snapshot")
        .expect("a snapshot");
    serde_json::from_value(snap["state"].clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_see_the_same_events_in_order_and_a_late_one_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let url = server.url();
    let (mut a, _) = Raw::join(&url, "alice", None).await;
    let (mut b, _) = Raw::join(&url, "bob", None).await;

    // Both write, interleaved and concurrently.
    let (ra, rb) = tokio::join!(
        async {
            let mut out = vec![seqs(&a.command(declare("Checkout 500s", 2)).await)];
            for i in 0..10 {
                out.push(seqs(&a.command(note("INC-1", &format!("alice {i}"))).await));
            }
            out
        },
        async {
            let mut out = vec![seqs(&b.command(declare("Search slow", 3)).await)];
            for i in 0..10 {
                out.push(seqs(&b.command(note("INC-2", &format!("bob {i}"))).await));
            }
            out
        }
    );
    let last = ra.iter().chain(&rb).flatten().max().copied().unwrap();
    assert_eq!(last, 22);
    let ea = a.events_until(last).await;
    let eb = b.events_until(last).await;
    assert_eq!(ea, eb, "both clients see the same events in the same order");
    let got: Vec<u64> = ea.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(got, (1..=22).collect::<Vec<_>>(), "contiguous");

    // A third client, later, gets the board of the fold of what the others saw: each
    // incident whole but for its older entries, counted in `elided`.
    let (_c, frames) = Raw::join(&url, "carol", None).await;
    let snapshot = state_of(&frames);
    let events: Vec<warroom::model::Event> = ea
        .into_iter()
        .map(|e| serde_json::from_value(e).unwrap())
        .collect();
    let carol = Viewer {
        name: "carol",
        sees_all: false,
    };
    let folded = State::from_events(&events).unwrap();
    assert_eq!(
        snapshot,
        folded.board_view(carol, warroom::server::BOARD_KEEP)
    );
    assert!(snapshot.partial);
    assert_eq!(
        frames.last().unwrap(),
        &json!({"type": "synced", "seq": 22})
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resuming_from_its_last_seq_gets_exactly_the_missed_events() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let url = server.url();
    let (mut a, _) = Raw::join(&url, "alice", None).await;
    a.command(declare("Checkout 500s", 2)).await;
    let (b, _) = Raw::join(&url, "bob", None).await;
    drop(b); // bob's laptop sleeps at seq 1
    for i in 0..5 {
        a.command(note("INC-1", &format!("while bob was away {i}")))
            .await;
    }
    let (mut b, frames) = Raw::join(&url, "bob", Some(1)).await;
    let welcome = &frames[0];
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["mode"], "events");
    assert_eq!(welcome["head_seq"], 6);
    let missed: Vec<u64> = frames
        .iter()
        .filter(|f| f["type"] == "event")
        .map(|f| f["event"]["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(missed, [2, 3, 4, 5, 6]);
    assert_eq!(frames.last().unwrap()["seq"], 6);
    // And live from there, with no duplicate.
    a.command(note("INC-1", "welcome back")).await;
    let next = b.next_non_presence().await.unwrap();
    assert_eq!(next["event"]["seq"], 7);

    // A client claiming more than the server has gets a snapshot instead.
    let (_c, frames) = Raw::join(&url, "carol", Some(999)).await;
    assert_eq!(frames[0]["mode"], "snapshot");
    assert_eq!(state_of(&frames).seq, 7);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_command_id_yields_one_event_and_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let url = server.url();
    let (mut a, _) = Raw::join(&url, "alice", None).await;
    let first = a.command_with_id("c-1", declare("Checkout 500s", 2)).await;
    let again = a.command_with_id("c-1", declare("Checkout 500s", 2)).await;
    assert_eq!(first, again);
    assert_eq!(first["incident"], "INC-1");
    // From another connection too (a retry after a reconnect).
    let (mut a2, frames) = Raw::join(&url, "alice", None).await;
    assert_eq!(state_of(&frames).incidents.len(), 1);
    assert_eq!(
        a2.command_with_id("c-1", declare("Checkout 500s", 2)).await,
        first
    );
    // A first rejection is also the answer forever, even once the command would succeed.
    let rej = a.command_with_id("c-2", note("INC-2", "x")).await;
    assert_eq!(rej["code"], "not_found");
    a.command(declare("Search slow", 3)).await;
    assert_eq!(a.command_with_id("c-2", note("INC-2", "x")).await, rej);
    // The same id from another person is another command.
    let (mut b, _) = Raw::join(&url, "bob", None).await;
    assert_eq!(
        seqs(&b.command_with_id("c-1", note("INC-1", "bob's")).await),
        [3]
    );
    let (_c, frames) = Raw::join(&url, "carol", None).await;
    assert_eq!(state_of(&frames).seq, 3, "exactly three events in all");
    server.shutdown().await.unwrap();
}

/// The same commands sent at once over several connections by one person: each recorded
/// once, every copy answered alike, also when two copies of an id answered before meet in
/// one group (the second was once decided again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_commands_sent_at_once_over_many_connections_are_recorded_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let url = server.url();
    let answers = the_same_commands_at_once(&url).await;
    // The whole log, from its start (a short log replays from 0).
    let (mut reader, _) = Raw::join(&url, "reader", Some(0)).await;
    let head = answers[0].iter().flat_map(seqs).max().unwrap();
    let log: Vec<(u64, Value)> = reader
        .events_until(head)
        .await
        .into_iter()
        .map(|e| (e["seq"].as_u64().unwrap(), e))
        .collect();
    each_recorded_once(&log, &answers);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_clear_errors_and_the_connection_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let url = server.url();

    // A hello with an unusable name is refused and the connection closed: retrying it as is
    // cannot succeed.
    let mut bad = Raw::connect(&url).await;
    bad.send(&json!({"type": "hello", "protocol": 2, "name": "  "}))
        .await;
    let e = bad.next().await.unwrap();
    assert_eq!(e["code"], "invalid");
    assert!(
        e["message"].as_str().unwrap().contains("name is empty"),
        "{e}"
    );
    assert!(bad.next().await.is_none(), "closed after an invalid hello");

    // Before hello: a command is refused, and hello still works afterwards.
    let mut c = Raw::connect(&url).await;
    c.send(&json!({"type": "command", "id": "x", "command": declare("a", 1)}))
        .await;
    let e = c.next().await.unwrap();
    assert_eq!(
        (e["code"].as_str(), e["id"].as_str()),
        (Some("expected_hello"), Some("x"))
    );
    c.send(&json!({"type": "hello", "protocol": 2, "name": "alice"}))
        .await;
    c.until("synced").await;
    c.name = "alice".into();

    let cases: Vec<(String, &str, &str)> = vec![
        ("{\"type\": \"command\", ".into(), "bad_frame", "malformed JSON"),
        ("[1,2]".into(), "bad_frame", "JSON object"),
        (json!({"type": "dance"}).to_string(), "unknown_type", "unknown message type 'dance'"),
        (json!({"id": "q"}).to_string(), "missing_field", "missing field `type`"),
        (json!({"type": "command", "command": declare("a", 1)}).to_string(), "missing_field", "missing field `id`"),
        (json!({"type": "command", "id": "q", "command": {"op": "declare", "severity": 1}}).to_string(), "missing_field", "missing field `title`"),
        (json!({"type": "command", "id": "q", "command": {"op": "declare", "title": "t", "severity": 5}}).to_string(), "invalid", "severity 5 does not exist"),
        (json!({"type": "command", "id": "q", "command": {"op": "launch"}}).to_string(), "invalid", "unknown variant `launch`"),
        (format!("{{\"type\":\"hello\",\"name\":\"{}\"}}", "x".repeat(70_000)), "frame_too_large", "the limit is 65536"),
        ("[".repeat(100_000), "frame_too_large", "the limit is 65536"),
        ("[".repeat(5_000), "bad_frame", "nested deeper than 128 levels"),
        (json!({"type": "hello", "protocol": 2, "name": "alice"}).to_string(), "expected_hello", "already received"),
    ];
    for (frame, code, needle) in cases {
        c.send_text(frame.clone()).await;
        let e = c.next_non_presence().await.expect("connection stays open");
        assert_eq!(e["type"], "error", "{frame:.60}");
        assert_eq!(e["code"], code, "{frame:.60}: {e}");
        let msg = e["message"].as_str().unwrap();
        assert!(
            msg.contains(needle),
            "{frame:.60}: '{msg}' lacks '{needle}'"
        );
    }
    // Binary frames are refused, not fatal.
    futures_util::SinkExt::send(
        &mut c.ws,
        tokio_tungstenite::tungstenite::Message::Binary(vec![1, 2].into()),
    )
    .await
    .unwrap();
    assert_eq!(c.next_non_presence().await.unwrap()["code"], "bad_frame");
    // The same connection still works.
    assert_eq!(seqs(&c.command(declare("still here", 2)).await), [1]);

    // Beyond the transport's hard limit the connection is cut; the server carries on.
    let mut big = Raw::connect(&url).await;
    // The feed refuses the frame from its header and closes with 1009 while this client is
    // still writing the payload; the kernel may then reset the connection, which can swallow
    // the close frame. Either way the connection is over, and nothing else is affected.
    let sent = futures_util::SinkExt::send(
        &mut big.ws,
        tokio_tungstenite::tungstenite::Message::Text("x".repeat(2 << 20).into()),
    )
    .await;
    if sent.is_ok() {
        loop {
            match tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut big.ws))
                .await
                .unwrap()
            {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(c)))) => {
                    assert_eq!(u16::from(c.code), 1009, "message too big");
                    break;
                }
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(None)))
                | None
                | Some(Err(_)) => break,
                Some(Ok(_)) => continue,
            }
        }
    }
    let (mut d, _) = Raw::join(&url, "dave", None).await;
    assert_eq!(seqs(&d.command(note("INC-1", "server fine")).await), [2]);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_follows_joins_and_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let url = server.url();
    let (mut a, _) = Raw::join(&url, "alice", None).await;
    let names = |f: &Value| -> Vec<(String, u64)> {
        f["present"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["connections"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let p = a.until("presence").await;
    assert_eq!(names(p.last().unwrap()), [("alice".to_string(), 1)]);
    let (b, _) = Raw::join(&url, "bob", None).await;
    let p = a.until("presence").await;
    assert_eq!(
        names(p.last().unwrap()),
        [("alice".to_string(), 1), ("bob".to_string(), 1)]
    );
    let (_a2, _) = Raw::join(&url, "alice", None).await;
    let p = a.until("presence").await;
    assert_eq!(
        names(p.last().unwrap()),
        [("alice".to_string(), 2), ("bob".to_string(), 1)]
    );
    drop(b);
    let p = a.until("presence").await;
    assert_eq!(names(p.last().unwrap()), [("alice".to_string(), 2)]);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_decide_who_you_are() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::server_config("127.0.0.1:0".parse().unwrap(), dir.path().into());
    cfg.tokens = Some(warroom::server::TokenTable::parse("alice 0123456789abcdef0123\n").unwrap());
    let server = warroom::server::start(cfg).await.unwrap();
    let url = server.url();
    let mut c = Raw::connect(&url).await;
    c.send(&json!({"type": "hello", "protocol": 2, "name": "mallory"}))
        .await;
    let e = c.next().await.unwrap();
    assert_eq!(e["code"], "unauthorized");
    assert!(c.next().await.is_none(), "closed after a refused hello");
    let mut c = Raw::connect(&url).await;
    c.send(&json!({"type": "hello", "protocol": 2, "name": "mallory", "token": "0123456789abcdef0123"}))
        .await;
    let frames = c.until("synced").await;
    assert_eq!(
        frames[0]["name"], "alice",
        "the token, not the claimed name, says who this is"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_queues_while_disconnected_and_delivers_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let addr = server.addr;
    let url = server.url();
    let outbox = tempfile::tempdir().unwrap();
    let mut cfg = ClientConfig::new(url.clone(), "alice");
    cfg.backoff.initial = std::time::Duration::from_millis(20);
    cfg.backoff.max = std::time::Duration::from_millis(200);
    cfg.outbox = Some(outbox.path().to_path_buf());
    let mut client = Client::start(cfg);
    let mut replica = Replica::default();
    async fn pump_until(
        client: &mut Client,
        replica: &mut Replica,
        mut done: impl FnMut(&Update, &Replica) -> bool,
    ) {
        tokio::time::timeout(WAIT, async {
            loop {
                let u = client.next().await.expect("client stopped");
                replica.apply(&u).unwrap();
                if done(&u, replica) {
                    return;
                }
            }
        })
        .await
        .expect("condition not reached in time");
    }
    pump_until(&mut client, &mut replica, |_, r| r.synced).await;
    let (_, rx) = client.submit(Command::Declare {
        title: "Checkout 500s".into(),
        severity: 2.try_into().unwrap(),
        service: None,
        restricted: false,
        detected_by: None,
    });
    pump_until(&mut client, &mut replica, |_, r| r.state.seq == 1).await;
    assert!(matches!(rx.await.unwrap(), Answer::Ok { .. }));

    // The feed goes away.
    server.shutdown().await.unwrap();
    pump_until(&mut client, &mut replica, |u, _| {
        matches!(u, Update::Conn(ConnState::Reconnecting { .. }))
    })
    .await;
    // Typed while offline: queued (on disk) and answered later.
    let mut answers = Vec::new();
    for i in 0..3 {
        answers.push(client.submit(Command::AddEntry {
            incident: IncidentRef(1),
            entry_kind: warroom::model::EntryKind::Note,
            text: format!("offline note {i}"),
            occurred_at: None,
            next_update_secs: None,
            public: false,
            briefing: None,
        }));
    }
    pump_until(&mut client, &mut replica, |_, r| r.queued == 3).await;
    assert_eq!(
        std::fs::read_dir(outbox.path()).unwrap().count(),
        3,
        "on disk before sending"
    );

    // It comes back on the same address with the same log.
    let server = start_on(dir.path(), &addr.to_string()).await;
    pump_until(&mut client, &mut replica, |_, r| {
        r.state.seq == 4 && r.queued == 0
    })
    .await;
    for (_, rx) in answers {
        assert!(matches!(rx.await.unwrap(), Answer::Ok { .. }));
    }
    let texts: Vec<String> = replica
        .state
        .incident(IncidentRef(1))
        .unwrap()
        .entries
        .iter()
        .map(|e| e.text.clone())
        .collect();
    assert_eq!(
        &texts[1..],
        ["offline note 0", "offline note 1", "offline note 2"]
    );
    assert_eq!(
        std::fs::read_dir(outbox.path()).unwrap().count(),
        0,
        "outbox emptied"
    );
    // The replica equals what a fresh client sees.
    let (_c, frames) = Raw::join(&url, "carol", None).await;
    assert_eq!(state_of(&frames), replica.state);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_different_feed_at_the_same_address_is_not_mistaken_for_the_old_one() {
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let server = start_server(dir_a.path()).await;
    let addr = server.addr.to_string();
    let outbox = tempfile::tempdir().unwrap();
    let mut cfg = ClientConfig::new(server.url(), "alice");
    cfg.backoff.initial = std::time::Duration::from_millis(20);
    cfg.backoff.max = std::time::Duration::from_millis(100);
    cfg.outbox = Some(outbox.path().to_path_buf());
    let mut client = Client::start(cfg);
    let mut replica = Replica::default();
    let mut updates = Vec::new();
    macro_rules! pump_until {
        ($cond:expr) => {
            tokio::time::timeout(WAIT, async {
                loop {
                    let u = client.next().await.expect("client stopped");
                    replica.apply(&u).unwrap();
                    updates.push(u);
                    if $cond(&replica) {
                        return;
                    }
                }
            })
            .await
            .expect("condition not reached in time")
        };
    }
    pump_until!(|r: &Replica| r.synced);
    for i in 0..3 {
        let (_, rx) = client.submit(Command::Declare {
            title: format!("old feed incident {i}"),
            severity: 2.try_into().unwrap(),
            service: None,
            restricted: false,
            detected_by: None,
        });
        pump_until!(|r: &Replica| r.state.seq == i + 1);
        rx.await.unwrap();
    }
    server.shutdown().await.unwrap();
    pump_until!(|r: &Replica| !r.synced);
    // Written for INC-2 of the old feed while it is away.
    let (_, rx) = client.submit(Command::AddEntry {
        incident: IncidentRef(2),
        entry_kind: warroom::model::EntryKind::Note,
        text: "meant for the old INC-2".into(),
        occurred_at: None,
        next_update_secs: None,
        public: false,
        briefing: None,
    });
    pump_until!(|r: &Replica| r.queued == 1);

    // Another feed, with a history of its own (one event), comes up at the same address.
    let other = start_on(dir_b.path(), &addr).await;
    {
        let (mut b, _) = Raw::join(&other.url(), "bob", None).await;
        seqs(&b.command(declare("new feed incident", 3)).await);
    }
    pump_until!(|r: &Replica| r.synced && r.queued == 0 && r.state.seq == 1);
    // The client shows the new feed's state, not a blend: its position (seq 3) in the old log
    // was not used to resume here.
    assert_eq!(replica.state.incidents.len(), 1);
    assert_eq!(
        replica.state.incident(IncidentRef(1)).unwrap().title,
        "new feed incident"
    );
    // The queued note was not sent to the new feed's incidents, and what was typed is kept.
    match rx.await.unwrap() {
        Answer::Error { message, .. } => {
            assert!(message.contains("written for another feed"), "{message}")
        }
        a => panic!("{a:?}"),
    }
    assert!(updates.iter().any(|u| matches!(u, Update::ServerError { message, .. } if message.contains("now serves a different feed"))));
    let kept: Vec<_> = std::fs::read_dir(outbox.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].extension().unwrap(), "other-feed");
    assert!(
        std::fs::read_to_string(&kept[0])
            .unwrap()
            .contains("meant for the old INC-2")
    );
    let (_c, frames) = Raw::join(&other.url(), "carol", None).await;
    assert_eq!(
        state_of(&frames).seq,
        1,
        "nothing was written to the new feed"
    );
    other.shutdown().await.unwrap();
}

/// A script that says hello with `"watch": false` is welcomed and synced at once, is sent
/// only the answers to what it sends (no board, no events, no presence), records as a
/// console does, and is not listed among those present.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_does_not_watch_is_sent_only_its_answers() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let url = server.url();
    let (mut alice, _) = Raw::join(&url, "alice", None).await;
    alice.command(declare("checkout errors", 2)).await;

    let mut bot = Raw::connect(&url).await;
    bot.name = "deploy-bot".into();
    bot.send(&json!({"type": "hello", "name": "deploy-bot", "protocol": 2, "watch": false}))
        .await;
    let joined = bot.until("synced").await;
    let types: Vec<&str> = joined.iter().filter_map(|f| f["type"].as_str()).collect();
    assert_eq!(types, ["welcome", "synced"], "{joined:?}");
    assert_eq!(joined[0]["mode"], "events");
    assert_eq!(joined[1]["seq"], joined[0]["head_seq"]);

    // What it records reaches the consoles; it is sent its answer alone.
    let answer = bot.command(note("INC-1", "rolled back 4471")).await;
    assert_eq!(answer["type"], "ok", "{answer}");
    let seq = seqs(&answer)[0];
    let seen = alice.events_until(seq).await;
    assert_eq!(seen.last().unwrap()["text"], "rolled back 4471");
    assert!(bot.events.is_empty(), "{:?}", bot.events);

    // A console's note is not sent to it, and neither is presence: the next frame it
    // reads is the answer to its next command.
    let (mut carol, _) = Raw::join(&url, "carol", None).await;
    let theirs = alice.command(note("INC-1", "error rate falling")).await;
    carol.events_until(seqs(&theirs)[0]).await;
    bot.send(&json!({"type": "command", "id": "b-2", "command": note("INC-1", "deploy paused")}))
        .await;
    let next = bot.next().await.unwrap();
    assert_eq!(
        (next["type"].as_str(), next["id"].as_str()),
        (Some("ok"), Some("b-2"))
    );
    let present = carol.until("presence").await;
    let names: Vec<&str> = present.last().unwrap()["present"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(!names.contains(&"deploy-bot"), "{names:?}");

    // It has no place in a room to move.
    bot.send(&json!({"type": "focus", "incident": "INC-1"}))
        .await;
    let refused = bot.next().await.unwrap();
    assert_eq!(refused["code"], "bad_frame", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("\"watch\": false")
    );
    server.shutdown().await.unwrap();
}
