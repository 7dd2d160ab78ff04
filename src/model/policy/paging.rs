//! Paging on demand: which names a person may page (`:page`, `warroom page`) and whom each
//! one reaches now. The same targets escalation steps use (a person, a `[targets]` name, a
//! schedule's `primary` or `secondary`), plus everyone a schedule's rotation names.

use chrono::{DateTime, Utc};

use super::{Policy, parse_layer};

impl Policy {
    /// Everyone and everything that can be paged, sorted: people under `[people]` and in
    /// the schedules' rotations, `[targets]` names, `oncall.primary|secondary` and each
    /// schedule's `NAME.primary|secondary`. What the console completes `:page` from.
    pub fn page_targets(&self) -> Vec<String> {
        let mut v: Vec<String> = self.people.keys().cloned().collect();
        v.extend(self.targets.keys().cloned());
        for s in &self.schedules {
            let spec = s.spec();
            v.extend(spec.primary.iter().cloned());
            v.extend(spec.secondary.iter().flatten().cloned());
            v.extend(spec.overrides.iter().map(|o| o.person.clone()));
        }
        v.sort();
        v.dedup();
        let mut roles = vec!["oncall.primary".to_string(), "oncall.secondary".to_string()];
        for s in &self.schedules {
            roles.push(format!("{}.primary", s.name()));
            roles.push(format!("{}.secondary", s.name()));
        }
        v.extend(roles);
        v
    }

    /// Whom paging `target` reaches at `at`, for an incident on `service`; or why nobody
    /// (a name the policy does not know, a schedule with nobody on call), for the person
    /// who typed it.
    pub fn page_target(
        &self,
        target: &str,
        service: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<String, String> {
        if let Some((sched, layer)) = target.split_once('.')
            && parse_layer(layer).is_some()
        {
            if sched != "oncall" && !self.schedules.iter().any(|s| s.name() == sched) {
                let known: Vec<&str> = self.schedules.iter().map(|s| s.name()).collect();
                return Err(format!(
                    "there is no schedule \"{sched}\" (known: oncall, {})",
                    known.join(", ")
                ));
            }
            return self
                .resolve_target(target, service, at)
                .ok_or_else(|| format!("nobody is on call as {target} now"));
        }
        let known = self.page_targets();
        if !known.iter().any(|k| k == target) {
            let people: Vec<&str> = known
                .iter()
                .filter(|k| !k.contains('.'))
                .map(String::as_str)
                .collect();
            return Err(format!(
                "the policy knows no \"{target}\": page a person ({}), a schedule's \
                 primary or secondary (oncall.primary, SCHEDULE.secondary) or a [targets] name",
                if people.is_empty() {
                    "none listed".to_string()
                } else {
                    people.join(", ")
                }
            ));
        }
        self.resolve_target(target, service, at)
            .ok_or_else(|| format!("nobody is on call as {target} now"))
    }
}
