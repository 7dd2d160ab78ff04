//! The console without a terminal or a network: screens rendered into ratatui's TestBackend,
//! and the update state machine driven by keys and feed updates.

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier, Style};
use warroom::client::{ConnState, Update};
use warroom::model::escalation::{Plan, PlannedStep};
use warroom::model::{
    Command, EntryKind, Event, EventKind, IncidentRef, Role, Severity, State, Status, StepAction,
};
use warroom::protocol::{Answer, Presence, Query, QueryResult, Search};
use warroom::tui::app::{App, Effect, Mode, Msg, Screen};
use warroom::tui::keymap::Keymap;
use warroom::tui::theme::Theme;
use warroom::tui::ui;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 2, 0, 0).unwrap()
}

/// Builds a feed history the way the server does.
struct History {
    state: State,
    events: Vec<Event>,
    now: DateTime<Utc>,
}

impl History {
    fn new() -> Self {
        History {
            state: State::default(),
            events: vec![],
            now: t0(),
        }
    }
    fn run(&mut self, who: &str, cmd: Command) -> Vec<u64> {
        let kinds = self.state.decide(who, self.now, &cmd).unwrap();
        kinds
            .into_iter()
            .map(|kind| {
                let e = Event {
                    seq: self.state.seq + 1,
                    at: self.now,
                    actor: who.into(),
                    kind,
                };
                self.state.apply(&e).unwrap();
                self.events.push(e);
                self.state.seq
            })
            .collect()
    }
    fn declare(&mut self, who: &str, title: &str, sev: u8, service: &str) {
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
    }
    /// Records an event the way the server's own engine does (no command decided).
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
    fn note(&mut self, who: &str, n: u32, kind: EntryKind, text: &str) -> u64 {
        self.run(
            who,
            Command::AddEntry {
                incident: IncidentRef(n),
                entry_kind: kind,
                text: text.into(),
                occurred_at: None,
                next_update_secs: None,
                public: false,
                briefing: None,
            },
        )[0]
    }
}

/// Delivers to `app` what the feed recorded after the first `before` events.
fn deliver_since(app: &mut App, h: &History, before: usize) {
    for e in h.events[before..].iter().cloned() {
        app.update(Msg::Feed(Update::Event(e)));
    }
}

fn live_app(h: &History, now: DateTime<Utc>) -> App {
    let mut app = App::new(
        "ws://127.0.0.1:7654/feed".into(),
        Keymap::default(),
        now,
        FixedOffset::east_opt(0).unwrap(),
        "s".into(),
    );
    app.update(Msg::Resize(100, 30));
    app.update(Msg::Feed(Update::Welcome {
        name: "alice".into(),
        head_seq: h.state.seq,
        mode: warroom::protocol::SyncMode::Snapshot,
        recent_secs: 7 * 86_400,
    }));
    app.update(Msg::Feed(Update::Snapshot(h.state.clone())));
    app.update(Msg::Feed(Update::Synced(h.state.seq)));
    app.update(Msg::Feed(Update::Conn(ConnState::Live)));
    app
}

/// A theme with colour only where the assertions look.
fn test_theme() -> Theme {
    let mut t = Theme::plain();
    t.sev1 = Style::default()
        .fg(Color::White)
        .bg(Color::Red)
        .add_modifier(Modifier::BOLD);
    t.sev2 = Style::default().fg(Color::Black).bg(Color::LightRed);
    t.timer_overdue = Style::default().fg(Color::Red).add_modifier(Modifier::BOLD);
    t.timer_critical = Style::default()
        .fg(Color::Yellow)
        .bg(Color::Red)
        .add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
    t.timer_due = Style::default().fg(Color::Yellow);
    t.no_ic = Style::default().fg(Color::Red);
    t
}

fn draw(app: &App, theme: &Theme, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| ui::render(app, theme, f.area(), f.buffer_mut()))
        .unwrap();
    term
}

fn text(term: &Terminal<TestBackend>) -> Vec<String> {
    let buf = term.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect()
}

fn find(lines: &[String], needle: &str) -> (u16, u16) {
    for (y, l) in lines.iter().enumerate() {
        if let Some(bx) = l.find(needle) {
            return (l[..bx].chars().count() as u16, y as u16);
        }
    }
    panic!("'{needle}' not on screen:\n{}", lines.join("\n"));
}

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}
fn code(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}
fn typed(app: &mut App, s: &str) -> Vec<Effect> {
    s.chars().flat_map(|c| app.update(key(c))).collect()
}

fn sample() -> History {
    let mut h = History::new();
    h.declare("priya", "Checkout returns 500s", 2, "payments");
    h.now += Duration::minutes(1);
    h.declare("bot", "Search p99 over 2s", 3, "search");
    h.run(
        "priya",
        Command::Acknowledge {
            incident: IncidentRef(1),
        },
    );
    h.run(
        "priya",
        Command::AssignRole {
            incident: IncidentRef(1),
            role: Role::IncidentCommander,
            person: "me".into(),
        },
    );
    h.now += Duration::minutes(1);
    h.declare("bot", "Database primary unreachable", 1, "database-primary");
    h.declare("bot", "Old banner typo", 4, "web");
    h.run(
        "bot",
        Command::Resolve {
            incident: IncidentRef(4),
        },
    );
    h
}

#[test]
fn board_lists_active_incidents_by_severity_with_live_ages() {
    let h = sample();
    let app = live_app(&h, t0() + Duration::minutes(9) + Duration::seconds(5));
    let term = draw(&app, &test_theme(), 100, 30);
    let lines = text(&term);
    let rows: Vec<&String> = lines.iter().filter(|l| l.contains("INC-")).collect();
    assert_eq!(
        rows.len(),
        3,
        "resolved INC-4 is out of the way:\n{}",
        lines.join("\n")
    );
    assert!(
        rows[0].contains("INC-3")
            && rows[0].contains("SEV1")
            && rows[0].contains("7m05s")
            && rows[0].contains("no IC"),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].contains("INC-1")
            && rows[1].contains("priya")
            && rows[1].contains("✓")
            && rows[1].contains("payments"),
        "{}",
        rows[1]
    );
    assert!(
        rows[2].contains("INC-2") && rows[2].contains("SEV3") && rows[2].contains("no "),
        "{}",
        rows[2]
    );
    assert!(
        lines[0].contains("3 active") && lines[0].contains("1 resolved hidden"),
        "{}",
        lines[0]
    );
    assert!(
        lines.last().unwrap().contains("● live"),
        "{}",
        lines.last().unwrap()
    );

    // Colour: SEV1 is white on red, and "no IC" is loud.
    let buf = term.backend().buffer();
    let (x, y) = find(&lines, "SEV1");
    assert_eq!(buf[(x, y)].bg, Color::Red);
    assert_eq!(buf[(x, y)].fg, Color::White);
    assert!(buf[(x, y)].modifier.contains(Modifier::BOLD));
    let (x, y) = find(&lines, "no IC");
    assert_eq!(buf[(x, y)].fg, Color::Red);
}

#[test]
fn board_filters_its_active_incidents() {
    let h = sample();
    let mut app = live_app(&h, t0() + Duration::minutes(9));
    // Resolved incidents are the archive's (`r`), not the board's.
    assert_eq!(app.board_rows().len(), 3);
    app.update(key('/'));
    assert_eq!(app.mode, Mode::Filter);
    typed(&mut app, "search");
    assert_eq!(app.board_rows().len(), 1);
    let lines = text(&draw(&app, &test_theme(), 100, 30));
    assert!(lines.iter().any(|l| l.contains("filter: search")));
    app.update(code(KeyCode::Esc));
    assert_eq!(app.board_rows().len(), 3);
}

#[test]
fn the_room_shows_header_roles_timeline_and_an_overdue_target() {
    let mut h = History::new();
    h.declare("bot", "Database primary unreachable", 1, "database-primary");
    h.run(
        "lee",
        Command::AssignRole {
            incident: IncidentRef(1),
            role: Role::Scribe,
            person: "me".into(),
        },
    );
    h.now += Duration::minutes(2);
    let pinned = h.note("lee", 1, EntryKind::Decision, "fail over to the replica");
    h.run(
        "lee",
        Command::PinEntry {
            incident: IncidentRef(1),
            entry: pinned,
            pinned: true,
        },
    );
    h.run(
        "lee",
        Command::AddEntry {
            incident: IncidentRef(1),
            entry_kind: EntryKind::Note,
            text: "impact started".into(),
            occurred_at: Some(t0() - Duration::minutes(8)),
            next_update_secs: None,
            public: false,
            briefing: None,
        },
    );
    let mut app = live_app(&h, t0() + Duration::minutes(7) + Duration::seconds(30));
    app.update(code(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Room(IncidentRef(1)));
    app.update(Msg::Feed(Update::Presence(
        vec![Presence {
            name: "lee".into(),
            since: t0(),
            connections: 1,
            viewing: vec![IncidentRef(1)],
        }],
        0,
    )));
    let term = draw(&app, &test_theme(), 120, 30);
    let lines = text(&term);
    let all = lines.join("\n");
    assert!(
        lines[0].contains("INC-1")
            && lines[0].contains("SEV1")
            && lines[0].contains("investigating"),
        "{all}"
    );
    assert!(
        lines[1].contains("age 7m30s") && lines[1].contains("no status update yet"),
        "{all}"
    );
    // Said once: the target's words say it is not acknowledged.
    assert!(
        lines[1].contains("target 5m: OVERDUE by 2m30s — not acknowledged"),
        "{all}"
    );
    assert_eq!(
        lines[1].to_lowercase().matches("acknowledged").count(),
        1,
        "{all}"
    );
    assert!(
        lines[2].contains("no IC")
            && lines[2].contains("Scribe lee")
            && lines[2].contains("Tech vacant"),
        "{all}"
    );
    assert!(lines[2].contains("here: lee"), "{all}");
    // Timeline in occurred-at order: the backdated entry first, shown with when it was logged.
    let first = lines
        .iter()
        .position(|l| l.contains("impact started"))
        .unwrap();
    let declared = lines
        .iter()
        .position(|l| l.contains("declared SEV1"))
        .unwrap();
    let decision = lines.iter().position(|l| l.contains("fail over")).unwrap();
    assert!(first < declared && declared < decision, "{all}");
    assert!(
        lines[first].contains("01:52:00") && lines[first].contains("(logged 02:02:00)"),
        "{}",
        lines[first]
    );
    assert!(
        lines[decision].contains("★ decision"),
        "{}",
        lines[decision]
    );
    // The overdue marker of a SEV1 is drawn in the loudest colour there is.
    let buf = term.backend().buffer();
    let (x, y) = find(&lines, "OVERDUE");
    assert_eq!(buf[(x, y)].bg, Color::Red);
    assert!(buf[(x, y)].modifier.contains(Modifier::BOLD));
}

#[test]
fn declare_from_the_palette_then_write_in_the_scribe_pane() {
    let h = History::new();
    let mut app = live_app(&h, t0());
    assert!(app.update(key(':')).is_empty());
    assert_eq!(app.mode, Mode::Palette);
    typed(&mut app, "de");
    app.update(code(KeyCode::Tab));
    assert_eq!(app.palette.input, "declare ");
    typed(&mut app, "sev1 Checkout down");
    let fx = app.update(code(KeyCode::Enter));
    let [Effect::Send { id, command }] = &fx[..] else {
        panic!("{fx:?}")
    };
    assert_eq!(
        command,
        &Command::Declare {
            title: "Checkout down".into(),
            severity: Severity::Sev1,
            service: None,
            restricted: false,
            detected_by: None,
        }
    );
    // The feed records it; the answer opens its room with the scribe pane ready.
    let mut hist = History::new();
    hist.declare("alice", "Checkout down", 1, "payments");
    app.update(Msg::Feed(Update::Event(hist.events[0].clone())));
    let fx = app.update(Msg::Feed(Update::Answer {
        id: id.clone(),
        command: command.clone(),
        answer: Answer::Ok {
            seqs: vec![1],
            incident: Some(IncidentRef(1)),
        },
    }));
    assert_eq!(fx, [Effect::Focus(Some(IncidentRef(1)))]);
    assert_eq!(
        (app.screen, app.mode),
        (Screen::Room(IncidentRef(1)), Mode::Scribe)
    );
    typed(&mut app, "d: roll back 4471");
    let fx = app.update(code(KeyCode::Enter));
    let [Effect::Send { command, .. }] = &fx[..] else {
        panic!("{fx:?}")
    };
    assert_eq!(
        command,
        &Command::AddEntry {
            incident: IncidentRef(1),
            entry_kind: EntryKind::Decision,
            text: "roll back 4471".into(),
            occurred_at: None,
            next_update_secs: None,
            public: false,
            briefing: None,
        }
    );
    // A command typed at the start of an empty line goes to the palette, not the timeline
    // (`:` inside a line, as in the prefixes, is text).
    assert!(app.update(key(':')).is_empty());
    assert_eq!(app.mode, Mode::Palette);
    typed(&mut app, "ack");
    let fx = app.update(code(KeyCode::Enter));
    assert!(
        matches!(
            &fx[..],
            [Effect::Send {
                command: Command::Acknowledge {
                    incident: IncidentRef(1)
                },
                ..
            }]
        ),
        "{fx:?}"
    );
    // The keys are back in the scribe pane the command was typed from.
    assert_eq!(app.mode, Mode::Scribe);
    // Alt-Enter makes a new line instead of recording.
    typed(&mut app, "line one");
    let alt_enter = Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT));
    assert!(app.update(alt_enter).is_empty());
    typed(&mut app, "line two");
    assert_eq!(
        app.room(IncidentRef(1)).unwrap().draft.lines(),
        ["line one", "line two"]
    );
    // The draft survives leaving the room and coming back.
    app.update(code(KeyCode::Esc));
    app.update(code(KeyCode::Esc));
    assert_eq!(app.screen, Screen::Board);
    app.update(code(KeyCode::Enter));
    assert_eq!(
        app.room(IncidentRef(1)).unwrap().draft.lines(),
        ["line one", "line two"]
    );
    // Quitting with a draft asks first; anything but y goes back.
    app.update(key('q'));
    assert_eq!(app.mode, Mode::ConfirmQuit);
    let lines = text(&draw(&app, &test_theme(), 100, 30));
    assert!(
        lines
            .iter()
            .any(|l| l.contains("the scribe draft in INC-1")),
        "{}",
        lines.join("\n")
    );
    assert!(app.update(key('n')).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    app.update(key('q'));
    assert_eq!(app.update(key('y')), [Effect::Quit]);
}

#[test]
fn the_board_cursor_stays_on_its_incident_while_rows_move() {
    let mut h = sample();
    let mut app = live_app(&h, t0() + Duration::minutes(3));
    // Board: INC-3 (SEV1), INC-1 (SEV2), INC-2 (SEV3). The person picks INC-2.
    app.update(key('j'));
    app.update(key('j'));
    assert_eq!(app.selected_incident(), Some(IncidentRef(2)));
    // A new SEV1 sorts in above it: the cursor moves down with it.
    let before = h.events.len();
    h.declare("bot", "Payments queue backing up", 1, "payments");
    deliver_since(&mut app, &h, before);
    assert_eq!(app.selected_incident(), Some(IncidentRef(2)));
    // A row above it resolves and leaves the board: the cursor moves up with it.
    let before = h.events.len();
    h.run(
        "priya",
        Command::Resolve {
            incident: IncidentRef(3),
        },
    );
    deliver_since(&mut app, &h, before);
    assert_eq!(app.selected_incident(), Some(IncidentRef(2)));
    // A single key still acts on the incident chosen.
    let fx = app.update(key('a'));
    assert!(
        matches!(
            &fx[..],
            [Effect::Send {
                command: Command::Acknowledge {
                    incident: IncidentRef(2)
                },
                ..
            }]
        ),
        "{fx:?}"
    );
    // When the chosen incident itself leaves the board, the cursor stays in range.
    let before = h.events.len();
    h.run(
        "priya",
        Command::Resolve {
            incident: IncidentRef(2),
        },
    );
    deliver_since(&mut app, &h, before);
    let rows = app.board_rows().len();
    assert!(
        app.board.selected < rows,
        "{} of {rows}",
        app.board.selected
    );
}

#[test]
fn single_keys_act_on_the_selected_incident_and_refusals_are_shown() {
    let h = sample();
    let mut app = live_app(&h, t0() + Duration::minutes(3));
    // INC-3 (SEV1) is first on the board.
    let fx = app.update(key('a'));
    let [Effect::Send { id, command }] = &fx[..] else {
        panic!("{fx:?}")
    };
    assert_eq!(
        command,
        &Command::Acknowledge {
            incident: IncidentRef(3)
        }
    );
    app.update(Msg::Feed(Update::Answer {
        id: id.clone(),
        command: command.clone(),
        answer: Answer::Error {
            code: warroom::protocol::ErrorCode::Conflict,
            message: "INC-3 was already acknowledged by bob".into(),
        },
    }));
    let lines = text(&draw(&app, &test_theme(), 100, 30));
    assert!(
        lines
            .last()
            .unwrap()
            .contains("refused (ack INC-3): INC-3 was already acknowledged by bob"),
        "{}",
        lines.last().unwrap()
    );
    app.update(key('j'));
    let fx = app.update(key('+'));
    assert!(
        matches!(
            &fx[..],
            [Effect::Send {
                command: Command::SetSeverity {
                    incident: IncidentRef(1),
                    severity: Severity::Sev1
                },
                ..
            }]
        ),
        "{fx:?}"
    );
    let fx = app.update(key('s'));
    assert!(
        matches!(
            &fx[..],
            [Effect::Send {
                command: Command::SetStatus {
                    status: Status::Identified,
                    ..
                },
                ..
            }]
        ),
        "{fx:?}"
    );
    assert!(app.update(key('?')).is_empty());
    assert_eq!(app.mode, Mode::Help);
    // Tall enough for all of it (long help texts wrap in their column, never cut).
    let lines = text(&draw(&app, &test_theme(), 100, 120));
    let all = lines.join("\n");
    assert!(
        all.contains("acknowledge")
            && all.contains("declare [-r] [sevN] TITLE")
            && all.contains("--restricted: need to know")
            && all.contains("@HH:MM backdates")
            && all.contains("d: decision")
            && !all.contains("↓ more"),
        "{all}"
    );
    // At 80x24 it scrolls: the scribe prefixes at the end are reachable.
    let small = text(&draw(&app, &test_theme(), 80, 24)).join("\n");
    assert!(
        small.contains("↓ more") && !small.contains("d: decision"),
        "{small}"
    );
    for _ in 0..10 {
        app.update(code(KeyCode::PageDown));
    }
    assert_eq!(app.mode, Mode::Help, "scrolling keeps help open");
    let small = text(&draw(&app, &test_theme(), 80, 24)).join("\n");
    assert!(
        small.contains("d: decision") && !small.contains("↓ more"),
        "{small}"
    );
    app.update(key('x'));
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn live_events_move_the_timeline_and_the_cursor_stays_on_its_entry() {
    let mut h = History::new();
    h.declare("bot", "Checkout down", 1, "payments");
    for i in 0..50 {
        h.note("lee", 1, EntryKind::Note, &format!("note {i}"));
    }
    let mut app = live_app(&h, t0());
    app.update(code(KeyCode::Enter));
    // Following: the newest entry is on screen.
    let lines = text(&draw(&app, &test_theme(), 100, 30));
    assert!(lines.iter().any(|l| l.contains("note 49")));
    // Select an older entry; a new event arrives; the selection does not move away.
    for _ in 0..5 {
        app.update(key('k'));
    }
    let selected = app.selected_entry(IncidentRef(1)).unwrap();
    let seq = h.note("sam", 1, EntryKind::Action, "scaled pool to 200");
    app.update(Msg::Feed(Update::Event(h.events.last().unwrap().clone())));
    assert_eq!(app.selected_entry(IncidentRef(1)), Some(selected));
    app.update(key('G'));
    assert_eq!(app.selected_entry(IncidentRef(1)), Some(seq));
    let lines = text(&draw(&app, &test_theme(), 100, 30));
    assert!(lines.iter().any(|l| l.contains("scaled pool to 200")));
    // Pinning the selected entry sends a pin for it.
    let fx = app.update(key('p'));
    assert!(
        matches!(&fx[..], [Effect::Send { command: Command::PinEntry { entry, pinned: true, .. }, .. }] if *entry == seq),
        "{fx:?}"
    );
}

#[test]
fn disconnects_show_a_banner_and_typed_text_is_kept() {
    let mut h = History::new();
    h.declare("bot", "Checkout down", 1, "payments");
    let mut app = live_app(&h, t0());
    app.update(key('i'));
    typed(&mut app, "half a thought");
    app.update(Msg::Feed(Update::Conn(ConnState::Reconnecting {
        attempt: 2,
        retry_at: tokio::time::Instant::now() + std::time::Duration::from_secs(3),
        reason: "connection lost".into(),
        queued: 1,
    })));
    app.update(Msg::Feed(Update::Queued(1)));
    let lines = text(&draw(&app, &test_theme(), 100, 30));
    assert!(
        lines[0].contains("DISCONNECTED: connection lost — reconnecting in 3s"),
        "{}",
        lines[0]
    );
    assert!(
        lines
            .last()
            .unwrap()
            .contains("reconnecting in 3s, 1 queued"),
        "{}",
        lines.last().unwrap()
    );
    assert_eq!(
        app.room(IncidentRef(1)).unwrap().draft.lines(),
        ["half a thought"]
    );
    app.update(Msg::Feed(Update::Conn(ConnState::Live)));
    let lines = text(&draw(&app, &test_theme(), 100, 30));
    assert!(!lines[0].contains("DISCONNECTED"));
}

#[test]
fn text_from_the_network_is_escaped() {
    // A hostile feed could send anything; the model would refuse these, a forged snapshot not.
    let mut h = History::new();
    h.declare("bot", "Checkout down", 1, "payments");
    let mut state = h.state.clone();
    state.incidents.get_mut(&1).unwrap().title = "evil\u{1b}[2J\u{7}title\u{202e}".into();
    let mut app = live_app(&History::new(), t0());
    app.update(Msg::Feed(Update::Snapshot(state)));
    let lines = text(&draw(&app, &test_theme(), 100, 30));
    let row = lines.iter().find(|l| l.contains("INC-1")).unwrap();
    assert!(
        row.contains("evil\u{FFFD}[2J\u{FFFD}title\u{FFFD}"),
        "{row}"
    );
}

#[test]
fn small_terminals_degrade_gracefully() {
    let h = sample();
    let mut app = live_app(&h, t0() + Duration::minutes(3));
    app.update(Msg::Resize(80, 24));
    let lines = text(&draw(&app, &test_theme(), 80, 24));
    assert!(
        lines
            .iter()
            .any(|l| l.contains("INC-3") && l.contains("SEV1"))
    );
    assert!(
        !lines.iter().any(|l| l.contains("SERVICE")),
        "narrow boards drop the service column"
    );
    app.update(code(KeyCode::Enter));
    let lines = text(&draw(&app, &test_theme(), 80, 24));
    assert!(lines[0].contains("INC-3"));
    assert!(lines.iter().any(|l| l.contains("Scribe")));
    // Tiny sizes do not panic.
    for (w, h) in [(20, 5), (1, 1), (300, 100)] {
        app.update(Msg::Resize(w, h));
        draw(&app, &test_theme(), w, h);
    }
}

#[test]
fn ticks_redraw_only_when_timers_are_on_screen() {
    let mut app = live_app(&History::new(), t0());
    app.dirty = false;
    app.update(Msg::Tick(t0() + Duration::seconds(1)));
    assert!(!app.dirty, "nothing moves on an empty board");
    app.update(Msg::Tick(t0() + Duration::seconds(60)));
    assert!(app.dirty, "the board's clock shows the new minute");
    app.dirty = false;
    let h = sample();
    app.update(Msg::Feed(Update::Snapshot(h.state.clone())));
    app.dirty = false;
    app.update(Msg::Tick(t0() + Duration::seconds(2)));
    assert!(app.dirty, "ages tick");
}

// ---- escalation, status-update cadence and the runbook checklist -------------------------

fn sev1_plan() -> Plan {
    let step = |after_secs: u64, target: &str, expected: &str| PlannedStep {
        after_secs,
        action: StepAction::Page,
        target: target.into(),
        expected: Some(expected.into()),
    };
    Plan {
        severity: Severity::Sev1,
        steps: vec![
            step(0, "oncall.primary", "priya"),
            step(300, "oncall.secondary", "marco"),
            step(600, "engineering-manager", "dana"),
            step(1200, "vp-engineering", "ines"),
            step(1800, "cto", "ruth"),
        ],
        repeat: 0,
        round_secs: 2400,
        ack_timeout_secs: None,
    }
}

/// What the server records by itself for a SEV1 on payments: the cadence, the runbook, the
/// escalation run and its first page. Returns the run (the escalation_started seq).
fn live_sev1(h: &mut History) -> u64 {
    h.declare("alice", "Checkout down", 1, "payments");
    let r = IncidentRef(1);
    h.record(
        "warroom",
        EventKind::CadenceSet {
            incident: r,
            every_secs: Some(900),
        },
    );
    let runbook = warroom::model::runbook::parse_markdown(
        "payments",
        "built-in",
        include_str!("../assets/runbooks/payments.md"),
    )
    .unwrap();
    h.record(
        "warroom",
        EventKind::RunbookAttached {
            incident: r,
            runbook,
        },
    );
    let run = h
        .record(
            "warroom",
            EventKind::EscalationStarted {
                incident: r,
                plan: sev1_plan(),
                reason: "declared".into(),
            },
        )
        .seq;
    h.record(
        "warroom",
        EventKind::StepFired {
            incident: r,
            run,
            round: 0,
            step: 0,
            action: StepAction::Page,
            target: "oncall.primary".into(),
            person: Some("priya".into()),
            due_at: h.now,
            late: false,
        },
    );
    run
}

fn screen(app: &App, w: u16, h: u16) -> String {
    text(&draw(app, &test_theme(), w, h)).join("\n")
}

fn assert_on(all: &str, needles: &[&str]) {
    for n in needles {
        assert!(all.contains(n), "'{n}' not on screen:\n{all}");
    }
}

#[test]
fn escalation_is_live_on_the_board_and_in_the_room() {
    let mut h = History::new();
    live_sev1(&mut h);
    let mut app = live_app(&h, t0());
    // The board, wide and narrow: whom it paged, the next step and its countdown.
    for (w, ht) in [(160, 48), (80, 24)] {
        app.update(Msg::Resize(w, ht));
        let all = screen(&app, w, ht);
        assert_on(&all, &["INC-1", "paged priya", "next: marco in 5:00"]);
    }
    let wide = screen(&app, 160, 48);
    assert_on(&wide, &["update in 15:00", "payments"]);
    // At 80 columns the row keeps the essentials; the selected incident is spelled out below.
    let narrow = text(&draw(&app, &test_theme(), 80, 24));
    let row = narrow.iter().find(|l| l.contains("INC-1")).unwrap();
    // The cell counts down to the SEV1's 5-minute response target; the age is beside it.
    assert!(
        row.contains("ack due 5:00") && row.contains("Checkout"),
        "{row}"
    );

    // The room, wide and narrow.
    app.update(code(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Room(IncidentRef(1)));
    for (w, ht) in [(160, 48), (80, 24)] {
        app.update(Msg::Resize(w, ht));
        let all = screen(&app, w, ht);
        assert_on(
            &all,
            &[
                "Escalation",
                // Step 2 has not fired yet: the run is at step 1.
                "SEV1 policy · step 1 of 5 · round 1",
                "paged priya (oncall.primary) at 02:00, no ack 0:00",
                "next: marco in 5:00",
            ],
        );
    }
    let all = screen(&app, 160, 48);
    assert_on(
        &all,
        &[
            "page oncall.secondary (step 2 of 5)",
            "1 paged priya · 2 marco ◂ next · 3 dana · 4 ines · 5 ruth",
            "Status updates  every 15m · next due in 15:00",
            "runbook 0/16 done (c)",
        ],
    );

    // A minute later, with no new event: the countdowns moved.
    app.update(Msg::Tick(t0() + Duration::seconds(60)));
    assert!(app.dirty);
    let all = screen(&app, 160, 48);
    assert_on(
        &all,
        &["next: marco in 4:00", "no ack 1:00", "next due in 14:00"],
    );
    app.update(code(KeyCode::Esc));
    assert_eq!(app.screen, Screen::Board);
    for (w, ht) in [(160, 48), (80, 24)] {
        let all = screen(&app, w, ht);
        assert_on(&all, &["paged priya", "no ack 1:00", "next: marco in 4:00"]);
    }

    // Priya acknowledges: the run stops; who and when is shown.
    h.now = t0() + Duration::seconds(75);
    let ack = h.run(
        "priya",
        Command::Acknowledge {
            incident: IncidentRef(1),
        },
    );
    assert_eq!(ack.len(), 1);
    app.update(Msg::Feed(Update::Event(h.events.last().unwrap().clone())));
    let all = screen(&app, 160, 48);
    assert_on(&all, &["✓ ack priya 02:01"]);
    assert!(!all.contains("next: marco"), "{all}");
    app.update(code(KeyCode::Enter));
    let all = screen(&app, 160, 48);
    assert_on(
        &all,
        &[
            "acknowledged by priya at 02:01",
            "stopped 02:01: acknowledged",
            "no further pages",
        ],
    );

    // Nobody wrote a status update: 15 minutes after declaration it is overdue, loudly.
    app.update(Msg::Tick(t0() + Duration::seconds(15 * 60 + 190)));
    let term = draw(&app, &test_theme(), 160, 48);
    let lines = text(&term);
    let (x, y) = find(&lines, "STATUS UPDATE OVERDUE 3:10");
    let cell = &term.backend().buffer()[(x, y)];
    assert_eq!(cell.fg, Color::Red);
    assert!(cell.modifier.contains(Modifier::BOLD));
    app.update(code(KeyCode::Esc));
    for (w, ht) in [(160, 48), (80, 24)] {
        let term = draw(&app, &test_theme(), w, ht);
        let lines = text(&term);
        let (x, y) = find(&lines, "UPDATE OVERDUE 3:10");
        assert_eq!(term.backend().buffer()[(x, y)].fg, Color::Red, "{w}x{ht}");
    }

    // A status update resets the countdown.
    h.now = t0() + Duration::seconds(15 * 60 + 200);
    h.run(
        "alice",
        Command::AddEntry {
            incident: IncidentRef(1),
            entry_kind: EntryKind::StatusUpdate,
            text: "rolling back 4471".into(),
            occurred_at: None,
            next_update_secs: None,
            public: false,
            // A SEV1's update carries the executive briefing.
            briefing: Some(warroom::model::Briefing {
                impact: "checkout fails for 15%".into(),
                eta: "40 minutes".into(),
                at_risk: "none".into(),
            }),
        },
    );
    app.update(Msg::Feed(Update::Event(h.events.last().unwrap().clone())));
    app.update(Msg::Tick(h.now + Duration::seconds(10)));
    let all = screen(&app, 160, 48);
    assert_on(&all, &["update in 14:50"]);
    assert!(!all.contains("OVERDUE"), "{all}");
}

#[test]
fn the_escalation_panel_marks_skipped_and_late_steps_and_a_run_that_ended_unanswered() {
    let mut h = History::new();
    h.declare("bot", "Ledger drift", 1, "payments");
    let r = IncidentRef(1);
    let mut plan = sev1_plan();
    plan.steps.truncate(3);
    let run = h
        .record(
            "warroom",
            EventKind::EscalationStarted {
                incident: r,
                plan,
                reason: "declared".into(),
            },
        )
        .seq;
    let fire = |h: &mut History, step: u32, target: &str, person: Option<&str>, due: i64| {
        h.record(
            "warroom",
            EventKind::StepFired {
                incident: r,
                run,
                round: 0,
                step,
                action: StepAction::Page,
                target: target.into(),
                person: person.map(String::from),
                due_at: t0() + Duration::seconds(due),
                late: (h.now - (t0() + Duration::seconds(due))).num_seconds() > 60,
            },
        );
    };
    fire(&mut h, 0, "oncall.primary", Some("priya"), 0);
    h.now = t0() + Duration::seconds(300);
    fire(&mut h, 1, "oncall.secondary", None, 300);
    let mut app = live_app(&h, h.now + Duration::seconds(5));
    // Step 3 is due at once after a skipped one.
    app.update(code(KeyCode::Enter));
    let all = screen(&app, 160, 48);
    assert_on(
        &all,
        &[
            "2 skipped (oncall.secondary: nobody on call)",
            "next: dana due now",
            "paged priya (oncall.primary) at 02:00, no ack 5:05",
        ],
    );
    // The server was down: the last step fires 80 s late, and the run is over, unanswered.
    h.now = t0() + Duration::seconds(380);
    fire(&mut h, 2, "engineering-manager", Some("dana"), 300);
    let last = h.events.len() - 1;
    app.update(Msg::Feed(Update::Event(h.events[last].clone())));
    app.update(Msg::Tick(h.now + Duration::seconds(20)));
    let all = screen(&app, 160, 48);
    assert_on(
        &all,
        &[
            "3 paged dana (late 1:20)",
            "escalation ended at 02:06, no ack",
            "last paged dana (engineering-manager) at 02:06, 0:20 ago",
        ],
    );
    app.update(code(KeyCode::Esc));
    let term = draw(&app, &test_theme(), 160, 48);
    let lines = text(&term);
    // On the board: the target missed first, then that the run ended.
    let (x, y) = find(&lines, "escalation ended");
    assert_eq!(term.backend().buffer()[(x, y)].fg, Color::Red);
    assert_on(
        &lines.join("\n"),
        &["NO ACK 6:40 · 5m target missed · ENDED"],
    );
    let narrow = screen(&app, 80, 24);
    assert_on(
        &narrow,
        &["NO ACK >5m", "5m target missed by 1:40 · escalation ended"],
    );
}

#[test]
fn the_runbook_checklist_ticks_steps_and_follows_other_consoles() {
    let mut h = History::new();
    live_sev1(&mut h);
    h.declare("bot", "Search slow", 3, "search");
    let mut app = live_app(&h, t0());
    app.update(Msg::Resize(100, 30));
    app.update(code(KeyCode::Enter));
    app.update(key('i'));
    typed(&mut app, "draft kept");
    app.update(code(KeyCode::Esc));
    assert_eq!(app.mode, Mode::Normal);

    // The key opens it over the room.
    assert!(app.update(key('c')).is_empty());
    assert_eq!(app.mode, Mode::Runbook);
    let all = screen(&app, 100, 30);
    assert_on(
        &all,
        &[
            "Runbook · INC-1 · 0 of 16 done",
            "Payments: checkout failing or slow",
            "Diagnostic steps",
            "▶ [ ]  1. Check whether a deployment happened in the last 30 minutes",
            "Command: kubectl rollout history deployment/payments",
            "[ ]  2. Check the payment provider's status page",
        ],
    );
    // Detail lines are dimmed (muted) against the item text.
    let mut theme = test_theme();
    theme.muted = Style::default().fg(Color::DarkGray);
    let term = draw(&app, &theme, 100, 30);
    let lines = text(&term);
    let (x, y) = find(&lines, "Command: kubectl");
    assert_eq!(term.backend().buffer()[(x, y)].fg, Color::DarkGray);

    // Keys that mean something elsewhere do nothing here: nothing is sent, nothing quits.
    for c in ['a', 'q', 'R', 's', 'p', 'i', ':'] {
        assert!(app.update(key(c)).is_empty(), "{c}");
        assert_eq!(app.mode, Mode::Runbook, "{c}");
    }
    // Down, then space: item 2 is ticked through the ordinary command path.
    app.update(key('j'));
    let fx = app.update(key(' '));
    let [Effect::Send { id, command }] = &fx[..] else {
        panic!("{fx:?}")
    };
    assert_eq!(
        command,
        &Command::CheckRunbookStep {
            incident: IncidentRef(1),
            item: 2,
            done: true
        }
    );
    assert_on(&screen(&app, 100, 30), &["(ticking…)"]);
    // The feed records it; the overlay shows it ticked, and the room says so when answered.
    let seqs = h.run("alice", command.clone());
    app.update(Msg::Feed(Update::Event(h.events.last().unwrap().clone())));
    app.update(Msg::Feed(Update::Answer {
        id: id.clone(),
        command: command.clone(),
        answer: Answer::Ok {
            seqs,
            incident: Some(IncidentRef(1)),
        },
    }));
    let all = screen(&app, 100, 30);
    assert_on(
        &all,
        &[
            "▶ [x]  2. Check the payment provider",
            "1 of 16 done",
            "INC-1: runbook step 2 done",
        ],
    );
    assert!(!all.contains("ticking"), "{all}");
    // Enter on a ticked item unticks it.
    let fx = app.update(code(KeyCode::Enter));
    assert!(
        matches!(
            &fx[..],
            [Effect::Send {
                command: Command::CheckRunbookStep {
                    item: 2,
                    done: false,
                    ..
                },
                ..
            }]
        ),
        "{fx:?}"
    );
    // Another console ticks item 3: it shows at once, with no key pressed here.
    h.run(
        "bob",
        Command::CheckRunbookStep {
            incident: IncidentRef(1),
            item: 3,
            done: true,
        },
    );
    app.update(Msg::Feed(Update::Event(h.events.last().unwrap().clone())));
    assert_on(
        &screen(&app, 100, 30),
        &["[x]  3. Check the database connection pool"],
    );
    // The cursor scrolls the list at 80x24: the last item comes into view.
    app.update(code(KeyCode::End));
    let small = screen(&app, 80, 24);
    assert_on(&small, &["▶ [ ] 16. Watch the error-rate dashboard"]);
    app.update(code(KeyCode::Home));
    assert_on(&screen(&app, 80, 24), &["▶ [ ]  1. Check whether"]);

    // Esc closes the checklist only: still in the room, the draft untouched.
    app.update(code(KeyCode::Esc));
    assert_eq!(
        (app.mode, app.screen),
        (Mode::Normal, Screen::Room(IncidentRef(1)))
    );
    assert_eq!(
        app.room(IncidentRef(1)).unwrap().draft.lines(),
        ["draft kept"]
    );
    let all = screen(&app, 120, 30);
    assert!(!all.contains("Runbook ·"), "{all}");
    assert_on(
        &all,
        &["runbook step 2 done: Check the payment provider's status page"],
    );

    // `:runbook N` ticks item N from the palette.
    app.update(key(':'));
    typed(&mut app, "runbook 4");
    let fx = app.update(code(KeyCode::Enter));
    assert!(
        matches!(
            &fx[..],
            [Effect::Send {
                command: Command::CheckRunbookStep {
                    incident: IncidentRef(1),
                    item: 4,
                    done: true
                },
                ..
            }]
        ),
        "{fx:?}"
    );
    app.update(key(':'));
    typed(&mut app, "runbook 99");
    assert!(app.update(code(KeyCode::Enter)).is_empty());
    assert_on(&screen(&app, 100, 30), &["there is no item 99"]);
    // `:runbook` opens it; an incident without a runbook says so.
    app.update(key(':'));
    typed(&mut app, "runbook");
    app.update(code(KeyCode::Enter));
    assert_eq!(app.mode, Mode::Runbook);
    app.update(code(KeyCode::Esc));
    app.update(key(':'));
    typed(&mut app, "runbook INC-2");
    assert!(app.update(code(KeyCode::Enter)).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert_on(
        &screen(&app, 100, 30),
        &["INC-2 has no runbook attached (none is known for search)"],
    );
}

#[test]
fn ack_from_the_palette_in_the_room_and_on_the_board_shows_the_answer() {
    let mut h = History::new();
    live_sev1(&mut h);
    let mut app = live_app(&h, t0() + Duration::seconds(30));
    // On the board, `:ack` acts on the selected incident.
    app.update(key(':'));
    typed(&mut app, "ack");
    let fx = app.update(code(KeyCode::Enter));
    let [Effect::Send { id, command }] = &fx[..] else {
        panic!("{fx:?}")
    };
    assert_eq!(
        command,
        &Command::Acknowledge {
            incident: IncidentRef(1)
        }
    );
    app.update(Msg::Feed(Update::Answer {
        id: id.clone(),
        command: command.clone(),
        answer: Answer::Error {
            code: warroom::protocol::ErrorCode::Conflict,
            message: "INC-1 was already acknowledged by bob at 02:00 UTC".into(),
        },
    }));
    assert_on(
        &screen(&app, 100, 30),
        &["refused (INC-1: ack): INC-1 was already acknowledged by bob"],
    );
    // In the room it acts on the room's incident, and success is shown.
    app.update(code(KeyCode::Enter));
    app.update(key(':'));
    typed(&mut app, "ack");
    let fx = app.update(code(KeyCode::Enter));
    let [Effect::Send { id, command }] = &fx[..] else {
        panic!("{fx:?}")
    };
    let seqs = h.run("alice", command.clone());
    app.update(Msg::Feed(Update::Event(h.events.last().unwrap().clone())));
    app.update(Msg::Feed(Update::Answer {
        id: id.clone(),
        command: command.clone(),
        answer: Answer::Ok {
            seqs,
            incident: Some(IncidentRef(1)),
        },
    }));
    assert_on(
        &screen(&app, 100, 30),
        &["INC-1 acknowledged", "acknowledged by alice at 02:00"],
    );
}

#[test]
fn a_declaration_answered_while_the_checklist_is_open_does_not_take_its_keys() {
    let mut h = History::new();
    live_sev1(&mut h);
    let mut app = live_app(&h, t0());
    app.update(key(':'));
    typed(&mut app, "declare sev2 Search slow");
    let fx = app.update(code(KeyCode::Enter));
    let [Effect::Send { id, command }] = &fx[..] else {
        panic!("{fx:?}")
    };
    // Before the answer comes, the person opens INC-1's checklist.
    app.update(code(KeyCode::Enter));
    app.update(key('c'));
    assert_eq!(app.mode, Mode::Runbook);
    let seqs = h.run("alice", command.clone());
    app.update(Msg::Feed(Update::Event(h.events.last().unwrap().clone())));
    app.update(Msg::Feed(Update::Answer {
        id: id.clone(),
        command: command.clone(),
        answer: Answer::Ok {
            seqs,
            incident: Some(IncidentRef(2)),
        },
    }));
    assert_eq!(
        (app.mode, app.screen),
        (Mode::Runbook, Screen::Room(IncidentRef(1)))
    );
    assert_on(&screen(&app, 100, 30), &["INC-2 declared · :open INC-2"]);
    // Their next keys still drive the checklist of INC-1.
    app.update(key('j'));
    let fx = app.update(key(' '));
    assert!(
        matches!(
            &fx[..],
            [Effect::Send {
                command: Command::CheckRunbookStep {
                    incident: IncidentRef(1),
                    item: 2,
                    done: true
                },
                ..
            }]
        ),
        "{fx:?}"
    );
}

// ---- the incident room's record: filters, search, history, updates, post-mortem, export ----

fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

/// Runs a palette line (`:` + text + enter) and returns the effects.
fn palette(app: &mut App, line: &str) -> Vec<Effect> {
    app.update(key(':'));
    typed(app, line);
    app.update(code(KeyCode::Enter))
}

/// Applies what a sent command does, the way the feed would: its events, then its answer.
fn deliver(app: &mut App, h: &mut History, who: &str, fx: &[Effect]) -> Vec<u64> {
    let mut all = Vec::new();
    for f in fx {
        let Effect::Send { id, command } = f else {
            continue;
        };
        let before = h.events.len();
        let seqs = h.run(who, command.clone());
        for e in h.events[before..].iter().cloned() {
            app.update(Msg::Feed(Update::Event(e)));
        }
        app.update(Msg::Feed(Update::Answer {
            id: id.clone(),
            command: command.clone(),
            answer: Answer::Ok {
                seqs: seqs.clone(),
                incident: command.incident(),
            },
        }));
        all.extend(seqs);
    }
    all
}

fn sent(fx: &[Effect]) -> Vec<&Command> {
    fx.iter()
        .filter_map(|f| match f {
            Effect::Send { command, .. } => Some(command),
            _ => None,
        })
        .collect()
}

/// One incident with people's entries of several kinds and warroom's own system entries.
fn busy_room() -> History {
    let mut h = History::new();
    h.declare("priya", "Checkout returns 500s", 2, "payments");
    h.now += Duration::minutes(1);
    h.note("bob", 1, EntryKind::Hypothesis, "connection pool exhausted");
    h.now += Duration::minutes(1);
    h.note("alice", 1, EntryKind::Decision, "roll back deploy 4471");
    h.run(
        "priya",
        Command::AssignRole {
            incident: IncidentRef(1),
            role: Role::IncidentCommander,
            person: "me".into(),
        },
    );
    h.now += Duration::minutes(1);
    h.note(
        "bob",
        1,
        EntryKind::Note,
        "Pool graphs attached to the ticket",
    );
    h.now += Duration::minutes(1);
    h
}

fn timeline_texts(app: &App, r: u32) -> Vec<String> {
    let inc = app.replica.state.incident(IncidentRef(r)).unwrap();
    app.timelines[&IncidentRef(r)]
        .rows
        .iter()
        .map(|(_, id)| inc.entry(*id).unwrap().text.clone())
        .collect()
}

#[test]
fn the_room_timeline_filters_by_kind_and_author_and_hides_system_entries() {
    let mut h = busy_room();
    let mut app = live_app(&h, h.now);
    app.update(code(KeyCode::Enter));
    assert_eq!(timeline_texts(&app, 1).len(), 5);

    // Kinds: names, plurals or scribe prefixes, comma-separated.
    assert!(palette(&mut app, "filter kind:hypothesis,d").is_empty());
    assert_eq!(
        app.screen,
        Screen::Room(IncidentRef(1)),
        "the room stays open"
    );
    assert_eq!(
        timeline_texts(&app, 1),
        ["connection pool exhausted", "roll back deploy 4471"]
    );
    assert_on(
        &screen(&app, 120, 30),
        &["Timeline · 2 of 5 entries · filter kind:decision,hypothesis"],
    );
    // Authors (case does not matter); a new entry that matches arrives live, one that
    // does not stays out.
    palette(&mut app, "filter author:BOB");
    assert_eq!(
        timeline_texts(&app, 1),
        [
            "connection pool exhausted",
            "Pool graphs attached to the ticket"
        ]
    );
    h.note("alice", 1, EntryKind::Note, "customers tweeting");
    h.note("bob", 1, EntryKind::Action, "raised the pool to 50");
    let n = h.events.len();
    for e in h.events[n - 2..].iter().cloned() {
        app.update(Msg::Feed(Update::Event(e)));
    }
    assert_eq!(timeline_texts(&app, 1).len(), 3);
    assert_eq!(timeline_texts(&app, 1)[2], "raised the pool to 50");
    // A bad filter is refused and left in the palette to fix.
    palette(&mut app, "filter kind:chef");
    assert_eq!(app.mode, Mode::Palette);
    assert_eq!(app.palette.input, "filter kind:chef");
    assert_on(&screen(&app, 120, 30), &["unknown entry kind 'chef'"]);
    app.update(code(KeyCode::Esc));
    // `:filter` alone clears it.
    palette(&mut app, "filter");
    assert_eq!(timeline_texts(&app, 1).len(), 7);

    // System entries: H hides and shows them; `:system on|off` says which.
    let system = |app: &App| {
        let inc = app.replica.state.incident(IncidentRef(1)).unwrap();
        app.timelines[&IncidentRef(1)]
            .rows
            .iter()
            .filter(|(_, id)| inc.entry(*id).unwrap().kind == EntryKind::System)
            .count()
    };
    assert_eq!(system(&app), 2);
    app.update(key('H'));
    assert_eq!(system(&app), 0);
    let s = screen(&app, 120, 30);
    assert_on(&s, &["Timeline · 5 of 7 entries · system hidden"]);
    assert!(!s.contains("declared SEV2"), "{s}");
    // While hidden, warroom's own entries arriving live stay out too.
    h.run(
        "alice",
        Command::SetSeverity {
            incident: IncidentRef(1),
            severity: Severity::Sev1,
        },
    );
    app.update(Msg::Feed(Update::Event(h.events.last().unwrap().clone())));
    assert_eq!(system(&app), 0);
    palette(&mut app, "system on");
    assert_eq!(system(&app), 3);
    palette(&mut app, "system off");
    assert_eq!(system(&app), 0);
    // A kind filter keeps the system choice.
    palette(&mut app, "filter kind:note");
    app.update(key('H'));
    assert_eq!(
        timeline_texts(&app, 1),
        ["Pool graphs attached to the ticket", "customers tweeting"]
    );
    // On the board, `:filter` still filters incidents.
    app.update(code(KeyCode::Esc));
    assert_eq!(app.screen, Screen::Board);
    palette(&mut app, "filter search");
    assert_eq!(app.board.filter, "search");
}

#[test]
fn searching_the_room_highlights_matches_and_n_steps_through_them() {
    let h = busy_room();
    let mut app = live_app(&h, h.now);
    app.update(code(KeyCode::Enter));
    // `/` in a room searches its timeline (on the board it still filters incidents).
    app.update(key('/'));
    assert_eq!(app.mode, Mode::Search);
    typed(&mut app, "POOL");
    let r = IncidentRef(1);
    let selected = |app: &App| {
        let id = app.selected_entry(r).unwrap();
        app.replica
            .state
            .incident(r)
            .unwrap()
            .entry(id)
            .unwrap()
            .text
            .clone()
    };
    // The nearest match above where the search started: the newest.
    assert_eq!(selected(&app), "Pool graphs attached to the ticket");
    let s = screen(&app, 120, 30);
    assert_on(&s, &["/POOL▏ enter keeps · esc clears"]);
    app.update(code(KeyCode::Enter));
    assert_eq!(app.mode, Mode::Normal);
    // Every match on screen is highlighted, whatever its case.
    let term = draw(&app, &test_theme(), 120, 30);
    let lines = text(&term);
    let buf = term.backend().buffer();
    let (x, y) = find(&lines, "pool exhausted");
    assert!(buf[(x, y)].modifier.contains(Modifier::REVERSED));
    assert!(!buf[(x + 5, y)].modifier.contains(Modifier::REVERSED));
    let (x, y) = find(&lines, "Pool graphs");
    assert!(buf[(x, y)].modifier.contains(Modifier::REVERSED));
    assert_on(&lines.join("\n"), &["/POOL · n / N next / previous"]);

    // N goes up (older), n down (newer), wrapping around with a word about it.
    app.update(key('N'));
    assert_eq!(selected(&app), "connection pool exhausted");
    app.update(key('N'));
    assert_eq!(selected(&app), "Pool graphs attached to the ticket");
    assert_on(&screen(&app, 120, 30), &["wrapped to the newest match"]);
    app.update(key('n'));
    assert_eq!(selected(&app), "connection pool exhausted");
    assert_on(&screen(&app, 120, 30), &["wrapped to the oldest match"]);
    app.update(key('n'));
    assert_eq!(selected(&app), "Pool graphs attached to the ticket");

    // Esc clears the search first (n is declare again); the next Esc leaves the room.
    app.update(code(KeyCode::Esc));
    assert_eq!(app.screen, Screen::Room(r));
    assert!(app.room(r).unwrap().search.is_empty());
    let s = screen(&app, 120, 30);
    assert!(!s.contains("/POOL"), "{s}");
    app.update(key('n'));
    assert_eq!(
        (app.mode, app.palette.input.as_str()),
        (Mode::Palette, "declare ")
    );
    app.update(code(KeyCode::Esc));
    // A needle nothing matches says so; Esc while typing clears it.
    app.update(key('/'));
    typed(&mut app, "zebra");
    app.update(code(KeyCode::Enter));
    assert_on(&screen(&app, 120, 30), &["no entry matches 'zebra'"]);
    app.update(key('/'));
    typed(&mut app, "roll");
    app.update(code(KeyCode::Esc));
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.room(r).unwrap().search.is_empty());
    app.update(code(KeyCode::Esc));
    assert_eq!(app.screen, Screen::Board);
}

#[test]
fn a_corrected_entry_says_so_and_its_history_opens_over_the_room() {
    let mut h = History::new();
    h.declare("priya", "Checkout returns 500s", 2, "payments");
    h.now += Duration::minutes(2);
    let first = h.note("bob", 1, EntryKind::Note, "pool exhausted at 01:50");
    h.now += Duration::minutes(3);
    h.run(
        "carol",
        Command::CorrectEntry {
            incident: IncidentRef(1),
            entry: first,
            text: Some("pool exhausted from 01:48".into()),
            entry_kind: Some(EntryKind::Hypothesis),
            occurred_at: Some(t0() - Duration::minutes(12)),
        },
    );
    let mut app = live_app(&h, h.now);
    app.update(code(KeyCode::Enter));
    let s = screen(&app, 120, 30);
    // Only the current version is on the timeline, marked, at its corrected time.
    assert!(!s.contains("pool exhausted at 01:50"), "{s}");
    assert_on(
        &s,
        &[
            "01:48:00   hypothesis carol        pool exhausted from 01:48 (corrected)",
            "(logged 02:05:00)",
        ],
    );
    // Selected, its detail shows both times and where the history is.
    app.update(key('g'));
    let s = screen(&app, 120, 30);
    assert_on(
        &s,
        &["by carol at 01:48:00, logged 02:05:00 (corrected: v shows the history)"],
    );
    // v opens the chain of versions with authors and times.
    app.update(key('v'));
    assert_eq!(app.mode, Mode::History);
    let s = screen(&app, 120, 30);
    assert_on(
        &s,
        &[
            "History · INC-1 entry #3",
            "2 versions, the original first",
            "original: #2 note by bob · happened 02:02:00",
            "pool exhausted at 01:50",
            "correction 1 (current): #3 hypothesis by carol · happened 01:48:00 · logged 02:05:00",
            "pool exhausted from 01:48",
        ],
    );
    // Keys other than its own do nothing while it is open; Esc closes only the overlay.
    assert!(app.update(key('a')).is_empty());
    app.update(code(KeyCode::Esc));
    assert_eq!(
        (app.mode, app.screen),
        (Mode::Normal, Screen::Room(IncidentRef(1)))
    );
    // Enter opens it too; an entry never corrected shows itself alone.
    app.update(key('G'));
    app.update(code(KeyCode::Enter));
    assert_eq!(app.mode, Mode::History);
    assert_on(&screen(&app, 120, 30), &["never corrected"]);
    app.update(key('q'));
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn milestones_are_set_from_the_palette_with_an_optional_time() {
    let mut h = History::new();
    h.declare("priya", "Checkout returns 500s", 2, "payments");
    h.now += Duration::minutes(10);
    let mut app = live_app(&h, h.now);
    app.update(code(KeyCode::Enter));
    let fx = palette(&mut app, "milestone impact_started 01:52");
    assert_eq!(
        sent(&fx),
        [&Command::SetMilestone {
            incident: IncidentRef(1),
            milestone: warroom::model::Milestone::ImpactStarted,
            occurred_at: Some(t0() - Duration::minutes(8)),
        }]
    );
    deliver(&mut app, &mut h, "alice", &fx);
    assert_on(
        &screen(&app, 120, 30),
        &[
            "INC-1: impact started at 01:52",
            "milestone  alice        impact started at 01:52",
        ],
    );
    // Without a time it is now; a bad time is refused before anything is sent.
    let fx = palette(&mut app, "milestone mitigated");
    assert!(matches!(
        sent(&fx)[..],
        [Command::SetMilestone {
            occurred_at: None,
            ..
        }]
    ));
    assert!(palette(&mut app, "milestone detected 25:99").is_empty());
    assert_on(&screen(&app, 120, 30), &["is not a time"]);
}

#[test]
fn the_status_update_form_posts_one_entry_and_keeps_a_cancelled_draft() {
    let mut h = History::new();
    h.declare("priya", "Checkout returns 500s", 2, "payments");
    h.record(
        "warroom",
        EventKind::CadenceSet {
            incident: IncidentRef(1),
            every_secs: Some(15 * 60),
        },
    );
    h.now += Duration::minutes(30);
    let mut app = live_app(&h, h.now);
    app.update(code(KeyCode::Enter));
    let r = IncidentRef(1);
    assert!(palette(&mut app, "update").is_empty());
    assert_eq!(app.mode, Mode::UpdateForm);
    let form = |app: &App, i: usize| app.room(r).unwrap().update.as_ref().unwrap().value(i);
    // The next update defaults to the incident's cadence.
    assert_eq!(form(&app, 3), "15");
    let s = screen(&app, 120, 34);
    assert_on(
        &s,
        &[
            "Status update · INC-1 · Checkout returns 500s",
            "What is happening",
            "Impact",
            "What we are doing",
            "Next update in (minutes)",
        ],
    );
    typed(&mut app, "Checkout fails for some customers");
    app.update(code(KeyCode::Tab));
    typed(&mut app, "About 30% of payments fail");
    // Esc closes it but keeps the draft, and says so; quitting would ask first.
    app.update(code(KeyCode::Esc));
    assert_eq!(app.mode, Mode::Normal);
    assert_on(
        &screen(&app, 120, 34),
        &["status update draft kept · :update reopens it"],
    );
    assert_eq!(app.unsent_text(), ["the status update draft in INC-1"]);
    // `:update` reopens it where it was.
    palette(&mut app, "update");
    assert_eq!(app.mode, Mode::UpdateForm);
    assert_eq!(form(&app, 0), "Checkout fails for some customers");
    assert_eq!(form(&app, 1), "About 30% of payments fail");
    // Shift-tab and tab move between fields; enter moves on until the last field.
    app.update(code(KeyCode::BackTab));
    app.update(code(KeyCode::Tab));
    app.update(code(KeyCode::Tab));
    typed(&mut app, "Rolling back deploy 4471");
    assert!(app.update(code(KeyCode::Enter)).is_empty());
    assert_on(
        &screen(&app, 120, 34),
        &[
            "Preview:",
            "What is happening: Checkout fails for some customers. Impact:",
        ],
    );
    let fx = app.update(code(KeyCode::Enter));
    let text = "What is happening: Checkout fails for some customers. Impact: About 30% of \
                payments fail. What we are doing: Rolling back deploy 4471. Next update: 02:45 \
                UTC (in 15 min).";
    assert_eq!(
        sent(&fx),
        [&Command::AddEntry {
            incident: r,
            entry_kind: EntryKind::StatusUpdate,
            text: text.into(),
            occurred_at: None,
            next_update_secs: Some(15 * 60),
            public: false,
            briefing: None,
        }]
    );
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.room(r).unwrap().update.is_none());

    // A refusal brings the draft back rather than losing it.
    let Effect::Send { id, command } = &fx[0] else {
        unreachable!()
    };
    app.update(Msg::Feed(Update::Answer {
        id: id.clone(),
        command: command.clone(),
        answer: Answer::Error {
            code: warroom::protocol::ErrorCode::Invalid,
            message: "entry text is 4001 characters long; the limit is 4000".into(),
        },
    }));
    assert_on(&screen(&app, 120, 34), &[":update reopens your draft"]);
    palette(&mut app, "update");
    assert_eq!(form(&app, 2), "Rolling back deploy 4471");
    // Ctrl-S posts from any field; recorded, it restarts the countdown.
    app.update(code(KeyCode::BackTab));
    let fx = app.update(ctrl('s'));
    assert_eq!(sent(&fx).len(), 1);
    deliver(&mut app, &mut h, "carol", &fx);
    let inc = app.replica.state.incident(r).unwrap();
    assert_eq!(inc.last_status_update, Some(h.now));
    assert_eq!(inc.next_update_due(), Some(h.now + Duration::minutes(15)));
    assert_on(
        &screen(&app, 120, 34),
        &[
            "INC-1: status update posted",
            "update     carol        What is happening: Checkout fails",
            "next due in 15:00",
        ],
    );
    assert!(app.unsent_text().is_empty());
    // An empty form asks for what is happening; a blank one closed leaves no draft.
    palette(&mut app, "update");
    assert!(app.update(ctrl('s')).is_empty());
    assert_on(&screen(&app, 120, 34), &["say what is happening first"]);
    app.update(code(KeyCode::Esc));
    assert!(app.room(r).unwrap().update.is_none());
    // `:update TEXT` starts with what is happening filled in.
    palette(&mut app, "update Payments recovered");
    assert_eq!(form(&app, 0), "Payments recovered");
}

#[test]
fn the_postmortem_editor_sends_sections_whys_and_action_items() {
    let mut h = History::new();
    h.declare("priya", "Checkout returns 500s", 2, "payments");
    h.run(
        "priya",
        Command::Resolve {
            incident: IncidentRef(1),
        },
    );
    h.now += Duration::minutes(30);
    let mut app = live_app(&h, h.now);
    palette(&mut app, "open INC-1");
    let r = IncidentRef(1);

    // Closing asks first; then it is refused while the post-mortem is missing, and the
    // console says what to do.
    assert!(palette(&mut app, "status closed").is_empty());
    assert_eq!(app.mode, Mode::Confirm);
    let fx = app.update(key('y'));
    let Effect::Send { id, command } = &fx[0] else {
        unreachable!()
    };
    let refusal = h.state.decide("alice", h.now, command).unwrap_err();
    app.update(Msg::Feed(Update::Answer {
        id: id.clone(),
        command: command.clone(),
        answer: Answer::rejected(refusal),
    }));
    assert_on(
        &screen(&app, 200, 30),
        &[
            "INC-1 cannot be closed yet: its post-mortem needs a summary and at least one action \
           item (or waive it with a reason) · :pm writes it, :waive REASON skips it",
        ],
    );

    assert!(palette(&mut app, "pm").is_empty());
    assert_eq!(app.mode, Mode::Postmortem);
    let s = screen(&app, 120, 30);
    assert_on(
        &s,
        &[
            "Post-mortem · INC-1 Checkout returns 500s",
            "closing needs a summary and at least one action item",
            "▶ · Summary",
            "Root cause (5 whys)",
            "Contributing factors",
            "What went well",
            "What went poorly",
            "Lessons learned",
            "Action items",
        ],
    );
    // The summary, sent when leaving it.
    typed(&mut app, "Deploy 4471 halved the pool.");
    app.update(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    typed(&mut app, "Checkout failed for 27 minutes.");
    assert_on(&screen(&app, 120, 30), &["● Summary"]);
    let fx = app.update(code(KeyCode::Tab));
    assert_eq!(
        sent(&fx),
        [&Command::EditPostmortem {
            incident: r,
            section: warroom::model::PmSection::Summary,
            text: "Deploy 4471 halved the pool.\nCheckout failed for 27 minutes.".into(),
        }]
    );
    deliver(&mut app, &mut h, "alice", &fx);
    assert_on(
        &screen(&app, 120, 30),
        &["INC-1: summary saved", "✓ Summary"],
    );

    // The 5 whys: one `why | because` line per link; a line without `|` is refused and
    // the part keeps the keys.
    typed(&mut app, "Why did checkout fail? | The pool ran dry");
    app.update(code(KeyCode::Enter));
    typed(&mut app, "why");
    assert!(app.update(code(KeyCode::Tab)).is_empty());
    assert_on(&screen(&app, 120, 30), &["5 whys not saved: line 2"]);
    typed(&mut app, "? | Deploy 4471 halved it");
    let fx = app.update(code(KeyCode::Tab));
    assert_eq!(
        sent(&fx),
        [&Command::SetWhys {
            incident: r,
            whys: vec![
                warroom::model::postmortem::Why {
                    why: "Why did checkout fail?".into(),
                    because: "The pool ran dry".into()
                },
                warroom::model::postmortem::Why {
                    why: "why?".into(),
                    because: "Deploy 4471 halved it".into()
                },
            ],
        }]
    );
    deliver(&mut app, &mut h, "alice", &fx);

    // Sections nobody touched send nothing on the way to the action items.
    for _ in 0..4 {
        assert!(app.update(code(KeyCode::Tab)).is_empty());
    }
    assert_on(
        &screen(&app, 120, 30),
        &["No action items yet. a (or enter) adds one."],
    );
    app.update(key('a'));
    typed(&mut app, "Alert on pool saturation @bob due:2026-03-21");
    let fx = app.update(code(KeyCode::Enter));
    assert_eq!(
        sent(&fx),
        [&Command::AddActionItem {
            incident: r,
            text: "Alert on pool saturation".into(),
            owner: "bob".into(),
            due: chrono::NaiveDate::from_ymd_opt(2026, 3, 21),
        }]
    );
    let item = deliver(&mut app, &mut h, "alice", &fx)[0];
    app.update(code(KeyCode::Esc));
    assert_eq!(app.mode, Mode::Postmortem, "esc leaves the add line only");
    assert_on(
        &screen(&app, 120, 30),
        &[
            "▶ [ ] 1. Alert on pool saturation — bob · due 2026-03-21",
            "complete enough to close",
        ],
    );
    // Space marks the selected item done.
    let fx = app.update(key(' '));
    assert_eq!(
        sent(&fx),
        [&Command::UpdateActionItem {
            incident: r,
            item,
            text: None,
            owner: None,
            due: None,
            done: Some(true),
        }]
    );
    deliver(&mut app, &mut h, "bob", &fx);
    assert_on(
        &screen(&app, 120, 30),
        &["[x] 1. Alert on pool saturation", "(1/1 done)"],
    );

    // A part being edited when the editor closes is sent; the editor closes to the room.
    app.update(code(KeyCode::Tab));
    typed(&mut app, "Pool sizes are capacity.");
    let fx = app.update(code(KeyCode::Esc));
    assert_eq!(
        sent(&fx),
        [&Command::EditPostmortem {
            incident: r,
            section: warroom::model::PmSection::Summary,
            text: "Deploy 4471 halved the pool.\nCheckout failed for 27 minutes.Pool sizes are \
                   capacity."
                .into(),
        }]
    );
    assert_eq!((app.mode, app.screen), (Mode::Normal, Screen::Room(r)));

    // From the palette too: an action item, and a waiver.
    let fx = palette(&mut app, "action Review pool changes due:2026-03-28");
    assert!(
        fx.is_empty(),
        "the owner is named, never silently the author"
    );
    assert!(
        screen(&app, 100, 30).contains("needs an owner: @NAME (or @me)"),
        "{}",
        screen(&app, 100, 30)
    );
    app.update(code(KeyCode::Esc));
    let fx = palette(&mut app, "action Review pool changes @me due:2026-03-28");
    assert_eq!(
        sent(&fx),
        [&Command::AddActionItem {
            incident: r,
            text: "Review pool changes".into(),
            owner: "me".into(),
            due: chrono::NaiveDate::from_ymd_opt(2026, 3, 28),
        }]
    );
    let fx = palette(&mut app, "waive duplicate of INC-7");
    assert_eq!(
        sent(&fx),
        [&Command::WaivePostmortem {
            incident: r,
            reason: "duplicate of INC-7".into(),
        }]
    );
}

#[test]
fn the_postmortem_editor_keeps_unsent_text_and_follows_other_consoles() {
    let mut h = History::new();
    h.declare("priya", "Checkout returns 500s", 2, "payments");
    let mut app = live_app(&h, h.now);
    app.update(code(KeyCode::Enter));
    palette(&mut app, "postmortem");
    // A section that may not be emptied keeps the text; a bad 5-whys line too.
    app.update(code(KeyCode::Tab));
    typed(&mut app, "no pipe here");
    let fx = app.update(code(KeyCode::Esc));
    assert!(fx.is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert_on(
        &screen(&app, 120, 30),
        &["5 whys not saved: line 1", ":pm reopens your draft"],
    );
    assert_eq!(app.unsent_text(), ["unsaved post-mortem text in INC-1"]);
    // Meanwhile another console writes the lessons: the kept draft takes them in.
    h.run(
        "bob",
        Command::EditPostmortem {
            incident: IncidentRef(1),
            section: warroom::model::PmSection::Lessons,
            text: "Review pool sizes like capacity.".into(),
        },
    );
    app.update(Msg::Feed(Update::Event(h.events.last().unwrap().clone())));
    palette(&mut app, "pm");
    assert_eq!(app.mode, Mode::Postmortem);
    let ed = app.room(IncidentRef(1)).unwrap().pm.as_ref().unwrap();
    assert_eq!(ed.whys.lines(), ["no pipe here"]);
    assert_eq!(
        ed.texts[&warroom::model::PmSection::Lessons].lines(),
        ["Review pool sizes like capacity."]
    );
    // Ctrl-C asks before quitting with the draft unsent.
    app.update(ctrl('c'));
    assert_eq!(app.mode, Mode::ConfirmQuit);
    assert_on(
        &screen(&app, 120, 30),
        &["unsaved post-mortem text in INC-1"],
    );
    app.update(key('n'));
    // Pasted text lands in the part being edited; ctrl-s sends every changed part.
    palette(&mut app, "pm");
    app.update(Msg::Paste(" | and a reason".into()));
    let fx = app.update(ctrl('s'));
    assert!(matches!(sent(&fx)[..], [Command::SetWhys { .. }]));
    assert!(app.unsent_text().is_empty());
}

#[test]
fn export_from_the_palette_asks_the_loop_and_flashes_where_it_went() {
    let h = sample();
    let mut app = live_app(&h, t0() + Duration::minutes(5));
    app.update(code(KeyCode::Enter));
    let fx = palette(&mut app, "export");
    assert_eq!(
        fx,
        [Effect::Export {
            incident: IncidentRef(3),
            format: warroom::report::export::ExportFormat::Markdown,
            file: "INC-3-database-primary-unreachable.md".into(),
        }]
    );
    assert_on(
        &screen(&app, 120, 30),
        &["exporting INC-3 to INC-3-database-primary-unreachable.md"],
    );
    let fx = palette(&mut app, "export INC-1 json");
    assert_eq!(
        fx,
        [Effect::Export {
            incident: IncidentRef(1),
            format: warroom::report::export::ExportFormat::Json,
            file: "INC-1-checkout-returns-500s.json".into(),
        }]
    );
    app.update(Msg::Exported {
        incident: IncidentRef(1),
        result: Ok("/tmp/work/INC-1-checkout-returns-500s.json".into()),
    });
    assert_on(
        &screen(&app, 120, 30),
        &["INC-1 exported to /tmp/work/INC-1-checkout-returns-500s.json"],
    );
    app.update(Msg::Exported {
        incident: IncidentRef(1),
        result: Err("cannot write /ro/INC-1.md: Permission denied".into()),
    });
    assert_on(
        &screen(&app, 120, 30),
        &["export of INC-1 failed: cannot write /ro/INC-1.md: Permission denied"],
    );
    assert!(palette(&mut app, "export xml").is_empty());
    assert_on(&screen(&app, 120, 30), &["'xml' is not an export format"]);
}

#[test]
fn the_record_overlays_draw_in_tiny_terminals() {
    let mut h = busy_room();
    h.run(
        "bob",
        Command::AddActionItem {
            incident: IncidentRef(1),
            text: "Alert on pool saturation before checkout fails for anyone".into(),
            owner: "bob".into(),
            due: chrono::NaiveDate::from_ymd_opt(2026, 3, 28),
        },
    );
    let mut app = live_app(&h, h.now);
    app.update(code(KeyCode::Enter));
    let sizes = [(1, 1), (10, 4), (20, 6), (40, 10), (80, 24)];
    let draw_all = |app: &mut App| {
        for (w, ht) in sizes {
            app.update(Msg::Resize(w, ht));
            draw(app, &test_theme(), w, ht);
        }
        app.update(Msg::Resize(100, 30));
    };
    app.update(key('/'));
    typed(&mut app, "pool");
    draw_all(&mut app);
    app.update(code(KeyCode::Enter));
    app.update(key('v'));
    draw_all(&mut app);
    app.update(code(KeyCode::Esc));
    palette(
        &mut app,
        "update Checkout fails for some customers and more words to wrap",
    );
    draw_all(&mut app);
    app.update(code(KeyCode::Esc));
    palette(&mut app, "pm");
    for _ in 0..7 {
        typed(&mut app, "why | because");
        draw_all(&mut app);
        app.update(code(KeyCode::Tab));
    }
    assert_eq!(app.mode, Mode::Postmortem);
}

// ---- restricted (need-to-know) incidents ------------------------------------------------

use warroom::model::access::{Viewer, withheld};

const ANA: Viewer = Viewer {
    name: "ana",
    sees_all: false,
};

/// A public incident, one restricted incident ana is a member of (with carol), and two she
/// is not; `root` is an admin.
fn need_to_know() -> History {
    let mut h = History::new();
    h.declare("priya", "Checkout returns 500s", 2, "payments");
    h.run(
        "ana",
        Command::Declare {
            title: "Leaked credentials in bucket".into(),
            severity: Severity::Sev1,
            service: Some("storage".into()),
            restricted: true,
            detected_by: None,
        },
    );
    h.run(
        "root",
        Command::AddMember {
            incident: IncidentRef(2),
            person: "carol".into(),
        },
    );
    for title in ["Payroll export exposed", "Laptop with HR files stolen"] {
        h.run(
            "root",
            Command::Declare {
                title: title.into(),
                severity: Severity::Sev2,
                service: None,
                restricted: true,
                detected_by: None,
            },
        );
    }
    h
}

/// A console for `v`, given what the feed gives `v`.
fn app_for(h: &History, v: Viewer<'_>, now: DateTime<Utc>) -> App {
    let mut app = App::new(
        "ws://127.0.0.1:7654/feed".into(),
        Keymap::default(),
        now,
        FixedOffset::east_opt(0).unwrap(),
        "s".into(),
    );
    app.update(Msg::Resize(160, 48));
    app.update(Msg::Feed(Update::Welcome {
        name: v.name.into(),
        head_seq: h.state.seq,
        mode: warroom::protocol::SyncMode::Snapshot,
        recent_secs: 7 * 86_400,
    }));
    app.update(Msg::Feed(Update::Snapshot(h.state.view_for(v))));
    app.update(Msg::Feed(Update::Synced(h.state.seq)));
    app.update(Msg::Feed(Update::Conn(ConnState::Live)));
    app
}

/// Runs `cmd` on the feed and gives `v` what the server would: each event, or its
/// `withheld` stand-in, or (when `v` was just let in) a fresh snapshot.
fn feed_as(app: &mut App, h: &mut History, who: &str, cmd: Command, v: Viewer<'_>) {
    let before = h.events.len();
    h.run(who, cmd);
    for e in h.events[before..].iter().cloned() {
        let delivery = warroom::model::access::audience(&h.state, &e).map(|a| a.delivery(v));
        use warroom::model::access::Delivery;
        let update = match delivery {
            None | Some(Delivery::Event) => Update::Event(e),
            Some(Delivery::Withheld) => Update::Event(withheld(&e)),
            Some(Delivery::Snapshot) => Update::Snapshot(h.state.view_for(v)),
        };
        app.update(Msg::Feed(update));
    }
}

fn restricted_theme() -> Theme {
    let mut t = test_theme();
    t.restricted = Style::default().fg(Color::Magenta);
    t
}

#[test]
fn the_board_marks_restricted_incidents_and_names_only_the_references_withheld() {
    let h = need_to_know();
    let app = app_for(&h, ANA, t0() + Duration::minutes(2));
    assert_eq!(
        app.replica.state.withheld.iter().collect::<Vec<_>>(),
        [&IncidentRef(3), &IncidentRef(4)]
    );
    for (w, ht, mark) in [(160, 48, "RESTRICTED"), (80, 24, "RSTR")] {
        let term = draw(&app, &restricted_theme(), w, ht);
        let lines = text(&term);
        let all = lines.join("\n");
        for secret in ["Payroll", "Laptop", "HR files"] {
            assert!(!all.contains(secret), "{w}x{ht} shows '{secret}':\n{all}");
        }
        let row = |r: &str| {
            lines
                .iter()
                .position(|l| l.contains(&format!("{r} ")) && l.contains(" SEV"))
                .unwrap_or_else(|| panic!("no row for {r} at {w}x{ht}:\n{all}"))
        };
        // Only the incidents ana may see are rows; the others are one line under them.
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.contains("INC-") && l.contains(" SEV"))
                .count(),
            2,
            "{all}"
        );
        let (r1, r2) = (row("INC-1"), row("INC-2"));
        assert!(
            lines[r2].contains(&format!("{mark} Leaked")),
            "{}",
            lines[r2]
        );
        assert!(!lines[r1].contains(mark), "{}", lines[r1]);
        let (_, wy) = find(
            &lines,
            "2 restricted incidents you are not a member of: INC-3, INC-4",
        );
        assert!(wy > r1.max(r2) as u16, "{all}");
        if w == 160 {
            assert!(
                lines[wy as usize].contains("(ask an admin to add you)"),
                "{all}"
            );
        }
        // The columns stay aligned: the marker starts where the other titles start.
        let header = lines.iter().position(|l| l.contains("TITLE")).unwrap();
        let col =
            |y: usize, needle: &str| lines[y][..lines[y].find(needle).unwrap()].chars().count();
        assert_eq!(col(header, "TITLE"), col(r2, mark), "{all}");
        assert_eq!(col(r1, "Checkout"), col(r2, mark), "{all}");
        assert_eq!(col(r1, "SEV2"), col(r2, "SEV1"), "{all}");
        assert_eq!(col(r1, "no IC"), col(r2, "no IC"), "{all}");
        // The marker and the withheld count are drawn in the restricted slot's colour.
        let buf = term.backend().buffer();
        let (x, y) = find(&lines, mark);
        assert_eq!(buf[(x, y)].fg, Color::Magenta);
        assert_eq!(buf[(1, wy)].fg, Color::Magenta);
    }
}

#[test]
fn a_withheld_incident_cannot_be_opened_and_says_why() {
    let h = need_to_know();
    let mut app = app_for(&h, ANA, t0() + Duration::minutes(2));
    // Down as far as it goes: only the two visible incidents are ever selected (INC-2, a
    // SEV1, first).
    assert_eq!(app.selected_incident(), Some(IncidentRef(2)));
    for _ in 0..5 {
        app.update(key('j'));
    }
    assert_eq!(app.selected_incident(), Some(IncidentRef(1)));
    let fx = palette(&mut app, "open INC-3");
    assert!(fx.is_empty(), "{fx:?}");
    assert_eq!(app.screen, Screen::Board);
    let flash = app.flash.as_ref().unwrap().text.clone();
    assert!(
        flash.contains("INC-3 is restricted (need to know) and you are not a member")
            && flash.contains("ask an admin"),
        "{flash}"
    );
    // Acting on it goes to the feed, whose refusal is shown as it is.
    let fx = palette(&mut app, "note INC-3 what is this");
    let [Effect::Send { id, command }] = &fx[..] else {
        panic!("{fx:?}")
    };
    // (The feed's words; the console says it is a refusal.)
    let message = "INC-3 is restricted (need to know): only its members and admins may see it or act on it; ask an admin to add you";
    app.update(Msg::Feed(Update::Answer {
        id: id.clone(),
        command: command.clone(),
        answer: Answer::Error {
            code: warroom::protocol::ErrorCode::Forbidden,
            message: message.into(),
        },
    }));
    let lines = text(&draw(&app, &restricted_theme(), 200, 48));
    find(&lines, "not allowed: INC-3 is restricted (need to know)");
}

#[test]
fn the_room_of_a_restricted_incident_shows_its_members_and_the_breach_deadline() {
    let h = need_to_know();
    let mut app = app_for(&h, ANA, t0() + Duration::minutes(2));
    let fx = app.update(code(KeyCode::Enter));
    assert_eq!(fx, [Effect::Focus(Some(IncidentRef(2)))]);
    let term = draw(&app, &restricted_theme(), 160, 48);
    let lines = text(&term);
    let all = lines.join("\n");
    assert!(
        lines[0].contains("INC-2")
            && lines[0].contains("RESTRICTED")
            && lines[0].contains("Leaked credentials in bucket"),
        "{all}"
    );
    // Detected at declaration (02:00 Tuesday): the notice is due 72 hours later.
    let (_, y) = find(
        &lines,
        "RESTRICTED  need to know · breach notice (GDPR 72 h) due Fri 02:00, in 71:58:00 · members: ana, carol",
    );
    assert_eq!(y, 3, "the line under the header:\n{all}");
    let buf = term.backend().buffer();
    let (x, y) = find(&lines, "breach notice");
    assert_eq!(buf[(x, y)].fg, Color::Reset, "far off: not loud");
    // The timeline says who restricted it and who was added.
    assert_on(
        &all,
        &["(restricted: need to know)", "carol added to the members"],
    );
    // In an 80-column room the deadline comes before the members.
    let narrow = screen(&app, 80, 24);
    assert_on(
        &narrow,
        &["RESTRICTED  need to know · breach notice (GDPR 72 h) due Fri 02:00"],
    );

    // The clock runs on: under a day left it turns due, past the deadline it is loud.
    app.update(Msg::Tick(t0() + Duration::hours(50)));
    let term = draw(&app, &restricted_theme(), 160, 48);
    let lines = text(&term);
    let (x, y) = find(
        &lines,
        "breach notice (GDPR 72 h) due Fri 02:00, in 22:00:00",
    );
    assert_eq!(term.backend().buffer()[(x, y)].fg, Color::Yellow);
    app.update(Msg::Tick(t0() + Duration::hours(73) + Duration::minutes(5)));
    let term = draw(&app, &restricted_theme(), 160, 48);
    let lines = text(&term);
    let (x, y) = find(
        &lines,
        "BREACH NOTICE OVERDUE 1:05:00 (GDPR 72 h, was due Fri 02:00)",
    );
    let cell = &term.backend().buffer()[(x, y)];
    assert_eq!(cell.fg, Color::Red);
    assert!(cell.modifier.contains(Modifier::BOLD));

    // `:member` lists the members; adding one is a command for the feed (admins only).
    palette(&mut app, "member");
    let flash = app.flash.as_ref().unwrap().text.clone();
    assert!(
        flash.contains("INC-2 is restricted · need to know · members: ana, carol"),
        "{flash}"
    );
    let fx = palette(&mut app, "member add bob");
    assert_eq!(
        sent(&fx),
        [&Command::AddMember {
            incident: IncidentRef(2),
            person: "bob".into()
        }]
    );
}

#[test]
fn declare_restricted_and_restrict_from_the_palette() {
    let mut h = need_to_know();
    let mut app = app_for(&h, ANA, t0());
    let fx = palette(
        &mut app,
        "declare --restricted sev1 Leaked tokens in CI logs",
    );
    assert_eq!(
        sent(&fx),
        [&Command::Declare {
            title: "Leaked tokens in CI logs".into(),
            severity: Severity::Sev1,
            service: None,
            restricted: true,
            detected_by: None,
        }]
    );
    // `:restrict` in INC-1's room makes it need-to-know; the answer says what that means.
    app.update(code(KeyCode::Esc));
    app.update(key('j'));
    app.update(code(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Room(IncidentRef(1)));
    let fx = palette(&mut app, "restrict");
    assert_eq!(
        sent(&fx),
        [&Command::Restrict {
            incident: IncidentRef(1)
        }]
    );
    deliver(&mut app, &mut h, "ana", &fx);
    let flash = app.flash.as_ref().unwrap().text.clone();
    assert!(
        flash.contains("INC-1 is restricted: only its members and admins see it"),
        "{flash}"
    );
    let all = screen(&app, 160, 48);
    assert_on(&all, &["RESTRICTED  need to know", "members: ana"]);
}

#[test]
fn an_open_room_withheld_from_its_reader_goes_back_to_the_board_and_keeps_the_draft() {
    let mut h = need_to_know();
    let mut app = app_for(&h, ANA, t0() + Duration::minutes(2));
    app.update(code(KeyCode::Enter));
    app.update(key('i'));
    typed(&mut app, "rotating the keys now");
    assert_eq!(
        (app.screen, app.mode),
        (Screen::Room(IncidentRef(2)), Mode::Scribe)
    );

    // An admin takes ana off the members: her console gets a withheld stand-in.
    let mut fx = Vec::new();
    let before = h.events.len();
    h.run(
        "root",
        Command::RemoveMember {
            incident: IncidentRef(2),
            person: "ana".into(),
        },
    );
    for e in &h.events[before..] {
        let e = match warroom::model::access::audience(&h.state, e).map(|a| a.delivery(ANA)) {
            Some(warroom::model::access::Delivery::Withheld) => withheld(e),
            other => panic!("{other:?}"),
        };
        fx.extend(app.update(Msg::Feed(Update::Event(e))));
    }
    assert_eq!(fx, [Effect::Focus(None)]);
    assert_eq!((app.screen, app.mode), (Screen::Board, Mode::Normal));
    let flash = app.flash.as_ref().unwrap().text.clone();
    assert!(
        flash.contains("INC-2 is restricted (need to know) and you are not a member")
            && flash.contains("back to the board"),
        "{flash}"
    );
    let all = screen(&app, 160, 48);
    assert!(!all.contains("Leaked"), "{all}");
    assert_on(
        &all,
        &["3 restricted incidents you are not a member of: INC-2, INC-3, INC-4"],
    );
    // What she typed is still hers (and quitting asks about it).
    assert_eq!(app.unsent_text(), ["the scribe draft in INC-2".to_string()]);

    // She starts typing a command; meanwhile an admin adds her back, and the feed sends
    // her a fresh snapshot mid-stream. The line being typed stays, and so does the draft.
    app.update(key(':'));
    typed(&mut app, "note INC-1 che");
    feed_as(
        &mut app,
        &mut h,
        "root",
        Command::AddMember {
            incident: IncidentRef(2),
            person: "ana".into(),
        },
        ANA,
    );
    assert_eq!(app.mode, Mode::Palette);
    assert_eq!(app.palette.input, "note INC-1 che");
    let flash = app.flash.as_ref().unwrap().text.clone();
    assert!(
        flash.contains("you were added to the members of INC-2"),
        "{flash}"
    );
    assert!(app.replica.state.incident(IncidentRef(2)).is_some());
    let all = screen(&app, 160, 48);
    assert_on(
        &all,
        &[
            "RESTRICTED Leaked credential",
            "2 restricted incidents you are not a member of: INC-3, INC-4",
        ],
    );
    app.update(code(KeyCode::Esc));
    palette(&mut app, "open INC-2");
    assert_eq!(
        app.room(IncidentRef(2)).unwrap().draft.lines(),
        ["rotating the keys now"]
    );
    assert_on(&screen(&app, 160, 48), &["ana added to the members"]);

    // A snapshot while she writes in a room it still holds changes neither.
    app.update(key('i'));
    typed(&mut app, " and the bucket policy");
    app.update(Msg::Feed(Update::Snapshot(h.state.view_for(ANA))));
    assert_eq!(
        (app.screen, app.mode),
        (Screen::Room(IncidentRef(2)), Mode::Scribe)
    );
    assert_eq!(
        app.room(IncidentRef(2)).unwrap().draft.lines(),
        ["rotating the keys now and the bucket policy"]
    );
}

#[test]
fn the_withheld_line_stays_on_a_board_that_scrolls() {
    let mut h = need_to_know();
    for n in 0..30 {
        h.declare("bot", &format!("Noise {n}"), 3, "web");
    }
    let mut app = app_for(&h, ANA, t0());
    app.update(key('G'));
    for (w, ht) in [(80, 24), (160, 48)] {
        let all = screen(&app, w, ht);
        assert_on(
            &all,
            &[
                "2 restricted incidents you are not a member of: INC-3, INC-4",
                "▶ INC-34",
            ],
        );
    }
}

// ---- pastes, refusals and the palette's history ----

fn paste(app: &mut App, text: &str) -> Vec<Effect> {
    app.update(Msg::Paste(text.into()))
}

/// The screen's rows trimmed and joined with spaces: a message wrapped over several rows
/// reads as one line again.
fn unwrapped(app: &App, w: u16, h: u16) -> String {
    let rows = text(&draw(app, &test_theme(), w, h));
    rows.iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// No cell of the drawn screen holds a control character (which would move the real
/// terminal's cursor and write over the screen).
fn assert_no_control_characters(app: &App, w: u16, h: u16) {
    let term = draw(app, &test_theme(), w, h);
    let buf = term.backend().buffer();
    for y in 0..h {
        for x in 0..w {
            let sym = buf[(x, y)].symbol();
            assert!(
                !sym.chars().any(char::is_control),
                "control character {sym:?} at {x},{y}:\n{}",
                text(&term).join("\n")
            );
        }
    }
}

fn refuse(app: &mut App, fx: &[Effect], code: warroom::protocol::ErrorCode, message: &str) {
    let [Effect::Send { id, command }] = fx else {
        panic!("{fx:?}")
    };
    app.update(Msg::Feed(Update::Answer {
        id: id.clone(),
        command: command.clone(),
        answer: Answer::Error {
            code,
            message: message.into(),
        },
    }));
}

/// A room with an incident, the scribe pane focused, at 80x24.
fn scribing() -> (History, App) {
    let mut h = History::new();
    h.declare("priya", "Checkout returns 500s", 2, "payments");
    let mut app = live_app(&h, t0() + Duration::minutes(5));
    app.update(Msg::Resize(80, 24));
    app.update(code(KeyCode::Enter));
    app.update(key('i'));
    assert_eq!(
        (app.screen, app.mode),
        (Screen::Room(IncidentRef(1)), Mode::Scribe)
    );
    (h, app)
}

#[test]
fn a_paste_with_cr_line_breaks_onto_a_draft_records_one_entry_with_its_lines() {
    let (mut h, mut app) = scribing();
    let r = IncidentRef(1);
    typed(&mut app, "pool errors since deploy: ");
    // Terminals send a paste's line breaks as CR; a log brings escapes and bells too.
    let fx = paste(
        &mut app,
        "ERROR pool exhausted\rWARN retrying\r\n\tat db.rs:42\x1b[31m red\x07",
    );
    assert!(fx.is_empty(), "a paste is text, never keys: {fx:?}");
    assert_eq!(
        app.room(r).unwrap().draft.lines(),
        [
            "pool errors since deploy: ERROR pool exhausted",
            "WARN retrying",
            "\tat db.rs:42\u{FFFD}[31m red\u{FFFD}",
        ]
    );
    // Nothing raw reaches the terminal, and the pane's border is whole.
    assert_no_control_characters(&app, 80, 24);
    let s = screen(&app, 80, 24);
    assert_on(&s, &["WARN retrying", "�[31m red�"]);
    // Enter records one entry with the line breaks, which the feed accepts.
    let fx = app.update(code(KeyCode::Enter));
    let text = "pool errors since deploy: ERROR pool exhausted\nWARN retrying\n\tat db.rs:42\
                \u{FFFD}[31m red\u{FFFD}";
    assert_eq!(
        sent(&fx),
        [&Command::AddEntry {
            incident: r,
            entry_kind: EntryKind::Note,
            text: text.into(),
            occurred_at: None,
            next_update_secs: None,
            public: false,
            briefing: None,
        }]
    );
    h.now = app.now;
    deliver(&mut app, &mut h, "alice", &fx);
    let inc = app.replica.state.incident(r).unwrap();
    assert_eq!(inc.timeline().last().unwrap().text, text);
    assert!(app.room(r).unwrap().draft.is_empty());
    assert_no_control_characters(&app, 80, 24);
    assert_on(
        &screen(&app, 160, 30),
        &["ERROR pool exhausted ⏎ WARN retrying ⏎  at db.rs:42�[31m red�"],
    );
}

#[test]
fn a_paste_over_the_entry_limit_is_refused_with_the_limit_and_the_draft_kept() {
    let (_, mut app) = scribing();
    let r = IncidentRef(1);
    typed(&mut app, "d: the log");
    // A megabyte of log.
    let log = "2026-03-10T02:00:00Z ERROR pool exhausted\n".repeat(25_000);
    let log = &log[..1_048_576];
    assert!(paste(&mut app, log).is_empty());
    assert_eq!(app.room(r).unwrap().draft.lines(), ["d: the log"]);
    let all = unwrapped(&app, 80, 24);
    assert!(
        all.contains(
            "paste too long: 1,048,576 characters; an entry holds at most 4,000 · nothing was \
             pasted, what you wrote is as it was"
        ),
        "{all}"
    );
    // One that fits alone but not with what is written is refused the same way; the
    // prefix does not count (the entry's text is what the feed limits).
    let refused = "x".repeat(3995);
    paste(&mut app, &refused);
    assert_eq!(app.room(r).unwrap().draft.lines(), ["d: the log"]);
    assert!(
        unwrapped(&app, 80, 24).contains(
            "paste too long: 3,995 characters onto 7 already written; an entry holds at most 4,000"
        ),
        "{}",
        unwrapped(&app, 80, 24)
    );
    // Up to the limit, it is taken.
    paste(&mut app, &"y".repeat(3993));
    assert_eq!(app.room(r).unwrap().draft.lines()[0].chars().count(), 4003);
    let fx = app.update(code(KeyCode::Enter));
    assert!(
        matches!(&sent(&fx)[..], [Command::AddEntry { text, entry_kind: EntryKind::Decision, .. }] if text.chars().count() == 4000),
        "{fx:?}"
    );
    // Typed past the limit, Enter says why and keeps the draft: nothing leaves the pane.
    assert_eq!(app.mode, Mode::Scribe);
    paste(&mut app, &"z".repeat(4000));
    typed(&mut app, "!");
    assert!(app.update(code(KeyCode::Enter)).is_empty());
    assert_eq!(app.room(r).unwrap().draft.lines()[0].chars().count(), 4001);
    let all = unwrapped(&app, 80, 24);
    assert!(
        all.contains(
            "not recorded: entry text is 4001 characters long; the limit is 4000 · your draft \
             is as it was"
        ),
        "{all}"
    );
}

#[test]
fn a_refused_entry_comes_back_to_the_draft_and_the_reason_is_readable_at_80x24() {
    let (_, mut app) = scribing();
    let r = IncidentRef(1);
    typed(&mut app, "@02:03 h: ");
    paste(&mut app, "connection pool\rexhausted");
    let fx = app.update(code(KeyCode::Enter));
    assert!(app.room(r).unwrap().draft.is_empty());
    // Meanwhile the scribe starts the next entry, and the connection drops and comes back
    // (the entry waited in the outbox and goes again).
    typed(&mut app, "next thought");
    app.update(Msg::Feed(Update::Conn(ConnState::Reconnecting {
        attempt: 1,
        retry_at: tokio::time::Instant::now(),
        reason: "connection lost".into(),
        queued: 1,
    })));
    app.update(Msg::Feed(Update::Conn(ConnState::Live)));
    // The feed refuses it for a reason the console cannot know (a viewer's token).
    let reason = "not allowed: viewers can read but not change incidents (ask an admin for a \
                  responder token)";
    refuse(
        &mut app,
        &fx,
        warroom::protocol::ErrorCode::Forbidden,
        reason,
    );
    // The refused text is back as it was typed, before what was typed since.
    assert_eq!(
        app.room(r).unwrap().draft.lines(),
        ["@02:03 h: connection pool", "exhausted", "next thought"]
    );
    let all = unwrapped(&app, 80, 24);
    assert!(
        all.contains(&format!("{reason} (INC-1: connection pool"))
            && all.contains("· your text is back in the scribe pane"),
        "{all}"
    );
    assert_no_control_characters(&app, 80, 24);
    // The message has rows of its own; the scribe pane and the status line stay.
    let rows = text(&draw(&app, &test_theme(), 80, 24));
    assert!(rows[23].contains("● live"), "{}", rows.join("\n"));
    assert!(
        rows.iter().any(|l| l.contains("next thought")),
        "{}",
        rows.join("\n")
    );

    // An entry queued on disk by an earlier run and refused now comes back too, rebuilt
    // from the command (its time and kind as prefixes): here one from a console that sent
    // a paste's CRs as they were.
    app.update(Msg::Feed(Update::Answer {
        id: "earlier-run-7".into(),
        command: Command::AddEntry {
            incident: r,
            entry_kind: EntryKind::Decision,
            text: "roll back\rnow".into(),
            occurred_at: Some(t0() + Duration::minutes(4)),
            next_update_secs: None,
            public: false,
            briefing: None,
        },
        answer: Answer::Error {
            code: warroom::protocol::ErrorCode::Invalid,
            message: "entry text contains a control character (U+000D)".into(),
        },
    }));
    assert_eq!(
        app.room(r).unwrap().draft.lines(),
        [
            "@02:04 d: roll back\rnow",
            "@02:03 h: connection pool",
            "exhausted",
            "next thought"
        ]
    );
    let all = unwrapped(&app, 80, 24);
    assert!(
        all.contains(
            "refused (a command queued earlier): entry text contains a control character \
             (U+000D) · your text is back in the scribe pane"
        ),
        "{all}"
    );
    assert_no_control_characters(&app, 80, 24);
}

#[test]
fn pastes_into_one_line_fields_become_one_line() {
    let mut h = busy_room();
    h.now += Duration::minutes(5);
    let mut app = live_app(&h, h.now);
    // The palette: line breaks are spaces; a CR never runs the line.
    app.update(key(':'));
    let fx = paste(&mut app, "note pool\rexhausted\r\n\tagain\x1b");
    assert!(fx.is_empty());
    assert_eq!(app.mode, Mode::Palette);
    assert_eq!(app.palette.input, "note pool exhausted  again\u{FFFD}");
    assert_no_control_characters(&app, 80, 24);
    app.update(code(KeyCode::Esc));
    // The board's filter.
    app.update(key('/'));
    assert_eq!(app.mode, Mode::Filter);
    paste(&mut app, "Checkout\r\n");
    assert_eq!(app.board.filter, "Checkout ");
    app.update(code(KeyCode::Enter));
    app.update(code(KeyCode::Esc));
    // The room's search line.
    app.update(code(KeyCode::Enter));
    app.update(key('/'));
    assert_eq!(app.mode, Mode::Search);
    paste(&mut app, "pool\rsize");
    assert_eq!(app.room(IncidentRef(1)).unwrap().search, "pool size");
    app.update(code(KeyCode::Esc));
    // A status update's fields.
    palette(&mut app, "update");
    assert_eq!(app.mode, Mode::UpdateForm);
    paste(&mut app, "Checkout fails\r\nfor some\tcustomers");
    let form = app.room(IncidentRef(1)).unwrap().update.as_ref().unwrap();
    assert_eq!(
        form.fields[0].lines(),
        ["Checkout fails for some customers"]
    );
    let err = paste(&mut app, &"x".repeat(5000));
    assert!(err.is_empty());
    assert_on(
        &unwrapped(&app, 120, 40),
        &["paste too long: 5,000 characters; a status update holds at most 4,000"],
    );
    // Three fields that fit one by one but not together: refused before the form closes.
    paste(&mut app, &" x".repeat(1900));
    app.update(code(KeyCode::Tab));
    paste(&mut app, &"y".repeat(3000));
    assert!(app.update(ctrl('s')).is_empty());
    assert_eq!(app.mode, Mode::UpdateForm);
    assert_on(
        &unwrapped(&app, 120, 40),
        &[
            "not posted: the status update is",
            "the limit is 4000 · shorten a field",
        ],
    );
}

#[test]
fn pastes_into_the_postmortem_keep_lines_in_sections_and_the_add_line_is_one_line() {
    let mut h = History::new();
    h.declare("priya", "Checkout returns 500s", 2, "payments");
    h.run(
        "priya",
        Command::Resolve {
            incident: IncidentRef(1),
        },
    );
    h.now += Duration::minutes(30);
    let mut app = live_app(&h, h.now);
    let r = IncidentRef(1);
    palette(&mut app, "open INC-1");
    palette(&mut app, "pm");
    assert_eq!(app.mode, Mode::Postmortem);
    paste(
        &mut app,
        "Deploy 4471 halved the pool.\rCheckout failed for 20 min.",
    );
    let ed = app.room(r).unwrap().pm.as_ref().unwrap();
    assert_eq!(
        ed.texts[&warroom::model::PmSection::Summary].lines(),
        [
            "Deploy 4471 halved the pool.",
            "Checkout failed for 20 min."
        ]
    );
    assert_no_control_characters(&app, 80, 24);
    // Tab sends the summary with its line break, which the feed takes.
    let fx = app.update(code(KeyCode::Tab));
    assert!(
        matches!(&sent(&fx)[..], [Command::EditPostmortem { text, .. }] if text == "Deploy 4471 halved the pool.\nCheckout failed for 20 min."),
        "{fx:?}"
    );
    deliver(&mut app, &mut h, "alice", &fx);
    // The 5 whys: one link a line.
    paste(
        &mut app,
        "Why did checkout fail? | The pool ran out\r\nWhy? | Deploy 4471 halved it\r",
    );
    let ed = app.room(r).unwrap().pm.as_ref().unwrap();
    assert_eq!(
        ed.whys.lines(),
        [
            "Why did checkout fail? | The pool ran out",
            "Why? | Deploy 4471 halved it",
            ""
        ]
    );
    // Action items: the add line takes a paste on one line.
    for _ in 0..5 {
        let fx = app.update(code(KeyCode::Tab));
        deliver(&mut app, &mut h, "alice", &fx);
    }
    paste(&mut app, "Alert on pool\rsaturation @bob\r\ndue:2026-03-21");
    let ed = app.room(r).unwrap().pm.as_ref().unwrap();
    assert!(ed.adding);
    assert_eq!(
        ed.new_item.lines(),
        ["Alert on pool saturation @bob due:2026-03-21"]
    );
    // Refused by the feed, the item comes back to the add line.
    let fx = app.update(code(KeyCode::Enter));
    assert!(
        app.room(r)
            .unwrap()
            .pm
            .as_ref()
            .unwrap()
            .new_item
            .is_empty()
    );
    refuse(
        &mut app,
        &fx,
        warroom::protocol::ErrorCode::Forbidden,
        "not allowed: viewers can read but not change incidents",
    );
    let ed = app.room(r).unwrap().pm.as_ref().unwrap();
    assert_eq!(
        ed.new_item.lines(),
        ["Alert on pool saturation @bob due:2026-03-21"]
    );
    assert_on(
        &unwrapped(&app, 80, 24),
        &["your text is back in the post-mortem's add line"],
    );
}

#[test]
fn the_palette_keeps_a_history_and_a_refused_command_is_in_it() {
    let h = sample();
    let mut app = live_app(&h, t0() + Duration::minutes(3));
    palette(&mut app, "open INC-1");
    let fx = palette(&mut app, "sev 1");
    assert_eq!(sent(&fx).len(), 1);
    palette(&mut app, "filter kind:decision");
    // Up (or ctrl-p) walks back from the newest; what was being typed comes back at the end.
    app.update(key(':'));
    typed(&mut app, "ro");
    app.update(code(KeyCode::Up));
    assert_eq!(app.palette.input, "filter kind:decision");
    app.update(ctrl('p'));
    assert_eq!(app.palette.input, "sev 1");
    app.update(code(KeyCode::Up));
    assert_eq!(app.palette.input, "open INC-1");
    app.update(code(KeyCode::Up));
    assert_eq!(app.palette.input, "open INC-1", "the oldest stays");
    app.update(code(KeyCode::Down));
    assert_eq!(app.palette.input, "sev 1");
    app.update(ctrl('n'));
    app.update(ctrl('n'));
    assert_eq!(app.palette.input, "ro");
    // Edited, a history line is run as edited; it becomes the newest, once.
    app.update(code(KeyCode::Up));
    app.update(code(KeyCode::Up));
    app.update(code(KeyCode::Backspace));
    typed(&mut app, "2");
    assert_eq!(app.palette.input, "sev 2");
    let fx = app.update(code(KeyCode::Enter));
    assert_eq!(
        app.palette.history,
        ["open INC-1", "sev 1", "filter kind:decision", "sev 2"]
    );
    // Completion: tab takes the highlighted suggestion, shift-tab highlights the next.
    app.update(key(':'));
    typed(&mut app, "ac");
    assert_eq!(
        app.palette.completions,
        ["ack ", "action ", "accept-handoff "]
    );
    app.update(code(KeyCode::BackTab));
    app.update(code(KeyCode::Tab));
    assert_eq!(app.palette.input, "action ");
    app.update(code(KeyCode::Esc));

    // The feed refuses `sev 2`: the message says how to get the line back, and ↑ does.
    refuse(
        &mut app,
        &fx,
        warroom::protocol::ErrorCode::Forbidden,
        "not allowed: viewers can read but not change incidents (ask an admin for a responder \
         token)",
    );
    let all = unwrapped(&app, 80, 24);
    assert!(
        all.contains(
            "not allowed: viewers can read but not change incidents (ask an admin for a \
             responder token) (INC-1: sev 2) · : then ↑ brings the command back"
        ),
        "{all}"
    );
    app.update(key(':'));
    app.update(code(KeyCode::Up));
    assert_eq!(app.palette.input, "sev 2");
    // A line the console can refuse itself stays in the palette, the reason above it.
    app.update(ctrl('u'));
    typed(&mut app, "note ");
    paste(&mut app, &"w".repeat(4001));
    let fx = app.update(code(KeyCode::Enter));
    assert!(fx.is_empty());
    assert_eq!(app.mode, Mode::Palette);
    assert_eq!(app.palette.input.chars().count(), 4006);
    let all = unwrapped(&app, 80, 24);
    assert!(
        all.contains("entry text is 4001 characters long; the limit is 4000"),
        "{all}"
    );
    assert!(all.contains("…wwww"), "the line shows its end: {all}");
}

#[test]
fn a_paste_where_nothing_takes_text_says_so_and_presses_no_keys() {
    let h = sample();
    let mut app = live_app(&h, t0() + Duration::minutes(3));
    // `q` would quit and `a` acknowledge if the paste were read as keys.
    let fx = paste(&mut app, "qa\r");
    assert!(fx.is_empty() && !app.quitting, "{fx:?}");
    assert_eq!(app.mode, Mode::Normal);
    assert_on(
        &unwrapped(&app, 100, 30),
        &["nothing here takes text: : opens the palette; then paste"],
    );
}

// ---- the live work and the history: rooms in pages, the archive, eviction ----------------

/// What the feed sends a console for `h`: every incident as a summary with its newest 20
/// entries (and the key ones), the older ones counted in `elided`.
fn board_of(h: &History) -> State {
    let mut s = h.state.clone();
    for inc in s.incidents.values_mut() {
        *inc = inc.summary(20);
    }
    s.partial = true;
    s
}

/// A console that joined `h`'s feed and was sent its board.
fn board_app(h: &History, now: DateTime<Utc>) -> App {
    let mut app = live_app(&History::new(), now);
    app.update(Msg::Feed(Update::Snapshot(board_of(h))));
    app.update(Msg::Feed(Update::Synced(h.state.seq)));
    app
}

/// The query in `fx` (exactly one), with its id.
fn asked(fx: &[Effect]) -> (String, Query) {
    let qs: Vec<(String, Query)> = fx
        .iter()
        .filter_map(|f| match f {
            Effect::Query { id, query } => Some((id.clone(), query.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(qs.len(), 1, "expected one query in {fx:?}");
    qs.into_iter().next().unwrap()
}

fn no_query(fx: &[Effect]) {
    assert!(
        !fx.iter().any(|f| matches!(f, Effect::Query { .. })),
        "{fx:?}"
    );
}

/// A long incident: declared, a pinned decision early, then `n` notes a minute apart.
fn long_incident(n: usize) -> History {
    let mut h = History::new();
    h.declare("bot", "Checkout down", 1, "payments");
    let d = h.note("lee", 1, EntryKind::Decision, "freeze deploys");
    h.run(
        "lee",
        Command::PinEntry {
            incident: IncidentRef(1),
            entry: d,
            pinned: true,
        },
    );
    for i in 0..n {
        h.now += Duration::minutes(1);
        h.note("lee", 1, EntryKind::Note, &format!("note {i}"));
    }
    h
}

#[test]
fn a_room_on_a_long_history_opens_with_its_newest_entries_and_pages_back_as_the_scribe_scrolls() {
    let h = long_incident(300);
    let whole = h.state.incident(IncidentRef(1)).unwrap().clone();
    assert_eq!(whole.entries.len(), 302);
    let mut app = board_app(&h, h.now);
    let held = app.replica.state.incident(IncidentRef(1)).unwrap().clone();
    assert!(
        held.elided > 0 && held.entries.len() < 30,
        "{}",
        held.elided
    );

    // Entering the room asks the feed; the board's summary shows until the answer.
    let fx = app.update(code(KeyCode::Enter));
    let (id, q) = asked(&fx);
    assert_eq!(
        q,
        Query::Open {
            incident: IncidentRef(1),
            limit: Some(200)
        }
    );
    let all = screen(&app, 120, 40);
    assert_on(&all, &["note 299", "older entries: loading…"]);

    // The newest 200 entries come (the older ones counted).
    let mut page = whole.clone();
    page.entries = whole.entries[102..].to_vec();
    page.elided = 102;
    app.update(Msg::Feed(Update::Result {
        id,
        result: QueryResult::Incident {
            incident: Box::new(page),
        },
    }));
    let inc = app.replica.state.incident(IncidentRef(1)).unwrap();
    // 200 from the page, and the pinned decision the board had: 101 older not held.
    assert_eq!((inc.entries.len(), inc.elided), (201, 101));
    assert_on(&screen(&app, 120, 40), &["101 older entries ↑", "note 299"]);

    // Scrolling back: nothing is asked until the top of what is held is in view.
    let fx = app.update(key('k'));
    no_query(&fx);
    let fx = app.update(key('g'));
    let (id, q) = asked(&fx);
    let oldest_page_id = whole.entries[102].id;
    assert_eq!(
        q,
        Query::Timeline {
            incident: IncidentRef(1),
            before: oldest_page_id,
            limit: Some(200)
        }
    );
    let selected = app.selected_entry(IncidentRef(1)).unwrap();
    assert_on(&screen(&app, 120, 40), &["older entries: loading…"]);
    // One page at a time: moving again asks nothing more while it loads.
    no_query(&app.update(key('k')));

    // Typing while the page comes: nothing typed is lost.
    app.update(key('i'));
    typed(&mut app, "pool at 95%");
    app.update(Msg::Feed(Update::Result {
        id,
        result: QueryResult::Entries {
            incident: IncidentRef(1),
            entries: whole.entries[..102].to_vec(),
            more: false,
        },
    }));
    assert_eq!(app.mode, Mode::Scribe);
    assert_eq!(
        app.room(IncidentRef(1)).unwrap().draft.lines(),
        ["pool at 95%"]
    );
    app.update(code(KeyCode::Esc));
    // The cursor stayed on its entry; the timeline is whole and in order.
    assert_eq!(app.selected_entry(IncidentRef(1)), Some(selected));
    let inc = app.replica.state.incident(IncidentRef(1)).unwrap();
    assert_eq!(inc.entries, whole.entries);
    assert_eq!(inc.elided, 0);
    let rows = &app.timelines[&IncidentRef(1)].rows;
    assert_eq!(rows.len(), 302);
    assert!(rows.windows(2).all(|w| w[0] < w[1]));
    // Nothing more to ask at the very top; the oldest entries are on screen.
    no_query(&app.update(key('g')));
    let all = screen(&app, 120, 40);
    assert_on(&all, &["declared SEV1", "freeze deploys", "note 0"]);
    assert!(!all.contains("older entr"), "{all}");
    // The search says nothing of unloaded entries now; it finds the oldest.
    app.update(key('/'));
    typed(&mut app, "note 3");
    app.update(code(KeyCode::Enter));
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn leaving_a_room_drops_its_pages_and_a_search_says_what_is_not_loaded() {
    let h = long_incident(300);
    let whole = h.state.incident(IncidentRef(1)).unwrap().clone();
    let mut app = board_app(&h, h.now);
    let (id, _) = asked(&app.update(code(KeyCode::Enter)));
    let mut page = whole.clone();
    page.entries = whole.entries[102..].to_vec();
    page.elided = 102;
    app.update(Msg::Feed(Update::Result {
        id,
        result: QueryResult::Incident {
            incident: Box::new(page),
        },
    }));
    // A search over what is held says the older entries were not searched.
    app.update(key('/'));
    typed(&mut app, "note 5");
    app.update(code(KeyCode::Enter));
    app.update(key('n'));
    let all = unwrapped(&app, 160, 40);
    assert!(
        all.contains("among the loaded entries · 101 older not loaded"),
        "{all}"
    );
    app.update(code(KeyCode::Esc));
    // Back on the board: the incident is a summary again.
    let fx = app.update(code(KeyCode::Esc));
    assert_eq!(app.screen, Screen::Board);
    assert_eq!(fx, [Effect::Focus(None)]);
    let inc = app.replica.state.incident(IncidentRef(1)).unwrap();
    assert!(
        inc.entries.len() <= 25 && inc.elided >= 277,
        "{}",
        inc.entries.len()
    );
    assert!(!app.timelines.contains_key(&IncidentRef(1)));
    // An answer that comes after the room was left is not held.
    // Coming back asks again.
    let fx = app.update(code(KeyCode::Enter));
    assert!(matches!(asked(&fx).1, Query::Open { .. }));
}

#[test]
fn a_small_incident_is_whole_on_the_board_and_its_room_asks_nothing() {
    let h = sample();
    let mut app = board_app(&h, t0() + Duration::minutes(5));
    let fx = app.update(code(KeyCode::Enter));
    assert_eq!(fx, [Effect::Focus(Some(IncidentRef(3)))]);
    assert!(!screen(&app, 120, 30).contains("older"));
}

/// `n` resolved incidents as a search answers them (newest declared first), from `top` down.
fn archived(top: u32, n: u32) -> Vec<warroom::model::Incident> {
    let mut h = History::new();
    for i in 1..=top {
        h.declare("bot", &format!("Old outage {i}"), 2, "payments");
        h.run(
            "bot",
            Command::Resolve {
                incident: IncidentRef(i),
            },
        );
    }
    (0..n)
        .map(|k| h.state.incident(IncidentRef(top - k)).unwrap().summary(0))
        .collect()
}

#[test]
fn the_archive_is_a_search_of_the_feed_paged_as_the_cursor_reaches_the_end() {
    let h = sample();
    let mut app = live_app(&h, t0() + Duration::minutes(9));
    let all = screen(&app, 120, 30);
    assert_on(&all, &["1 resolved hidden (r archive)"]);

    let fx = app.update(key('r'));
    assert_eq!(app.screen, Screen::Archive);
    let (id, q) = asked(&fx);
    assert_eq!(
        q,
        Query::Search(Search {
            active: Some(false),
            limit: Some(50),
            ..Search::default()
        })
    );
    assert_on(&screen(&app, 120, 30), &["archive · searching…"]);

    app.update(Msg::Feed(Update::Result {
        id,
        result: QueryResult::Incidents {
            incidents: archived(80, 50),
            next: Some(IncidentRef(31)),
            withheld: vec![],
        },
    }));
    let all = screen(&app, 120, 30);
    assert_on(
        &all,
        &[
            "archive · 50 incidents so far",
            "▶ INC-80",
            "Old outage 80",
            "resolved",
            "more below",
        ],
    );
    // Down the rows: the next page is asked as the end comes near, once.
    let mut fx = Vec::new();
    for _ in 0..44 {
        fx.extend(app.update(key('j')));
    }
    no_query(&fx);
    let (id, q) = asked(&app.update(key('j')));
    let Query::Search(s) = q else { panic!() };
    assert_eq!(s.before, Some(IncidentRef(31)));
    no_query(&app.update(key('j')));
    assert_on(&screen(&app, 120, 30), &["loading more…"]);
    app.update(Msg::Feed(Update::Result {
        id,
        result: QueryResult::Incidents {
            incidents: archived(30, 30),
            next: None,
            withheld: vec![IncidentRef(99)],
        },
    }));
    app.update(key('G'));
    let all = screen(&app, 120, 30);
    assert_on(
        &all,
        &[
            "archive · 80 incidents",
            "▶ INC-1 ",
            "end of the archive",
            "1 restricted incident matched that you are not a member of",
        ],
    );

    // A new search: words and filters on the line, asked on enter.
    app.update(key('/'));
    assert_eq!(app.mode, Mode::Filter);
    typed(&mut app, "since:yesterday");
    app.update(code(KeyCode::Enter));
    assert_eq!(app.mode, Mode::Filter, "a bad line stays to be fixed");
    assert_on(
        &unwrapped(&app, 160, 30),
        &["'since:yesterday' is not a date"],
    );
    for _ in 0.."since:yesterday".len() {
        app.update(code(KeyCode::Backspace));
    }
    typed(&mut app, "checkout sev:2 service:payments since:2026-03-01");
    let (_, q) = asked(&app.update(code(KeyCode::Enter)));
    assert_eq!(
        q,
        Query::Search(Search {
            text: Some("checkout".into()),
            severity: Some(Severity::try_from(2).unwrap()),
            service: Some("payments".into()),
            active: Some(false),
            since: Some(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()),
            limit: Some(50),
            ..Search::default()
        })
    );
    // `:archive` with words searches at once; `r` there goes back to the board.
    let (_, q) = asked(&palette(&mut app, "archive is:any banner"));
    let Query::Search(s) = q else { panic!() };
    assert_eq!((s.text.as_deref(), s.active), (Some("banner"), None));
    app.update(key('r'));
    assert_eq!(app.screen, Screen::Board);
    // What was found is not kept once the archive is left; the search line is.
    assert!(app.archive.rows.is_empty());
    assert_eq!(app.archive.line, "is:any banner");
}

#[test]
fn an_archived_incident_opens_from_the_archive_and_esc_goes_back_there() {
    let h = sample();
    let mut app = live_app(&h, t0() + Duration::minutes(9));
    let (id, _) = asked(&app.update(key('r')));
    let mut found = archived(40, 3);
    found[1].title = "Ledger double-charges".into();
    app.update(Msg::Feed(Update::Result {
        id,
        result: QueryResult::Incidents {
            incidents: found.clone(),
            next: None,
            withheld: vec![],
        },
    }));
    app.update(key('j'));
    let fx = app.update(code(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Room(IncidentRef(39)));
    let (id, q) = asked(&fx);
    assert_eq!(
        q,
        Query::Open {
            incident: IncidentRef(39),
            limit: Some(200)
        }
    );
    assert!(fx.contains(&Effect::Focus(Some(IncidentRef(39)))));
    assert_on(&screen(&app, 120, 30), &["INC-39: asking the feed for it…"]);
    // Events and ticks meanwhile do not take the person out of the room.
    app.update(Msg::Tick(t0() + Duration::minutes(9)));
    assert_eq!(app.screen, Screen::Room(IncidentRef(39)));

    // The feed sends it (resolved long ago: archived, shown with what it holds).
    let mut inc = found[1].clone();
    inc.updated_at = t0() - Duration::days(30);
    inc.declared_at = t0() - Duration::days(30);
    inc.elided = 0;
    app.update(Msg::Feed(Update::Result {
        id,
        result: QueryResult::Incident {
            incident: Box::new(inc),
        },
    }));
    let all = screen(&app, 160, 30);
    assert_on(
        &all,
        &[
            "INC-39",
            "Ledger double-charges",
            "archived (a command brings it back)",
        ],
    );
    // Commands on it go to the feed as on any incident.
    let fx = palette(&mut app, "note checked the ledger again");
    assert!(matches!(
        sent(&fx)[..],
        [Command::AddEntry {
            incident: IncidentRef(39),
            ..
        }]
    ));
    // Back: to the archive as it was, not the board.
    let fx = app.update(code(KeyCode::Esc));
    assert_eq!(app.screen, Screen::Archive);
    no_query(&fx);
    assert_eq!(app.archive.selected, 1);
    // Out of the room, it goes at the next tick: memory follows what is shown.
    assert!(app.replica.state.incident(IncidentRef(39)).is_some());
    app.update(Msg::Tick(t0() + Duration::minutes(10)));
    assert!(app.replica.state.incident(IncidentRef(39)).is_none());
    // Its room's view too: nothing was typed in it.
    assert!(!app.rooms.contains_key(&IncidentRef(39)));
}

#[test]
fn an_unknown_incident_is_asked_of_the_feed_which_says_it_does_not_exist() {
    let h = sample();
    let mut app = live_app(&h, t0() + Duration::minutes(9));
    let (id, _) = asked(&palette(&mut app, "open INC-77"));
    assert_eq!(app.screen, Screen::Room(IncidentRef(77)));
    let fx = app.update(Msg::Feed(Update::QueryFailed {
        id,
        error: warroom::client::QueryError {
            code: warroom::protocol::ErrorCode::NotFound,
            message: "INC-77 does not exist".into(),
        },
    }));
    assert_eq!(app.screen, Screen::Board);
    assert_eq!(fx, [Effect::Focus(None)]);
    assert_on(&screen(&app, 120, 30), &["INC-77 does not exist"]);
}

#[test]
fn resolved_incidents_leave_the_console_with_the_live_window_unless_on_screen() {
    let mut h = sample();
    h.run(
        "bot",
        Command::Resolve {
            incident: IncidentRef(2),
        },
    );
    let mut app = live_app(&h, t0() + Duration::minutes(9));
    palette(&mut app, "open INC-4");
    assert_eq!(app.screen, Screen::Room(IncidentRef(4)));
    // Six days on, both resolved ones are still in the window.
    app.update(Msg::Tick(t0() + Duration::days(6)));
    assert!(app.replica.state.incident(IncidentRef(2)).is_some());
    // Eight days on: INC-2 goes; INC-4 is on screen and stays.
    app.update(Msg::Tick(t0() + Duration::days(8)));
    assert!(app.replica.state.incident(IncidentRef(2)).is_none());
    assert!(app.replica.state.incident(IncidentRef(4)).is_some());
    assert_eq!(app.screen, Screen::Room(IncidentRef(4)));
    // The active ones never go.
    app.rooms
        .get_mut(&IncidentRef(4))
        .unwrap()
        .draft
        .insert_str("half a note");
    app.update(code(KeyCode::Esc));
    app.update(Msg::Tick(t0() + Duration::days(9)));
    assert!(app.replica.state.incident(IncidentRef(4)).is_none());
    // What was typed in its room stays, though the incident went.
    assert_eq!(
        app.rooms[&IncidentRef(4)].draft.lines(),
        ["half a note".to_string()]
    );
    assert!(app.replica.state.incident(IncidentRef(1)).is_some());
    assert!(app.replica.state.incident(IncidentRef(3)).is_some());
}

#[test]
fn exports_and_metrics_are_asked_of_the_feed() {
    let h = sample();
    let mut app = live_app(&h, t0() + Duration::minutes(9));
    // An incident not held here (archived) exports under its reference.
    let fx = palette(&mut app, "export INC-31 json");
    assert_eq!(
        fx,
        [Effect::Export {
            incident: IncidentRef(31),
            format: warroom::report::export::ExportFormat::Json,
            file: "INC-31.json".into(),
        }]
    );
    let fx = palette(&mut app, "metrics");
    assert_eq!(app.screen, Screen::Metrics);
    let (id, q) = asked(&fx);
    assert_eq!(q, Query::Metrics { since: None });
    assert_on(&screen(&app, 120, 30), &["asking the feed…"]);
    app.update(Msg::Feed(Update::QueryFailed {
        id,
        error: warroom::client::QueryError {
            code: warroom::protocol::ErrorCode::Unavailable,
            message: "no answer from the feed: connection lost".into(),
        },
    }));
    assert_on(
        &screen(&app, 120, 30),
        &["the feed could not compute them: no answer from the feed: connection lost"],
    );
}

#[test]
fn entries_that_pile_up_on_an_incident_not_shown_go_back_to_a_summary() {
    let mut h = long_incident(10);
    let mut app = board_app(&h, h.now);
    let before = h.events.len();
    for i in 0..300 {
        h.note("lee", 1, EntryKind::Note, &format!("live {i}"));
    }
    deliver_since(&mut app, &h, before);
    assert_eq!(
        app.replica
            .state
            .incident(IncidentRef(1))
            .unwrap()
            .entries
            .len(),
        312
    );
    // Shown: kept whole while the room is open (whole, so nothing to ask).
    no_query(&app.update(code(KeyCode::Enter)));
    app.update(Msg::Tick(h.now));
    assert_eq!(
        app.replica
            .state
            .incident(IncidentRef(1))
            .unwrap()
            .entries
            .len(),
        312
    );
    // Not shown: at the next tick, the newest and the key ones stay, the rest is counted.
    app.update(code(KeyCode::Esc));
    app.update(Msg::Tick(h.now + Duration::seconds(1)));
    let inc = app.replica.state.incident(IncidentRef(1)).unwrap();
    assert!(inc.entries.len() <= 22, "{}", inc.entries.len());
    assert_eq!(inc.entries.len() as u64 + inc.elided, 312);
    assert!(
        inc.entries
            .iter()
            .any(|e| e.text == "freeze deploys" && e.pinned)
    );
    // Events go on folding on the summary.
    let before = h.events.len();
    h.note("lee", 1, EntryKind::Note, "still going");
    deliver_since(&mut app, &h, before);
    let inc = app.replica.state.incident(IncidentRef(1)).unwrap();
    assert_eq!(inc.entries.last().unwrap().text, "still going");
}

#[path = "console/pressure.rs"]
mod pressure;
#[path = "console/update_form.rs"]
mod update_form;

/// The feed's policy, as a console is told it.
fn told_policy(app: &mut App, text: &str) {
    let p = warroom::model::policy::Policy::parse(text).unwrap();
    app.update(Msg::Feed(Update::Policy(Box::new(p.public(Vec::new())))));
}

#[test]
fn a_sev1_room_shows_the_bridge_of_the_feeds_policy() {
    let mut h = History::new();
    h.declare("bot", "Database primary unreachable", 1, "database-primary");
    h.declare("bot", "Search p99 over 2s", 3, "search");
    let mut app = live_app(&h, t0() + Duration::minutes(2));
    told_policy(
        &mut app,
        "[bridge]\nsev1 = \"https://meet.example.com/warroom-{incident}\"\n",
    );
    app.update(code(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Room(IncidentRef(1)));
    let lines = text(&draw(&app, &test_theme(), 140, 30));
    assert!(
        lines[1].contains("bridge https://meet.example.com/warroom-INC-1"),
        "{}",
        lines.join("\n")
    );
    // A SEV3 has no bridge in this policy.
    app.update(code(KeyCode::Esc));
    app.update(code(KeyCode::Down));
    app.update(code(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Room(IncidentRef(2)));
    let all = text(&draw(&app, &test_theme(), 140, 30)).join("\n");
    assert!(!all.contains("bridge"), "{all}");
}

#[test]
fn a_sev1_or_sev2_without_a_comms_lead_is_flagged_as_no_ic_is() {
    let h = sample();
    let mut app = live_app(&h, t0() + Duration::minutes(9));
    let lines = text(&draw(&app, &test_theme(), 160, 30));
    let all = lines.join("\n");
    // The board: INC-1 (SEV2) has its commander, priya, and no comms lead; INC-3 (SEV1)
    // has no IC, which says enough; INC-2 (SEV3) needs none.
    let row = |r: &str| lines.iter().find(|l| l.contains(r)).unwrap().clone();
    assert!(row("INC-1").contains("no comms Checkout returns"), "{all}");
    assert!(!row("INC-3").contains("no comms"), "{all}");
    assert!(!row("INC-2").contains("no comms"), "{all}");
    let buf = draw(&app, &test_theme(), 160, 30);
    let (x, y) = find(&lines, "no comms");
    assert_eq!(
        buf.backend().buffer()[(x, y)].fg,
        Color::Red,
        "loud, as no IC"
    );

    // The room of the SEV1: "no comms lead", loud; a SEV3's room says vacant.
    app.update(code(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Room(IncidentRef(3)));
    let term = draw(&app, &test_theme(), 120, 30);
    let lines = text(&term);
    assert!(
        lines[2].contains("no IC") && lines[2].contains("Comms no comms lead"),
        "{}",
        lines.join("\n")
    );
    let (x, y) = find(&lines, "no comms lead");
    assert_eq!(term.backend().buffer()[(x, y)].fg, Color::Red);
    app.update(code(KeyCode::Esc));
    app.update(code(KeyCode::Down));
    app.update(code(KeyCode::Down));
    app.update(code(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Room(IncidentRef(2)));
    let lines = text(&draw(&app, &test_theme(), 120, 30));
    assert!(lines[2].contains("Comms vacant"), "{}", lines.join("\n"));
}

#[test]
fn a_room_shows_its_services_newest_deploy_and_the_handoff_lists_the_shifts() {
    let mut h = History::new();
    let deploy = |h: &mut History, mins: i64, service: &str, version: &str, env: Option<&str>| {
        h.now = t0() + Duration::minutes(mins);
        h.run(
            "ci-bot",
            Command::RecordDeploy {
                service: service.into(),
                version: version.into(),
                environment: env.map(str::to_string),
                note: None,
            },
        );
    };
    deploy(&mut h, -40, "checkout", "v2.14.0", None);
    deploy(&mut h, -30, "checkout", "v2.14.1", Some("production"));
    deploy(&mut h, -20, "search", "v88", None);
    h.record(
        "alertmanager",
        EventKind::AlertNoted {
            source: "alertmanager".into(),
            dedup_key: "slo-search".into(),
            summary: "search error budget slow burn".into(),
            why: "error budget burning 1.1x over 3d: informational only".into(),
            service: Some("search".into()),
        },
    );
    h.now = t0();
    h.declare("bot", "Checkout returns 500s", 2, "checkout");
    h.declare("bot", "Ledger lag", 3, "ledger");
    let mut app = live_app(&h, t0() + Duration::minutes(5));
    // The board says what waits for stand-up.
    assert_on(&screen(&app, 160, 30), &["· 1 for stand-up (h handoff)"]);
    app.update(code(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Room(IncidentRef(1)));
    let all = screen(&app, 160, 30);
    assert_on(
        &all,
        &["deployed v2.14.1 → production 35m00s ago by ci-bot (2 since the day before)"],
    );
    assert!(!all.contains("v88"), "another service's deploy: {all}");
    // A deploy arriving live shows at once.
    let before = h.events.len();
    deploy(&mut h, 6, "checkout", "v2.14.2", None);
    deliver_since(&mut app, &h, before);
    app.update(Msg::Tick(t0() + Duration::minutes(7)));
    assert_on(
        &screen(&app, 160, 30),
        &["deployed v2.14.2 1m00s ago by ci-bot (3 since"],
    );
    // A room whose service had no deploy says nothing of deploys.
    app.update(code(KeyCode::Esc));
    app.update(code(KeyCode::Down));
    app.update(code(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Room(IncidentRef(2)));
    assert!(!screen(&app, 160, 30).contains("deployed"));

    // The handoff: the shift's deploys, newest first.
    app.update(code(KeyCode::Esc));
    app.update(key('h'));
    assert!(app.handoff.is_some());
    app.update(code(KeyCode::End));
    let all = screen(&app, 160, 48);
    assert_on(
        &all,
        &[
            "DEPLOYS DURING THE SHIFT (4)",
            "checkout v2.14.2, by ci-bot",
            "checkout v2.14.1 → production, by ci-bot",
            "search v88, by ci-bot",
            "FOR STAND-UP: INFORMATIONAL ALERTS, LAST 3 DAYS (1)",
            "search: search error budget slow burn — error budget burning 1.1x over 3d",
        ],
    );
    let newest = all.find("v2.14.2").unwrap();
    assert!(newest < all.find("v2.14.1").unwrap(), "newest first");
}
