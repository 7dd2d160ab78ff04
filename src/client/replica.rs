//! What the connection reports, in order, and the replica a console keeps by folding those
//! reports with the same model the server runs.

use tokio::time::Instant;

use crate::model::{ApplyError, Command, Event, State};
use crate::protocol::{Answer, ErrorCode, Presence, SyncMode};

/// The connection as a person should see it in the status bar.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnState {
    Connecting,
    Live,
    /// Waiting before the next attempt; `queued` commands wait for the connection.
    Reconnecting {
        attempt: u32,
        retry_at: Instant,
        reason: String,
        queued: usize,
    },
    /// Given up: not reconnecting (CLI mode, a refused token, an unsupported protocol).
    Stopped {
        reason: String,
    },
}

/// What the connection reports, in order.
#[derive(Debug, Clone)]
pub enum Update {
    Conn(ConnState),
    Welcome {
        name: String,
        head_seq: u64,
        mode: SyncMode,
    },
    /// What the feed tells its consoles of its policy (on-call, escalation, cadences).
    Policy(Box<crate::model::policy::PublicPolicy>),
    /// Replace the replica's state with this one.
    Snapshot(State),
    /// The next event; always contiguous with what came before.
    Event(Event),
    /// Caught up to `seq`; live from here.
    Synced(u64),
    Presence(Vec<Presence>),
    /// The server's answer to a command (including ones queued by an earlier run).
    Answer {
        id: String,
        command: Command,
        answer: Answer,
    },
    /// An error not tied to a command.
    ServerError {
        code: ErrorCode,
        message: String,
    },
    /// How many commands are waiting to be sent or answered.
    Queued(usize),
}

/// A replica of the feed's state, kept by applying updates with the same model fold.
#[derive(Debug, Clone, Default)]
pub struct Replica {
    pub state: State,
    pub presence: Vec<Presence>,
    /// The name the server knows us by.
    pub me: Option<String>,
    pub synced: bool,
    pub queued: usize,
    /// The feed's policy as it last told us (absent from a feed that does not send it).
    pub policy: Option<crate::model::policy::PublicPolicy>,
}

impl Replica {
    /// Applies one update. An error means the replica diverged and must resync.
    pub fn apply(&mut self, u: &Update) -> Result<(), ApplyError> {
        match u {
            Update::Welcome { name, .. } => {
                self.me = Some(name.clone());
                self.synced = false;
            }
            Update::Policy(p) => self.policy = Some((**p).clone()),
            Update::Snapshot(s) => self.state = s.clone(),
            Update::Event(e) => self.state.apply(e)?,
            Update::Synced(_) => self.synced = true,
            Update::Presence(p) => self.presence = p.clone(),
            Update::Conn(ConnState::Live) => {}
            Update::Conn(_) => self.synced = false,
            Update::Queued(n) => self.queued = *n,
            Update::Answer { .. } | Update::ServerError { .. } => {}
        }
        Ok(())
    }
}
