//! The real console, driven as a person would: `warroom serve` on a loopback port, two
//! consoles in tmux. One declares an incident through the palette and writes a scribe
//! note; the other's screen shows both; quitting restores the terminal.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::ServeProcess;

/// A private tmux server, killed when the test ends however it ends.
struct Tmux {
    socket: String,
    /// Each session's console log, shown when a wait fails.
    logs: std::cell::RefCell<Vec<(String, std::path::PathBuf)>>,
}

impl Tmux {
    fn new() -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            assert!(
                std::env::var_os("WARROOM_SKIP_TMUX").is_some(),
                "tmux is needed for the console's end-to-end test: apt-get install -y tmux \
                 (or set WARROOM_SKIP_TMUX=1 to skip it)"
            );
            return None;
        }
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Some(Tmux {
            socket: format!("warroom-test-{}-{n}", std::process::id()),
            logs: Default::default(),
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

    /// Starts `warroom` in a 160x48 session; after it exits the shell reports how the
    /// terminal was left.
    fn console(&self, session: &str, url: &str, name: &str, home: &Path) {
        self.console_with(
            session,
            &[("WARROOM_SERVER", url)],
            name,
            home,
            &format!("{}/{name}-data", home.display()),
            None,
        );
    }

    /// A console on `url` that presents `token` (the feed names it after the token's owner).
    fn console_as(&self, session: &str, url: &str, name: &str, token: &str, home: &Path) {
        self.console_with(
            session,
            &[("WARROOM_SERVER", url), ("WARROOM_TOKEN", token)],
            name,
            home,
            &format!("{}/{name}-data", home.display()),
            None,
        );
    }

    /// A console started in the directory `cwd` (where `:export` writes).
    fn console_in(&self, session: &str, url: &str, name: &str, home: &Path, cwd: &Path) {
        self.console_with(
            session,
            &[("WARROOM_SERVER", url)],
            name,
            home,
            &format!("{}/{name}-data", home.display()),
            Some(cwd),
        );
    }

    /// A console with no feed configured: it uses (and maybe hosts) the local feed.
    fn local_console(&self, session: &str, local: &str, name: &str, home: &Path) {
        let shared = format!("{}/local-data", home.display());
        self.console_with(
            session,
            &[("WARROOM_LOCAL_FEED", local)],
            name,
            home,
            &shared,
            None,
        );
    }

    fn console_with(
        &self,
        session: &str,
        env: &[(&str, &str)],
        name: &str,
        home: &Path,
        data: &str,
        cwd: Option<&Path>,
    ) {
        let script = format!(
            "{bin}; echo \"warroom exited $?\"; stty -a | tr ' ;' '\\n\\n' | grep -E '^-?(icanon|echo)$' | tr '\\n' ' '; echo; exec sleep 120",
            bin = env!("CARGO_BIN_EXE_warroom")
        );
        let home = home.display().to_string();
        self.logs
            .borrow_mut()
            .push((session.to_string(), Path::new(data).join("console.log")));
        let config = format!("{home}/{name}-config.toml");
        let status = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(["new-session", "-d", "-s", session, "-x", "160", "-y", "48"])
            .args(
                cwd.map(|d| ["-c".to_string(), d.display().to_string()])
                    .into_iter()
                    .flatten(),
            )
            .args(
                env.iter()
                    .flat_map(|(k, v)| ["-e".to_string(), format!("{k}={v}")]),
            )
            .args(["-e", &format!("WARROOM_NAME={name}")])
            .args([
                "-e",
                &format!("WARROOM_DATA_DIR={data}"),
                "-e",
                &format!("WARROOM_CONFIG={config}"),
                // The console's log beside its data, where a failing wait shows it.
                "-e",
                &format!("WARROOM_STATE_DIR={data}"),
            ])
            .args(["-e", "TERM=xterm-256color", "-e", "WARROOM_LOG=debug"])
            .args(["sh", "-c", &script])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn screen(&self, session: &str) -> String {
        self.cmd(&["capture-pane", "-p", "-t", session])
    }

    fn keys(&self, session: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", session];
        args.extend_from_slice(keys);
        self.cmd(&args);
    }

    /// Types literal text (no key-name interpretation).
    /// Runs a palette command: `:`, the line, Enter.
    fn palette(&self, session: &str, line: &str) {
        self.keys(session, &[":"]);
        self.type_text(session, line);
        self.keys(session, &["Enter"]);
    }

    fn type_text(&self, session: &str, text: &str) {
        self.cmd(&["send-keys", "-t", session, "-l", text]);
    }

    /// Waits until the screen shows `needle`, reading it again as it changes.
    fn wait_for(&self, session: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen(session);
            if s.contains(needle) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "'{needle}' never appeared on {session}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the screen shows every one of `needles` at once.
    fn wait_for_all(&self, session: &str, needles: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen(session);
            if needles.iter().all(|n| s.contains(n)) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "{needles:?} never appeared together on {session}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
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

#[test]
fn two_consoles_share_a_live_war_room() {
    let Some(tmux) = Tmux::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(&dir.path().join("feed"));
    tmux.console("alice", &server.url, "alice", dir.path());
    tmux.console("bob", &server.url, "bob", dir.path());
    tmux.wait_for("alice", "● live");
    tmux.wait_for("bob", "● live");
    let s = tmux.wait_for("alice", "present: alice, bob");
    assert!(s.contains("No incidents."), "{s}");

    // Alice declares through the palette, with completion.
    tmux.keys("alice", &[":"]);
    tmux.type_text("alice", "decl");
    tmux.keys("alice", &["Tab"]);
    tmux.type_text("alice", "sev2 Payments API returning 500s");
    tmux.keys("alice", &["Enter"]);
    let s = tmux.wait_for("alice", "INC-1 declared");
    assert!(
        s.contains("SEV2") && s.contains("Payments API returning 500s"),
        "{s}"
    );
    // Her room opened with the scribe pane ready: she types a decision.
    tmux.wait_for("alice", "enter records");
    tmux.type_text("alice", "d: roll back deploy 4471");
    tmux.keys("alice", &["Enter"]);
    tmux.wait_for("alice", "roll back deploy 4471");

    // Bob sees the incident on his board, live, then its room with the note.
    let s = tmux.wait_for("bob", "Payments API returning 500s");
    assert!(
        s.contains("INC-1") && s.contains("SEV2") && s.contains("no IC"),
        "{s}"
    );
    tmux.keys("bob", &["Enter"]);
    let s = tmux.wait_for("bob", "roll back deploy 4471");
    assert!(s.contains("decision") && s.contains("alice"), "{s}");
    // Alice sees Bob in the room.
    tmux.wait_for("alice", "here: alice, bob");

    // Bob acknowledges with a single key; Alice's header changes.
    tmux.keys("bob", &["a"]);
    tmux.wait_for("alice", "acked by bob");

    // Quitting restores the terminal: cooked mode, echo on, the normal screen back.
    tmux.keys("alice", &["Escape"]);
    tmux.wait_for("alice", "Scribe · i tab to write");
    tmux.keys("alice", &["q"]);
    tmux.wait_for("alice", "warroom exited 0");
    // The terminal settings are printed just after the exit line: wait for them too.
    let s = tmux.wait_for("alice", "icanon");
    assert!(s.contains("icanon") && !s.contains("-icanon"), "{s}");
    assert!(s.contains("echo") && !s.contains("-echo "), "{s}");
    assert!(
        !s.contains("Timeline"),
        "the alternate screen is gone:\n{s}"
    );

    // A typed draft makes quitting ask first.
    tmux.keys("bob", &["i"]);
    tmux.type_text("bob", "half-written thought");
    // Escape and q sent in one write would read as alt-q; wait for the pane to leave first.
    // (First see the pane focused with the draft in it, so the wait below cannot match the
    // screen from before `i` was read.)
    tmux.wait_for_all("bob", &["enter records", "half-written thought"]);
    tmux.keys("bob", &["Escape"]);
    tmux.wait_for("bob", "Scribe · i tab to write");
    tmux.keys("bob", &["q"]);
    tmux.wait_for("bob", "the scribe draft in INC-1");
    tmux.keys("bob", &["y"]);
    tmux.wait_for("bob", "warroom exited 0");
}

#[test]
fn the_feed_dies_mid_incident_and_nothing_typed_is_lost() {
    let Some(tmux) = Tmux::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("feed");
    let server = ServeProcess::start(&data);
    let addr = server.addr.clone();
    let url = server.url.clone();
    {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let (mut c, _) = common::Raw::join(&url, "bot", None).await;
            common::seqs(&c.command(common::declare("Checkout returns 500s", 1)).await);
        });
    }
    // The scribe works in India (UTC+05:30 all year): "@01:52" is 01:52 there, whatever
    // zone the machine running the test is in.
    tmux.console_with(
        "lee",
        &[("WARROOM_SERVER", &url), ("TZ", "Asia/Kolkata")],
        "lee",
        dir.path(),
        &format!("{}/lee-data", dir.path().display()),
        None,
    );
    tmux.wait_for("lee", "Checkout returns 500s");
    tmux.keys("lee", &["Enter"]);
    tmux.wait_for("lee", "Timeline");

    // The feed is killed outright.
    server.kill();
    let s = tmux.wait_for("lee", "DISCONNECTED");
    assert!(s.contains("what you type is kept"), "{s}");

    // The scribe keeps working: the entry is queued (on disk) while the feed is down.
    tmux.keys("lee", &["i"]);
    tmux.wait_for("lee", "enter records");
    tmux.type_text("lee", "@01:52 impact started while the feed was down");
    tmux.keys("lee", &["Enter"]);
    tmux.wait_for("lee", "1 queued");

    // The feed comes back on the same address with the same log; the console reconnects by
    // itself, sends the queued entry, and shows it once.
    let server = ServeProcess::start_on(&data, &addr);
    let s = tmux.wait_for("lee", "impact started while the feed was down");
    assert!(!s.contains("DISCONNECTED"), "{s}");
    assert_eq!(
        s.matches("impact started while the feed was down").count(),
        1,
        "{s}"
    );
    tmux.wait_for("lee", "● live");
    // And it is in the log exactly once.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let events = rt.block_on(async {
        let (c, _) = common::Raw::join(&server.url, "auditor", Some(0)).await;
        c.events
    });
    let notes: Vec<_> = events
        .iter()
        .filter(|e| e["text"] == "impact started while the feed was down")
        .collect();
    assert_eq!(notes.len(), 1, "{events:#?}");
    assert!(
        notes[0]["occurred_at"]
            .as_str()
            .unwrap()
            .contains("T20:22:00"),
        "{:?}",
        notes[0]
    );
}

#[test]
fn with_no_feed_configured_consoles_share_an_embedded_one_and_take_it_over() {
    let Some(tmux) = Tmux::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let local = format!("127.0.0.1:{port}");
    // The first console finds nobody at the local address and hosts the feed itself.
    tmux.local_console("first", &local, "priya", dir.path());
    tmux.wait_for("first", &format!("● live  ws://{local}/feed"));
    // A second one joins it.
    tmux.local_console("second", &local, "marco", dir.path());
    tmux.wait_for("second", "● live");
    tmux.wait_for("first", "present: marco, priya");
    tmux.palette("second", "declare sev2 Checkout slow");
    tmux.wait_for("first", "Checkout slow");
    // The hosting console quits; the other takes the feed over, with its history.
    tmux.keys("first", &["q"]);
    tmux.wait_for("first", "warroom exited 0");
    let s = tmux.wait_for("second", "present: marco");
    assert!(s.contains("Checkout slow"), "{s}");
    tmux.wait_for("second", "● live");
    // Scripts on the machine reach the same feed with no configuration either: they read
    // the local token the first console made in the (same) data directory.
    let data = dir.path().join("local-data");
    assert!(data.join("local-token").exists() && data.join("tokens.json").exists());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .arg("incidents")
        .env("WARROOM_LOCAL_FEED", &local)
        .env("WARROOM_DATA_DIR", &data)
        .env_remove("WARROOM_SERVER")
        .env_remove("WARROOM_TOKEN")
        .output()
        .unwrap();
    // Without it (another account, another data directory), the local feed is closed.
    let elsewhere = dir.path().join("another-account");
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .arg("incidents")
        .env("WARROOM_LOCAL_FEED", &local)
        .env("WARROOM_DATA_DIR", &elsewhere)
        .env_remove("WARROOM_SERVER")
        .env_remove("WARROOM_TOKEN")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("requires a token"),
        "{err}"
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && table.contains("Checkout slow"),
        "{table}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_sev1_pages_on_call_shows_its_runbook_and_stops_paging_when_acknowledged() {
    let Some(tmux) = Tmux::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    // The real server with the default policy: it pages on-call, sets the status-update
    // cadence and attaches the payments runbook by itself.
    let server = ServeProcess::start(&dir.path().join("feed"));
    tmux.console("alice", &server.url, "alice", dir.path());
    tmux.wait_for("alice", "● live");

    tmux.palette("alice", "declare sev1 service:payments Checkout failing");
    tmux.wait_for("alice", "INC-1 declared");
    // The room shows whom it paged and the countdown to the next step, and both move on.
    let s = tmux.wait_for("alice", "next: ");
    assert!(
        s.contains("SEV1 policy") && s.contains("paged ") && s.contains("(oncall.primary)"),
        "{s}"
    );
    tmux.wait_for("alice", "no ack 0:02");
    let s = tmux.wait_for("alice", "Status updates");
    assert!(
        s.contains("every 15m") && s.contains("runbook 0/16 done"),
        "{s}"
    );

    // Leave the scribe pane, then open the runbook from the palette.
    tmux.keys("alice", &["Escape"]);
    tmux.wait_for("alice", "Scribe · i tab to write");
    tmux.palette("alice", "runbook");
    let s = tmux.wait_for("alice", "Check whether a deployment happened");
    assert!(s.contains("Runbook · INC-1 · 0 of 16 done"), "{s}");
    // Space ticks item 1; the checklist shows it, and closing it shows the timeline entry.
    tmux.keys("alice", &["Space"]);
    tmux.wait_for("alice", "[x]  1. Check whether a deployment happened");
    tmux.keys("alice", &["Escape"]);
    let s = tmux.wait_for(
        "alice",
        "runbook step 1 done: Check whether a deployment happened",
    );
    assert!(
        s.contains("runbook 1/16 done") && !s.contains("Runbook ·"),
        "{s}"
    );

    // Acknowledging stops the paging; the room and the board say who and when.
    tmux.palette("alice", "ack");
    let s = tmux.wait_for("alice", "acknowledged by alice at");
    assert!(s.contains("no further pages"), "{s}");
    tmux.keys("alice", &["Escape"]);
    tmux.wait_for("alice", "✓ ack alice");
    tmux.keys("alice", &["q"]);
    tmux.wait_for("alice", "warroom exited 0");
}

#[test]
fn a_scribe_and_a_comms_lead_record_an_incident_and_export_it_in_order() {
    let Some(tmux) = Tmux::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let server = ServeProcess::start(&dir.path().join("feed"));
    tmux.console_in("scribe", &server.url, "lee", dir.path(), &work);
    tmux.console("comms", &server.url, "carol", dir.path());
    tmux.wait_for("scribe", "● live");
    tmux.wait_for("comms", "● live");

    tmux.palette("scribe", "declare sev2 Checkout returns 500s");
    tmux.wait_for("scribe", "INC-1 declared");
    tmux.wait_for("scribe", "enter records");
    // The scribe logs what happened: first something from ten minutes ago, backdated.
    let earlier = chrono::Local::now() - chrono::Duration::minutes(10);
    let hhmm = earlier.format("%H:%M").to_string();
    tmux.type_text(
        "scribe",
        &format!("@{hhmm} h: connection pool exhausted after deploy 4471"),
    );
    tmux.keys("scribe", &["Enter"]);
    tmux.wait_for("scribe", "connection pool exhausted after deploy 4471");
    tmux.type_text("scribe", "d: roll back deploy 4471");
    tmux.keys("scribe", &["Enter"]);
    tmux.wait_for("scribe", "roll back deploy 4471");

    // The comms lead opens the room and posts a status update through the form.
    tmux.wait_for("comms", "Checkout returns 500s");
    tmux.keys("comms", &["Enter"]);
    tmux.wait_for("comms", "roll back deploy 4471");
    tmux.palette("comms", "update");
    tmux.wait_for("comms", "What is happening");
    tmux.type_text("comms", "Checkout fails for some customers");
    tmux.keys("comms", &["Tab"]);
    tmux.type_text("comms", "About 30% of payments fail");
    tmux.keys("comms", &["Tab"]);
    tmux.type_text("comms", "Rolling back deploy 4471");
    // Enter moves to the last field (the next update, 30 minutes by default); Enter posts.
    tmux.keys("comms", &["Enter"]);
    tmux.wait_for("comms", "Next update: ");
    tmux.keys("comms", &["Enter"]);
    tmux.wait_for("comms", "status update posted");
    tmux.wait_for(
        "scribe",
        "What is happening: Checkout fails for some customers.",
    );

    // The scribe exports the record into the directory the console runs in.
    tmux.keys("scribe", &["Escape"]);
    tmux.wait_for("scribe", "Scribe · i tab to write");
    tmux.palette("scribe", "export md");
    let path = work.join("INC-1-checkout-returns-500s.md");
    tmux.wait_for("scribe", &format!("INC-1 exported to {}", path.display()));
    let md = std::fs::read_to_string(&path).unwrap();
    let timeline = &md[md.find("## Timeline").expect("a timeline section")..];
    let at = |needle: &str| {
        timeline
            .find(needle)
            .unwrap_or_else(|| panic!("'{needle}' not in the exported timeline:\n{timeline}"))
    };
    // In occurred-at order: the backdated hypothesis before the declaration, then the
    // decision, then the update.
    let hypothesis = at("connection pool exhausted after deploy 4471");
    let declared = at("declared SEV2");
    let decision = at("roll back deploy 4471 |");
    let update = at(
        "What is happening: Checkout fails for some customers. Impact: About 30% \
                     of payments fail. What we are doing: Rolling back deploy 4471. Next update:",
    );
    assert!(
        hypothesis < declared && declared < decision && decision < update,
        "{timeline}"
    );
    // The backdated entry carries the time typed (UTC in the export), the update its author.
    let utc = earlier
        .with_timezone(&chrono::Utc)
        .format("%H:%M:00")
        .to_string();
    assert!(
        // (An export spanning midnight puts the date before the time.)
        timeline.contains(&format!("{utc} | hypothesis | lee | connection pool")),
        "{utc}\n{timeline}"
    );
    assert!(
        timeline.contains("| status update | carol | What is happening:"),
        "{timeline}"
    );
    tmux.keys("scribe", &["q"]);
    tmux.wait_for("scribe", "warroom exited 0");
}

/// `warroom token add NAME --role ROLE --data DIR` with the real binary; the token printed.
fn token_add(data: &Path, name: &str, role: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["token", "add", name, "--role", role, "--data"])
        .arg(data)
        .env_remove("WARROOM_TOKEN")
        .env_remove("WARROOM_SERVER")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_restricted_incident_is_seen_only_by_its_members() {
    let Some(tmux) = Tmux::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("feed");
    let ana = token_add(&data, "ana", "admin");
    let bob = token_add(&data, "bob", "responder");
    let server = ServeProcess::start(&data);
    let console = |session: &str, name: &str, token: &str| {
        tmux.console_as(session, &server.url, name, token, dir.path())
    };
    console("ana", "ana", &ana);
    console("bob", "bob", &bob);
    tmux.wait_for("ana", "● live");
    tmux.wait_for("bob", "● live");
    tmux.wait_for("ana", "present: ana, bob");

    // Ana declares it need-to-know from the start; her room says so.
    tmux.palette(
        "ana",
        "declare --restricted sev1 Leaked credentials in bucket",
    );
    tmux.wait_for("ana", "INC-1 declared");
    let s = tmux.wait_for_all(
        "ana",
        &[
            "RESTRICTED  need to know",
            "breach notice (GDPR 72 h) due",
            "members: ana",
        ],
    );
    assert!(s.contains("Leaked credentials in bucket"), "{s}");
    tmux.keys("ana", &["Escape"]);
    tmux.wait_for("ana", "Scribe · i tab to write");

    // Bob learns that it exists, and nothing else.
    let s = tmux.wait_for(
        "bob",
        "1 restricted incident you are not a member of: INC-1 (ask an admin to add you)",
    );
    assert!(!s.contains("Leaked"), "{s}");
    assert!(s.contains("No incidents you may see"), "{s}");
    // Acting on it from his console is refused, and says why.
    tmux.palette("bob", "ack INC-1");
    let s = tmux.wait_for("bob", "not allowed: INC-1 is restricted (need to know)");
    assert!(!s.contains("Leaked"), "{s}");
    // So is a script of his.
    let out = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["note", "INC-1", "what is in the bucket?"])
        .env("WARROOM_SERVER", &server.url)
        .env("WARROOM_TOKEN", &bob)
        .env("WARROOM_DATA_DIR", dir.path().join("bob-cli"))
        .env_remove("WARROOM_NAME")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("not allowed: INC-1 is restricted (need to know)"),
        "{err}"
    );
    assert!(!err.contains("Leaked"), "{err}");

    // Ana (an admin) adds him: his board shows it at once; he opens the room.
    tmux.palette("ana", "member add bob");
    tmux.wait_for("ana", "INC-1: bob added to the members");
    let s = tmux.wait_for_all(
        "bob",
        &[
            "RESTRICTED Leaked credential",
            "you were added to the members of INC-1",
        ],
    );
    assert!(!s.contains("you are not a member of"), "{s}");
    tmux.keys("bob", &["Enter"]);
    // (The header and the timeline below it may be drawn by separate writes.)
    tmux.wait_for_all(
        "bob",
        &[
            "Leaked credentials in bucket",
            "members: ana, bob",
            "bob added to the members",
        ],
    );
    tmux.wait_for("ana", "here: ana, bob");

    // And takes him off again: his room closes, the title goes, the reference stays.
    tmux.palette("ana", "member remove bob");
    tmux.wait_for("ana", "INC-1: bob removed from the members");
    let s = tmux.wait_for_all(
        "bob",
        &[
            "INC-1 is restricted (need to know) and you are not a member: back to the board",
            "1 restricted incident you are not a member of: INC-1",
        ],
    );
    assert!(!s.contains("Leaked"), "{s}");
    tmux.keys("bob", &["q"]);
    tmux.wait_for("bob", "warroom exited 0");
    tmux.keys("ana", &["q"]);
    tmux.wait_for("ana", "warroom exited 0");
}

#[test]
fn the_console_briefs_by_the_feeds_policy() {
    let Some(tmux) = Tmux::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, common::olga_covers_for_pete()).unwrap();
    let server = ServeProcess::start_with(
        &dir.path().join("feed"),
        "127.0.0.1:0",
        &["--policy", policy.to_str().unwrap()],
    );
    // The console is told nothing of the policy: it learns it from the feed.
    tmux.console("zed", &server.url, "zed", dir.path());
    tmux.wait_for("zed", "● live");
    tmux.palette("zed", "declare sev1 Disk full on db-3");
    tmux.wait_for("zed", "INC-1 declared");
    tmux.wait_for("zed", "enter records");
    tmux.keys("zed", &["Escape"]);
    // (An Escape and the next key in one read would be taken as Alt and that key.)
    tmux.wait_for("zed", "Scribe · i tab to write");
    tmux.palette("zed", "handoff");
    let s = tmux.wait_for_all("zed", &["Outgoing: pete", "olga"]);
    assert!(s.contains("night-shift"), "{s}");
    for builtin in ["priya", "marco", "sam"] {
        assert!(!s.contains(builtin), "{builtin} on\n{s}");
    }
    // Accepting without a name (from the briefing, as its title says) takes over from the outgoing primary the feed's schedule names.
    tmux.palette("zed", "accept-handoff");
    tmux.wait_for("zed", "took over from pete on INC-1");
    tmux.keys("zed", &["q"]);
    tmux.wait_for("zed", "warroom exited 0");
}

/// `tmux paste-buffer -p`: `text` arrives as one bracketed paste (tmux sends each LF as CR,
/// as terminals do).
impl Tmux {
    fn paste(&self, session: &str, text: &str) {
        self.cmd(&["set-buffer", "-b", "warroom-paste", text]);
        self.cmd(&["paste-buffer", "-p", "-b", "warroom-paste", "-t", session]);
    }
}

#[test]
fn a_paste_with_cr_line_breaks_is_one_entry_and_a_refused_entry_keeps_its_draft() {
    let Some(tmux) = Tmux::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("feed");
    let lee = token_add(&data, "lee", "responder");
    let vic = token_add(&data, "vic", "viewer");
    let server = ServeProcess::start(&data);
    let console = |session: &str, name: &str, token: &str| {
        tmux.console_as(session, &server.url, name, token, dir.path())
    };
    console("lee", "lee", &lee);
    tmux.wait_for("lee", "● live");
    tmux.palette("lee", "declare sev2 Checkout returns 500s");
    tmux.wait_for("lee", "INC-1 declared");
    tmux.wait_for("lee", "enter records");

    // A draft, then a pasted log on top of it: its line breaks arrive as CR.
    tmux.type_text("lee", "pool errors since deploy: ");
    tmux.wait_for("lee", "│pool errors since deploy:");
    tmux.paste(
        "lee",
        "ERROR pool exhausted\nWARN retrying\nINFO pool resized",
    );
    // Each line in the pane, inside its border (a raw CR would write over it).
    let s = tmux.wait_for_all(
        "lee",
        &[
            "│pool errors since deploy: ERROR pool exhausted",
            "│WARN retrying",
            "│INFO pool resized",
        ],
    );
    assert!(!s.contains("control character"), "{s}");
    tmux.keys("lee", &["Enter"]);
    tmux.wait_for(
        "lee",
        "pool errors since deploy: ERROR pool exhausted ⏎ WARN retrying ⏎ INFO pool resized",
    );
    // One entry in the feed's log, its text with the line breaks.
    let out = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["events", "--since", "0", "--json"])
        .env("WARROOM_SERVER", &server.url)
        .env("WARROOM_TOKEN", &lee)
        .env("WARROOM_DATA_DIR", dir.path().join("lee-cli"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let texts: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|e| e["text"].as_str().map(str::to_string))
        .filter(|t| t.contains("pool exhausted"))
        .collect();
    assert_eq!(
        texts,
        ["pool errors since deploy: ERROR pool exhausted\nWARN retrying\nINFO pool resized"]
    );

    // A viewer's entry is refused by the feed: the draft comes back, the reason is shown.
    console("vic", "vic", &vic);
    tmux.wait_for("vic", "Checkout returns 500s");
    tmux.keys("vic", &["Enter"]);
    tmux.wait_for("vic", "Timeline");
    tmux.keys("vic", &["i"]);
    tmux.wait_for("vic", "enter records");
    tmux.type_text("vic", "seen from the status page: ");
    tmux.wait_for("vic", "│seen from the status page:");
    tmux.paste("vic", "checkout 500s\nsince 02:10");
    tmux.wait_for_all(
        "vic",
        &["│seen from the status page: checkout 500s", "│since 02:10"],
    );
    tmux.keys("vic", &["Enter"]);
    let s = tmux.wait_for_all(
        "vic",
        &[
            "not allowed: viewers can read but not change incidents",
            "│seen from the status page: checkout 500s",
            "│since 02:10",
        ],
    );
    // The message wraps over rows of its own when it is long: read it as one line.
    let joined: Vec<&str> = s.lines().map(str::trim).collect();
    assert!(
        joined
            .join(" ")
            .contains("(INC-1: seen from the status page: checkout 500s) · your text is back in the scribe pane"),
        "{s}"
    );
    assert!(!s.contains("since 02:10 ⏎"), "nothing was recorded:\n{s}");
    // The draft is still unrecorded text: quitting asks first.
    tmux.keys("vic", &["Escape"]);
    tmux.wait_for("vic", "Scribe · i tab to write");
    tmux.keys("vic", &["q"]);
    tmux.wait_for("vic", "the scribe draft in INC-1");
    tmux.keys("vic", &["y"]);
    tmux.wait_for("vic", "warroom exited 0");
    tmux.keys("lee", &["Escape"]);
    tmux.wait_for("lee", "Scribe · i tab to write");
    tmux.keys("lee", &["q"]);
    tmux.wait_for("lee", "warroom exited 0");
}

#[test]
fn the_local_feed_a_console_hosts_pages_by_warroom_policy() {
    let Some(tmux) = Tmux::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, common::olga_covers_for_pete()).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let local = format!("127.0.0.1:{port}");
    let data = format!("{}/local-data", dir.path().display());
    // No feed configured: the console hosts the local one, with the policy it was given.
    tmux.console_with(
        "zed",
        &[
            ("WARROOM_LOCAL_FEED", &local),
            ("WARROOM_POLICY", policy.to_str().unwrap()),
        ],
        "zed",
        dir.path(),
        &data,
        None,
    );
    tmux.wait_for("zed", &format!("● live  ws://{local}/feed"));
    tmux.palette("zed", "declare sev1 Disk full on db-3");
    // Its escalation pages whom that policy names.
    tmux.wait_for("zed", "paged olga as oncall.primary");
    // A script on the machine, with no policy of its own, hears the same from the feed.
    let out = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .arg("oncall")
        .env("WARROOM_LOCAL_FEED", &local)
        .env("WARROOM_DATA_DIR", &data)
        .env_remove("WARROOM_SERVER")
        .env_remove("WARROOM_TOKEN")
        .env_remove("WARROOM_POLICY")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("primary   olga"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tmux.wait_for("zed", "enter records");
    tmux.keys("zed", &["Escape"]);
    tmux.wait_for("zed", "Scribe · i tab to write");
    tmux.keys("zed", &["q"]);
    tmux.wait_for("zed", "warroom exited 0");
}

/// `warroom serve` on a long history made through the store before it starts: "Checkout
/// latency storm" with 1,001 entries (numbered `000000 checked …` to `000999 checked …`),
/// 60 incidents resolved long ago (one "Ledger double-charges after the failover"), two
/// live ones; a policy that pages nobody.
fn long_history(dir: &Path) -> (ServeProcess, common::history::Made) {
    let data = dir.join("feed");
    let made = common::history::generate(
        &data,
        chrono::Utc::now(),
        common::history::Sizes {
            big_entries: 1_000,
            archived: 60,
            live: 2,
        },
    );
    let policy = dir.join("quiet.toml");
    std::fs::write(&policy, "").unwrap();
    let server = ServeProcess::start_with(
        &data,
        "127.0.0.1:0",
        &["--policy", policy.to_str().unwrap()],
    );
    (server, made)
}

#[test]
fn a_room_on_a_long_history_opens_at_its_newest_and_scrolls_back_a_page_at_a_time() {
    let Some(tmux) = Tmux::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = long_history(dir.path());
    tmux.console("lee", &server.url, "lee", dir.path());
    tmux.wait_for("lee", "Checkout latency storm");
    // The SEV1 is the board's first row; its room shows the newest entries, and says how
    // many older ones it has not loaded.
    tmux.keys("lee", &["Enter"]);
    tmux.wait_for_all("lee", &["000999 checked", "801 older entries ↑"]);
    // To the top of what is held: the page before it comes, the cursor stays on its entry.
    tmux.keys("lee", &["g"]);
    let s = tmux.wait_for("lee", "601 older entries ↑");
    assert!(s.contains("000800 checked"), "{s}");
    tmux.keys("lee", &["g"]);
    tmux.wait_for_all("lee", &["401 older entries ↑", "000600 checked"]);
    // Upwards a page: what came is in order above.
    tmux.keys("lee", &["PageUp"]);
    let s = tmux.wait_for("lee", "000599 checked");
    let at = |needle: &str| s.find(needle).unwrap_or_else(|| panic!("{needle}:\n{s}"));
    assert!(at("000599 checked") < at("000600 checked"), "{s}");
    // A search says it looked at the loaded entries only.
    tmux.keys("lee", &["/"]);
    tmux.type_text("lee", "000010 checked");
    tmux.keys("lee", &["Enter"]);
    tmux.wait_for("lee", "among the loaded entries");
    // Esc clears the search (two escapes in one write would read as alt-escape: wait).
    tmux.keys("lee", &["Escape"]);
    tmux.wait_for("lee", "esc back  i tab write");
    // Leaving drops the pages; coming back asks for the newest again.
    tmux.keys("lee", &["Escape"]);
    tmux.wait_for("lee", "Live issue 1");
    tmux.keys("lee", &["Enter"]);
    tmux.wait_for_all("lee", &["000999 checked", "801 older entries ↑"]);
    tmux.keys("lee", &["Escape"]);
    tmux.wait_for("lee", "Live issue 1");
    tmux.keys("lee", &["q"]);
    tmux.wait_for("lee", "warroom exited 0");
}

#[test]
fn the_archive_searches_the_feed_and_opens_an_old_incidents_room() {
    let Some(tmux) = Tmux::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (server, made) = long_history(dir.path());
    tmux.console("ana", &server.url, "ana", dir.path());
    tmux.wait_for("ana", "Checkout latency storm");
    tmux.keys("ana", &["r"]);
    // The newest resolved first, a page at a time.
    tmux.wait_for_all(
        "ana",
        &[
            "archive · 50 incidents so far",
            "Elevated errors on web (59)",
        ],
    );
    tmux.keys("ana", &["G"]);
    tmux.wait_for_all("ana", &["archive · 60 incidents", "end of the archive"]);
    // A search: words in the title, the service or any entry.
    tmux.keys("ana", &["/"]);
    tmux.type_text("ana", "double-charges");
    tmux.keys("ana", &["Enter"]);
    tmux.wait_for_all(
        "ana",
        &[
            "archive · 1 incident",
            "Ledger double-charges after the failover",
        ],
    );
    // Its room, asked of the feed: archived, its entries there, commands work.
    tmux.keys("ana", &["Enter"]);
    let s = tmux.wait_for_all(
        "ana",
        &[
            "archived (a command brings it back)",
            "step 3: looked at the dashboards",
        ],
    );
    assert!(s.contains(&made.needle.to_string()), "{s}");
    tmux.palette("ana", "note found it again, same ledger bug");
    tmux.wait_for("ana", "found it again, same ledger bug");
    // Back to the archive as it was; then the board.
    tmux.keys("ana", &["Escape"]);
    tmux.wait_for("ana", "archive · 1 incident");
    tmux.keys("ana", &["Escape"]);
    tmux.wait_for("ana", "Live issue 1");
    tmux.keys("ana", &["q"]);
    tmux.wait_for("ana", "warroom exited 0");
}

#[test]
fn a_console_moves_to_the_next_replica_and_its_status_line_names_it() {
    let Some(tmux) = Tmux::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("feed");
    let a = ServeProcess::start(&data);
    let b_addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let (mut c, _) = common::Raw::join(&a.url, "bot", None).await;
            common::seqs(&c.command(common::declare("Checkout returns 500s", 1)).await);
        });
    }
    // The feed's two replicas, as an operator lists them.
    tmux.console("lee", &format!("{},{b_addr}", a.addr), "lee", dir.path());
    let s = tmux.wait_for_all("lee", &["● live", "Checkout returns 500s"]);
    assert!(
        s.contains(&a.url),
        "the status line names the replica:\n{s}"
    );

    // Replica A's host dies; the same log is served at B (a replica taking over).
    a.kill();
    let b = ServeProcess::start_on(&data, &b_addr);
    let s = tmux.wait_for_all("lee", &["● live", &b.url]);
    assert!(s.contains("Checkout returns 500s"), "{s}");
    // And the console works there: an entry goes in once.
    tmux.keys("lee", &["Enter"]);
    tmux.wait_for("lee", "Timeline");
    tmux.keys("lee", &["i"]);
    tmux.wait_for("lee", "enter records");
    tmux.type_text("lee", "written on the second replica");
    tmux.keys("lee", &["Enter"]);
    let s = tmux.wait_for("lee", "written on the second replica");
    assert_eq!(s.matches("written on the second replica").count(), 1, "{s}");
}

/// `warroom` as a script: its output, asserted to succeed.
fn cli(server: &ServeProcess, dir: &Path, name: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(args)
        .env("WARROOM_SERVER", &server.url)
        .env("WARROOM_NAME", name)
        .env("WARROOM_DATA_DIR", dir.join(format!("{name}-cli")))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "warroom {args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn a_sev1_declared_from_the_cli_is_noticed_in_another_room() {
    let Some(tmux) = Tmux::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(&dir.path().join("feed"));
    tmux.console("alice", &server.url, "alice", dir.path());
    tmux.wait_for("alice", "● live");
    tmux.palette("alice", "declare sev3 Search slow");
    tmux.wait_for("alice", "enter records");
    tmux.keys("alice", &["Escape"]);
    tmux.wait_for("alice", "Scribe · i tab to write");
    // bob declares a SEV1 from the command line while alice sits in INC-1's room.
    let out = cli(
        &server,
        dir.path(),
        "bob",
        &["declare", "Checkout returns 500s", "--severity", "1"],
    );
    assert!(out.contains("INC-2"), "{out}");
    let s = tmux.wait_for("alice", "NEW SEV1  INC-2 Checkout returns 500s");
    assert!(
        s.contains("declared by bob") && s.contains("o go there"),
        "{s}"
    );
    assert!(s.contains(" INC-1 ") && s.contains("Search slow"), "{s}");
    // One key takes her there; the notice has been seen.
    tmux.keys("alice", &["o"]);
    let s = tmux.wait_for("alice", "declared SEV1: Checkout returns 500s");
    assert!(s.contains(" INC-2 ") && !s.contains("NEW SEV1"), "{s}");
    tmux.keys("alice", &["q"]);
    tmux.wait_for("alice", "warroom exited 0");
}

#[test]
fn r_does_not_resolve_without_its_confirmation() {
    let Some(tmux) = Tmux::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(&dir.path().join("feed"));
    tmux.console("alice", &server.url, "alice", dir.path());
    tmux.wait_for("alice", "● live");
    cli(
        &server,
        dir.path(),
        "bob",
        &["declare", "Checkout 500s", "--severity", "1"],
    );
    tmux.wait_for("alice", "▶ INC-1");
    tmux.keys("alice", &["R"]);
    // Never watched in monitoring: the question is whether recovery was verified.
    tmux.wait_for(
        "alice",
        "Resolve INC-1 (SEV1 Checkout 500s) from investigating: was recovery verified?  y yes, \
         resolve · s skip verification · other keys cancel",
    );
    tmux.keys("alice", &["n"]);
    tmux.wait_for("alice", "cancelled: resolve INC-1 (SEV1 Checkout 500s)");
    let out = cli(&server, dir.path(), "carol", &["incidents"]);
    assert!(
        out.contains("INC-1") && out.contains("investigating"),
        "{out}"
    );
    tmux.keys("alice", &["R"]);
    tmux.wait_for(
        "alice",
        "Resolve INC-1 (SEV1 Checkout 500s) from investigating",
    );
    tmux.keys("alice", &["y"]);
    let s = tmux.wait_for(
        "alice",
        "INC-1 resolved, recovery verified (was investigating)",
    );
    let md = cli(&server, dir.path(), "carol", &["export", "INC-1"]);
    assert!(
        md.contains("recovery verified by alice before resolving"),
        "{md}"
    );
    assert!(
        s.contains("No active incidents · 1 resolved hidden (r shows the archive)"),
        "{s}"
    );
    let out = cli(&server, dir.path(), "carol", &["incidents"]);
    assert!(out.contains("resolved"), "{out}");
    tmux.keys("alice", &["q"]);
    tmux.wait_for("alice", "warroom exited 0");
}

#[test]
fn taking_ic_is_one_key_and_handing_a_role_three_and_the_name() {
    let Some(tmux) = Tmux::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(&dir.path().join("feed"));
    tmux.console("alice", &server.url, "alice", dir.path());
    tmux.console("bob", &server.url, "bob", dir.path());
    tmux.wait_for("alice", "present: alice, bob");
    cli(
        &server,
        dir.path(),
        "carol",
        &["declare", "Checkout 500s", "--severity", "1"],
    );
    let s = tmux.wait_for("alice", "▶ INC-1");
    assert!(s.contains("no IC"), "{s}");
    // One key on the board.
    tmux.keys("alice", &["I"]);
    tmux.wait_for("alice", "INC-1: alice is incident commander");
    let out = cli(&server, dir.path(), "carol", &["incidents"]);
    assert!(out.contains("alice"), "{out}");
    // In the room, A, t, the name with tab completing who is here, enter.
    tmux.keys("alice", &["Enter"]);
    tmux.wait_for("alice", "IC alice");
    tmux.keys("alice", &["A"]);
    tmux.wait_for("alice", "Hand which role of INC-1?");
    tmux.keys("alice", &["t"]);
    tmux.wait_for("alice", ":role tl ");
    tmux.type_text("alice", "b");
    tmux.keys("alice", &["Tab"]);
    tmux.wait_for("alice", ":role tl bob");
    tmux.keys("alice", &["Enter"]);
    tmux.wait_for("alice", "INC-1: bob is tech lead");
    tmux.wait_for("alice", "Tech bob");
    tmux.keys("alice", &["q"]);
    tmux.wait_for("alice", "warroom exited 0");
}

#[test]
fn paging_someone_on_demand_is_three_keys_and_the_name_and_they_acknowledge() {
    let Some(tmux) = Tmux::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    // The default policy: its rotation names priya, marco, lee and sam.
    let server = ServeProcess::start(&dir.path().join("feed"));
    tmux.console("alice", &server.url, "alice", dir.path());
    tmux.console("marco", &server.url, "marco", dir.path());
    tmux.wait_for("alice", "present: alice, marco");
    cli(
        &server,
        dir.path(),
        "carol",
        &["declare", "Search slow", "--severity", "3"],
    );
    tmux.wait_for("alice", "▶ INC-1");
    tmux.keys("alice", &["Enter"]);
    tmux.wait_for("alice", "Timeline");
    // `:pa`, tab completes the command, then the name from the feed's policy.
    tmux.keys("alice", &[":"]);
    tmux.type_text("alice", "pa");
    tmux.keys("alice", &["Tab"]);
    tmux.wait_for("alice", ":page ");
    tmux.type_text("alice", "ma");
    tmux.keys("alice", &["Tab"]);
    tmux.wait_for("alice", ":page marco");
    tmux.type_text("alice", " pool?");
    tmux.keys("alice", &["Enter"]);
    tmux.wait_for("alice", "paged marco (on demand, by alice): pool?");
    // A schedule's role, typed with the short form.
    tmux.palette("alice", "pa platform.secondary");
    tmux.wait_for("alice", "as platform.secondary (on demand, by alice)");
    // One nobody knows is refused, naming whom the policy knows.
    tmux.palette("alice", "pa bob");
    tmux.wait_for("alice", "the policy knows no \"bob\"");

    // marco acknowledges with one key on his board: the incident, and his page.
    tmux.wait_for("marco", "INC-1");
    tmux.keys("marco", &["a"]);
    tmux.wait_for("alice", "marco acknowledged the page");
    tmux.keys("alice", &["q"]);
    tmux.wait_for("alice", "warroom exited 0");
}

#[test]
fn a_deploy_before_an_incident_shows_in_its_room_and_in_the_handoff() {
    let Some(tmux) = Tmux::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(&dir.path().join("feed"));
    let out = cli(
        &server,
        dir.path(),
        "ci-bot",
        &[
            "deploy",
            "checkout",
            "v2.14.1",
            "--env",
            "production",
            "--note",
            "new cart",
        ],
    );
    assert!(
        out.contains("recorded the deploy of checkout v2.14.1"),
        "{out}"
    );
    tmux.console("alice", &server.url, "alice", dir.path());
    tmux.wait_for("alice", "● live");
    cli(
        &server,
        dir.path(),
        "bob",
        &[
            "declare",
            "Checkout returns 500s",
            "-s",
            "2",
            "--service",
            "checkout",
        ],
    );
    tmux.wait_for("alice", "Checkout returns 500s");
    tmux.keys("alice", &["Enter"]);
    let s = tmux.wait_for("alice", "deployed v2.14.1 → production");
    assert!(s.contains("by ci-bot"), "{s}");
    // A deploy during the incident shows at once.
    cli(
        &server,
        dir.path(),
        "ci-bot",
        &["deploy", "checkout", "v2.14.2"],
    );
    tmux.wait_for("alice", "deployed v2.14.2");
    // The handoff lists the shift's deploys, newest first.
    tmux.keys("alice", &["Escape"]);
    tmux.wait_for("alice", "1 active");
    tmux.keys("alice", &["h"]);
    tmux.wait_for("alice", "HANDOFF BRIEFING");
    tmux.keys("alice", &["End"]);
    let s = tmux.wait_for("alice", "DEPLOYS DURING THE SHIFT (2)");
    assert!(
        s.contains("checkout v2.14.1 → production, by ci-bot: new cart"),
        "{s}"
    );
    let out = cli(
        &server,
        dir.path(),
        "bob",
        &["deploys", "--service", "checkout"],
    );
    assert!(
        out.find("v2.14.2").unwrap() < out.find("v2.14.1").unwrap(),
        "{out}"
    );
    tmux.keys("alice", &["Escape"]);
    tmux.wait_for("alice", "· 1 active");
    tmux.keys("alice", &["q"]);
    tmux.wait_for("alice", "warroom exited 0");
}

#[test]
fn a_sev1_status_update_asks_for_its_briefing_and_triage_is_one_palette_line() {
    let Some(tmux) = Tmux::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(&dir.path().join("feed"));
    tmux.console("alice", &server.url, "alice", dir.path());
    tmux.wait_for("alice", "● live");
    tmux.palette("alice", "declare sev1 service:payments Checkout failing");
    tmux.wait_for("alice", "INC-1 declared");
    tmux.keys("alice", &["Escape"]);
    tmux.wait_for("alice", "Scribe · i tab to write");

    // Triage: who found it, growing or not, a workaround, in any order.
    tmux.palette("alice", "triage no-workaround customer growing");
    tmux.wait_for_all(
        "alice",
        &["found by customer", "impact growing", "no workaround"],
    );

    // The update form on a SEV1 holds the briefing, and will not post without it.
    tmux.palette("alice", "update");
    tmux.wait_for("alice", "Briefing · business impact");
    tmux.type_text("alice", "Card payments fail in the EU");
    tmux.keys("alice", &["C-s"]);
    tmux.wait_for(
        "alice",
        "a SEV1 update carries the briefing: give the business impact",
    );
    // The text typed is still there; the briefing's three fields are filled in.
    tmux.wait_for("alice", "Card payments fail in the EU");
    tmux.type_text("alice", "15% of EU checkout revenue");
    tmux.keys("alice", &["Tab"]);
    tmux.type_text("alice", "40 minutes");
    tmux.keys("alice", &["Tab"]);
    tmux.type_text("alice", "the EU merchants' SLA");
    tmux.keys("alice", &["C-s"]);
    tmux.wait_for("alice", "status update posted");
    let s = tmux.wait_for("alice", "+briefing");
    assert!(s.contains("Card payments fail in the EU"), "{s}");
    // What the feed recorded: the update with its briefing.
    let out = cli(
        &server,
        dir.path(),
        "bob",
        &["export", "INC-1", "--format", "json"],
    );
    assert!(
        out.contains("15% of EU checkout revenue") && out.contains("the EU merchants' SLA"),
        "{out}"
    );
    tmux.keys("alice", &["q"]);
    tmux.wait_for("alice", "warroom exited 0");
}
