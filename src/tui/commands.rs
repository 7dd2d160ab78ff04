//! The command table: everything the console can do, one row each. A row names the
//! command as the palette takes it (its usage, its help line, how short a prefix it answers
//! to, the parser of its arguments and the completer of the word being typed) and the key
//! that does it (the config file's action name, the default keys, the line help lists).
//!
//! Everything else is generated from this table: the keymap and the `[keys]` names
//! ([`BINDINGS`]), the palette's parser and completion ([`COMMANDS`]), and both halves of
//! help. A key and its palette command build the command in one place, the row's parser:
//! `a` runs `:ack` on the incident in view. A row with a key only (moving, paging, one
//! severity step) has its own code, in [`crate::tui::actions`].

use crate::model::IncidentRef;
pub use crate::tui::actions::Intent;
use crate::tui::keymap::{Action, Binding};
use crate::tui::screens::palette::complete as options;
use crate::tui::screens::palette::parse::{self as args, Args};

/// A palette command: name, usage, what it does, and how its line is read and completed.
#[derive(Clone, Copy)]
pub struct PaletteEntry {
    pub name: &'static str,
    pub usage: &'static str,
    pub help: &'static str,
    /// The shortest prefix it answers to. Commands added after people learnt the short
    /// forms of older ones answer only to a longer prefix, so `:res` stays `resolve`, `:me`
    /// stays `metrics`, `:h` is help and `:ac` is ack (the commands a responder types
    /// most, under pressure).
    pub shortest: usize,
    /// Whether an incident may be named first (`:ack INC-3`).
    pub names_incident: bool,
    /// Reads the arguments.
    pub parse: fn(&Args<'_>) -> Result<Intent, String>,
    /// The options for the argument being typed (`arg` is everything after the name).
    pub complete: fn(arg: &str, incidents: &[IncidentRef]) -> Vec<String>,
}

/// How a key press acts.
#[derive(Clone, Copy)]
pub enum Press {
    /// Runs the row's palette command with no arguments on the incident in view (`a` is
    /// `:ack`). Without one the command cannot run: `Some(why)` says so, `None` does
    /// nothing.
    Command { no_incident: Option<&'static str> },
    /// Opens the palette with the command's name typed (`n` types `:declare `).
    Prefill,
    /// Something only a key does (its code is in [`crate::tui::actions`]).
    Own,
}

/// One row of the table: a key, a palette command, or both.
#[derive(Clone, Copy)]
pub struct Row {
    pub key: Option<Binding>,
    /// How the key acts (for a row with a key).
    pub press: Press,
    pub palette: Option<PaletteEntry>,
}

/// A palette command with no key.
const fn palette(entry: PaletteEntry) -> Row {
    Row {
        key: None,
        press: Press::Own,
        palette: Some(entry),
    }
}

/// A key with no palette command.
const fn key(binding: Binding) -> Row {
    Row {
        key: Some(binding),
        press: Press::Own,
        palette: None,
    }
}

/// A palette command and the key that does it too.
const fn both(binding: Binding, press: Press, entry: PaletteEntry) -> Row {
    Row {
        key: Some(binding),
        press,
        palette: Some(entry),
    }
}

const fn bind(
    action: Action,
    name: &'static str,
    defaults: &'static [&'static str],
    help: &'static str,
) -> Binding {
    Binding {
        action,
        name,
        defaults,
        help,
    }
}

/// A palette command that may name its incident first, answers to any prefix and
/// completes nothing; `with_*` change that.
const fn cmd(
    name: &'static str,
    usage: &'static str,
    help: &'static str,
    parse: fn(&Args<'_>) -> Result<Intent, String>,
) -> PaletteEntry {
    PaletteEntry {
        name,
        usage,
        help,
        shortest: 1,
        names_incident: true,
        parse,
        complete: options::nothing,
    }
}

impl PaletteEntry {
    const fn completing(mut self, complete: fn(&str, &[IncidentRef]) -> Vec<String>) -> Self {
        self.complete = complete;
        self
    }

    const fn shortest(mut self, len: usize) -> Self {
        self.shortest = len;
        self
    }

    /// The arguments start at once: no incident is named first (`:declare`, `:open`).
    const fn no_incident_first(mut self) -> Self {
        self.names_incident = false;
        self
    }
}

const RUN: Press = Press::Command { no_incident: None };

/// The table, in the order the palette lists, completes and disambiguates its commands
/// (help's Commands section too); the keys are listed in [`Action`]'s order.
pub const TABLE: &[Row] = &[
    both(
        bind(Action::Declare, "declare", &["n"], "declare an incident"),
        Press::Prefill,
        cmd(
            "declare",
            "declare [-r] [sevN] TITLE [service:NAME]",
            "declare an incident (SEV3 unless given); -r or --restricted: need to know",
            args::declare,
        )
        .no_incident_first()
        .completing(options::declare),
    ),
    palette(
        cmd(
            "note",
            "note TEXT",
            "record a timeline entry (scribe prefixes work)",
            args::note,
        )
        .completing(options::note),
    ),
    both(
        bind(Action::Ack, "ack", &["a"], "acknowledge"),
        RUN,
        cmd(
            "ack",
            "ack",
            "acknowledge (stops the escalation)",
            args::ack,
        ),
    ),
    both(
        bind(
            Action::Runbook,
            "runbook",
            &["c"],
            "runbook checklist (↑↓ move, space ticks, esc closes)",
        ),
        Press::Command {
            no_incident: Some("open an incident (or select one on the board) to see its runbook"),
        },
        cmd(
            "runbook",
            "runbook [N]",
            "the runbook checklist; with N, tick item N",
            args::runbook,
        ),
    ),
    palette(cmd("sev", "sev N", "set severity 1-4", args::sev).completing(options::sev)),
    palette(
        cmd(
            "status",
            "status STATUS",
            "investigating, identified, monitoring, resolved, closed",
            args::status,
        )
        .completing(options::status),
    ),
    palette(
        cmd(
            "role",
            "role ROLE NAME|me",
            "give a role: ic, tl, comms, scribe",
            args::role,
        )
        .completing(options::role),
    ),
    palette(
        cmd(
            "release",
            "release ROLE",
            "leave a role vacant",
            args::release,
        )
        .completing(options::role),
    ),
    both(
        bind(
            Action::Pin,
            "pin",
            &["p"],
            "pin / unpin the selected timeline entry",
        ),
        Press::Own,
        cmd(
            "pin",
            "pin [ENTRY]",
            "pin the selected (or numbered) entry",
            args::pin,
        ),
    ),
    palette(cmd(
        "correct",
        "correct [ENTRY] [@HH:MM] [d:|a:|h:|r:|u:|n:] TEXT",
        "supersede the selected (or numbered) entry; the original stays in its history",
        args::correct,
    )),
    palette(cmd("unpin", "unpin [ENTRY]", "unpin an entry", args::unpin)),
    palette(
        cmd(
            "milestone",
            "milestone NAME [HH:MM]",
            "impact_started, detected, acknowledged, mitigated, resolved",
            args::milestone,
        )
        .completing(options::milestone),
    ),
    palette(cmd(
        "update",
        "update [TEXT]",
        "write a status update (what is happening, impact, what we do, next update)",
        args::update,
    )),
    palette(cmd(
        "postmortem",
        "postmortem (pm)",
        "edit the post-mortem: summary, 5 whys, sections, action items",
        args::postmortem,
    )),
    palette(
        cmd(
            "action",
            "action TEXT [@owner] [due:YYYY-MM-DD]",
            "add a post-mortem action item (owner defaults to you)",
            args::action,
        )
        .shortest(3),
    ),
    palette(cmd(
        "waive",
        "waive REASON",
        "no post-mortem needed: the incident may then be closed",
        args::waive,
    )),
    palette(
        cmd(
            "export",
            "export [md|json]",
            "write INC-N-title.md (or .json) in the current directory",
            args::export,
        )
        .completing(options::export),
    ),
    palette(cmd(
        "retitle",
        "retitle TITLE",
        "change the title",
        args::retitle,
    )),
    both(
        bind(
            Action::Resolve,
            "resolve",
            &["R"],
            "resolve (asks first: y resolves)",
        ),
        RUN,
        cmd("resolve", "resolve", "resolve the incident", args::resolve),
    ),
    palette(
        cmd(
            "restrict",
            "restrict",
            "make the incident need-to-know: only its members and admins see it",
            args::restrict,
        )
        .shortest(4),
    ),
    palette(
        cmd(
            "member",
            "member [add|remove NAME|me]",
            "list a restricted incident's members (also :members); admins add or remove them",
            args::member,
        )
        .shortest(3)
        .completing(options::member),
    ),
    both(
        bind(
            Action::Open,
            "open",
            &["enter"],
            "open the selected incident",
        ),
        Press::Own,
        cmd("open", "open INC-N", "open an incident room", args::open)
            .no_incident_first()
            .completing(options::open),
    ),
    both(
        bind(
            Action::Back,
            "back",
            &["esc"],
            "back to the board / leave a pane",
        ),
        Press::Own,
        cmd("board", "board", "back to the incident board", args::board),
    ),
    both(
        // The config name is the one this key had before the archive was a search.
        bind(
            Action::ToggleResolved,
            "toggle_resolved",
            &["r"],
            "the archive: search every incident the feed has (again: back to the board)",
        ),
        RUN,
        cmd(
            "archive",
            "archive [SEARCH]",
            "search every incident the feed has: words, sev:N, service:NAME, since:DATE, \
             until:DATE, is:active|any (resolved and closed unless is: says)",
            args::archive,
        )
        .no_incident_first(),
    ),
    palette(cmd(
        "metrics",
        "metrics",
        "MTTD/MTTA/MTTM/MTTR per severity, incidents per week, completion rates",
        args::metrics,
    )),
    palette(
        cmd(
            "handoff",
            "handoff",
            "the handoff briefing: active incidents, on call, the shift's resolved and alerts",
            args::handoff,
        )
        .shortest(2),
    ),
    palette(
        cmd(
            "accept-handoff",
            "accept-handoff [NAME]",
            "take over from NAME (default: the outgoing primary); IC wherever NAME was",
            args::accept_handoff,
        )
        .shortest(3),
    ),
    both(
        bind(
            Action::Scribe,
            "scribe",
            &["i", "tab"],
            "write in the scribe pane",
        ),
        RUN,
        cmd(
            "scribe",
            "scribe",
            "write in the scribe pane of the open incident",
            args::scribe,
        ),
    ),
    both(
        bind(
            Action::Filter,
            "filter",
            &["/"],
            "filter incidents; in a room, search its timeline (n / N next / previous)",
        ),
        Press::Own,
        cmd(
            "filter",
            "filter TEXT | kind:K,K author:NAME",
            "filter the board; in a room, its timeline by kind, author, words (empty clears)",
            args::filter,
        )
        .completing(options::filter),
    ),
    both(
        bind(
            Action::ToggleSystem,
            "toggle_system",
            &["H"],
            "show / hide system entries in the room's timeline",
        ),
        RUN,
        cmd(
            "system",
            "system [on|off]",
            "show / hide the room's system entries (H toggles)",
            args::system,
        )
        .completing(options::system),
    ),
    both(
        bind(Action::Help, "help", &["?"], "this help"),
        RUN,
        cmd(
            "help",
            "help",
            "keys, commands and scribe prefixes",
            args::help,
        ),
    ),
    both(
        bind(
            Action::Quit,
            "quit",
            &["q"],
            "quit (asks if you have unsent text)",
        ),
        RUN,
        cmd("quit", "quit", "quit warroom", args::quit),
    ),
    // What only keys do.
    key(bind(
        Action::Palette,
        "palette",
        &[":"],
        "command palette (every action)",
    )),
    key(bind(
        Action::FollowNews,
        "follow_news",
        &["o"],
        "go to the incident of the notice above the screen (new, raised, paged you)",
    )),
    key(bind(
        Action::DismissNews,
        "dismiss_news",
        &["x"],
        "dismiss the notice above the screen",
    )),
    key(bind(
        Action::SeverityUp,
        "severity_up",
        &["+"],
        "raise severity (SEV3 → SEV2)",
    )),
    key(bind(
        Action::SeverityDown,
        "severity_down",
        &["-"],
        "lower severity (a SEV1 or SEV2 asks first)",
    )),
    key(bind(
        Action::NextStatus,
        "next_status",
        &["s"],
        "next status (investigating → identified → monitoring)",
    )),
    key(bind(
        Action::History,
        "history",
        &["v"],
        "the selected entry in full, with its corrections (enter too)",
    )),
    key(bind(Action::Up, "up", &["up", "k"], "move up")),
    key(bind(Action::Down, "down", &["down", "j"], "move down")),
    key(bind(Action::PageUp, "page_up", &["pageup"], "page up")),
    key(bind(
        Action::PageDown,
        "page_down",
        &["pagedown"],
        "page down",
    )),
    key(bind(Action::Top, "top", &["g", "home"], "first / oldest")),
    key(bind(
        Action::Bottom,
        "bottom",
        &["G", "end"],
        "last / newest (follow)",
    )),
];

/// The row of the key action `a` (every action has one: [`BINDINGS`] checks it).
pub fn row_of(a: Action) -> &'static Row {
    TABLE
        .iter()
        .find(|r| r.key.is_some_and(|b| b.action == a))
        .unwrap_or(&TABLE[0])
}

// ---- the views the rest of the console reads ---------------------------------------------

/// Every key binding, one per [`Action`], in the order the actions are declared (the order
/// help lists keys). A missing or doubled action is a compile error.
pub const BINDINGS: &[Binding] = &KEY_ROWS;

/// Every palette command, in table order.
pub const COMMANDS: &[PaletteEntry] = &PALETTE;

const KEY_ROWS: [Binding; Action::COUNT] = {
    let mut out = [bind(Action::Quit, "", &[], ""); Action::COUNT];
    let mut seen = [false; Action::COUNT];
    let mut i = 0;
    while i < TABLE.len() {
        if let Some(b) = TABLE[i].key {
            let k = b.action as usize;
            assert!(!seen[k], "an action has two rows in the command table");
            out[k] = b;
            seen[k] = true;
        }
        i += 1;
    }
    let mut k = 0;
    while k < Action::COUNT {
        assert!(seen[k], "an action has no row in the command table");
        k += 1;
    }
    out
};

/// How many rows have a palette command.
const PALETTE_ROWS: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < TABLE.len() {
        if TABLE[i].palette.is_some() {
            n += 1;
        }
        i += 1;
    }
    n
};

const PALETTE: [PaletteEntry; PALETTE_ROWS] = {
    let Some(first) = TABLE[0].palette else {
        panic!("the command table starts with a palette command");
    };
    let mut out = [first; PALETTE_ROWS];
    let mut n = 0;
    let mut i = 0;
    while i < TABLE.len() {
        if let Some(p) = TABLE[i].palette {
            out[n] = p;
            n += 1;
        }
        i += 1;
    }
    out
};
