//! The connection to a feed: hello with the last sequence number seen, a replica kept by
//! the same model fold the server runs, reconnection with exponential backoff and jitter,
//! and commands queued while disconnected and sent exactly once (by id) afterwards.
//!
//! Here: the [`Client`] handle a console or script holds. Beside it: feed addresses
//! (`address`), how to connect (`config`), what the connection reports and the replica
//! folded from it (`replica`), the connection task and its reconnects (`connection`), one
//! connection's frames (`session`), the queue of commands awaiting answers (`queue`) with
//! its on-disk outbox (`outbox`), queries and their answers (`query`), and the whole log
//! read once (`fetch`).
//!
//! Commands and queries differ on purpose. A command changes the record: it is written to
//! the outbox before it is sent and reaches the feed exactly once, across reconnects and
//! restarts. A query only reads (a room's timeline, the archive, an export, the metrics):
//! it is kept in memory while it waits, asked again after a reconnect, and fails with the
//! reason when the client stops; nothing of it is on disk.

mod address;
mod config;
mod connection;
mod fetch;
pub mod outbox;
mod query;
mod queue;
mod replica;
mod session;

pub use address::{DEFAULT_ADDR, feed_url, feed_urls};
pub use config::{Backoff, ClientConfig};
pub use fetch::read_log;
pub use replica::{ConnState, QueryError, Replica, SUMMARY_ENTRIES, Update};

use tokio::sync::{mpsc, oneshot};

use crate::model::{Command, IncidentRef};
use crate::protocol::{Answer, Query, QueryResult};

/// Where a query's answer goes: to whoever awaits it, or out as an [`Update::Result`].
pub(crate) type QueryReply = Option<oneshot::Sender<Result<QueryResult, QueryError>>>;

/// What a handle asks of its connection task.
enum Request {
    Submit {
        id: String,
        command: Command,
        reply: Option<oneshot::Sender<Answer>>,
    },
    Resync,
    Focus(Option<IncidentRef>),
    Query {
        id: String,
        query: Query,
        reply: QueryReply,
    },
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

    /// Asks the feed `query` and returns a receiver for its answer (an export's parts joined
    /// into one), or for why there is none. Asked once the client is in sync with the feed,
    /// again after a reconnect; never written to disk. The CLI awaits it.
    pub fn ask(&self, query: Query) -> oneshot::Receiver<Result<QueryResult, QueryError>> {
        let (tx, rx) = oneshot::channel();
        let _ = self.requests.send(Request::Query {
            id: format!("q-{}", uuid::Uuid::new_v4().simple()),
            query,
            reply: Some(tx),
        });
        rx
    }

    /// Asks the feed `query` under an id the caller chose (unique per connection, and not
    /// one of its command ids); the answer comes as an [`Update::Result`] or
    /// [`Update::QueryFailed`] with that id. The console's event loop asks this way.
    pub fn query_with_id(&self, id: String, query: Query) {
        let _ = self.requests.send(Request::Query {
            id,
            query,
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
