//! Tests of on-call schedules (rotations, overrides, handoffs, daylight-saving changes),
//! in their own file so the schedule code reads on its own.

use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn spec(toml_text: &str) -> ScheduleSpec {
    toml::from_str(toml_text).unwrap()
}

fn schedule(toml_text: &str) -> Schedule {
    Schedule::from_spec(&spec(toml_text)).unwrap()
}

fn errors(toml_text: &str) -> Vec<String> {
    Schedule::from_spec(&spec(toml_text)).unwrap_err()
}

fn who(s: &Schedule, layer: Layer, at: &str) -> Option<String> {
    s.on_call(layer, utc(at)).map(|x| x.person)
}

fn some(p: &str) -> Option<String> {
    Some(p.to_string())
}

/// Weekly, UTC, Mondays 09:00 from 2026-11-02.
const WEEKLY: &str = r#"
        name = "platform"
        start = "2026-11-02"
        primary = ["ana", "ben", "chen"]
    "#;

#[test]
fn weekly_rotation_of_three_across_weeks() {
    let s = schedule(WEEKLY);
    assert_eq!(s.name(), "platform");
    assert_eq!(s.rotation().to_string(), "1w");
    let expect = [
        ("2026-11-02T09:00:00Z", "ana"),
        ("2026-11-05T12:00:00Z", "ana"),
        ("2026-11-09T08:59:59Z", "ana"),
        ("2026-11-09T09:00:00Z", "ben"),
        ("2026-11-16T10:00:00Z", "chen"),
        ("2026-11-23T09:00:00Z", "ana"),
        ("2026-12-01T00:00:00Z", "ben"),
        ("2026-12-07T09:00:00Z", "chen"),
    ];
    for (at, person) in expect {
        assert_eq!(who(&s, Layer::Primary, at), some(person), "at {at}");
    }
    let shift = s
        .on_call(Layer::Primary, utc("2026-11-18T00:00:00Z"))
        .unwrap();
    assert_eq!(
        shift,
        Shift {
            person: "chen".into(),
            layer: Layer::Primary,
            from: utc("2026-11-16T09:00:00Z"),
            until: utc("2026-11-23T09:00:00Z"),
            overridden: false,
        }
    );
}

#[test]
fn at_the_boundary_the_new_person_is_on_call() {
    let s = schedule(WEEKLY);
    let b = utc("2026-11-09T09:00:00Z");
    let shift = s.on_call(Layer::Primary, b).unwrap();
    assert_eq!(shift.person, "ben");
    assert_eq!(shift.from, b);
    let just_before = b - TimeDelta::nanoseconds(1);
    assert_eq!(
        s.on_call(Layer::Primary, just_before).unwrap().person,
        "ana"
    );
}

#[test]
fn before_start_the_rotation_runs_backwards() {
    let s = schedule(WEEKLY);
    // Shift -1 is the last of the list, -2 the one before it, -4 wraps round again.
    assert_eq!(
        who(&s, Layer::Primary, "2026-11-02T08:59:00Z"),
        some("chen")
    );
    assert_eq!(
        who(&s, Layer::Primary, "2026-10-26T09:00:00Z"),
        some("chen")
    );
    assert_eq!(who(&s, Layer::Primary, "2026-10-26T08:00:00Z"), some("ben"));
    assert_eq!(who(&s, Layer::Primary, "2026-10-12T09:00:00Z"), some("ana"));
    assert_eq!(
        who(&s, Layer::Primary, "2026-10-05T09:00:00Z"),
        some("chen")
    );
    let shift = s
        .on_call(Layer::Primary, utc("2026-10-20T00:00:00Z"))
        .unwrap();
    assert_eq!(shift.from, utc("2026-10-19T09:00:00Z"));
    assert_eq!(shift.until, utc("2026-10-26T09:00:00Z"));
    // Secondary follows the same backwards index.
    assert_eq!(
        who(&s, Layer::Secondary, "2026-10-30T00:00:00Z"),
        some("ana")
    );
}

#[test]
fn default_secondary_is_the_next_primary() {
    let s = schedule(WEEKLY);
    for (at, p, sec) in [
        ("2026-11-03T00:00:00Z", "ana", "ben"),
        ("2026-11-10T00:00:00Z", "ben", "chen"),
        ("2026-11-17T00:00:00Z", "chen", "ana"),
    ] {
        assert_eq!(who(&s, Layer::Primary, at), some(p));
        assert_eq!(who(&s, Layer::Secondary, at), some(sec));
    }
    let shift = s
        .on_call(Layer::Secondary, utc("2026-11-03T00:00:00Z"))
        .unwrap();
    assert_eq!(shift.layer, Layer::Secondary);
    assert_eq!(shift.until, utc("2026-11-09T09:00:00Z"));
}

#[test]
fn explicit_secondary_list_rotates_on_its_own() {
    let s = schedule(
        r#"
            name = "platform"
            start = "2026-11-02"
            primary = ["ana", "ben", "chen"]
            secondary = ["dev", "eli"]
        "#,
    );
    for (at, p, sec) in [
        ("2026-11-03T00:00:00Z", "ana", "dev"),
        ("2026-11-10T00:00:00Z", "ben", "eli"),
        ("2026-11-17T00:00:00Z", "chen", "dev"),
        ("2026-11-24T00:00:00Z", "ana", "eli"),
    ] {
        assert_eq!(who(&s, Layer::Primary, at), some(p), "{at}");
        assert_eq!(who(&s, Layer::Secondary, at), some(sec), "{at}");
    }
    // An explicit empty list means no secondary, even with several primaries.
    let s = schedule(
        r#"
            name = "platform"
            start = "2026-11-02"
            primary = ["ana", "ben"]
            secondary = []
        "#,
    );
    assert_eq!(who(&s, Layer::Secondary, "2026-11-03T00:00:00Z"), None);
}

#[test]
fn one_primary_has_no_default_secondary() {
    let s = schedule(
        r#"
            name = "solo"
            start = "2026-11-02"
            primary = ["ana"]
        "#,
    );
    assert_eq!(who(&s, Layer::Primary, "2027-05-01T00:00:00Z"), some("ana"));
    assert_eq!(who(&s, Layer::Secondary, "2027-05-01T00:00:00Z"), None);
    // Nobody ever changes, so there is nothing to hand off.
    assert!(s.handoffs(utc("2026-11-01T00:00:00Z"), 5).is_empty());
}

#[test]
fn empty_primary_has_nobody_on_call() {
    let s = schedule(
        r#"
            name = "empty"
            start = "2026-11-02"
            primary = []
        "#,
    );
    assert_eq!(s.on_call(Layer::Primary, utc("2026-11-03T00:00:00Z")), None);
    assert_eq!(
        s.on_call(Layer::Secondary, utc("2026-11-03T00:00:00Z")),
        None
    );
    assert!(s.handoffs(utc("2026-11-01T00:00:00Z"), 5).is_empty());
}

const WITH_OVERRIDE: &str = r#"
        name = "platform"
        start = "2026-11-02"
        primary = ["ana", "ben", "chen"]

        [[override]]
        layer = "primary"
        person = "fay"
        from = "2026-11-24 18:00"
        until = "2026-11-25 09:00"
    "#;

#[test]
fn override_in_the_middle_of_a_shift_clips_it() {
    let s = schedule(WITH_OVERRIDE);
    // Ana's shift runs 2026-11-23 09:00 to 2026-11-30 09:00; Fay covers one night.
    let before = s
        .on_call(Layer::Primary, utc("2026-11-24T12:00:00Z"))
        .unwrap();
    assert_eq!(
        before,
        Shift {
            person: "ana".into(),
            layer: Layer::Primary,
            from: utc("2026-11-23T09:00:00Z"),
            until: utc("2026-11-24T18:00:00Z"),
            overridden: false,
        }
    );
    let during = s
        .on_call(Layer::Primary, utc("2026-11-24T18:00:00Z"))
        .unwrap();
    assert_eq!(
        during,
        Shift {
            person: "fay".into(),
            layer: Layer::Primary,
            from: utc("2026-11-24T18:00:00Z"),
            until: utc("2026-11-25T09:00:00Z"),
            overridden: true,
        }
    );
    let after = s
        .on_call(Layer::Primary, utc("2026-11-25T09:00:00Z"))
        .unwrap();
    assert_eq!(after.person, "ana");
    assert!(!after.overridden);
    assert_eq!(after.from, utc("2026-11-25T09:00:00Z"));
    assert_eq!(after.until, utc("2026-11-30T09:00:00Z"));
    // The default secondary follows the rotation, not the override.
    assert_eq!(
        who(&s, Layer::Secondary, "2026-11-24T20:00:00Z"),
        some("ben")
    );
}

#[test]
fn later_override_wins_where_two_overlap() {
    let s = schedule(
        r#"
            name = "platform"
            start = "2026-11-02"
            primary = ["ana", "ben", "chen"]

            [[override]]
            layer = "primary"
            person = "fay"
            from = "2026-11-24 00:00"
            until = "2026-11-26 00:00"

            [[override]]
            layer = "primary"
            person = "gus"
            from = "2026-11-25 00:00"
            until = "2026-11-25 12:00"
        "#,
    );
    let fay = s
        .on_call(Layer::Primary, utc("2026-11-24T06:00:00Z"))
        .unwrap();
    assert_eq!(fay.person, "fay");
    assert_eq!(fay.until, utc("2026-11-25T00:00:00Z"));
    assert_eq!(who(&s, Layer::Primary, "2026-11-25T06:00:00Z"), some("gus"));
    let fay = s
        .on_call(Layer::Primary, utc("2026-11-25T13:00:00Z"))
        .unwrap();
    assert_eq!(fay.person, "fay");
    assert_eq!(fay.from, utc("2026-11-25T12:00:00Z"));
    assert_eq!(fay.until, utc("2026-11-26T00:00:00Z"));
}

#[test]
fn handoffs_include_rotation_and_override_changes() {
    let s = schedule(
        r#"
            name = "platform"
            start = "2026-11-02"
            primary = ["ana", "ben", "chen"]
            secondary = ["dev", "eli"]

            [[override]]
            layer = "primary"
            person = "fay"
            from = "2026-11-24 18:00"
            until = "2026-11-25 09:00"

            [[override]]
            layer = "secondary"
            person = "eli"
            from = "2026-11-26 00:00"
            until = "2026-11-27 00:00"
        "#,
    );
    let h = |at: &str, layer, from: &str, to: &str| Handoff {
        at: utc(at),
        layer,
        from: some(from),
        to: some(to),
    };
    let got = s.handoffs(utc("2026-11-20T00:00:00Z"), 7);
    assert_eq!(
        got,
        vec![
            h("2026-11-23T09:00:00Z", Layer::Primary, "chen", "ana"),
            h("2026-11-23T09:00:00Z", Layer::Secondary, "dev", "eli"),
            h("2026-11-24T18:00:00Z", Layer::Primary, "ana", "fay"),
            h("2026-11-25T09:00:00Z", Layer::Primary, "fay", "ana"),
            // Eli's override covers his own shift: no change, no handoff.
            h("2026-11-30T09:00:00Z", Layer::Primary, "ana", "ben"),
            h("2026-11-30T09:00:00Z", Layer::Secondary, "eli", "dev"),
            h("2026-12-07T09:00:00Z", Layer::Primary, "ben", "chen"),
        ]
    );
    // Strictly after: a handoff exactly at `after` is not repeated.
    let next = s.handoffs(utc("2026-11-24T18:00:00Z"), 1);
    assert_eq!(
        next,
        vec![h("2026-11-25T09:00:00Z", Layer::Primary, "fay", "ana")]
    );
    assert!(s.handoffs(utc("2026-11-20T00:00:00Z"), 0).is_empty());
}

#[test]
fn handoffs_to_and_from_nobody() {
    let s = schedule(
        r#"
            name = "empty"
            start = "2026-11-02"
            primary = []

            [[override]]
            layer = "secondary"
            person = "fay"
            from = "2026-11-24T18:00:00+01:00"
            until = "2026-11-25 09:00"
        "#,
    );
    assert_eq!(
        s.handoffs(utc("2026-01-01T00:00:00Z"), 10),
        vec![
            Handoff {
                at: utc("2026-11-24T17:00:00Z"),
                layer: Layer::Secondary,
                from: None,
                to: some("fay"),
            },
            Handoff {
                at: utc("2026-11-25T09:00:00Z"),
                layer: Layer::Secondary,
                from: some("fay"),
                to: None,
            },
        ]
    );
}

#[test]
fn berlin_handoff_stays_at_nine_local_across_dst() {
    let s = schedule(
        r#"
            name = "platform"
            time_zone = "Europe/Berlin"
            start = "2026-10-19"
            primary = ["ana", "ben", "chen"]
        "#,
    );
    assert_eq!(s.time_zone(), chrono_tz::Europe::Berlin);
    // 2026-10-25 clocks go back: 09:00 is 07:00 UTC before, 08:00 UTC after.
    let ana = s
        .on_call(Layer::Primary, utc("2026-10-20T00:00:00Z"))
        .unwrap();
    assert_eq!(ana.from, utc("2026-10-19T07:00:00Z"));
    assert_eq!(ana.until, utc("2026-10-26T08:00:00Z"));
    assert_eq!(who(&s, Layer::Primary, "2026-10-26T07:30:00Z"), some("ana"));
    assert_eq!(who(&s, Layer::Primary, "2026-10-26T08:00:00Z"), some("ben"));
    // And forward again on 2027-03-28: 08:00 UTC on the 22nd, 07:00 UTC on the 29th.
    // Each boundary changes both layers (the default secondary is the next primary).
    let h = s.handoffs(utc("2027-03-20T00:00:00Z"), 4);
    let at: Vec<_> = h.iter().map(|x| (x.at, x.layer)).collect();
    assert_eq!(
        at,
        vec![
            (utc("2027-03-22T08:00:00Z"), Layer::Primary),
            (utc("2027-03-22T08:00:00Z"), Layer::Secondary),
            (utc("2027-03-29T07:00:00Z"), Layer::Primary),
            (utc("2027-03-29T07:00:00Z"), Layer::Secondary),
        ]
    );
    for x in &h {
        let local = x.at.with_timezone(&chrono_tz::Europe::Berlin);
        assert_eq!(local.format("%H:%M").to_string(), "09:00");
    }
}

#[test]
fn skipped_and_repeated_local_times() {
    // Daily at 02:30 Berlin: on 2026-03-29 02:30 never happens (the first instant
    // after the gap, 03:00 CEST); on 2026-10-25 it happens twice (the first one).
    let s = schedule(
        r#"
            name = "night"
            time_zone = "Europe/Berlin"
            rotation = "1d"
            handoff = "02:30"
            start = "2026-03-01"
            primary = ["ana", "ben"]
        "#,
    );
    let gap = s
        .on_call(Layer::Primary, utc("2026-03-29T12:00:00Z"))
        .unwrap();
    assert_eq!(gap.from, utc("2026-03-29T01:00:00Z"));
    assert_eq!(gap.until, utc("2026-03-30T00:30:00Z"));
    let fold = s
        .on_call(Layer::Primary, utc("2026-10-25T12:00:00Z"))
        .unwrap();
    assert_eq!(fold.from, utc("2026-10-25T00:30:00Z"));
    assert_eq!(fold.until, utc("2026-10-26T01:30:00Z"));
}

#[test]
fn hourly_rotation_through_the_fold() {
    // Berlin, hourly at :30. On 2026-10-25 local 02:30 means its first instant (00:30
    // UTC) and 03:30 CET is 02:30 UTC, so that shift lasts two hours. At 01:10 UTC the
    // wall clock reads 02:10 a second time, which on its own would suggest the 01:30 shift.
    let s = schedule(
        r#"
            name = "hourly"
            time_zone = "Europe/Berlin"
            rotation = "1h"
            handoff = "00:30"
            start = "2026-10-24"
            primary = ["a", "b", "c"]
        "#,
    );
    let c = s
        .on_call(Layer::Primary, utc("2026-10-25T01:10:00Z"))
        .unwrap();
    assert_eq!(c.person, "c");
    assert_eq!(c.from, utc("2026-10-25T00:30:00Z"));
    assert_eq!(c.until, utc("2026-10-25T02:30:00Z"));
    assert_eq!(who(&s, Layer::Primary, "2026-10-25T00:29:00Z"), some("b"));
    let primary: Vec<_> = s
        .handoffs(utc("2026-10-25T00:00:00Z"), 4)
        .into_iter()
        .filter(|h| h.layer == Layer::Primary)
        .map(|h| (h.at, h.to))
        .collect();
    assert_eq!(
        primary,
        vec![
            (utc("2026-10-25T00:30:00Z"), some("c")),
            (utc("2026-10-25T02:30:00Z"), some("a")),
        ]
    );
}

#[test]
fn twelve_hour_rotation() {
    let s = schedule(
        r#"
            name = "follow-the-sun"
            time_zone = "America/New_York"
            rotation = "12h"
            handoff = "08:00"
            start = "2026-11-01"
            primary = ["ana", "ben"]
        "#,
    );
    // 2026-11-01 is the day New York falls back; 08:00 EST is 13:00 UTC.
    for (at, person) in [
        ("2026-11-01T13:00:00Z", "ana"),
        ("2026-11-02T00:59:59Z", "ana"),
        ("2026-11-02T01:00:00Z", "ben"),
        ("2026-11-02T13:00:00Z", "ana"),
        ("2026-11-01T12:59:59Z", "ben"),
        ("2026-11-01T00:00:00Z", "ben"),
        ("2026-10-31T23:59:59Z", "ana"),
    ] {
        assert_eq!(who(&s, Layer::Primary, at), some(person), "at {at}");
    }
    // Shift -1 ran from 20:00 EDT (00:00 UTC) to 08:00 EST: 13 hours that night.
    let ben = s
        .on_call(Layer::Primary, utc("2026-11-01T06:00:00Z"))
        .unwrap();
    assert_eq!(ben.from, utc("2026-11-01T00:00:00Z"));
    assert_eq!(ben.until, utc("2026-11-01T13:00:00Z"));
    assert_eq!(
        who(&s, Layer::Secondary, "2026-11-01T06:00:00Z"),
        some("ana")
    );
}

#[test]
fn parse_errors_name_the_schedule_and_field() {
    let e = errors(
        r#"
            name = "platform"
            time_zone = "Europe/Berln"
            start = "2026-11-02"
            primary = ["ana"]
        "#,
    );
    assert_eq!(
        e,
        vec![
            "schedule \"platform\": unknown time zone \"Europe/Berln\" (write an IANA name such as Europe/Berlin)"
        ]
    );
    let e = errors(
        r#"
            name = "platform"
            handoff = "9am"
            start = "2026-11-02"
            primary = ["ana"]
        "#,
    );
    assert_eq!(
        e,
        vec!["schedule \"platform\": handoff \"9am\" is not a time (write HH:MM)"]
    );
    let e = errors(
        r#"
            name = "platform"
            start = "02.11.2026"
            primary = ["ana"]
        "#,
    );
    assert_eq!(
        e,
        vec!["schedule \"platform\": start \"02.11.2026\" is not a date (write YYYY-MM-DD)"]
    );
    let e = errors(
        r#"
            name = "platform"
            rotation = "30m"
            start = "2026-11-02"
            primary = ["ana"]
        "#,
    );
    assert_eq!(
        e,
        vec!["schedule \"platform\": rotation must be at least 1h (got 30m)"]
    );
    let e = errors(
        r#"
            name = "platform"
            rotation = "53w"
            start = "2026-11-02"
            primary = ["ana"]
        "#,
    );
    assert_eq!(
        e,
        vec!["schedule \"platform\": rotation must be at most 52w (got 53w)"]
    );
    let e = errors(
        r#"
            name = "platform"
            start = "2026-11-02"
            primary = ["ana", " "]
            secondary = [""]
        "#,
    );
    assert_eq!(
        e,
        vec![
            "schedule \"platform\": primary name 2 is empty",
            "schedule \"platform\": secondary name 1 is empty",
        ]
    );
    let e = errors(
        r#"
            name = "platform"
            start = "2026-11-02"
            primary = ["ana"]

            [[override]]
            layer = "primary"
            person = ""
            from = "2026-11-25 09:00"
            until = "2026-11-24 18:00"

            [[override]]
            layer = "secondary"
            person = "fay"
            from = "tomorrow"
            until = "2026-11-24 18:00"
        "#,
    );
    assert_eq!(
        e,
        vec![
            "schedule \"platform\": override 1 (primary): person is empty",
            "schedule \"platform\": override 1 (primary): until \"2026-11-24 18:00\" is not after from \"2026-11-25 09:00\"",
            "schedule \"platform\": override 2 (secondary): from \"tomorrow\" is not a time (write YYYY-MM-DD HH:MM in UTC, or RFC 3339)",
        ]
    );
    // An override that ends when it starts is empty, so also an error.
    let e = errors(
        r#"
            name = "platform"
            start = "2026-11-02"
            primary = ["ana"]
            [[override]]
            layer = "primary"
            person = "fay"
            from = "2026-11-24 18:00"
            until = "2026-11-24T18:00:00Z"
        "#,
    );
    assert_eq!(e.len(), 1);
    assert!(e[0].contains("is not after"), "{e:?}");
    // Several problems at once are all reported.
    let e = errors(
        r#"
            name = "platform"
            time_zone = "Mars/Olympus"
            handoff = "25:00"
            start = "2026-13-01"
            primary = ["ana"]
        "#,
    );
    assert_eq!(e.len(), 3, "{e:?}");
}

#[test]
fn unknown_fields_and_layers_are_refused() {
    assert!(
        toml::from_str::<ScheduleSpec>(
            "name = \"p\"\nstart = \"2026-11-02\"\nprimary = []\nrotaton = \"1w\"\n"
        )
        .is_err()
    );
    assert!(
            toml::from_str::<ScheduleSpec>(
                "name = \"p\"\nstart = \"2026-11-02\"\nprimary = []\n[[override]]\nlayer = \"tertiary\"\nperson = \"a\"\nfrom = \"2026-11-02 00:00\"\nuntil = \"2026-11-03 00:00\"\n"
            )
            .is_err()
        );
}

#[test]
fn duplicate_schedule_names_are_refused() {
    let a = spec(WEEKLY);
    assert_eq!(
        Schedule::from_specs(std::slice::from_ref(&a))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        Schedule::from_specs(&[a.clone(), a]).unwrap_err(),
        vec!["schedule \"platform\": another schedule has the same name"]
    );
}

#[test]
fn toml_schedule_tables_parse_with_defaults() {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        schedule: Vec<ScheduleSpec>,
    }
    let text = r#"
            [[schedule]]
            name = "platform"
            time_zone = "Europe/Berlin"
            rotation = "1w"
            handoff = "09:00"
            start = "2026-11-02"
            primary = ["ana", "ben", "chen"]
            secondary = ["dev", "eli"]

            [[schedule.override]]
            layer = "primary"
            person = "fay"
            from = "2026-11-24 18:00"
            until = "2026-11-25 09:00"

            [[schedule]]
            name = "db"
            start = "2026-11-02"
            primary = ["gus"]
        "#;
    let file: File = toml::from_str(text).unwrap();
    assert_eq!(file.schedule.len(), 2);
    let p = &file.schedule[0];
    assert_eq!(
        p.secondary,
        Some(vec!["dev".to_string(), "eli".to_string()])
    );
    assert_eq!(
        p.overrides,
        vec![OverrideSpec {
            layer: Layer::Primary,
            person: "fay".into(),
            from: "2026-11-24 18:00".into(),
            until: "2026-11-25 09:00".into(),
        }]
    );
    let db = &file.schedule[1];
    assert_eq!(db.time_zone, "UTC");
    assert_eq!(db.rotation.to_string(), "1w");
    assert_eq!(db.handoff, "09:00");
    assert_eq!(db.secondary, None);
    assert!(db.overrides.is_empty());

    let schedules = Schedule::from_specs(&file.schedule).unwrap();
    // Berlin 18:00 CET is 17:00 UTC.
    let fay = schedules[0]
        .on_call(Layer::Primary, utc("2026-11-24T17:00:00Z"))
        .unwrap();
    assert_eq!(fay.person, "fay");
    assert!(fay.overridden);
    assert_eq!(fay.until, utc("2026-11-25T08:00:00Z"));
    assert_eq!(Layer::Secondary.to_string(), "secondary");
}
