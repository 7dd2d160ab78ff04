//! The console without a terminal or a network: screens rendered into ratatui's TestBackend,
//! and the update state machine driven by keys and feed updates.

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier, Style};
use warroom::client::{ConnState, Update};
use warroom::model::{Command, EntryKind, Event, IncidentRef, Role, Severity, State, Status};
use warroom::protocol::{Answer, Presence};
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
            },
        );
    }
    fn note(&mut self, who: &str, n: u32, kind: EntryKind, text: &str) -> u64 {
        self.run(
            who,
            Command::AddEntry {
                incident: IncidentRef(n),
                entry_kind: kind,
                text: text.into(),
                occurred_at: None,
            },
        )[0]
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
fn board_filters_and_shows_resolved_on_request() {
    let h = sample();
    let mut app = live_app(&h, t0() + Duration::minutes(9));
    app.update(key('r'));
    let lines = text(&draw(&app, &test_theme(), 100, 30));
    assert!(
        lines
            .iter()
            .any(|l| l.contains("INC-4") && l.contains("resolved")),
        "{}",
        lines.join("\n")
    );
    app.update(key('/'));
    assert_eq!(app.mode, Mode::Filter);
    typed(&mut app, "search");
    assert_eq!(app.board_rows().len(), 1);
    let lines = text(&draw(&app, &test_theme(), 100, 30));
    assert!(lines.iter().any(|l| l.contains("filter: search")));
    app.update(code(KeyCode::Esc));
    assert_eq!(app.board_rows().len(), 4);
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
        },
    );
    let mut app = live_app(&h, t0() + Duration::minutes(7) + Duration::seconds(30));
    app.update(code(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Room(IncidentRef(1)));
    app.update(Msg::Feed(Update::Presence(vec![Presence {
        name: "lee".into(),
        since: t0(),
        connections: 1,
        viewing: vec![IncidentRef(1)],
    }])));
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
    assert!(lines[1].contains("target 5m: OVERDUE by 2m30s"), "{all}");
    assert!(lines[1].contains("NOT ACKNOWLEDGED"), "{all}");
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
    // The overdue marker is drawn in the overdue colour.
    let buf = term.backend().buffer();
    let (x, y) = find(&lines, "OVERDUE");
    assert_eq!(buf[(x, y)].fg, Color::Red);
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
            restricted: false
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
            occurred_at: None
        }
    );
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
    let lines = text(&draw(&app, &test_theme(), 100, 60));
    let all = lines.join("\n");
    assert!(
        all.contains("acknowledge")
            && all.contains("declare [sevN] TITLE")
            && all.contains("d: decision"),
        "{all}"
    );
    // At 80x24 it scrolls: the scribe prefixes at the end are reachable.
    let small = text(&draw(&app, &test_theme(), 80, 24)).join("\n");
    assert!(
        small.contains("↓ more") && !small.contains("d: decision"),
        "{small}"
    );
    for _ in 0..5 {
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
