//! The policy: services and their criticality, the severity rules that classify an alert,
//! escalation, on-call, cadences and notification channels. Policies are data
//! (`assets/policy.toml` is the default, reproducing the seed guide's classifier). Pure: text
//! in, decisions out.
//!
//! Here: the checked [`Policy`] and the questions the engine asks it (whom a target means
//! now, the escalation plan, the cadence, where notifications go). Beside it: the file's
//! shapes as written (`file`), the checks that turn a file into a policy (`check`), the
//! severity rules and the classifier (`classify`), and what consoles are told (`public`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::escalation::{Plan, PlannedStep};
use super::oncall::{Layer, Schedule};
use super::{Severity, StepAction};

mod check;
mod classify;
mod file;
mod paging;
mod public;
mod stakeholders;

/// Durations in policies are written as spans (`5m`); the type lives with the domain's other
/// small value types, and stays reachable here where policy readers look for it.
pub use super::types::Span;
pub use classify::{AlertContext, Classification, Criticality, Outcome, Rule};
pub use file::{Channel, NotifySettings, TrackerSpec, WebhookFormat};
use file::{EscalationSpec, OncallSpec, PersonSpec, PostmortemSpec, Services};
pub use public::{PublicPolicy, RunbookRef};
pub use stakeholders::StatusPage;

/// The default policy, embedded.
pub const DEFAULT_POLICY: &str = include_str!("../../../assets/policy.toml");

/// A checked policy.
#[derive(Debug, Clone)]
pub struct Policy {
    services: Services,
    rules: Vec<Rule>,
    escalation: BTreeMap<Severity, EscalationSpec>,
    cadence: BTreeMap<Severity, Span>,
    targets: BTreeMap<String, String>,
    oncall: OncallSpec,
    schedules: Vec<Schedule>,
    people: BTreeMap<String, PersonSpec>,
    channels: BTreeMap<String, Channel>,
    notify: NotifySettings,
    runbooks: BTreeMap<String, String>,
    /// Call link templates by severity (`{incident}`, `{number}` filled in).
    bridge: BTreeMap<Severity, String>,
    postmortem: PostmortemSpec,
    tracker: Option<TrackerSpec>,
    /// Who every status update goes to, by severity (people under `[people]`).
    stakeholders: BTreeMap<Severity, Vec<String>>,
    /// Where public status updates go.
    status_page: Option<StatusPage>,
}

impl PartialEq for Policy {
    fn eq(&self, other: &Self) -> bool {
        self.services == other.services
            && self.rules == other.rules
            && self.escalation == other.escalation
            && self.cadence == other.cadence
            && self.targets == other.targets
            && self.oncall == other.oncall
            && self.people == other.people
            && self.channels == other.channels
            && self.notify == other.notify
            && self.runbooks == other.runbooks
            && self.bridge == other.bridge
            && self.postmortem == other.postmortem
            && self.tracker == other.tracker
            && self.stakeholders == other.stakeholders
            && self.status_page == other.status_page
            && self.schedules.len() == other.schedules.len()
    }
}

/// `sev1` … `sev4` as policy tables name them.
fn severity_key(k: &str) -> Option<Severity> {
    k.parse::<Severity>().ok()
}

/// A schedule layer as targets write it (`oncall.primary`, `platform.secondary`).
fn parse_layer(s: &str) -> Option<Layer> {
    match s {
        "primary" => Some(Layer::Primary),
        "secondary" => Some(Layer::Secondary),
        _ => None,
    }
}

impl Policy {
    /// The default policy. It is checked by the test suite, so this cannot fail in a
    /// released build; should it ever, an empty policy (everything SEV4) stands in.
    pub fn default_policy() -> Policy {
        Policy::parse(DEFAULT_POLICY).unwrap_or_else(|_| Policy {
            services: Services::default(),
            rules: Vec::new(),
            escalation: BTreeMap::new(),
            cadence: BTreeMap::new(),
            targets: BTreeMap::new(),
            oncall: OncallSpec::default(),
            schedules: Vec::new(),
            people: BTreeMap::new(),
            channels: BTreeMap::new(),
            notify: NotifySettings::default(),
            runbooks: BTreeMap::new(),
            bridge: BTreeMap::new(),
            postmortem: PostmortemSpec::default(),
            tracker: None,
            stakeholders: BTreeMap::new(),
            status_page: None,
        })
    }

    /// The on-call schedules.
    pub fn schedules(&self) -> &[Schedule] {
        &self.schedules
    }

    /// The schedule that covers a service: its own, else the default, else the first.
    pub fn schedule_for(&self, service: Option<&str>) -> Option<&Schedule> {
        let by_name = |n: &str| self.schedules.iter().find(|s| s.name() == n);
        service
            .and_then(|s| self.oncall.services.get(s))
            .and_then(|n| by_name(n))
            .or_else(|| self.oncall.default_schedule.as_deref().and_then(by_name))
            .or_else(|| self.schedules.first())
    }

    /// Whom an escalation target means at `at`, for an incident on `service`; `None` when
    /// nobody is on call for it.
    pub fn resolve_target(
        &self,
        target: &str,
        service: Option<&str>,
        at: DateTime<Utc>,
    ) -> Option<String> {
        self.resolve_in(target, service, at, 0)
    }

    fn resolve_in(
        &self,
        target: &str,
        service: Option<&str>,
        at: DateTime<Utc>,
        depth: u8,
    ) -> Option<String> {
        if let Some((sched, layer)) = target.split_once('.')
            && let Some(layer) = parse_layer(layer)
        {
            let schedule = if sched == "oncall" {
                self.schedule_for(service)
            } else {
                self.schedules.iter().find(|s| s.name() == sched)
            };
            return schedule
                .and_then(|s| s.on_call(layer, at))
                .map(|s| s.person);
        }
        if let Some(v) = self.targets.get(target) {
            if depth > 0 {
                return Some(v.clone());
            }
            return self.resolve_in(v, service, at, depth + 1);
        }
        Some(target.to_string())
    }

    /// The escalation plan for a severity, for an incident on `service`, as of `at`.
    pub fn plan(&self, severity: Severity, service: Option<&str>, at: DateTime<Utc>) -> Plan {
        let Some(spec) = self.escalation.get(&severity) else {
            return Plan {
                severity,
                steps: Vec::new(),
                repeat: 0,
                round_secs: 0,
                ack_timeout_secs: None,
            };
        };
        // A step naming several targets is one planned step per target, at its time.
        let steps: Vec<PlannedStep> = spec
            .steps
            .iter()
            .flat_map(|st| {
                let (action, targets) = match (&st.page, &st.notify, &st.ticket) {
                    (Some(t), _, _) => (StepAction::Page, t.names().to_vec()),
                    (_, Some(t), _) => (StepAction::Notify, t.names().to_vec()),
                    (_, _, Some(t)) => (StepAction::Ticket, vec![t.clone()]),
                    _ => (StepAction::Notify, vec![String::new()]),
                };
                let after =
                    self.wait_for_hours(st.after.0.as_secs(), st.business_hours, service, at);
                targets
                    .into_iter()
                    .map(move |target| (after, action, target))
            })
            .map(|(after_secs, action, target)| {
                let expected = match action {
                    StepAction::Ticket => Some(target.clone()),
                    _ => self.resolve_target(&target, service, at),
                };
                PlannedStep {
                    after_secs,
                    action,
                    target,
                    expected,
                }
            })
            .collect();
        let round_secs = match spec.round {
            Some(r) => r.0.as_secs(),
            None => {
                let afters: Vec<u64> = spec.steps.iter().map(|s| s.after.0.as_secs()).collect();
                let last = afters.last().copied().unwrap_or(0);
                let gap = match afters.len() {
                    0 | 1 => 300,
                    n => last - afters[n - 2],
                };
                last + gap.max(60)
            }
        };
        Plan {
            severity,
            steps,
            repeat: spec.repeat,
            round_secs,
            ack_timeout_secs: spec.ack_timeout.map(|s| s.0.as_secs()),
        }
    }

    /// A step's delay from `at`: `after_secs`, or, for a step that waits for business
    /// hours and would fall outside the working hours of the service's schedule, until
    /// they next begin.
    fn wait_for_hours(
        &self,
        after_secs: u64,
        business_hours: bool,
        service: Option<&str>,
        at: DateTime<Utc>,
    ) -> u64 {
        let due = at + chrono::Duration::seconds(i64::try_from(after_secs).unwrap_or(i64::MAX / 2));
        match self.schedule_for(service) {
            Some(s) if business_hours => {
                let when = s.next_working_time(due);
                u64::try_from((when - at).num_seconds()).unwrap_or(after_secs)
            }
            _ => after_secs,
        }
    }

    /// How often status updates are due for a severity (seed: every 15-30 min for SEV1/2).
    pub fn cadence(&self, severity: Severity) -> Option<u64> {
        self.cadence.get(&severity).map(|s| s.0.as_secs())
    }

    /// The channels a person's notifications go to.
    pub fn channels_for(&self, person: &str) -> Vec<(&str, &Channel)> {
        let names = match self.people.get(person) {
            Some(p) if !p.channels.is_empty() => &p.channels,
            _ => &self.notify.default_channels,
        };
        names
            .iter()
            .filter_map(|n| self.channels.get(n).map(|c| (n.as_str(), c)))
            .collect()
    }

    /// A channel by name (tickets name their queue's channel directly).
    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels.get(name)
    }

    pub fn notify_settings(&self) -> &NotifySettings {
        &self.notify
    }

    /// The call link of a war room of `severity` (the policy's `[bridge]` template with
    /// `{incident}` and `{number}` filled in); `None` when the policy gives none.
    pub fn bridge(&self, severity: Severity, incident: super::IncidentRef) -> Option<String> {
        self.bridge.get(&severity).map(|t| {
            t.replace("{incident}", &incident.to_string())
                .replace("{number}", &incident.0.to_string())
        })
    }

    /// How long after it is added an action item given no due date is due (`[postmortem]
    /// action_item_due`); `None`: a due date must be given.
    pub fn action_item_due_secs(&self) -> Option<u64> {
        self.postmortem.action_item_due.map(|s| s.0.as_secs())
    }

    /// The tracker that opens a ticket per action item (`[tracker]`), if any.
    pub fn tracker(&self) -> Option<&TrackerSpec> {
        self.tracker.as_ref()
    }

    /// Runbook files the policy names, by service or alert name (paths as written).
    pub fn runbook_paths(&self) -> &BTreeMap<String, String> {
        &self.runbooks
    }
}
