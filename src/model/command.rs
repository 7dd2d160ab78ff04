//! Commands: what a person or script asks for. The server decides each one against the
//! current state and either turns it into events or rejects it with a reason.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::postmortem::Why;
use super::{
    Briefing, Detection, EntryKind, IncidentRef, Milestone, PmSection, Role, Severity, Status,
};

fn default_entry_kind() -> EntryKind {
    EntryKind::Note
}

fn yes() -> bool {
    true
}

/// A request to change incident state. On the wire each is an object tagged by `op`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    Declare {
        title: String,
        severity: Severity,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        #[serde(default)]
        restricted: bool,
        /// Who found it (triage): recorded with the declaration, as a `triaged` event
        /// right after `declared`, in the same group.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detected_by: Option<Detection>,
    },
    Retitle {
        incident: IncidentRef,
        title: String,
    },
    SetSeverity {
        incident: IncidentRef,
        severity: Severity,
    },
    SetStatus {
        incident: IncidentRef,
        status: Status,
    },
    /// `person` may be `me`, meaning the sender.
    AssignRole {
        incident: IncidentRef,
        role: Role,
        person: String,
    },
    ReleaseRole {
        incident: IncidentRef,
        role: Role,
    },
    /// `occurred_at` backdates the entry ("impact started 01:52", logged at 02:10).
    AddEntry {
        incident: IncidentRef,
        #[serde(default = "default_entry_kind")]
        entry_kind: EntryKind,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        occurred_at: Option<DateTime<Utc>>,
        /// Status updates only: when the next one is promised, in seconds from now (the
        /// countdown follows it instead of the policy's cadence).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_update_secs: Option<u64>,
        /// Status updates only: it goes to the policy's status page too (never for a
        /// restricted incident).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        public: bool,
        /// Status updates only: the executive briefing (required on a SEV1).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        briefing: Option<Briefing>,
    },
    /// Supersede an entry; fields left out keep the original's value.
    CorrectEntry {
        incident: IncidentRef,
        entry: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        entry_kind: Option<EntryKind>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        occurred_at: Option<DateTime<Utc>>,
    },
    PinEntry {
        incident: IncidentRef,
        entry: u64,
        #[serde(default = "yes")]
        pinned: bool,
    },
    /// `occurred_at` defaults to now.
    SetMilestone {
        incident: IncidentRef,
        milestone: Milestone,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        occurred_at: Option<DateTime<Utc>>,
    },
    Acknowledge {
        incident: IncidentRef,
    },
    Resolve {
        incident: IncidentRef,
    },
    /// Tick (or untick) item `item` (1-based) of the incident's runbook checklist.
    CheckRunbookStep {
        incident: IncidentRef,
        item: u32,
        #[serde(default = "yes")]
        done: bool,
    },
    /// Write a post-mortem section; the text replaces what it held.
    EditPostmortem {
        incident: IncidentRef,
        section: PmSection,
        text: String,
    },
    /// Set the root cause's 5-whys chain (the whole chain; an empty list clears it).
    SetWhys {
        incident: IncidentRef,
        whys: Vec<Why>,
    },
    AddActionItem {
        incident: IncidentRef,
        text: String,
        /// `me` means the sender.
        owner: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due: Option<chrono::NaiveDate>,
    },
    /// Change an action item; fields left out keep their value.
    UpdateActionItem {
        incident: IncidentRef,
        item: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due: Option<chrono::NaiveDate>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        done: Option<bool>,
    },
    /// The sender takes over from `from` at shift change: every active incident records
    /// the handoff, and the sender becomes incident commander wherever `from` was.
    AcceptHandoff {
        from: String,
    },
    /// Close without a post-mortem, saying why.
    WaivePostmortem {
        incident: IncidentRef,
        reason: String,
    },
    /// Make the incident need-to-know: the sender and its role holders become its members.
    Restrict {
        incident: IncidentRef,
    },
    /// Let `person` (`me`: the sender) see a restricted incident. Admins only.
    AddMember {
        incident: IncidentRef,
        person: String,
    },
    /// Stop `person` (`me`: the sender) seeing a restricted incident. Admins only.
    RemoveMember {
        incident: IncidentRef,
        person: String,
    },
    /// Set the service the incident is about (one declared without a service gets its
    /// runbook this way).
    SetService {
        incident: IncidentRef,
        service: String,
    },
    /// Page someone now, outside the escalation plan: a person, a name under the policy's
    /// `[targets]`, or a schedule's `primary` / `secondary` (`oncall.primary`: the
    /// incident's own schedule). The feed resolves the target, delivers the page through
    /// the person's channels as it does escalation's, and records it.
    Page {
        incident: IncidentRef,
        target: String,
        /// What the page says besides the incident ("can you look at the DB pool?").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Resolve, with the answer to "was recovery verified?" (metrics back to normal, error
    /// rates down, users unblocked): what a client sends when resolving straight from
    /// investigating or identified, so the answer goes on the record.
    ResolveChecked {
        incident: IncidentRef,
        /// `true`: recovery was verified; `false`: resolved without verifying it.
        verified: bool,
    },
    /// The post-mortem is done (held with the responders and written up): the 48-hour
    /// countdown stops and the metrics count it on time or late.
    CompletePostmortem {
        incident: IncidentRef,
    },
    /// Triage answers (seed architecture): who found it, whether the impact is growing,
    /// whether a workaround exists. Fields left out keep their value; at least one is given.
    Triage {
        incident: IncidentRef,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detected_by: Option<Detection>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        impact_growing: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        workaround: Option<bool>,
    },
    /// Record a deploy of `service` (by the sender: a person or a pipeline's token), for
    /// rooms about that service and the handoff's list of the shift's deploys. Acts on no
    /// incident.
    RecordDeploy {
        service: String,
        version: String,
        /// Where it went (`production`, `eu-west`…).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        environment: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
}

impl Command {
    /// The incident the command acts on; `None` for a declaration.
    pub fn incident(&self) -> Option<IncidentRef> {
        match self {
            Command::Declare { .. }
            | Command::AcceptHandoff { .. }
            | Command::RecordDeploy { .. } => None,
            Command::Retitle { incident, .. }
            | Command::SetSeverity { incident, .. }
            | Command::SetStatus { incident, .. }
            | Command::AssignRole { incident, .. }
            | Command::ReleaseRole { incident, .. }
            | Command::AddEntry { incident, .. }
            | Command::CorrectEntry { incident, .. }
            | Command::PinEntry { incident, .. }
            | Command::SetMilestone { incident, .. }
            | Command::Acknowledge { incident }
            | Command::Resolve { incident }
            | Command::CheckRunbookStep { incident, .. }
            | Command::EditPostmortem { incident, .. }
            | Command::SetWhys { incident, .. }
            | Command::AddActionItem { incident, .. }
            | Command::UpdateActionItem { incident, .. }
            | Command::WaivePostmortem { incident, .. }
            | Command::Restrict { incident }
            | Command::AddMember { incident, .. }
            | Command::RemoveMember { incident, .. }
            | Command::SetService { incident, .. }
            | Command::Page { incident, .. }
            | Command::ResolveChecked { incident, .. }
            | Command::CompletePostmortem { incident }
            | Command::Triage { incident, .. } => Some(*incident),
        }
    }
    /// The wire name of the operation (its `op`), for metrics and log lines.
    pub fn op(&self) -> &'static str {
        match self {
            Command::Declare { .. } => "declare",
            Command::Retitle { .. } => "retitle",
            Command::SetSeverity { .. } => "set_severity",
            Command::SetStatus { .. } => "set_status",
            Command::AssignRole { .. } => "assign_role",
            Command::ReleaseRole { .. } => "release_role",
            Command::AddEntry { .. } => "add_entry",
            Command::CorrectEntry { .. } => "correct_entry",
            Command::PinEntry { .. } => "pin_entry",
            Command::SetMilestone { .. } => "set_milestone",
            Command::Acknowledge { .. } => "acknowledge",
            Command::Resolve { .. } => "resolve",
            Command::CheckRunbookStep { .. } => "check_runbook_step",
            Command::EditPostmortem { .. } => "edit_postmortem",
            Command::SetWhys { .. } => "set_whys",
            Command::AddActionItem { .. } => "add_action_item",
            Command::UpdateActionItem { .. } => "update_action_item",
            Command::AcceptHandoff { .. } => "accept_handoff",
            Command::WaivePostmortem { .. } => "waive_postmortem",
            Command::Restrict { .. } => "restrict",
            Command::AddMember { .. } => "add_member",
            Command::RemoveMember { .. } => "remove_member",
            Command::SetService { .. } => "set_service",
            Command::Page { .. } => "page",
            Command::ResolveChecked { .. } => "resolve_checked",
            Command::CompletePostmortem { .. } => "complete_postmortem",
            Command::Triage { .. } => "triage",
            Command::RecordDeploy { .. } => "record_deploy",
        }
    }
}
