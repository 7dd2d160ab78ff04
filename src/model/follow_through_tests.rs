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
