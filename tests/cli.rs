//! The CLI end to end against a real `warroom serve`: what a script or bot sees.

mod common;

use std::process::Output;

use common::ServeProcess;
use common::cli::{ok, warroom};
use serde_json::Value;

#[test]
fn declare_note_ack_resolve_and_read_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(dir.path());
    // `host:port` and `ws://host:port` both reach /feed.
    let s = server.addr.clone();
    let ws = format!("ws://{}", server.addr);

    assert_eq!(
        ok(warroom(
            &s,
            "alice",
            &[
                "declare",
                "Checkout 500s",
                "--severity",
                "2",
                "--service",
                "payments"
            ]
        )),
        "INC-1\n"
    );
    assert_eq!(
        ok(warroom(
            &ws,
            "bob",
            &["declare", "Search slow", "-s", "SEV3"]
        )),
        "INC-2\n"
    );
    let out = ok(warroom(
        &s,
        "bob",
        &[
            "note",
            "INC-1",
            "impact started",
            "--at",
            "2026-01-31T01:52:00Z",
        ],
    ));
    assert!(
        out.starts_with("INC-1: entry ") && out.ends_with(" recorded\n"),
        "{out}"
    );
    ok(warroom(
        &s,
        "bob",
        &["note", "INC-1", "rolled back 4471", "--kind", "action"],
    ));
    assert_eq!(
        ok(warroom(&s, "alice", &["ack", "INC-1"])),
        "INC-1 acknowledged\n"
    );
    assert_eq!(
        ok(warroom(&s, "alice", &["role", "INC-1", "ic", "me"])),
        "INC-1: alice is incident commander\n"
    );
    assert_eq!(
        ok(warroom(&s, "alice", &["sev", "INC-1", "1"])),
        "INC-1 is now SEV1\n"
    );
    assert_eq!(
        ok(warroom(&s, "alice", &["status", "INC-1", "identified"])),
        "INC-1 is now identified\n"
    );
    // Straight from identified, never watched in monitoring: recovery must be verified
    // first (seed guide G38), or the skip said out loud; the answer is on the timeline.
    let err = refused(warroom(&s, "alice", &["resolve", "INC-1"]));
    assert!(
        err.contains("INC-1 is identified, never watched in monitoring")
            && err.contains("--verified")
            && err.contains("--skip-verification"),
        "{err}"
    );
    let err = refused(warroom(&s, "alice", &["status", "INC-1", "resolved"]));
    assert!(err.contains("--skip-verification"), "{err}");
    assert_eq!(
        ok(warroom(
            &s,
            "alice",
            &["resolve", "INC-1", "--skip-verification"]
        )),
        "INC-1 resolved without verifying recovery\n"
    );
    let log = ok(warroom(&s, "carol", &["export", "INC-1"]));
    assert!(
        log.contains("resolved by alice without verifying recovery (verification skipped)"),
        "{log}"
    );

    let table = ok(warroom(&s, "carol", &["incidents"]));
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("REF"), "{table}");
    assert!(
        lines[1].starts_with("INC-2    SEV3  investigating  -"),
        "active first: {table}"
    );
    assert!(
        lines[2].starts_with("INC-1    SEV1  resolved       alice"),
        "{table}"
    );

    let json = ok(warroom(&s, "carol", &["events", "--json"]));
    let all: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The default policy escalates both incidents by itself (actor "warroom").
    let engine: Vec<&str> = all
        .iter()
        .filter(|e| e["actor"] == "warroom")
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(engine.contains(&"escalation_started"), "{engine:?}");
    assert!(engine.contains(&"step_fired"), "{engine:?}");
    let all_seqs: Vec<u64> = all.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        all_seqs,
        (1..=all.len() as u64).collect::<Vec<_>>(),
        "contiguous"
    );
    let events: Vec<Value> = all
        .into_iter()
        .filter(|e| e["actor"] != "warroom")
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "declared",
            "declared",
            "entry_added",
            "entry_added",
            "acknowledged",
            "role_assigned",
            "severity_changed",
            "status_changed",
            "recovery_checked",
            "resolved"
        ]
    );
    assert_eq!(events[2]["occurred_at"], "2026-01-31T01:52:00Z");
    assert_eq!(events[2]["actor"], "bob");
    assert_eq!(events[3]["entry_kind"], "action");
    // --since skips what the script already has; text output is one line per event.
    let since = (events[7]["seq"].as_u64().unwrap() - 1).to_string();
    let text = ok(warroom(&s, "carol", &["events", "--since", &since]));
    assert_eq!(
        text.lines().count() as u64,
        all_seqs.len() as u64 - (events[7]["seq"].as_u64().unwrap() - 1),
        "{text}"
    );
    assert!(
        text.lines().next().unwrap().contains("status_changed"),
        "{text}"
    );

    // A refused command prints the server's reason and exits non-zero.
    let out = warroom(&s, "alice", &["ack", "INC-1"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("INC-1 is resolved; there is nothing to acknowledge"),
        "{err}"
    );
    let out = warroom(&s, "alice", &["note", "INC-9", "x"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("INC-9 does not exist"));
    // Bad arguments are caught before sending.
    let out = warroom(&s, "alice", &["sev", "INC-1", "5"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("severity 5 does not exist"));
    let out = warroom(&s, "alice", &["role", "INC-1", "chef", "bob"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown role 'chef'"));
}

#[test]
fn policy_check_and_print() {
    let bin = env!("CARGO_BIN_EXE_warroom");
    let out = std::process::Command::new(bin)
        .args(["policy", "print"])
        .output()
        .unwrap();
    let default = String::from_utf8(out.stdout).unwrap();
    assert!(default.contains("critical = [\"payments\""));
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, &default).unwrap();
    let out = std::process::Command::new(bin)
        .args(["policy", "check"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ok (17 severity rules, 1 schedules, 6 runbooks)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("SEV1: 0s notify oncall-leads, 0s notify engineering-vp, 0s page oncall.primary, 5m page oncall.secondary, 10m page engineering-manager, 20m page vp-engineering, 30m page cto; status updates every 15m"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "SEV2: 0s notify oncall-team, 0s page oncall.primary, 15m page oncall.secondary"
        ),
        "{stdout}"
    );
    // The built-in runbooks have the six sections; one that lacks some is warned about.
    assert!(!stdout.contains("warning"), "{stdout}");
    std::fs::write(
        dir.path().join("thin.md"),
        "# Search\n## Diagnosis\n- look at the index lag\n## How to fix\n- reindex\n",
    )
    .unwrap();
    let thin = dir.path().join("thin.toml");
    std::fs::write(&thin, "[runbooks]\nsearch = \"thin.md\"\n").unwrap();
    let out = std::process::Command::new(bin)
        .args(["policy", "check"])
        .arg(&thin)
        .output()
        .unwrap();
    assert!(out.status.success(), "a warning, not an error");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "warning: runbook search (" 
        ) && stdout.contains(
            "thin.md) lacks Alert context, Common causes, Escalation criteria, Rollback procedures"
        ),
        "{stdout}"
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[rule]]\nseverity = 2\nerror_rate_gte = 5\nwhy = \"a\"\n\n[[rule]]\nseverity = 1\nwhy = \"b\"\n").unwrap();
    let out = std::process::Command::new(bin)
        .args(["policy", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml: line 6: rule 2: a SEV1 rule after a SEV2 rule"),
        "{err}"
    );
    assert!(
        err.contains("bad.toml: line 6: rule 2: no conditions"),
        "{err}"
    );
    assert!(err.contains("has 2 problem(s)"), "{err}");
}

/// A loopback port nothing listens on: bound, then let go.
fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn an_unreachable_feed_is_reported_as_such() {
    let port = dead_port();
    let started = std::time::Instant::now();
    let out = warroom(&format!("127.0.0.1:{port}"), "alice", &["incidents"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // Refused at once, not after the connect timeout (10 s) or retries.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "{:?}: {err}",
        started.elapsed()
    );
    assert!(
        err.contains(&format!(
            "no feed at ws://127.0.0.1:{port}/feed: connection refused ("
        )),
        "{err}"
    );
    // An address someone named: the hint is about that address, not the local feed.
    assert!(
        err.contains(&format!(
            "Check the address (--server, WARROOM_SERVER), and that a feed runs there: \
             `warroom serve --listen 127.0.0.1:{port}`."
        )),
        "{err}"
    );
    assert!(!err.contains("hosts the local feed"), "{err}");
}

#[test]
fn with_no_feed_running_a_script_is_told_how_to_start_one() {
    // No --server: the local feed, which nobody hosts.
    let home = tempfile::tempdir().unwrap();
    let port = dead_port();
    for cmd in [
        &["incidents"][..],
        &["events"],
        &["export", "INC-1"],
        &["oncall"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
            .args(cmd)
            .env("WARROOM_LOCAL_FEED", format!("127.0.0.1:{port}"))
            .env("WARROOM_DATA_DIR", home.path())
            .env_remove("WARROOM_SERVER")
            .env_remove("WARROOM_TOKEN")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{cmd:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "no feed at ws://127.0.0.1:{port}/feed: connection refused ("
            )),
            "{cmd:?}: {err}"
        );
        assert!(
            err.contains(&format!(
                "Start one: `warroom` opens the console and hosts the local feed; \
                 `warroom serve --listen 127.0.0.1:{port}` runs a shared feed."
            )),
            "{cmd:?}: {err}"
        );
        // On call is the feed's to say, and a policy file can be read without one.
        assert_eq!(
            cmd == ["oncall"],
            err.contains("`warroom oncall --policy FILE` reads a policy file instead"),
            "{cmd:?}: {err}"
        );
    }
}

/// The options a help text lists (`--name`, not `--name` mentioned in a sentence).
fn options_in_help(args: &[&str]) -> Vec<String> {
    let out = ok(std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(args)
        .env_remove("WARROOM_SERVER")
        .output()
        .unwrap());
    out.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with('-'))
        .filter_map(|l| {
            l.split(|c: char| c.is_whitespace() || c == ',')
                .find(|w| w.starts_with("--"))
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn each_subcommand_help_lists_only_the_options_that_apply_to_it() {
    let feed = ["--server", "--name", "--token", "--ca"];
    // Commands that never talk to a feed.
    for cmd in [
        &["serve", "--help"][..],
        &["token", "add", "--help"],
        &["policy", "check", "--help"],
    ] {
        let options = options_in_help(cmd);
        assert!(
            options.contains(&"--help".to_string()),
            "{cmd:?}: {options:?}"
        );
        for o in feed {
            assert!(
                !options.iter().any(|x| x == o),
                "{cmd:?} lists {o}: {options:?}"
            );
        }
    }
    // The demo hosts its own feed: only your name applies.
    let options = options_in_help(&["demo", "--help"]);
    assert!(options.iter().any(|x| x == "--name"), "{options:?}");
    for o in ["--server", "--token", "--ca"] {
        assert!(
            !options.iter().any(|x| x == o),
            "demo lists {o}: {options:?}"
        );
    }
    // Commands that talk to a feed, and the console itself, list all four.
    for cmd in [
        &["--help"][..],
        &["incidents", "--help"],
        &["declare", "--help"],
        &["export", "--help"],
        &["member", "add", "--help"],
        // Asks the feed who is on call (unless given --policy FILE).
        &["oncall", "--help"],
    ] {
        let options = options_in_help(cmd);
        for o in feed {
            assert!(
                options.iter().any(|x| x == o),
                "{cmd:?} lacks {o}: {options:?}"
            );
        }
    }
    // And `serve` refuses them rather than ignoring them.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["serve", "--server", "127.0.0.1:1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unexpected argument '--server'"), "{err}");
}

#[test]
fn feed_options_work_before_and_after_the_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(dir.path());
    let live = server.addr.clone();
    // WARROOM_SERVER names a port where nothing listens: each command reaching the feed
    // shows a flag, wherever it stands, beating the environment.
    let dead = format!("127.0.0.1:{}", dead_port());
    let run = |args: &[&str]| warroom(&dead, "env-name", args);

    // Before the subcommand, as scripts have written it.
    assert_eq!(
        ok(run(&[
            "--server",
            &live,
            "--name",
            "alice",
            "declare",
            "Keys leaked",
            "-s",
            "1",
            "--restricted"
        ])),
        "INC-1\n"
    );
    // After it.
    let list = ok(run(&[
        "incidents",
        "--json",
        "--server",
        &live,
        "--name",
        "alice",
    ]));
    assert!(list.contains("Keys leaked"), "{list}");
    // Both: the subcommand's own win.
    let list = ok(run(&["--server", &dead, "incidents", "--server", &live]));
    assert!(list.contains("INC-1"), "{list}");
    // Under `member`, before and after its action.
    for args in [
        &[
            "member", "--server", &live, "--name", "alice", "list", "INC-1",
        ][..],
        &[
            "member", "list", "INC-1", "--server", &live, "--name", "alice",
        ],
        &[
            "--server", &live, "--name", "alice", "member", "list", "INC-1",
        ],
    ] {
        let members = ok(run(args));
        assert!(members.contains("alice"), "{args:?}: {members}");
    }
    // The environment alone still reaches the feed.
    assert!(ok(warroom(&live, "bob", &["incidents"])).contains("INC-1"));
}

#[test]
fn serve_refuses_to_expose_an_open_feed() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["serve", "--listen", "0.0.0.0:0", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0 without tokens"),
        "{err}"
    );
    assert!(err.contains("--token-file FILE"), "{err}");
}

fn refused(out: Output) -> String {
    assert!(
        !out.status.success(),
        "expected a refusal, got: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn the_postmortem_is_written_from_scripts_and_closing_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(&dir.path().join("feed"));
    let s = server.addr.clone();
    assert_eq!(
        ok(warroom(
            &s,
            "alice",
            &["declare", "Checkout 500s", "-s", "2"]
        )),
        "INC-1\n"
    );
    ok(warroom(&s, "alice", &["resolve", "INC-1", "--verified"]));
    let err = refused(warroom(&s, "alice", &["status", "INC-1", "closed"]));
    assert!(
        err.contains(
            "INC-1 cannot be closed yet: its post-mortem needs a summary and at least one \
             action item"
        ),
        "{err}"
    );

    assert_eq!(
        ok(warroom(
            &s,
            "alice",
            &[
                "postmortem",
                "INC-1",
                "--section",
                "summary",
                "--text",
                "Deploy 4471 halved the payments pool."
            ]
        )),
        "INC-1: summary saved\n"
    );
    // The 5 whys from a file of `why | because` lines; a bad line is named.
    let whys = dir.path().join("whys.txt");
    std::fs::write(
        &whys,
        "1. Why did checkout fail? | The pool ran dry\n2. Why? | Deploy 4471 halved it\n",
    )
    .unwrap();
    assert_eq!(
        ok(warroom(
            &s,
            "alice",
            &[
                "postmortem",
                "INC-1",
                "--section",
                "lessons-learned",
                "--text",
                "Review pool sizes like capacity.",
                "--whys-file",
                whys.to_str().unwrap()
            ]
        )),
        "INC-1: lessons learned saved\nINC-1: 5 whys saved (2 links)\n"
    );
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "a | b\nno pipe\n").unwrap();
    let err = refused(warroom(
        &s,
        "alice",
        &["postmortem", "INC-1", "--whys-file", bad.to_str().unwrap()],
    ));
    assert!(
        err.contains("line 2: write the link as `why | because`"),
        "{err}"
    );
    let err = refused(warroom(
        &s,
        "alice",
        &["postmortem", "INC-1", "--section", "chef", "--text", "x"],
    ));
    assert!(err.contains("unknown post-mortem section 'chef'"), "{err}");
    // A summary alone is not enough.
    let err = refused(warroom(&s, "alice", &["status", "INC-1", "closed"]));
    assert!(err.contains("needs at least one action item"), "{err}");

    let out = ok(warroom(
        &s,
        "alice",
        &[
            "action",
            "INC-1",
            "Alert on pool saturation",
            "--owner",
            "bob",
            "--due",
            "2026-03-21",
        ],
    ));
    let id = out
        .strip_prefix("INC-1: action item ")
        .and_then(|r| r.strip_suffix(" added\n"))
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    assert_eq!(
        ok(warroom(&s, "bob", &["action-done", "INC-1", &id])),
        format!("INC-1: action item {id} done\n")
    );
    let err = refused(warroom(&s, "bob", &["action-done", "INC-1", "999"]));
    assert!(err.contains("INC-1 has no action item 999"), "{err}");
    assert!(
        refused(warroom(
            &s,
            "bob",
            &["action", "INC-1", "x", "--due", "next week"]
        ))
        .contains("'next week' is not a date")
    );
    // Specific, owned and time-bound: no silent owner, no open-ended item.
    let err = refused(warroom(&s, "bob", &["action", "INC-1", "Review the pool"]));
    assert!(err.contains("--owner"), "{err}");
    let err = refused(warroom(
        &s,
        "bob",
        &["action", "INC-1", "Review the pool", "--owner", "me"],
    ));
    assert!(err.contains("needs a due date"), "{err}");
    // Done within its 48 hours: marked so, and the metrics count it on time.
    assert_eq!(
        ok(warroom(&s, "alice", &["postmortem", "INC-1", "--done"])),
        "INC-1: post-mortem done, on time\n"
    );
    let err = refused(warroom(&s, "alice", &["postmortem", "INC-1", "--done"]));
    assert!(err.contains("already marked done"), "{err}");
    let m: Value = serde_json::from_str(&ok(warroom(&s, "carol", &["metrics", "--json"]))).unwrap();
    assert_eq!(m["postmortems"]["deadline"]["on_time"], 1, "{m}");
    assert_eq!(m["postmortems"]["deadline"]["rate"]["rate"], 1.0, "{m}");
    let text = ok(warroom(&s, "carol", &["metrics"]));
    assert!(
        text.contains("Post-mortems done within 48 h of resolution: 100%"),
        "{text}"
    );
    assert_eq!(
        ok(warroom(&s, "alice", &["status", "INC-1", "closed"])),
        "INC-1 is now closed\n"
    );

    // The export has it all.
    let md = ok(warroom(&s, "carol", &["export", "INC-1"]));
    for needle in [
        "Deploy 4471 halved the payments pool.",
        "1. **Why did checkout fail?** Because: The pool ran dry",
        "| 1 | Alert on pool saturation | bob | 2026-03-21 | done ",
        "Review pool sizes like capacity.",
        "(48 h after resolution); done ",
        "| Attendees | alice |",
    ] {
        assert!(md.contains(needle), "{needle}:\n{md}");
    }

    // Or no post-mortem at all, with a reason.
    ok(warroom(
        &s,
        "alice",
        &["declare", "Flaky canary", "-s", "4"],
    ));
    ok(warroom(
        &s,
        "alice",
        &["resolve", "INC-2", "--skip-verification"],
    ));
    assert_eq!(
        ok(warroom(
            &s,
            "alice",
            &["waive", "INC-2", "duplicate of INC-1"]
        )),
        "INC-2: post-mortem waived\n"
    );
    assert_eq!(
        ok(warroom(&s, "alice", &["status", "INC-2", "closed"])),
        "INC-2 is now closed\n"
    );
}

#[test]
fn a_scribe_corrects_an_entry_and_both_versions_stay() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(dir.path());
    let s = server.addr.clone();
    ok(warroom(
        &s,
        "alice",
        &["declare", "Checkout errors", "-s", "3"],
    ));
    let out = ok(warroom(
        &s,
        "lee",
        &["note", "INC-1", "error rate back under 1% at 02:17"],
    ));
    let entry = out
        .trim()
        .strip_prefix("INC-1: entry ")
        .and_then(|r| r.strip_suffix(" recorded"))
        .unwrap()
        .to_string();
    let out = ok(warroom(
        &s,
        "lee",
        &[
            "correct",
            "INC-1",
            &entry,
            "error rate back under 1% at 02:19",
            "--kind",
            "decision",
        ],
    ));
    assert!(
        out.starts_with(&format!("INC-1: entry {entry} corrected by entry ")),
        "{out}"
    );
    let out = warroom(&s, "lee", &["correct", "INC-1", &entry]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("say what to correct"));
    // The original was already corrected: the server says which entry to correct instead.
    let out = warroom(&s, "lee", &["correct", "INC-1", &entry, "again"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already corrected"));
    let state: Value =
        serde_json::from_str(&ok(warroom(&s, "carol", &["incidents", "--json"]))).unwrap();
    let entries = state["incidents"][0]["entries"].as_array().unwrap();
    let n: u64 = entry.parse().unwrap();
    let old = entries.iter().find(|e| e["id"] == n).unwrap();
    let new = entries.iter().find(|e| e["supersedes"] == n).unwrap();
    assert_eq!(old["superseded_by"], new["id"]);
    assert_eq!(new["kind"], "decision");
    assert_eq!(new["text"], "error rate back under 1% at 02:19");
}

/// The real binary as the holder of `token` (tokens name the person), away from this
/// machine's own feed and data.
fn as_holder(server: &str, token: &str, home: &std::path::Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(args)
        .env("WARROOM_SERVER", server)
        .env("WARROOM_TOKEN", token)
        .env_remove("WARROOM_NAME")
        .env("WARROOM_DATA_DIR", home)
        .env("WARROOM_LOCAL_FEED", "127.0.0.1:9")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// `warroom token add NAME --role ROLE --data DIR`: the token it printed.
fn token_add(data: &std::path::Path, name: &str, role: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["token", "add", name, "--role", role, "--data"])
        .arg(data)
        .output()
        .unwrap();
    ok(out).trim().to_string()
}

/// A policy whose one rotation has one person, so who is paged does not depend on the week.
const SAM_ALWAYS_ON_CALL: &str = r#"
[escalation.sev1]
steps = [{ after = "0m", page = "oncall.primary" }]

[oncall]
default_schedule = "platform"

[[schedule]]
name = "platform"
start = "2000-01-03"
primary = ["sam"]
"#;

#[test]
fn a_restricted_incident_reaches_its_members_only_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let data = dir.path().join("feed");
    let root = token_add(&data, "root", "admin");
    let ana = token_add(&data, "ana", "responder");
    let bob = token_add(&data, "bob", "responder");
    // sam is on call every week, whatever the date: a SEV1 pages sam.
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, SAM_ALWAYS_ON_CALL).unwrap();
    let server = ServeProcess::start_with(
        &data,
        "127.0.0.1:0",
        &["--policy", policy.to_str().unwrap()],
    );
    let s = server.addr.clone();
    let run = |token: &str, args: &[&str]| as_holder(&s, token, home.path(), args);

    // The admin declares it need-to-know: only the declarer (and admins) see it.
    let out = run(
        &root,
        &[
            "declare",
            "Leaked credentials in the public bucket",
            "-s",
            "1",
            "--restricted",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(ok(out), "INC-1\n", "only the reference on stdout");
    assert!(err.contains("INC-1 is restricted (need to know)"), "{err}");
    assert_eq!(
        ok(run(&root, &["declare", "Search slow", "-s", "3"])),
        "INC-2\n"
    );
    assert_eq!(
        ok(run(&root, &["member", "add", "INC-1", "ana"])),
        "INC-1: ana added to the members\n"
    );
    // Membership is the admins' to give.
    let err = refused(run(&ana, &["member", "add", "INC-1", "bob"]));
    assert!(
        err.contains("not allowed: only an admin adds or removes the members"),
        "{err}"
    );
    let list = ok(run(&root, &["member", "list", "INC-1"]));
    let lines: Vec<&str> = list.lines().collect();
    // sam is on call: paged about it, so let in.
    assert_eq!(lines.len(), 3, "{list}");
    assert!(
        lines[2].starts_with("sam ") && lines[2].contains("since event "),
        "{list}"
    );
    assert!(
        lines[0].starts_with("ana ") && lines[0].contains("since event "),
        "{list}"
    );
    assert!(
        lines[1].starts_with("root ") && lines[1].ends_with("from the start"),
        "{list}"
    );
    assert_eq!(ok(run(&ana, &["member", "list", "INC-1"])), list);

    // bob is not a member: he may not act on it, export it or list its members.
    let err = refused(run(&bob, &["note", "INC-1", "looking"]));
    assert!(
        err.contains("not allowed: INC-1 is restricted (need to know)"),
        "{err}"
    );
    let restricted_error =
        "INC-1 is restricted (need to know): you are not a member; ask an admin to add you";
    for args in [
        &["export", "INC-1"][..],
        &["export", "INC-1", "--format", "json"],
        &["member", "list", "INC-1"],
    ] {
        let err = refused(run(&bob, args));
        assert!(err.contains(restricted_error), "{args:?}: {err}");
        assert!(!err.contains("does not exist"), "{err}");
    }
    let table = ok(run(&bob, &["incidents"]));
    assert!(
        table.contains("INC-2") && !table.contains("Leaked"),
        "{table}"
    );
    assert!(
        table.ends_with("1 restricted incident you are not a member of: INC-1\n"),
        "{table}"
    );
    // His event stream has only stand-ins for it, which say nothing but that it exists.
    let events = ok(run(&bob, &["events", "--json"]));
    let inc1: Vec<Value> = events
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["incident"] == "INC-1")
        .collect();
    assert!(!inc1.is_empty());
    for e in &inc1 {
        assert_eq!(e["kind"], "withheld", "{e}");
        assert_eq!(e["actor"], "warroom", "{e}");
    }
    assert!(!events.contains("Leaked"), "{events}");

    // Metrics as bob leave it out; as the admin and as a member, it counts.
    let metrics = |token: &str| -> Value {
        serde_json::from_str(&ok(run(token, &["metrics", "--json"]))).unwrap()
    };
    let m = metrics(&bob);
    assert_eq!(m["incidents"], 1, "{m}");
    assert_eq!(m["severities"][0]["incidents"], 0, "no SEV1 for bob: {m}");
    assert_eq!(m["severities"][2]["incidents"], 1, "{m}");
    for token in [&root, &ana] {
        let m = metrics(token);
        assert_eq!(m["incidents"], 2, "{m}");
        assert_eq!(m["severities"][0]["incidents"], 1, "{m}");
    }

    // ana, a member, acts on it and exports it with its access and its deadline.
    ok(run(&ana, &["note", "INC-1", "rotating the keys"]));
    let md = ok(run(&ana, &["export", "INC-1"]));
    assert!(
        md.contains("| Access | Restricted (need to know) |"),
        "{md}"
    );
    assert!(md.contains("| Members | ana, root, sam |"), "{md}");
    assert!(md.contains("| Breach notice due | "), "{md}");
    assert!(md.contains("(72 h after detection at "), "{md}");
    assert!(md.contains("rotating the keys"), "{md}");
    let doc: Value =
        serde_json::from_str(&ok(run(&ana, &["export", "INC-1", "--format", "json"]))).unwrap();
    assert_eq!(doc["restricted"]["access"], "Restricted (need to know)");
    assert_eq!(
        doc["restricted"]["members"],
        serde_json::json!(["ana", "root", "sam"])
    );
    assert_eq!(doc["restricted"]["breach_notice_passed"], false);
    let declared =
        chrono::DateTime::parse_from_rfc3339(doc["incident"]["declared_at"].as_str().unwrap())
            .unwrap();
    let due = chrono::DateTime::parse_from_rfc3339(
        doc["restricted"]["breach_notice_due"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(due - declared, chrono::Duration::hours(72));
    // The incident open to all exports as before.
    let md = ok(run(&bob, &["export", "INC-2"]));
    assert!(!md.contains("Access") && !md.contains("Breach"), "{md}");

    // Restricting later; removing a member shuts them out again.
    assert_eq!(
        ok(run(&root, &["restrict", "INC-2"])),
        "INC-2 is restricted (need to know): only its members and admins see it; members: root\n"
    );
    let err = refused(run(&bob, &["export", "INC-2"]));
    assert!(
        err.contains("INC-2 is restricted (need to know): you are not a member"),
        "{err}"
    );
    assert_eq!(
        ok(run(&root, &["member", "remove", "INC-1", "ana"])),
        "INC-1: ana removed from the members\n"
    );
    let err = refused(run(&ana, &["note", "INC-1", "still here?"]));
    assert!(err.contains("not allowed: INC-1 is restricted"), "{err}");
    let err = refused(run(&root, &["member", "list", "INC-9"]));
    assert!(err.contains("INC-9 does not exist"), "{err}");

    // The handoff briefing: the admin sees both, with their deadlines; bob only references.
    let brief = ok(run(&root, &["handoff"]));
    assert!(
        brief.contains("Leaked credentials in the public bucket  [restricted]"),
        "{brief}"
    );
    assert_eq!(
        brief.matches("  breach notice     due ").count(),
        2,
        "{brief}"
    );
    let brief = ok(run(&bob, &["handoff"]));
    assert!(
        brief.contains("also: 2 restricted incidents you are not a member of: INC-1, INC-2"),
        "{brief}"
    );
    assert!(
        !brief.contains("Leaked") && !brief.contains("Search slow"),
        "{brief}"
    );
}

#[test]
fn the_incidents_table_prints_others_text_as_the_console_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(dir.path());
    let s = server.addr.clone();
    // A right-to-left override in a title would reorder the rest of the terminal line.
    let title = "Refunds fail \u{202E}gnimoc won";
    ok(warroom(&s, "ann", &["declare", title, "-s", "2"]));
    ok(warroom(&s, "ann", &["role", "INC-1", "ic", "me"]));
    let table = ok(warroom(&s, "ann", &["incidents"]));
    assert!(!table.contains('\u{202E}'), "{table:?}");
    assert!(table.contains("Refunds fail \u{FFFD}gnimoc won"), "{table}");
}

#[test]
fn incidents_all_searches_the_feeds_archive_and_export_and_metrics_come_from_the_feed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("feed");
    // Twelve incidents resolved long ago (INC-7 the ledger one), the long one, two live.
    let made = common::history::generate(
        &data,
        chrono::Utc::now(),
        common::history::Sizes {
            big_entries: 30,
            archived: 12,
            live: 2,
        },
    );
    assert_eq!(made.needle.to_string(), "INC-7");
    let quiet = dir.path().join("quiet.toml");
    std::fs::write(&quiet, "").unwrap();
    let server =
        ServeProcess::start_with(&data, "127.0.0.1:0", &["--policy", quiet.to_str().unwrap()]);
    let s = server.addr.clone();
    // Without --all: the board, the live work only.
    let board = ok(warroom(&s, "ann", &["incidents"]));
    assert_eq!(board.lines().count(), 4, "{board}");
    assert!(!board.contains("Elevated errors"), "{board}");
    // --all: every incident, newest declared first, from the feed's pages.
    let all = ok(warroom(&s, "ann", &["incidents", "--all"]));
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 16, "{all}");
    assert!(lines[0].starts_with("REF"), "{all}");
    assert!(
        lines[1].starts_with("INC-15") && lines[1].contains("Live issue 1"),
        "{all}"
    );
    assert!(
        lines[15].starts_with("INC-1 ") && lines[15].contains("resolved"),
        "{all}"
    );
    let found = ok(warroom(
        &s,
        "ann",
        &["incidents", "--all", "--search", "double-charges"],
    ));
    assert_eq!(found.lines().count(), 2, "{found}");
    assert!(
        found.contains("INC-7") && found.contains("Ledger double-charges"),
        "{found}"
    );
    // Filters imply --all; words are found in entries too.
    let sev1 = ok(warroom(
        &s,
        "ann",
        &["incidents", "--search", "dashboards", "--severity", "1"],
    ));
    let refs: Vec<&str> = sev1
        .lines()
        .skip(1)
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(refs, ["INC-9", "INC-5", "INC-1"], "{sev1}");
    assert_eq!(
        ok(warroom(&s, "ann", &["incidents", "--since", "2999-01-01"])),
        "no incidents\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(warroom(&s, "ann", &["incidents", "--all", "--json"]))).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 15);
    // An archived incident exports as any other; the metrics count every incident.
    let md = ok(warroom(&s, "ann", &["export", "INC-7"]));
    assert!(
        md.contains("Ledger double-charges after the failover"),
        "{md}"
    );
    assert!(md.contains("step 3: looked at the dashboards"), "{md}");
    let m: serde_json::Value =
        serde_json::from_str(&ok(warroom(&s, "ann", &["metrics", "--json"]))).unwrap();
    assert_eq!(m["incidents"], 15);
    // A command on an archived incident works: the feed brings it back.
    assert_eq!(
        ok(warroom(&s, "ann", &["note", "INC-7", "seen again"]))
            .lines()
            .count(),
        1
    );
    let board = ok(warroom(&s, "ann", &["incidents"]));
    assert!(board.contains("INC-7"), "back in the live work: {board}");
}

#[test]
fn an_incident_declared_without_a_service_gets_one_and_its_runbook() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(dir.path());
    let s = server.addr.clone();
    assert_eq!(
        ok(warroom(
            &s,
            "alice",
            &["declare", "Checkout 500s", "-s", "2"]
        )),
        "INC-1\n"
    );
    assert_eq!(
        ok(warroom(&s, "alice", &["service", "INC-1", "payments"])),
        "INC-1 is about payments\n"
    );
    let out = warroom(&s, "alice", &["service", "INC-1", "payments"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("INC-1 is already about payments"));
    // The feed attaches the service's runbook, as it does at a declaration.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let events = ok(warroom(&s, "carol", &["events", "--since", "0"]));
        if events.contains("INC-1 runbook_attached") {
            assert!(
                events.contains("INC-1 service_changed service=\"payments\""),
                "{events}"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{events}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn the_demo_comes_first_in_the_list_of_commands() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let commands = help
        .split("Commands:")
        .nth(1)
        .unwrap_or_else(|| panic!("{help}"));
    let first = commands.split_whitespace().next().unwrap_or("");
    assert_eq!(first, "demo", "{help}");
}

#[test]
fn a_script_pages_someone_and_they_acknowledge_it() {
    let dir = tempfile::tempdir().unwrap();
    // The default policy: its rotation names priya, marco, lee and sam.
    let server = ServeProcess::start(dir.path());
    let s = server.addr.clone();
    ok(warroom(&s, "alice", &["declare", "Search slow", "-s", "3"]));
    assert_eq!(
        ok(warroom(
            &s,
            "alice",
            &["page", "INC-1", "lee", "look", "at", "the", "index"]
        )),
        "INC-1: paged lee\n"
    );
    let out = warroom(&s, "alice", &["page", "INC-1", "bob"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the policy knows no \"bob\""), "{err}");
    assert_eq!(
        ok(warroom(&s, "lee", &["ack", "INC-1"])),
        "INC-1 acknowledged\n"
    );
    let events = ok(warroom(&s, "alice", &["events"]));
    assert!(
        events.contains(r#"paged message="look at the index" person="lee" target="lee""#),
        "{events}"
    );
    assert!(
        events.contains("lee          INC-1 page_acknowledged"),
        "{events}"
    );
}

#[test]
fn the_policy_may_give_action_items_a_default_due_date() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "[postmortem]\naction_item_due = \"14d\"\n").unwrap();
    let server = ServeProcess::start_with(
        &dir.path().join("feed"),
        "127.0.0.1:0",
        &["--policy", policy.to_str().unwrap()],
    );
    let s = server.addr.clone();
    ok(warroom(
        &s,
        "alice",
        &["declare", "Checkout 500s", "-s", "2"],
    ));
    ok(warroom(
        &s,
        "alice",
        &["action", "INC-1", "Review the pool", "--owner", "bob"],
    ));
    let state: Value =
        serde_json::from_str(&ok(warroom(&s, "carol", &["incidents", "--json"]))).unwrap();
    let item = &state["incidents"][0]["postmortem"]["action_items"][0];
    let due = chrono::NaiveDate::parse_from_str(item["due"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let added =
        chrono::DateTime::parse_from_rfc3339(state["incidents"][0]["updated_at"].as_str().unwrap())
            .unwrap()
            .date_naive();
    assert_eq!(due, added + chrono::Duration::days(14), "{item}");
    assert_eq!(item["owner"], "bob");
}

#[test]
fn where_it_was_detected_and_the_triage_answers_are_recorded_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(dir.path());
    let s = server.addr.clone();
    ok(warroom(
        &s,
        "alice",
        &[
            "declare",
            "Checkout 500s",
            "-s",
            "2",
            "--detected-by",
            "customer",
        ],
    ));
    ok(warroom(&s, "alice", &["declare", "Search slow", "-s", "3"]));
    assert_eq!(
        ok(warroom(
            &s,
            "alice",
            &[
                "triage",
                "INC-2",
                "--detected-by",
                "engineer",
                "--impact",
                "stable",
                "--workaround",
                "yes"
            ]
        )),
        "INC-2: triage recorded\n"
    );
    let err = refused(warroom(
        &s,
        "alice",
        &["triage", "INC-2", "--impact", "sideways"],
    ));
    assert!(err.contains("say growing or stable"), "{err}");
    let state: Value =
        serde_json::from_str(&ok(warroom(&s, "carol", &["incidents", "--json"]))).unwrap();
    assert_eq!(state["incidents"][0]["detected_by"], "customer");
    assert_eq!(state["incidents"][1]["detected_by"], "engineer");
    assert_eq!(state["incidents"][1]["impact_growing"], false);
    assert_eq!(state["incidents"][1]["workaround"], true);
    let m: Value = serde_json::from_str(&ok(warroom(&s, "carol", &["metrics", "--json"]))).unwrap();
    assert_eq!(m["detection"]["customer"], 1, "{m}");
    assert_eq!(m["detection"]["engineer"], 1, "{m}");
    assert_eq!(m["detection"]["customer_share"]["rate"], 0.5, "{m}");
    let text = ok(warroom(&s, "carol", &["metrics"]));
    assert!(
        text.contains(
            "Detected by monitoring 0 · engineers 1 · customers 1 · not recorded 0; customer-detected 50% (1/2)"
        ),
        "{text}"
    );
}

#[test]
fn deploys_and_the_standup_digest_from_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(dir.path());
    let s = server.addr.clone();
    let out = ok(warroom(
        &s,
        "ana",
        &[
            "deploy",
            "checkout",
            "v2.14.1",
            "--env",
            "production",
            "--note",
            "new cart",
        ],
    ));
    assert_eq!(out, "recorded the deploy of checkout v2.14.1 (event 1)\n");
    ok(warroom(&s, "ana", &["deploy", "search", "v88"]));
    // A bad one is refused with the feed's reason.
    let out = warroom(&s, "ana", &["deploy", "checkout", " "]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("version is empty"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ok(warroom(&s, "bob", &["deploys"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].ends_with("search v88, by ana"), "{out}");
    assert!(
        lines[1].ends_with("checkout v2.14.1 → production, by ana: new cart"),
        "{out}"
    );
    let out = ok(warroom(
        &s,
        "bob",
        &["deploys", "--service", "checkout", "--json"],
    ));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["version"], "v2.14.1");
    let out = warroom(&s, "bob", &["deploys", "--hours", "0"]);
    assert!(!out.status.success(), "hours out of range is refused");

    // Nothing informational yet; then a slow burn through the Events API.
    assert_eq!(
        ok(warroom(&s, "bob", &["digest"])),
        "no informational alerts in the last 3 days\n"
    );
    let body = serde_json::json!({
        "routing_key": "r", "event_action": "trigger", "dedup_key": "budget-search",
        "payload": {"summary": "search error budget slow burn", "source": "slo",
            "severity": "warning",
            "custom_details": {"service": "search", "burn_rate": "1.1", "burn_window": "3d"}}
    });
    let status = post_json(&server.addr, "/v2/enqueue", &body);
    assert!(status.starts_with("HTTP/1.1 202"), "{status}");
    let out = ok(warroom(&s, "bob", &["digest"]));
    assert!(
        out.starts_with("For stand-up: informational alerts, last 3 days (1)"),
        "{out}"
    );
    assert!(
        out.contains("search: search error budget slow burn — error budget burning 1.1x over 3d"),
        "{out}"
    );
}

/// POSTs `body` to the feed at `addr` (loopback) and returns the response's status line.
fn post_json(addr: &str, path: &str, body: &Value) -> String {
    use std::io::{Read, Write};
    let body = body.to_string();
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    write!(
        conn,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    answer.lines().next().unwrap_or_default().to_string()
}

#[test]
fn declare_detected_by_is_one_command_whose_triaged_event_follows_the_declaration() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(dir.path());
    let s = server.addr.clone();
    ok(warroom(
        &s,
        "alice",
        &[
            "declare",
            "Checkout 500s",
            "-s",
            "2",
            "--detected-by",
            "customer",
        ],
    ));
    let all: Vec<Value> = ok(warroom(&s, "carol", &["events", "--json"]))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let declared = all.iter().position(|e| e["kind"] == "declared").unwrap();
    // Recorded with the declaration, in its group: before the engine's own events (a second
    // command would come after the escalation the declaration started).
    let next = &all[declared + 1];
    assert_eq!(next["kind"], "triaged", "{all:?}");
    assert_eq!(next["detected_by"], "customer");
    assert_eq!(next["actor"], "alice");
    assert_eq!(next["at"], all[declared]["at"]);
    assert_eq!(next["seq"], all[declared]["seq"].as_u64().unwrap() + 1);
    assert_eq!(all.iter().filter(|e| e["kind"] == "triaged").count(), 1);
}
