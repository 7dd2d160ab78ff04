//! Metrics of restricted incidents: counted for a reader who may see them, not at all for
//! anyone else, pages included.

use chrono::Duration;

use super::*;
use crate::model::access::{Viewer, withheld};
use crate::model::escalation::{Plan, PlannedStep};
use crate::model::{Event, EventKind, IncidentRef, State, StepAction};

fn at(min: i64) -> DateTime<Utc> {
    chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 2, 10, 0, 0).unwrap()
        + Duration::minutes(min)
}

/// INC-1 (SEV1, restricted, declared by ana) and INC-2 (SEV2, open to all), each paging
/// carl once, acknowledged and resolved: the feed's whole log, and its state.
fn feed() -> (Vec<Event>, State) {
    let r1 = IncidentRef(1);
    let r2 = IncidentRef(2);
    let declared = |r, severity, restricted| EventKind::Declared {
        incident: r,
        title: format!("incident {r}"),
        service: None,
        severity,
        restricted,
        alert_key: None,
    };
    let started = |r, severity| EventKind::EscalationStarted {
        incident: r,
        plan: Plan {
            severity,
            steps: vec![PlannedStep {
                after_secs: 0,
                action: StepAction::Page,
                target: "oncall.primary".into(),
                expected: None,
            }],
            repeat: 0,
            round_secs: 3600,
            ack_timeout_secs: None,
        },
        reason: "declared".into(),
    };
    let fired = |r, run| EventKind::StepFired {
        incident: r,
        run,
        round: 0,
        step: 0,
        action: StepAction::Page,
        target: "oncall.primary".into(),
        person: Some("carl".into()),
        due_at: at(0),
        late: false,
    };
    let kinds = [
        ("ana", declared(r1, Severity::Sev1, true)),
        ("warroom", started(r1, Severity::Sev1)),
        ("warroom", fired(r1, 2)),
        ("ana", EventKind::Acknowledged { incident: r1 }),
        ("bob", declared(r2, Severity::Sev2, false)),
        ("warroom", started(r2, Severity::Sev2)),
        ("warroom", fired(r2, 6)),
        ("carl", EventKind::Acknowledged { incident: r2 }),
        ("ana", EventKind::Resolved { incident: r1 }),
        ("carl", EventKind::Resolved { incident: r2 }),
    ];
    let mut state = State::default();
    let mut log = Vec::new();
    for (i, (actor, kind)) in kinds.into_iter().enumerate() {
        let e = Event {
            seq: i as u64 + 1,
            at: at(i as i64 * 5),
            actor: actor.into(),
            kind,
        };
        state.apply(&e).expect("the feed's log folds");
        log.push(e);
    }
    (log, state)
}

/// What `reader` receives of `log`, judged by `state` (as a catch-up is), folded.
fn as_read_by(log: &[Event], state: &State, reader: Viewer<'_>) -> (Vec<Event>, State) {
    let seen: Vec<Event> = log.iter().map(|e| state.event_for(e, reader)).collect();
    let folded = State::from_events(&seen).expect("withheld stand-ins fold");
    (seen, folded)
}

#[test]
fn a_non_member_counts_nothing_of_a_restricted_incident_and_a_member_counts_it_all() {
    let (log, server) = feed();
    let now = at(600);
    let bob = Viewer {
        name: "bob",
        sees_all: false,
    };
    let (seen, state) = as_read_by(&log, &server, bob);
    assert!(seen.iter().any(|e| e.kind.name() == "withheld"));
    assert!(state.withheld.contains(&IncidentRef(1)));
    let m = compute(&state, Some(&seen), None, &[], None, now);
    assert_eq!(m.incidents, 1, "only INC-2");
    assert_eq!(m.severities[0].incidents, 0, "no SEV1 counted");
    assert_eq!(m.severities[0].mtta.count, 0);
    assert_eq!(m.severities[1].incidents, 1);
    assert_eq!(m.pages.pages, 1, "INC-1's page is not bob's to count");
    assert_eq!(m.period_start, at(20), "from INC-2's declaration");
    assert!(text(&m).starts_with("1 incident (all time)"));
    // Without the log, from the state alone: the same.
    assert_eq!(compute(&state, None, None, &[], None, now).pages.pages, 1);

    // ana is a member, and an admin sees all: both count both incidents.
    for reader in [
        Viewer {
            name: "ana",
            sees_all: false,
        },
        Viewer {
            name: "root",
            sees_all: true,
        },
    ] {
        let (seen, state) = as_read_by(&log, &server, reader);
        let m = compute(&state, Some(&seen), None, &[], None, now);
        assert_eq!(m.incidents, 2, "{reader:?}");
        assert_eq!(m.severities[0].incidents, 1);
        assert_eq!(m.severities[0].mtta.count, 1);
        assert_eq!(m.pages.pages, 2);
    }
}

#[test]
fn pages_of_an_incident_withheld_since_are_not_counted() {
    // A console that read INC-1 as a member, then was removed from its members: its log
    // holds INC-1's real events, then the stand-in that took INC-1 away.
    let (mut log, _) = feed();
    let removal = Event {
        seq: 11,
        at: at(60),
        actor: "root".into(),
        kind: EventKind::MemberRemoved {
            incident: IncidentRef(1),
            person: "dan".into(),
        },
    };
    log.push(withheld(&removal));
    let state = State::from_events(&log).expect("folds");
    assert!(state.incident(IncidentRef(1)).is_none());
    let m = compute(&state, Some(&log), None, &[], None, at(600));
    assert_eq!(m.incidents, 1);
    assert_eq!(m.pages.pages, 1);
    assert_eq!(m.pages.by_person.get("carl"), Some(&1));
}
