//! Identities and permissions on a loopback feed: tokens name a person and a role; a viewer
//! reads but cannot act; `warroom token add|list|revoke` through the real binary; a revoked
//! token is refused at its next handshake and its live sessions are closed; scripts on this
//! machine use the local feed's token by themselves; the CLI and the console say "not
//! allowed: …" plainly.

mod common;

use std::path::Path;
use std::process::{Command as Process, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use warroom::protocol::Access;
use warroom::server::auth::{self, add_token, ensure_local_token, revoke_token};
use warroom::server::{RunningServer, ServerConfig};

const NOT_ALLOWED: &str =
    "not allowed: viewers can read but not change incidents (ask an admin for a responder token)";

/// A feed on loopback whose periodic token check is out of the way: tests trigger the
/// check themselves with `RunningServer::check_tokens`.
async fn serve(dir: &Path, f: impl FnOnce(&mut ServerConfig)) -> RunningServer {
    let mut cfg = server_config("127.0.0.1:0".parse().unwrap(), dir.to_path_buf());
    cfg.rules = Arc::new(quiet_rules());
    cfg.token_check_every = Duration::from_secs(3600);
    f(&mut cfg);
    warroom::server::start(cfg).await.unwrap()
}

/// Connects and says hello with `token`; returns the connection and the frames up to the
/// refusal or `synced`.
async fn hello(url: &str, name: &str, token: Option<&str>) -> (Raw, Vec<Value>) {
    let mut c = Raw::connect(url).await;
    c.name = name.to_string();
    let mut h = json!({"type": "hello", "protocol": 2, "name": name});
    if let Some(t) = token {
        h["token"] = json!(t);
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

async fn join(url: &str, name: &str, token: &str) -> (Raw, Vec<Value>) {
    let (c, frames) = hello(url, name, Some(token)).await;
    assert_eq!(
        frames.last().map(|f| f["type"].clone()),
        Some(json!("synced")),
        "{frames:?}"
    );
    (c, frames)
}

/// Reads to the end of the connection: the text frames, and the close code and reason.
async fn until_closed(c: &mut Raw) -> (Vec<Value>, Option<(u16, String)>) {
    let mut frames = Vec::new();
    loop {
        let f = tokio::time::timeout(WAIT, c.ws.next())
            .await
            .expect("the connection was not closed within the wait");
        match f {
            Some(Ok(Message::Text(t))) => frames.push(serde_json::from_str(t.as_str()).unwrap()),
            Some(Ok(Message::Close(close))) => {
                return (
                    frames,
                    close.map(|c| (u16::from(c.code), c.reason.to_string())),
                );
            }
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return (frames, None),
        }
    }
}

fn errors(frames: &[Value]) -> Vec<&Value> {
    frames.iter().filter(|f| f["type"] == "error").collect()
}

/// The real binary, kept away from this machine's own feed, data and tokens.
fn warroom(args: &[&str], env: &[(&str, &str)], home: &Path) -> Output {
    let mut p = Process::new(env!("CARGO_BIN_EXE_warroom"));
    p.args(args)
        .env_remove("WARROOM_TOKEN")
        .env_remove("WARROOM_SERVER")
        .env_remove("WARROOM_NAME")
        .env("WARROOM_DATA_DIR", home.join("cli-data"))
        .env("WARROOM_LOCAL_FEED", "127.0.0.1:9")
        .stdin(Stdio::null());
    for (k, v) in env {
        p.env(k, v);
    }
    p.output().unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `warroom token add NAME --role ROLE --data DIR`; returns the token it printed.
fn token_add(dir: &Path, name: &str, role: &str) -> String {
    let d = dir.display().to_string();
    let o = warroom(
        &["token", "add", name, "--role", role, "--data", &d],
        &[],
        dir,
    );
    assert!(o.status.success(), "{}", err(&o));
    let printed = out(&o);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 1, "only the token goes to stdout: {printed}");
    lines[0].trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_cannot_act_and_a_responder_can() {
    let dir = tempfile::tempdir().unwrap();
    let viewer = add_token(dir.path(), "vera", Access::Viewer).unwrap();
    let responder = add_token(dir.path(), "rob", Access::Responder).unwrap();
    let server = serve(dir.path(), |_| {}).await;
    let url = server.url();

    // A token-protected feed: no token, no entry; the claimed name means nothing.
    let (_c, frames) = hello(&url, "vera", None).await;
    assert_eq!(errors(&frames)[0]["code"], "unauthorized", "{frames:?}");

    let (mut v, frames) = join(&url, "mallory", &viewer).await;
    assert_eq!(frames[0]["type"], "welcome");
    assert_eq!(frames[0]["name"], "vera", "the token says who this is");
    assert_eq!(frames[0]["access"], "viewer");

    // Every command a viewer sends is refused, plainly, and nothing is recorded.
    for cmd in [
        declare("Checkout 500s", 2),
        note("INC-1", "looking"),
        json!({"op": "accept_handoff", "from": "bob"}),
    ] {
        let answer = v.command(cmd).await;
        assert_eq!(answer["type"], "error", "{answer}");
        assert_eq!(answer["code"], "forbidden", "{answer}");
        assert_eq!(answer["message"], NOT_ALLOWED);
    }
    // Focus is reading: no answer, the connection stays.
    v.send(&json!({"type": "focus", "incident": "INC-1"})).await;

    let (mut r, frames) = join(&url, "whoever", &responder).await;
    assert_eq!(frames[0]["name"], "rob");
    assert_eq!(frames[0]["access"], "responder");
    assert_eq!(
        frames.last().unwrap(),
        &json!({"type": "synced", "seq": 0}),
        "the viewer's commands recorded nothing"
    );
    let answer = r.command(declare("Checkout 500s", 2)).await;
    assert_eq!(seqs(&answer), [1]);
    // The viewer reads what the responder did, and is still connected.
    let events = v.events_until(1).await;
    assert_eq!(events[0]["actor"], "rob");
    assert_eq!(events[0]["kind"], "declared");
    let answer = v.command(note("INC-1", "me too")).await;
    assert_eq!(answer["code"], "forbidden");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_and_its_live_session_closed() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let alice = token_add(dir.path(), "alice", "responder");
    let bob = token_add(dir.path(), "bob", "responder");
    let server = serve(dir.path(), |_| {}).await;
    let url = server.url();
    let (mut a, _) = join(&url, "alice", &alice).await;
    let (mut a2, _) = join(&url, "alice", &alice).await;
    let (mut b, _) = join(&url, "bob", &bob).await;
    assert_eq!(seqs(&a.command(declare("Search slow", 3)).await), [1]);

    let o = warroom(
        &[
            "token",
            "revoke",
            "alice",
            "--data",
            &dir.path().display().to_string(),
        ],
        &[],
        home.path(),
    );
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        out(&o).contains("alice's responder token is revoked"),
        "{}",
        out(&o)
    );

    // The check the server runs every second, now.
    server.check_tokens();
    for c in [&mut a, &mut a2] {
        let (frames, close) = until_closed(c).await;
        let e = errors(&frames);
        assert_eq!(e.len(), 1, "{frames:?}");
        assert_eq!(e[0]["code"], "unauthorized");
        assert!(e[0].get("id").is_none());
        assert!(
            e[0]["message"].as_str().unwrap().contains("revoked"),
            "{}",
            e[0]
        );
        assert_eq!(close, Some((1008, "token revoked".to_string())));
    }
    // Bob's session is untouched.
    assert_eq!(seqs(&b.command(note("INC-1", "still here")).await), [2]);

    // The next handshake with alice's token is refused, saying why.
    let mut c = Raw::connect(&url).await;
    c.send(&json!({"type": "hello", "protocol": 2, "name": "alice", "token": alice}))
        .await;
    let (frames, close) = until_closed(&mut c).await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["code"], "unauthorized");
    assert_eq!(
        frames[0]["message"],
        "this token was revoked: ask an admin for a new one"
    );
    assert_eq!(close, Some((1008, "token revoked".to_string())));

    // A new token for alice works; the old one stays revoked.
    let again = token_add(dir.path(), "alice", "viewer");
    let (_c, frames) = join(&url, "alice", &again).await;
    assert_eq!(frames[0]["access"], "viewer");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_periodic_check_closes_a_revoked_session_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let t = add_token(dir.path(), "alice", Access::Admin).unwrap();
    let server = serve(dir.path(), |c| {
        c.token_check_every = Duration::from_millis(20);
    })
    .await;
    let (mut a, frames) = join(&server.url(), "alice", &t).await;
    assert_eq!(frames[0]["access"], "admin");
    revoke_token(dir.path(), "alice").unwrap();
    // Nobody calls check_tokens: the server's own check finds it.
    let (_, close) = until_closed(&mut a).await;
    assert_eq!(close, Some((1008, "token revoked".to_string())));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_that_gets_tokens_closes_the_sessions_that_came_without() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), |_| {}).await;
    // No tokens on loopback: open, as before.
    let (mut open, frames) = Raw::join(&server.url(), "alice", None).await;
    assert!(frames[0].get("access").is_none(), "{:?}", frames[0]);
    assert_eq!(seqs(&open.command(declare("Checkout 500s", 2)).await), [1]);
    let t = add_token(dir.path(), "alice", Access::Responder).unwrap();
    server.check_tokens();
    let (frames, close) = until_closed(&mut open).await;
    assert!(
        errors(&frames)[0]["message"]
            .as_str()
            .unwrap()
            .contains("now requires a token"),
        "{frames:?}"
    );
    assert_eq!(close, Some((1008, "unauthorized".to_string())));
    let (_c, frames) = join(&server.url(), "alice", &t).await;
    assert_eq!(frames[0]["access"], "responder");
    server.shutdown().await.unwrap();
}

#[test]
fn token_add_list_and_revoke_through_the_binary() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("feed");
    let d = dir.display().to_string();
    let alice = token_add(&dir, "alice", "responder");
    assert!(alice.starts_with("wr_") && alice.len() >= 40, "{alice}");
    let bob = token_add(&dir, "bob", "viewer");
    assert_ne!(alice, bob);

    // Stored hashed, readable by its owner only.
    let store = dir.join(auth::STORE_FILE);
    let text = std::fs::read_to_string(&store).unwrap();
    assert!(!text.contains(&alice) && !text.contains(&bob), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&store).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    // The token is printed once, with how to use it; list never shows it.
    let o = warroom(
        &["token", "add", "carol", "--role", "admin", "--data", &d],
        &[],
        home.path(),
    );
    assert!(o.status.success(), "{}", err(&o));
    assert!(err(&o).contains("WARROOM_TOKEN="), "{}", err(&o));
    let carol = out(&o).trim().to_string();
    let o = warroom(&["token", "list", "--data", &d], &[], home.path());
    assert!(o.status.success(), "{}", err(&o));
    let list = out(&o);
    for (name, role) in [
        ("alice", "responder"),
        ("bob", "viewer"),
        ("carol", "admin"),
    ] {
        let line = list
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {list}"));
        assert!(line.contains(role) && line.contains("active"), "{line}");
    }
    for t in [&alice, &bob, &carol] {
        assert!(!list.contains(t.as_str()), "{list}");
    }

    // Mistakes are named.
    let o = warroom(
        &["token", "add", "alice", "--role", "viewer", "--data", &d],
        &[],
        home.path(),
    );
    assert!(!o.status.success());
    assert!(err(&o).contains("alice already has a token"), "{}", err(&o));
    let o = warroom(
        &["token", "add", "dave", "--role", "chef", "--data", &d],
        &[],
        home.path(),
    );
    assert!(!o.status.success());
    assert!(err(&o).contains("unknown role 'chef'"), "{}", err(&o));
    let o = warroom(&["token", "revoke", "zed", "--data", &d], &[], home.path());
    assert!(!o.status.success());
    assert!(err(&o).contains("nobody called zed"), "{}", err(&o));

    let o = warroom(&["token", "revoke", "bob", "--data", &d], &[], home.path());
    assert!(o.status.success(), "{}", err(&o));
    let list = out(&warroom(&["token", "list", "--data", &d], &[], home.path()));
    let line = list.lines().find(|l| l.starts_with("bob")).unwrap();
    assert!(line.contains("revoked"), "{list}");
    let o = warroom(&["token", "revoke", "bob", "--data", &d], &[], home.path());
    assert!(err(&o).contains("already revoked"), "{}", err(&o));

    // An empty data directory has none.
    let empty = home.path().join("empty").display().to_string();
    let o = warroom(&["token", "list", "--data", &empty], &[], home.path());
    assert!(
        o.status.success() && out(&o).contains("no tokens"),
        "{}",
        out(&o)
    );
}

#[test]
fn the_cli_says_not_allowed_to_a_viewer_and_stops_when_its_token_is_revoked() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("feed");
    let viewer = token_add(&data, "vera", "viewer");
    let responder = token_add(&data, "rob", "responder");
    let server = ServeProcess::start(&data);
    let as_ = |token: &str| {
        vec![
            ("WARROOM_SERVER", server.url.clone()),
            ("WARROOM_TOKEN", token.to_string()),
        ]
    };
    let run = |args: &[&str], token: &str| {
        let env = as_(token);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        warroom(args, &env, home.path())
    };

    let o = run(&["declare", "Checkout 500s", "--severity", "2"], &viewer);
    assert!(!o.status.success());
    assert_eq!(err(&o).trim(), format!("warroom: {NOT_ALLOWED}"));

    let o = run(&["declare", "Checkout 500s", "--severity", "2"], &responder);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o).trim(), "INC-1");
    // Reading is what a viewer may do.
    let o = run(&["incidents"], &viewer);
    assert!(
        o.status.success() && out(&o).contains("Checkout 500s"),
        "{}",
        err(&o)
    );
    let o = run(&["ack", "INC-1"], &viewer);
    assert!(err(&o).contains("not allowed:"), "{}", err(&o));

    // A viewer following the feed is cut off when their token is revoked (the server's own
    // check, every second).
    let mut follow = Process::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["events", "--since", "0", "--follow"])
        .env_remove("WARROOM_NAME")
        .env("WARROOM_DATA_DIR", home.path().join("cli-data"))
        .env("WARROOM_SERVER", &server.url)
        .env("WARROOM_TOKEN", &viewer)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follow.stdout.take().unwrap();
    let (line_tx, line_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = line_tx.send(line);
        }
    });
    let first = line_rx.recv_timeout(WAIT).expect("the declared event");
    assert!(first.contains("declared"), "{first}");
    let o = warroom(
        &[
            "token",
            "revoke",
            "vera",
            "--data",
            &data.display().to_string(),
        ],
        &[],
        home.path(),
    );
    assert!(o.status.success(), "{}", err(&o));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(follow.wait_with_output());
    });
    let ended = done_rx
        .recv_timeout(WAIT)
        .expect("the follower was not cut off")
        .unwrap();
    assert!(!ended.status.success());
    assert!(
        err(&ended).contains("your token was revoked"),
        "{}",
        err(&ended)
    );
    // And it cannot come back.
    let o = run(&["incidents"], &viewer);
    assert!(!o.status.success());
    assert!(err(&o).contains("this token was revoked"), "{}", err(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_on_this_machine_use_the_local_token_by_themselves() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("cli-data");
    // What the console does on its first run, before hosting the local feed.
    let local = ensure_local_token(&data).unwrap().unwrap();
    let listed = auth::list_tokens(&data).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].name.as_str(), listed[0].role),
        ("local", Access::Admin)
    );
    let server = serve(&data, |_| {}).await;
    let addr = server.addr.to_string();

    // Same account (same data directory): no token to pass, and the name is theirs.
    let o = warroom(
        &["declare", "Checkout 500s", "--severity", "2"],
        &[("WARROOM_LOCAL_FEED", &addr), ("WARROOM_NAME", "priya")],
        home.path(),
    );
    assert!(o.status.success(), "{}", err(&o));
    // Naming the local feed explicitly is the same feed.
    let o = warroom(
        &["events", "--json", "--server", &addr],
        &[("WARROOM_LOCAL_FEED", &addr), ("WARROOM_NAME", "marco")],
        home.path(),
    );
    assert!(o.status.success(), "{}", err(&o));
    let event: Value = serde_json::from_str(out(&o).lines().next().unwrap()).unwrap();
    assert_eq!(event["actor"], "priya");

    // Another account (its own data directory) is kept out.
    let o = warroom(
        &["incidents"],
        &[
            ("WARROOM_LOCAL_FEED", &addr),
            (
                "WARROOM_DATA_DIR",
                &home.path().join("elsewhere").display().to_string(),
            ),
        ],
        home.path(),
    );
    assert!(!o.status.success());
    assert!(
        err(&o).contains("this feed requires a token"),
        "{}",
        err(&o)
    );
    // A raw client with the local token acts under the name it gives.
    let (_c, frames) = join(&server.url(), "marco", &local).await;
    assert_eq!(frames[0]["name"], "marco");
    assert_eq!(frames[0]["access"], "admin");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_file_may_give_roles() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), |c| {
        c.tokens = Some(
            warroom::server::TokenTable::parse(
                "alice 0123456789abcdef0123\nbob fedcba9876543210fedc viewer\n",
            )
            .unwrap(),
        );
    })
    .await;
    let (mut a, frames) = join(&server.url(), "x", "0123456789abcdef0123").await;
    assert_eq!(
        (frames[0]["name"].clone(), frames[0]["access"].clone()),
        (json!("alice"), json!("responder"))
    );
    let (mut b, frames) = join(&server.url(), "x", "fedcba9876543210fedc").await;
    assert_eq!(frames[0]["access"], "viewer");
    assert_eq!(b.command(declare("x", 3)).await["code"], "forbidden");
    assert_eq!(seqs(&a.command(declare("x", 3)).await), [1]);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewers_token_cannot_post_alerts() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let viewer = add_token(dir.path(), "vera", Access::Viewer).unwrap();
    let responder = add_token(dir.path(), "rob", Access::Responder).unwrap();
    let server = serve(dir.path(), |c| {
        c.intake.token = Some("intake-token-0123456789".into());
    })
    .await;
    let http = reqwest::Client::builder().timeout(WAIT).build().unwrap();
    let post = |key: &str| {
        let body = json!({
            "routing_key": key,
            "event_action": "trigger",
            "dedup_key": "disk",
            "payload": {"summary": "DISK at 99% on db-1", "source": "db-1", "severity": "critical"}
        });
        http.post(format!("http://{}/v2/enqueue", server.addr))
            .json(&body)
            .send()
    };
    assert_eq!(post(&viewer).await.unwrap().status().as_u16(), 401);
    assert_eq!(post(&responder).await.unwrap().status().as_u16(), 202);
    server.shutdown().await.unwrap();
}

#[test]
fn the_console_says_not_allowed_plainly() {
    use warroom::client::Update;
    use warroom::protocol::{Answer, ErrorCode};
    use warroom::tui::app::{App, Msg};
    let mut app = App::new(
        "ws://127.0.0.1:7654/feed".into(),
        warroom::tui::keymap::Keymap::default(),
        chrono::Utc::now(),
        chrono::FixedOffset::east_opt(0).unwrap(),
        "s".into(),
    );
    app.update(Msg::Feed(Update::Answer {
        id: "c1".into(),
        command: warroom::model::Command::Acknowledge {
            incident: warroom::model::IncidentRef(1),
        },
        answer: Answer::Error {
            code: ErrorCode::Forbidden,
            message: NOT_ALLOWED.into(),
        },
    }));
    let flash = app.flash.as_ref().expect("a flash").text.clone();
    assert!(flash.starts_with(NOT_ALLOWED), "{flash}");
}

/// `warroom token --store` takes a PostgreSQL URL (a feed's replicas share their tokens
/// there), and says so when given something else; `--store` and `--data` do not go together.
#[test]
fn token_store_takes_a_postgresql_url() {
    let home = tempfile::tempdir().unwrap();
    let o = warroom(
        &["token", "list", "--store", "/var/lib/warroom"],
        &[],
        home.path(),
    );
    assert!(!o.status.success());
    assert!(
        err(&o).contains("--store (or WARROOM_STORE) takes the feed's PostgreSQL URL"),
        "{}",
        err(&o)
    );
    let o = warroom(
        &["token", "list"],
        &[("WARROOM_STORE", "tokens.json")],
        home.path(),
    );
    assert!(!o.status.success());
    assert!(err(&o).contains("PostgreSQL URL"), "{}", err(&o));
    let o = warroom(
        &[
            "token",
            "list",
            "--store",
            "postgres://x@127.0.0.1:9/x",
            "--data",
            "d",
        ],
        &[],
        home.path(),
    );
    assert!(!o.status.success());
    assert!(err(&o).contains("cannot be used with"), "{}", err(&o));
}
