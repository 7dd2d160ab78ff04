//! Reading a palette line: which command it names (the whole name or a long enough prefix;
//! `pm` and `members` are other names for two of them), an incident named first
//! (`:ack INC-3`), then the command's own arguments, read by the function its row in the
//! command table names. A key that runs a command calls the same function, with no
//! arguments, on the incident in view.

use chrono::{DateTime, Utc};

use crate::clock::Zone;
use crate::model::{Command, EntryKind, IncidentRef, Milestone, Rejection, Role, Severity};
use crate::report::export::{ExportFormat, parse_format};
use crate::tui::commands::{COMMANDS, Intent, PaletteEntry};
use crate::tui::screens::postmortem::parse_action_spec;
use crate::tui::scribe;

/// What the palette knows about where it was opened.
pub struct Context {
    /// The incident in view (room) or selected (board).
    pub incident: Option<IncidentRef>,
    /// The timeline entry selected in the room.
    pub entry: Option<u64>,
    pub now: DateTime<Utc>,
    pub tz: Zone,
}

/// A command's arguments, as its parser gets them.
pub struct Args<'a> {
    /// What follows the command's name (and an incident named first), trimmed.
    pub rest: &'a str,
    /// The incident the command is about: the one named first, else the one in view.
    target: Option<IncidentRef>,
    pub ctx: &'a Context,
    entry: &'a PaletteEntry,
}

impl<'a> Args<'a> {
    /// No arguments, on the incident in view: what a key that runs `entry` gives it.
    pub fn bare(entry: &'a PaletteEntry, ctx: &'a Context) -> Self {
        Args {
            rest: "",
            target: ctx.incident,
            ctx,
            entry,
        }
    }

    /// The incident, or how to give one.
    pub(super) fn incident(&self) -> Result<IncidentRef, String> {
        self.target.ok_or_else(|| {
            format!(
                "open an incident first, or name it: :{} INC-N …",
                self.entry.name
            )
        })
    }

    /// Refuses a line without arguments, naming `what` is missing.
    fn need(&self, what: &str) -> Result<(), String> {
        if self.rest.is_empty() {
            Err(format!("usage: :{} — {what} is missing", self.entry.usage))
        } else {
            Ok(())
        }
    }
}

/// Whether `typed` names `entry` (the whole name, or a long enough prefix of it).
pub fn answers_to(entry: &PaletteEntry, typed: &str) -> bool {
    entry.name.starts_with(typed) && (typed.len() >= entry.shortest || typed == entry.name)
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
    if entry.names_incident {
        let (first, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        if first.to_ascii_uppercase().starts_with("INC-") {
            target = Some(first.parse().map_err(msg)?);
            rest = tail.trim();
        }
    }
    (entry.parse)(&Args {
        rest,
        target,
        ctx,
        entry,
    })
}

fn msg(e: Rejection) -> String {
    e.message
}

// ---- each command's arguments ------------------------------------------------------------

pub fn declare(a: &Args) -> Result<Intent, String> {
    a.need("the title")?;
    let d = declare_args(a.rest)?;
    Ok(Intent::Send(Command::Declare {
        title: d.title,
        severity: d.severity,
        service: d.service,
        restricted: d.restricted,
        detected_by: None,
    }))
}

pub fn restrict(a: &Args) -> Result<Intent, String> {
    let rest = a.rest;
    if !rest.is_empty() {
        return Err(format!(
            "usage: :restrict [INC-N] — '{rest}' is not an incident (:member add NAME adds people)"
        ));
    }
    Ok(Intent::Send(Command::Restrict {
        incident: a.incident()?,
    }))
}

pub fn member(a: &Args) -> Result<Intent, String> {
    let (verb, person) = a
        .rest
        .split_once(char::is_whitespace)
        .unwrap_or((a.rest, ""));
    let person = person.trim();
    let incident = a.incident()?;
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
    Ok(Intent::Send(if add {
        Command::AddMember { incident, person }
    } else {
        Command::RemoveMember { incident, person }
    }))
}

pub fn note(a: &Args) -> Result<Intent, String> {
    a.need("the text")?;
    let l = scribe::parse(a.rest, a.ctx.now, a.ctx.tz)?;
    Ok(Intent::Send(Command::AddEntry {
        incident: a.incident()?,
        entry_kind: l.kind,
        text: l.text,
        occurred_at: l.occurred_at,
        next_update_secs: None,
        public: false,
        briefing: None,
    }))
}

pub fn ack(a: &Args) -> Result<Intent, String> {
    Ok(Intent::Send(Command::Acknowledge {
        incident: a.incident()?,
    }))
}

pub fn resolve(a: &Args) -> Result<Intent, String> {
    Ok(Intent::Send(Command::Resolve {
        incident: a.incident()?,
    }))
}

pub fn sev(a: &Args) -> Result<Intent, String> {
    a.need("the severity")?;
    Ok(Intent::Send(Command::SetSeverity {
        incident: a.incident()?,
        severity: a.rest.parse().map_err(msg)?,
    }))
}

pub fn status(a: &Args) -> Result<Intent, String> {
    a.need("the status")?;
    Ok(Intent::Send(Command::SetStatus {
        incident: a.incident()?,
        status: a.rest.parse().map_err(msg)?,
    }))
}

pub fn role(a: &Args) -> Result<Intent, String> {
    a.need("the role")?;
    let (role, person) = a
        .rest
        .split_once(char::is_whitespace)
        .unwrap_or((a.rest, ""));
    let role = Role::parse_loose(role).map_err(msg)?;
    let person = person.trim();
    if person.is_empty() {
        return Err("usage: :role ROLE NAME|me — the name is missing".into());
    }
    Ok(Intent::Send(Command::AssignRole {
        incident: a.incident()?,
        role,
        person: person.to_string(),
    }))
}

pub fn take(a: &Args) -> Result<Intent, String> {
    let role = match a.rest {
        "" => Role::IncidentCommander,
        r => Role::parse_loose(r).map_err(msg)?,
    };
    Ok(Intent::Send(Command::AssignRole {
        incident: a.incident()?,
        role,
        person: "me".to_string(),
    }))
}

pub fn release(a: &Args) -> Result<Intent, String> {
    a.need("the role")?;
    Ok(Intent::Send(Command::ReleaseRole {
        incident: a.incident()?,
        role: Role::parse_loose(a.rest).map_err(msg)?,
    }))
}

pub fn pin(a: &Args) -> Result<Intent, String> {
    pin_entry(a, true)
}

pub fn unpin(a: &Args) -> Result<Intent, String> {
    pin_entry(a, false)
}

fn pin_entry(a: &Args, pinned: bool) -> Result<Intent, String> {
    let rest = a.rest;
    let entry_id = if rest.is_empty() {
        a.ctx
            .entry
            .ok_or("select a timeline entry first (↑/↓), or give its number")?
    } else {
        rest.trim_start_matches('#')
            .parse()
            .map_err(|_| format!("'{rest}' is not an entry number"))?
    };
    Ok(Intent::Send(Command::PinEntry {
        incident: a.incident()?,
        entry: entry_id,
        pinned,
    }))
}

pub fn correct(a: &Args) -> Result<Intent, String> {
    let (ctx, rest) = (a.ctx, a.rest);
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
    let line = match scribe::parse(body, ctx.now, ctx.tz) {
        Ok(l) => l,
        Err(e) => {
            let mut l = scribe::parse(&format!("{body} \u{1}"), ctx.now, ctx.tz).map_err(|_| e)?;
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
    Ok(Intent::Send(Command::CorrectEntry {
        incident: a.incident()?,
        entry: entry_id,
        text: (!text.is_empty()).then(|| text.to_string()),
        entry_kind: explicit_kind.then_some(line.kind),
        occurred_at: line.occurred_at,
    }))
}

pub fn milestone(a: &Args) -> Result<Intent, String> {
    a.need("the milestone")?;
    let (name, at) = a
        .rest
        .split_once(char::is_whitespace)
        .unwrap_or((a.rest, ""));
    let milestone: Milestone = name.parse().map_err(msg)?;
    let at = match at.trim() {
        "" => None,
        t => {
            scribe::parse(
                &format!("@{} x", t.trim_start_matches('@')),
                a.ctx.now,
                a.ctx.tz,
            )?
            .occurred_at
        }
    };
    Ok(Intent::Send(Command::SetMilestone {
        incident: a.incident()?,
        milestone,
        occurred_at: at,
    }))
}

pub fn update(a: &Args) -> Result<Intent, String> {
    Ok(Intent::Update {
        incident: a.incident()?,
        text: a.rest.to_string(),
    })
}

pub fn postmortem(a: &Args) -> Result<Intent, String> {
    Ok(Intent::Postmortem(a.incident()?))
}

pub fn action(a: &Args) -> Result<Intent, String> {
    a.need("the text")?;
    let today = a.ctx.now.with_timezone(&a.ctx.tz).date_naive();
    let (text, owner, due) = parse_action_spec(a.rest, today)?;
    Ok(Intent::Send(Command::AddActionItem {
        incident: a.incident()?,
        text,
        owner,
        due,
    }))
}

pub fn pm_done(a: &Args) -> Result<Intent, String> {
    Ok(Intent::Send(Command::CompletePostmortem {
        incident: a.incident()?,
    }))
}

pub fn waive(a: &Args) -> Result<Intent, String> {
    a.need("the reason")?;
    Ok(Intent::Send(Command::WaivePostmortem {
        incident: a.incident()?,
        reason: a.rest.to_string(),
    }))
}

pub fn export(a: &Args) -> Result<Intent, String> {
    Ok(Intent::Export {
        incident: a.incident()?,
        format: match a.rest {
            "" => ExportFormat::Markdown,
            f => parse_format(f)?,
        },
    })
}

pub fn system(a: &Args) -> Result<Intent, String> {
    Ok(Intent::System(match a.rest.to_ascii_lowercase().as_str() {
        "" => None,
        "on" | "show" => Some(true),
        "off" | "hide" => Some(false),
        _ => return Err("usage: :system on|off (on shows system entries)".into()),
    }))
}

pub fn retitle(a: &Args) -> Result<Intent, String> {
    a.need("the title")?;
    Ok(Intent::Send(Command::Retitle {
        incident: a.incident()?,
        title: a.rest.to_string(),
    }))
}

pub fn page(a: &Args) -> Result<Intent, String> {
    a.need("whom to page")?;
    let (target, message) = a
        .rest
        .split_once(char::is_whitespace)
        .unwrap_or((a.rest, ""));
    let message = message.trim();
    Ok(Intent::Send(Command::Page {
        incident: a.incident()?,
        target: target.to_string(),
        message: (!message.is_empty()).then(|| message.to_string()),
    }))
}

pub fn service(a: &Args) -> Result<Intent, String> {
    a.need("the service")?;
    Ok(Intent::Send(Command::SetService {
        incident: a.incident()?,
        service: a.rest.to_string(),
    }))
}

pub fn open(a: &Args) -> Result<Intent, String> {
    a.need("the incident")?;
    Ok(Intent::Open(a.rest.parse().map_err(msg)?))
}

pub fn runbook(a: &Args) -> Result<Intent, String> {
    let rest = a.rest;
    let item = match rest.trim_start_matches('#') {
        "" => None,
        n => Some(
            n.parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("'{rest}' is not a runbook item number"))?,
        ),
    };
    Ok(Intent::Runbook {
        incident: a.incident()?,
        item,
    })
}

pub fn board(_: &Args) -> Result<Intent, String> {
    Ok(Intent::Board)
}

pub fn archive(a: &Args) -> Result<Intent, String> {
    if a.rest.is_empty() {
        return Ok(Intent::Archive(None));
    }
    // Checked here, so a mistake stays in the palette to be fixed.
    crate::tui::screens::archive::parse_search(a.rest, a.ctx.tz)?;
    Ok(Intent::Archive(Some(a.rest.to_string())))
}

pub fn metrics(_: &Args) -> Result<Intent, String> {
    Ok(Intent::Metrics)
}

pub fn handoff(_: &Args) -> Result<Intent, String> {
    Ok(Intent::Handoff)
}

pub fn accept_handoff(a: &Args) -> Result<Intent, String> {
    Ok(Intent::AcceptHandoff {
        from: Some(a.rest.to_string()).filter(|r| !r.is_empty()),
    })
}

pub fn scribe(_: &Args) -> Result<Intent, String> {
    Ok(Intent::Scribe)
}

pub fn filter(a: &Args) -> Result<Intent, String> {
    Ok(Intent::Filter(a.rest.to_string()))
}

pub fn help(_: &Args) -> Result<Intent, String> {
    Ok(Intent::Help)
}

pub fn quit(_: &Args) -> Result<Intent, String> {
    Ok(Intent::Quit)
}

// ---- `:declare` ----------------------------------------------------------------------------

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
pub fn restricted_flag(t: &str) -> bool {
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
