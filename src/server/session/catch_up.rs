//! Bringing a reader up to date: the board (the live work as this reader may have it, in
//! `snapshot` frames), or the logged events since what it holds, judged once for the whole
//! catch-up, read from the log through the store's reader (never the core's writer).

use axum::extract::ws::WebSocket;

use super::board;
use super::send::{Closed, error, send};
use crate::model::access::Viewer;
use crate::protocol::{ErrorCode, ServerMessage};
use crate::server::App;

/// Events read from the log per catch-up query.
const CATCH_UP_CHUNK: usize = 500;

/// Most events a resume is sent; a reader further behind is sent the board, which is
/// smaller (at most the live work, in summaries) than that many events.
pub const MAX_RESUME_EVENTS: u64 = 10_000;

/// Whether a reader holding the feed up to `from` (of `head`) must be sent the board
/// instead of the events since: it is too far behind, or it was let into a restricted
/// incident it holds only the reference of, or an incident came back to (or left) the live
/// work after its position (see `Published::resume_floor`).
pub(super) fn needs_board(app: &App, viewer: Viewer<'_>, from: u64, head: u64) -> bool {
    let let_in = {
        let state = app.published.read();
        state.resume_needs_snapshot(viewer, from)
    };
    // Read after the state: the floor that state needs is already there.
    let_in || from < app.published.resume_floor() || head.saturating_sub(from) > MAX_RESUME_EVENTS
}

/// Sends the board as this reader may have it; returns its seq.
pub(super) async fn resync(
    socket: &mut WebSocket,
    app: &App,
    viewer: Viewer<'_>,
) -> Result<u64, Closed> {
    let board = {
        let shared = app.published.read();
        shared.board_view(viewer, board::KEEP)
    };
    let seq = board.seq;
    for frame in board::frames(board) {
        send(socket, &frame).await?;
    }
    Ok(seq)
}

/// Sends the logged events after `from` up to `upto`, as this reader may have them, and
/// returns the last seq sent (beyond `upto` when it sent a snapshot instead, or when
/// today's state was further on).
pub(super) async fn catch_up(
    socket: &mut WebSocket,
    app: &App,
    viewer: Viewer<'_>,
    from: u64,
    upto: u64,
) -> Result<u64, Closed> {
    // One judgement for the whole catch-up: today's membership, with the log read through
    // today's seq. (Judging by today's state only up to `upto` and the rest live, each event
    // as of itself, would withhold an incident just restricted, or a reader just removed
    // from it, then send its events committed before that: a fold the reader cannot make.)
    // A reader let in since `from` is sent a snapshot instead, so whoever may see an
    // incident now already holds it.
    let judged = {
        let state = app.published.read();
        (!state.resume_needs_snapshot(viewer, from)).then(|| Judged::of(&state, viewer))
    };
    // Read after the state: every incident the log's events after `from` touch is in the
    // state judged by (none came back or left since), or the floor is above `from`.
    let judged = judged.filter(|_| from >= app.published.resume_floor());
    let Some(judged) = judged else {
        return resync(socket, app, viewer).await;
    };
    let upto = upto.max(judged.seq);
    let mut sent = from;
    while sent < upto {
        let chunk = app
            .read_log(sent, CATCH_UP_CHUNK.min((upto - sent) as usize))
            .await;
        let events = match chunk {
            Ok(ev) if !ev.is_empty() => ev,
            Ok(_) => break,
            Err(e) => {
                tracing::error!("catch-up read failed: {e}");
                send(
                    socket,
                    &error(
                        None,
                        ErrorCode::Unavailable,
                        "the event log could not be read; reconnect to resume",
                    ),
                )
                .await?;
                return Err(Closed);
            }
        };
        for event in events {
            let seq = event.seq;
            let event = if event.kind.incident().is_none_or(|r| judged.may_see(r)) {
                event
            } else {
                crate::model::access::withheld(&event)
            };
            send(socket, &ServerMessage::Event { event }).await?;
            sent = seq;
        }
    }
    Ok(sent)
}

/// Who may see what, as of one state: a catch-up judges all its events by it.
struct Judged {
    seq: u64,
    sees_all: bool,
    /// The newest incident the state holds (judging fails closed for any later one).
    newest: u32,
    /// The restricted incidents this reader may not see.
    hidden: std::collections::BTreeSet<crate::model::IncidentRef>,
}

impl Judged {
    fn of(state: &crate::model::State, viewer: Viewer<'_>) -> Judged {
        Judged {
            seq: state.seq,
            sees_all: viewer.sees_all,
            newest: state.incidents.keys().next_back().copied().unwrap_or(0),
            hidden: state
                .incidents
                .values()
                .filter(|i| i.restricted && !i.visible_to(viewer))
                .map(|i| i.reference)
                .collect(),
        }
    }

    fn may_see(&self, r: crate::model::IncidentRef) -> bool {
        self.sees_all || (r.0 <= self.newest && !self.hidden.contains(&r))
    }
}
