//! The feed over TLS with a CA made inside each test (rcgen): the client library and the
//! real binaries over `wss://`, what happens without the CA, bad certificate files, and the
//! WebSocket `Origin` check. Loopback only; every wait is bounded.

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Output, Stdio};

use common::cli::ok;
use common::*;
use futures_util::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use warroom::client::{Client, ClientConfig, ConnState, Replica, Update};
use warroom::model::Command;
use warroom::protocol::Answer;
use warroom::server::{RunningServer, ServerConfig, TlsFiles};

/// A private CA and a server certificate it signed, for `localhost` and 127.0.0.1, as PEM
/// files in a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "warroom test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "warroom test feed");
        let cert = params.signed_by(&key, &issuer).unwrap();

        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn ca(&self) -> PathBuf {
        self.path("ca.pem")
    }

    fn files(&self) -> TlsFiles {
        TlsFiles {
            cert: self.path("cert.pem"),
            key: self.path("key.pem"),
        }
    }
}

async fn start_tls(data: &Path, pki: &Pki) -> RunningServer {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap(), data.to_path_buf());
    cfg.rules = std::sync::Arc::new(quiet_rules());
    cfg.tls = Some(pki.files());
    warroom::server::start(cfg).await.unwrap()
}

/// Takes updates into `replica` until `done`; the reason if the client stopped.
async fn pump_until(
    client: &mut Client,
    replica: &mut Replica,
    mut done: impl FnMut(&Update, &Replica) -> bool,
) -> Result<(), String> {
    tokio::time::timeout(WAIT, async {
        loop {
            let u = client.next().await.ok_or("the client task ended")?;
            if let Update::Conn(ConnState::Stopped { reason }) = &u {
                return Err(reason.clone());
            }
            replica.apply(&u).map_err(|e| e.to_string())?;
            if done(&u, replica) {
                return Ok(());
            }
        }
    })
    .await
    .map_err(|_| "nothing happened within the wait".to_string())?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_trusting_the_test_ca_round_trips_over_wss() {
    let pki = Pki::new();
    let data = tempfile::tempdir().unwrap();
    let server = start_tls(data.path(), &pki).await;
    let url = server.url();
    assert!(url.starts_with("wss://127.0.0.1:"), "{url}");

    let mut cfg = ClientConfig::new(url, "alice");
    cfg.reconnect = false;
    cfg.tls = Some(warroom::tls::client_config(Some(&pki.ca())).unwrap());
    let mut client = Client::start(cfg);
    let mut replica = Replica::default();
    // hello → welcome, snapshot, synced.
    pump_until(&mut client, &mut replica, |_, r| r.synced)
        .await
        .unwrap();
    assert_eq!(replica.me.as_deref(), Some("alice"));

    // A command and its event, over TLS.
    let (_, answer) = client.submit(Command::Declare {
        title: "Checkout 500s".into(),
        severity: 2.try_into().unwrap(),
        service: None,
        restricted: false,
        detected_by: None,
    });
    pump_until(&mut client, &mut replica, |_, r| r.state.seq == 1)
        .await
        .unwrap();
    assert!(
        matches!(answer.await.unwrap(), Answer::Ok { .. }),
        "the declare was accepted"
    );
    assert_eq!(replica.state.incidents.len(), 1);

    // A raw client over wss:// sees the same feed.
    let tls = warroom::tls::client_config(Some(&pki.ca())).unwrap();
    let (mut raw, _) = tokio::time::timeout(
        WAIT,
        tokio_tungstenite::connect_async_tls_with_config(
            server.url(),
            None,
            true,
            Some(tokio_tungstenite::Connector::Rustls(tls)),
        ),
    )
    .await
    .expect("connect timed out")
    .expect("wss connect");
    futures_util::SinkExt::send(
        &mut raw,
        tungstenite::Message::Text(
            json!({"type": "hello", "protocol": 2, "name": "bob"})
                .to_string()
                .into(),
        ),
    )
    .await
    .unwrap();
    let mut saw_snapshot = false;
    loop {
        let f = tokio::time::timeout(WAIT, raw.next())
            .await
            .expect("no frame within the wait")
            .expect("closed before synced")
            .expect("read");
        let tungstenite::Message::Text(t) = f else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
        if v["type"] == "snapshot" {
            saw_snapshot = true;
            assert_eq!(v["state"]["seq"], 1, "{v}");
        }
        if v["type"] == "synced" {
            break;
        }
    }
    assert!(saw_snapshot);

    // A TCP connection that never starts its TLS handshake holds up nobody...
    let silent = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut cfg = ClientConfig::new(server.url(), "carol");
    cfg.reconnect = false;
    cfg.tls = Some(warroom::tls::client_config(Some(&pki.ca())).unwrap());
    let mut carol = Client::start(cfg);
    pump_until(&mut carol, &mut Replica::default(), |_, r| r.synced)
        .await
        .unwrap();

    // ...nor the graceful shutdown, which closes the live TLS sessions.
    tokio::time::timeout(WAIT, server.shutdown())
        .await
        .expect("shutdown timed out")
        .unwrap();
    let reason = pump_until(&mut client, &mut replica, |_, _| false)
        .await
        .expect_err("the session ends with the server");
    assert!(reason.contains("connection"), "{reason}");
    drop((silent, raw, carol));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_ca_the_certificate_is_refused_plainly() {
    let pki = Pki::new();
    let data = tempfile::tempdir().unwrap();
    let server = start_tls(data.path(), &pki).await;

    // Only the system's roots: they do not know the test CA.
    let mut cfg = ClientConfig::new(server.url(), "alice");
    cfg.reconnect = false;
    let mut client = Client::start(cfg);
    let reason = pump_until(&mut client, &mut Replica::default(), |_, r| r.synced)
        .await
        .expect_err("a certificate from an unknown CA must be refused");
    assert!(reason.contains("certificate"), "{reason}");
    assert!(reason.contains("--ca FILE"), "says what to do: {reason}");
    assert!(reason.contains(&server.url()), "names the feed: {reason}");

    // A plain ws:// client gets no feed from a TLS port either.
    let plain = server.url().replacen("wss://", "ws://", 1);
    let mut cfg = ClientConfig::new(plain, "alice");
    cfg.reconnect = false;
    cfg.connect_timeout = WAIT;
    let mut client = Client::start(cfg);
    assert!(
        pump_until(&mut client, &mut Replica::default(), |_, r| r.synced)
            .await
            .is_err()
    );

    // The failed handshakes did not hurt the server.
    let mut cfg = ClientConfig::new(server.url(), "alice");
    cfg.reconnect = false;
    cfg.tls = Some(warroom::tls::client_config(Some(&pki.ca())).unwrap());
    let mut client = Client::start(cfg);
    pump_until(&mut client, &mut Replica::default(), |_, r| r.synced)
        .await
        .unwrap();
    drop(client);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_or_invalid_tls_files_are_named() {
    let pki = Pki::new();
    let data = tempfile::tempdir().unwrap();
    let start = |cert: PathBuf, key: PathBuf| {
        let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap(), data.path().to_path_buf());
        cfg.tls = Some(TlsFiles { cert, key });
        warroom::server::start(cfg)
    };
    let err = |r: anyhow::Result<RunningServer>| match r {
        Ok(_) => panic!("started with bad TLS files"),
        Err(e) => format!("{e:#}"),
    };

    let missing = pki.path("missing.pem");
    let e = err(start(missing.clone(), pki.path("key.pem")).await);
    assert!(
        e.contains("cannot read the TLS certificate") && e.contains(&*missing.to_string_lossy()),
        "{e}"
    );
    let e = err(start(pki.path("cert.pem"), missing.clone()).await);
    assert!(
        e.contains("cannot read the TLS key") && e.contains(&*missing.to_string_lossy()),
        "{e}"
    );

    let junk = pki.path("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let e = err(start(junk.clone(), pki.path("key.pem")).await);
    assert!(e.contains("holds no certificate"), "{e}");
    assert!(e.contains(&*junk.to_string_lossy()), "{e}");
    let e = err(start(pki.path("cert.pem"), junk.clone()).await);
    assert!(e.contains("holds no private key"), "{e}");

    // The key of another certificate.
    let other = rcgen::KeyPair::generate().unwrap();
    let wrong = pki.path("other-key.pem");
    std::fs::write(&wrong, other.serialize_pem()).unwrap();
    let e = err(start(pki.path("cert.pem"), wrong).await);
    assert!(e.contains("does not fit the certificate"), "{e}");

    // A --ca that is not a certificate is named too.
    let e = format!(
        "{:#}",
        warroom::tls::client_config(Some(&junk)).unwrap_err()
    );
    assert!(
        e.contains("CA file") && e.contains(&*junk.to_string_lossy()),
        "{e}"
    );
}

/// `warroom serve --tls-cert … --tls-key …`, started on a free loopback port.
struct TlsServe {
    child: std::process::Child,
    addr: String,
}

impl TlsServe {
    fn start(data: &Path, pki: &Pki) -> TlsServe {
        let mut child = Process::new(env!("CARGO_BIN_EXE_warroom"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .arg("--tls-cert")
            .arg(pki.path("cert.pem"))
            .arg("--tls-key")
            .arg(pki.path("key.pem"))
            .env("WARROOM_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn warroom serve");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(i) = line.find("listening on wss://")
                    && let Some(tx) = tx.take()
                {
                    let url = line[i + "listening on wss://".len()..].trim();
                    let _ = tx.send(url.trim_end_matches("/feed").to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(WAIT)
            .expect("warroom serve did not start listening on wss://");
        TlsServe { child, addr }
    }
}

impl Drop for TlsServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn warroom(args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let mut cmd = Process::new(env!("CARGO_BIN_EXE_warroom"));
    cmd.args(args)
        .env("WARROOM_NAME", "alice")
        .env_remove("WARROOM_SERVER")
        .env_remove("WARROOM_TOKEN")
        .env_remove("WARROOM_CA");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn the_binaries_serve_and_use_wss_with_the_ca() {
    let pki = Pki::new();
    let data = tempfile::tempdir().unwrap();
    let serve = TlsServe::start(data.path(), &pki);
    let server = format!("wss://{}", serve.addr);
    let ca = pki.ca();
    let ca = ca.to_str().unwrap();

    assert_eq!(
        ok(warroom(
            &[
                "declare",
                "Checkout 500s",
                "-s",
                "2",
                "--server",
                &server,
                "--ca",
                ca
            ],
            &[]
        )),
        "INC-1\n"
    );
    let list = ok(warroom(
        &["incidents", "--server", &server, "--ca", ca],
        &[],
    ));
    assert!(list.contains("Checkout 500s"), "{list}");
    // WARROOM_CA does the same as --ca.
    let list = ok(warroom(
        &["incidents", "--server", &server],
        &[("WARROOM_CA", &pki.ca())],
    ));
    assert!(list.contains("Checkout 500s"), "{list}");

    // Without the CA: a plain refusal naming the certificate, not a hang or a panic.
    let out = warroom(&["incidents", "--server", &server], &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("certificate"), "{err}");
    assert!(err.contains("--ca FILE"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // A missing --ca file is named before anything is sent.
    let missing = pki.path("nope.pem");
    let out = warroom(
        &[
            "incidents",
            "--server",
            &server,
            "--ca",
            missing.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot read the CA file") && err.contains("nope.pem"),
        "{err}"
    );
}

#[test]
fn serve_names_a_missing_tls_file_and_wants_both() {
    let pki = Pki::new();
    let data = tempfile::tempdir().unwrap();
    let missing = pki.path("missing.pem");
    let out = Process::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .arg("--tls-cert")
        .arg(&missing)
        .arg("--tls-key")
        .arg(pki.path("key.pem"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot read the TLS certificate"), "{err}");
    assert!(err.contains("missing.pem"), "{err}");

    let out = Process::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .arg("--tls-cert")
        .arg(pki.path("cert.pem"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tls-key"), "{err}");
}

/// An upgrade request to `url` carrying `Origin: origin`: `Ok` once upgraded, else the
/// HTTP status and body.
async fn upgrade_with_origin(url: &str, origin: Option<&str>) -> Result<(), (u16, String)> {
    let mut req = url.into_client_request().unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    let r = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("the upgrade timed out");
    match r {
        Ok(_) => Ok(()),
        Err(tungstenite::Error::Http(resp)) => Err((
            resp.status().as_u16(),
            String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).into_owned(),
        )),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_origin_is_refused_and_loopback_origins_pass_by_default() {
    let data = tempfile::tempdir().unwrap();
    let server = start_server(data.path()).await;
    let url = server.url();
    let port = server.addr.port();

    let (status, body) = upgrade_with_origin(&url, Some("https://evil.example"))
        .await
        .expect_err("a foreign origin must be refused");
    assert_eq!(status, 403);
    assert!(body.contains("https://evil.example"), "{body}");
    assert!(body.contains("--allow-origin"), "{body}");
    for refused in ["null", "http://127.0.0.1.evil.example", "not an origin"] {
        let (status, _) = upgrade_with_origin(&url, Some(refused))
            .await
            .expect_err(refused);
        assert_eq!(status, 403, "{refused}");
    }

    // Pages served from this machine, and clients that send no Origin, may connect.
    for allowed in [
        format!("http://127.0.0.1:{port}"),
        "http://localhost:3000".to_string(),
        "https://localhost".to_string(),
    ] {
        upgrade_with_origin(&url, Some(&allowed))
            .await
            .unwrap_or_else(|e| panic!("{allowed} refused: {e:?}"));
    }
    upgrade_with_origin(&url, None).await.unwrap();
    // And a refused origin has not cost anyone their connection.
    let (_, frames) = Raw::join(&url, "alice", None).await;
    assert_eq!(frames.last().unwrap()["type"], "synced");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_listed_origins_pass_when_a_list_is_given_over_tls_too() {
    let pki = Pki::new();
    let data = tempfile::tempdir().unwrap();
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap(), data.path().to_path_buf());
    cfg.rules = std::sync::Arc::new(quiet_rules());
    cfg.tls = Some(pki.files());
    cfg.allowed_origins = vec!["https://ops.example.com".into()];
    let server = warroom::server::start(cfg).await.unwrap();
    let tls = warroom::tls::client_config(Some(&pki.ca())).unwrap();
    let upgrade = |origin: Option<&'static str>| {
        let tls = tls.clone();
        let url = server.url();
        async move {
            let mut req = url.into_client_request().unwrap();
            if let Some(o) = origin {
                req.headers_mut().insert("origin", o.parse().unwrap());
            }
            let r = tokio::time::timeout(
                WAIT,
                tokio_tungstenite::connect_async_tls_with_config(
                    req,
                    None,
                    true,
                    Some(tokio_tungstenite::Connector::Rustls(tls)),
                ),
            )
            .await
            .expect("the upgrade timed out");
            match r {
                Ok(_) => None,
                Err(tungstenite::Error::Http(resp)) => Some(resp.status().as_u16()),
                Err(e) => panic!("unexpected error: {e}"),
            }
        }
    };
    assert_eq!(upgrade(Some("https://ops.example.com")).await, None);
    assert_eq!(upgrade(Some("https://OPS.example.com:443")).await, None);
    assert_eq!(upgrade(None).await, None);
    assert_eq!(upgrade(Some("https://evil.example")).await, Some(403));
    // A list replaces the loopback default.
    assert_eq!(upgrade(Some("http://localhost:3000")).await, Some(403));
    server.shutdown().await.unwrap();

    // An entry that is not an origin stops the server from starting, named.
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap(), data.path().to_path_buf());
    cfg.allowed_origins = vec!["ops.example.com".into()];
    let e = match warroom::server::start(cfg).await {
        Ok(_) => panic!("started with an invalid --allow-origin"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        e.contains("--allow-origin") && e.contains("ops.example.com"),
        "{e}"
    );
}
