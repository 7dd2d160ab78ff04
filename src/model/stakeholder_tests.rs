//! Status updates for stakeholders: the public mark and the SEV1 executive briefing, as the
//! feed decides and every copy folds them.

use chrono::{DateTime, TimeZone, Utc};

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 2, 0, 0).unwrap()
}

const INC1: IncidentRef = IncidentRef(1);

fn decide_and_fold(state: &mut State, cmd: Command) -> Result<(), Rejection> {
    for kind in state.decide("carol", t0(), &cmd)? {
        let ev = Event {
            seq: state.seq + 1,
            at: t0(),
            actor: "carol".into(),
            kind,
        };
        state.apply(&ev).unwrap();
    }
    Ok(())
}

fn with(sev: u8, restricted: bool) -> State {
    let mut s = State::default();
    decide_and_fold(
        &mut s,
        Command::Declare {
            title: "Checkout errors".into(),
            severity: Severity::try_from(sev).unwrap(),
            service: Some("payments".into()),
            restricted,
            detected_by: None,
        },
    )
    .unwrap();
    s
}

fn briefing() -> Briefing {
    Briefing {
        impact: " 15% of payments fail ".into(),
        eta: "about 40 minutes".into(),
        at_risk: "the EU merchants' 99.9% SLA".into(),
    }
}

fn entry(kind: EntryKind, public: bool, briefing: Option<Briefing>) -> Command {
    Command::AddEntry {
        incident: INC1,
        entry_kind: kind,
        text: "Rolling back deploy 4471.".into(),
        occurred_at: None,
        next_update_secs: (kind == EntryKind::StatusUpdate).then_some(20 * 60),
        public,
        briefing,
    }
}

fn refused(state: &mut State, cmd: Command) -> Rejection {
    let before = state.clone();
    let e = decide_and_fold(state, cmd).unwrap_err();
    assert_eq!(&before, state, "a refusal changes nothing");
    e
}

#[test]
fn a_sev1_status_update_carries_the_briefing_and_the_entry_shows_it() {
    let mut s = with(1, false);
    let e = refused(&mut s, entry(EntryKind::StatusUpdate, true, None));
    assert!(
        e.message.contains("SEV1") && e.message.contains("briefing"),
        "{e}"
    );
    let mut half = briefing();
    half.eta = "  ".into();
    let e = refused(&mut s, entry(EntryKind::StatusUpdate, false, Some(half)));
    assert!(e.message.contains("ETA is empty"), "{e}");
    decide_and_fold(
        &mut s,
        entry(EntryKind::StatusUpdate, true, Some(briefing())),
    )
    .unwrap();
    let inc = s.incident(INC1).unwrap();
    let last = inc.entries.last().unwrap();
    assert!(last.public);
    let b = last.briefing.as_ref().unwrap();
    assert_eq!(b.impact, "15% of payments fail", "trimmed as other text is");
    assert_eq!(b.at_risk, "the EU merchants' 99.9% SLA");
    let id = last.id;
    // A correction of the update keeps what was sent with it.
    decide_and_fold(
        &mut s,
        Command::CorrectEntry {
            incident: INC1,
            entry: id,
            text: Some("Rolling back deploy 4472.".into()),
            entry_kind: None,
            occurred_at: None,
        },
    )
    .unwrap();
    let corrected = s.incident(INC1).unwrap().entries.last().unwrap();
    assert!(corrected.public && corrected.briefing.is_some());
}

#[test]
fn public_and_briefing_belong_to_status_updates_of_incidents_that_may_be_told() {
    let mut s = with(2, false);
    let e = refused(&mut s, entry(EntryKind::Note, true, None));
    assert!(
        e.message.contains("only a status update can be public"),
        "{e}"
    );
    let e = refused(&mut s, entry(EntryKind::Decision, false, Some(briefing())));
    assert!(e.message.contains("only a status update carries"), "{e}");
    // Below SEV1 the briefing is optional.
    decide_and_fold(&mut s, entry(EntryKind::StatusUpdate, true, None)).unwrap();
    let mut r = with(2, true);
    let e = refused(&mut r, entry(EntryKind::StatusUpdate, true, None));
    assert_eq!(e.code, RejectCode::Conflict);
    assert!(e.message.contains("never go to the status page"), "{e}");
    decide_and_fold(&mut r, entry(EntryKind::StatusUpdate, false, None)).unwrap();
}

#[test]
fn old_entries_without_the_new_fields_read_as_before() {
    let old = r#"{"kind":"entry_added","incident":"INC-1","entry_kind":"status_update",
        "text":"x","occurred_at":"2026-03-10T02:00:00Z"}"#;
    let k: EventKind = serde_json::from_str(old).unwrap();
    assert!(matches!(
        k,
        EventKind::EntryAdded {
            public: false,
            briefing: None,
            ..
        }
    ));
    let back = serde_json::to_value(&k).unwrap();
    assert!(back.get("public").is_none() && back.get("briefing").is_none());
}
