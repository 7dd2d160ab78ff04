//! Need to know: who may see a restricted incident, and what everyone else receives
//! instead. The server judges every event, snapshot and resume by these rules before it
//! leaves; the console folds what it was given, `withheld` events included.

use chrono::{DateTime, Duration, Utc};

use super::{Event, EventKind, Incident, IncidentRef, Milestone, State};

/// Hours from detection within which a personal-data breach must be reported (GDPR
/// article 33; the seed guide's "72 hours under GDPR").
pub const BREACH_NOTICE_HOURS: i64 = 72;

/// The actor shown on a withheld event (the real one is part of what is withheld).
pub const WITHHELD_ACTOR: &str = "warroom";

/// Who is reading: a person, and whether they see every incident (admins).
#[derive(Debug, Clone, Copy)]
pub struct Viewer<'a> {
    pub name: &'a str,
    pub sees_all: bool,
}

impl Incident {
    /// Whether `v` may receive this incident's content.
    pub fn visible_to(&self, v: Viewer<'_>) -> bool {
        !self.restricted || v.sees_all || self.members.contains_key(v.name)
    }

    /// A restricted (security) incident's breach-notification deadline: 72 hours from
    /// detection (the `detected` milestone, so a corrected detection time moves it).
    pub fn breach_notice_due(&self) -> Option<DateTime<Utc>> {
        if !self.restricted {
            return None;
        }
        let detected = self
            .milestones
            .get(&Milestone::Detected)
            .copied()
            .unwrap_or(self.declared_at);
        Some(detected + Duration::hours(BREACH_NOTICE_HOURS))
    }
}

impl State {
    /// Whether `v` may receive incident `r`'s content. An incident this state does not
    /// hold is not shown (judging fails closed).
    pub fn may_see(&self, r: IncidentRef, v: Viewer<'_>) -> bool {
        self.incident(r).is_some_and(|i| i.visible_to(v))
    }

    /// This state as `v` may receive it: the restricted incidents `v` may not see are
    /// reduced to their references.
    pub fn view_for(&self, v: Viewer<'_>) -> State {
        if v.sees_all {
            return self.clone();
        }
        let mut out = State {
            seq: self.seq,
            incidents: Default::default(),
            withheld: self.withheld.clone(),
            next_ref: self.next_ref,
            partial: self.partial,
            feed: self.feed.clone(),
        };
        for (n, i) in &self.incidents {
            if i.visible_to(v) {
                out.incidents.insert(*n, i.clone());
            } else {
                out.withheld.insert(i.reference);
            }
        }
        out
    }

    /// What a console joining as `v` is sent: this state as `v` may receive it, each
    /// incident as a [`summary`](Incident::summary) with its newest `keep` entries; a
    /// partial state.
    pub fn board_view(&self, v: Viewer<'_>, keep: usize) -> State {
        let mut out = State {
            seq: self.seq,
            incidents: Default::default(),
            withheld: self.withheld.clone(),
            next_ref: self.next_ref,
            partial: true,
            feed: self.feed.clone(),
        };
        for (n, i) in &self.incidents {
            if i.visible_to(v) {
                out.incidents.insert(*n, i.summary(keep));
            } else {
                out.withheld.insert(i.reference);
            }
        }
        out
    }

    /// The event as `v` may receive it, judged by this (current) state's membership. A
    /// feed-level event (a deploy, an alert noted for the digest) is everyone's.
    pub fn event_for(&self, ev: &Event, v: Viewer<'_>) -> Event {
        if ev.kind.incident().is_none_or(|r| self.may_see(r, v)) {
            ev.clone()
        } else {
            withheld(ev)
        }
    }

    /// Whether a reader of `v`'s who holds the feed up to `from` may lack an incident `v`
    /// can now see (it was added to the members after `from`), so must be sent a snapshot
    /// rather than the events since `from`. A reader starting from nothing never does.
    pub fn resume_needs_snapshot(&self, v: Viewer<'_>, from: u64) -> bool {
        from > 0
            && !v.sees_all
            && self
                .incidents
                .values()
                .any(|i| i.restricted && i.members.get(v.name).is_some_and(|since| *since > from))
    }
}

/// A person paged about a restricted incident must be able to see it and acknowledge it:
/// after a fired step (already folded into `state`) pages someone who is not a member,
/// the event that lets them in. (The policy that pages them is the admins' to write; the
/// page itself carries no title.)
pub fn let_in_paged(state: &State, fired: &EventKind) -> Option<EventKind> {
    let EventKind::StepFired {
        incident,
        person: Some(person),
        ..
    } = fired
    else {
        return None;
    };
    let inc = state.incident(*incident)?;
    (inc.restricted && !inc.members.contains_key(person)).then(|| EventKind::MemberAdded {
        incident: *incident,
        person: person.clone(),
    })
}

/// What a reader who may not see `ev`'s incident receives in its place. (A feed-level
/// event is never withheld: everyone may have it.)
pub fn withheld(ev: &Event) -> Event {
    let Some(incident) = ev.kind.incident() else {
        return ev.clone();
    };
    Event {
        seq: ev.seq,
        at: ev.at,
        actor: WITHHELD_ACTOR.to_string(),
        kind: EventKind::Withheld { incident },
    }
}

/// Who, after `ev` was folded into `state`, may receive it: `None` when its incident is
/// not restricted (everyone); otherwise its members, and the person this event added (who
/// must be sent the whole incident, having held only its reference).
pub fn audience(state: &State, ev: &Event) -> Option<Audience> {
    let inc = state.incident(ev.kind.incident()?)?;
    if !inc.restricted {
        return None;
    }
    let joined = match &ev.kind {
        EventKind::MemberAdded { person, .. } => Some(person.clone()),
        _ => None,
    };
    Some(Audience {
        members: inc.members.keys().cloned().collect(),
        joined,
    })
}

/// The readers of one event of a restricted incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Audience {
    pub members: std::collections::BTreeSet<String>,
    pub joined: Option<String>,
}

/// What one reader gets of one event of a restricted incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The event itself.
    Event,
    /// The `withheld` stand-in.
    Withheld,
    /// The reader was just let in: a snapshot, which holds the whole incident.
    Snapshot,
}

impl Audience {
    pub fn delivery(&self, v: Viewer<'_>) -> Delivery {
        if v.sees_all {
            Delivery::Event
        } else if self.joined.as_deref() == Some(v.name) {
            Delivery::Snapshot
        } else if self.members.contains(v.name) {
            Delivery::Event
        } else {
            Delivery::Withheld
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Command, Severity};

    fn at(min: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::minutes(min)
    }

    /// Decides and folds `cmd` as `actor`.
    fn run(s: &mut State, actor: &str, cmd: Command) -> Vec<Event> {
        let kinds = s.decide(actor, at(s.seq as i64), &cmd).expect("decided");
        let mut out = Vec::new();
        for kind in kinds {
            let ev = Event {
                seq: s.seq + 1,
                at: at(s.seq as i64),
                actor: actor.into(),
                kind,
            };
            s.apply(&ev).expect("folds");
            out.push(ev);
        }
        out
    }

    fn declare(restricted: bool) -> Command {
        Command::Declare {
            title: "Leaked credentials in the public bucket".into(),
            severity: Severity::Sev1,
            service: None,
            restricted,
            detected_by: None,
        }
    }

    const ANA: Viewer = Viewer {
        name: "ana",
        sees_all: false,
    };
    const BOB: Viewer = Viewer {
        name: "bob",
        sees_all: false,
    };
    const ADMIN: Viewer = Viewer {
        name: "root",
        sees_all: true,
    };

    #[test]
    fn a_non_member_holds_only_the_reference_and_a_member_added_later_gets_it_all() {
        let mut server = State::default();
        let mut bob = State::default();
        let feed = |server: &mut State, bob: &mut State, evs: Vec<Event>| {
            for ev in evs {
                let got = match audience(server, &ev).map(|a| a.delivery(BOB)) {
                    None | Some(Delivery::Event) => ev.clone(),
                    Some(Delivery::Withheld) => withheld(&ev),
                    Some(Delivery::Snapshot) => {
                        *bob = server.view_for(BOB);
                        continue;
                    }
                };
                bob.apply(&got).expect("bob's fold stays whole");
            }
        };
        let evs = run(&mut server, "ana", declare(true));
        feed(&mut server, &mut bob, evs);
        let r = IncidentRef(1);
        assert!(bob.incident(r).is_none());
        assert!(bob.withheld.contains(&r));
        assert_eq!(bob.seq, 1);
        let evs = run(
            &mut server,
            "ana",
            Command::AddMember {
                incident: r,
                person: "bob".into(),
            },
        );
        feed(&mut server, &mut bob, evs);
        assert_eq!(bob, server.view_for(BOB));
        assert!(bob.incident(r).is_some_and(|i| i.title.contains("Leaked")));
        let evs = run(
            &mut server,
            "ana",
            Command::RemoveMember {
                incident: r,
                person: "bob".into(),
            },
        );
        feed(&mut server, &mut bob, evs);
        assert!(bob.incident(r).is_none() && bob.withheld.contains(&r));
        assert_eq!(bob, server.view_for(BOB));
    }

    #[test]
    fn restricting_later_keeps_the_role_holders_and_the_restricter() {
        let mut s = State::default();
        run(&mut s, "ana", declare(false));
        let r = IncidentRef(1);
        run(
            &mut s,
            "ana",
            Command::AssignRole {
                incident: r,
                role: crate::model::Role::TechLead,
                person: "carol".into(),
            },
        );
        assert!(s.may_see(r, BOB));
        run(&mut s, "ana", Command::Restrict { incident: r });
        let inc = s.incident(r).unwrap();
        assert_eq!(
            inc.members.keys().collect::<Vec<_>>(),
            ["ana", "carol"].iter().collect::<Vec<_>>()
        );
        assert!(!s.may_see(r, BOB) && s.may_see(r, ANA) && s.may_see(r, ADMIN));
        // The members who could see it before keep their resumes; nobody needs a snapshot.
        assert!(!s.resume_needs_snapshot(ANA, 1));
        // A role goes only to a member.
        let err = s
            .decide(
                "ana",
                at(9),
                &Command::AssignRole {
                    incident: r,
                    role: crate::model::Role::Scribe,
                    person: "bob".into(),
                },
            )
            .unwrap_err();
        assert!(err.message.contains("not a member"), "{err}");
    }

    #[test]
    fn a_resume_from_before_being_added_needs_a_snapshot() {
        let mut s = State::default();
        run(&mut s, "ana", declare(true));
        run(
            &mut s,
            "ana",
            Command::AddMember {
                incident: IncidentRef(1),
                person: "bob".into(),
            },
        );
        assert!(s.resume_needs_snapshot(BOB, 1));
        assert!(!s.resume_needs_snapshot(BOB, 2));
        assert!(!s.resume_needs_snapshot(BOB, 0));
        assert!(!s.resume_needs_snapshot(ADMIN, 1));
    }

    #[test]
    fn a_person_paged_about_a_restricted_incident_is_let_in_once() {
        let mut s = State::default();
        run(&mut s, "ana", declare(true));
        let fired_on = |n: u32, person: &str| EventKind::StepFired {
            incident: IncidentRef(n),
            run: 1,
            round: 1,
            step: 0,
            action: crate::model::StepAction::Page,
            target: "oncall.primary".into(),
            person: Some(person.into()),
            due_at: at(0),
            late: false,
        };
        let fired = |person: &str| fired_on(1, person);
        assert_eq!(
            let_in_paged(&s, &fired("sam")),
            Some(EventKind::MemberAdded {
                incident: IncidentRef(1),
                person: "sam".into()
            })
        );
        // A member already, or an incident everyone sees: nothing to do.
        assert_eq!(let_in_paged(&s, &fired("ana")), None);
        run(&mut s, "ana", declare(false));
        assert_eq!(let_in_paged(&s, &fired_on(2, "sam")), None);
    }

    #[test]
    fn the_breach_deadline_is_72_hours_from_detection() {
        let mut s = State::default();
        run(&mut s, "ana", declare(true));
        run(&mut s, "ana", declare(false));
        let i = s.incident(IncidentRef(1)).unwrap();
        assert_eq!(i.breach_notice_due(), Some(at(0) + Duration::hours(72)));
        assert_eq!(
            s.incident(IncidentRef(2)).unwrap().breach_notice_due(),
            None
        );
        run(
            &mut s,
            "ana",
            Command::SetMilestone {
                incident: IncidentRef(1),
                milestone: Milestone::Detected,
                occurred_at: Some(at(-30)),
            },
        );
        let i = s.incident(IncidentRef(1)).unwrap();
        assert_eq!(i.breach_notice_due(), Some(at(-30) + Duration::hours(72)));
    }

    #[test]
    fn membership_commands_explain_themselves() {
        let mut s = State::default();
        run(&mut s, "ana", declare(false));
        let r = IncidentRef(1);
        let add = Command::AddMember {
            incident: r,
            person: "bob".into(),
        };
        let e = s.decide("ana", at(1), &add).unwrap_err();
        assert!(e.message.contains("not restricted"), "{e}");
        run(&mut s, "ana", Command::Restrict { incident: r });
        let e = s
            .decide("ana", at(1), &Command::Restrict { incident: r })
            .unwrap_err();
        assert!(e.message.contains("already restricted"), "{e}");
        run(&mut s, "ana", add.clone());
        let e = s.decide("ana", at(1), &add).unwrap_err();
        assert!(e.message.contains("already a member"), "{e}");
        let e = s
            .decide(
                "ana",
                at(1),
                &Command::RemoveMember {
                    incident: r,
                    person: "zed".into(),
                },
            )
            .unwrap_err();
        assert!(e.message.contains("zed is not a member"), "{e}");
        let timeline: Vec<String> = s
            .incident(r)
            .unwrap()
            .entries
            .iter()
            .map(|e| e.text.clone())
            .collect();
        assert!(timeline.iter().any(|t| t.starts_with("restricted")));
        assert!(timeline.iter().any(|t| t == "bob added to the members"));
        // Taken off the members, bob gives up the roles he held there.
        run(
            &mut s,
            "ana",
            Command::AssignRole {
                incident: r,
                role: crate::model::Role::Scribe,
                person: "bob".into(),
            },
        );
        let evs = run(
            &mut s,
            "ana",
            Command::RemoveMember {
                incident: r,
                person: "bob".into(),
            },
        );
        assert_eq!(evs.len(), 2, "{evs:?}");
        let inc = s.incident(r).unwrap();
        assert!(!inc.roles.contains_key(&crate::model::Role::Scribe));
        assert!(!inc.members.contains_key("bob"));
    }
}
