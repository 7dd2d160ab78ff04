//! The frames a client sends: `hello` first, then commands, focus and queries.

use serde::{Deserialize, Serialize};

use super::Query;
use crate::model::{Command, IncidentRef};

/// Frames a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// First frame of every connection.
    Hello {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        /// The last sequence number this client has applied; absent asks for a snapshot.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_seq: Option<u64>,
        /// The `feed_id` that `last_seq` belongs to. When it is not this feed's, `last_seq`
        /// means nothing here and the client gets a snapshot.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        feed_id: Option<String>,
        #[serde(default = "default_protocol")]
        protocol: u32,
        /// `false`: a connection that only sends commands and queries (a script, a bot, the
        /// CLI's one-shot commands): no board, no live events, no presence; it is not listed
        /// among those present. Absent or `true`: a console, which watches the feed.
        #[serde(default = "watching", skip_serializing_if = "is_watching")]
        watch: bool,
    },
    /// A command with a client-generated id, unique per sender; re-sending the same id
    /// returns the first answer and produces no second event.
    Command { id: String, command: Command },
    /// Which incident this connection is looking at (`null`: the board), for presence.
    Focus {
        #[serde(default)]
        incident: Option<IncidentRef>,
    },
    /// A question for the feed, answered to this connection alone by `result` frames with
    /// the same id (or an `error` with it). Reads nothing into the log; any number may be
    /// under way.
    Query { id: String, query: Query },
}

/// A hello without `watch` is from a console.
fn watching() -> bool {
    true
}

fn is_watching(watch: &bool) -> bool {
    *watch
}

/// A hello without `protocol` is from a client of the first protocol.
fn default_protocol() -> u32 {
    1
}
