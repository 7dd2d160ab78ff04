//! Queries: what a client may ask the feed (an incident, a page of its timeline, the
//! archive, an export, the metrics, the log) and the results that answer them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::IncidentRef;

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
