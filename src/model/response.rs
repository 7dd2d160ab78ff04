//! The response target: how soon an incident of each severity must be acknowledged (SEV1
//! within 5 minutes, SEV2 15, SEV3 60, SEV4 none), counted from its detection, and where an
//! incident stands against it as of `now`. The console's board and room, and anything else
//! that says "late", read it from here so they never disagree.

use chrono::{DateTime, Utc};

use super::{Incident, Milestone};

/// Where an incident stands against its severity's response target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    /// The severity has no response target (SEV4).
    NoTarget,
    /// Acknowledged `took_secs` after detection, within the target.
    Met { target_mins: u32, took_secs: i64 },
    /// Acknowledged `took_secs` after detection, later than the target.
    Missed { target_mins: u32, took_secs: i64 },
    /// Resolved or closed without ever being acknowledged.
    NeverAcknowledged { target_mins: u32 },
    /// Active and not acknowledged yet: waiting for `waited_secs` since detection, with
    /// `left_secs` until the target (negative: overdue by that much).
    Waiting {
        target_mins: u32,
        waited_secs: i64,
        left_secs: i64,
    },
}

impl Response {
    /// Waiting past the target: nobody acknowledged in time and nobody has yet.
    pub fn is_overdue(&self) -> bool {
        matches!(self, Response::Waiting { left_secs, .. } if *left_secs < 0)
    }
}

impl Incident {
    /// When the response target counts from: the detection milestone (set at declaration,
    /// movable), else the declaration.
    pub fn detected_at(&self) -> DateTime<Utc> {
        self.milestones
            .get(&Milestone::Detected)
            .copied()
            .unwrap_or(self.declared_at)
    }

    /// Where this incident stands against its response target as of `now`. The first
    /// acknowledgement counts (the `acknowledged` milestone), so an acknowledgement that
    /// lapsed later does not make a met target missed.
    pub fn response(&self, now: DateTime<Utc>) -> Response {
        let Some(target_mins) = self.severity.target_response_minutes() else {
            return Response::NoTarget;
        };
        let detected = self.detected_at();
        let target_secs = i64::from(target_mins) * 60;
        match self.milestones.get(&Milestone::Acknowledged) {
            Some(ack) => {
                let took_secs = (*ack - detected).num_seconds();
                if took_secs <= target_secs {
                    Response::Met {
                        target_mins,
                        took_secs,
                    }
                } else {
                    Response::Missed {
                        target_mins,
                        took_secs,
                    }
                }
            }
            None if !self.is_active() => Response::NeverAcknowledged { target_mins },
            None => {
                let waited_secs = (now - detected).num_seconds().max(0);
                Response::Waiting {
                    target_mins,
                    waited_secs,
                    left_secs: target_secs - waited_secs,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Command, Event, Severity, State};
    use chrono::{Duration, TimeZone};

    fn declared(sev: u8) -> (State, DateTime<Utc>) {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 10, 2, 0, 0).unwrap();
        let mut s = State::default();
        let cmd = Command::Declare {
            title: "x".into(),
            severity: Severity::try_from(sev).unwrap(),
            service: None,
            restricted: false,
            detected_by: None,
        };
        for (i, kind) in s.decide("a", t0, &cmd).unwrap().into_iter().enumerate() {
            let e = Event {
                seq: i as u64 + 1,
                at: t0,
                actor: "a".into(),
                kind,
            };
            s.apply(&e).unwrap();
        }
        (s, t0)
    }

    #[test]
    fn the_target_counts_from_detection_not_from_the_last_page() {
        let (s, t0) = declared(1);
        let inc = s.incidents.values().next().unwrap();
        let r = inc.response(t0 + Duration::seconds(420));
        assert_eq!(
            r,
            Response::Waiting {
                target_mins: 5,
                waited_secs: 420,
                left_secs: -120
            }
        );
        assert!(r.is_overdue());
        assert!(!inc.response(t0 + Duration::seconds(60)).is_overdue());
        let (s, t0) = declared(4);
        let inc = s.incidents.values().next().unwrap();
        assert_eq!(inc.response(t0), Response::NoTarget);
    }
}
