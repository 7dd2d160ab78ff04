//! The handoff briefing and accepting a handoff: the briefing built from a state with
//! several incidents (fields, Markdown, plain text, JSON); the `:handoff` screen and
//! `:accept-handoff` in the console (App + TestBackend); accepting over a running feed; and
//! `warroom accept-handoff` / `warroom handoff` against a real `warroom serve`.

mod common;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use common::cli::ok;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier, Style};
use serde_json::{Value, json};
use warroom::client::{ConnState, Update};
use warroom::model::escalation::{Plan, PlannedStep};
use warroom::model::oncall::{Layer, Schedule};
use warroom::model::policy::Policy;
use warroom::model::{
    AlertAction, Command, EntryKind, Event, EventKind, IncidentRef, Role, Severity, State, Status,
    StepAction,
};
use warroom::protocol::Answer;
use warroom::report::handoff::{self, Briefing};
use warroom::tui::app::{App, Effect, Level, Msg};
use warroom::tui::handoff_view;
use warroom::tui::keymap::Keymap;
use warroom::tui::theme::Theme;

// ---- a shift's worth of history ------------------------------------------------------

/// Daily 09:00 UTC handoffs from Monday 2026-11-23: on Thursday 26th carl is primary (shift
/// 3), dan secondary; bob had Wednesday. The default schedule is listed second on purpose.
const POLICY: &str = r#"
[oncall]
default_schedule = "platform"

[[schedule]]
name = "search"
start = "2026-11-23"
primary = ["zoe"]

[[schedule]]
name = "platform"
time_zone = "UTC"
rotation = "1d"
handoff = "09:00"
start = "2026-11-23"
primary = ["carl", "dan", "bob"]
"#;

fn schedules() -> Vec<Schedule> {
    handoff::schedules_default_first(&Policy::parse(POLICY).unwrap())
}

fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap()
}

/// Now: Thursday 14:10 UTC.
fn now() -> DateTime<Utc> {
    at(26, 14, 10)
}

/// Builds a feed history the way the server does.
struct History {
    state: State,
    events: Vec<Event>,
    now: DateTime<Utc>,
}

impl History {
    fn run(&mut self, who: &str, cmd: Command) -> Vec<u64> {
        let kinds = self.state.decide(who, self.now, &cmd).unwrap();
        kinds.into_iter().map(|k| self.record(who, k).seq).collect()
    }
    fn record(&mut self, who: &str, kind: EventKind) -> Event {
        let e = Event {
            seq: self.state.seq + 1,
            at: self.now,
            actor: who.into(),
            kind,
        };
        self.state.apply(&e).unwrap();
        self.events.push(e.clone());
        e
    }
    fn declare(&mut self, who: &str, title: &str, sev: u8, service: &str) -> IncidentRef {
        let r = self.state.next_reference();
        self.run(
            who,
            Command::Declare {
                title: title.into(),
                severity: Severity::try_from(sev).unwrap(),
                service: Some(service.into()),
                restricted: false,
                detected_by: None,
            },
        );
        r
    }
    fn entry(&mut self, who: &str, r: IncidentRef, kind: EntryKind, text: &str) -> u64 {
        self.run(
            who,
            Command::AddEntry {
                incident: r,
                entry_kind: kind,
                text: text.into(),
                occurred_at: None,
                next_update_secs: None,
                public: false,
                // A SEV1's status update carries the executive briefing.
                briefing: (kind == EntryKind::StatusUpdate).then(|| warroom::model::Briefing {
                    impact: "some customers cannot pay".into(),
                    eta: "an hour".into(),
                    at_risk: "none".into(),
                }),
            },
        )[0]
    }
    fn role(&mut self, r: IncidentRef, role: Role, person: &str) {
        self.run(
            "alice",
            Command::AssignRole {
                incident: r,
                role,
                person: person.into(),
            },
        );
    }
    fn alerts(&mut self, r: IncidentRef, n: usize) {
        for i in 0..n {
            self.record(
                "alertmanager",
                EventKind::AlertReceived {
                    incident: r,
                    source: "alertmanager".into(),
                    dedup_key: format!("k{}-{i}", r.0),
                    action: AlertAction::Trigger,
                    summary: "firing".into(),
                    by: None,
                },
            );
        }
    }
}

/// Ids of the entries the tests look for.
struct Ids {
    pool: u64,
    stampede: u64,
    ruled_out: u64,
    decision: u64,
    notes: Vec<u64>,
    update: u64,
    action_item: u64,
}

/// INC-1 resolved yesterday; INC-2 an active SEV1 on payments since before the shift, with
/// roles, hypotheses (one ruled out, one corrected), a pinned decision, notes, a status
/// update and a cadence, action items and a live escalation; INC-3 declared and resolved
/// during the shift; INC-4 (auth) and INC-5 (payments) declared during it; alerts on all.
fn shift() -> (History, Ids) {
    let mut h = History {
        state: State::default(),
        events: vec![],
        now: at(25, 20, 0),
    };
    let old = h.declare("bot", "Banner typo", 4, "web");
    h.alerts(old, 7);
    h.now = at(25, 21, 0);
    h.run("bot", Command::Resolve { incident: old });

    h.now = at(26, 6, 0);
    let inc = h.declare("alice", "Checkout errors", 1, "payments");
    h.record(
        "warroom",
        EventKind::CadenceSet {
            incident: inc,
            every_secs: Some(1800),
        },
    );
    h.alerts(inc, 4);
    h.now = at(26, 6, 5);
    h.role(inc, Role::IncidentCommander, "bob");
    h.role(inc, Role::TechLead, "erin");
    h.role(inc, Role::CommsLead, "fay");
    h.now = at(26, 7, 0);
    let pool = h.entry("carol", inc, EntryKind::Hypothesis, "db pool exhausted");
    h.now = at(26, 7, 10);
    let deploy = h.entry("carol", inc, EntryKind::Hypothesis, "bad deploy 4471");
    h.now = at(26, 7, 30);
    let ruled_out = h.run(
        "carol",
        Command::CorrectEntry {
            incident: inc,
            entry: deploy,
            text: Some("bad deploy 4471: rollback changed nothing".into()),
            entry_kind: Some(EntryKind::RuledOut),
            occurred_at: None,
        },
    )[0];
    h.now = at(26, 7, 40);
    let typo = h.entry("carol", inc, EntryKind::Hypothesis, "cache stampeed");
    let stampede = h.run(
        "carol",
        Command::CorrectEntry {
            incident: inc,
            entry: typo,
            text: Some("cache stampede".into()),
            entry_kind: None,
            occurred_at: None,
        },
    )[0];
    h.now = at(26, 8, 0);
    let decision = h.entry("bob", inc, EntryKind::Decision, "fail over to the replica");
    h.run(
        "bob",
        Command::PinEntry {
            incident: inc,
            entry: decision,
            pinned: true,
        },
    );
    let action_item = h.run(
        "bob",
        Command::AddActionItem {
            incident: inc,
            text: "add a pool-saturation alert".into(),
            owner: "erin".into(),
            due: NaiveDate::from_ymd_opt(2026, 12, 4),
        },
    )[0];
    let done = h.run(
        "bob",
        Command::AddActionItem {
            incident: inc,
            text: "rotate the db password".into(),
            owner: "bob".into(),
            due: NaiveDate::from_ymd_opt(2026, 12, 5),
        },
    )[0];
    h.run(
        "bob",
        Command::UpdateActionItem {
            incident: inc,
            item: done,
            text: None,
            owner: None,
            due: None,
            done: Some(true),
        },
    );
    let mut notes = vec![];
    h.now = at(26, 9, 15);
    notes.push(h.entry("bob", inc, EntryKind::Note, "replica lag 4s"));

    h.now = at(26, 9, 30);
    let search = h.declare("bot", "Search slow", 3, "search");
    h.alerts(search, 3);
    h.now = at(26, 10, 0);
    let login = h.declare("bot", "Login errors", 2, "auth");
    h.alerts(login, 5);
    h.role(login, Role::IncidentCommander, "bob");
    h.run("bob", Command::Acknowledge { incident: login });
    h.now = at(26, 10, 30);
    notes.push(h.entry("bob", inc, EntryKind::Note, "pool raised to 200"));
    h.now = at(26, 11, 0);
    h.run("bot", Command::Resolve { incident: search });
    h.now = at(26, 11, 30);
    notes.push(h.entry("erin", inc, EntryKind::Action, "restarted the canary"));
    h.now = at(26, 12, 0);
    let refunds = h.declare("bot", "Refund emails delayed", 4, "payments");
    h.alerts(refunds, 2);
    h.now = at(26, 12, 30);
    notes.push(h.entry("erin", inc, EntryKind::Note, "errors at 2%"));
    h.now = at(26, 13, 0);
    notes.push(h.entry("bob", inc, EntryKind::Note, "failover complete"));
    h.now = at(26, 13, 30);
    let update = h.entry(
        "fay",
        inc,
        EntryKind::StatusUpdate,
        "Failover done; error rate falling",
    );
    // A fresh escalation run: its first page went out, the second is pending.
    h.now = at(26, 14, 5);
    let run = h
        .record(
            "warroom",
            EventKind::EscalationStarted {
                incident: inc,
                plan: plan(),
                reason: "test".into(),
            },
        )
        .seq;
    h.record(
        "warroom",
        EventKind::StepFired {
            incident: inc,
            run,
            round: 0,
            step: 0,
            action: StepAction::Page,
            target: "oncall.primary".into(),
            person: Some("carl".into()),
            due_at: h.now,
            late: false,
        },
    );
    h.now = now();
    (
        h,
        Ids {
            pool,
            stampede,
            ruled_out,
            decision,
            notes,
            update,
            action_item,
        },
    )
}

fn plan() -> Plan {
    let step = |after_secs: u64, target: &str, expected: &str| PlannedStep {
        after_secs,
        action: StepAction::Page,
        target: target.into(),
        expected: Some(expected.into()),
    };
    Plan {
        severity: Severity::Sev1,
        steps: vec![
            step(0, "oncall.primary", "carl"),
            step(600, "oncall.secondary", "dan"),
            step(1200, "engineering-manager", "dana"),
        ],
        repeat: 0,
        round_secs: 1800,
        ack_timeout_secs: None,
    }
}

fn briefing() -> (Briefing, Ids) {
    let (h, ids) = shift();
    let s = schedules();
    let start = handoff::shift_start(&s, now());
    (handoff::brief(&h.state, &s, start, now()), ids)
}

// ---- the briefing --------------------------------------------------------------------

#[test]
fn the_shift_and_the_outgoing_person_come_from_the_default_schedule() {
    let s = schedules();
    assert_eq!(s[0].name(), "platform", "the default schedule comes first");
    assert_eq!(s[1].name(), "search");
    assert_eq!(handoff::shift_start(&s, now()), at(26, 9, 0));
    assert_eq!(handoff::outgoing(&s, now()).as_deref(), Some("bob"));
    // Without a schedule: the last 12 hours, and nobody is known to hand over.
    assert_eq!(handoff::shift_start(&[], now()), at(26, 2, 10));
    assert_eq!(handoff::outgoing(&[], now()), None);
    // A one-person rotation never hands over.
    assert_eq!(handoff::outgoing(&s[1..], now()), None);
}

#[test]
fn the_briefing_holds_every_active_incident_with_what_the_incoming_person_needs() {
    let (b, ids) = briefing();
    assert_eq!(b.generated_at, now());
    assert_eq!(b.shift_start, at(26, 9, 0));
    assert_eq!(b.shift_schedule.as_deref(), Some("platform"));
    assert_eq!(b.outgoing.as_deref(), Some("bob"));
    let refs: Vec<u32> = b.active.iter().map(|i| i.reference.0).collect();
    assert_eq!(refs, [2, 4, 5], "active only, most severe first");

    let i = &b.active[0];
    assert_eq!(i.title, "Checkout errors");
    assert_eq!(
        (i.severity, i.status),
        (Severity::Sev1, Status::Investigating)
    );
    assert_eq!(i.service.as_deref(), Some("payments"));
    assert_eq!(i.age_secs, 8 * 3600 + 600);
    assert_eq!(i.acknowledged_by, None);
    assert_eq!(i.role(Role::IncidentCommander), Some("bob"));
    assert_eq!(i.role(Role::TechLead), Some("erin"));
    assert_eq!(i.role(Role::CommsLead), Some("fay"));
    assert_eq!(i.role(Role::Scribe), None);
    assert_eq!(i.roles[0].role, Role::IncidentCommander, "IC first");

    let u = i.last_status_update.as_ref().unwrap();
    assert_eq!(u.at, at(26, 13, 30));
    assert_eq!(u.author.as_deref(), Some("fay"));
    assert_eq!(u.text.as_deref(), Some("Failover done; error rate falling"));
    assert_eq!(i.next_update_due, Some(at(26, 14, 0)));
    assert!(i.update_overdue(now()));

    let hyps: Vec<(u64, &str)> = i
        .open_hypotheses
        .iter()
        .map(|e| (e.id, e.text.as_str()))
        .collect();
    assert_eq!(
        hyps,
        [
            (ids.pool, "db pool exhausted"),
            (ids.stampede, "cache stampede")
        ],
        "superseded hypotheses (ruled out, or corrected) are not open"
    );
    assert_eq!(i.ruled_out.len(), 1);
    assert_eq!(i.ruled_out[0].id, ids.ruled_out);
    assert_eq!(
        i.ruled_out[0].text,
        "bad deploy 4471: rollback changed nothing"
    );

    assert_eq!(i.open_action_items.len(), 1, "the done one is left out");
    let a = &i.open_action_items[0];
    assert_eq!(a.id, ids.action_item);
    assert_eq!(a.owner, "erin");
    assert_eq!(a.due, NaiveDate::from_ymd_opt(2026, 12, 4));

    let p = i.pending_escalation.as_ref().unwrap();
    assert_eq!((p.step, p.steps, p.round), (2, 3, 1));
    assert_eq!(p.action, StepAction::Page);
    assert_eq!(p.target, "oncall.secondary");
    assert_eq!(p.expected.as_deref(), Some("dan"));
    assert_eq!(p.due_at, at(26, 14, 15));

    // The pinned decision, then the last five non-system entries, in timeline order.
    let key: Vec<u64> = i.key_entries.iter().map(|e| e.id).collect();
    let mut want = vec![ids.decision];
    want.extend(&ids.notes[1..]);
    want.push(ids.update);
    assert_eq!(key, want);
    assert!(i.key_entries[0].pinned);
    assert!(i.key_entries.iter().all(|e| e.kind != EntryKind::System));

    // INC-4: acknowledged, bob commands, no cadence, no escalation.
    let login = &b.active[1];
    assert_eq!(login.acknowledged_by.as_deref(), Some("bob"));
    assert_eq!(login.role(Role::IncidentCommander), Some("bob"));
    assert_eq!(login.next_update_due, None);
    assert_eq!(login.pending_escalation, None);
    // INC-5: nobody commands it.
    assert_eq!(b.active[2].role(Role::IncidentCommander), None);

    // Resolved during the shift: INC-3 (INC-1 was resolved the day before).
    assert_eq!(b.resolved.len(), 1);
    assert_eq!(b.resolved[0].reference, IncidentRef(3));
    assert_eq!(b.resolved[0].resolved_at, at(26, 11, 0));

    // Alerts on incidents declared during the shift, by service, most first; INC-2's
    // (declared before it) and INC-1's do not count.
    let noisy: Vec<(Option<&str>, u64, usize)> = b
        .noisiest
        .iter()
        .map(|a| (a.service.as_deref(), a.alerts, a.incidents))
        .collect();
    assert_eq!(
        noisy,
        [
            (Some("auth"), 5, 1),
            (Some("search"), 3, 1),
            (Some("payments"), 2, 1)
        ]
    );

    // On call: the default schedule first, now and at the next handoff.
    assert_eq!(b.on_call.len(), 2);
    let p = &b.on_call[0];
    assert_eq!(p.schedule, "platform");
    assert_eq!(p.primary.as_ref().unwrap().person, "carl");
    assert_eq!(p.primary.as_ref().unwrap().until, at(27, 9, 0));
    assert_eq!(p.secondary.as_ref().unwrap().person, "dan");
    let next: Vec<(Layer, Option<&str>, Option<&str>)> = p
        .next
        .iter()
        .map(|h| (h.layer, h.from.as_deref(), h.to.as_deref()))
        .collect();
    assert_eq!(
        next,
        [
            (Layer::Primary, Some("carl"), Some("dan")),
            (Layer::Secondary, Some("dan"), Some("bob"))
        ]
    );
    assert!(p.next.iter().all(|h| h.at == at(27, 9, 0)));
    let s = &b.on_call[1];
    assert_eq!(s.primary.as_ref().unwrap().person, "zoe");
    assert_eq!(s.secondary, None);
    assert!(s.next.is_empty(), "a one-person rotation never hands over");

    // It travels as JSON for scripts.
    let v = serde_json::to_value(&b).unwrap();
    assert_eq!(v["active"][0]["severity"], 1);
    assert_eq!(v["active"][0]["roles"][0]["role"], "incident_commander");
    assert_eq!(v["on_call"][0]["next"][0]["layer"], "primary");
    let back: Briefing = serde_json::from_value(v).unwrap();
    assert_eq!(back, b);
}

#[test]
fn the_markdown_briefing_reads_as_a_document() {
    let (b, ids) = briefing();
    let md = handoff::markdown(&b);
    let lines: Vec<&str> = md.lines().collect();
    let has = |l: &str| assert!(lines.contains(&l), "no line {l:?} in:\n{md}");
    has("# Handoff briefing — 2026-11-26 14:10 UTC");
    has("- **Shift:** since 09:00 UTC (5h10m, the platform primary shift)");
    has("- **Outgoing:** bob → incoming: carl (shift change 09:00 UTC, 5h10m ago)");
    has("## Active incidents (3)");
    has("### INC-2 · SEV1 · investigating — Checkout errors");
    has("- **Service:** payments · **Age:** 8h10m (declared 06:00 UTC by alice)");
    has("- **Roles:** incident commander bob, tech lead erin, comms lead fay");
    has("- **Acknowledged:** no");
    has(
        "- **Status updates:** last 13:30 UTC (40m ago) by fay: \"Failover done; error rate \
         falling\"; next OVERDUE since 14:00 UTC (10m ago)",
    );
    has(
        "- **Pending escalation:** step 2 of 3 — page oncall.secondary (dan), due 14:15 UTC \
         (in 5m)",
    );
    has("- **Open hypotheses:**");
    has(&format!(
        "  - #{} 07:00 UTC hypothesis: db pool exhausted (carol)",
        ids.pool
    ));
    has("- **Ruled out:**");
    has(&format!(
        "  - #{} 07:10 UTC ruled out: bad deploy 4471: rollback changed nothing (carol)",
        ids.ruled_out
    ));
    has("- **Open action items:**");
    has(&format!(
        "  - #{} add a pool-saturation alert (owner erin, due 2026-12-04)",
        ids.action_item
    ));
    has("- **Key timeline entries:**");
    has(&format!(
        "  - #{} 08:00 UTC decision: fail over to the replica (bob), pinned",
        ids.decision
    ));
    has("### INC-5 · SEV4 · investigating — Refund emails delayed");
    has("- **Roles:** NO incident commander");
    has("## On call");
    has("| Schedule | Primary | Secondary | Next handoff |");
    has(
        "| platform | carl until 2026-11-27 09:00 UTC | dan until 2026-11-27 09:00 UTC | \
         2026-11-27 09:00 UTC (in 18h50m): primary carl → dan, secondary dan → bob |",
    );
    has("## Resolved during the shift (1)");
    has(
        "- INC-3 SEV3 Search slow on search, resolved 11:00 UTC after 1h30m, post-mortem due in 1d20h",
    );
    has("## Noisiest alert sources");
    has("| auth | 5 | 1 |");
    has("| payments | 2 | 1 |");
    // Sections in order.
    let pos = |s: &str| md.find(s).unwrap_or_else(|| panic!("no {s}"));
    assert!(pos("## Active") < pos("## On call"));
    assert!(pos("## On call") < pos("## Resolved"));
    assert!(pos("## Resolved") < pos("## Noisiest"));
}

#[test]
fn the_plain_text_briefing_and_text_from_the_feed_are_safe() {
    let (mut h, _) = shift();
    let inc = IncidentRef(2);
    // The server refuses control characters in entries; a briefing does not rely on it.
    h.record(
        "mallory",
        EventKind::EntryAdded {
            incident: inc,
            entry_kind: EntryKind::Hypothesis,
            text: "evil \u{1b}[2J | *bold* [link](x)\nsecond line".into(),
            occurred_at: now(),
            next_update_secs: None,
            public: false,
            briefing: None,
        },
    );
    let s = schedules();
    let b = handoff::brief(&h.state, &s, handoff::shift_start(&s, now()), now());
    let text = handoff::text(&b);
    assert!(
        text.starts_with("HANDOFF BRIEFING  2026-11-26 14:10 UTC\n"),
        "{text}"
    );
    assert!(text.contains("\nACTIVE INCIDENTS (3)\n"), "{text}");
    assert!(
        text.contains("\nINC-2  SEV1  investigating  Checkout errors\n"),
        "{text}"
    );
    assert!(text.contains("  roles             incident commander bob, tech lead erin"));
    assert!(text.contains("\nON CALL\n  platform\n    primary         carl until"));
    assert!(text.contains("\nRESOLVED DURING THE SHIFT (1)\n"));
    assert!(text.contains("  auth                         5 alerts  (1 incident)"));
    assert!(
        !text.contains('\u{1b}'),
        "no escape sequences reach a terminal"
    );
    assert!(text.contains("evil \u{FFFD}[2J | *bold* [link](x) ⏎ second line"));
    let md = handoff::markdown(&b);
    assert!(!md.contains('\u{1b}'));
    assert!(
        md.contains(r"evil �\[2J \| \*bold\* \[link](x) ⏎ second line"),
        "markup from the feed is escaped:\n{md}"
    );
}

#[test]
fn without_schedules_the_briefing_covers_the_last_twelve_hours() {
    let (h, _) = shift();
    let start = handoff::shift_start(&[], now());
    let b = handoff::brief(&h.state, &[], start, now());
    assert_eq!(b.shift_start, at(26, 2, 10));
    assert_eq!(b.shift_schedule, None);
    assert_eq!(b.outgoing, None);
    assert!(b.on_call.is_empty());
    // INC-2 (06:00) now falls inside the shift: its alerts count.
    assert_eq!(b.noisiest[0].service.as_deref(), Some("payments"));
    assert_eq!(b.noisiest[0].alerts, 6);
    let md = handoff::markdown(&b);
    assert!(md.contains("- **Outgoing:** unknown (no on-call schedule says)"));
    assert!(md.contains("No on-call schedules are known."));
    assert!(md.contains("the last 12 hours: no on-call schedule says"));
}

// ---- the console ---------------------------------------------------------------------

fn live_app(state: &State) -> App {
    let mut app = App::new(
        "ws://127.0.0.1:7654/feed".into(),
        Keymap::default(),
        now(),
        FixedOffset::east_opt(0).unwrap(),
        "s".into(),
    );
    app.update(Msg::Resize(100, 30));
    app.update(Msg::Feed(Update::Welcome {
        name: "carl".into(),
        head_seq: state.seq,
        mode: warroom::protocol::SyncMode::Snapshot,
        recent_secs: 7 * 86_400,
    }));
    app.update(Msg::Feed(Update::Snapshot(state.clone())));
    app.update(Msg::Feed(Update::Synced(state.seq)));
    app.update(Msg::Feed(Update::Conn(ConnState::Live)));
    app
}

fn key(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn palette(app: &mut App, line: &str) -> Vec<Effect> {
    let mut fx = app.update(key(KeyCode::Char(':')));
    for c in line.chars() {
        fx.extend(app.update(key(KeyCode::Char(c))));
    }
    fx.extend(app.update(key(KeyCode::Enter)));
    fx
}

fn theme() -> Theme {
    let mut t = Theme::plain();
    t.sev1 = Style::default()
        .fg(Color::White)
        .bg(Color::Red)
        .add_modifier(Modifier::BOLD);
    t.timer_overdue = Style::default().fg(Color::Red).add_modifier(Modifier::BOLD);
    t
}

fn draw(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| handoff_view::render(app, &theme(), f.area(), f.buffer_mut()))
        .unwrap();
    term
}

fn lines(term: &Terminal<TestBackend>) -> Vec<String> {
    let buf = term.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect()
}

fn on_screen(lines: &[String], needles: &[&str]) {
    let all = lines.join("\n");
    for n in needles {
        assert!(all.contains(n), "'{n}' not on screen:\n{all}");
    }
}

#[test]
fn the_handoff_screen_shows_the_briefing_scrolls_and_goes_back() {
    let (h, _) = shift();
    let mut app = live_app(&h.state);
    app.schedules = schedules();
    assert!(palette(&mut app, "handoff").is_empty());
    assert!(app.handoff.is_some());

    let term = draw(&app, 100, 30);
    let l = lines(&term);
    on_screen(
        &l,
        &[
            "handoff briefing",
            "HANDOFF BRIEFING  2026-11-26 14:10 UTC",
            "Shift since 09:00 UTC (5h10m, the platform primary shift)",
            "Outgoing: bob",
            "ACTIVE INCIDENTS (3)",
            "Checkout errors",
            "incident commander bob, tech lead erin, comms lead fay",
            "OVERDUE since 14:00 UTC",
            "step 2 of 3 — page oncall.secondary (dan), due 14:15 UTC (in 5m)",
            "rows 1-",
            "↓ more",
        ],
    );
    // The incident's severity is in its colour; the overdue update is loud.
    let buf = term.backend().buffer();
    let (y, line) = l
        .iter()
        .enumerate()
        .find(|(_, s)| s.contains("INC-2 "))
        .unwrap();
    let x = line[..line.find("SEV1").unwrap()].chars().count() as u16;
    assert_eq!(buf[(x, y as u16)].bg, Color::Red);
    let (y, line) = l
        .iter()
        .enumerate()
        .find(|(_, s)| s.contains("OVERDUE"))
        .unwrap();
    let x = line[..line.find("OVERDUE").unwrap()].chars().count() as u16;
    assert_eq!(buf[(x, y as u16)].fg, Color::Red);
    // The status line stays at the bottom.
    assert!(l[29].contains("live"), "{}", l[29]);

    // Keys that act on incidents do nothing here: the board is not what is on screen.
    assert!(app.update(key(KeyCode::Char('a'))).is_empty());
    assert!(app.update(key(KeyCode::Char('R'))).is_empty());

    // Scrolling: down a page, then to the end where the shift's alerts are.
    app.update(key(KeyCode::PageDown));
    let offset = app.handoff.unwrap().offset;
    assert!(offset > 0);
    app.update(key(KeyCode::Up));
    assert_eq!(app.handoff.unwrap().offset, offset - 1);
    app.update(key(KeyCode::End));
    let l = lines(&draw(&app, 100, 36));
    on_screen(
        &l,
        &[
            "POST-MORTEMS OWED FROM EARLIER SHIFTS (1)",
            "ON CALL",
            "next handoff    2026-11-27 09:00 UTC (in 18h50m): primary carl → dan",
            "RESOLVED DURING THE SHIFT (1)",
            "INC-3 SEV3 Search slow on search, resolved 11:00 UTC after 1h30m",
            "NOISIEST ALERT SOURCES",
            "auth",
        ],
    );
    assert!(!l.join("\n").contains("↓ more"));
    let end = app.handoff.unwrap().offset;
    app.update(key(KeyCode::Down));
    assert_eq!(
        app.handoff.unwrap().offset,
        end,
        "no scrolling past the end"
    );
    app.update(key(KeyCode::Home));
    assert_eq!(app.handoff.unwrap().offset, 0);

    // Esc goes back to the board.
    app.update(key(KeyCode::Esc));
    assert!(app.handoff.is_none());
    let l = lines(&draw(&app, 100, 30));
    assert!(!l.join("\n").contains("HANDOFF BRIEFING"));
    on_screen(&l, &["Checkout errors", "Login errors"]);
}

#[test]
fn long_lines_wrap_and_a_small_terminal_still_draws() {
    let (mut h, _) = shift();
    let long = "the connection pool saturates whenever the nightly batch overlaps with the \
                checkout peak, which explains the 02:00 and 14:00 spikes";
    h.entry("carol", IncidentRef(2), EntryKind::Hypothesis, long);
    let mut app = live_app(&h.state);
    app.schedules = schedules();
    palette(&mut app, "handoff");
    app.update(Msg::Resize(60, 40));
    let l = lines(&draw(&app, 60, 40));
    let all = l.join("\n");
    // Broken between words, continuation rows under the text after the dash; and fields
    // continue under their value.
    assert!(
        l.iter()
            .any(|r| r.contains("│    - ") && r.trim_end().ends_with("the connection pool       │")),
        "{all}"
    );
    assert!(
        l.iter().any(|r| r.starts_with("│      saturates whenever")),
        "{all}"
    );
    assert!(
        l.iter()
            .any(|r| r.starts_with("│      14:00 spikes (carol)")),
        "{all}"
    );
    assert!(
        l.iter()
            .any(|r| r.starts_with("│                    erin, comms lead fay")),
        "{all}"
    );
    // Tiny: nothing panics.
    app.update(Msg::Resize(20, 4));
    draw(&app, 20, 4);
    app.update(key(KeyCode::PageDown));
    draw(&app, 20, 4);
}

#[test]
fn accept_handoff_from_the_console_sends_the_command_and_flashes_what_it_did() {
    let (mut h, _) = shift();
    let mut app = live_app(&h.state);

    // Without schedules, the console cannot guess who hands over.
    let fx = palette(&mut app, "accept-handoff");
    assert!(fx.is_empty());
    let flash = app.flash.clone().unwrap();
    assert_eq!(flash.level, Level::Error);
    assert!(
        flash.text.contains("usage: :accept-handoff NAME"),
        "{}",
        flash.text
    );

    // With them, the outgoing primary is the default; a name overrides it.
    app.schedules = schedules();
    palette(&mut app, "handoff");
    let fx = palette(&mut app, "accept-handoff");
    let (id, command) = match fx.as_slice() {
        [Effect::Send { id, command }] => (id.clone(), command.clone()),
        other => panic!("expected one send, got {other:?}"),
    };
    assert_eq!(command, Command::AcceptHandoff { from: "bob".into() });
    assert!(app.handoff.is_some(), "the briefing stays open");
    let fx = palette(&mut app, "accept-handoff erin");
    assert!(matches!(
        fx.as_slice(),
        [Effect::Send { command: Command::AcceptHandoff { from }, .. }] if from == "erin"
    ));

    // The server decides it; its events arrive before the answer, as the feed sends them.
    let kinds = h.state.decide("carl", now(), &command).unwrap();
    let mut seqs = vec![];
    for kind in kinds {
        let e = h.record("carl", kind);
        seqs.push(e.seq);
        app.update(Msg::Feed(Update::Event(e)));
    }
    app.update(Msg::Feed(Update::Answer {
        id,
        command,
        answer: Answer::Ok {
            seqs,
            incident: None,
        },
    }));
    let flash = app.flash.clone().unwrap();
    assert_eq!(flash.level, Level::Info);
    assert_eq!(
        flash.text,
        "took over from bob on INC-2, INC-4, INC-5; incident commander of INC-2, INC-4"
    );
    let l = lines(&draw(&app, 100, 30));
    on_screen(&l, &["incident commander carl, tech lead erin"]);
}

// ---- over a running feed ---------------------------------------------------------------

fn state_of(frames: &[Value]) -> State {
    let snap = frames
        .iter()
        .find(|f| f["type"] == "snapshot")
        .expect("a snapshot");
    serde_json::from_value(snap["state"].clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_a_handoff_over_the_feed_records_it_and_moves_the_ic_role() {
    use common::*;
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let url = server.url();
    let (mut alice, _) = Raw::join(&url, "alice", None).await;
    seqs(&alice.command(declare("Checkout errors", 1)).await);
    seqs(
        &alice
            .command(json!({"op": "assign_role", "incident": "INC-1",
                            "role": "incident_commander", "person": "bob"}))
            .await,
    );
    seqs(&alice.command(declare("Search slow", 3)).await);
    seqs(
        &alice
            .command(json!({"op": "assign_role", "incident": "INC-2",
                            "role": "incident_commander", "person": "erin"}))
            .await,
    );
    seqs(&alice.command(declare("Old", 4)).await);
    seqs(
        &alice
            .command(json!({"op": "resolve", "incident": "INC-3"}))
            .await,
    );

    let (mut carol, _) = Raw::join(&url, "carol", None).await;
    // Taking over from yourself is refused, with the reason.
    let refused = carol
        .command(json!({"op": "accept_handoff", "from": "carol"}))
        .await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("name the outgoing person"),
        "{refused}"
    );
    let answer = carol
        .command(json!({"op": "accept_handoff", "from": "bob"}))
        .await;
    let got = seqs(&answer);
    assert_eq!(got.len(), 3, "two notes and one role change: {answer}");

    // Everyone sees it: a late joiner's state has the entries and the new commander.
    let (_dave, frames) = Raw::join(&url, "dave", None).await;
    let state = state_of(&frames);
    let one = state.incident(IncidentRef(1)).unwrap();
    assert_eq!(
        one.roles.get(&Role::IncidentCommander).map(String::as_str),
        Some("carol")
    );
    assert!(one.entries.iter().any(|e| e.kind == EntryKind::Note
        && e.author == "carol"
        && e.text == "handoff: carol takes over from bob, as incident commander"));
    let bob = one
        .role_history
        .iter()
        .find(|t| t.person == "bob" && t.role == Role::IncidentCommander)
        .unwrap();
    assert!(bob.until.is_some(), "bob's tenure as IC ended");
    let two = state.incident(IncidentRef(2)).unwrap();
    assert_eq!(
        two.roles.get(&Role::IncidentCommander).map(String::as_str),
        Some("erin"),
        "erin keeps the role bob never held"
    );
    assert!(
        two.entries
            .iter()
            .any(|e| e.text == "handoff: carol takes over from bob")
    );
    let three = state.incident(IncidentRef(3)).unwrap();
    assert!(
        !three.entries.iter().any(|e| e.text.starts_with("handoff:")),
        "resolved incidents are left alone"
    );

    // What the console and the CLI report, from the state and the answer's seqs.
    let done = handoff::accepted(&state, &got);
    let summary: Vec<(u32, bool)> = done.iter().map(|a| (a.reference.0, a.took_ic)).collect();
    assert_eq!(summary, [(1, true), (2, false)]);
    assert_eq!(
        handoff::accepted_summary("bob", &done),
        "took over from bob on INC-1, INC-2; incident commander of INC-1"
    );
    server.shutdown().await.unwrap();
}

// ---- the CLI against `warroom serve` ------------------------------------------------------

fn warroom(server: &str, name: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(args)
        .env("WARROOM_SERVER", server)
        .env("WARROOM_NAME", name)
        .env_remove("WARROOM_TOKEN")
        .env_remove("WARROOM_POLICY")
        .output()
        .unwrap()
}

#[test]
fn warroom_accept_handoff_against_a_real_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::ServeProcess::start(dir.path());
    let s = server.addr.clone();
    ok(warroom(
        &s,
        "alice",
        &[
            "declare",
            "Checkout errors",
            "-s",
            "1",
            "--service",
            "payments",
        ],
    ));
    ok(warroom(&s, "alice", &["role", "INC-1", "ic", "bob"]));
    ok(warroom(&s, "alice", &["declare", "Search slow", "-s", "3"]));

    let out = ok(warroom(&s, "carol", &["accept-handoff", "bob"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "carol took over from bob on 2 active incidents:",
        "{out}"
    );
    assert!(
        lines[1].contains("INC-1")
            && lines[1].contains(
                "SEV1  Checkout errors: handoff recorded; carol is now incident commander (was bob)"
            ),
        "{out}"
    );
    assert!(
        lines[2].contains("INC-2") && lines[2].ends_with("SEV3  Search slow: handoff recorded"),
        "{out}"
    );
    assert_eq!(lines.len(), 3, "{out}");

    let table = ok(warroom(&s, "dave", &["incidents"]));
    let row = table.lines().find(|l| l.starts_with("INC-1")).unwrap();
    assert!(row.contains("carol"), "{table}");

    // The briefing from the live feed, in Markdown, shows the new commander.
    let md = ok(warroom(&s, "dave", &["handoff", "--format", "md"]));
    assert!(md.starts_with("# Handoff briefing — "), "{md}");
    assert!(
        md.contains("### INC-1 · SEV1 · investigating — Checkout errors"),
        "{md}"
    );
    // A SEV1 without a comms lead says so first (seed guide: SEV1 and SEV2 have one).
    assert!(
        md.contains("- **Roles:** NO comms lead, incident commander carol"),
        "{md}"
    );
    assert!(md.contains("handoff: carol takes over from bob, as incident commander (carol)"));
    let json: Value =
        serde_json::from_str(&ok(warroom(&s, "dave", &["handoff", "--format", "json"]))).unwrap();
    assert_eq!(json["active"].as_array().unwrap().len(), 2);

    // Refusals exit non-zero with the server's reason.
    let out = warroom(&s, "carol", &["accept-handoff", "carol"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused (invalid)"), "{err}");
}

#[test]
fn the_cli_briefs_and_hands_over_by_the_feeds_policy_not_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, common::olga_covers_for_pete()).unwrap();
    let server = common::ServeProcess::start_with(
        &dir.path().join("feed"),
        "127.0.0.1:0",
        &["--policy", policy.to_str().unwrap()],
    );
    let s = server.addr.clone();
    // Nothing here says which policy: the feed does.
    ok(warroom(
        &s,
        "zed",
        &["declare", "Disk full on db-3", "-s", "1"],
    ));

    let text = ok(warroom(&s, "zed", &["handoff"]));
    assert!(text.contains("Outgoing: pete"), "{text}");
    assert!(text.contains("night-shift"), "{text}");
    let on_call = text.split("ON CALL").nth(1).unwrap();
    assert!(on_call.contains("primary         olga"), "{text}");
    assert!(on_call.contains("secondary       quinn"), "{text}");
    for builtin in ["priya", "marco", "lee", "sam", "platform"] {
        assert!(!text.contains(builtin), "{builtin} in\n{text}");
    }
    let json: Value =
        serde_json::from_str(&ok(warroom(&s, "zed", &["handoff", "--format", "json"]))).unwrap();
    assert_eq!(json["outgoing"], "pete", "{json:#}");

    let oncall = ok(warroom(&s, "zed", &["oncall"]));
    assert!(
        oncall.starts_with("night-shift (rotation 1w, UTC)"),
        "{oncall}"
    );
    assert!(oncall.contains("primary   olga"), "{oncall}");

    // Accepting without naming anyone takes over from whom the feed's schedule says.
    let out = ok(warroom(&s, "olga", &["accept-handoff"]));
    assert!(
        out.starts_with("olga took over from pete on 1 active incident"),
        "{out}"
    );

    // Pages per shift are counted against the feed's schedule.
    let m = ok(warroom(&s, "zed", &["metrics"]));
    assert!(m.contains("of night-shift) · olga 1"), "{m}");
}

#[test]
fn run_before_a_shift_change_the_briefing_names_who_hands_over_to_whom() {
    // The default policy's weekly rotation: priya has the week from Monday 2026-11-30 09:00
    // UTC, marco the next. Half an hour before the change, priya hands over to marco (not
    // sam, who handed over to priya a week before).
    let default = handoff::schedules_default_first(&Policy::default_policy());
    let before = Utc.with_ymd_and_hms(2026, 12, 7, 8, 30, 0).unwrap();
    let change = handoff::shift_change(&default, before).unwrap();
    assert_eq!(change.outgoing.as_deref(), Some("priya"));
    assert_eq!(change.incoming.as_deref(), Some("marco"));
    assert_eq!(
        change.at,
        Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap()
    );
    assert_eq!(
        handoff::outgoing(&default, before).as_deref(),
        Some("priya")
    );
    // Just after it, it is the same change, made.
    let after = Utc.with_ymd_and_hms(2026, 12, 7, 9, 20, 0).unwrap();
    let change = handoff::shift_change(&default, after).unwrap();
    assert_eq!(
        (change.outgoing.as_deref(), change.incoming.as_deref()),
        (Some("priya"), Some("marco"))
    );
    // Mid-week, the change nearest is the one made on Monday.
    let mid = Utc.with_ymd_and_hms(2026, 12, 9, 12, 0, 0).unwrap();
    let change = handoff::shift_change(&default, mid).unwrap();
    assert_eq!(
        (change.outgoing.as_deref(), change.incoming.as_deref()),
        (Some("priya"), Some("marco"))
    );

    // The daily rotation here: bob had Wednesday, carl Thursday. At 08:30 on Thursday bob
    // hands over to carl (the old answer was dan, Tuesday's).
    let s = schedules();
    let thursday_early = at(26, 8, 30);
    let b = handoff::brief(
        &State::default(),
        &s,
        handoff::shift_start(&s, thursday_early),
        thursday_early,
    );
    assert_eq!(b.outgoing.as_deref(), Some("bob"));
    assert_eq!(b.incoming.as_deref(), Some("carl"));
    assert_eq!(b.shift_change_at, Some(at(26, 9, 0)));
    let text = handoff::text(&b);
    assert!(
        text.contains("Outgoing: bob → incoming: carl (shift change 09:00 UTC, in 30m)"),
        "{text}"
    );
    let md = handoff::markdown(&b);
    assert!(
        md.contains("- **Outgoing:** bob → incoming: carl (shift change 09:00 UTC, in 30m)"),
        "{md}"
    );
    // At 14:10 the change nearest is this morning's: still bob to carl.
    let b = handoff::brief(
        &State::default(),
        &s,
        handoff::shift_start(&s, now()),
        now(),
    );
    assert_eq!(
        (b.outgoing.as_deref(), b.incoming.as_deref()),
        (Some("bob"), Some("carl"))
    );
    assert!(handoff::text(&b).contains("(shift change 09:00 UTC, 5h10m ago)"));
}
