//! The handoff view says what `warroom handoff` prints, and styles its lines by what they
//! are, not by the words in them.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use crate::model::oncall::Layer;
use crate::model::{EntryKind, StepAction};
use crate::model::{IncidentRef, Role, Severity, Status};
use crate::report::handoff::{
    ActiveIncident, Briefing, EntrySummary, OnCall, OnCallNow, OpenActionItem, PendingStep,
    ResolvedIncident,
};
use crate::report::handoff::{
    AlertSource, NextHandoff, RoleHolder, ShiftPages, StatusUpdate, text_lines,
};
use crate::report::handoff::{Meaning, rows as briefing_rows};

fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap()
}

fn entry(id: u64, kind: EntryKind, text: &str, pinned: bool) -> EntrySummary {
    EntrySummary {
        id,
        kind,
        text: text.into(),
        author: "carol".into(),
        occurred_at: at(26, 13, id as u32),
        pinned,
    }
}

fn incident(n: u32, severity: Severity, title: &str) -> ActiveIncident {
    ActiveIncident {
        reference: IncidentRef(n),
        title: title.into(),
        service: None,
        severity,
        status: Status::Investigating,
        restricted: false,
        breach_notice_due: None,
        declared_at: at(26, 12, 0),
        declared_by: "bot".into(),
        age_secs: 7800,
        acknowledged_by: None,
        roles: Vec::new(),
        last_status_update: None,
        next_update_due: None,
        open_hypotheses: Vec::new(),
        ruled_out: Vec::new(),
        open_action_items: Vec::new(),
        pending_escalation: None,
        key_entries: Vec::new(),
    }
}

/// A briefing with every kind of line the plain-text briefing has.
fn everything() -> Briefing {
    let now = at(26, 14, 10);
    let mut checkout = incident(2, Severity::Sev1, "Checkout errors\u{1b}[2J");
    checkout.service = Some("payments".into());
    checkout.status = Status::Identified;
    checkout.restricted = true;
    checkout.breach_notice_due = Some(at(29, 12, 0));
    checkout.roles = vec![
        RoleHolder {
            role: Role::IncidentCommander,
            person: "bob".into(),
        },
        RoleHolder {
            role: Role::TechLead,
            person: "erin".into(),
        },
        RoleHolder {
            role: Role::CommsLead,
            person: "carol".into(),
        },
    ];
    checkout.acknowledged_by = Some("dan".into());
    checkout.last_status_update = Some(StatusUpdate {
        at: at(26, 13, 30),
        author: Some("fay".into()),
        text: Some("Rolling back\nthe deploy".into()),
    });
    checkout.next_update_due = Some(at(26, 14, 0));
    checkout.open_hypotheses = vec![entry(9, EntryKind::Hypothesis, "pool OVERDUE", true)];
    checkout.ruled_out = vec![entry(11, EntryKind::RuledOut, "DNS", false)];
    checkout.open_action_items = vec![
        OpenActionItem {
            id: 1,
            text: "Alert on pool use".into(),
            owner: "bob".into(),
            due: NaiveDate::from_ymd_opt(2026, 12, 1),
        },
        OpenActionItem {
            id: 2,
            text: "Review".into(),
            owner: "me".into(),
            due: None,
        },
    ];
    checkout.pending_escalation = Some(PendingStep {
        step: 2,
        steps: 3,
        round: 2,
        action: StepAction::Page,
        target: "oncall.secondary".into(),
        expected: Some("dan".into()),
        due_at: at(26, 14, 15),
    });
    checkout.key_entries = vec![
        entry(10, EntryKind::Decision, "Roll back", false),
        entry(12, EntryKind::Note, "NO incident commander yet?", false),
    ];
    let mut leak = incident(4, Severity::Sev3, "Leaked  keys");
    leak.restricted = true;
    leak.breach_notice_due = Some(at(26, 9, 0));
    leak.next_update_due = Some(at(26, 15, 0));
    leak.pending_escalation = Some(PendingStep {
        step: 1,
        steps: 2,
        round: 1,
        action: StepAction::Notify,
        target: "marco".into(),
        expected: None,
        due_at: at(26, 14, 0),
    });
    let mut quiet = incident(5, Severity::Sev2, "Quiet");
    // A SEV2 with its commander and no comms lead.
    quiet.roles = vec![RoleHolder {
        role: Role::IncidentCommander,
        person: "ana".into(),
    }];
    quiet.last_status_update = Some(StatusUpdate {
        at: at(25, 23, 0),
        author: None,
        text: None,
    });
    Briefing {
        generated_at: now,
        as_of_seq: 40,
        shift_start: at(26, 9, 0),
        shift_schedule: Some("platform".into()),
        outgoing: Some("bob".into()),
        incoming: Some("carl".into()),
        shift_change_at: Some(at(26, 9, 0)),
        active: vec![checkout, leak, quiet],
        on_call: vec![
            OnCall {
                schedule: "platform".into(),
                time_zone: "UTC".into(),
                primary: Some(OnCallNow {
                    person: "carl".into(),
                    until: at(27, 9, 0),
                    overridden: true,
                }),
                secondary: None,
                next: vec![
                    NextHandoff {
                        at: at(27, 9, 0),
                        layer: Layer::Primary,
                        from: Some("carl".into()),
                        to: Some("dan".into()),
                    },
                    NextHandoff {
                        at: at(27, 9, 0),
                        layer: Layer::Secondary,
                        from: None,
                        to: Some("erin".into()),
                    },
                ],
            },
            OnCall {
                schedule: "db  team".into(),
                time_zone: "UTC".into(),
                primary: None,
                secondary: None,
                next: Vec::new(),
            },
        ],
        resolved: vec![
            ResolvedIncident {
                reference: IncidentRef(3),
                title: "Search slow".into(),
                service: Some("search".into()),
                severity: Severity::Sev3,
                status: Status::Resolved,
                declared_at: at(26, 9, 30),
                resolved_at: at(26, 11, 0),
                postmortem_due_at: None,
                postmortem_on_time: None,
            },
            ResolvedIncident {
                reference: IncidentRef(1),
                title: "Typo".into(),
                service: None,
                severity: Severity::Sev4,
                status: Status::Closed,
                declared_at: at(25, 9, 30),
                resolved_at: at(26, 10, 0),
                postmortem_due_at: None,
                postmortem_on_time: None,
            },
        ],
        noisiest: vec![
            AlertSource {
                service: Some("a-service-with-a-name-longer-than-the-column".into()),
                alerts: 12,
                incidents: 3,
            },
            AlertSource {
                service: None,
                alerts: 1,
                incidents: 1,
            },
        ],
        pages: ShiftPages {
            pages: 3,
            off_hours: 1,
            target: 2,
            over_target: true,
        },
        withheld: vec![IncidentRef(7), IncidentRef(9)],
        deploys: vec![crate::model::feed::Deploy {
            seq: 38,
            at: at(26, 8, 10),
            service: "checkout".into(),
            version: "v2.14.1".into(),
            environment: Some("production".into()),
            by: "ci-bot".into(),
            note: Some("new cart".into()),
        }],
        for_standup: vec![crate::model::feed::NotedAlert {
            dedup_key: "alertmanager:slo".into(),
            source: "alertmanager".into(),
            summary: "search error budget slow burn".into(),
            why: "error budget burning 1.1x over 3d: informational only".into(),
            service: Some("search".into()),
            first_at: at(25, 10, 0),
            last_at: at(26, 8, 0),
            count: 4,
        }],
        postmortems_owed: Vec::new(),
    }
}

fn nothing() -> Briefing {
    Briefing {
        shift_schedule: None,
        outgoing: None,
        incoming: None,
        shift_change_at: None,
        active: Vec::new(),
        on_call: Vec::new(),
        resolved: Vec::new(),
        noisiest: Vec::new(),
        pages: ShiftPages {
            target: 2,
            ..ShiftPages::default()
        },
        withheld: Vec::new(),
        deploys: Vec::new(),
        for_standup: Vec::new(),
        ..everything()
    }
}

#[test]
fn the_view_says_what_warroom_handoff_prints() {
    for b in [everything(), nothing()] {
        let shown: Vec<String> = briefing_rows(&b).into_iter().map(|r| r.text).collect();
        assert_eq!(shown, text_lines(&b));
    }
}

#[test]
fn styles_come_from_what_a_line_is() {
    let rows = briefing_rows(&everything());
    let meaning = |start: &str| {
        rows.iter()
            .find(|r| r.text.starts_with(start))
            .map(|r| r.meaning)
            .unwrap_or_else(|| panic!("no line starts with '{start}'"))
    };
    assert_eq!(meaning("HANDOFF BRIEFING"), Meaning::Heading);
    assert_eq!(meaning("ON CALL"), Meaning::Heading);
    assert_eq!(
        meaning("INC-2  SEV1"),
        Meaning::Incident(IncidentRef(2), Severity::Sev1)
    );
    assert_eq!(meaning("  status updates    last"), Meaning::Overdue);
    assert_eq!(
        meaning("  roles             NO incident"),
        Meaning::NoCommander
    );
    assert_eq!(meaning("  roles             incident"), Meaning::Text);
    // A shift over the target of under 2 pages is loud.
    assert_eq!(
        meaning(
            "  3 pages this shift (1 off hours): over the target of under 2 a shift, the alerting needs tuning"
        ),
        Meaning::Overdue
    );
    let quiet = briefing_rows(&nothing());
    assert!(quiet.iter().any(|r| r.text
        == "  0 pages this shift (0 off hours): within the target of under 2 a shift"
        && r.meaning == Meaning::Text));
    assert_eq!(
        meaning("  roles             NO comms lead, incident commander ana"),
        Meaning::NoCommander
    );
    // Words in what people typed do not colour a line.
    assert_eq!(meaning("    - #9 "), Meaning::Text);
    assert_eq!(meaning("    - #12 "), Meaning::Text);
}
