//! The core's live work as incidents come and go: an archived incident brought back for a
//! command, the live work rebuilt from the log after something did not fold, and incidents
//! that left it evicted (raising the resume floor first).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::Core;
use crate::model::{Event, Incident, IncidentRef};
use crate::store::{fold_into, load_live};

impl Core {
    /// Brings archived incident `r` back into the state (from the cache, or folded from its
    /// events) so a command or an observation can be decided against it; keeps a copy as it
    /// stood, for the sessions, in `revived`.
    pub(in crate::server) fn bring_back(
        &mut self,
        r: IncidentRef,
        revived: &mut BTreeMap<u32, Incident>,
    ) {
        if self.state.incident(r).is_some() || r.0 == 0 || r >= self.state.next_reference() {
            return;
        }
        let inc = match self.archive.take(r) {
            Some(inc) => Arc::unwrap_or_clone(inc),
            None => match self.store.load_incident(r, self.state.seq) {
                Ok(Some(inc)) => inc,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!("reading archived {r} from the log: {e}");
                    return;
                }
            },
        };
        revived.insert(r.0, inc.clone());
        self.state.insert_incident(inc);
    }

    /// The live work as the log has it, plus `pending` (events not appended yet): the way
    /// back after something that did not fold. Checkpoint and tail, never the whole log.
    pub(in crate::server) fn rebuild(
        &mut self,
        now: chrono::DateTime<chrono::Utc>,
        pending: &[Event],
    ) {
        let store = self.store.as_ref();
        let rebuilt = load_live(store, now, self.published.recent_secs).and_then(|(mut s, _)| {
            for e in pending {
                fold_into(&mut s, e, |r, upto| store.load_incident(r, upto))?;
            }
            Ok(s)
        });
        match rebuilt {
            Ok(s) => self.state = s,
            Err(e) => tracing::error!("rebuilding the live work from the log: {e}"),
        }
    }

    /// Moves the incidents that left the live work out of the state (into the cache) and
    /// out of what sessions read, raising the resume floor first. Run after every group.
    pub(in crate::server) fn evict(&mut self, now: chrono::DateTime<chrono::Utc>) {
        let gone = self.state.evict_archived(now, self.recent_secs());
        if gone.is_empty() {
            return;
        }
        let mut floor = self.published.resume_floor();
        for inc in gone {
            match self.store.last_seq_of(inc.reference) {
                Ok(Some(last)) => {
                    floor = floor.max(last);
                    self.archive.put(last, Arc::new(inc));
                }
                // Not in the indexes: nothing to resume from.
                Ok(None) => {}
                Err(e) => {
                    tracing::error!("reading {}'s last event: {e}", inc.reference);
                    floor = floor.max(self.state.seq);
                }
            }
        }
        self.published
            .resume_floor
            .fetch_max(floor, Ordering::SeqCst);
        let mut shared = self
            .published
            .state
            .write()
            .unwrap_or_else(|p| p.into_inner());
        shared.evict_archived(now, self.recent_secs());
    }
}
