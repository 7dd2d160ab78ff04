//! A restricted incident's export, in both forms: its members and its breach-notice
//! deadline, judged from the log alone.

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::model::{Command, EntryKind, Severity, State};

fn at(min: i64) -> DateTime<Utc> {
    chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 3, 14, 2, 0, 0).unwrap() + Duration::minutes(min)
}

/// Decides and folds `cmd` as `actor` at minute `min`; returns the events.
fn run(s: &mut State, log: &mut Vec<Event>, actor: &str, min: i64, cmd: Command) {
    for kind in s.decide(actor, at(min), &cmd).expect("decided") {
        let ev = Event {
            seq: s.seq + 1,
            at: at(min),
            actor: actor.into(),
            kind,
        };
        s.apply(&ev).expect("folds");
        log.push(ev);
    }
}

fn declare(restricted: bool) -> Command {
    Command::Declare {
        title: "Leaked credentials in the public bucket".into(),
        severity: Severity::Sev1,
        service: Some("storage".into()),
        restricted,
        detected_by: None,
    }
}

#[test]
fn a_restricted_export_names_its_members_and_the_breach_deadline() {
    let mut s = State::default();
    let mut log = Vec::new();
    run(&mut s, &mut log, "ana", 0, declare(true));
    run(&mut s, &mut log, "ana", 1, declare(false));
    let r = crate::model::IncidentRef(1);
    let add = Command::AddMember {
        incident: r,
        person: "bob".into(),
    };
    run(&mut s, &mut log, "root", 2, add);
    let inc = s.incident(r).unwrap();
    let md = markdown(inc);
    assert!(
        md.contains("| Access | Restricted (need to know) |"),
        "{md}"
    );
    assert!(md.contains("| Members | ana, bob |"), "{md}");
    assert!(
        md.contains(
            "| Breach notice due | 2026-03-17 02:00 UTC (72 h after detection at \
             2026-03-14 02:00 UTC) |"
        ),
        "{md}"
    );
    let doc = json(inc, &log);
    let access = doc.restricted.as_ref().expect("restricted section");
    assert_eq!(access.access, "Restricted (need to know)");
    assert_eq!(access.members, ["ana", "bob"]);
    assert_eq!(access.breach_notice_due, at(72 * 60));
    assert!(!access.breach_notice_passed);
    let v = serde_json::to_value(&doc).unwrap();
    assert_eq!(v["restricted"]["breach_notice_due"], "2026-03-17T02:00:00Z");

    // Still open three days later: the deadline passed before its last event.
    let note = Command::AddEntry {
        incident: r,
        entry_kind: EntryKind::Note,
        text: "regulator informed".into(),
        occurred_at: None,
        next_update_secs: None,
        public: false,
        briefing: None,
    };
    run(&mut s, &mut log, "ana", 73 * 60, note);
    let inc = s.incident(r).unwrap();
    assert!(json(inc, &log).restricted.unwrap().breach_notice_passed);
    assert!(markdown(inc).contains("; already passed at the last event, 2026-03-17 03:00 UTC |"));

    // An incident open to all has none of it, in either form.
    let open = s.incident(crate::model::IncidentRef(2)).unwrap();
    assert!(!markdown(open).contains("Access"));
    let v = serde_json::to_value(json(open, &log)).unwrap();
    assert!(v.get("restricted").is_none(), "{v}");
    // An export from before these fields were added still reads.
    let mut old = v.clone();
    old.as_object_mut().unwrap().remove("restricted");
    let back: JsonExport = serde_json::from_value(old).unwrap();
    assert_eq!(back.restricted, None);
}
