//! Events: what happened, as recorded by the server. The log of events is the truth; all
//! state is derived from it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::escalation::Plan;
use super::postmortem::Why;
use super::runbook::Runbook;
use super::{
    AlertAction, Briefing, Detection, EntryKind, IncidentRef, Milestone, PmSection, Role, Severity,
    Status, StepAction,
};

/// One recorded fact, with the server-assigned contiguous sequence number, the server's
/// timestamp and the authenticated actor who caused it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub actor: String,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Every kind of fact the log holds. New kinds are added at the end; existing ones never
/// change meaning, because old logs must fold to the same state forever.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    Declared {
        incident: IncidentRef,
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        severity: Severity,
        #[serde(default)]
        restricted: bool,
        /// The deduplication key of the alert that opened it: later alerts with the same
        /// key attach to it while it is open.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alert_key: Option<String>,
    },
    Retitled {
        incident: IncidentRef,
        title: String,
    },
    SeverityChanged {
        incident: IncidentRef,
        from: Severity,
        to: Severity,
    },
    StatusChanged {
        incident: IncidentRef,
        from: Status,
        to: Status,
    },
    RoleAssigned {
        incident: IncidentRef,
        role: Role,
        person: String,
    },
    RoleReleased {
        incident: IncidentRef,
        role: Role,
        person: String,
    },
    /// A timeline entry. Its id is this event's sequence number; recorded-at is the event's
    /// time and the author its actor.
    EntryAdded {
        incident: IncidentRef,
        entry_kind: EntryKind,
        text: String,
        occurred_at: DateTime<Utc>,
        /// Status updates: the next one is promised this many seconds after this event.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_update_secs: Option<u64>,
        /// Status updates: it went to the status page as well.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        public: bool,
        /// Status updates: the executive briefing (every SEV1 update has one).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        briefing: Option<Briefing>,
    },
    /// A correction: a new entry (id = this event's seq) that supersedes `entry`, which stays.
    EntryCorrected {
        incident: IncidentRef,
        entry: u64,
        entry_kind: EntryKind,
        text: String,
        occurred_at: DateTime<Utc>,
    },
    EntryPinned {
        incident: IncidentRef,
        entry: u64,
        pinned: bool,
    },
    /// When the milestone happened. (Not `at`: that is the event's own recording time.)
    MilestoneSet {
        incident: IncidentRef,
        milestone: Milestone,
        occurred_at: DateTime<Utc>,
    },
    Acknowledged {
        incident: IncidentRef,
    },
    Resolved {
        incident: IncidentRef,
    },
    /// An escalation run began, with its whole plan (so the plan cannot change under it).
    EscalationStarted {
        incident: IncidentRef,
        plan: Plan,
        reason: String,
    },
    /// A step of the current run fired; `person: None` means its target had nobody and it
    /// was skipped.
    StepFired {
        incident: IncidentRef,
        run: u64,
        round: u32,
        step: u32,
        action: StepAction,
        target: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        person: Option<String>,
        due_at: DateTime<Utc>,
        late: bool,
    },
    /// The outcome of delivering a fired step to one channel.
    NotificationResult {
        incident: IncidentRef,
        /// The sequence number of the `step_fired` event delivered.
        step_seq: u64,
        person: String,
        channel: String,
        delivered: bool,
        attempts: u32,
        detail: String,
    },
    /// An acknowledgement saw no progress within the policy's timeout: it lapses and
    /// escalation starts again.
    AckExpired {
        incident: IncidentRef,
        acknowledged_by: String,
        idle_secs: u64,
    },
    /// An alert from monitoring concerning this incident.
    AlertReceived {
        incident: IncidentRef,
        source: String,
        dedup_key: String,
        action: AlertAction,
        summary: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    /// The status-update cadence in force (from the policy, by severity); `None`: none.
    CadenceSet {
        incident: IncidentRef,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        every_secs: Option<u64>,
    },
    RunbookAttached {
        incident: IncidentRef,
        runbook: Runbook,
    },
    /// A runbook checklist item (1-based) ticked or unticked.
    RunbookStepChecked {
        incident: IncidentRef,
        item: u32,
        done: bool,
    },
    /// A post-mortem section written (or rewritten: the text replaces the old one).
    PostmortemEdited {
        incident: IncidentRef,
        section: PmSection,
        text: String,
    },
    /// The root cause as a 5-whys chain, replacing the previous chain.
    WhysSet {
        incident: IncidentRef,
        whys: Vec<Why>,
    },
    /// A post-mortem action item; its id is this event's sequence number.
    ActionItemAdded {
        incident: IncidentRef,
        text: String,
        owner: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due: Option<chrono::NaiveDate>,
    },
    /// An action item's new values (all of them).
    ActionItemUpdated {
        incident: IncidentRef,
        item: u64,
        text: String,
        owner: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due: Option<chrono::NaiveDate>,
        done: bool,
    },
    /// No post-mortem is needed, and why.
    PostmortemWaived {
        incident: IncidentRef,
        reason: String,
    },
    /// The incident became need-to-know after it was declared: from now on only `members`
    /// (and admins) receive its content.
    Restricted {
        incident: IncidentRef,
        members: Vec<String>,
    },
    /// `person` may now see the restricted incident.
    MemberAdded {
        incident: IncidentRef,
        person: String,
    },
    /// `person` may no longer see the restricted incident.
    MemberRemoved {
        incident: IncidentRef,
        person: String,
    },
    /// Never in the log: what a reader who may not see a restricted incident receives in
    /// place of each of its events, so its sequence stays whole. It says only that the
    /// incident exists.
    Withheld {
        incident: IncidentRef,
    },
    /// The service the incident is about, set or changed after its declaration.
    ServiceChanged {
        incident: IncidentRef,
        service: String,
    },
    /// Someone was paged on demand (the actor asked for it): `target` as typed, resolved
    /// to `person`. Its id is this event's sequence number; deliveries refer to it as they
    /// do to a fired step.
    Paged {
        incident: IncidentRef,
        target: String,
        person: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// The person paged on demand by event `page` acknowledged it (the actor).
    PageAcknowledged {
        incident: IncidentRef,
        page: u64,
    },
    /// The answer to "was recovery verified?" given when resolving straight from
    /// investigating or identified; the `resolved` event follows it.
    RecoveryChecked {
        incident: IncidentRef,
        verified: bool,
    },
    /// The post-mortem was marked done (its actor is who marked it).
    PostmortemCompleted {
        incident: IncidentRef,
    },
    /// Triage answers given (only those that changed are present).
    Triaged {
        incident: IncidentRef,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detected_by: Option<Detection>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        impact_growing: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        workaround: Option<bool>,
    },
    /// A deploy of `service` (the actor: who or what deployed it). A feed-level event: it
    /// belongs to no incident.
    DeployRecorded {
        service: String,
        version: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        environment: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// An alert the policy classified as informational, kept for the stand-up digest
    /// instead of opening an incident. A feed-level event: it belongs to no incident.
    AlertNoted {
        source: String,
        dedup_key: String,
        summary: String,
        why: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
    },
    /// The policy's tracker opened a ticket for action item `item` (the sequence number of
    /// its `action_item_added`): its reference, and where it is when the tracker said.
    ActionItemTicketed {
        incident: IncidentRef,
        item: u64,
        reference: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
}

impl EventKind {
    /// The incident this event belongs to; `None` for the feed-level events (a deploy, an
    /// alert noted for the digest), which every reader may have.
    pub fn incident(&self) -> Option<IncidentRef> {
        Some(match self {
            EventKind::Declared { incident, .. }
            | EventKind::Retitled { incident, .. }
            | EventKind::SeverityChanged { incident, .. }
            | EventKind::StatusChanged { incident, .. }
            | EventKind::RoleAssigned { incident, .. }
            | EventKind::RoleReleased { incident, .. }
            | EventKind::EntryAdded { incident, .. }
            | EventKind::EntryCorrected { incident, .. }
            | EventKind::EntryPinned { incident, .. }
            | EventKind::MilestoneSet { incident, .. }
            | EventKind::Acknowledged { incident }
            | EventKind::Resolved { incident }
            | EventKind::EscalationStarted { incident, .. }
            | EventKind::StepFired { incident, .. }
            | EventKind::NotificationResult { incident, .. }
            | EventKind::AckExpired { incident, .. }
            | EventKind::AlertReceived { incident, .. }
            | EventKind::CadenceSet { incident, .. }
            | EventKind::RunbookAttached { incident, .. }
            | EventKind::RunbookStepChecked { incident, .. }
            | EventKind::PostmortemEdited { incident, .. }
            | EventKind::WhysSet { incident, .. }
            | EventKind::ActionItemAdded { incident, .. }
            | EventKind::ActionItemUpdated { incident, .. }
            | EventKind::PostmortemWaived { incident, .. }
            | EventKind::Restricted { incident, .. }
            | EventKind::MemberAdded { incident, .. }
            | EventKind::MemberRemoved { incident, .. }
            | EventKind::Withheld { incident }
            | EventKind::ServiceChanged { incident, .. }
            | EventKind::Paged { incident, .. }
            | EventKind::PageAcknowledged { incident, .. }
            | EventKind::RecoveryChecked { incident, .. }
            | EventKind::PostmortemCompleted { incident }
            | EventKind::Triaged { incident, .. }
            | EventKind::ActionItemTicketed { incident, .. } => *incident,
            EventKind::DeployRecorded { .. } | EventKind::AlertNoted { .. } => return None,
        })
    }

    /// The wire name of this kind (`declared`, `entry_added`, …).
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Declared { .. } => "declared",
            EventKind::Retitled { .. } => "retitled",
            EventKind::SeverityChanged { .. } => "severity_changed",
            EventKind::StatusChanged { .. } => "status_changed",
            EventKind::RoleAssigned { .. } => "role_assigned",
            EventKind::RoleReleased { .. } => "role_released",
            EventKind::EntryAdded { .. } => "entry_added",
            EventKind::EntryCorrected { .. } => "entry_corrected",
            EventKind::EntryPinned { .. } => "entry_pinned",
            EventKind::MilestoneSet { .. } => "milestone_set",
            EventKind::Acknowledged { .. } => "acknowledged",
            EventKind::Resolved { .. } => "resolved",
            EventKind::EscalationStarted { .. } => "escalation_started",
            EventKind::StepFired { .. } => "step_fired",
            EventKind::NotificationResult { .. } => "notification_result",
            EventKind::AckExpired { .. } => "ack_expired",
            EventKind::AlertReceived { .. } => "alert_received",
            EventKind::CadenceSet { .. } => "cadence_set",
            EventKind::RunbookAttached { .. } => "runbook_attached",
            EventKind::RunbookStepChecked { .. } => "runbook_step_checked",
            EventKind::PostmortemEdited { .. } => "postmortem_edited",
            EventKind::WhysSet { .. } => "whys_set",
            EventKind::ActionItemAdded { .. } => "action_item_added",
            EventKind::ActionItemUpdated { .. } => "action_item_updated",
            EventKind::PostmortemWaived { .. } => "postmortem_waived",
            EventKind::Restricted { .. } => "restricted",
            EventKind::MemberAdded { .. } => "member_added",
            EventKind::MemberRemoved { .. } => "member_removed",
            EventKind::Withheld { .. } => "withheld",
            EventKind::ServiceChanged { .. } => "service_changed",
            EventKind::Paged { .. } => "paged",
            EventKind::PageAcknowledged { .. } => "page_acknowledged",
            EventKind::RecoveryChecked { .. } => "recovery_checked",
            EventKind::PostmortemCompleted { .. } => "postmortem_completed",
            EventKind::Triaged { .. } => "triaged",
            EventKind::DeployRecorded { .. } => "deploy_recorded",
            EventKind::AlertNoted { .. } => "alert_noted",
            EventKind::ActionItemTicketed { .. } => "action_item_ticketed",
        }
    }
}
