//! The fold and every rejection, with a frozen clock.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 2, 0, 0).unwrap()
}

/// Decides and folds like the server does, returning the state after.
struct Log {
    state: State,
    events: Vec<Event>,
    now: DateTime<Utc>,
}

impl Log {
    fn new() -> Self {
        Log {
            state: State::default(),
            events: Vec::new(),
            now: t0(),
        }
    }

    fn run(&mut self, actor: &str, cmd: Command) -> Result<Vec<u64>, Rejection> {
        let kinds = self.state.decide(actor, self.now, &cmd)?;
        let mut seqs = Vec::new();
        for kind in kinds {
            let ev = Event {
                seq: self.state.seq + 1,
                at: self.now,
                actor: actor.to_string(),
                kind,
            };
            self.state.apply(&ev).unwrap();
            seqs.push(ev.seq);
            self.events.push(ev);
        }
        Ok(seqs)
    }

    fn ok(&mut self, actor: &str, cmd: Command) -> Vec<u64> {
        self.run(actor, cmd).unwrap()
    }

    /// Records what the server itself would (the engine's events).
    fn apply_kind(&mut self, kind: EventKind) {
        let ev = Event {
            seq: self.state.seq + 1,
            at: self.now,
            actor: "warroom".into(),
            kind,
        };
        self.state.apply(&ev).unwrap();
        self.events.push(ev);
    }

    fn err(&mut self, cmd: Command) -> Rejection {
        let before = self.state.clone();
        let e = self.run("alice", cmd).unwrap_err();
        assert_eq!(before, self.state, "a rejection must not change state");
        e
    }

    fn inc(&self, n: u32) -> &Incident {
        self.state.incident(IncidentRef(n)).unwrap()
    }

    fn tick(&mut self, mins: i64) {
        self.now += Duration::minutes(mins);
    }
}

fn declare(title: &str, sev: u8) -> Command {
    Command::Declare {
        title: title.into(),
        severity: Severity::try_from(sev).unwrap(),
        service: Some("payments".into()),
        restricted: false,
        detected_by: None,
    }
}

fn note(n: u32, text: &str) -> Command {
    Command::AddEntry {
        incident: IncidentRef(n),
        entry_kind: EntryKind::Note,
        text: text.into(),
        occurred_at: None,
        next_update_secs: None,
        public: false,
        briefing: None,
    }
}

const INC1: IncidentRef = IncidentRef(1);

#[test]
fn declaration_numbers_incidents_in_order() {
    let mut log = Log::new();
    log.ok("alice", declare("Checkout errors", 2));
    log.ok("bob", declare("Search slow", 3));
    assert_eq!(log.inc(1).reference.to_string(), "INC-1");
    assert_eq!(log.inc(2).reference.to_string(), "INC-2");
    let i = log.inc(1);
    assert_eq!(i.status, Status::Investigating);
    assert_eq!(i.severity, Severity::Sev2);
    assert_eq!(i.declared_by, "alice");
    assert_eq!(i.milestones.get(&Milestone::Detected), Some(&t0()));
    assert_eq!(i.entries.len(), 1);
    assert_eq!(i.entries[0].kind, EntryKind::System);
    assert!(i.entries[0].text.contains("declared SEV2 on payments"));
}

#[test]
fn full_lifecycle_folds_to_the_same_state_from_the_log() {
    let mut log = Log::new();
    log.ok("alice", declare("Checkout errors", 3));
    log.tick(1);
    log.ok("alice", Command::Acknowledge { incident: INC1 });
    log.ok(
        "alice",
        Command::AssignRole {
            incident: INC1,
            role: Role::IncidentCommander,
            person: "me".into(),
        },
    );
    log.ok(
        "alice",
        Command::AssignRole {
            incident: INC1,
            role: Role::Scribe,
            person: "bob".into(),
        },
    );
    log.tick(2);
    log.ok(
        "carol",
        Command::SetSeverity {
            incident: INC1,
            severity: Severity::Sev1,
        },
    );
    log.ok(
        "carol",
        Command::Retitle {
            incident: INC1,
            title: "Checkout down".into(),
        },
    );
    log.ok(
        "alice",
        Command::SetStatus {
            incident: INC1,
            status: Status::Identified,
        },
    );
    log.tick(5);
    log.ok(
        "alice",
        Command::SetStatus {
            incident: INC1,
            status: Status::Monitoring,
        },
    );
    log.ok(
        "alice",
        Command::AssignRole {
            incident: INC1,
            role: Role::IncidentCommander,
            person: "dave".into(),
        },
    );
    log.ok(
        "bob",
        Command::ReleaseRole {
            incident: INC1,
            role: Role::Scribe,
        },
    );
    log.tick(3);
    log.ok("alice", Command::Resolve { incident: INC1 });
    let i = log.inc(1);
    assert_eq!(i.title, "Checkout down");
    assert_eq!(i.severity, Severity::Sev1);
    assert_eq!(i.status, Status::Resolved);
    assert_eq!(i.acknowledged_by.as_deref(), Some("alice"));
    assert_eq!(
        i.roles.get(&Role::IncidentCommander).map(String::as_str),
        Some("dave")
    );
    assert!(!i.roles.contains_key(&Role::Scribe));
    // Every change of holder is on the record, with tenure.
    let ic: Vec<(&str, bool)> = i
        .role_history
        .iter()
        .filter(|t| t.role == Role::IncidentCommander)
        .map(|t| (t.person.as_str(), t.until.is_some()))
        .collect();
    assert_eq!(ic, [("alice", true), ("dave", false)]);
    let scribe = i
        .role_history
        .iter()
        .find(|t| t.role == Role::Scribe)
        .unwrap();
    assert_eq!(scribe.until, Some(t0() + Duration::minutes(8)));
    // Milestones: detected at declaration, ack, mitigated on monitoring, resolved.
    assert_eq!(
        i.milestones[&Milestone::Acknowledged],
        t0() + Duration::minutes(1)
    );
    assert_eq!(
        i.milestones[&Milestone::Mitigated],
        t0() + Duration::minutes(8)
    );
    assert_eq!(
        i.milestones[&Milestone::Resolved],
        t0() + Duration::minutes(11)
    );
    assert!(
        i.entries
            .iter()
            .any(|e| e.text == "severity raised: SEV3 → SEV1")
    );
    assert!(
        i.entries
            .iter()
            .any(|e| e.text == "dave is incident commander (was alice)")
    );
    // Replaying the log gives the same state: this is what every replica does.
    assert_eq!(State::from_events(&log.events).unwrap(), log.state);
    // And the state survives the wire.
    let json = serde_json::to_string(&log.state).unwrap();
    assert_eq!(serde_json::from_str::<State>(&json).unwrap(), log.state);
}

#[test]
fn backdated_entries_sort_by_occurrence_and_keep_recorded_time() {
    let mut log = Log::new();
    log.ok("alice", declare("Checkout errors", 2));
    log.tick(18);
    log.ok("bob", note(1, "rollback started"));
    let [seq] = log.ok(
        "bob",
        Command::AddEntry {
            incident: INC1,
            entry_kind: EntryKind::Note,
            text: "impact started".into(),
            occurred_at: Some(t0() - Duration::minutes(8)),
            next_update_secs: None,
            public: false,
            briefing: None,
        },
    )[..] else {
        panic!()
    };
    let tl = log.inc(1).timeline();
    assert_eq!(tl[0].id, seq);
    assert_eq!(tl[0].text, "impact started");
    assert_eq!(tl[0].recorded_at, t0() + Duration::minutes(18));
    assert_eq!(tl[0].author, "bob");
    assert_eq!(tl.last().unwrap().text, "rollback started");
}

#[test]
fn corrections_supersede_and_keep_the_original() {
    let mut log = Log::new();
    log.ok("alice", declare("Checkout errors", 2));
    let orig = log.ok("bob", note(1, "db at 100% cpu"))[0];
    log.ok(
        "bob",
        Command::PinEntry {
            incident: INC1,
            entry: orig,
            pinned: true,
        },
    );
    let fix = log.ok(
        "bob",
        Command::CorrectEntry {
            incident: INC1,
            entry: orig,
            text: Some("replica db at 100% cpu".into()),
            entry_kind: Some(EntryKind::Hypothesis),
            occurred_at: None,
        },
    )[0];
    let i = log.inc(1);
    let old = i.entry(orig).unwrap();
    let new = i.entry(fix).unwrap();
    assert_eq!(old.text, "db at 100% cpu");
    assert_eq!(old.superseded_by, Some(fix));
    assert_eq!(new.supersedes, Some(orig));
    assert_eq!(new.kind, EntryKind::Hypothesis);
    assert_eq!(new.occurred_at, old.occurred_at);
    assert!(new.pinned, "a correction keeps the pin");
    // Correcting the superseded one again is refused.
    let e = log.err(Command::CorrectEntry {
        incident: INC1,
        entry: orig,
        text: Some("x".into()),
        entry_kind: None,
        occurred_at: None,
    });
    assert_eq!(e.code, RejectCode::Conflict);
    assert!(
        e.message.contains(&format!("corrected by entry {fix}")),
        "{e}"
    );
}

#[test]
fn reopen_and_close() {
    let mut log = Log::new();
    log.ok("alice", declare("Checkout errors", 2));
    log.ok("alice", Command::Resolve { incident: INC1 });
    log.ok(
        "alice",
        Command::SetStatus {
            incident: INC1,
            status: Status::Investigating,
        },
    );
    assert!(log.inc(1).is_active());
    assert!(!log.inc(1).milestones.contains_key(&Milestone::Resolved));
    assert!(
        log.inc(1)
            .entries
            .last()
            .unwrap()
            .text
            .starts_with("reopened")
    );
    // Reopening straight to monitoring also forgets the old resolution.
    log.ok("alice", Command::Resolve { incident: INC1 });
    log.ok(
        "alice",
        Command::SetStatus {
            incident: INC1,
            status: Status::Monitoring,
        },
    );
    assert!(!log.inc(1).milestones.contains_key(&Milestone::Resolved));
    let e = log.err(Command::SetMilestone {
        incident: INC1,
        milestone: Milestone::Resolved,
        occurred_at: None,
    });
    assert!(e.message.contains("not resolved yet: use resolve"), "{e}");
    log.ok("alice", Command::Resolve { incident: INC1 });
    // Closing needs a post-mortem with a summary and an action item, or a waiver.
    let close = Command::SetStatus {
        incident: INC1,
        status: Status::Closed,
    };
    let e = log.err(close.clone());
    assert!(
        e.message
            .contains("its post-mortem needs a summary and at least one action item"),
        "{e}"
    );
    log.ok(
        "alice",
        Command::EditPostmortem {
            incident: INC1,
            section: crate::model::PmSection::Summary,
            text: "A bad deploy exhausted the pool.".into(),
        },
    );
    let e = log.err(close.clone());
    assert!(
        e.message
            .ends_with("needs at least one action item (or waive it with a reason)"),
        "{e}"
    );
    log.ok(
        "alice",
        Command::AddActionItem {
            incident: INC1,
            text: "Alert on pool saturation".into(),
            owner: "me".into(),
            due: chrono::NaiveDate::from_ymd_opt(2026, 12, 1),
        },
    );
    assert_eq!(log.inc(1).postmortem.action_items[0].owner, "alice");
    log.ok("alice", close);
    let e = log.err(note(1, "late note"));
    assert!(e.message.contains("closed"), "{e}");
}

#[test]
fn milestones_can_be_set_and_corrected() {
    let mut log = Log::new();
    log.ok("alice", declare("Checkout errors", 2));
    let at = t0() - Duration::minutes(20);
    log.ok(
        "alice",
        Command::SetMilestone {
            incident: INC1,
            milestone: Milestone::ImpactStarted,
            occurred_at: Some(at),
        },
    );
    log.ok(
        "alice",
        Command::SetMilestone {
            incident: INC1,
            milestone: Milestone::ImpactStarted,
            occurred_at: Some(at - Duration::minutes(5)),
        },
    );
    let i = log.inc(1);
    assert_eq!(
        i.milestones[&Milestone::ImpactStarted],
        at - Duration::minutes(5)
    );
    assert!(
        i.entries
            .last()
            .unwrap()
            .text
            .contains("corrected from 01:40")
    );
}

/// Each rejection: state unchanged, a code, and a message naming the problem.
#[test]
fn rejections_name_the_problem() {
    let mut log = Log::new();
    log.ok("alice", declare("Checkout errors", 2));

    let cases: Vec<(Command, RejectCode, &str)> = vec![
        (
            note(7, "x"),
            RejectCode::NotFound,
            "INC-7 does not exist (incidents run from INC-1 to INC-1)",
        ),
        (declare("   ", 1), RejectCode::Invalid, "title is empty"),
        (
            declare(&"x".repeat(201), 1),
            RejectCode::Invalid,
            "the limit is 200",
        ),
        (
            declare("bell\u{7}", 1),
            RejectCode::Invalid,
            "control character (U+0007)",
        ),
        (
            Command::SetSeverity {
                incident: INC1,
                severity: Severity::Sev2,
            },
            RejectCode::Conflict,
            "INC-1 is already SEV2",
        ),
        (
            Command::SetStatus {
                incident: INC1,
                status: Status::Investigating,
            },
            RejectCode::Conflict,
            "INC-1 is already investigating",
        ),
        (
            Command::SetStatus {
                incident: INC1,
                status: Status::Closed,
            },
            RejectCode::Conflict,
            "only a resolved incident can be closed",
        ),
        (
            Command::ReleaseRole {
                incident: INC1,
                role: Role::TechLead,
            },
            RejectCode::Conflict,
            "has no tech lead",
        ),
        (
            Command::AddEntry {
                incident: INC1,
                entry_kind: EntryKind::System,
                text: "x".into(),
                occurred_at: None,
                next_update_secs: None,
                public: false,
                briefing: None,
            },
            RejectCode::Invalid,
            "recorded by warroom itself",
        ),
        (
            Command::AddEntry {
                incident: INC1,
                entry_kind: EntryKind::Note,
                text: "x".into(),
                occurred_at: Some(t0() + Duration::minutes(30)),
                next_update_secs: None,
                public: false,
                briefing: None,
            },
            RejectCode::Invalid,
            "is in the future",
        ),
        (
            Command::PinEntry {
                incident: INC1,
                entry: 99,
                pinned: true,
            },
            RejectCode::NotFound,
            "INC-1 has no entry 99",
        ),
        (
            Command::PinEntry {
                incident: INC1,
                entry: 1,
                pinned: false,
            },
            RejectCode::Conflict,
            "entry 1 is already not pinned",
        ),
        (
            Command::CorrectEntry {
                incident: INC1,
                entry: 1,
                text: Some("x".into()),
                entry_kind: None,
                occurred_at: None,
            },
            RejectCode::Conflict,
            "recorded by warroom itself and cannot be corrected",
        ),
        (
            Command::Retitle {
                incident: INC1,
                title: "Checkout errors".into(),
            },
            RejectCode::Conflict,
            "already has that title",
        ),
        (
            Command::AssignRole {
                incident: INC1,
                role: Role::Scribe,
                person: "".into(),
            },
            RejectCode::Invalid,
            "person is empty",
        ),
    ];
    for (cmd, code, needle) in cases {
        let e = log.err(cmd.clone());
        assert_eq!(e.code, code, "{cmd:?}: {e}");
        assert!(
            e.message.contains(needle),
            "{cmd:?}: '{e}' lacks '{needle}'"
        );
    }

    // Acknowledging twice, and acknowledging a resolved incident.
    log.ok("bob", Command::Acknowledge { incident: INC1 });
    let e = log.err(Command::Acknowledge { incident: INC1 });
    assert_eq!(
        e.message,
        "INC-1 was already acknowledged by bob at 02:00 UTC"
    );
    log.ok("alice", declare("Search slow", 3));
    log.ok(
        "alice",
        Command::Resolve {
            incident: IncidentRef(2),
        },
    );
    let e = log.err(Command::Acknowledge {
        incident: IncidentRef(2),
    });
    assert_eq!(e.code, RejectCode::Conflict);
    assert_eq!(
        e.message,
        "INC-2 is resolved; there is nothing to acknowledge"
    );
    let e = log.err(Command::Resolve {
        incident: IncidentRef(2),
    });
    assert_eq!(e.message, "INC-2 is already resolved");

    // Same holder twice.
    log.ok(
        "alice",
        Command::AssignRole {
            incident: INC1,
            role: Role::Scribe,
            person: "me".into(),
        },
    );
    let e = log.err(Command::AssignRole {
        incident: INC1,
        role: Role::Scribe,
        person: "alice".into(),
    });
    assert!(
        e.message.contains("alice is already scribe of INC-1"),
        "{e}"
    );
}

#[test]
fn values_parse_from_what_people_type_and_reject_the_rest() {
    assert_eq!("SEV1".parse::<Severity>().unwrap(), Severity::Sev1);
    assert_eq!("sev-3".parse::<Severity>().unwrap(), Severity::Sev3);
    assert_eq!("2".parse::<Severity>().unwrap(), Severity::Sev2);
    let e = Severity::try_from(5).unwrap_err();
    assert_eq!(e.code, RejectCode::Invalid);
    assert!(e.message.contains("severity 5 does not exist"));
    assert!(serde_json::from_str::<Severity>("0").is_err());

    assert_eq!(Role::parse_loose("ic").unwrap(), Role::IncidentCommander);
    assert_eq!("tech-lead".parse::<Role>().unwrap(), Role::TechLead);
    let e = "chef".parse::<Role>().unwrap_err();
    assert_eq!(
        e.message,
        "unknown role 'chef' (expected one of: incident_commander, tech_lead, comms_lead, scribe)"
    );
    assert!(
        Role::parse_loose("chef")
            .unwrap_err()
            .message
            .contains("or ic, tl, comms")
    );
    assert!(
        "paused"
            .parse::<Status>()
            .unwrap_err()
            .message
            .contains("unknown status 'paused'")
    );
    assert_eq!(
        "ruled out".parse::<EntryKind>().unwrap(),
        EntryKind::RuledOut
    );

    assert_eq!("inc-12".parse::<IncidentRef>().unwrap(), IncidentRef(12));
    assert_eq!("12".parse::<IncidentRef>().unwrap(), IncidentRef(12));
    assert!("INC-0".parse::<IncidentRef>().is_err());
    assert!(
        "INC-x"
            .parse::<IncidentRef>()
            .unwrap_err()
            .message
            .contains("INC-<number>")
    );
    assert_eq!(serde_json::to_string(&IncidentRef(3)).unwrap(), "\"INC-3\"");
}

#[test]
fn apply_refuses_out_of_order_and_dangling_events() {
    let mut log = Log::new();
    log.ok("alice", declare("Checkout errors", 2));
    let mut s = log.state.clone();
    let stale = log.events[0].clone();
    assert!(matches!(
        s.apply(&stale),
        Err(ApplyError::OutOfOrder { .. })
    ));
    let dangling = Event {
        seq: 2,
        at: t0(),
        actor: "x".into(),
        kind: EventKind::Acknowledged {
            incident: IncidentRef(9),
        },
    };
    assert!(matches!(
        s.apply(&dangling),
        Err(ApplyError::UnknownIncident { .. })
    ));
    assert_eq!(s, log.state);
}

#[test]
fn board_orders_active_then_severity_then_age() {
    let mut log = Log::new();
    log.ok("a", declare("old sev3", 3));
    log.tick(1);
    log.ok("a", declare("sev1", 1));
    log.tick(1);
    log.ok("a", declare("resolved sev1", 1));
    log.ok(
        "a",
        Command::Resolve {
            incident: IncidentRef(3),
        },
    );
    log.tick(1);
    log.ok("a", declare("new sev3", 3));
    let order: Vec<&str> = log.state.board().iter().map(|i| i.title.as_str()).collect();
    assert_eq!(order, ["sev1", "old sev3", "new sev3", "resolved sev1"]);
}

/// Every event kind survives the wire and the log: the envelope's fields (`seq`, `at`,
/// `actor`, `kind`) must never collide with a kind's own fields.
#[test]
fn every_event_kind_round_trips_through_json() {
    let r = INC1;
    let t = t0();
    let kinds = vec![
        EventKind::Declared {
            incident: r,
            title: "t".into(),
            service: Some("s".into()),
            severity: Severity::Sev1,
            restricted: true,
            alert_key: Some("alertmanager:{}:{alertname=\"X\"}".into()),
        },
        EventKind::Retitled {
            incident: r,
            title: "t2".into(),
        },
        EventKind::SeverityChanged {
            incident: r,
            from: Severity::Sev2,
            to: Severity::Sev1,
        },
        EventKind::StatusChanged {
            incident: r,
            from: Status::Investigating,
            to: Status::Identified,
        },
        EventKind::RoleAssigned {
            incident: r,
            role: Role::Scribe,
            person: "lee".into(),
        },
        EventKind::RoleReleased {
            incident: r,
            role: Role::Scribe,
            person: "lee".into(),
        },
        EventKind::EntryAdded {
            incident: r,
            entry_kind: EntryKind::Decision,
            text: "x".into(),
            occurred_at: t - Duration::minutes(3),
            next_update_secs: None,
            public: false,
            briefing: None,
        },
        EventKind::EntryCorrected {
            incident: r,
            entry: 2,
            entry_kind: EntryKind::Note,
            text: "y".into(),
            occurred_at: t - Duration::minutes(2),
        },
        EventKind::EntryPinned {
            incident: r,
            entry: 2,
            pinned: true,
        },
        EventKind::MilestoneSet {
            incident: r,
            milestone: Milestone::ImpactStarted,
            occurred_at: t - Duration::minutes(9),
        },
        EventKind::Acknowledged { incident: r },
        EventKind::Resolved { incident: r },
        EventKind::EscalationStarted {
            incident: r,
            plan: crate::model::escalation::Plan {
                severity: Severity::Sev1,
                steps: vec![crate::model::escalation::PlannedStep {
                    after_secs: 300,
                    action: crate::model::StepAction::Page,
                    target: "oncall.secondary".into(),
                    expected: Some("marco".into()),
                }],
                repeat: 1,
                round_secs: 600,
                ack_timeout_secs: Some(1800),
            },
            reason: "declared".into(),
        },
        EventKind::StepFired {
            incident: r,
            run: 3,
            round: 0,
            step: 1,
            action: crate::model::StepAction::Page,
            target: "oncall.secondary".into(),
            person: Some("marco".into()),
            due_at: t - Duration::minutes(1),
            late: false,
        },
        EventKind::NotificationResult {
            incident: r,
            step_seq: 4,
            person: "marco".into(),
            channel: "ops-slack".into(),
            delivered: true,
            attempts: 2,
            detail: "webhook HTTP 200".into(),
        },
        EventKind::AckExpired {
            incident: r,
            acknowledged_by: "marco".into(),
            idle_secs: 1800,
        },
        EventKind::AlertReceived {
            incident: r,
            source: "alertmanager".into(),
            dedup_key: "alertmanager:{}/{}".into(),
            action: crate::model::AlertAction::Trigger,
            summary: "HighErrorRate".into(),
            by: None,
        },
        EventKind::CadenceSet {
            incident: r,
            every_secs: Some(900),
        },
        EventKind::RunbookAttached {
            incident: r,
            runbook: crate::model::runbook::parse_markdown(
                "payments",
                "built-in",
                "# P\n## Steps\n- one\n",
            )
            .unwrap(),
        },
        EventKind::RunbookStepChecked {
            incident: r,
            item: 1,
            done: true,
        },
        EventKind::PostmortemEdited {
            incident: r,
            section: crate::model::PmSection::WentWell,
            text: "The rollback took four minutes.".into(),
        },
        EventKind::WhysSet {
            incident: r,
            whys: vec![crate::model::postmortem::Why {
                why: "Why did checkout fail?".into(),
                because: "The pool ran out.".into(),
            }],
        },
        EventKind::Restricted {
            incident: r,
            members: vec!["ana".into(), "lee".into()],
        },
        EventKind::MemberAdded {
            incident: r,
            person: "bob".into(),
        },
        EventKind::MemberRemoved {
            incident: r,
            person: "bob".into(),
        },
        EventKind::Withheld { incident: r },
        EventKind::ActionItemAdded {
            incident: r,
            text: "Alert on pool saturation".into(),
            owner: "bob".into(),
            due: chrono::NaiveDate::from_ymd_opt(2026, 3, 21),
        },
        EventKind::ActionItemUpdated {
            incident: r,
            item: 20,
            text: "Alert on pool saturation".into(),
            owner: "bob".into(),
            due: None,
            done: true,
        },
        EventKind::PostmortemWaived {
            incident: r,
            reason: "no customer impact".into(),
        },
        EventKind::ActionItemTicketed {
            incident: r,
            item: 20,
            reference: "OPS-123".into(),
            url: Some("https://tracker.example.com/OPS-123".into()),
        },
    ];
    for (i, kind) in kinds.into_iter().enumerate() {
        let name = kind.name();
        let ev = Event {
            seq: i as u64 + 1,
            at: t,
            actor: "alice".into(),
            kind,
        };
        let json = serde_json::to_string(&ev).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["kind"], name);
        assert_eq!(
            v["at"],
            serde_json::json!(t),
            "{name}: the envelope's `at` is the recording time"
        );
        let back: Event =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("{name}: {e}: {json}"));
        assert_eq!(back, ev, "{name}");
    }
}

#[test]
fn the_fold_refuses_a_gap_after_its_first_event() {
    let mut s = State::default();
    let ev = |seq: u64, n: u32| Event {
        seq,
        at: t0(),
        actor: "alice".into(),
        kind: EventKind::Declared {
            incident: IncidentRef(n),
            title: "t".into(),
            service: None,
            severity: Severity::Sev2,
            restricted: false,
            alert_key: None,
        },
    };
    // A replica may start mid-log.
    s.apply(&ev(5, 1)).unwrap();
    assert_eq!(
        s.apply(&ev(7, 2)),
        Err(ApplyError::OutOfOrder { seq: 7, at: 5 })
    );
    s.apply(&ev(6, 2)).unwrap();
}

#[test]
fn reserved_names_are_refused() {
    for n in ["warroom", "Alertmanager", "pagerduty", "events-api"] {
        assert!(crate::model::validate_name(n).is_err(), "{n}");
    }
    assert_eq!(crate::model::validate_name(" priya ").unwrap(), "priya");
}

#[test]
fn a_waived_post_mortem_lets_an_incident_close_and_action_items_track_completion() {
    let mut log = Log::new();
    log.ok("alice", declare("Blip", 4));
    log.ok("alice", Command::Resolve { incident: INC1 });
    let e = log.err(Command::WaivePostmortem {
        incident: INC1,
        reason: "  ".into(),
    });
    assert!(e.message.contains("reason is empty"), "{e}");
    log.ok(
        "alice",
        Command::WaivePostmortem {
            incident: INC1,
            reason: "a ten-second blip with no customer impact".into(),
        },
    );
    log.ok(
        "alice",
        Command::SetStatus {
            incident: INC1,
            status: Status::Closed,
        },
    );
    assert_eq!(log.inc(1).status, Status::Closed);

    log.ok("bob", declare("Checkout errors", 2));
    log.ok(
        "bob",
        Command::AddActionItem {
            incident: IncidentRef(2),
            text: "Add a pool alert".into(),
            owner: "carol".into(),
            due: chrono::NaiveDate::from_ymd_opt(2026, 3, 20),
        },
    );
    let id = log.inc(2).postmortem.action_items[0].id;
    let e = log.err(Command::UpdateActionItem {
        incident: IncidentRef(2),
        item: id + 100,
        text: None,
        owner: None,
        due: None,
        done: Some(true),
    });
    assert!(e.message.contains("has no action item"), "{e}");
    log.ok(
        "carol",
        Command::UpdateActionItem {
            incident: IncidentRef(2),
            item: id,
            text: None,
            owner: None,
            due: None,
            done: Some(true),
        },
    );
    let a = &log.inc(2).postmortem.action_items[0];
    assert!(a.done && a.done_at.is_some());
    assert_eq!(a.owner, "carol");
    let e = log.err(Command::SetWhys {
        incident: IncidentRef(2),
        whys: vec![crate::model::postmortem::Why {
            why: "".into(),
            because: "x".into(),
        }],
    });
    assert!(e.message.contains("why 1 is empty"), "{e}");
}

#[test]
fn accepting_a_handoff_records_it_everywhere_and_takes_the_ic_role() {
    let mut log = Log::new();
    log.ok("bob", declare("Checkout errors", 2));
    log.ok("bob", declare("Search slow", 3));
    log.ok(
        "bob",
        Command::AssignRole {
            incident: INC1,
            role: Role::IncidentCommander,
            person: "me".into(),
        },
    );
    log.ok("carol", Command::AcceptHandoff { from: "bob".into() });
    let one = log.inc(1);
    assert_eq!(one.roles[&Role::IncidentCommander], "carol");
    assert!(
        one.entries
            .iter()
            .any(|e| e.text == "handoff: carol takes over from bob, as incident commander")
    );
    let two = log.inc(2);
    assert!(!two.roles.contains_key(&Role::IncidentCommander));
    assert!(
        two.entries
            .iter()
            .any(|e| e.text == "handoff: carol takes over from bob")
    );
    let e = log.err(Command::AcceptHandoff { from: "".into() });
    assert!(e.message.contains("outgoing person is empty"), "{e}");
}

#[test]
fn a_status_update_may_promise_when_the_next_one_comes() {
    let mut log = Log::new();
    log.ok("alice", declare("Checkout errors", 2));
    log.apply_kind(EventKind::CadenceSet {
        incident: INC1,
        every_secs: Some(15 * 60),
    });
    let declared = log.inc(1).declared_at;
    assert_eq!(
        log.inc(1).next_update_due(),
        Some(declared + Duration::minutes(15))
    );
    let update = |next: Option<u64>| Command::AddEntry {
        incident: INC1,
        entry_kind: EntryKind::StatusUpdate,
        text: "Rolling back.".into(),
        occurred_at: None,
        next_update_secs: next,
        public: false,
        briefing: None,
    };
    log.ok("carol", update(Some(10 * 60)));
    let at = log.inc(1).last_status_update.unwrap();
    assert_eq!(
        log.inc(1).next_update_due(),
        Some(at + Duration::minutes(10))
    );
    // Without a promise, the policy's cadence counts again from the update.
    log.ok("carol", update(None));
    let at = log.inc(1).last_status_update.unwrap();
    assert_eq!(
        log.inc(1).next_update_due(),
        Some(at + Duration::minutes(15))
    );
    let e = log.err(update(Some(5)));
    assert!(e.message.contains("1 minute to 24 hours"), "{e}");
    let e = log.err(Command::AddEntry {
        incident: INC1,
        entry_kind: EntryKind::Note,
        text: "x".into(),
        occurred_at: None,
        next_update_secs: Some(600),
        public: false,
        briefing: None,
    });
    assert!(e.message.contains("status updates only"), "{e}");
}

#[test]
fn a_console_holds_a_summary_and_folds_what_follows_it() {
    let mut log = Log::new();
    log.ok("alice", declare("Checkout errors", 2));
    let first = log.ok("bob", note(1, "first look"))[0];
    let hypothesis = log.ok(
        "bob",
        Command::AddEntry {
            incident: INC1,
            entry_kind: EntryKind::Hypothesis,
            text: "pool exhausted".into(),
            occurred_at: None,
            next_update_secs: None,
            public: false,
            briefing: None,
        },
    )[0];
    for i in 0..30 {
        log.ok("bob", note(1, &format!("reading {i}")));
    }
    log.ok("carol", declare("Search slow", 3));
    let whole = log.inc(1).clone();
    // Five newest, plus the hypothesis; the rest elided.
    let s = whole.summary(5);
    assert_eq!(s.entries.len(), 6);
    assert_eq!(s.elided, whole.entries.len() as u64 - 6);
    assert!(s.entry(hypothesis).is_some() && s.entry(first).is_none());
    assert_eq!(
        Incident {
            entries: whole.entries.clone(),
            elided: 0,
            ..s.clone()
        },
        whole,
        "everything but the timeline is whole"
    );

    // A console's partial state: INC-1's summary, INC-2 not held.
    let mut console = State {
        seq: log.state.seq,
        incidents: [(1, s)].into(),
        partial: true,
        ..State::default()
    };
    let from = log.events.len();
    // A correction and a pin of an entry it does not hold, and news of one it does not hold.
    log.ok(
        "bob",
        Command::CorrectEntry {
            incident: INC1,
            entry: first,
            text: Some("first look: replica only".into()),
            entry_kind: None,
            occurred_at: None,
        },
    );
    log.ok(
        "bob",
        Command::PinEntry {
            incident: INC1,
            entry: first,
            pinned: true,
        },
    );
    log.ok("carol", note(2, "search index rebuilding"));
    log.ok("alice", Command::Acknowledge { incident: INC1 });
    for e in &log.events[from..] {
        console.apply(e).unwrap();
    }
    let held = console.incident(INC1).unwrap();
    assert!(held.is_acknowledged());
    assert_eq!(held.entries.last().unwrap().text, "acknowledged by alice");
    assert!(held.entries.iter().any(|e| e.supersedes == Some(first)));
    assert!(console.incident(IncidentRef(2)).is_none());
    assert_eq!(console.seq, log.state.seq);
    // The feed's own state is never partial: the same events about what it lacks are refused.
    let mut strict = State {
        incidents: [(1, whole.summary(5))].into(),
        seq: console.seq,
        ..State::default()
    };
    strict.incidents.get_mut(&1).unwrap().elided = 0;
    let ev = Event {
        seq: strict.seq + 1,
        at: log.now,
        actor: "bob".into(),
        kind: EventKind::EntryPinned {
            incident: INC1,
            entry: first,
            pinned: false,
        },
    };
    assert!(matches!(
        strict.apply(&ev),
        Err(ApplyError::UnknownEntry { .. })
    ));
    // Numbering goes on after incidents no longer held.
    let mut evicted = log.state.clone();
    evicted.incidents.clear();
    assert_eq!(evicted.next_reference(), IncidentRef(3));
}

#[test]
fn a_restricted_incident_works_from_the_security_runbook() {
    let rb = |name: &str, text: &str| runbook::parse_markdown(name, "built-in", text).unwrap();
    let runbooks: std::collections::BTreeMap<String, runbook::Runbook> = [
        (
            "payments".to_string(),
            rb("payments", "# Payments\n## Steps\n- one\n"),
        ),
        (
            runbook::SECURITY.to_string(),
            rb(
                runbook::SECURITY,
                "# Security\n## Containment\n- revoke\n## Legal and notification\n- counsel\n",
            ),
        ),
    ]
    .into();
    let policy = crate::model::policy::Policy::default_policy();
    let mut log = Log::new();
    let settle = |log: &mut Log| {
        for _ in 0..20 {
            match engine::next_event(&log.state, &policy, &runbooks, log.now) {
                Some(kind) => log.apply_kind(kind),
                None => return,
            }
        }
        panic!("the engine never settles");
    };
    log.ok("alice", declare("Checkout down", 2));
    settle(&mut log);
    assert_eq!(log.inc(1).runbook.as_ref().unwrap().name, "payments");
    log.apply_kind(EventKind::RunbookStepChecked {
        incident: INC1,
        item: 1,
        done: true,
    });
    // Restricted later: the checklist becomes the security runbook, nothing ticked.
    log.ok("alice", Command::Restrict { incident: INC1 });
    settle(&mut log);
    let inc = log.inc(1);
    assert_eq!(inc.runbook.as_ref().unwrap().name, runbook::SECURITY);
    assert!(inc.runbook_done.is_empty());
    assert!(
        inc.entries
            .iter()
            .any(|e| e.text.starts_with("runbook attached: Security"))
    );
    // Declared restricted: the security runbook from the start, not the service's.
    let mut secret = declare("Records copied", 1);
    if let Command::Declare { restricted, .. } = &mut secret {
        *restricted = true;
    }
    log.ok("alice", secret);
    settle(&mut log);
    assert_eq!(log.inc(2).runbook.as_ref().unwrap().name, runbook::SECURITY);
}
