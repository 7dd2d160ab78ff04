//! Error codes, and the answer to a command as it is stored for replay and sent back:
//! accepted with its events, or refused with a code and a reason a person can read.

use serde::{Deserialize, Serialize};

use super::ServerMessage;
use crate::model::{IncidentRef, RejectCode, Rejection};

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

/// A `forbidden` answer as a person reads it: always "not allowed: …".
pub fn not_allowed(message: &str) -> String {
    if message.starts_with("not allowed") {
        message.to_string()
    } else {
        format!("not allowed: {message}")
    }
}
