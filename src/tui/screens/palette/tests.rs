//! The palette's parser and completion, line by line: every command parses, the short
//! forms people learnt keep naming the same commands, completions offer what fits.

use chrono::{TimeZone, Utc};

use super::complete::complete;
use super::parse::{Context, answers_to, parse};
use crate::model::{Command, EntryKind, IncidentRef, Role, Severity, Status};
use crate::tui::commands::{COMMANDS, Intent, PaletteEntry};

/// The commands that answer only to a long enough prefix, and that length, as the command
/// table has them.
static SHORTEST_PREFIX: std::sync::LazyLock<Vec<(&str, usize)>> = std::sync::LazyLock::new(|| {
    COMMANDS
        .iter()
        .filter(|c| c.shortest > 1)
        .map(|c| (c.name, c.shortest))
        .collect()
});
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
            restricted: false,
            detected_by: None,
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
        ["role ic ", "role tl ", "role comms ", "role scribe "]
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
            detected_by: None,
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
    assert_eq!(complete("member ", &[]), ["member add ", "member remove "]);
    assert_eq!(complete("declare --r", &[]), ["declare --restricted "]);
    assert_eq!(
        complete("declare -r s", &[]),
        [
            "declare -r sev1 ",
            "declare -r sev2 ",
            "declare -r sev3 ",
            "declare -r sev4 "
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
