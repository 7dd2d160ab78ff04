//! A few archived incidents kept folded: the last ones loaded (a scribe paging back through
//! an old incident's timeline asks for it again and again) or just archived (a command on
//! one that left the live work a moment ago). Bounded by incidents and by entries, so a
//! 100,000-entry incident is kept alone and the cache never holds more than a few live
//! sets' worth.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::model::{Incident, IncidentRef};

/// Most incidents kept.
const MAX_INCIDENTS: usize = 8;
/// Most entries kept, all incidents together (about 20 MB of typical entries).
const MAX_ENTRIES: usize = 100_000;

/// Archived incidents by reference, the most recently used first.
#[derive(Default)]
pub struct ArchiveCache {
    items: VecDeque<Cached>,
}

struct Cached {
    /// The seq of its last event when it was folded: a later one means it changed since.
    last_seq: u64,
    incident: Arc<Incident>,
}

impl ArchiveCache {
    /// The incident as folded up to `last_seq`, if kept.
    pub fn get(&mut self, r: IncidentRef, last_seq: u64) -> Option<Arc<Incident>> {
        let i = self.items.iter().position(|c| c.incident.reference == r)?;
        let item = self.items.remove(i)?;
        if item.last_seq != last_seq {
            return None;
        }
        let inc = item.incident.clone();
        self.items.push_front(item);
        Some(inc)
    }

    /// Takes the incident out (it is coming back to the live work).
    pub fn take(&mut self, r: IncidentRef) -> Option<Arc<Incident>> {
        let i = self.items.iter().position(|c| c.incident.reference == r)?;
        self.items.remove(i).map(|c| c.incident)
    }

    pub fn put(&mut self, last_seq: u64, incident: Arc<Incident>) {
        let r = incident.reference;
        self.items.retain(|c| c.incident.reference != r);
        if incident.entries.len() > MAX_ENTRIES {
            return;
        }
        self.items.push_front(Cached { last_seq, incident });
        let mut entries = 0;
        let mut keep = 0;
        for c in &self.items {
            if keep == MAX_INCIDENTS || entries + c.incident.entries.len() > MAX_ENTRIES {
                break;
            }
            entries += c.incident.entries.len();
            keep += 1;
        }
        self.items.truncate(keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Event, EventKind, Severity, State};

    fn inc(n: u32) -> Arc<Incident> {
        let e = Event {
            seq: u64::from(n),
            at: chrono::DateTime::UNIX_EPOCH,
            actor: "a".into(),
            kind: EventKind::Declared {
                incident: IncidentRef(n),
                title: "t".into(),
                service: None,
                severity: Severity::Sev3,
                restricted: false,
                alert_key: None,
            },
        };
        let s = State::from_events([&e]).unwrap();
        Arc::new(s.incidents[&n].clone())
    }

    #[test]
    fn keeps_the_most_recently_used_and_forgets_changed_ones() {
        let mut c = ArchiveCache::default();
        for n in 1..=10 {
            c.put(u64::from(n), inc(n));
        }
        assert!(c.get(IncidentRef(1), 1).is_none(), "the oldest went");
        assert!(c.get(IncidentRef(3), 3).is_some());
        assert!(c.get(IncidentRef(4), 5).is_none(), "changed since");
        assert!(c.get(IncidentRef(4), 4).is_none(), "and forgotten");
        assert!(c.take(IncidentRef(3)).is_some());
        assert!(c.get(IncidentRef(3), 3).is_none());
    }
}
