//! The incident domain, pure: incidents are a fold over events, and commands are decided
//! against the folded state. No I/O, no async runtime, no terminal: the server and every
//! console run this same code over the same events, so they never disagree about state.

pub mod access;
mod command;
pub mod engine;
pub mod escalation;
mod event;
pub mod feed;
pub mod oncall;
pub mod policy;
pub mod postmortem;
pub mod response;
pub mod runbook;
mod state;
mod types;
pub mod validate;

pub use command::Command;
pub use event::{Event, EventKind};
pub use response::Response;
pub use state::{
    ApplyError, DEFAULT_RECENT_SECS, Entry, Incident, RoleTenure, State, fold_incident,
};
pub use types::{
    AlertAction, Briefing, Detection, EntryKind, IncidentRef, Milestone, PmSection, Role, Severity,
    Span, Status, StepAction,
};

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a command was refused. The message is written for the person who typed the command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub code: RejectCode,
    pub message: String,
}

/// The broad reason for a rejection, stable for scripts to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// An argument is malformed or out of range (severity 5, an empty title, an unknown role).
    Invalid,
    /// The incident or entry named does not exist.
    NotFound,
    /// The command does not fit the incident's current state (acknowledging a resolved one).
    Conflict,
    /// The sender may not do this (act on a restricted incident it is not a member of).
    Forbidden,
}

impl Rejection {
    pub fn invalid(message: impl Into<String>) -> Self {
        Rejection {
            code: RejectCode::Invalid,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Rejection {
            code: RejectCode::NotFound,
            message: message.into(),
        }
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Rejection {
            code: RejectCode::Conflict,
            message: message.into(),
        }
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Rejection {
            code: RejectCode::Forbidden,
            message: message.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rejection {}

/// Checks a person's name as given in a hello or a role assignment.
pub fn validate_name(name: &str) -> Result<String, Rejection> {
    let name = validate::text("name", name, validate::MAX_NAME, false)?;
    if RESERVED_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(Rejection::invalid(format!(
            "'{name}' is the name warroom records its own events under; choose another"
        )));
    }
    Ok(name)
}

/// Actors of events nobody types: the escalation engine and the alert sources.
pub const RESERVED_NAMES: &[&str] = &["warroom", "alertmanager", "pagerduty", "events-api"];

#[cfg(test)]
mod follow_through_tests;
#[cfg(test)]
mod stakeholder_tests;
#[cfg(test)]
mod tests;
