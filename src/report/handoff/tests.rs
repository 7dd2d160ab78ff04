//! The briefing of restricted incidents: a member sees them with their deadline, anyone
//! else their references only.

use chrono::Duration;

use super::*;
use crate::model::access::Viewer;
use crate::model::{Command, Event, State};
use crate::report::format::withheld_line;

fn at(h: u32, m: u32) -> DateTime<Utc> {
    chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 26, h, m, 0).unwrap()
}

fn run(s: &mut State, actor: &str, t: DateTime<Utc>, cmd: Command) {
    for kind in s.decide(actor, t, &cmd).expect("decided") {
        let ev = Event {
            seq: s.seq + 1,
            at: t,
            actor: actor.into(),
            kind,
        };
        s.apply(&ev).expect("folds");
    }
}

fn declare(title: &str, restricted: bool) -> Command {
    Command::Declare {
        title: title.into(),
        severity: Severity::Sev1,
        service: None,
        restricted,
        detected_by: None,
    }
}

/// INC-1 and INC-3 restricted (ana's), INC-2 open to all.
fn feed() -> State {
    let mut s = State::default();
    run(&mut s, "ana", at(9, 0), declare("Leaked keys", true));
    run(&mut s, "ana", at(9, 5), declare("Checkout slow", false));
    run(&mut s, "ana", at(9, 10), declare("Phishing wave", true));
    s
}

#[test]
fn a_member_sees_the_breach_deadline_and_a_non_member_only_references() {
    let server = feed();
    let now = at(14, 0);
    let ana = server.view_for(Viewer {
        name: "ana",
        sees_all: false,
    });
    let b = brief(&ana, &[], now - Duration::hours(12), now);
    let leaked = b
        .active
        .iter()
        .find(|i| i.reference == IncidentRef(1))
        .unwrap();
    assert!(leaked.restricted);
    assert_eq!(
        leaked.breach_notice_due,
        Some(at(9, 0) + Duration::hours(72))
    );
    assert!(b.withheld.is_empty());
    let t = text(&b);
    assert!(t.contains("Leaked keys  [restricted]"), "{t}");
    assert!(
        t.contains("  breach notice     due 2026-11-29 09:00 UTC (in 2d19h), 72h after detection"),
        "{t}"
    );
    assert!(!t.contains("you are not a member"), "{t}");
    let md = markdown(&b);
    assert!(
        md.contains("- **Breach notice:** due 2026-11-29 09:00 UTC"),
        "{md}"
    );

    // Past the deadline, it says so loudly.
    let late = brief(&ana, &[], now, at(9, 0) + Duration::hours(73));
    assert!(
        text(&late).contains("breach notice     PASSED at"),
        "{}",
        text(&late)
    );

    let bob = server.view_for(Viewer {
        name: "bob",
        sees_all: false,
    });
    let b = brief(&bob, &[], now - Duration::hours(12), now);
    assert_eq!(b.active.len(), 1);
    assert_eq!(b.withheld, [IncidentRef(1), IncidentRef(3)]);
    let t = text(&b);
    assert!(
        t.contains("  also: 2 restricted incidents you are not a member of: INC-1, INC-3"),
        "{t}"
    );
    assert!(!t.contains("Leaked") && !t.contains("Phishing"), "{t}");
    let md = markdown(&b);
    assert!(
        md.contains("_Also: 2 restricted incidents you are not a member of: INC-1, INC-3._"),
        "{md}"
    );
    let v = serde_json::to_value(&b).unwrap();
    assert_eq!(v["withheld"], serde_json::json!(["INC-1", "INC-3"]));
    // An open incident carries no deadline, and a briefing with nothing withheld no list.
    assert!(v["active"][0].get("breach_notice_due").is_none());
    let admin = brief(&server, &[], now - Duration::hours(12), now);
    assert!(
        serde_json::to_value(&admin)
            .unwrap()
            .get("withheld")
            .is_none()
    );
    assert_eq!(
        withheld_line(&[IncidentRef(7)]).as_deref(),
        Some("1 restricted incident you are not a member of: INC-7")
    );
}

#[test]
fn post_mortems_owed_from_earlier_shifts_are_handed_over_soonest_due_first() {
    let mut s = State::default();
    let day = |d: i64, h: u32| at(h, 0) + Duration::days(d);
    let resolve = |s: &mut State, n: u32, t: DateTime<Utc>| {
        run(
            s,
            "ana",
            t,
            Command::Resolve {
                incident: IncidentRef(n),
            },
        )
    };
    for title in ["Queue backlog", "Search slow", "Cache stampede"] {
        let mut d = declare(title, false);
        if let Command::Declare { severity, .. } = &mut d {
            *severity = Severity::Sev2;
        }
        run(&mut s, "ana", day(-4, 9), d);
    }
    resolve(&mut s, 1, day(-3, 2)); // due two days later: overdue at the briefing
    resolve(&mut s, 2, day(-1, 2)); // due twelve hours after the briefing
    resolve(&mut s, 3, day(0, 10)); // resolved during the shift: listed there instead
    run(
        &mut s,
        "ana",
        day(0, 11),
        Command::WaivePostmortem {
            incident: IncidentRef(3),
            reason: "a duplicate of INC-2".into(),
        },
    );
    let now = day(0, 14);
    let b = brief(&s, &[], now - Duration::hours(12), now);
    let owed: Vec<IncidentRef> = b.postmortems_owed.iter().map(|r| r.reference).collect();
    assert_eq!(owed, [IncidentRef(1), IncidentRef(2)], "soonest due first");
    let lines = text(&b);
    assert!(
        lines.contains("POST-MORTEMS OWED FROM EARLIER SHIFTS (2)"),
        "{lines}"
    );
    assert!(lines.contains("POST-MORTEM OVERDUE by 1d12h"), "{lines}");
    assert!(lines.contains("post-mortem due in 12h00m"), "{lines}");
    let rows = rows(&b);
    let overdue = rows.iter().find(|r| r.text.contains("INC-1")).unwrap();
    assert_eq!(overdue.meaning, Meaning::Overdue);
    assert!(markdown(&b).contains("## Post-mortems owed from earlier shifts (2)"));
    // Resolved this shift: in its own list, not here.
    assert!(b.resolved.iter().any(|r| r.reference == IncidentRef(3)));
}
