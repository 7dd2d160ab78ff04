//! The notification connection: `LISTEN` on the cluster's channels, each notification
//! passed on as a hint (new events to read, forwarded commands to decide, answers to hand
//! over). A lost connection is made again, and everyone told to look, since notifications
//! sent meanwhile are gone.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ::postgres::fallible_iterator::FallibleIterator;
use tokio::sync::mpsc;

use super::{Connect, ForwardedRow, Forwarder, Health};
use crate::server::core::CoreInput;

/// Starts the listening thread; it stops when the core does.
pub fn spawn_listener(
    connect: Connect,
    core: mpsc::WeakSender<CoreInput>,
    forwarder: Forwarder,
    health: Arc<Health>,
) {
    let spawned = std::thread::Builder::new()
        .name("warroom-listen".into())
        .spawn(move || run(connect, core, forwarder, health));
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

fn run(
    connect: Connect,
    core: mpsc::WeakSender<CoreInput>,
    forwarder: Forwarder,
    health: Arc<Health>,
) {
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
                            if let Ok(head) = n.payload().parse::<u64>() {
                                health.saw_head(head);
                            }
                            health.leading() || hint(&core, CoreInput::Tail)
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
