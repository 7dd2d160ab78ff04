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
            (0, Page, "oncall.primary".to_string()),
            (5, Page, "oncall.secondary".into()),
            (10, Page, "engineering-manager".into()),
            (20, Page, "vp-engineering".into()),
            (30, Page, "cto".into()),
        ]
    );
    assert_eq!(
        table(Severity::Sev2),
        vec![
            (0, Page, "oncall.primary".to_string()),
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
