//! The policy file beyond the classifier: escalation policies, targets, schedules, channels
//! and cadences are checked with errors naming the line or table; the seed's escalation
//! table is the default; `warroom oncall` prints who is on call and the next handoffs.

use chrono::{TimeZone, Utc};
use warroom::model::policy::Policy;
use warroom::model::{Severity, StepAction};

fn errors(text: &str) -> Vec<String> {
    Policy::parse(text).expect_err("should be refused")
}

fn has(errors: &[String], needle: &str) {
    assert!(
        errors.iter().any(|e| e.contains(needle)),
        "no error contains {needle:?}: {errors:#?}"
    );
}

#[test]
fn the_default_policy_is_the_seed_escalation_table() {
    let p = Policy::default_policy();
    let now = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
    let table = |sev| {
        p.plan(sev, None, now)
            .steps
            .iter()
            .map(|s| (s.after_secs / 60, s.action, s.target.clone()))
            .collect::<Vec<_>>()
    };
    use StepAction::*;
    assert_eq!(
        table(Severity::Sev1),
        vec![
            // The guide's bot: leadership told at once, alongside the first page.
            (0, Notify, "oncall-leads".to_string()),
            (0, Notify, "engineering-vp".into()),
            (0, Page, "oncall.primary".into()),
            (5, Page, "oncall.secondary".into()),
            (10, Page, "engineering-manager".into()),
            (20, Page, "vp-engineering".into()),
            (30, Page, "cto".into()),
        ]
    );
    assert_eq!(
        table(Severity::Sev2),
        vec![
            (0, Notify, "oncall-team".to_string()),
            (0, Page, "oncall.primary".into()),
            (15, Page, "oncall.secondary".into()),
            (30, Page, "engineering-manager".into()),
            (60, Notify, "director".into()),
        ]
    );
    assert_eq!(
        table(Severity::Sev3),
        vec![
            (0, Notify, "oncall.primary".to_string()),
            (60, Notify, "team-lead".into()),
            (240, Notify, "engineering-manager".into()),
        ]
    );
    // Declared on a Friday evening, a SEV3 tells the on-call at once and the team lead and
    // the manager only when the working week begins (Monday 09:00 UTC: the schedule's).
    let friday = Utc.with_ymd_and_hms(2026, 11, 27, 18, 0, 0).unwrap();
    let monday = Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap();
    let until_monday = u64::try_from((monday - friday).num_seconds()).unwrap();
    let steps: Vec<u64> = p
        .plan(Severity::Sev3, None, friday)
        .steps
        .iter()
        .map(|s| s.after_secs)
        .collect();
    assert_eq!(steps, vec![0, until_monday, until_monday]);
    // A SEV1's steps never wait.
    assert_eq!(p.plan(Severity::Sev1, None, friday).steps[1].after_secs, 0);
    assert_eq!(
        table(Severity::Sev4),
        vec![(0, Ticket, "backlog".to_string())]
    );
    // Seed: status updates every 15-30 minutes during SEV1/SEV2.
    assert_eq!(p.cadence(Severity::Sev1), Some(15 * 60));
    assert_eq!(p.cadence(Severity::Sev2), Some(30 * 60));
    assert_eq!(p.cadence(Severity::Sev3), None);
    // The schedule resolves targets: weekly from Monday 2026-11-02 09:00 UTC, 4 people.
    assert_eq!(
        p.resolve_target("oncall.primary", Some("payments"), now)
            .as_deref(),
        Some("sam")
    );
    assert_eq!(
        p.resolve_target("oncall.secondary", None, now).as_deref(),
        Some("priya")
    );
    assert_eq!(p.resolve_target("cto", None, now).as_deref(), Some("ruth"));
}

#[test]
fn escalation_mistakes_name_their_line_and_step() {
    let e = errors(
        "[escalation.sev1]\nsteps = [\n  { after = \"5m\", page = \"oncall.primary\" },\n  { after = \"1m\", page = \"vp-eng\" },\n  { after = \"9m\" },\n]\n",
    );
    has(
        &e,
        "line 1: [escalation.sev1] step 2: after = \"1m\" comes before",
    );
    has(&e, "step 2: unknown target \"vp-eng\"");
    has(&e, "step 3: give exactly one of page, notify or ticket");
    has(
        &errors("[escalation.sev5]\nsteps = []\n"),
        "name the table sev1, sev2, sev3 or sev4",
    );
    has(
        &errors("[escalation.sev1]\nsteps = [{ after = \"0m\", page = \"night.primary\" }]\n"),
        "there is no schedule \"night\"",
    );
    has(
        &errors(
            "[escalation.sev1]\nsteps = [{ after = \"5m\", page = \"x\" }]\nround = \"5m\"\n[targets]\nx = \"ana\"\n",
        ),
        "must be longer than the last step",
    );
    has(
        &errors("[cadence]\nsev1 = \"30s\"\n"),
        "shorter than a minute",
    );
}

/// Each policy fixture in tests/invalid_configs, and what `warroom policy check` says of it.
const POLICY_CASES: &[(&str, &[&str])] = &[
    (
        "policy-step-targets.toml",
        &[
            "line 2: [escalation.sev1] step 1: names no target (write one, or a list of them)",
            "line 2: [escalation.sev1] step 2: target \"leads\" is named twice",
            "line 2: [escalation.sev1] step 3: unknown target \"nobody\"",
        ],
    ),
    (
        "policy-bridge.toml",
        &[
            "[bridge]: sev1 = \"meet.example.com/{incident}\": a bridge is an http:// or https:// link",
            "[bridge]: sev2 = \"https://meet.example.com/{room}\": unknown placeholder at \"{room}\" (use {incident} or {number})",
            "[bridge]: 'sev9' is not a severity",
        ],
    ),
    (
        "policy-tracker.toml",
        &["[tracker]: url is not an http:// or https:// URL"],
    ),
];

#[test]
fn policy_check_names_the_file_and_every_mistake_in_the_fixtures() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid_configs");
    let mut fixtures: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.starts_with("policy-"))
        .collect();
    fixtures.sort();
    let mut listed: Vec<&str> = POLICY_CASES.iter().map(|(f, _)| *f).collect();
    listed.sort();
    assert_eq!(fixtures, listed, "every policy fixture has its messages");
    for (file, expected) in POLICY_CASES {
        let path = dir.join(file);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
            .args(["policy", "check"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{file} passed the check");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("s3cret"),
            "{file}: a secret is echoed:\n{err}"
        );
        for e in *expected {
            assert!(
                err.contains(&format!("{}: {e}", path.display())),
                "{file}: no line says {e:?}:\n{err}"
            );
        }
    }
}

#[test]
fn a_step_names_several_targets_and_the_bridge_fills_in_the_incident() {
    let p = Policy::parse(
        "[escalation.sev1]\nsteps = [{ after = \"0m\", notify = [\"leads\", \"vp\"] }, { after = \"5m\", page = \"vp\" }]\n[people.leads]\n[people.vp]\n[bridge]\nsev1 = \"https://meet.example.com/r/{number}?name={incident}\"\n",
    )
    .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
    let plan = p.plan(Severity::Sev1, None, now);
    let steps: Vec<(u64, StepAction, &str)> = plan
        .steps
        .iter()
        .map(|s| (s.after_secs, s.action, s.target.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            (0, StepAction::Notify, "leads"),
            (0, StepAction::Notify, "vp"),
            (300, StepAction::Page, "vp")
        ]
    );
    // The round follows the steps as written: the last step plus the last gap.
    assert_eq!(plan.round_secs, 600);
    assert_eq!(
        p.bridge(Severity::Sev1, warroom::model::IncidentRef(7))
            .as_deref(),
        Some("https://meet.example.com/r/7?name=INC-7")
    );
    assert_eq!(
        p.bridge(Severity::Sev2, warroom::model::IncidentRef(7)),
        None
    );
    // The default policy names the guide's groups, and is ready for a bridge.
    let d = Policy::default_policy();
    assert_eq!(
        d.bridge(Severity::Sev1, warroom::model::IncidentRef(1)),
        None
    );
    let targets = d.page_targets();
    for g in ["oncall-leads", "engineering-vp", "oncall-team"] {
        assert!(targets.iter().any(|t| t == g), "{targets:?}");
    }
}

#[test]
fn schedule_people_and_channel_mistakes_are_reported() {
    let e = errors(
        "[oncall]\ndefault_schedule = \"nights\"\n\n[[schedule]]\nname = \"days\"\ntime_zone = \"Mars/Olympus\"\nstart = \"2026-11-02\"\nprimary = [\"ana\"]\n\n[people.ana]\nchannels = [\"pager\"]\n\n[channel.slack]\nwebhook = \"ftp://x\"\n\n[channel.empty]\nformat = \"slack\"\n",
    );
    has(
        &e,
        "line 4: schedule \"days\": unknown time zone \"Mars/Olympus\"",
    );
    has(&e, "default_schedule \"nights\" is not a [[schedule]]");
    has(&e, "[people.ana]: channel \"pager\" is not defined");
    has(
        &e,
        "[channel.slack]: webhook \"ftp://x\" is not an http:// or https:// URL",
    );
    has(
        &e,
        "[channel.empty]: give a webhook URL, a command, or both",
    );
}

#[test]
fn oncall_prints_who_is_on_call_and_the_next_handoffs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.toml");
    std::fs::write(
        &file,
        "[[schedule]]\nname = \"payments\"\ntime_zone = \"Europe/Berlin\"\nstart = \"2026-11-02\"\nprimary = [\"ana\", \"ben\"]\nsecondary = [\"cy\"]\n\n[[schedule.override]]\nlayer = \"primary\"\nperson = \"dee\"\nfrom = \"2026-11-26 18:00\"\nuntil = \"2026-11-27 09:00\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["oncall", "--policy"])
        .arg(&file)
        .args(["--at", "2026-11-26T20:00:00Z", "--handoffs", "3"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Thursday 21:00 in Berlin: week 4 from 2026-11-02 is ben's, overridden by dee.
    assert!(
        text.contains("payments (rotation 1w, Europe/Berlin) as of Thu 2026-11-26 21:00 CET"),
        "{text}"
    );
    assert!(text.contains("primary   dee"), "{text}");
    assert!(text.contains("(override)"), "{text}");
    assert!(text.contains("secondary cy"), "{text}");
    assert!(
        text.contains("Fri 2026-11-27 09:00 CET  primary   dee → ben"),
        "{text}"
    );
    assert!(
        text.contains("Mon 2026-11-30 09:00 CET  primary   ben → ana"),
        "{text}"
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[schedule]]\nname = \"x\"\nstart = \"someday\"\nprimary = []\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["oncall", "--policy"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("start \"someday\" is not a date"), "{err}");
}

#[test]
fn a_tracker_is_a_webhook_url() {
    let p =
        Policy::parse("[tracker]\nurl = \"https://tracker.example.com/hooks/warroom\"\n").unwrap();
    assert_eq!(
        p.tracker().map(|t| t.url.as_str()),
        Some("https://tracker.example.com/hooks/warroom")
    );
    assert!(Policy::default_policy().tracker().is_none());
    has(
        &errors("[tracker]\nurl = \"https://tracker.example.com/x\"\nproject = \"OPS\"\n"),
        "unknown field `project`",
    );
    has(
        &errors("[tracker]\nurl = \"ftp://tracker.example.com\"\n"),
        "[tracker]: url is not an http:// or https:// URL",
    );
    has(&errors("[tracker]\n"), "missing field `url`");
}
