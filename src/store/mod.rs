//! The append-only event log behind one small trait. SQLite is the embedded backend; a
//! shared PostgreSQL backend can implement the same trait when teams run several servers.

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

/// The durable event log.
pub trait EventStore: Send {
    /// Appends events (whose seqs continue the log) and command answers in one durable
    /// transaction: when this returns `Ok`, all of it survives a crash.
    fn append(&mut self, events: &[Event], commands: &[CommandRecord]) -> Result<(), StoreError>;
    /// This log's identity, made when the log was created and never changed.
    fn feed_id(&self) -> Result<String, StoreError>;
    /// The last sequence number in the log (0 when empty).
    fn head(&self) -> Result<u64, StoreError>;
    /// Up to `limit` events with seq greater than `after`, in order.
    fn read_since(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError>;
    /// The stored answer to `actor`'s command `id`, if it was seen before.
    fn answer(&self, actor: &str, id: &str) -> Result<Option<Answer>, StoreError>;
}
