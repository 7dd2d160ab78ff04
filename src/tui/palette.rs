//! The command palette: `:` then a command, with completion. Every action the console has
//! is reachable here, so nothing depends on memorised keys.

use chrono::{DateTime, Utc};

use crate::clock::Zone;

use crate::model::{Command, EntryKind, IncidentRef, Milestone, Role, Severity, Status};

/// A palette command: name, usage, what it does. Help and completion come from this table.
pub struct PaletteEntry {
    pub name: &'static str,
    pub usage: &'static str,
    pub help: &'static str,
}

pub const COMMANDS: &[PaletteEntry] = &[
    PaletteEntry {
        name: "declare",
        usage: "declare [-r] [sevN] TITLE [service:NAME]",
        help: "declare an incident (SEV3 unless given); -r or --restricted: need to know",
    },
    PaletteEntry {
        name: "note",
        usage: "note TEXT",
        help: "record a timeline entry (scribe prefixes work)",
    },
    PaletteEntry {
        name: "ack",
        usage: "ack",
        help: "acknowledge (stops the escalation)",
    },
    PaletteEntry {
        name: "runbook",
        usage: "runbook [N]",
        help: "the runbook checklist; with N, tick item N",
    },
    PaletteEntry {
        name: "sev",
        usage: "sev N",
        help: "set severity 1-4",
    },
    PaletteEntry {
        name: "status",
        usage: "status STATUS",
        help: "investigating, identified, monitoring, resolved, closed",
    },
    PaletteEntry {
        name: "role",
        usage: "role ROLE NAME|me",
        help: "give a role: ic, tl, comms, scribe",
    },
    PaletteEntry {
        name: "release",
        usage: "release ROLE",
        help: "leave a role vacant",
    },
    PaletteEntry {
        name: "pin",
        usage: "pin [ENTRY]",
        help: "pin the selected (or numbered) entry",
    },
    PaletteEntry {
        name: "correct",
        usage: "correct [ENTRY] [@HH:MM] [d:|a:|h:|r:|u:|n:] TEXT",
        help: "supersede the selected (or numbered) entry; the original stays in its history",
    },
    PaletteEntry {
        name: "unpin",
        usage: "unpin [ENTRY]",
        help: "unpin an entry",
    },
    PaletteEntry {
        name: "milestone",
        usage: "milestone NAME [HH:MM]",
        help: "impact_started, detected, acknowledged, mitigated, resolved",
    },
    PaletteEntry {
        name: "update",
        usage: "update [TEXT]",
        help: "write a status update (what is happening, impact, what we do, next update)",
    },
    PaletteEntry {
        name: "postmortem",
        usage: "postmortem (pm)",
        help: "edit the post-mortem: summary, 5 whys, sections, action items",
    },
    PaletteEntry {
        name: "action",
        usage: "action TEXT [@owner] [due:YYYY-MM-DD]",
        help: "add a post-mortem action item (owner defaults to you)",
    },
    PaletteEntry {
        name: "waive",
        usage: "waive REASON",
        help: "no post-mortem needed: the incident may then be closed",
    },
    PaletteEntry {
        name: "export",
        usage: "export [md|json]",
        help: "write INC-N-title.md (or .json) in the current directory",
    },
    PaletteEntry {
        name: "retitle",
        usage: "retitle TITLE",
        help: "change the title",
    },
    PaletteEntry {
        name: "resolve",
        usage: "resolve",
        help: "resolve the incident",
    },
    PaletteEntry {
        name: "restrict",
        usage: "restrict",
        help: "make the incident need-to-know: only its members and admins see it",
    },
    PaletteEntry {
        name: "member",
        usage: "member [add|remove NAME|me]",
        help: "list a restricted incident's members (also :members); admins add or remove them",
    },
    PaletteEntry {
        name: "open",
        usage: "open INC-N",
        help: "open an incident room",
    },
    PaletteEntry {
        name: "board",
        usage: "board",
        help: "back to the incident board",
    },
    PaletteEntry {
        name: "archive",
        usage: "archive",
        help: "show / hide resolved and closed incidents on the board",
    },
    PaletteEntry {
        name: "metrics",
        usage: "metrics",
        help: "MTTD/MTTA/MTTM/MTTR per severity, incidents per week, completion rates",
    },
    PaletteEntry {
        name: "handoff",
        usage: "handoff",
        help: "the handoff briefing: active incidents, on call, the shift's resolved and alerts",
    },
    PaletteEntry {
        name: "accept-handoff",
        usage: "accept-handoff [NAME]",
        help: "take over from NAME (default: the outgoing primary); IC wherever NAME was",
    },
    PaletteEntry {
        name: "scribe",
        usage: "scribe",
        help: "write in the scribe pane of the open incident",
    },
    PaletteEntry {
        name: "filter",
        usage: "filter TEXT | kind:K,K author:NAME",
        help: "filter the board; in a room, its timeline by kind, author, words (empty clears)",
    },
    PaletteEntry {
        name: "system",
        usage: "system [on|off]",
        help: "show / hide the room's system entries (H toggles)",
    },
    PaletteEntry {
        name: "help",
        usage: "help",
        help: "keys, commands and scribe prefixes",
    },
    PaletteEntry {
        name: "quit",
        usage: "quit",
        help: "quit warroom",
    },
];

/// Commands added after people learnt the short forms of older ones: each answers only to
/// a prefix at least this long, so `:res` stays `resolve`, `:me` stays `metrics`, `:h` is
/// help and `:ac` is ack (the commands a responder types most, under pressure).
const SHORTEST_PREFIX: &[(&str, usize)] = &[
    ("restrict", 4),
    ("member", 3),
    ("handoff", 2),
    ("accept-handoff", 3),
    ("action", 3),
];

/// Whether `typed` names `entry` (the whole name, or a long enough prefix of it).
fn answers_to(entry: &PaletteEntry, typed: &str) -> bool {
    let floor = SHORTEST_PREFIX
        .iter()
        .find(|(n, _)| *n == entry.name)
        .map_or(1, |(_, len)| *len);
    entry.name.starts_with(typed) && (typed.len() >= floor || typed == entry.name)
}

/// What a palette line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    Send(Command),
    Open(IncidentRef),
    Board,
    ToggleResolved,
    Scribe,
    Filter(String),
    Help,
    Quit,
    /// Open the incident's runbook checklist, or (with an item number) tick that item.
    Runbook {
        incident: IncidentRef,
        item: Option<u32>,
    },
    /// Show (`Some(true)`), hide (`Some(false)`) or toggle the room's system entries.
    System(Option<bool>),
    /// The status update form, "what is happening" prefilled with `text`.
    Update {
        incident: IncidentRef,
        text: String,
    },
    /// The post-mortem editor.
    Postmortem(IncidentRef),
    /// Write the incident's export in the current directory.
    Export {
        incident: IncidentRef,
        format: crate::report::export::ExportFormat,
    },
    /// The handoff briefing.
    Handoff,
    /// Take over from `from` (`None`: the outgoing primary, if the schedules say).
    AcceptHandoff {
        from: Option<String>,
    },
    /// The metrics screen.
    Metrics,
    /// Show who may see a (restricted) incident.
    Members(IncidentRef),
}

/// What the palette knows about where it was opened.
pub struct Context {
    /// The incident in view (room) or selected (board).
    pub incident: Option<IncidentRef>,
    /// The timeline entry selected in the room.
    pub entry: Option<u64>,
    /// Whether that entry is pinned (so `pin` toggles sensibly).
    pub now: DateTime<Utc>,
    pub tz: Zone,
}

/// Parses one palette line.
pub fn parse(line: &str, ctx: &Context) -> Result<Intent, String> {
    let line = line.trim().trim_start_matches(':').trim();
    let (name, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let name = if name.eq_ignore_ascii_case("pm") {
        "postmortem"
    } else if name.eq_ignore_ascii_case("members") {
        "member"
    } else {
        name
    };
    let mut rest = rest.trim();
    if name.is_empty() {
        return Err("type a command; Tab completes".into());
    }
    let matches: Vec<&PaletteEntry> = COMMANDS.iter().filter(|c| answers_to(c, name)).collect();
    let entry = match COMMANDS.iter().find(|c| c.name == name) {
        Some(e) => e,
        None if matches.len() == 1 => matches[0],
        None if matches.is_empty() => {
            return Err(format!("unknown command '{name}' (:help lists them)"));
        }
        None => {
            let names: Vec<&str> = matches.iter().map(|m| m.name).collect();
            return Err(format!("'{name}' could be {}", names.join(", ")));
        }
    };
    // An explicit incident reference may come first: `:ack INC-3`.
    let mut target = ctx.incident;
    if entry.name != "declare" && entry.name != "open" {
        let (first, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        if first.to_ascii_uppercase().starts_with("INC-") {
            target = Some(
                first
                    .parse()
                    .map_err(|e: crate::model::Rejection| e.message)?,
            );
            rest = tail.trim();
        }
    }
    let incident = || {
        target.ok_or_else(|| {
            format!(
                "open an incident first, or name it: :{} INC-N …",
                entry.name
            )
        })
    };
    let need = |what: &str| -> Result<(), String> {
        if rest.is_empty() {
            Err(format!("usage: :{} — {what} is missing", entry.usage))
        } else {
            Ok(())
        }
    };
    let msg = |e: crate::model::Rejection| e.message;
    Ok(match entry.name {
        "declare" => {
            need("the title")?;
            let d = declare_args(rest)?;
            Intent::Send(Command::Declare {
                title: d.title,
                severity: d.severity,
                service: d.service,
                restricted: d.restricted,
            })
        }
        "restrict" => {
            if !rest.is_empty() {
                return Err(format!(
                    "usage: :restrict [INC-N] — '{rest}' is not an incident (:member add NAME adds people)"
                ));
            }
            Intent::Send(Command::Restrict {
                incident: incident()?,
            })
        }
        "member" => {
            let (verb, person) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let person = person.trim();
            let incident = incident()?;
            let add = match verb.to_ascii_lowercase().as_str() {
                "" | "list" | "ls" => return Ok(Intent::Members(incident)),
                "add" | "+" => true,
                "remove" | "rm" | "-" => false,
                _ => {
                    return Err(format!(
                        "usage: :member [add|remove NAME] — '{verb}' is neither add nor remove"
                    ));
                }
            };
            if person.is_empty() || person.contains(char::is_whitespace) {
                return Err(format!(
                    "usage: :member {} NAME|me — one name, as on their token",
                    if add { "add" } else { "remove" }
                ));
            }
            let person = person.to_string();
            Intent::Send(if add {
                Command::AddMember { incident, person }
            } else {
                Command::RemoveMember { incident, person }
            })
        }
        "note" => {
            need("the text")?;
            let l = super::scribe::parse(rest, ctx.now, ctx.tz)?;
            Intent::Send(Command::AddEntry {
                incident: incident()?,
                entry_kind: l.kind,
                text: l.text,
                occurred_at: l.occurred_at,
                next_update_secs: None,
            })
        }
        "ack" => Intent::Send(Command::Acknowledge {
            incident: incident()?,
        }),
        "resolve" => Intent::Send(Command::Resolve {
            incident: incident()?,
        }),
        "sev" => {
            need("the severity")?;
            Intent::Send(Command::SetSeverity {
                incident: incident()?,
                severity: rest.parse().map_err(msg)?,
            })
        }
        "status" => {
            need("the status")?;
            Intent::Send(Command::SetStatus {
                incident: incident()?,
                status: rest.parse().map_err(msg)?,
            })
        }
        "role" => {
            need("the role")?;
            let (role, person) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let role = Role::parse_loose(role).map_err(msg)?;
            let person = person.trim();
            if person.is_empty() {
                return Err("usage: :role ROLE NAME|me — the name is missing".into());
            }
            Intent::Send(Command::AssignRole {
                incident: incident()?,
                role,
                person: person.to_string(),
            })
        }
        "release" => {
            need("the role")?;
            Intent::Send(Command::ReleaseRole {
                incident: incident()?,
                role: Role::parse_loose(rest).map_err(msg)?,
            })
        }
        "pin" | "unpin" => {
            let entry_id = if rest.is_empty() {
                ctx.entry
                    .ok_or("select a timeline entry first (↑/↓), or give its number")?
            } else {
                rest.trim_start_matches('#')
                    .parse()
                    .map_err(|_| format!("'{rest}' is not an entry number"))?
            };
            Intent::Send(Command::PinEntry {
                incident: incident()?,
                entry: entry_id,
                pinned: entry.name == "pin",
            })
        }
        "correct" => {
            let (first, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let numbered = first
                .trim_start_matches('#')
                .parse::<u64>()
                .ok()
                .filter(|_| !first.is_empty());
            let (entry_id, body) = match numbered {
                Some(n) => (n, tail.trim()),
                None => (
                    ctx.entry
                        .ok_or("select a timeline entry first (↑/↓), or give its number")?,
                    rest,
                ),
            };
            if body.is_empty() {
                return Err("say what the entry should read (or @HH:MM for its time)".into());
            }
            // Only a time (`@01:52`) or only a kind (`d:`) is a correction too: the scribe's
            // parser wants text, so give it a placeholder and drop it again.
            let line = match super::scribe::parse(body, ctx.now, ctx.tz) {
                Ok(l) => l,
                Err(e) => {
                    let mut l = super::scribe::parse(&format!("{body} \u{1}"), ctx.now, ctx.tz)
                        .map_err(|_| e)?;
                    l.text = l.text.replace('\u{1}', "");
                    l
                }
            };
            // A kind prefix given (even `n:`) changes the kind; none keeps the entry's own.
            let explicit_kind = line.kind != EntryKind::Note || {
                let mut b = body.trim_start();
                while let Some(after) = b.strip_prefix('@') {
                    b = after
                        .split_once(char::is_whitespace)
                        .map_or("", |(_, t)| t.trim_start());
                }
                let b = b.to_ascii_lowercase();
                b.starts_with("n:") || b.starts_with("note:")
            };
            let text = line.text.trim();
            if text.is_empty() && line.occurred_at.is_none() && !explicit_kind {
                return Err("say what the entry should read (or @HH:MM for its time)".into());
            }
            Intent::Send(Command::CorrectEntry {
                incident: incident()?,
                entry: entry_id,
                text: (!text.is_empty()).then(|| text.to_string()),
                entry_kind: explicit_kind.then_some(line.kind),
                occurred_at: line.occurred_at,
            })
        }
        "milestone" => {
            need("the milestone")?;
            let (name, at) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let milestone: Milestone = name.parse().map_err(msg)?;
            let at = match at.trim() {
                "" => None,
                t => {
                    super::scribe::parse(
                        &format!("@{} x", t.trim_start_matches('@')),
                        ctx.now,
                        ctx.tz,
                    )?
                    .occurred_at
                }
            };
            Intent::Send(Command::SetMilestone {
                incident: incident()?,
                milestone,
                occurred_at: at,
            })
        }
        "update" => Intent::Update {
            incident: incident()?,
            text: rest.to_string(),
        },
        "postmortem" => Intent::Postmortem(incident()?),
        "action" => {
            need("the text")?;
            let today = ctx.now.with_timezone(&ctx.tz).date_naive();
            let (text, owner, due) = super::pm_editor::parse_action_spec(rest, today)?;
            Intent::Send(Command::AddActionItem {
                incident: incident()?,
                text,
                owner,
                due,
            })
        }
        "waive" => {
            need("the reason")?;
            Intent::Send(Command::WaivePostmortem {
                incident: incident()?,
                reason: rest.to_string(),
            })
        }
        "export" => Intent::Export {
            incident: incident()?,
            format: match rest {
                "" => crate::report::export::ExportFormat::Markdown,
                f => crate::report::export::parse_format(f)?,
            },
        },
        "system" => Intent::System(match rest.to_ascii_lowercase().as_str() {
            "" => None,
            "on" | "show" => Some(true),
            "off" | "hide" => Some(false),
            _ => return Err("usage: :system on|off (on shows system entries)".into()),
        }),
        "retitle" => {
            need("the title")?;
            Intent::Send(Command::Retitle {
                incident: incident()?,
                title: rest.to_string(),
            })
        }
        "open" => {
            need("the incident")?;
            Intent::Open(rest.parse().map_err(msg)?)
        }
        "runbook" => {
            let item = match rest.trim_start_matches('#') {
                "" => None,
                n => Some(
                    n.parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("'{rest}' is not a runbook item number"))?,
                ),
            };
            Intent::Runbook {
                incident: incident()?,
                item,
            }
        }
        "board" => Intent::Board,
        "archive" => Intent::ToggleResolved,
        "metrics" => Intent::Metrics,
        "handoff" => Intent::Handoff,
        "accept-handoff" => Intent::AcceptHandoff {
            from: Some(rest.to_string()).filter(|r| !r.is_empty()),
        },
        "scribe" => Intent::Scribe,
        "filter" => Intent::Filter(rest.to_string()),
        "help" => Intent::Help,
        "quit" => Intent::Quit,
        _ => return Err(format!("unknown command '{name}'")),
    })
}

/// `service:NAME` (or `svc:NAME`): the service a declaration names.
fn service_token(t: &str) -> Option<&str> {
    let lower = t.to_ascii_lowercase();
    ["service:", "svc:"]
        .iter()
        .find(|p| lower.starts_with(*p))
        .map(|p| &t[p.len()..])
}

/// What `:declare` was given.
struct DeclareArgs {
    severity: Severity,
    service: Option<String>,
    title: String,
    restricted: bool,
}

/// `-r` / `--restricted`: the incident is need-to-know from its declaration.
fn restricted_flag(t: &str) -> bool {
    matches!(
        t.to_ascii_lowercase().as_str(),
        "-r" | "--restricted" | "--restrict"
    )
}

/// `[-r] [sevN] [service:NAME] TITLE [service:NAME]`: the flag, severity and service may
/// lead (in any order), the service may also close the line; the rest is the title, as typed.
fn declare_args(rest: &str) -> Result<DeclareArgs, String> {
    let mut title = rest.trim();
    let mut severity = None;
    let mut service: Option<&str> = None;
    let mut restricted = false;
    loop {
        let (first, tail) = title.split_once(char::is_whitespace).unwrap_or((title, ""));
        if let Some(name) = service_token(first) {
            service = Some(name);
        } else if restricted_flag(first) {
            restricted = true;
        } else if severity.is_none()
            && first.to_ascii_lowercase().starts_with("sev")
            && let Ok(s) = first.parse::<Severity>()
        {
            severity = Some(s);
        } else {
            break;
        }
        title = tail.trim_start();
    }
    let (head, last) = title
        .rsplit_once(char::is_whitespace)
        .unwrap_or(("", title));
    if let Some(name) = service_token(last) {
        service = Some(name);
        title = head.trim_end();
    }
    if service.is_some_and(str::is_empty) {
        return Err("service: needs a name, as in service:payments".into());
    }
    if let Some(flag) = title
        .split_whitespace()
        .next()
        .filter(|w| w.starts_with('-'))
        && flag.len() > 1
        && flag
            .trim_start_matches('-')
            .chars()
            .all(|c| c.is_ascii_alphabetic())
    {
        return Err(format!(
            "unknown option '{flag}' (:declare knows -r / --restricted)"
        ));
    }
    if title.is_empty() {
        return Err(
            "usage: :declare [-r] [sevN] TITLE [service:NAME] — the title is missing".into(),
        );
    }
    Ok(DeclareArgs {
        severity: severity.unwrap_or(Severity::Sev3),
        service: service.map(str::to_string),
        title: title.to_string(),
        restricted,
    })
}

/// Completions for what is typed so far: whole replacement lines, best first.
pub fn complete(line: &str, incidents: &[IncidentRef]) -> Vec<String> {
    let line = line.trim_start_matches(':');
    match line.split_once(' ') {
        None => COMMANDS
            .iter()
            .filter(|c| c.name.starts_with(line))
            .map(|c| format!("{} ", c.name))
            .collect(),
        Some((cmd, arg)) => {
            let options: Vec<String> = match cmd {
                "status" => Status::ALL.iter().map(|s| s.as_str().to_string()).collect(),
                "role" | "release" if !arg.contains(' ') => {
                    ["ic", "tl", "comms", "scribe"].map(String::from).to_vec()
                }
                "milestone" if !arg.contains(' ') => Milestone::ALL
                    .iter()
                    .map(|m| m.as_str().to_string())
                    .collect(),
                "sev" => (1..=4).map(|n| n.to_string()).collect(),
                "export" => ["md", "json"].map(String::from).to_vec(),
                "system" => ["on", "off"].map(String::from).to_vec(),
                "filter" => filter_options(arg.rsplit(' ').next().unwrap_or("")),
                // Leading words: the severity and the flag, in either order.
                "declare"
                    if arg.split(' ').rev().skip(1).all(|w| {
                        restricted_flag(w) || w.to_ascii_lowercase().starts_with("sev")
                    }) =>
                {
                    (1..=4)
                        .map(|n| format!("sev{n}"))
                        .chain(["--restricted".to_string()])
                        .collect()
                }
                "member" if !arg.contains(' ') => ["add", "remove"].map(String::from).to_vec(),
                "open" => incidents.iter().map(|r| r.to_string()).collect(),
                "note" if !arg.contains(' ') => super::scribe::PREFIXES
                    .iter()
                    .map(|(p, _, _)| p.to_string())
                    .collect(),
                _ => Vec::new(),
            };
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

/// `:filter` completions for the word being typed: `kind:`/`author:`, then kind names
/// after `kind:` (and after each comma).
fn filter_options(partial: &str) -> Vec<String> {
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

/// The kind names shown in help for the scribe pane.
pub fn kind_label(k: EntryKind) -> &'static str {
    match k {
        EntryKind::Note => "note",
        EntryKind::Decision => "decision",
        EntryKind::Action => "action",
        EntryKind::Hypothesis => "hypothesis",
        EntryKind::RuledOut => "ruled out",
        EntryKind::StatusUpdate => "update",
        EntryKind::Milestone => "milestone",
        EntryKind::System => "system",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ctx(incident: Option<u32>) -> Context {
        Context {
            incident: incident.map(IncidentRef),
            entry: Some(7),
            now: Utc.with_ymd_and_hms(2026, 3, 10, 2, 10, 0).unwrap(),
            tz: chrono::FixedOffset::east_opt(0).unwrap().into(),
        }
    }

    #[test]
    fn parses_every_command() {
        let c = ctx(Some(2));
        assert_eq!(
            parse(":declare sev1 Checkout down", &c).unwrap(),
            Intent::Send(Command::Declare {
                title: "Checkout down".into(),
                severity: Severity::Sev1,
                service: None,
                restricted: false
            })
        );
        assert!(matches!(
            parse("declare Search slow", &c).unwrap(),
            Intent::Send(Command::Declare {
                severity: Severity::Sev3,
                ..
            })
        ));
        assert_eq!(
            parse("ack", &c).unwrap(),
            Intent::Send(Command::Acknowledge {
                incident: IncidentRef(2)
            })
        );
        assert_eq!(
            parse("ack INC-5", &c).unwrap(),
            Intent::Send(Command::Acknowledge {
                incident: IncidentRef(5)
            })
        );
        assert_eq!(
            parse("sev 1", &c).unwrap(),
            Intent::Send(Command::SetSeverity {
                incident: IncidentRef(2),
                severity: Severity::Sev1
            })
        );
        assert!(
            parse("sev 5", &c)
                .unwrap_err()
                .contains("severity 5 does not exist")
        );
        assert!(matches!(
            parse("status monitoring", &c).unwrap(),
            Intent::Send(Command::SetStatus {
                status: Status::Monitoring,
                ..
            })
        ));
        assert_eq!(
            parse("role ic me", &c).unwrap(),
            Intent::Send(Command::AssignRole {
                incident: IncidentRef(2),
                role: Role::IncidentCommander,
                person: "me".into()
            })
        );
        assert!(
            parse("role chef bob", &c)
                .unwrap_err()
                .contains("unknown role 'chef'")
        );
        assert!(matches!(
            parse("note d: roll back", &c).unwrap(),
            Intent::Send(Command::AddEntry {
                entry_kind: EntryKind::Decision,
                ..
            })
        ));
        assert_eq!(
            parse("pin", &c).unwrap(),
            Intent::Send(Command::PinEntry {
                incident: IncidentRef(2),
                entry: 7,
                pinned: true
            })
        );
        assert_eq!(
            parse("unpin #9", &c).unwrap(),
            Intent::Send(Command::PinEntry {
                incident: IncidentRef(2),
                entry: 9,
                pinned: false
            })
        );
        assert!(matches!(
            parse("milestone impact_started 01:52", &c).unwrap(),
            Intent::Send(Command::SetMilestone {
                occurred_at: Some(_),
                ..
            })
        ));
        assert_eq!(
            parse("open INC-4", &c).unwrap(),
            Intent::Open(IncidentRef(4))
        );
        assert_eq!(
            parse("res", &c).unwrap(),
            Intent::Send(Command::Resolve {
                incident: IncidentRef(2)
            })
        );
        assert_eq!(parse("q", &c).unwrap(), Intent::Quit);
        assert_eq!(parse("help", &c).unwrap(), Intent::Help);
        assert!(
            parse("re", &c)
                .unwrap_err()
                .contains("could be release, retitle, resolve")
        );
        assert!(
            parse("launch", &c)
                .unwrap_err()
                .contains("unknown command 'launch'")
        );
        assert!(
            parse("ack", &ctx(None))
                .unwrap_err()
                .contains("open an incident first")
        );
        assert!(
            parse("declare", &c)
                .unwrap_err()
                .contains("the title is missing")
        );
    }

    #[test]
    fn declare_takes_a_service_and_runbook_takes_an_item() {
        let c = ctx(Some(2));
        let declared = |line: &str| match parse(line, &c) {
            Ok(Intent::Send(Command::Declare {
                title,
                severity,
                service,
                ..
            })) => (title, severity, service),
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(
            declared("declare sev1 service:payments Checkout  down"),
            (
                "Checkout  down".to_string(),
                Severity::Sev1,
                Some("payments".to_string())
            )
        );
        assert_eq!(
            declared("declare svc:auth sev2 Logins fail"),
            (
                "Logins fail".to_string(),
                Severity::Sev2,
                Some("auth".to_string())
            )
        );
        assert_eq!(
            declared("declare Logins fail service:auth"),
            (
                "Logins fail".to_string(),
                Severity::Sev3,
                Some("auth".to_string())
            )
        );
        assert_eq!(
            declared("declare sev2 several things"),
            ("several things".to_string(), Severity::Sev2, None)
        );
        assert!(
            parse("declare sev1 service:payments", &c)
                .unwrap_err()
                .contains("the title is missing")
        );
        assert!(
            parse("declare service: Checkout", &c)
                .unwrap_err()
                .contains("service: needs a name")
        );

        assert_eq!(
            parse("runbook", &c).unwrap(),
            Intent::Runbook {
                incident: IncidentRef(2),
                item: None
            }
        );
        assert_eq!(
            parse("runbook INC-4 #3", &c).unwrap(),
            Intent::Runbook {
                incident: IncidentRef(4),
                item: Some(3)
            }
        );
        assert!(
            parse("runbook 0", &c)
                .unwrap_err()
                .contains("'0' is not a runbook item number")
        );
        assert!(
            parse("runbook", &ctx(None))
                .unwrap_err()
                .contains("open an incident first")
        );
        assert_eq!(complete("ru", &[]), ["runbook "]);
    }

    #[test]
    fn parses_corrections() {
        let mut c = ctx(Some(2));
        c.entry = Some(7);
        assert_eq!(
            parse("correct Error rate back under 1% at 02:19", &c).unwrap(),
            Intent::Send(Command::CorrectEntry {
                incident: IncidentRef(2),
                entry: 7,
                text: Some("Error rate back under 1% at 02:19".into()),
                entry_kind: None,
                occurred_at: None,
            })
        );
        match parse("correct #9 d: roll back", &c).unwrap() {
            Intent::Send(Command::CorrectEntry {
                entry,
                entry_kind,
                text,
                ..
            }) => {
                assert_eq!(entry, 9);
                assert_eq!(entry_kind, Some(EntryKind::Decision));
                assert_eq!(text.as_deref(), Some("roll back"));
            }
            other => panic!("{other:?}"),
        }
        match parse("correct 9 @01:52", &c).unwrap() {
            Intent::Send(Command::CorrectEntry {
                text,
                occurred_at,
                entry_kind,
                ..
            }) => {
                assert_eq!(text, None);
                assert_eq!(entry_kind, None);
                assert!(occurred_at.is_some());
            }
            other => panic!("{other:?}"),
        }
        c.entry = None;
        assert!(
            parse("correct some text", &c)
                .unwrap_err()
                .contains("select a timeline entry")
        );
    }

    #[test]
    fn parses_the_record_commands() {
        let c = ctx(Some(2));
        assert_eq!(parse("pm", &c).unwrap(), Intent::Postmortem(IncidentRef(2)));
        assert_eq!(
            parse("postmortem INC-5", &c).unwrap(),
            Intent::Postmortem(IncidentRef(5))
        );
        assert_eq!(
            parse("update Checkout is back", &c).unwrap(),
            Intent::Update {
                incident: IncidentRef(2),
                text: "Checkout is back".into()
            }
        );
        assert_eq!(
            parse("action Alert on pool use @bob due:2026-03-21", &c).unwrap(),
            Intent::Send(Command::AddActionItem {
                incident: IncidentRef(2),
                text: "Alert on pool use".into(),
                owner: "bob".into(),
                due: chrono::NaiveDate::from_ymd_opt(2026, 3, 21),
            })
        );
        assert!(
            parse("action", &c)
                .unwrap_err()
                .contains("the text is missing")
        );
        assert_eq!(
            parse("waive duplicate", &c).unwrap(),
            Intent::Send(Command::WaivePostmortem {
                incident: IncidentRef(2),
                reason: "duplicate".into()
            })
        );
        assert_eq!(
            parse("export json", &c).unwrap(),
            Intent::Export {
                incident: IncidentRef(2),
                format: crate::report::export::ExportFormat::Json
            }
        );
        assert_eq!(
            parse("system off", &c).unwrap(),
            Intent::System(Some(false))
        );
        assert_eq!(parse("system", &c).unwrap(), Intent::System(None));
        assert!(parse("system maybe", &c).unwrap_err().contains("on|off"));
        assert_eq!(complete("export ", &[]), ["export md", "export json"]);
        assert_eq!(
            complete("filter kind:decision,hy", &[]),
            ["filter kind:decision,hypothesis"]
        );
        assert_eq!(complete("filter a", &[]), ["filter author:"]);
    }

    #[test]
    fn completes_names_and_arguments() {
        assert_eq!(complete("de", &[]), ["declare "]);
        assert_eq!(complete("st", &[]), ["status "]);
        assert_eq!(complete("status mo", &[]), ["status monitoring"]);
        assert_eq!(
            complete("role ", &[]),
            ["role ic", "role tl", "role comms", "role scribe"]
        );
        assert_eq!(
            complete("open INC-1", &[IncidentRef(1), IncidentRef(12)]),
            ["open INC-12"]
        );
        assert_eq!(
            complete("r", &[]).len(),
            6,
            "release retitle resolve restrict role runbook"
        );
    }

    #[test]
    fn declares_restricted_and_manages_members() {
        let c = ctx(Some(2));
        let declared = |line: &str| match parse(line, &c) {
            Ok(Intent::Send(Command::Declare {
                title,
                severity,
                service,
                restricted,
            })) => (title, severity, service, restricted),
            other => panic!("{line}: {other:?}"),
        };
        let leaked = |sev, service: Option<&str>, restricted| {
            (
                "Leaked credentials in bucket".to_string(),
                sev,
                service.map(str::to_string),
                restricted,
            )
        };
        assert_eq!(
            declared(":declare --restricted sev1 Leaked credentials in bucket"),
            leaked(Severity::Sev1, None, true)
        );
        assert_eq!(
            declared("declare sev1 -r service:storage Leaked credentials in bucket"),
            leaked(Severity::Sev1, Some("storage"), true)
        );
        assert_eq!(
            declared("declare -R Leaked credentials in bucket svc:storage"),
            leaked(Severity::Sev3, Some("storage"), true)
        );
        assert_eq!(
            declared("declare sev1 Leaked credentials in bucket"),
            leaked(Severity::Sev1, None, false)
        );
        // A mistyped flag must not declare it in the open with the flag in its title.
        let e = parse("declare --restriced sev1 Leaked credentials", &c).unwrap_err();
        assert!(e.contains("unknown option '--restriced'"), "{e}");
        assert!(
            parse("declare -r sev1", &c)
                .unwrap_err()
                .contains("the title is missing")
        );
        // A title may still start with a number or a dash-less word.
        assert_eq!(
            declared("declare -r 2 buckets public").0,
            "2 buckets public"
        );

        assert_eq!(
            parse("restrict", &c).unwrap(),
            Intent::Send(Command::Restrict {
                incident: IncidentRef(2)
            })
        );
        assert_eq!(
            parse("rest INC-7", &c).unwrap(),
            Intent::Send(Command::Restrict {
                incident: IncidentRef(7)
            })
        );
        assert!(
            parse("restrict bob", &c)
                .unwrap_err()
                .contains("usage: :restrict")
        );
        assert!(
            parse("restrict", &ctx(None))
                .unwrap_err()
                .contains("open an incident first")
        );
        assert_eq!(
            parse("member add bob", &c).unwrap(),
            Intent::Send(Command::AddMember {
                incident: IncidentRef(2),
                person: "bob".into()
            })
        );
        assert_eq!(
            parse("mem INC-3 remove carol", &c).unwrap(),
            Intent::Send(Command::RemoveMember {
                incident: IncidentRef(3),
                person: "carol".into()
            })
        );
        assert_eq!(
            parse("member rm me", &c).unwrap(),
            Intent::Send(Command::RemoveMember {
                incident: IncidentRef(2),
                person: "me".into()
            })
        );
        assert_eq!(
            parse("member", &c).unwrap(),
            Intent::Members(IncidentRef(2))
        );
        assert_eq!(
            parse("members INC-4", &c).unwrap(),
            Intent::Members(IncidentRef(4))
        );
        assert!(
            parse("member add", &c)
                .unwrap_err()
                .contains("usage: :member add NAME")
        );
        assert!(
            parse("member add bob carol", &c)
                .unwrap_err()
                .contains("one name")
        );
        assert!(
            parse("member kick bob", &c)
                .unwrap_err()
                .contains("'kick' is neither add nor remove")
        );
        assert_eq!(complete("member ", &[]), ["member add", "member remove"]);
        assert_eq!(complete("declare --r", &[]), ["declare --restricted"]);
        assert_eq!(
            complete("declare -r s", &[]),
            [
                "declare -r sev1",
                "declare -r sev2",
                "declare -r sev3",
                "declare -r sev4"
            ]
        );
    }

    #[test]
    fn the_new_commands_keep_the_old_short_forms() {
        let c = ctx(Some(2));
        // `res` was resolve and `me` was metrics before restrict and member existed.
        assert_eq!(
            parse("res", &c).unwrap(),
            Intent::Send(Command::Resolve {
                incident: IncidentRef(2)
            })
        );
        assert_eq!(parse("me", &c).unwrap(), Intent::Metrics);
        assert_eq!(parse("met", &c).unwrap(), Intent::Metrics);
        assert_eq!(parse("mem", &c).unwrap(), Intent::Members(IncidentRef(2)));
        // `h` is help and `ac` is ack; handoff, accept-handoff and action answer to `ha`,
        // `acc` and `act`.
        assert_eq!(parse("h", &c).unwrap(), Intent::Help);
        assert_eq!(parse("ha", &c).unwrap(), Intent::Handoff);
        assert_eq!(
            parse("ac", &c).unwrap(),
            Intent::Send(Command::Acknowledge {
                incident: IncidentRef(2)
            })
        );
        assert_eq!(
            parse("acc bob", &c).unwrap(),
            Intent::AcceptHandoff {
                from: Some("bob".into())
            }
        );
        assert!(
            parse("m", &c)
                .unwrap_err()
                .contains("could be milestone, metrics")
        );
        // Every prefix that named one command before still names the same one.
        let older: Vec<&PaletteEntry> = COMMANDS
            .iter()
            .filter(|e| !SHORTEST_PREFIX.iter().any(|(n, _)| *n == e.name))
            .collect();
        for e in &older {
            assert!(answers_to(e, e.name), "{}", e.name);
            for len in 1..=e.name.len() {
                let p = &e.name[..len];
                if older.iter().filter(|o| o.name.starts_with(p)).count() != 1 {
                    continue;
                }
                let now: Vec<&str> = COMMANDS
                    .iter()
                    .filter(|c| answers_to(c, p))
                    .map(|c| c.name)
                    .collect();
                assert_eq!(now, [e.name], "'{p}'");
            }
        }
    }
}
