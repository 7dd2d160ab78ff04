//! The follow-through the seed guide asks for: recovery verified before resolving, the
//! post-mortem's deadline, owned and dated action items, where an incident was detected.

use chrono::{DateTime, TimeZone, Utc};

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 2, 0, 0).unwrap()
}

const INC1: IncidentRef = IncidentRef(1);

/// Decides and folds like the server does.
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

    fn inc(&self) -> &Incident {
        self.state.incident(INC1).unwrap()
    }

    fn declared(mut self) -> Self {
        self.ok(
            "alice",
            Command::Declare {
                title: "Checkout down".into(),
                severity: Severity::Sev1,
                service: Some("payments".into()),
                restricted: false,
                detected_by: None,
            },
        );
        self
    }
}

#[test]
fn resolving_with_the_verification_answer_puts_it_on_the_record() {
    for (verified, says) in [
        (true, "recovery verified by alice before resolving"),
        (false, "resolved by alice without verifying recovery"),
    ] {
        let mut log = Log::new().declared();
        let seqs = log.ok(
            "alice",
            Command::ResolveChecked {
                incident: INC1,
                verified,
            },
        );
        assert_eq!(seqs.len(), 2, "the answer, then the resolution");
        let kinds: Vec<&str> = log.events[1..].iter().map(|e| e.kind.name()).collect();
        assert_eq!(kinds, ["recovery_checked", "resolved"]);
        let i = log.inc();
        assert_eq!(i.status, Status::Resolved);
        assert!(
            i.entries
                .iter()
                .any(|e| e.kind == EntryKind::Milestone && e.text.starts_with(says)),
            "{:?}",
            i.entries
        );
        // Refused like a plain resolve once resolved; the answer is not recorded twice.
        let e = log
            .run(
                "alice",
                Command::ResolveChecked {
                    incident: INC1,
                    verified,
                },
            )
            .unwrap_err();
        assert_eq!(e.code, RejectCode::Conflict);
        // Old logs fold: the event as JSON round-trips.
        let json = serde_json::to_value(&log.events[1]).unwrap();
        assert_eq!(json["verified"], verified);
        assert_eq!(State::from_events(&log.events).unwrap(), log.state);
    }
}

impl Log {
    fn resolved_with_postmortem(mut self) -> Self {
        self.ok(
            "alice",
            Command::ResolveChecked {
                incident: INC1,
                verified: true,
            },
        );
        self.ok(
            "alice",
            Command::EditPostmortem {
                incident: INC1,
                section: PmSection::Summary,
                text: "The pool ran dry.".into(),
            },
        );
        self.ok(
            "alice",
            Command::AddActionItem {
                incident: INC1,
                text: "Alert on pool use".into(),
                owner: "bob".into(),
                due: chrono::NaiveDate::from_ymd_opt(2026, 3, 20),
            },
        );
        self
    }
}

#[test]
fn the_postmortem_is_due_48_hours_after_resolution_and_done_on_time_or_late() {
    let mut log = Log::new().declared();
    assert_eq!(log.inc().postmortem_due_at(), None, "active: nothing due");
    let e = log
        .run("alice", Command::CompletePostmortem { incident: INC1 })
        .unwrap_err();
    assert!(e.message.contains("held after it is resolved"), "{e}");
    log.now += chrono::Duration::minutes(30);
    let resolved_at = log.now;
    let mut log = log.resolved_with_postmortem();
    let due = resolved_at + chrono::Duration::hours(48);
    assert_eq!(log.inc().postmortem_due_at(), Some(due));
    assert_eq!(log.inc().postmortem_owed_by(), Some(due));
    assert_eq!(log.inc().postmortem_on_time(), None);
    let mut late = Log {
        state: log.state.clone(),
        events: log.events.clone(),
        now: due + chrono::Duration::minutes(1),
    };
    log.now = due;
    log.ok("carol", Command::CompletePostmortem { incident: INC1 });
    let i = log.inc();
    assert_eq!(i.postmortem.completed_by.as_deref(), Some("carol"));
    assert_eq!(i.postmortem_owed_by(), None);
    assert_eq!(i.postmortem_on_time(), Some(true));
    assert!(
        i.entries
            .iter()
            .any(|e| e.text == "post-mortem done, on time (due 2026-03-12 02:30 UTC)"),
        "{:?}",
        i.entries
    );
    let e = log
        .run("carol", Command::CompletePostmortem { incident: INC1 })
        .unwrap_err();
    assert!(e.message.contains("already marked done"), "{e}");
    late.ok("carol", Command::CompletePostmortem { incident: INC1 });
    assert_eq!(late.inc().postmortem_on_time(), Some(false));
    assert_eq!(State::from_events(&late.events).unwrap(), late.state);

    // Closing marks it done too; a waived one is never due.
    let mut closed = Log::new().declared().resolved_with_postmortem();
    closed.ok(
        "alice",
        Command::SetStatus {
            incident: INC1,
            status: Status::Closed,
        },
    );
    assert_eq!(closed.inc().postmortem_on_time(), Some(true));
    let mut waived = Log::new().declared();
    waived.ok("alice", Command::Resolve { incident: INC1 });
    waived.ok(
        "alice",
        Command::WaivePostmortem {
            incident: INC1,
            reason: "a false alarm".into(),
        },
    );
    assert_eq!(waived.inc().postmortem_due_at(), None);
    let e = waived
        .run("alice", Command::CompletePostmortem { incident: INC1 })
        .unwrap_err();
    assert!(e.message.contains("waived"), "{e}");
    // Not written yet: refused with what it lacks.
    let mut bare = Log::new().declared();
    bare.ok("alice", Command::Resolve { incident: INC1 });
    let e = bare
        .run("alice", Command::CompletePostmortem { incident: INC1 })
        .unwrap_err();
    assert!(e.message.contains("needs a summary"), "{e}");
}

#[test]
fn an_action_item_needs_a_due_date() {
    let mut log = Log::new().declared();
    let e = log
        .run(
            "alice",
            Command::AddActionItem {
                incident: INC1,
                text: "Be more careful".into(),
                owner: "bob".into(),
                due: None,
            },
        )
        .unwrap_err();
    assert_eq!(e.code, RejectCode::Invalid);
    assert!(e.message.contains("needs a due date"), "{e}");
}

#[test]
fn a_service_without_a_runbook_suggests_writing_one() {
    let mut log = Log::new().declared();
    assert_eq!(
        log.inc().suggested_action_items(),
        ["write a runbook for payments"]
    );
    log.ok(
        "alice",
        Command::AddActionItem {
            incident: INC1,
            text: "Write the payments runbook".into(),
            owner: "bob".into(),
            due: chrono::NaiveDate::from_ymd_opt(2026, 3, 20),
        },
    );
    assert!(log.inc().suggested_action_items().is_empty(), "taken up");
    let runbook = super::runbook::parse_markdown(
        "payments",
        "built-in",
        "# Payments\n## Diagnostic steps\n- look\n",
    )
    .unwrap();
    let mut log = Log::new().declared();
    let ev = Event {
        seq: log.state.seq + 1,
        at: log.now,
        actor: "warroom".into(),
        kind: EventKind::RunbookAttached {
            incident: INC1,
            runbook,
        },
    };
    log.state.apply(&ev).unwrap();
    assert!(log.inc().suggested_action_items().is_empty(), "it has one");
}

#[test]
fn triage_records_who_found_it_and_whether_it_grows() {
    let mut log = Log::new().declared();
    assert_eq!(
        log.inc().detected_by,
        None,
        "declared by a person: not recorded"
    );
    let e = log
        .run(
            "alice",
            Command::Triage {
                incident: INC1,
                detected_by: None,
                impact_growing: None,
                workaround: None,
            },
        )
        .unwrap_err();
    assert_eq!(e.code, RejectCode::Invalid);
    log.ok(
        "alice",
        Command::Triage {
            incident: INC1,
            detected_by: Some(Detection::Customer),
            impact_growing: Some(true),
            workaround: Some(false),
        },
    );
    let i = log.inc();
    assert_eq!(i.detected_by, Some(Detection::Customer));
    assert_eq!((i.impact_growing, i.workaround), (Some(true), Some(false)));
    assert!(
        i.entries
            .iter()
            .any(|e| e.text == "triage: detected by customer, impact growing, no workaround")
    );
    // Only what changes is recorded; nothing new is a conflict.
    log.ok(
        "alice",
        Command::Triage {
            incident: INC1,
            detected_by: Some(Detection::Customer),
            impact_growing: Some(false),
            workaround: None,
        },
    );
    assert_eq!(
        serde_json::to_value(&log.events.last().unwrap().kind).unwrap(),
        serde_json::json!({"kind": "triaged", "incident": "INC-1", "impact_growing": false})
    );
    let e = log
        .run(
            "alice",
            Command::Triage {
                incident: INC1,
                detected_by: Some(Detection::Customer),
                impact_growing: None,
                workaround: None,
            },
        )
        .unwrap_err();
    assert_eq!(e.code, RejectCode::Conflict);
    // An alert opened it: monitoring found it (old logs fold the same).
    let mut state = State::default();
    state
        .apply(&Event {
            seq: 1,
            at: t0(),
            actor: "alertmanager".into(),
            kind: EventKind::Declared {
                incident: INC1,
                title: "Burn rate".into(),
                service: None,
                severity: Severity::Sev2,
                restricted: false,
                alert_key: Some("k".into()),
            },
        })
        .unwrap();
    assert_eq!(
        state.incident(INC1).unwrap().detected_by,
        Some(Detection::Monitoring)
    );
}

#[test]
fn a_declaration_may_say_who_found_it_in_the_same_command() {
    let mut log = Log::new();
    let wire =
        r#"{"op": "declare", "title": "Checkout down", "severity": 2, "detected_by": "customer"}"#;
    let cmd: Command = serde_json::from_str(wire).unwrap();
    let seqs = log.ok("alice", cmd);
    assert_eq!(seqs, [1, 2], "declared, then triaged, from one command");
    assert!(matches!(log.events[0].kind, EventKind::Declared { .. }));
    assert_eq!(
        serde_json::to_value(&log.events[1].kind).unwrap(),
        serde_json::json!({"kind": "triaged", "incident": "INC-1", "detected_by": "customer"})
    );
    assert_eq!(log.inc().detected_by, Some(Detection::Customer));
    // Left out, nothing more than the declaration (old commands decide the same).
    let old: Command =
        serde_json::from_str(r#"{"op": "declare", "title": "Search slow", "severity": 3}"#)
            .unwrap();
    assert_eq!(log.ok("alice", old), [3]);
    assert_eq!(
        log.state.incident(IncidentRef(2)).unwrap().detected_by,
        None
    );
}

#[test]
fn a_ticket_reference_is_folded_into_its_action_item_and_kept() {
    let mut log = Log::new().declared();
    let due = chrono::NaiveDate::from_ymd_opt(2026, 3, 24);
    let item = log.ok(
        "alice",
        Command::AddActionItem {
            incident: INC1,
            text: "Alert on pool saturation".into(),
            owner: "bob".into(),
            due,
        },
    )[0];
    assert_eq!(
        log.inc().postmortem.item(item).unwrap().added_at,
        Some(t0())
    );
    let ticketed = |item: u64| Event {
        seq: 0,
        at: t0(),
        actor: "warroom".into(),
        kind: EventKind::ActionItemTicketed {
            incident: INC1,
            item,
            reference: "OPS-123".into(),
            url: Some("https://tracker.example.com/OPS-123".into()),
        },
    };
    let mut ev = ticketed(item);
    ev.seq = log.state.seq + 1;
    log.state.apply(&ev).unwrap();
    log.events.push(ev);
    // Marked done later: the ticket stays.
    log.ok(
        "bob",
        Command::UpdateActionItem {
            incident: INC1,
            item,
            text: None,
            owner: None,
            due: None,
            done: Some(true),
        },
    );
    let a = log.inc().postmortem.item(item).unwrap();
    assert_eq!(a.ticket.as_ref().unwrap().reference, "OPS-123");
    assert!(a.done);
    assert!(
        log.inc()
            .entries
            .iter()
            .any(|e| e.text == format!("action item #{item} ticketed: OPS-123"))
    );
    assert_eq!(State::from_events(&log.events).unwrap(), log.state);
    // A ticket for an item the incident does not have does not fold.
    let mut stray = ticketed(999);
    stray.seq = log.state.seq + 1;
    assert!(log.state.clone().apply(&stray).is_err());
}
