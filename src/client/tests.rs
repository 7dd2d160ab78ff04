//! Tests of feed addresses, reconnect backoff, and protocol v2 against a scripted feed:
//! the board in parts, incidents coming back, queries and their answers, a room merged and
//! paged in the replica.

use std::time::Duration;

use super::*;

#[test]
fn feed_urls() {
    assert_eq!(feed_url("ws://h:1").unwrap(), "ws://h:1/feed");
    assert_eq!(feed_url("h:1").unwrap(), "ws://h:1/feed");
    assert_eq!(feed_url("http://h:1/").unwrap(), "ws://h:1/feed");
    assert_eq!(feed_url("wss://h:1/x/feed").unwrap(), "wss://h:1/x/feed");
    assert!(feed_url("ftp://h").unwrap_err().contains("ftp://"));
    assert!(feed_url("").is_err());
}

#[test]
fn backoff_grows_with_jitter_and_caps() {
    let b = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(2),
    };
    for attempt in 0..30 {
        let d = b.delay(attempt);
        let step = (100u64 << attempt.min(20)).min(2000);
        assert!(d >= Duration::from_millis(step / 2), "{attempt}: {d:?}");
        assert!(d <= Duration::from_millis(step), "{attempt}: {d:?}");
    }
}

// ---- protocol v2 against a scripted feed ---------------------------------------------

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

use crate::model::{Incident, IncidentRef, State};
use crate::protocol::{
    ClientMessage, ErrorCode, Query, QueryResult, ServerMessage, SyncMode, encode,
};
use crate::report::export::ExportFormat;

type Served = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

const WAIT: Duration = Duration::from_secs(10);

/// A feed that accepts connections on a loopback port; `next` hands over the next one.
struct FakeFeed {
    url: String,
    listener: TcpListener,
}

impl FakeFeed {
    async fn start() -> FakeFeed {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/feed", listener.local_addr().unwrap());
        FakeFeed { url, listener }
    }

    /// The next connection, its hello read.
    async fn next(&self) -> (Served, ClientMessage) {
        let (tcp, _) = tokio::time::timeout(WAIT, self.listener.accept())
            .await
            .unwrap()
            .unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let hello = read(&mut ws).await.unwrap();
        (ws, hello)
    }
}

async fn read(ws: &mut Served) -> Option<ClientMessage> {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.unwrap()? {
            Ok(Message::Text(t)) => return Some(serde_json::from_str(t.as_str()).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

async fn send(ws: &mut Served, m: ServerMessage) {
    ws.send(Message::Text(encode(&m).into())).await.unwrap();
}

fn welcome(mode: SyncMode) -> ServerMessage {
    ServerMessage::Welcome {
        protocol: crate::protocol::PROTOCOL_VERSION,
        feed_id: "feed-1".into(),
        name: "ann".into(),
        access: None,
        head_seq: 0,
        mode,
        server_time: chrono::Utc::now(),
        max_frame_bytes: crate::protocol::MAX_FRAME_BYTES,
        recent_secs: 3600,
    }
}

/// A board part holding incidents `refs` (declared through the model), at seq 30.
fn part(refs: &[u32]) -> State {
    let mut s = State::default();
    for r in refs {
        let mut inc = sample_incident(*r);
        inc.elided = 40;
        s.incidents.insert(*r, inc);
    }
    s.seq = 30;
    s.next_ref = 10;
    s.partial = true;
    s
}

fn sample_incident(r: u32) -> Incident {
    let mut s = State::default();
    let e = crate::model::Event {
        seq: 1,
        at: chrono::Utc::now(),
        actor: "bot".into(),
        kind: crate::model::EventKind::Declared {
            incident: IncidentRef(r),
            title: format!("incident {r}"),
            service: None,
            severity: crate::model::Severity::try_from(2).unwrap(),
            restricted: false,
            alert_key: None,
        },
    };
    s.apply(&e).unwrap();
    s.incidents.remove(&r).unwrap()
}

async fn next_update(c: &mut Client) -> Update {
    tokio::time::timeout(WAIT, c.next()).await.unwrap().unwrap()
}

/// Updates until `pick` takes one.
async fn until<T>(c: &mut Client, mut pick: impl FnMut(Update) -> Option<T>) -> T {
    loop {
        if let Some(t) = pick(next_update(c).await) {
            return t;
        }
    }
}

#[tokio::test]
async fn the_board_comes_in_parts_and_replaces_the_replica_once_whole() {
    let feed = FakeFeed::start().await;
    let mut c = Client::start(ClientConfig::new(feed.url.clone(), "ann"));
    let (mut ws, hello) = feed.next().await;
    assert!(matches!(hello, ClientMessage::Hello { protocol: 2, .. }));
    send(&mut ws, welcome(SyncMode::Snapshot)).await;
    send(
        &mut ws,
        ServerMessage::Snapshot {
            state: part(&[1, 2]),
            more: true,
        },
    )
    .await;
    let mut last = part(&[5]);
    last.withheld.insert(IncidentRef(4));
    send(
        &mut ws,
        ServerMessage::Snapshot {
            state: last,
            more: false,
        },
    )
    .await;
    send(&mut ws, ServerMessage::Synced { seq: 30 }).await;
    let mut replica = Replica::default();
    let mut snapshots = 0;
    loop {
        let u = next_update(&mut c).await;
        replica.apply(&u).unwrap();
        match u {
            Update::Snapshot(_) => snapshots += 1,
            Update::Synced(_) => break,
            _ => {}
        }
    }
    assert_eq!(snapshots, 1, "one state, once every part has come");
    let s = &replica.state;
    assert_eq!(s.incidents.keys().copied().collect::<Vec<_>>(), [1, 2, 5]);
    assert!(s.withheld.contains(&IncidentRef(4)) && s.partial && s.seq == 30);
    assert_eq!(replica.recent, Some(Duration::from_secs(3600)));

    // An incident coming back to the live work is held from its frame on.
    send(
        &mut ws,
        ServerMessage::Incident {
            incident: Box::new(sample_incident(7)),
        },
    )
    .await;
    let u = until(&mut c, |u| matches!(u, Update::Incident(_)).then_some(u)).await;
    replica.apply(&u).unwrap();
    assert_eq!(
        replica.state.incident(IncidentRef(7)).unwrap().title,
        "incident 7"
    );
}

#[tokio::test]
async fn queries_wait_for_sync_join_export_parts_and_fail_with_their_id() {
    let feed = FakeFeed::start().await;
    let mut c = Client::start(ClientConfig::new(feed.url.clone(), "ann"));
    // Asked before the client is in sync: sent once it is.
    let export = c.ask(Query::Export {
        incident: IncidentRef(3),
        format: ExportFormat::Markdown,
    });
    let (mut ws, _) = feed.next().await;
    send(&mut ws, welcome(SyncMode::Snapshot)).await;
    send(
        &mut ws,
        ServerMessage::Snapshot {
            state: part(&[3]),
            more: false,
        },
    )
    .await;
    send(&mut ws, ServerMessage::Synced { seq: 30 }).await;
    let Some(ClientMessage::Query { id, query }) = read(&mut ws).await else {
        panic!("expected the export asked");
    };
    assert!(matches!(query, Query::Export { .. }));
    for (part, text) in ["# INC-3\n", "entries…\n", "the end\n"].iter().enumerate() {
        send(
            &mut ws,
            ServerMessage::Result {
                id: id.clone(),
                result: QueryResult::Export {
                    incident: IncidentRef(3),
                    part: part as u32,
                    text: text.to_string(),
                    last: part == 2,
                },
            },
        )
        .await;
    }
    let joined = tokio::time::timeout(WAIT, export)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        joined,
        QueryResult::Export {
            incident: IncidentRef(3),
            part: 0,
            text: "# INC-3\nentries…\nthe end\n".into(),
            last: true,
        }
    );

    // The console's way: answers and refusals come as updates with the id it chose.
    c.query_with_id(
        "s-q1".into(),
        Query::Timeline {
            incident: IncidentRef(3),
            before: 20,
            limit: Some(2),
        },
    );
    c.query_with_id(
        "s-q2".into(),
        Query::Open {
            incident: IncidentRef(99),
            limit: None,
        },
    );
    for _ in 0..2 {
        match read(&mut ws).await {
            Some(ClientMessage::Query { id, .. }) if id == "s-q1" => {
                send(
                    &mut ws,
                    ServerMessage::Result {
                        id,
                        result: QueryResult::Entries {
                            incident: IncidentRef(3),
                            entries: vec![],
                            more: false,
                        },
                    },
                )
                .await
            }
            Some(ClientMessage::Query { id, .. }) => {
                send(
                    &mut ws,
                    ServerMessage::Error {
                        id: Some(id),
                        code: ErrorCode::NotFound,
                        message: "INC-99 does not exist".into(),
                    },
                )
                .await
            }
            other => panic!("{other:?}"),
        }
    }
    let mut got = Vec::new();
    while got.len() < 2 {
        match next_update(&mut c).await {
            Update::Result { id, result } => got.push(format!("{id} ok {result:?}")),
            Update::QueryFailed { id, error } => {
                got.push(format!("{id} failed {:?} {}", error.code, error.message))
            }
            _ => {}
        }
    }
    got.sort();
    assert!(got[0].starts_with("s-q1 ok Entries"), "{got:?}");
    assert_eq!(got[1], "s-q2 failed NotFound INC-99 does not exist");
}

#[tokio::test]
async fn a_query_is_asked_again_after_a_reconnect_and_fails_when_the_client_stops() {
    let feed = FakeFeed::start().await;
    let mut config = ClientConfig::new(feed.url.clone(), "ann");
    config.backoff = Backoff {
        initial: Duration::from_millis(1),
        max: Duration::from_millis(5),
    };
    let c = Client::start(config);
    let metrics = c.ask(Query::Metrics { since: None });
    for round in 0..2 {
        let (mut ws, _) = feed.next().await;
        send(&mut ws, welcome(SyncMode::Snapshot)).await;
        send(
            &mut ws,
            ServerMessage::Snapshot {
                state: part(&[]),
                more: false,
            },
        )
        .await;
        send(&mut ws, ServerMessage::Synced { seq: 30 }).await;
        let Some(ClientMessage::Query { id, .. }) = read(&mut ws).await else {
            panic!("round {round}: expected the metrics asked");
        };
        assert!(id.starts_with("q-"), "{id}");
        // The first connection is lost before the answer; the second answers.
        if round == 1 {
            let m = crate::report::metrics::compute(
                &State::default(),
                None,
                None,
                &[],
                None,
                chrono::Utc::now(),
            );
            send(
                &mut ws,
                ServerMessage::Result {
                    id,
                    result: QueryResult::Metrics {
                        metrics: Box::new(m),
                    },
                },
            )
            .await;
            // Kept open until the client had its answer.
            let answered = tokio::time::timeout(WAIT, metrics).await.unwrap().unwrap();
            assert!(matches!(answered, Ok(QueryResult::Metrics { .. })));
            break;
        }
    }

    // A script's client (no reconnect): a query lost with the connection fails, saying why.
    let mut config = ClientConfig::new(feed.url.clone(), "ann");
    config.reconnect = false;
    let c = Client::start(config);
    let rx = c.ask(Query::Metrics { since: None });
    let (mut ws, _) = feed.next().await;
    send(&mut ws, welcome(SyncMode::Snapshot)).await;
    send(
        &mut ws,
        ServerMessage::Snapshot {
            state: part(&[]),
            more: false,
        },
    )
    .await;
    send(&mut ws, ServerMessage::Synced { seq: 30 }).await;
    assert!(matches!(
        read(&mut ws).await,
        Some(ClientMessage::Query { .. })
    ));
    drop(ws);
    let err = tokio::time::timeout(WAIT, rx)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Unavailable);
    assert!(
        err.message.starts_with("no answer from the feed: "),
        "{}",
        err.message
    );
}

#[test]
fn an_open_room_merges_with_the_board_and_pages_count_down() {
    // The board's summary: the newest entries and a key one; the feed's page: the newest.
    let mut s = State::default();
    let mut seq = 0;
    let mut ev = |kind| {
        seq += 1;
        crate::model::Event {
            seq,
            at: chrono::Utc::now(),
            actor: "lee".into(),
            kind,
        }
    };
    let r = IncidentRef(1);
    s.apply(&ev(crate::model::EventKind::Declared {
        incident: r,
        title: "t".into(),
        service: None,
        severity: crate::model::Severity::try_from(1).unwrap(),
        restricted: false,
        alert_key: None,
    }))
    .unwrap();
    for i in 0..60 {
        let kind = if i == 3 {
            crate::model::EntryKind::Decision
        } else {
            crate::model::EntryKind::Note
        };
        s.apply(&ev(crate::model::EventKind::EntryAdded {
            incident: r,
            entry_kind: kind,
            text: format!("n{i}"),
            occurred_at: chrono::Utc::now(),
            next_update_secs: None,
            public: false,
            briefing: None,
        }))
        .unwrap();
    }
    let whole = s.incident(r).unwrap().clone();
    assert_eq!(whole.entries.len(), 61);
    let mut replica = Replica::default();
    let mut board = s.clone();
    board.incidents.insert(1, whole.summary(10));
    replica.apply(&Update::Snapshot(board)).unwrap();
    assert_eq!(replica.state.incident(r).unwrap().elided, 50);

    let mut page = whole.clone();
    page.entries = whole.entries[41..].to_vec();
    page.elided = 41;
    let from = replica.take_opened(page, 20);
    assert_eq!(from, Some(whole.entries[41].id));
    let held = replica.state.incident(r).unwrap();
    // 20 from the page and the decision the board had; 40 older ones not held.
    assert_eq!((held.entries.len(), held.elided), (21, 40));
    let n = replica.take_page(r, whole.entries[21..41].to_vec(), true);
    assert_eq!(n, 20);
    assert_eq!(replica.state.incident(r).unwrap().elided, 20);
    // The decision comes again with the last page: counted once.
    let n = replica.take_page(r, whole.entries[..21].to_vec(), false);
    assert_eq!(n, 20);
    assert_eq!(replica.state.incident(r).unwrap().entries, whole.entries);
    assert_eq!(replica.state.incident(r).unwrap().elided, 0);
    // Back to a summary; events still fold on it.
    replica.trim(r);
    let held = replica.state.incident(r).unwrap();
    assert!(held.entries.len() < 61 && held.elided > 0);
}
