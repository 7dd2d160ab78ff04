//! The JSON export (`--format json`, schema `warroom.incident-export/1`): the incident as
//! its events fold, every event on it, its times, and for a restricted incident who may see
//! it and when the breach notice is due. The access section is the Markdown draft's too.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Event, Incident, Milestone};

/// The JSON export's schema, for tools that read it.
pub const JSON_SCHEMA: &str = "warroom.incident-export/1";

/// The JSON export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonExport {
    /// `warroom.incident-export/1`.
    pub schema: String,
    /// The sequence number of the last event on the incident.
    pub as_of_seq: u64,
    /// The incident as its events fold (the same shape as in the feed's snapshot).
    pub incident: Incident,
    /// Every event on the incident, in log order.
    pub events: Vec<Event>,
    /// Times to detect, acknowledge, mitigate and resolve, in seconds.
    pub times: Times,
    /// Set only on a restricted (need-to-know) incident: who may see it and when the
    /// breach notice is due. Added in schema 1 as an optional field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restricted: Option<Restricted>,
    /// When the post-mortem is due: 48 hours after resolution (absent while active or
    /// waived). Added in schema 1 as an optional field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postmortem_due_at: Option<DateTime<Utc>>,
    /// Everyone who responded, to invite to the post-mortem. Added in schema 1.
    #[serde(default)]
    pub attendees: Vec<String>,
}

/// What a restricted incident's export says about its access and its breach notice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Restricted {
    /// `Restricted (need to know)`.
    pub access: String,
    /// Its members (admins see it too without being members), by name.
    pub members: Vec<String>,
    /// When the personal-data breach notice is due: 72 hours from detection (GDPR).
    pub breach_notice_due: DateTime<Utc>,
    /// Whether that was already past at the incident's last event. From the log alone, so
    /// exporting later gives the same file: compare `breach_notice_due` with your clock.
    pub breach_notice_passed: bool,
}

/// The words the export uses for a restricted incident.
pub const RESTRICTED_LABEL: &str = "Restricted (need to know)";

/// The access section of `inc`'s export; `None` when it is not restricted.
pub fn restricted(inc: &Incident) -> Option<Restricted> {
    let due = inc.breach_notice_due()?;
    Some(Restricted {
        access: RESTRICTED_LABEL.to_string(),
        members: inc.members.keys().cloned().collect(),
        breach_notice_due: due,
        breach_notice_passed: inc.updated_at >= due,
    })
}

/// The incident's own MTTD / MTTA / MTTM / MTTR inputs, in seconds (absent when a
/// milestone is missing).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Times {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detect_secs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledge_secs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mitigate_secs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolve_secs: Option<i64>,
}

/// Detect = detected − impact started; acknowledge = acknowledged − detected; mitigate and
/// resolve count from impact started (or from detection when the start is unknown).
pub fn times(inc: &Incident) -> Times {
    let m = |k| inc.milestones.get(&k).copied();
    let start = m(Milestone::ImpactStarted).or(m(Milestone::Detected));
    let span = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| Some((b? - a?).num_seconds());
    Times {
        detect_secs: span(m(Milestone::ImpactStarted), m(Milestone::Detected)),
        acknowledge_secs: span(m(Milestone::Detected), m(Milestone::Acknowledged)),
        mitigate_secs: span(start, m(Milestone::Mitigated)),
        resolve_secs: span(start, m(Milestone::Resolved)),
    }
}

/// The JSON export of `inc` from `events` (the whole log or just this incident's).
pub fn json(inc: &Incident, events: &[Event]) -> JsonExport {
    let events: Vec<Event> = events
        .iter()
        .filter(|e| e.kind.incident() == Some(inc.reference))
        .cloned()
        .collect();
    JsonExport {
        schema: JSON_SCHEMA.to_string(),
        as_of_seq: events.last().map_or(0, |e| e.seq),
        incident: inc.clone(),
        events,
        times: times(inc),
        restricted: restricted(inc),
        postmortem_due_at: inc.postmortem_due_at(),
        attendees: inc.responders(),
    }
}
