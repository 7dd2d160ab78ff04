//! The connection to a feed: hello with the last sequence number seen, a replica kept by
//! the same model fold the server runs, reconnection with exponential backoff and jitter,
//! and commands queued while disconnected and sent exactly once (by id) afterwards.
//!
//! Here: the [`Client`] handle a console or script holds. Beside it: feed addresses
//! (`address`), how to connect (`config`), what the connection reports and the replica
//! folded from it (`replica`), the connection task and its reconnects (`connection`), one
//! connection's frames (`session`), the queue of commands awaiting answers (`queue`) with
//! its on-disk outbox (`outbox`), and the whole log read once (`fetch`).

mod address;
mod config;
mod connection;
mod fetch;
pub mod outbox;
mod queue;
mod replica;
mod session;

pub use address::{DEFAULT_ADDR, feed_url};
pub use config::{Backoff, ClientConfig};
pub use fetch::fetch_log;
pub use replica::{ConnState, Replica, Update};

use tokio::sync::{mpsc, oneshot};

use crate::model::{Command, IncidentRef};
use crate::protocol::Answer;

/// What a handle asks of its connection task.
enum Request {
    Submit {
        id: String,
        command: Command,
        reply: Option<oneshot::Sender<Answer>>,
    },
    Resync,
    Focus(Option<IncidentRef>),
}

/// A handle on a running connection task. Dropping it closes the connection.
pub struct Client {
    requests: mpsc::UnboundedSender<Request>,
    updates: mpsc::UnboundedReceiver<Update>,
}

impl Client {
    /// Starts the connection task.
    pub fn start(config: ClientConfig) -> Client {
        let (req_tx, req_rx) = mpsc::unbounded_channel();
        let (upd_tx, upd_rx) = mpsc::unbounded_channel();
        tokio::spawn(connection::run(config, req_rx, upd_tx));
        Client {
            requests: req_tx,
            updates: upd_rx,
        }
    }

    /// Queues a command and returns its id and a receiver for the server's answer. The
    /// command is kept until answered and survives reconnections.
    pub fn submit(&self, command: Command) -> (String, oneshot::Receiver<Answer>) {
        let id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        let _ = self.requests.send(Request::Submit {
            id: id.clone(),
            command,
            reply: Some(tx),
        });
        (id, rx)
    }

    /// Queues a command whose answer arrives only as an [`Update::Answer`].
    pub fn send(&self, command: Command) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let _ = self.requests.send(Request::Submit {
            id: id.clone(),
            command,
            reply: None,
        });
        id
    }

    /// Tells the feed which incident this console is viewing (kept across reconnects).
    pub fn focus(&self, incident: Option<IncidentRef>) {
        let _ = self.requests.send(Request::Focus(incident));
    }

    /// Queues a command under an id the caller chose (unique per sender), so the caller can
    /// match the [`Update::Answer`] to what it sent.
    pub fn send_with_id(&self, id: String, command: Command) {
        let _ = self.requests.send(Request::Submit {
            id,
            command,
            reply: None,
        });
    }

    /// Asks for a fresh snapshot (after the replica found it cannot fold an event).
    pub fn resync(&self) {
        let _ = self.requests.send(Request::Resync);
    }

    /// The next update; `None` once the connection task has stopped.
    pub async fn next(&mut self) -> Option<Update> {
        self.updates.recv().await
    }

    /// Updates already waiting, without blocking (for draining before a redraw).
    pub fn try_next(&mut self) -> Option<Update> {
        self.updates.try_recv().ok()
    }
}

#[cfg(test)]
mod tests;
