//! The board: what a join carries. The live work as this reader may have it, each incident a
//! summary (its newest entries and the key ones), split into `snapshot` frames that each
//! stay under the transport's limit.

use crate::model::{Incident, State};
use crate::protocol::{HARD_FRAME_BYTES, ServerMessage};

/// Newest entries of each incident on the board (and as many of each key kind: see
/// [`Incident::summary`]).
pub const KEEP: usize = 20;

/// Most bytes of incidents in one frame: the transport's limit less room for the rest of the
/// frame (its envelope, `withheld`, `next_ref`).
pub const FRAME_BUDGET: usize = HARD_FRAME_BYTES - 64 * 1024;

fn encoded_len<T: serde::Serialize>(v: &T) -> usize {
    serde_json::to_string(v).map_or(0, |s| s.len())
}

/// Most bytes of incidents in one `snapshot` part (an incident larger than this has a part
/// of its own). Small, because a connection's write buffer keeps the capacity of the largest
/// frame ever written to it for the connection's whole life: a whole board in one frame
/// would cost every idle console its size.
pub const PART_BUDGET: usize = 8 * 1024;

/// `inc` with its oldest held entries dropped (counted in `elided`) until it encodes within
/// [`FRAME_BUDGET`]: a frame of its own always fits it. (Entries are at most 4,000
/// characters, so this drops some only when a summary is all long entries.)
pub fn fitted(mut inc: Incident) -> Incident {
    loop {
        if inc.entries.is_empty() || encoded_len(&inc) <= FRAME_BUDGET {
            return inc;
        }
        let drop = inc.entries.len().div_ceil(2);
        inc.entries.drain(..drop);
        inc.elided += drop as u64;
    }
}

/// The board `state` (a partial state) as `snapshot` frames: incidents in reference order,
/// then the feed's recent deploys and stand-up digest in order, as many in each frame as fit
/// [`PART_BUDGET`], `more` on all but the last; the withheld references in the first.
pub fn frames(board: State) -> Vec<ServerMessage> {
    let shell = |withheld| State {
        seq: board.seq,
        incidents: Default::default(),
        withheld,
        next_ref: board.next_ref,
        partial: true,
        feed: Default::default(),
    };
    let mut parts = Vec::new();
    let mut part = shell(board.withheld.clone());
    let mut size = 0;
    let mut held = 0;
    // Starts a new part when `len` more bytes would not fit this one (which holds `held`
    // items).
    let mut room_for = |len: usize, part: &mut State, held: &mut usize, parts: &mut Vec<State>| {
        if *held > 0 && size + len > PART_BUDGET {
            parts.push(std::mem::replace(part, shell(Default::default())));
            size = 0;
            *held = 0;
        }
        size += len;
        *held += 1;
    };
    for (n, inc) in board.incidents {
        let inc = fitted(inc);
        room_for(encoded_len(&inc) + 1, &mut part, &mut held, &mut parts);
        part.incidents.insert(n, inc);
    }
    for d in board.feed.deploys {
        room_for(encoded_len(&d) + 1, &mut part, &mut held, &mut parts);
        part.feed.deploys.push_back(d);
    }
    for a in board.feed.noted {
        room_for(encoded_len(&a) + 1, &mut part, &mut held, &mut parts);
        part.feed.noted.push_back(a);
    }
    parts.push(part);
    let last = parts.len() - 1;
    parts
        .into_iter()
        .enumerate()
        .map(|(i, state)| ServerMessage::Snapshot {
            state,
            more: i < last,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Command, EntryKind, Event, IncidentRef, Severity};
    use crate::protocol::encode;

    #[test]
    fn a_board_larger_than_a_frame_comes_in_parts_each_under_the_limit() {
        let mut s = State::default();
        let at = chrono::DateTime::UNIX_EPOCH;
        let run = |s: &mut State, cmd: Command| {
            for kind in s.decide("ana", at, &cmd).unwrap() {
                let e = Event {
                    seq: s.seq + 1,
                    at,
                    actor: "ana".into(),
                    kind,
                };
                s.apply(&e).unwrap();
            }
        };
        let long = "x".repeat(3999);
        for n in 1..=30u32 {
            run(
                &mut s,
                Command::Declare {
                    title: format!("incident {n}"),
                    severity: Severity::Sev2,
                    service: None,
                    restricted: false,
                    detected_by: None,
                },
            );
            // Key entries of every kind: a summary keeps up to 100 of them.
            for kind in [EntryKind::Hypothesis, EntryKind::Decision, EntryKind::Note] {
                for _ in 0..25 {
                    run(
                        &mut s,
                        Command::AddEntry {
                            incident: IncidentRef(n),
                            entry_kind: kind,
                            text: format!("{long}{}", "é"),
                            occurred_at: None,
                            next_update_secs: None,
                            public: false,
                            briefing: None,
                        },
                    );
                }
            }
        }
        let board = s.board_view(
            crate::model::access::Viewer {
                name: "ana",
                sees_all: true,
            },
            KEEP,
        );
        let parts = frames(board.clone());
        assert!(parts.len() > 1, "{} parts", parts.len());
        let mut joined = State::default();
        for (i, m) in parts.iter().enumerate() {
            let text = encode(m);
            assert!(
                text.len() <= HARD_FRAME_BYTES,
                "part {i}: {} bytes",
                text.len()
            );
            let ServerMessage::Snapshot { state, more } = m else {
                panic!("not a snapshot")
            };
            assert_eq!(*more, i + 1 < parts.len());
            assert_eq!(state.seq, s.seq);
            joined.incidents.extend(state.incidents.clone());
        }
        assert_eq!(joined.incidents, board.incidents);
        // One incident too big for a frame by itself loses its oldest held entries.
        let mut huge = board.incidents[&1].clone();
        for _ in 0..6 {
            huge.entries.extend(huge.entries.clone());
        }
        let before = huge.entries.len() as u64 + huge.elided;
        let fit = fitted(huge);
        assert!(
            encode(&ServerMessage::Incident {
                incident: Box::new(fit.clone())
            })
            .len()
                <= HARD_FRAME_BYTES
        );
        assert_eq!(fit.entries.len() as u64 + fit.elided, before);
    }
}
