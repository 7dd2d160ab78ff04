//! The notification connection: `LISTEN` on the cluster's channels, each notification
//! passed on as a hint (new events to read, forwarded commands to decide, answers to hand
//! over). A lost connection is made again, and everyone told to look, since notifications
//! sent meanwhile are gone.

use std::sync::Arc;
use std::time::Duration;

use ::postgres::fallible_iterator::FallibleIterator;
use tokio::sync::mpsc;

use super::{Connect, Forwarder, Health};
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
        forwarder.answered();
        loop {
            let next = client
                .notifications()
                .timeout_iter(Duration::from_secs(1))
                .next();
            match next {
                Ok(Some(n)) => {
                    let alive = match n.channel() {
                        "warroom_events" => {
                            if let Ok(head) = n.payload().parse::<u64>() {
                                health.saw_head(head);
                            }
                            hint(&core, CoreInput::Tail)
                        }
                        "warroom_forward" => hint(&core, CoreInput::Forwarded),
                        "warroom_answer" => {
                            forwarder.answered();
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
