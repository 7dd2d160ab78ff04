//! What a feed tells its consoles of its policy: everything a responder may read (who is on
//! call and when that changes, whom each escalation step pages, how often status updates are
//! due, which runbooks exist) and nothing that is a secret or only the feed's business
//! (channels with their webhook URLs and commands, notification settings, the severity rules;
//! runbooks are named, not sent). A console works from this, never from a policy file of its
//! own, so what it says about on-call is what the feed pages by.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{EscalationSpec, NotifySettings, OncallSpec, PersonSpec, Policy, Services, Span};
use crate::model::oncall::{Schedule, ScheduleSpec};

/// The readable part of a policy, as the feed sends it (`policy` message). Its parts keep
/// the policy file's own shapes: a schedule here is the `[[schedule]]` table as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PublicPolicy {
    #[serde(default)]
    services: Services,
    /// By severity (`sev1` … `sev4`).
    #[serde(default)]
    escalation: BTreeMap<String, EscalationSpec>,
    /// Status-update cadence by severity (`sev1` … `sev4`).
    #[serde(default)]
    cadence: BTreeMap<String, Span>,
    #[serde(default)]
    targets: BTreeMap<String, String>,
    #[serde(default)]
    oncall: OncallSpec,
    #[serde(default)]
    schedules: Vec<ScheduleSpec>,
    /// Everyone the policy lists under `[people]` (where their notifications go is not sent).
    #[serde(default)]
    people: Vec<String>,
    /// The runbooks the feed attaches, by service or alert name.
    #[serde(default)]
    runbooks: Vec<RunbookRef>,
    /// The war rooms' call link templates by severity (`sev1` … `sev4`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    bridge: BTreeMap<String, String>,
    /// Who every status update goes to, by severity (`sev1` … `sev4`): names only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    stakeholders: BTreeMap<String, Vec<String>>,
    /// The policy has a status page (its URL and token are the feed's business).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    status_page: bool,
}

/// A runbook the feed has: what it is found by, and its title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookRef {
    pub name: String,
    pub title: String,
}

impl Policy {
    /// What consoles may be told of this policy, with the runbooks the feed loaded for it.
    pub fn public(&self, runbooks: Vec<RunbookRef>) -> PublicPolicy {
        let by_severity = |s: &crate::model::Severity| format!("sev{}", *s as u8);
        PublicPolicy {
            services: self.services.clone(),
            escalation: self
                .escalation
                .iter()
                .map(|(s, e)| (by_severity(s), e.clone()))
                .collect(),
            cadence: self
                .cadence
                .iter()
                .map(|(s, c)| (by_severity(s), *c))
                .collect(),
            targets: self.targets.clone(),
            oncall: self.oncall.clone(),
            schedules: self.schedules.iter().map(|s| s.spec().clone()).collect(),
            people: self.people.keys().cloned().collect(),
            runbooks,
            bridge: self
                .bridge
                .iter()
                .map(|(s, b)| (by_severity(s), b.clone()))
                .collect(),
            stakeholders: self
                .stakeholders
                .iter()
                .map(|(s, names)| (by_severity(s), names.clone()))
                .collect(),
            status_page: self.status_page.is_some(),
        }
    }
}

impl PublicPolicy {
    /// Checks what the feed sent and makes a policy of it: schedules, escalation, cadences
    /// and targets as the feed has them; no severity rules, no channels. Every problem is
    /// reported (a feed never sends one it did not accept itself, but a frame is input).
    pub fn check(&self) -> Result<Policy, Vec<String>> {
        let mut errors = Vec::new();
        let mut by_severity = |table: &str, key: &str| {
            let s = super::severity_key(key);
            if s.is_none() {
                errors.push(format!(
                    "{table}: \"{key}\" is not a severity (sev1 … sev4)"
                ));
            }
            s
        };
        let escalation = self
            .escalation
            .iter()
            .filter_map(|(k, e)| Some((by_severity("escalation", k)?, e.clone())))
            .collect();
        let cadence = self
            .cadence
            .iter()
            .filter_map(|(k, c)| Some((by_severity("cadence", k)?, *c)))
            .collect();
        let bridge = self
            .bridge
            .iter()
            .filter_map(|(k, b)| Some((by_severity("bridge", k)?, b.clone())))
            .collect();
        let stakeholders = self
            .stakeholders
            .iter()
            .filter_map(|(k, n)| Some((by_severity("stakeholders", k)?, n.clone())))
            .collect();
        let schedules = Schedule::from_specs(&self.schedules).unwrap_or_else(|es| {
            errors.extend(es);
            Vec::new()
        });
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Policy {
            services: self.services.clone(),
            rules: Vec::new(),
            escalation,
            cadence,
            targets: self.targets.clone(),
            oncall: self.oncall.clone(),
            schedules,
            people: self
                .people
                .iter()
                .map(|n| (n.clone(), PersonSpec::default()))
                .collect(),
            channels: BTreeMap::new(),
            notify: NotifySettings::default(),
            runbooks: BTreeMap::new(),
            bridge,
            postmortem: Default::default(),
            tracker: None,
            stakeholders,
            // Consoles are told only that there is one.
            status_page: None,
        })
    }

    /// The policy has a status page public updates go to.
    pub fn has_status_page(&self) -> bool {
        self.status_page
    }

    /// The runbooks the feed has.
    pub fn runbooks(&self) -> &[RunbookRef] {
        &self.runbooks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;
    use crate::model::oncall::Layer;
    use chrono::{TimeZone, Utc};

    const POLICY: &str = r#"
[escalation.sev1]
steps = [
  { after = "0m", page = "oncall.primary" },
  { after = "5m", page = "boss" },
]
ack_timeout = "30m"

[cadence]
sev1 = "15m"

[targets]
boss = "ines"

[people.ines]
channels = ["ines-phone"]

[channel.ines-phone]
webhook = "https://hooks.example.com/T000/SECRET"

[oncall]
default_schedule = "night"

[[schedule]]
name = "night"
time_zone = "Europe/Berlin"
start = "2026-11-02"
primary = ["zoe", "yann"]

[[schedule.override]]
layer = "primary"
person = "xena"
from = "2026-11-03 10:00"
until = "2026-11-03 12:00"
"#;

    #[test]
    fn a_policy_crosses_the_wire_without_its_secrets_and_pages_the_same_people() {
        let policy = Policy::parse(POLICY).unwrap();
        let public = policy.public(vec![RunbookRef {
            name: "payments".into(),
            title: "Payments".into(),
        }]);
        let wire = serde_json::to_string(&public).unwrap();
        assert!(
            !wire.contains("SECRET") && !wire.contains("ines-phone"),
            "{wire}"
        );
        let back: PublicPolicy = serde_json::from_str(&wire).unwrap();
        assert_eq!(back, public);
        let checked = back.check().unwrap();
        for at in [
            Utc.with_ymd_and_hms(2026, 11, 3, 10, 30, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 20, 3, 0, 0).unwrap(),
        ] {
            for target in ["oncall.primary", "oncall.secondary", "boss"] {
                assert_eq!(
                    checked.resolve_target(target, None, at),
                    policy.resolve_target(target, None, at),
                    "{target} at {at}"
                );
            }
            let s = checked.schedule_for(None).unwrap();
            assert_eq!(
                s.on_call(Layer::Primary, at),
                policy
                    .schedule_for(None)
                    .unwrap()
                    .on_call(Layer::Primary, at)
            );
        }
        assert_eq!(checked.cadence(Severity::Sev1), Some(900));
        assert_eq!(
            checked
                .plan(
                    Severity::Sev1,
                    None,
                    Utc.with_ymd_and_hms(2026, 11, 3, 10, 30, 0).unwrap()
                )
                .steps
                .len(),
            2
        );
        assert_eq!(back.runbooks()[0].title, "Payments");
    }

    #[test]
    fn a_bad_schedule_or_severity_from_the_wire_is_named() {
        let mut public = Policy::parse(POLICY).unwrap().public(Vec::new());
        public.schedules[0].time_zone = "Mars/Olympus".into();
        public
            .cadence
            .insert("sev9".into(), Span(std::time::Duration::from_secs(60)));
        let errors = public.check().unwrap_err();
        assert!(
            errors.iter().any(|e| e.contains("Mars/Olympus")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("\"sev9\" is not a severity")),
            "{errors:?}"
        );
    }
}
