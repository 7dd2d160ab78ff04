//! The incident export: a Markdown post-mortem draft (seed template) and a JSON document
//! with the incident's full event history and its derived state. Pure: the incident and its
//! events in, text out. Times are UTC; the export depends only on the log, never on the
//! clock, so exporting twice gives the same file. A restricted incident's export says so,
//! names its members and gives its breach-notice deadline (whether it had passed is judged
//! at the incident's last event, not now).
//!
//! This file holds what every caller needs (the format a person names, the reader's
//! incident, the export as text); `markdown` writes the post-mortem draft and `json` the
//! document for tools.

use serde::{Deserialize, Serialize};

use crate::model::{Event, Incident, IncidentRef, State};

mod json;
mod markdown;

pub use json::{
    JSON_SCHEMA, JsonExport, RESTRICTED_LABEL, Restricted, Times, json, restricted, times,
};
pub use markdown::markdown;

/// The export formats (`"md"`, `"json"` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExportFormat {
    #[serde(rename = "md")]
    Markdown,
    #[serde(rename = "json")]
    Json,
}

impl ExportFormat {
    /// The file extension.
    pub fn ext(self) -> &'static str {
        match self {
            ExportFormat::Markdown => "md",
            ExportFormat::Json => "json",
        }
    }
}

/// `md`, `markdown` or `json`, as a person writes it.
pub fn parse_format(s: &str) -> Result<ExportFormat, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "md" | "markdown" => Ok(ExportFormat::Markdown),
        "json" => Ok(ExportFormat::Json),
        _ => Err(format!("'{s}' is not an export format: use md or json")),
    }
}

/// An incident's export from the feed's log as this reader received it.
pub fn export_text(
    events: &[Event],
    incident: IncidentRef,
    format: ExportFormat,
) -> Result<String, String> {
    let state =
        State::from_events(events).map_err(|e| format!("the feed's log does not fold: {e}"))?;
    let inc = visible_incident(&state, incident)?;
    render(inc, events, format)
}

/// An incident's export from the incident and its events (the whole log's, or only its
/// own): what the feed answers an `export` query with, and the CLI wrote before it asked.
pub fn render(inc: &Incident, events: &[Event], format: ExportFormat) -> Result<String, String> {
    Ok(match format {
        ExportFormat::Markdown => markdown(inc),
        ExportFormat::Json => {
            let mut s = serde_json::to_string_pretty(&json(inc, events))
                .map_err(|e| format!("the export could not be written as JSON: {e}"))?;
            s.push('\n');
            s
        }
    })
}

/// The incident, or why this reader cannot have it: restricted and withheld from them (the
/// state holds only its reference), or not there at all.
pub fn visible_incident(state: &State, incident: IncidentRef) -> Result<&Incident, String> {
    if state.withheld.contains(&incident) {
        return Err(format!(
            "{incident} is restricted (need to know): you are not a member; ask an admin to add you"
        ));
    }
    state.incident(incident).ok_or_else(|| {
        format!(
            "{incident} does not exist (the feed has {} incidents)",
            state.incidents.len()
        )
    })
}

#[cfg(test)]
mod tests;
