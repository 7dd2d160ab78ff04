//! Protocol v2: the JSON text frames exchanged over the `/feed` WebSocket. Documented for
//! other implementers in `docs/protocol.md`; change both together.
//!
//! v2 (over v1): a join carries the live work (the board), not the history; an incident's
//! timeline comes in pages when asked (`query` → `result`); the archive, exports and metrics
//! are queries answered by the feed. No frame passes [`HARD_FRAME_BYTES`] either way.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Command, Event, IncidentRef, RejectCode, Rejection, State};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 2;
/// Largest frame the server reads and answers with an error instead of processing (bytes).
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Largest frame the transport accepts at all; a larger one closes the connection (1009).
pub const HARD_FRAME_BYTES: usize = 1024 * 1024;
/// Longest client-generated command id.
pub const MAX_COMMAND_ID: usize = 128;
/// Deepest nesting of arrays and objects in JSON a client sends (a frame, a webhook body):
/// `{}` is one level, `{"a":[1]}` two. Deeper input is refused before it is parsed.
pub const MAX_JSON_DEPTH: usize = 128;

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

/// A hello without `protocol` is from a client of the first protocol.
fn default_protocol() -> u32 {
    1
}

/// What a client may ask the feed. Every answer is judged for the asker as events are: a
/// restricted incident's content only for its members and admins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Query {
    /// An incident, live or archived, with the newest page of its timeline: what a console
    /// asks when a room is opened. Answered by an `incident` result.
    Open {
        incident: IncidentRef,
        /// Most entries in the page (the feed's default when absent; it may send fewer to
        /// keep the frame under the limit).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// The page of an incident's timeline just older than entry `before` (entries with a
    /// smaller id), as a scribe scrolls back. Answered by an `entries` result.
    Timeline {
        incident: IncidentRef,
        before: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Incidents, archived and live, matching every filter given, the most recently
    /// declared first, a page at a time. Answered by an `incidents` result.
    Search(Search),
    /// An incident's export, rendered by the feed from its log. Answered by `export`
    /// results, in parts.
    Export {
        incident: IncidentRef,
        format: crate::report::export::ExportFormat,
    },
    /// The feed's metrics (MTTD/MTTA/MTTM/MTTR per severity, weekly counts, completion,
    /// pages per shift), over incidents declared since `since` (all when absent).
    /// Answered by a `metrics` result.
    Metrics {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<DateTime<Utc>>,
    },
    /// The log itself: the events after seq `after`, in order, a page at a time (what
    /// `warroom events --since` prints, from any point of the history). Each is judged for
    /// the asker by today's membership, as a catch-up is: an event of a restricted incident
    /// the asker may not see comes as a `withheld` event. Answered by an `events` result.
    Log {
        after: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
}

/// The archive's filters: every one given must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    /// Words that must all appear in the title, the service or an entry (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<crate::model::Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Only active incidents (`true`) or only resolved and closed ones (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Declared at or after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// Declared before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// The next page: incidents numbered below this one (the last page's `next`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<IncidentRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// What a query is answered with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QueryResult {
    /// `open`: the incident with the newest page of its timeline (`elided` counts the
    /// older entries; `timeline` fetches them).
    Incident {
        incident: Box<crate::model::Incident>,
    },
    /// `timeline`: the page, in id order (oldest first); `more` when older ones remain.
    Entries {
        incident: IncidentRef,
        entries: Vec<crate::model::Entry>,
        more: bool,
    },
    /// `search`: a page of incidents, each without its timeline (`elided` counts it);
    /// `next` asks for the following page.
    Incidents {
        incidents: Vec<crate::model::Incident>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<IncidentRef>,
        /// Restricted incidents that matched and that the asker may not see: references only.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        withheld: Vec<IncidentRef>,
    },
    /// `export`: part `part` (from 0) of the text; `last` on the final part.
    Export {
        incident: IncidentRef,
        part: u32,
        text: String,
        last: bool,
    },
    /// `metrics`: the figures, as `warroom metrics --json` prints them.
    Metrics {
        metrics: Box<crate::report::metrics::Metrics>,
    },
    /// `log`: the page of events, in seq order; `more` when later ones were committed
    /// before the page was read (ask again with `after` the last one's seq).
    Events {
        events: Vec<crate::model::Event>,
        more: bool,
    },
}

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

/// Error codes, stable for programs to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A command argument is malformed or out of range.
    Invalid,
    /// The incident or entry named does not exist.
    NotFound,
    /// The command does not fit the incident's state.
    Conflict,
    /// The frame is not valid JSON, or not a JSON object.
    BadFrame,
    /// The frame's `type` is not one this server knows.
    UnknownType,
    /// A required field is absent.
    MissingField,
    /// The frame is larger than `max_frame_bytes`.
    FrameTooLarge,
    /// The first frame must be `hello`; or `hello` was sent twice.
    ExpectedHello,
    /// The token is missing or not valid, or it was revoked.
    Unauthorized,
    /// The connection's role does not allow this command (a viewer cannot act).
    Forbidden,
    /// The client's protocol version is not spoken here.
    UnsupportedProtocol,
    /// The server could not store the command; nothing was recorded. Safe to retry.
    Unavailable,
    /// The connection sent frames faster than its limit; this one was not processed and
    /// nothing was recorded. Retry (with the same id) after a pause.
    RateLimited,
}

impl From<RejectCode> for ErrorCode {
    fn from(c: RejectCode) -> Self {
        match c {
            RejectCode::Invalid => ErrorCode::Invalid,
            RejectCode::NotFound => ErrorCode::NotFound,
            RejectCode::Conflict => ErrorCode::Conflict,
            RejectCode::Forbidden => ErrorCode::Forbidden,
        }
    }
}

/// The outcome of one command, as stored for idempotent replay and sent to its sender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Answer {
    Ok {
        seqs: Vec<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        incident: Option<IncidentRef>,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
}

impl Answer {
    pub fn rejected(r: Rejection) -> Self {
        Answer::Error {
            code: r.code.into(),
            message: r.message,
        }
    }

    /// The frame that carries this answer to the command's sender.
    pub fn to_message(&self, id: &str) -> ServerMessage {
        match self {
            Answer::Ok { seqs, incident } => ServerMessage::Ok {
                id: id.to_string(),
                seqs: seqs.clone(),
                incident: *incident,
            },
            Answer::Error { code, message } => ServerMessage::Error {
                id: Some(id.to_string()),
                code: *code,
                message: message.clone(),
            },
        }
    }
}

/// A frame that could not be decoded, with the command id when one could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    pub id: Option<String>,
    pub code: ErrorCode,
    pub message: String,
}

impl DecodeError {
    pub fn to_message(&self) -> ServerMessage {
        ServerMessage::Error {
            id: self.id.clone(),
            code: self.code,
            message: self.message.clone(),
        }
    }
}

const CLIENT_TYPES: &[&str] = &["hello", "command", "focus", "query"];

/// Decodes one client text frame, naming precisely what is wrong when it cannot.
pub fn decode_client(text: &str) -> Result<ClientMessage, DecodeError> {
    let err = |id: Option<String>, code, message: String| DecodeError { id, code, message };
    if text.len() > MAX_FRAME_BYTES {
        return Err(err(
            None,
            ErrorCode::FrameTooLarge,
            format!(
                "frame is {} bytes; the limit is {MAX_FRAME_BYTES}",
                text.len()
            ),
        ));
    }
    let value = parse_json(text.as_bytes())
        .map_err(|e| err(None, ErrorCode::BadFrame, format!("malformed JSON: {e}")))?;
    let obj = value.as_object().ok_or_else(|| {
        err(
            None,
            ErrorCode::BadFrame,
            "a frame must be a JSON object with a \"type\" field".to_string(),
        )
    })?;
    let id = obj.get("id").and_then(|v| v.as_str()).map(str::to_string);
    // An `id` that is there but not a string can answer nothing: said as such, not as absent.
    let id_of_wrong_type = obj.get("id").filter(|v| !v.is_string()).map(json_kind);
    let ty = match obj.get("type") {
        None => {
            return Err(err(
                id,
                ErrorCode::MissingField,
                "missing field `type` (expected \"hello\", \"command\", \"focus\" or \"query\")"
                    .to_string(),
            ));
        }
        Some(serde_json::Value::String(t)) => t.clone(),
        Some(other) => {
            return Err(err(
                id,
                ErrorCode::BadFrame,
                format!("field `type` must be a string, got {other}"),
            ));
        }
    };
    if !CLIENT_TYPES.contains(&ty.as_str()) {
        return Err(err(
            id,
            ErrorCode::UnknownType,
            format!(
                "unknown message type '{ty}' (expected \"hello\", \"command\", \"focus\" or \"query\")"
            ),
        ));
    }
    // A command and a query are answered by their id: it must be one.
    if ty == "command" || ty == "query" {
        let what = ty.as_str();
        if !obj.contains_key(what) {
            return Err(err(
                id,
                ErrorCode::MissingField,
                format!("missing field `{what}`"),
            ));
        }
        if let Some(kind) = id_of_wrong_type {
            return Err(err(
                None,
                ErrorCode::Invalid,
                format!(
                    "{what} id must be a string (1 to {MAX_COMMAND_ID} bytes of printable \
                     characters), not {kind}"
                ),
            ));
        }
        match &id {
            None => {
                return Err(err(
                    None,
                    ErrorCode::MissingField,
                    format!("missing field `id`: every {what} needs a client-generated id"),
                ));
            }
            Some(i)
                if i.is_empty() || i.len() > MAX_COMMAND_ID || i.chars().any(char::is_control) =>
            {
                return Err(err(
                    None,
                    ErrorCode::Invalid,
                    format!(
                        "{what} id must be 1 to {MAX_COMMAND_ID} bytes of printable characters"
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    serde_json::from_value::<ClientMessage>(value).map_err(|e| {
        let msg = e.to_string();
        let code = if msg.starts_with("missing field") {
            ErrorCode::MissingField
        } else {
            ErrorCode::Invalid
        };
        let what = ty.as_str();
        err(id, code, format!("{what}: {msg}"))
    })
}

/// Parses JSON from a client, refusing input nested deeper than [`MAX_JSON_DEPTH`] with a
/// message that names the limit and where it was passed. (serde_json's own limit, which
/// this replaces, stops at 127 levels and says only "recursion limit exceeded".)
pub fn parse_json(text: &[u8]) -> Result<serde_json::Value, String> {
    if let Some(at) = deeper_than(text, MAX_JSON_DEPTH) {
        let before = &text[..at];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let column = at
            - before
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1)
            + 1;
        return Err(format!(
            "nested deeper than {MAX_JSON_DEPTH} levels (arrays and objects) at line {line} \
             column {column}"
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(text);
    // The scan above bounds how deep this parse can recurse.
    de.disable_recursion_limit();
    let value = serde::Deserialize::deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// The offset of the first `[` or `{` (outside strings) that opens level `max + 1`, if any.
/// On malformed input this may count more than a parser would reach, never fewer: the
/// parser stops at the first byte that does not fit, and up to there both read strings
/// and brackets the same way.
fn deeper_than(text: &[u8], max: usize) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, b) in text.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// "a number", "null", … for messages about a value of the wrong type.
fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A `forbidden` answer as a person reads it: always "not allowed: …".
pub fn not_allowed(message: &str) -> String {
    if message.starts_with("not allowed") {
        message.to_string()
    } else {
        format!("not allowed: {message}")
    }
}

/// Encodes a server frame. Serialising these types cannot fail (no non-string map keys).
pub fn encode(msg: &ServerMessage) -> String {
    serde_json::to_string(msg).unwrap_or_else(|e| {
        format!(r#"{{"type":"error","code":"unavailable","message":"encoding failed: {e}"}}"#)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_hello_and_command() {
        let m = decode_client(r#"{"type":"hello","name":"alice","last_seq":4}"#).unwrap();
        assert_eq!(
            m,
            ClientMessage::Hello {
                name: "alice".into(),
                token: None,
                last_seq: Some(4),
                feed_id: None,
                protocol: 1
            }
        );
        let m = decode_client(
            r#"{"type":"command","id":"c1","command":{"op":"declare","title":"db down","severity":1}}"#,
        )
        .unwrap();
        assert!(matches!(m, ClientMessage::Command { .. }));
    }

    #[test]
    fn names_what_is_wrong() {
        let e = decode_client("{nope").unwrap_err();
        assert_eq!(e.code, ErrorCode::BadFrame);
        assert!(e.message.starts_with("malformed JSON"), "{}", e.message);

        let e = decode_client(r#"{"type":"dance"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnknownType);
        assert!(e.message.contains("'dance'"));

        // An id that is there but not a string is not "missing".
        for (id, kind) in [
            ("5", "a number"),
            ("null", "null"),
            ("true", "a boolean"),
            ("[1]", "an array"),
            ("{}", "an object"),
        ] {
            let frame = format!(
                r#"{{"type":"command","id":{id},"command":{{"op":"resolve","incident":"INC-1"}}}}"#
            );
            let e = decode_client(&frame).unwrap_err();
            assert_eq!(
                (e.code, e.id.as_deref()),
                (ErrorCode::Invalid, None),
                "{id}"
            );
            assert!(
                e.message.contains("command id must be a string"),
                "{id}: {}",
                e.message
            );
            assert!(e.message.ends_with(&format!("not {kind}")), "{}", e.message);
        }

        let e = decode_client(r#"{"type":"command","id":"x"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingField);
        assert_eq!(e.id.as_deref(), Some("x"));

        let e =
            decode_client(r#"{"type":"command","id":"x","command":{"op":"declare","severity":1}}"#)
                .unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingField);
        assert!(e.message.contains("title"), "{}", e.message);

        let e = decode_client(
            r#"{"type":"command","id":"x","command":{"op":"set_severity","incident":"INC-1","severity":5}}"#,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::Invalid);
        assert!(
            e.message.contains("severity 5 does not exist"),
            "{}",
            e.message
        );

        let e = decode_client(
            r#"{"type":"command","id":"x","command":{"op":"assign_role","incident":"INC-1","role":"chef","person":"a"}}"#,
        )
        .unwrap_err();
        assert!(e.message.contains("unknown role 'chef'"), "{}", e.message);

        let big = format!(
            r#"{{"type":"hello","name":"{}"}}"#,
            "a".repeat(MAX_FRAME_BYTES)
        );
        assert_eq!(
            decode_client(&big).unwrap_err().code,
            ErrorCode::FrameTooLarge
        );

        let deep = "[".repeat(10_000);
        assert_eq!(decode_client(&deep).unwrap_err().code, ErrorCode::BadFrame);
    }

    /// `levels` nested arrays around `1`.
    fn nested(levels: usize) -> String {
        format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn json_nests_up_to_the_limit_and_no_deeper() {
        assert!(parse_json(nested(MAX_JSON_DEPTH).as_bytes()).is_ok());
        let e = parse_json(nested(MAX_JSON_DEPTH + 1).as_bytes()).unwrap_err();
        assert_eq!(
            e,
            "nested deeper than 128 levels (arrays and objects) at line 1 column 129"
        );
        // Objects count as arrays do; brackets inside strings do not count.
        let objects = r#"{"a":"[[[{{","b":"#.repeat(MAX_JSON_DEPTH - 1)
            + "{}"
            + &"}".repeat(MAX_JSON_DEPTH - 1);
        assert!(parse_json(objects.as_bytes()).is_ok(), "{objects:.80}");
        let e = parse_json(format!("{{\"x\":\n{}", "{\"a\":".repeat(200)).as_bytes()).unwrap_err();
        assert!(e.ends_with("at line 2 column 636"), "{e}");
        // An escaped quote does not end a string.
        let tricky = format!(r#"["\"{}"]"#, "[".repeat(500));
        assert!(parse_json(tricky.as_bytes()).is_ok());
        // Still JSON: trailing bytes and bad syntax are refused as before.
        assert!(
            parse_json(b"[1] x")
                .unwrap_err()
                .contains("trailing characters")
        );
        assert!(parse_json(b"]]]]").is_err());
    }
}
