//! Escalation as data. When a run starts, the server records its whole plan (steps, repeat,
//! round length, acknowledgement timeout) in the log, so every console can show the next
//! step and its countdown from state alone, and a policy edited later never changes a run
//! already under way. Which step is next, and when it is due, is a pure function of the run.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{Severity, StepAction};

/// A step fired this long after its due time is marked late (the server was down, or busy).
pub const LATE_AFTER_SECS: i64 = 60;

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedStep {
    /// Seconds after the start of the round.
    pub after_secs: u64,
    pub action: StepAction,
    /// What the policy names: `oncall.primary`, `engineering-manager`, a person.
    pub target: String,
    /// Whom the target resolved to when the run started: a forecast for the console. The
    /// person actually paged is resolved when the step fires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
}

/// The escalation policy for one severity, as recorded when a run starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub severity: Severity,
    pub steps: Vec<PlannedStep>,
    /// Further rounds run while nobody acknowledges.
    #[serde(default)]
    pub repeat: u32,
    /// Length of one round: round N starts N × this after the run started.
    pub round_secs: u64,
    /// After an acknowledgement with no progress for this long, escalation starts again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_timeout_secs: Option<u64>,
}

/// A step that has fired (or was skipped because its target had nobody).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiredStep {
    pub round: u32,
    pub step: u32,
    pub action: StepAction,
    pub target: String,
    /// `None`: nobody was on call for the target, so the step was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    pub due_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
    pub late: bool,
    /// The event that fired it; notifications refer to it.
    pub seq: u64,
    /// Delivery results so far: (channel, delivered).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<(String, bool)>,
}

/// Why and when a run stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stop {
    pub at: DateTime<Utc>,
    pub reason: StopReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Acknowledged,
    Resolved,
    /// Raised: a new run on the new severity's policy follows.
    Raised,
    /// Lowered: nobody new is paged.
    Lowered,
    /// Every step of every round has fired.
    Exhausted,
}

/// One escalation run of an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    /// The sequence number of the event that started the run.
    pub run: u64,
    pub plan: Plan,
    pub started_at: DateTime<Utc>,
    pub fired: Vec<FiredStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stop>,
}

/// The step a run will fire next.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub run: u64,
    pub round: u32,
    pub step: u32,
    pub due_at: DateTime<Utc>,
    pub action: StepAction,
    pub target: String,
    pub expected: Option<String>,
}

impl Escalation {
    pub fn is_live(&self) -> bool {
        self.stopped.is_none()
    }

    /// The next step to fire, whatever the time: steps fire in order, each once. A step
    /// after a skipped one is due at once (nobody was there to wait for).
    pub fn next(&self) -> Option<Pending> {
        if !self.is_live() {
            return None;
        }
        self.next_in_plan()
    }

    fn next_in_plan(&self) -> Option<Pending> {
        let n = self.plan.steps.len();
        if n == 0 {
            return None;
        }
        let k = self.fired.len();
        let round = u32::try_from(k / n).ok()?;
        if round > self.plan.repeat {
            return None;
        }
        let step = k % n;
        let s = &self.plan.steps[step];
        let offset = u64::from(round)
            .saturating_mul(self.plan.round_secs)
            .saturating_add(s.after_secs);
        let mut due_at = self.started_at + secs(offset);
        if let Some(prev) = self.fired.last()
            && prev.person.is_none()
        {
            due_at = due_at.min(prev.at);
        }
        Some(Pending {
            run: self.run,
            round,
            step: u32::try_from(step).ok()?,
            due_at,
            action: s.action,
            target: s.target.clone(),
            expected: s.expected.clone(),
        })
    }

    /// True when every step of every round has fired.
    pub fn is_exhausted(&self) -> bool {
        self.next_in_plan().is_none()
    }

    /// The last step that reached somebody.
    pub fn last_paged(&self) -> Option<&FiredStep> {
        self.fired.iter().rev().find(|f| f.person.is_some())
    }

    /// The fired step recorded by event `seq`.
    pub fn fired_by_seq_mut(&mut self, seq: u64) -> Option<&mut FiredStep> {
        self.fired.iter_mut().find(|f| f.seq == seq)
    }
}

/// A page sent on demand (`:page`, `warroom page`), outside any escalation run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnDemandPage {
    /// The `paged` event's sequence number: deliveries and the acknowledgement name it.
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// Who asked for it.
    pub by: String,
    /// What was typed: a person, a `[targets]` name, `SCHEDULE.primary` …
    pub target: String,
    /// Whom it reached.
    pub person: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Delivery results so far: (channel, delivered).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<(String, bool)>,
    /// When the person paged acknowledged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<DateTime<Utc>>,
}

/// Seconds as a chrono duration, saturating instead of overflowing.
pub fn secs(s: u64) -> Duration {
    Duration::seconds(
        i64::try_from(s)
            .unwrap_or(i64::MAX / 1000)
            .min(i64::MAX / 1000),
    )
}

/// `4:12`, `1:02:03`: a countdown or an elapsed time as responders read it.
pub fn clock_span(d: Duration) -> String {
    let t = d.num_seconds().abs();
    let (h, m, s) = (t / 3600, (t % 3600) / 60, t % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}
