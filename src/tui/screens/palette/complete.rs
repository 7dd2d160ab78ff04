//! Tab completion in the palette: command names while the first word is typed, then the
//! options of the argument being typed (statuses, roles, milestones, severities, formats,
//! incidents, filter words…), each command's options given by its row in the command table.
//! A completion is the whole line it would become.

use crate::model::{EntryKind, IncidentRef, Milestone, Status};
use crate::tui::commands::COMMANDS;
use crate::tui::screens::palette::parse::{answers_to, restricted_flag};
use crate::tui::scribe::PREFIXES;

/// What completion offers besides fixed words: the incidents held, the people present,
/// whom the feed's policy can page.
pub struct Known<'a> {
    pub incidents: &'a [IncidentRef],
    pub people: &'a [String],
    pub targets: &'a [String],
}

/// Completions for what is typed so far: whole replacement lines, best first.
pub fn complete(line: &str, incidents: &[IncidentRef]) -> Vec<String> {
    complete_with(
        line,
        &Known {
            incidents,
            people: &[],
            targets: &[],
        },
    )
}

/// Completions, the people present among them where a name is wanted.
pub fn complete_with(line: &str, known: &Known) -> Vec<String> {
    let line = line.trim_start_matches(':');
    match line.split_once(' ') {
        None => COMMANDS
            .iter()
            .filter(|c| c.name.starts_with(line))
            .map(|c| format!("{} ", c.name))
            .collect(),
        Some((cmd, arg)) => {
            // The whole name, else the one command a short form names (`:pa` is `:page`).
            let short: Vec<_> = COMMANDS.iter().filter(|c| answers_to(c, cmd)).collect();
            let options = COMMANDS
                .iter()
                .find(|c| c.name == cmd)
                .or(match short[..] {
                    [one] => Some(one),
                    _ => None,
                })
                .map_or_else(Vec::new, |c| (c.complete)(arg, known));
            let (done, partial) = match arg.rsplit_once(' ') {
                Some((d, p)) => (format!("{d} "), p),
                None => (String::new(), arg),
            };
            options
                .into_iter()
                .filter(|o| {
                    o.to_ascii_lowercase()
                        .starts_with(&partial.to_ascii_lowercase())
                        && o != partial
                })
                .map(|o| format!("{cmd} {done}{o}"))
                .collect()
        }
    }
}

// ---- each command's options for the argument being typed (`arg`: all after the name) ----

/// Commands whose arguments are free text.
pub fn nothing(_arg: &str, _known: &Known) -> Vec<String> {
    Vec::new()
}

pub fn status(_arg: &str, _known: &Known) -> Vec<String> {
    Status::ALL.iter().map(|s| s.as_str().to_string()).collect()
}

/// `:release` and `:take`: the role, the first word.
pub fn role(arg: &str, _known: &Known) -> Vec<String> {
    if arg.contains(' ') {
        return Vec::new();
    }
    ["ic", "tl", "comms", "scribe"].map(String::from).to_vec()
}

/// `:role`: the role, then whom to give it to (the people present, and `me`).
pub fn role_to(arg: &str, known: &Known) -> Vec<String> {
    match arg.split_once(' ') {
        // The name follows: the role ends with its space, so tab then the name.
        None => role(arg, known)
            .into_iter()
            .map(|r| format!("{r} "))
            .collect(),
        Some((_, name)) if !name.contains(' ') => {
            let mut people: Vec<String> = known.people.to_vec();
            people.sort();
            people.dedup();
            people.push("me".into());
            people
        }
        Some(_) => Vec::new(),
    }
}

pub fn milestone(arg: &str, _known: &Known) -> Vec<String> {
    if arg.contains(' ') {
        return Vec::new();
    }
    Milestone::ALL
        .iter()
        .map(|m| m.as_str().to_string())
        .collect()
}

pub fn sev(_arg: &str, _known: &Known) -> Vec<String> {
    (1..=4).map(|n| n.to_string()).collect()
}

pub fn export(_arg: &str, _known: &Known) -> Vec<String> {
    ["md", "json"].map(String::from).to_vec()
}

pub fn system(_arg: &str, _known: &Known) -> Vec<String> {
    ["on", "off"].map(String::from).to_vec()
}

/// `:filter`: `kind:`/`author:`, then kind names after `kind:` (and after each comma).
pub fn filter(arg: &str, _known: &Known) -> Vec<String> {
    let partial = arg.rsplit(' ').next().unwrap_or("");
    match partial.to_ascii_lowercase().strip_prefix("kind:") {
        Some(list) => {
            let done = match list.rfind(',') {
                Some(i) => &partial[..5 + i + 1],
                None => &partial[..5],
            };
            EntryKind::ALL
                .iter()
                .map(|k| format!("{done}{}", k.as_str()))
                .collect()
        }
        None => ["kind:", "author:"].map(String::from).to_vec(),
    }
}

/// `:declare`: the leading words, the severity and the flag in either order.
pub fn declare(arg: &str, _known: &Known) -> Vec<String> {
    let leading = arg
        .split(' ')
        .rev()
        .skip(1)
        .all(|w| restricted_flag(w) || w.to_ascii_lowercase().starts_with("sev"));
    if !leading {
        return Vec::new();
    }
    // The title follows: each ends with its space, so tab then the title.
    (1..=4)
        .map(|n| format!("sev{n} "))
        .chain(["--restricted ".to_string()])
        .collect()
}

pub fn member(arg: &str, _known: &Known) -> Vec<String> {
    if arg.contains(' ') {
        return Vec::new();
    }
    ["add ", "remove "].map(String::from).to_vec()
}

/// `:page`: whom the feed's policy can page (people, `[targets]` names, schedules'
/// primary and secondary), for the first word; the message after it is free text.
pub fn page(arg: &str, known: &Known) -> Vec<String> {
    if arg.contains(' ') {
        return Vec::new();
    }
    known.targets.to_vec()
}

pub fn open(_arg: &str, known: &Known) -> Vec<String> {
    known.incidents.iter().map(|r| r.to_string()).collect()
}

/// `:note`: the scribe prefixes, for the first word.
pub fn note(arg: &str, _known: &Known) -> Vec<String> {
    if arg.contains(' ') {
        return Vec::new();
    }
    PREFIXES.iter().map(|(p, _, _)| p.to_string()).collect()
}
