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

mod build;
mod views;

pub use crate::tui::actions::Intent;
pub use build::{PaletteEntry, Press, Row};
pub use views::{BINDINGS, COMMANDS, row_of};

use crate::tui::keymap::{Action, Binding};
use crate::tui::screens::palette::complete as options;
use crate::tui::screens::palette::parse as args;
use crate::tui::screens::palette::triage;
use build::{RUN, bind, both, cmd, key, palette};

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
    both(
        bind(
            Action::TakeIc,
            "take_ic",
            &["I"],
            "take incident commander yourself, on the incident in view",
        ),
        Press::Command {
            no_incident: Some("select an incident (or open one) to take incident commander"),
        },
        cmd(
            "take",
            "take [ROLE]",
            "take a role yourself: incident commander unless ic, tl, comms or scribe says",
            args::take,
        )
        .completing(options::role),
    ),
    both(
        bind(
            Action::HandRole,
            "hand_role",
            &["A"],
            "hand a role: i, t, c or s picks it, then a name (tab completes who is here)",
        ),
        Press::Own,
        cmd(
            "role",
            "role ROLE NAME|me",
            "give a role: ic, tl, comms, scribe (tab completes the people present)",
            args::role,
        )
        .completing(options::role_to),
    ),
    palette(
        cmd(
            "page",
            "page NAME|SCHEDULE.primary|secondary [MESSAGE]",
            "page someone now, outside the escalation (tab completes whom the policy knows)",
            args::page,
        )
        .shortest(2)
        .completing(options::page),
    ),
    palette(
        cmd(
            "triage",
            "triage [monitoring|customer|engineer] [growing|stable] [workaround|no-workaround]",
            "who found it, is the impact growing, is there a workaround (any order, at least one)",
            triage::parse,
        )
        .shortest(2)
        .completing(triage::complete),
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
        "write a status update for the stakeholders (ctrl-p public; a SEV1 adds the briefing)",
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
            "add a post-mortem action item (owner and due date required: @me for yourself)",
            args::action,
        )
        .shortest(3),
    ),
    palette(cmd(
        "pm-done",
        "pm-done",
        "the post-mortem is done (due 48 h after resolution): its countdown stops",
        args::pm_done,
    )),
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
    palette(
        cmd(
            "service",
            "service NAME",
            "set the service the incident is about (the service's runbook follows)",
            args::service,
        )
        .shortest(3),
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
    both(
        bind(
            Action::Handoff,
            "handoff",
            &["h"],
            "the handoff briefing (enter in it accepts the handoff)",
        ),
        RUN,
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
