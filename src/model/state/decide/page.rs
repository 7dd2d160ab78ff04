//! Deciding a page on demand: the one command that needs the feed's policy, to know whom
//! its target reaches now.

use chrono::{DateTime, Utc};

use crate::model::policy::Policy;
use crate::model::state::State;
use crate::model::validate::{self, MAX_ITEM, MAX_NAME};
use crate::model::{Command, EventKind, Rejection};

impl State {
    /// Decides a command with the feed's policy at hand: a page resolves its target (and
    /// lets the person paged into a restricted incident); every other command is
    /// [`State::decide`]'s.
    pub fn decide_with_policy(
        &self,
        actor: &str,
        now: DateTime<Utc>,
        cmd: &Command,
        policy: &Policy,
    ) -> Result<Vec<EventKind>, Rejection> {
        let Command::Page {
            incident,
            target,
            message,
        } = cmd
        else {
            return self.decide(actor, now, cmd);
        };
        let inc = self.existing(*incident)?;
        inc.ensure_writable()?;
        let r = inc.reference;
        if !inc.is_active() {
            return Err(Rejection::conflict(format!(
                "{r} is {}; pages are for active incidents",
                inc.status
            )));
        }
        let target = validate::text("target", target, MAX_NAME, false)?;
        let message = match message.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(m) => Some(validate::text("message", m, MAX_ITEM, false)?),
        };
        let person = policy
            .page_target(&target, inc.service.as_deref(), now)
            .map_err(|why| Rejection::invalid(format!("cannot page {target}: {why}")))?;
        let mut events = vec![EventKind::Paged {
            incident: r,
            target,
            person: person.clone(),
            message,
        }];
        // Whoever is paged about a restricted incident may see it and acknowledge.
        if inc.restricted && !inc.members.contains_key(&person) {
            events.push(EventKind::MemberAdded {
                incident: r,
                person,
            });
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};

    use crate::model::policy::Policy;
    use crate::model::{Command, Event, EventKind, IncidentRef, Severity, State};

    fn now() -> DateTime<Utc> {
        // Wednesday of priya's week (the rotation starts Monday 2026-11-02 09:00 UTC).
        Utc.with_ymd_and_hms(2026, 11, 4, 14, 0, 0).unwrap()
    }

    fn policy() -> Policy {
        Policy::parse(
            r#"
[targets]
db-lead = "lee"

[[schedule]]
name = "platform"
start = "2026-11-02"
primary = ["priya", "marco", "lee", "sam"]
"#,
        )
        .unwrap()
    }

    /// Decides with the policy and folds, like the feed.
    fn run(s: &mut State, actor: &str, cmd: Command) -> Result<Vec<EventKind>, String> {
        let kinds = s
            .decide_with_policy(actor, now(), &cmd, &policy())
            .map_err(|r| r.message)?;
        for k in &kinds {
            let ev = Event {
                seq: s.seq + 1,
                at: now(),
                actor: actor.into(),
                kind: k.clone(),
            };
            s.apply(&ev).unwrap();
        }
        Ok(kinds)
    }

    fn page(target: &str, message: Option<&str>) -> Command {
        Command::Page {
            incident: IncidentRef(1),
            target: target.into(),
            message: message.map(Into::into),
        }
    }

    fn declared(restricted: bool) -> State {
        let mut s = State::default();
        run(
            &mut s,
            "ana",
            Command::Declare {
                title: "Checkout errors".into(),
                severity: Severity::Sev1,
                service: Some("payments".into()),
                restricted,
                detected_by: None,
            },
        )
        .unwrap();
        s
    }

    #[test]
    fn a_page_on_demand_resolves_its_target_and_is_on_the_record() {
        let mut s = declared(false);
        let kinds = run(&mut s, "ana", page("platform.secondary", Some("DB pool?"))).unwrap();
        assert_eq!(
            kinds,
            [EventKind::Paged {
                incident: IncidentRef(1),
                target: "platform.secondary".into(),
                person: "marco".into(),
                message: Some("DB pool?".into()),
            }]
        );
        run(&mut s, "ana", page("db-lead", None)).unwrap();
        run(&mut s, "ana", page("sam", None)).unwrap();
        let inc = s.incident(IncidentRef(1)).unwrap();
        let who: Vec<(&str, &str)> = inc
            .pages
            .iter()
            .map(|p| (p.target.as_str(), p.person.as_str()))
            .collect();
        assert_eq!(
            who,
            [
                ("platform.secondary", "marco"),
                ("db-lead", "lee"),
                ("sam", "sam")
            ]
        );
        let text: Vec<&str> = inc.entries.iter().map(|e| e.text.as_str()).collect();
        assert!(
            text.contains(&"paged marco as platform.secondary (on demand, by ana): DB pool?"),
            "{text:?}"
        );
        // Deliveries are recorded against the page, as against a fired step.
        let seq = inc.pages[0].seq;
        let result = Event {
            seq: s.seq + 1,
            at: now(),
            actor: "warroom".into(),
            kind: EventKind::NotificationResult {
                incident: IncidentRef(1),
                step_seq: seq,
                person: "marco".into(),
                channel: "pager".into(),
                delivered: true,
                attempts: 1,
                detail: "command exit 0".into(),
            },
        };
        s.apply(&result).unwrap();
        let p = &s.incident(IncidentRef(1)).unwrap().pages[0];
        assert_eq!(p.deliveries, [("pager".to_string(), true)]);
    }

    #[test]
    fn a_page_names_what_it_cannot_reach() {
        let mut s = declared(false);
        let e = run(&mut s, "ana", page("bob", None)).unwrap_err();
        assert!(
            e.contains("the policy knows no \"bob\"") && e.contains("priya"),
            "{e}"
        );
        let e = run(&mut s, "ana", page("search.primary", None)).unwrap_err();
        assert!(e.contains("there is no schedule \"search\""), "{e}");
        let e = run(&mut s, "ana", page(" ", None)).unwrap_err();
        assert!(e.contains("target is empty"), "{e}");
        // Without the policy, nobody can say whom a page reaches.
        assert!(s.decide("ana", now(), &page("sam", None)).is_err());
        run(
            &mut s,
            "ana",
            Command::Resolve {
                incident: IncidentRef(1),
            },
        )
        .unwrap();
        let e = run(&mut s, "ana", page("sam", None)).unwrap_err();
        assert!(e.contains("pages are for active incidents"), "{e}");
    }

    #[test]
    fn the_person_paged_is_let_into_a_restricted_incident_and_acknowledges() {
        let mut s = declared(true);
        let kinds = run(&mut s, "ana", page("oncall.primary", None)).unwrap();
        assert_eq!(
            kinds[1],
            EventKind::MemberAdded {
                incident: IncidentRef(1),
                person: "priya".into()
            }
        );
        // priya acknowledges: the incident and her page.
        let kinds = run(
            &mut s,
            "priya",
            Command::Acknowledge {
                incident: IncidentRef(1),
            },
        )
        .unwrap();
        assert!(matches!(kinds[0], EventKind::Acknowledged { .. }));
        assert!(matches!(kinds[1], EventKind::PageAcknowledged { .. }));
        // Paged later, with the incident acknowledged already: her page only.
        run(&mut s, "ana", page("sam", None)).unwrap();
        let ack = Command::Acknowledge {
            incident: IncidentRef(1),
        };
        let kinds = run(&mut s, "sam", ack.clone()).unwrap();
        assert!(
            matches!(kinds[..], [EventKind::PageAcknowledged { .. }]),
            "{kinds:?}"
        );
        let inc = s.incident(IncidentRef(1)).unwrap();
        assert!(inc.pages.iter().all(|p| p.acknowledged_at.is_some()));
        assert_eq!(inc.acknowledged_by.as_deref(), Some("priya"));
        assert!(
            inc.entries
                .iter()
                .any(|e| e.text == "sam acknowledged the page")
        );
        // Nothing left to acknowledge.
        let e = run(&mut s, "sam", ack).unwrap_err();
        assert!(e.contains("already acknowledged by priya"), "{e}");
    }
}
