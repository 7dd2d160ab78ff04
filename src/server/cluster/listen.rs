//! The notification connection: `LISTEN` on the cluster's channels, each notification
//! passed on (new events, forwarded commands to decide, answers to hand over). A follower's
//! new events are read here, on this connection, by `seq` from the replica's position, and
//! handed to the core to fold: one hand-over instead of waking the core to read them. A
//! lost connection is made again, and everyone told to look, since notifications sent
//! meanwhile are gone.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ::postgres::fallible_iterator::FallibleIterator;
use tokio::sync::mpsc;

use super::{Connect, ForwardedRow, Forwarder, Health};
use crate::server::core::{CoreInput, Published};
use crate::store::LogTail;

/// Starts the listening thread; it stops when the core does.
pub fn spawn_listener(
    connect: Connect,
    core: mpsc::WeakSender<CoreInput>,
    forwarder: Forwarder,
    health: Arc<Health>,
    published: Arc<Published>,
) {
    let spawned = std::thread::Builder::new()
        .name("warroom-listen".into())
        .spawn(move || run(connect, core, forwarder, health, published));
    if let Err(e) = spawned {
        tracing::error!("cannot start the notification thread: {e}");
    }
}

fn hint(core: &mpsc::WeakSender<CoreInput>, input: CoreInput) -> bool {
    match core.upgrade() {
        // A full queue already holds work that will read the log: the hint is not needed.
        Some(tx) => {
            let _ = tx.try_send(input);
            true
        }
        None => false,
    }
}

/// What a `warroom_forward` notification asks of the core: the forwarded row it carries, or
/// (a row too large to carry, or one it cannot read) to read the rows waiting.
fn forwarded(payload: &str) -> CoreInput {
    match serde_json::from_str::<ForwardedRow>(payload).map(ForwardedRow::read) {
        Ok(Ok(f)) => CoreInput::ForwardedRow(f),
        _ => CoreInput::Forwarded,
    }
}

/// The answers a `warroom_answer` notification carries, by ticket (`None`: it carries none,
/// or none that can be read: the rows are read instead).
fn carried(payload: &str) -> Option<HashMap<String, String>> {
    serde_json::from_str(payload).ok()
}

/// A follower's reads of the log on the notification connection.
struct Reader {
    tail: LogTail,
    /// The connection is new: its statement is prepared again.
    fresh: bool,
    /// The last event handed to the core (0: none in flight): the next read starts after
    /// it, or after what the core published if that is further.
    handed: u64,
}

impl Reader {
    /// Reads what follows the replica's position and hands it to the core; on any trouble
    /// (a failed read, a full queue) the core is asked to read the log itself.
    fn read(
        &mut self,
        client: &mut ::postgres::Client,
        core: &mpsc::WeakSender<CoreInput>,
        published: &Published,
        head: Option<u64>,
    ) -> bool {
        let Some(tx) = core.upgrade() else {
            return false;
        };
        let after = published.head().max(self.handed);
        if head.is_some_and(|h| h <= after) {
            return true;
        }
        let read = self.tail.read_since(client, self.fresh, after, READ_CHUNK);
        self.fresh = false;
        let input = match read {
            Ok(events) if events.is_empty() => return true,
            Ok(events) => {
                let last = events.last().map_or(after, |e| e.seq);
                let more = events.len() == READ_CHUNK;
                self.handed = last;
                CoreInput::Read { events, more }
            }
            Err(e) => {
                tracing::debug!("reading the shared log on the notification connection: {e}");
                self.handed = 0;
                CoreInput::Tail
            }
        };
        if tx.try_send(input).is_err() {
            // A full queue already holds work that will read the log.
            self.handed = 0;
        }
        true
    }
}

/// Events read at a time on the notification connection (the core reads on past it).
const READ_CHUNK: usize = 1_000;

fn run(
    connect: Connect,
    core: mpsc::WeakSender<CoreInput>,
    forwarder: Forwarder,
    health: Arc<Health>,
    published: Arc<Published>,
) {
    let mut reader = Reader {
        tail: LogTail::default(),
        fresh: true,
        handed: 0,
    };
    loop {
        let mut client = match connect() {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("listening for the feed's notifications: {e}");
                if core.upgrade().is_none() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
        };
        if let Err(e) = client
            .batch_execute("LISTEN warroom_events; LISTEN warroom_forward; LISTEN warroom_answer")
        {
            tracing::warn!("listening for the feed's notifications: {e}");
            std::thread::sleep(Duration::from_millis(500));
            continue;
        }
        reader.fresh = true;
        reader.handed = 0;
        // What was said while nobody listened.
        if !hint(&core, CoreInput::Tail) {
            return;
        }
        forwarder.answered(None);
        loop {
            let next = client
                .notifications()
                .timeout_iter(Duration::from_secs(1))
                .next();
            match next {
                Ok(Some(n)) => {
                    let alive = match n.channel() {
                        // The leader wrote them: only a follower reads them.
                        "warroom_events" => {
                            let head = n.payload().parse::<u64>().ok();
                            if let Some(head) = head {
                                health.saw_head(head);
                            }
                            health.leading() || reader.read(&mut client, &core, &published, head)
                        }
                        // Only the leader decides them (one that takes the lead reads
                        // those waiting).
                        "warroom_forward" => {
                            !health.leading() || hint(&core, forwarded(n.payload()))
                        }
                        "warroom_answer" => {
                            forwarder.answered(carried(n.payload()));
                            true
                        }
                        _ => true,
                    };
                    if !alive {
                        return;
                    }
                }
                Ok(None) => {
                    if core.upgrade().is_none() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!("the notification connection was lost: {e}");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::cluster::Forwarded;

    /// A notification carrying its row whole (as PostgreSQL's `json_build_object` writes it)
    /// is decided as it is; a bare row id, or a row the leader cannot read, is read from
    /// the table (where one it cannot read is answered).
    #[test]
    fn a_forward_notification_carries_its_row_or_asks_for_the_table() {
        let whole = r#"{"row" : 7, "kind" : "command", "actor" : "alice", "sees_all" : false, "id" : "c-1", "body" : "{\"op\":\"add_entry\",\"incident\":\"INC-1\",\"text\":\"a \\\"quoted\\\" note\"}"}"#;
        match forwarded(whole) {
            CoreInput::ForwardedRow(Forwarded::Command {
                row,
                actor,
                sees_all,
                id,
                ..
            }) => assert_eq!(
                (row, actor.as_str(), sees_all, id.as_str()),
                (7, "alice", false, "c-1")
            ),
            _ => panic!("the carried row was not taken"),
        }
        assert!(matches!(forwarded("7"), CoreInput::Forwarded));
        let unreadable = whole.replace("add_entry", "no_such_op");
        assert!(matches!(forwarded(&unreadable), CoreInput::Forwarded));
    }

    /// A notification of answers carries them by ticket (as `json_object_agg` writes them),
    /// or nothing (too large to carry: the rows are read).
    #[test]
    fn an_answer_notification_carries_the_answers_or_asks_for_the_rows() {
        let two = r#"{ "t1" : "{\"type\":\"ok\",\"id\":\"c-1\",\"seqs\":[7]}", "t2" : "{}" }"#;
        let answers = carried(two).expect("carried");
        assert_eq!(answers.len(), 2);
        assert_eq!(answers["t1"], r#"{"type":"ok","id":"c-1","seqs":[7]}"#);
        assert_eq!(carried(""), None);
        assert_eq!(carried("3"), None);
    }
}
