//! What the core publishes: each durable event encoded once for every session, judged for
//! restricted incidents, with the archived incidents it brings back to the live work.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::ws::Utf8Bytes;

use super::Core;
use crate::model::{Event, Incident, access};
use crate::protocol::{self, ServerMessage};

/// An event ready to go out to every session: encoded once, shared by all.
#[derive(Debug)]
pub struct Fanout {
    pub seq: u64,
    pub frame: Utf8Bytes,
    /// Set when the event belongs to a restricted incident: who may have `frame`, and the
    /// `withheld` stand-in (also encoded once) for everyone else.
    pub restricted: Option<Restricted>,
    /// Set on the first event of an archived incident coming back to the live work: its
    /// `incident` frame (the incident as it stood before this event), sent just before
    /// `frame` to every reader who gets `frame`.
    pub revived: Option<Utf8Bytes>,
    /// When it was committed (published): its fan-out delay is counted from here.
    pub committed: std::time::Instant,
}

#[derive(Debug)]
pub struct Restricted {
    pub audience: access::Audience,
    pub withheld: Utf8Bytes,
}

impl Core {
    /// Sends `events` (durable now) to every session: folds them into what sessions read
    /// (bringing back the archived incidents in `revived` first) and encodes each once,
    /// judged for restricted incidents. The leader does this after its appends; a follower
    /// after reading them from the shared log.
    pub(in crate::server) fn publish(
        &mut self,
        events: Vec<Event>,
        mut revived: BTreeMap<u32, Incident>,
        floor: u64,
    ) {
        let published = &self.published;
        let committed = std::time::Instant::now();
        published.commits.fetch_add(1, Ordering::Relaxed);
        published.resume_floor.fetch_max(floor, Ordering::SeqCst);
        let mut outgoing = Vec::with_capacity(events.len());
        {
            let mut shared = published.state.write().unwrap_or_else(|p| p.into_inner());
            for e in events {
                let revival = match e.kind.incident().and_then(|r| revived.remove(&r.0)) {
                    Some(inc) if shared.incident(inc.reference).is_none() => {
                        let frame = incident_frame(&inc);
                        shared.insert_incident(inc);
                        Some(frame)
                    }
                    _ => None,
                };
                if let Err(err) = shared.apply(&e) {
                    tracing::error!("published state diverged: {err}");
                }
                // Judged as of this event: who may have it.
                let restricted = access::audience(&shared, &e).map(|audience| Restricted {
                    audience,
                    withheld: Utf8Bytes::from(protocol::encode(&ServerMessage::Event {
                        event: access::withheld(&e),
                    })),
                });
                outgoing.push((e, restricted, revival));
            }
        }
        for (e, restricted, revived) in outgoing {
            let seq = e.seq;
            let frame = protocol::encode(&ServerMessage::Event { event: e });
            // No receivers is fine: nobody is connected.
            let _ = published.events.send(Arc::new(Fanout {
                seq,
                frame: Utf8Bytes::from(frame),
                restricted,
                revived,
                committed,
            }));
        }
    }
}

/// The `incident` frame of an incident coming back to the live work: its board summary,
/// kept under the frame limit.
fn incident_frame(inc: &Incident) -> Utf8Bytes {
    let incident =
        crate::server::session::board::fitted(inc.summary(crate::server::session::board::KEEP));
    Utf8Bytes::from(protocol::encode(&ServerMessage::Incident {
        incident: Box::new(incident),
    }))
}
