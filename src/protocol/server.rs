//! The frames the server sends, with what they carry: a connection's access, how it is
//! brought up to date, who is present.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ErrorCode, QueryResult};
use crate::model::{Event, IncidentRef, State};

/// A person's role on a feed, given by their token (not an incident role such as incident
/// commander): viewers read, responders act on incidents, admins may do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Viewer,
    Responder,
    Admin,
}

impl Access {
    pub const ALL: [Access; 3] = [Access::Viewer, Access::Responder, Access::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Access::Viewer => "viewer",
            Access::Responder => "responder",
            Access::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Access {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        Access::ALL
            .into_iter()
            .find(|a| a.as_str() == t)
            .ok_or_else(|| format!("unknown role '{s}': use viewer, responder or admin"))
    }
}

/// How the server will bring a client up to date after `welcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// A `snapshot` frame follows.
    Snapshot,
    /// The `event` frames after the client's `last_seq` follow.
    Events,
}

/// One person present on the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    pub name: String,
    /// When their earliest open connection joined.
    pub since: DateTime<Utc>,
    /// How many connections they have open (consoles, CLI sessions).
    pub connections: u32,
    /// The incidents their connections are viewing now.
    #[serde(default)]
    pub viewing: Vec<IncidentRef>,
}

/// Frames the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Welcome {
        protocol: u32,
        /// Identifies this feed's event log, for ever: sequence numbers are only comparable
        /// within one feed.
        feed_id: String,
        /// The name this connection acts as (the token's owner when tokens are in use).
        name: String,
        /// What this connection may do, on a feed with tokens; absent on a feed without
        /// them, where every connection may do everything.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        access: Option<Access>,
        /// The server's latest sequence number when the connection was accepted.
        head_seq: u64,
        mode: SyncMode,
        server_time: DateTime<Utc>,
        max_frame_bytes: usize,
        /// How long a resolved incident stays in the live work (on the board, in every
        /// join) after its last event, in seconds: older ones are archived, found by
        /// `search`.
        recent_secs: u64,
    },
    /// What consoles may read of the feed's policy (on-call schedules, escalation steps,
    /// cadences, targets, runbooks; never channels or secrets). Sent after `welcome`, before
    /// the catch-up, on every join.
    Policy {
        policy: crate::model::policy::PublicPolicy,
    },
    /// The board: the live work as this reader may have it (a partial state: each incident
    /// a summary). When `more`, further `snapshot` frames follow with more incidents of the
    /// same state; the client replaces what it held once the last has come.
    Snapshot {
        state: State,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        more: bool,
    },
    /// An incident this reader should hold from here, sent before the events of one that
    /// comes back to the live work (a command on an archived incident reopens or edits it).
    Incident {
        incident: Box<crate::model::Incident>,
    },
    /// The answer to a `query`. Several may answer one (an export in parts).
    Result {
        id: String,
        result: QueryResult,
    },
    Event {
        event: Event,
    },
    /// The catch-up is complete: the client holds everything up to `seq`. Live events follow.
    Synced {
        seq: u64,
    },
    Ok {
        id: String,
        seqs: Vec<u64>,
        /// The incident the command acted on (for `declare`, the new reference).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        incident: Option<IncidentRef>,
    },
    Error {
        /// The command id, when the error answers a command.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        code: ErrorCode,
        message: String,
    },
    Presence {
        present: Vec<Presence>,
        /// How many more people are present than `present` names (it names at most 40).
        #[serde(default, skip_serializing_if = "is_zero")]
        others: u32,
    },
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Encodes a server frame. Serialising these types cannot fail (no non-string map keys).
pub fn encode(msg: &ServerMessage) -> String {
    serde_json::to_string(msg).unwrap_or_else(|e| {
        format!(r#"{{"type":"error","code":"unavailable","message":"encoding failed: {e}"}}"#)
    })
}
