//! The live work and the archive: which incidents a feed keeps in memory and sends on a
//! join (active ones, and those whose last event is within the recent window), dropping the
//! others from a state, folding one archived incident back from its own events, and the
//! newest page of a timeline.

use chrono::{DateTime, Utc};

use super::{ApplyError, Incident, State};
use crate::model::Event;

/// How long a resolved or closed incident stays in the live work after its last event, by
/// default: a week.
pub const DEFAULT_RECENT_SECS: u64 = 7 * 86_400;

impl Incident {
    /// Whether this incident is part of the live work at `now`: active, or its last event
    /// less than `recent_secs` ago. Otherwise it is archived: on disk, found by search.
    pub fn is_live(&self, now: DateTime<Utc>, recent_secs: u64) -> bool {
        self.is_active() || now - self.updated_at < crate::model::escalation::secs(recent_secs)
    }

    /// A copy with only the newest `limit` entries (a contiguous page: everything older is
    /// counted in `elided`, and fetched a page at a time before the oldest one held).
    pub fn newest(&self, limit: usize) -> Incident {
        let n = self.entries.len();
        let from = n.saturating_sub(limit);
        Incident {
            elided: self.elided + from as u64,
            entries: self.entries[from..].to_vec(),
            ..self.clone_without_entries()
        }
    }

    /// The newest `limit` entries older than entry `before` (id order), and whether older
    /// ones remain.
    pub fn entries_before(&self, before: u64, limit: usize) -> (&[super::Entry], bool) {
        let end = self.entries.partition_point(|e| e.id < before);
        let start = end.saturating_sub(limit);
        (&self.entries[start..end], start > 0 || self.elided > 0)
    }
}

impl State {
    /// Takes out the incidents archived at `now` (see [`Incident::is_live`]) and returns
    /// them. `next_ref` keeps the numbering.
    pub fn evict_archived(&mut self, now: DateTime<Utc>, recent_secs: u64) -> Vec<Incident> {
        let gone: Vec<u32> = self
            .incidents
            .values()
            .filter(|i| !i.is_live(now, recent_secs))
            .map(|i| i.reference.0)
            .collect();
        if let Some(highest) = self.incidents.keys().next_back() {
            self.next_ref = self.next_ref.max(highest.saturating_add(1));
        }
        gone.iter()
            .filter_map(|n| self.incidents.remove(n))
            .collect()
    }

    /// Puts an incident folded elsewhere (an archived one coming back) into this state.
    pub fn insert_incident(&mut self, incident: Incident) {
        self.next_ref = self.next_ref.max(incident.reference.0.saturating_add(1));
        self.incidents.insert(incident.reference.0, incident);
    }
}

/// Folds one incident from its own events (in seq order; the log's other events between
/// them do not touch it). `None` when there are none. The same fold as a whole log's: an
/// event of one incident only ever changes that incident.
pub fn fold_incident<'a>(
    events: impl IntoIterator<Item = &'a Event>,
) -> Result<Option<Incident>, ApplyError> {
    let mut state = State::default();
    let mut only = None;
    for e in events {
        let r = e
            .kind
            .incident()
            .ok_or(ApplyError::NotAnIncidents { seq: e.seq })?;
        if *only.get_or_insert(r) != r {
            return Err(ApplyError::UnknownIncident {
                seq: e.seq,
                incident: r,
            });
        }
        // The log's other events lie between these: as far as this incident is concerned,
        // each is the next.
        state.seq = e.seq.saturating_sub(1);
        state.apply(e)?;
    }
    Ok(only.and_then(|r| state.incidents.remove(&r.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Command, IncidentRef, Severity, Status};
    use chrono::{Duration, TimeZone};

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap() + Duration::minutes(min)
    }

    /// Decides and folds `cmd` as `actor` at minute `min`; returns the events.
    fn run(s: &mut State, log: &mut Vec<Event>, min: i64, cmd: Command) {
        for kind in s.decide("ana", t(min), &cmd).expect("decided") {
            let ev = Event {
                seq: s.seq + 1,
                at: t(min),
                actor: "ana".into(),
                kind,
            };
            s.apply(&ev).expect("folds");
            log.push(ev);
        }
    }

    #[test]
    fn archived_incidents_leave_and_fold_back_from_their_own_events() {
        let (mut s, mut log) = (State::default(), Vec::new());
        for title in ["one", "two", "three"] {
            let cmd = Command::Declare {
                title: title.into(),
                severity: Severity::Sev3,
                service: None,
                restricted: false,
                detected_by: None,
            };
            run(&mut s, &mut log, 0, cmd);
        }
        for n in [1, 2] {
            let r = IncidentRef(n);
            for i in 0..5 {
                let cmd = Command::AddEntry {
                    incident: r,
                    entry_kind: crate::model::EntryKind::Note,
                    text: format!("note {i} on {n}"),
                    occurred_at: None,
                    next_update_secs: None,
                    public: false,
                    briefing: None,
                };
                run(&mut s, &mut log, 1, cmd);
            }
        }
        run(
            &mut s,
            &mut log,
            2,
            Command::Resolve {
                incident: IncidentRef(1),
            },
        );
        let whole = s.clone();
        let week = DEFAULT_RECENT_SECS;
        // Resolved a week and a minute ago: archived; the active ones stay, however old.
        let mut live = s.clone();
        assert!(live.evict_archived(t(2), week).is_empty());
        let gone = live.evict_archived(t(2) + Duration::seconds(week as i64), week);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].reference, IncidentRef(1));
        assert_eq!(live.incidents.len(), 2);
        assert_eq!(live.next_reference(), IncidentRef(4));
        // INC-1 folds back from its own events to what the whole log made of it.
        let own: Vec<&Event> = log
            .iter()
            .filter(|e| e.kind.incident() == Some(IncidentRef(1)))
            .collect();
        let back = fold_incident(own).unwrap().unwrap();
        assert_eq!(&back, whole.incident(IncidentRef(1)).unwrap());
        assert_eq!(back.status, Status::Resolved);
        // Two incidents' events are not one incident.
        assert!(fold_incident(log.iter()).is_err());
        assert_eq!(fold_incident([]).unwrap(), None);
        // The newest page, and the page before it.
        let inc = whole.incident(IncidentRef(2)).unwrap();
        let page = inc.newest(2);
        assert_eq!(page.entries, inc.entries[inc.entries.len() - 2..]);
        assert_eq!(page.elided as usize, inc.entries.len() - 2);
        let (older, more) = inc.entries_before(page.entries[0].id, 3);
        assert_eq!(
            older,
            &inc.entries[inc.entries.len() - 5..inc.entries.len() - 2]
        );
        assert!(more);
        let (oldest, more) = inc.entries_before(older[0].id, 10);
        assert_eq!(oldest, &inc.entries[..inc.entries.len() - 5]);
        assert!(!more);
    }
}
