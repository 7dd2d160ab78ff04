//! The append-only event log behind two small traits: [`LogReader`] reads it by sequence
//! number, [`EventStore`] is the one writer's view (durable appends, remembered answers,
//! and readers of its own for everyone else). The server's core and its sessions work
//! through these traits only; SQLite is the embedded backend, and a shared PostgreSQL
//! backend implements the same two when teams run several servers.

mod sqlite;

pub use sqlite::SqliteStore;

use crate::model::Event;
use crate::protocol::Answer;

/// Something went wrong reading or writing the log. Nothing half-written is ever visible:
/// an append either lands whole or not at all.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("event log: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("event log holds an unreadable event at seq {seq}: {reason}")]
    Corrupt { seq: u64, reason: String },
    #[error("append must continue the log: head is {head}, batch starts at {first}")]
    NotContiguous { head: u64, first: u64 },
    #[error("the event log reader stopped: {0}")]
    ReaderStopped(String),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
}

/// One command's outcome to remember, so a retry with the same id gets the same answer.
#[derive(Debug, Clone)]
pub struct CommandRecord {
    pub actor: String,
    pub id: String,
    pub answer: Answer,
}

/// Reading the log by sequence number: what a start-up folds, what a session that joins or
/// falls behind catches up from, and what a follower replica reads when told the log grew.
/// The sequence number is the order; readers never depend on being told in time.
pub trait LogReader: Send {
    /// This log's identity, made when the log was created and never changed.
    fn feed_id(&self) -> Result<String, StoreError>;
    /// The last sequence number in the log (0 when empty).
    fn head(&self) -> Result<u64, StoreError>;
    /// Up to `limit` events with seq greater than `after`, in order.
    fn read_since(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError>;
}

/// The durable event log as its one writer (the server's core) uses it.
pub trait EventStore: LogReader {
    /// Appends events (whose seqs continue the log) and command answers in one durable
    /// transaction: when this returns `Ok`, all of it survives a crash.
    fn append(&mut self, events: &[Event], commands: &[CommandRecord]) -> Result<(), StoreError>;
    /// The stored answer to `actor`'s command `id`, if it was seen before.
    fn answer(&self, actor: &str, id: &str) -> Result<Option<Answer>, StoreError>;
    /// Another handle on the same log, for reading while this one appends, so sessions
    /// catching up never wait for the writer's transaction (SQLite: a read-only connection
    /// to the same file; PostgreSQL: a connection of its own to the same database).
    fn open_reader(&self) -> Result<Box<dyn LogReader>, StoreError>;
}
