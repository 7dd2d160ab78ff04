//! Reading a policy file: TOML in, a checked [`Policy`] out, or every problem found, each
//! with its line, so whoever edits the file fixes it in one pass.

use std::collections::BTreeMap;
use std::time::Duration;

use super::classify::num;
use super::file::{PersonSpec, PolicyFile};
use super::{Policy, Schedule, Severity, Span, parse_layer, severity_key};

impl Policy {
    /// Parses and checks a policy. Every problem found is reported, each with its line.
    pub fn parse(text: &str) -> Result<Policy, Vec<String>> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            vec![match line {
                Some(l) => format!("line {l}: {}", e.message().trim()),
                None => e.message().trim().to_string(),
            }]
        })?;
        let mut errors = Vec::new();
        let mut last: Option<(Severity, usize)> = None;
        let mut informational_seen = false;
        for (i, spanned) in file.rules.iter().enumerate() {
            let line = line_of(text, spanned.span().start);
            let r = spanned.get_ref();
            let at = format!("line {line}: rule {}", i + 1);
            match (r.severity, r.outcome) {
                (Some(_), Some(_)) => {
                    errors.push(format!("{at}: give `severity` or `outcome`, not both"))
                }
                (None, None) => errors.push(format!(
                    "{at}: give `severity` (1-4) or `outcome = \"informational\"`"
                )),
                (Some(s), None) => {
                    if informational_seen {
                        errors.push(format!(
                            "{at}: severity rules must come before informational ones"
                        ));
                    }
                    if let Some((prev, prev_line)) = last
                        && s < prev
                    {
                        errors.push(format!(
                            "{at}: a {s} rule after a {prev} rule (line {prev_line}); rules go from most to least severe, first match wins"
                        ));
                    }
                    last = Some((s, line));
                }
                (None, Some(_)) => {
                    informational_seen = true;
                    if r.restricted {
                        errors.push(format!(
                            "{at}: `restricted` needs a severity: an informational rule opens no incident"
                        ));
                    }
                }
            }
            if r.conditions() == 0 {
                errors.push(format!("{at}: no conditions; it would match every alert"));
            }
            for (name, v) in [
                ("error_rate_gte", r.error_rate_gte),
                ("affected_users_pct_gte", r.affected_users_pct_gte),
            ] {
                if let Some(v) = v
                    && !(0.0..=100.0).contains(&v)
                {
                    errors.push(format!(
                        "{at}: {name} is a percentage (0-100), got {}",
                        num(v)
                    ));
                }
            }
            if r.why.trim().is_empty() {
                errors.push(format!(
                    "{at}: `why` is empty; it is what the timeline says"
                ));
            }
        }
        for s in &file.services.critical {
            if file.services.high.contains(s) {
                errors.push(format!(
                    "[services]: {s} is listed as both critical and high"
                ));
            }
        }
        let mut schedules = Vec::new();
        for spec in &file.schedules {
            let line = line_of(text, spec.span().start);
            match Schedule::from_spec(spec.get_ref()) {
                Ok(s) => {
                    if schedules.iter().any(|o: &Schedule| o.name() == s.name()) {
                        errors.push(format!(
                            "line {line}: schedule \"{}\" is defined twice",
                            s.name()
                        ));
                    }
                    schedules.push(s)
                }
                Err(es) => errors.extend(es.into_iter().map(|e| format!("line {line}: {e}"))),
            }
        }
        let schedule_names: Vec<&str> = schedules.iter().map(|s| s.name()).collect();
        if let Some(d) = &file.oncall.default_schedule
            && !schedule_names.contains(&d.as_str())
        {
            errors.push(format!(
                "[oncall]: default_schedule \"{d}\" is not a [[schedule]] (known: {})",
                list_or_none(&schedule_names)
            ));
        }
        for (svc, sched) in &file.oncall.services {
            if !schedule_names.contains(&sched.as_str()) {
                errors.push(format!(
                    "[oncall.services]: {svc} = \"{sched}\" is not a [[schedule]] (known: {})",
                    list_or_none(&schedule_names)
                ));
            }
        }
        let mut escalation = BTreeMap::new();
        for (key, spanned) in &file.escalation {
            let line = line_of(text, spanned.span().start);
            let Some(sev) = severity_key(key) else {
                errors.push(format!(
                    "line {line}: [escalation.{key}]: name the table sev1, sev2, sev3 or sev4"
                ));
                continue;
            };
            let spec = spanned.get_ref();
            let at = format!("line {line}: [escalation.{key}]");
            let mut prev: Option<Span> = None;
            for (i, st) in spec.steps.iter().enumerate() {
                let n = i + 1;
                let given = [st.page.is_some(), st.notify.is_some(), st.ticket.is_some()]
                    .iter()
                    .filter(|x| **x)
                    .count();
                if given != 1 {
                    errors.push(format!(
                        "{at} step {n}: give exactly one of page, notify or ticket"
                    ));
                    continue;
                }
                if let Some(p) = prev
                    && st.after < p
                {
                    errors.push(format!(
                        "{at} step {n}: after = \"{}\" comes before the previous step's \"{p}\"; steps go in time order",
                        st.after
                    ));
                }
                prev = Some(st.after);
                if let Some(ts) = st.page.as_ref().or(st.notify.as_ref()) {
                    let names = ts.names();
                    if names.is_empty() {
                        errors.push(format!(
                            "{at} step {n}: names no target (write one, or a list of them)"
                        ));
                    }
                    for (k, t) in names.iter().enumerate() {
                        if names[..k].contains(t) {
                            errors.push(format!("{at} step {n}: target \"{t}\" is named twice"));
                        } else if let Err(e) =
                            check_target(t, &file.targets, &file.people, &schedule_names)
                        {
                            errors.push(format!("{at} step {n}: {e}"));
                        }
                    }
                }
                if let Some(t) = &st.ticket
                    && t.trim().is_empty()
                {
                    errors.push(format!("{at} step {n}: ticket names no queue"));
                }
            }
            if spec.repeat > 0 && spec.steps.is_empty() {
                errors.push(format!("{at}: repeat without steps"));
            }
            if let (Some(r), Some(last)) = (spec.round, spec.steps.last())
                && r <= last.after
            {
                errors.push(format!(
                    "{at}: round = \"{r}\" must be longer than the last step's after = \"{}\"",
                    last.after
                ));
            }
            if spec.repeat > 100 {
                errors.push(format!("{at}: repeat = {} is more than 100", spec.repeat));
            }
            escalation.insert(sev, spec.clone());
        }
        let mut cadence = BTreeMap::new();
        for (key, span) in &file.cadence {
            match severity_key(key) {
                Some(sev) if span.0 >= Duration::from_secs(60) => {
                    cadence.insert(sev, *span);
                }
                Some(_) => errors.push(format!(
                    "[cadence]: {key} = \"{span}\" is shorter than a minute"
                )),
                None => errors.push(format!(
                    "[cadence]: '{key}' is not a severity (write sev1 = \"15m\")"
                )),
            }
        }
        for (name, value) in &file.targets {
            if value.trim().is_empty() {
                errors.push(format!("[targets]: {name} names nobody"));
            } else if let Some((sched, _)) = value.split_once('.')
                && sched != "oncall"
                && !schedule_names.contains(&sched)
                && !file.people.contains_key(value)
            {
                errors.push(format!(
                    "[targets]: {name} = \"{value}\": there is no schedule \"{sched}\" (known: {})",
                    list_or_none(&schedule_names)
                ));
            }
        }
        for (person, spec) in &file.people {
            for c in &spec.channels {
                if !file.channels.contains_key(c) {
                    errors.push(format!(
                        "[people.{person}]: channel \"{c}\" is not defined (add [channel.{c}])"
                    ));
                }
            }
        }
        for c in &file.notify.default_channels {
            if !file.channels.contains_key(c) {
                errors.push(format!(
                    "[notify]: default channel \"{c}\" is not defined (add [channel.{c}])"
                ));
            }
        }
        if file.notify.attempts == 0 || file.notify.attempts > 10 {
            errors.push(format!(
                "[notify]: attempts = {} (give 1 to 10)",
                file.notify.attempts
            ));
        }
        for (name, ch) in &file.channels {
            if ch.webhook.is_none() && ch.command.is_none() {
                errors.push(format!(
                    "[channel.{name}]: give a webhook URL, a command, or both"
                ));
            }
            if let Some(url) = &ch.webhook
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                errors.push(format!(
                    "[channel.{name}]: webhook \"{url}\" is not an http:// or https:// URL"
                ));
            }
            if let Some(cmd) = &ch.command
                && cmd.first().is_none_or(|p| p.trim().is_empty())
            {
                errors.push(format!(
                    "[channel.{name}]: command is empty (write [\"/path/to/program\", \"arg\"])"
                ));
            }
        }
        if let Some(t) = &file.tracker {
            // Not echoed: a tracker's address may carry its credential.
            let url = t.url.trim();
            if !(url.starts_with("http://") || url.starts_with("https://"))
                || url.len() <= "https://".len()
                || url.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                errors.push(
                    "[tracker]: url is not an http:// or https:// URL (write url = \"https://tracker.example.com/hooks/warroom\")"
                        .to_string(),
                );
            }
        }
        let mut bridge = BTreeMap::new();
        for (key, template) in &file.bridge {
            let Some(sev) = severity_key(key) else {
                errors.push(format!(
                    "[bridge]: '{key}' is not a severity (write sev1 = \"https://meet.example.com/{{incident}}\")"
                ));
                continue;
            };
            match check_bridge(template) {
                Ok(()) => {
                    bridge.insert(sev, template.clone());
                }
                Err(e) => errors.push(format!("[bridge]: {key} = \"{template}\": {e}")),
            }
        }
        let (stakeholders, problems) =
            super::stakeholders::check(&file.stakeholders, file.status_page.as_ref(), &file.people);
        errors.extend(problems);
        if errors.is_empty() {
            Ok(Policy {
                services: file.services,
                rules: file
                    .rules
                    .into_iter()
                    .map(toml::Spanned::into_inner)
                    .collect(),
                escalation,
                cadence,
                targets: file.targets,
                oncall: file.oncall,
                schedules,
                people: file.people,
                channels: file.channels,
                notify: file.notify,
                runbooks: file.runbooks,
                bridge,
                postmortem: file.postmortem,
                tracker: file.tracker,
                stakeholders,
                status_page: file.status_page,
            })
        } else {
            Err(errors)
        }
    }
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Checks that an escalation target can be resolved: `oncall.primary`, `SCHEDULE.secondary`,
/// a name under `[targets]`, or a person under `[people]`.
fn check_target(
    t: &str,
    targets: &BTreeMap<String, String>,
    people: &BTreeMap<String, PersonSpec>,
    schedules: &[&str],
) -> Result<(), String> {
    if let Some((sched, layer)) = t.split_once('.')
        && parse_layer(layer).is_some()
    {
        if sched == "oncall" || schedules.contains(&sched) {
            return Ok(());
        }
        return Err(format!(
            "target \"{t}\": there is no schedule \"{sched}\" (known: {})",
            list_or_none(schedules)
        ));
    }
    if targets.contains_key(t) || people.contains_key(t) {
        return Ok(());
    }
    Err(format!(
        "unknown target \"{t}\": write oncall.primary, oncall.secondary, SCHEDULE.primary, \
         a name under [targets] or a person under [people]"
    ))
}

/// A bridge template: an http(s) link whose only placeholders are `{incident}` (`INC-7`)
/// and `{number}` (`7`).
fn check_bridge(template: &str) -> Result<(), String> {
    if !(template.starts_with("https://") || template.starts_with("http://")) {
        return Err("a bridge is an http:// or https:// link".into());
    }
    if template.chars().any(char::is_whitespace) {
        return Err("a link has no spaces".into());
    }
    let rest = template.replace("{incident}", "").replace("{number}", "");
    if let Some(i) = rest.find(['{', '}']) {
        let tail: String = rest[i..].chars().take(20).collect();
        return Err(format!(
            "unknown placeholder at \"{tail}\" (use {{incident}} or {{number}})"
        ));
    }
    Ok(())
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}
