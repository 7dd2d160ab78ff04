//! The console under pressure (issue 15): what is late is loud on the board, what is new is
//! seen on every screen, what cannot be taken back asks first and every change answers.

use super::*;
use ratatui::buffer::Cell;

/// The board, 7 minutes after t0: INC-1, a SEV1 declared at t0 and not
/// acknowledged (its escalation paged marco at step 2, so the count since the last page is
/// only 2:00); INC-2, a SEV3 declared 3:41 ago; INC-3, a SEV3 declared 70 minutes ago and
/// never acknowledged; INC-4, a SEV4 with nobody in command.
fn pressure() -> History {
    let mut h = History::new();
    let run = live_sev1(&mut h);
    h.now = t0() + Duration::seconds(300);
    h.record(
        "warroom",
        EventKind::StepFired {
            incident: IncidentRef(1),
            run,
            round: 0,
            step: 1,
            action: StepAction::Page,
            target: "oncall.secondary".into(),
            person: Some("marco".into()),
            due_at: h.now,
            late: false,
        },
    );
    h.now = t0() + Duration::seconds(420 - 221);
    h.declare("bot", "Search p99 over 2s", 3, "search");
    h.now = t0() - Duration::minutes(63);
    h.declare("bot", "Disk 85% on batch-7", 3, "batch");
    h.now = t0() + Duration::seconds(100);
    h.declare("bot", "Typo on the status page", 4, "web");
    h
}

fn now7() -> DateTime<Utc> {
    t0() + Duration::seconds(420)
}

/// The built-in themes, by name.
fn themes() -> Vec<(&'static str, Theme)> {
    ["dark", "light", "high-contrast"]
        .into_iter()
        .map(|n| {
            let (t, warnings) = warroom::tui::theme::load(Some(n), false);
            assert!(warnings.is_empty(), "{warnings:?}");
            (n, t)
        })
        .collect()
}

/// The cell at the start of `needle` on the row that holds `row`.
fn cell_at(term: &Terminal<TestBackend>, row: &str, needle: &str) -> Cell {
    let lines = text(term);
    let y = lines
        .iter()
        .position(|l| l.contains(row))
        .unwrap_or_else(|| panic!("no row with '{row}':\n{}", lines.join("\n")));
    let l = &lines[y];
    let bx = l
        .find(needle)
        .unwrap_or_else(|| panic!("'{needle}' not on the row of '{row}': {l}"));
    let x = l[..bx].chars().count() as u16;
    term.backend().buffer()[(x, y as u16)].clone()
}

/// Whether `cell` is drawn in `style`'s colours and with its modifiers.
fn drawn_in(cell: &Cell, style: Style) -> bool {
    style.fg.is_none_or(|c| cell.fg == c)
        && style.bg.is_none_or(|c| cell.bg == c)
        && cell.modifier.contains(style.add_modifier)
}

fn loud(cell: &Cell) -> bool {
    cell.modifier
        .intersects(Modifier::BOLD | Modifier::REVERSED | Modifier::UNDERLINED)
}

#[test]
fn a_missed_sev1_target_is_the_loudest_thing_on_the_board_in_every_theme() {
    let h = pressure();
    let mut app = live_app(&h, now7());
    let order: Vec<u32> = app.board_rows().iter().map(|i| i.reference.0).collect();
    assert_eq!(order, [1, 3, 2, 4]);
    for (name, theme) in themes() {
        assert_ne!(theme.timer_critical, theme.timer_overdue, "{name}");
        assert_ne!(theme.timer_critical, theme.sev1, "{name}");
        for (w, ht) in [(80, 24), (200, 50)] {
            app.update(Msg::Resize(w, ht));
            let term = draw(&app, &theme, w, ht);
            let all = text(&term).join("\n");
            let at = format!("{name} {w}x{ht}");
            // The SEV1 says how long it has waited and that its target is missed, not the
            // 2:00 since its last page; the fresh SEV3 counts down its hour, quietly.
            let (sev1, sev3) = if w >= 200 {
                assert_on(
                    &all,
                    &[
                        "NO ACK 7:00 · 5m target missed · paged marco · next: dana in 3:00",
                        "no ack 3:41, due in 56:19",
                        "NO ACK 1:10:00 · 60m target missed",
                    ],
                );
                ("NO ACK 7:00", "no ack 3:41")
            } else {
                assert_on(
                    &all,
                    &[
                        "NO ACK >5m",
                        "ack due 56:19",
                        "NO ACK >60m",
                        // The selected one spelt out under the table.
                        "▶ NO ACK 7:00 · 5m target missed by 2:00 · paged marco",
                    ],
                );
                ("NO ACK >5m", "ack due 56:19")
            };
            assert!(!all.contains("no ack 2:00"), "{at}:\n{all}");
            let c = cell_at(&term, "INC-1", sev1);
            assert!(drawn_in(&c, theme.timer_critical), "{at}: {c:?}");
            let c = cell_at(&term, "INC-3", "NO ACK");
            assert!(drawn_in(&c, theme.timer_overdue), "{at}: {c:?}");
            assert!(!drawn_in(&c, theme.timer_critical), "{at}: {c:?}");
            let c = cell_at(&term, "INC-2", sev3);
            assert!(drawn_in(&c, theme.muted) && !loud(&c), "{at}: {c:?}");
            // No IC: loud on the SEV1, quiet on the SEV4.
            let c = cell_at(&term, "INC-1", "no IC");
            assert!(drawn_in(&c, theme.no_ic), "{at}: {c:?}");
            let c = cell_at(&term, "INC-4", "no IC");
            assert!(drawn_in(&c, theme.muted) && !loud(&c), "{at}: {c:?}");
        }
    }
}

#[test]
fn the_selected_row_keeps_its_severity_colours_in_every_theme() {
    let h = pressure();
    let mut app = live_app(&h, now7());
    for (name, theme) in themes() {
        for (w, ht) in [(80, 24), (200, 50)] {
            app.update(Msg::Resize(w, ht));
            app.board.selected = 0;
            for (n, row, badge, style) in [
                (0, "INC-1", "SEV1", theme.sev1),
                (1, "INC-3", "SEV3", theme.sev3),
                (3, "INC-4", "SEV4", theme.sev4),
            ] {
                app.board.selected = n;
                let term = draw(&app, &theme, w, ht);
                let at = format!("{name} {w}x{ht} {row} selected");
                let c = cell_at(&term, row, badge);
                assert_eq!(Some(c.fg), style.fg, "{at}: {c:?}");
                assert_eq!(Some(c.bg), style.bg, "{at}: {c:?}");
                assert_eq!(
                    c.modifier.contains(Modifier::REVERSED),
                    style.add_modifier.contains(Modifier::REVERSED),
                    "{at}: {c:?}"
                );
                // The bar is there: the title cell is drawn in the selection's colours.
                let t = cell_at(&term, row, "▶");
                if let Some(bg) = theme.selected.bg {
                    assert_eq!(t.bg, bg, "{at}: {t:?}");
                }
                assert!(t.modifier.contains(theme.selected.add_modifier), "{at}");
            }
            // The missed target keeps its loudness under the bar too.
            app.board.selected = 0;
            let term = draw(&app, &theme, w, ht);
            let c = cell_at(&term, "INC-1", "NO ACK");
            assert!(drawn_in(&c, theme.timer_critical), "{name} {w}x{ht}: {c:?}");
        }
    }
}

// ---- 2. what is new must be seen, wherever you are ------------------------------------------

fn bells(fx: &[Effect]) -> usize {
    fx.iter().filter(|e| **e == Effect::Bell).count()
}

/// Delivers what the feed recorded since `before`, returning the effects.
fn deliver_fx(app: &mut App, h: &History, before: usize) -> Vec<Effect> {
    h.events[before..]
        .iter()
        .cloned()
        .flat_map(|e| app.update(Msg::Feed(Update::Event(e))))
        .collect()
}

#[test]
fn a_sev1_declared_elsewhere_is_noticed_on_every_screen_and_o_goes_there() {
    let mut h = History::new();
    h.declare("priya", "Search slow", 3, "search");
    let mut app = live_app(&h, t0() + Duration::minutes(1));
    app.update(code(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Room(IncidentRef(1)));
    // bob declares a SEV1 from the command line while alice is in INC-1's room.
    let before = h.events.len();
    h.now = t0() + Duration::minutes(1);
    h.declare("bob", "Checkout returns 500s", 1, "payments");
    let fx = deliver_fx(&mut app, &h, before);
    assert_eq!(bells(&fx), 1, "a new SEV1 rings the bell once: {fx:?}");
    assert_eq!(
        app.screen,
        Screen::Room(IncidentRef(1)),
        "nothing moves by itself"
    );
    let wide = screen(&app, 200, 50);
    assert_on(
        &wide,
        &[
            "NEW SEV1  INC-2 Checkout returns 500s · declared by bob · o go there x dismiss",
            "INC-1",
        ],
    );
    let narrow = screen(&app, 80, 24);
    assert_on(
        &narrow,
        &["NEW SEV1  INC-2 Checkout returns 500s", "bob", "o go"],
    );
    // Loud, in every theme.
    for (name, theme) in themes() {
        let term = draw(&app, &theme, 200, 50);
        let c = cell_at(&term, "NEW SEV1", "NEW SEV1");
        assert!(drawn_in(&c, theme.timer_critical), "{name}: {c:?}");
    }
    // On every screen: the board, the archive, the metrics, the help over them.
    app.update(code(KeyCode::Esc));
    assert_eq!(app.screen, Screen::Board);
    assert_on(&screen(&app, 80, 24), &["NEW SEV1  INC-2"]);
    app.update(key('r'));
    assert_eq!(app.screen, Screen::Archive);
    assert_on(&screen(&app, 80, 24), &["NEW SEV1  INC-2"]);
    palette(&mut app, "metrics");
    assert_eq!(app.screen, Screen::Metrics);
    assert_on(&screen(&app, 80, 24), &["NEW SEV1  INC-2"]);
    // Back in the room; `o` goes to the new incident, and the notice has been seen.
    palette(&mut app, "open INC-1");
    assert_eq!(app.screen, Screen::Room(IncidentRef(1)));
    app.update(key('o'));
    assert_eq!(app.screen, Screen::Room(IncidentRef(2)));
    assert!(app.news.is_empty());
    assert!(!screen(&app, 80, 24).contains("NEW SEV1"));

    // A SEV3 is news too, quietly: no bell. `x` dismisses it.
    let before = h.events.len();
    h.declare("alertmanager", "Disk 85% on batch-7", 3, "batch");
    let fx = deliver_fx(&mut app, &h, before);
    assert_eq!(bells(&fx), 0, "{fx:?}");
    assert_on(
        &screen(&app, 200, 50),
        &["NEW SEV3  INC-3 Disk 85% on batch-7"],
    );
    app.update(key('x'));
    assert!(app.news.is_empty());

    // A raise to SEV2 and a page to alice are news, and ring.
    let before = h.events.len();
    h.run(
        "bob",
        Command::SetSeverity {
            incident: IncidentRef(1),
            severity: Severity::Sev2,
        },
    );
    let fx = deliver_fx(&mut app, &h, before);
    assert_eq!(bells(&fx), 1, "{fx:?}");
    assert_on(
        &screen(&app, 200, 50),
        &["RAISED TO SEV2  INC-1 Search slow · was SEV3, raised by bob"],
    );
    app.update(key('x'));
    let before = h.events.len();
    let run = h
        .record(
            "warroom",
            EventKind::EscalationStarted {
                incident: IncidentRef(3),
                plan: sev1_plan(),
                reason: "declared".into(),
            },
        )
        .seq;
    h.record(
        "warroom",
        EventKind::StepFired {
            incident: IncidentRef(3),
            run,
            round: 0,
            step: 0,
            action: StepAction::Page,
            target: "oncall.primary".into(),
            person: Some("alice".into()),
            due_at: h.now,
            late: false,
        },
    );
    let fx = deliver_fx(&mut app, &h, before);
    assert_eq!(bells(&fx), 1, "{fx:?}");
    assert_on(
        &screen(&app, 200, 50),
        &["PAGED YOU SEV3  INC-3 Disk 85% on batch-7 · escalation paged you (oncall.primary)"],
    );

    // With the bell turned off in the config, nothing rings; the notice still shows.
    app.bell = false;
    let before = h.events.len();
    h.declare("bob", "Ledger drift", 1, "payments");
    let fx = deliver_fx(&mut app, &h, before);
    assert_eq!(bells(&fx), 0, "{fx:?}");
    assert_on(&screen(&app, 200, 50), &["NEW SEV1  INC-4 Ledger drift"]);
}

#[test]
fn a_board_filter_lets_a_new_sev1_through_marked_new() {
    let mut h = History::new();
    h.declare("priya", "Search slow", 3, "search");
    let mut app = live_app(&h, t0() + Duration::minutes(1));
    app.update(key('/'));
    typed(&mut app, "search");
    app.update(code(KeyCode::Enter));
    assert_eq!(app.board_rows().len(), 1);
    let before = h.events.len();
    h.declare("bob", "Checkout returns 500s", 1, "payments");
    h.declare("bob", "Banner typo", 4, "web");
    deliver_fx(&mut app, &h, before);
    let refs: Vec<u32> = app.board_rows().iter().map(|i| i.reference.0).collect();
    assert_eq!(
        refs,
        [2, 1],
        "the new SEV1 shows through the filter, the SEV4 does not"
    );
    for (w, ht) in [(80, 24), (200, 50)] {
        let all = screen(&app, w, ht);
        let row = all
            .lines()
            .find(|l| l.contains("INC-2") && !l.contains("NEW SEV1"))
            .unwrap();
        assert!(row.contains("NEW Checkout"), "{w}x{ht}: {row}");
        assert_on(
            &all,
            &["filter: search", "1 new SEV1/SEV2 shown outside it"],
        );
    }
    // Seen (its room opened and left), it is filtered like any other.
    app.update(key('k'));
    app.update(code(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Room(IncidentRef(2)));
    app.update(code(KeyCode::Esc));
    let refs: Vec<u32> = app.board_rows().iter().map(|i| i.reference.0).collect();
    assert_eq!(refs, [1]);
}

#[test]
fn the_bell_can_be_turned_off_in_the_config() {
    let c = warroom::tui::config::parse("bell = false\n").unwrap();
    assert_eq!(c.bell, Some(false));
    let c = warroom::tui::config::parse("").unwrap();
    assert_eq!(c.bell, None, "on unless turned off");
    assert!(warroom::tui::config::DEFAULT_CONFIG.contains("# bell = true"));
    let c = warroom::tui::config::parse(warroom::tui::config::DEFAULT_CONFIG).unwrap();
    assert_eq!(c.bell, None);
}

// ---- 3. what cannot be taken back asks first, and every change answers ---------------------

/// The status line (the last row).
fn status_line(app: &App, w: u16, h: u16) -> String {
    text(&draw(app, &test_theme(), w, h)).pop().unwrap()
}

fn two_incidents() -> History {
    let mut h = History::new();
    h.declare("priya", "Search slow", 3, "search");
    h.declare("bob", "Checkout 500s", 1, "payments");
    h
}

#[test]
fn resolving_asks_first_in_one_key_and_says_what_it_did() {
    let mut h = two_incidents();
    let mut app = live_app(&h, t0() + Duration::minutes(2));
    assert_eq!(app.selected_incident(), Some(IncidentRef(2)));
    // `R` asks; any other key cancels and says so.
    assert!(
        app.update(key('R')).is_empty(),
        "nothing sent before the answer"
    );
    assert_eq!(app.mode, Mode::Confirm);
    // Straight from investigating: was recovery verified? (seed guide G38)
    assert_on(
        &screen(&app, 200, 50),
        &[
            "Resolve INC-2 (SEV1 Checkout 500s) from investigating: was recovery verified?  \
             y yes, resolve · s skip verification · other keys cancel",
        ],
    );
    assert_on(
        &screen(&app, 80, 24),
        &["Resolve INC-2 (SEV1 Checkout 500s) from investigating: was recovery verified?"],
    );
    assert!(app.update(key('n')).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert!(
        status_line(&app, 100, 30).contains("cancelled: resolve INC-2 (SEV1 Checkout 500s)"),
        "{}",
        status_line(&app, 100, 30)
    );
    // `y` resolves it with the answer, and the status line says so.
    app.update(key('R'));
    let fx = app.update(key('y'));
    assert_eq!(
        sent(&fx),
        [&Command::ResolveChecked {
            incident: IncidentRef(2),
            verified: true,
        }]
    );
    deliver(&mut app, &mut h, "alice", &fx);
    assert!(
        status_line(&app, 100, 30)
            .contains("INC-2 resolved, recovery verified (was investigating)"),
        "{}",
        status_line(&app, 100, 30)
    );
    // The palette asks too, and `:status resolved` is resolving.
    for line in ["resolve", "status resolved"] {
        assert!(palette(&mut app, line).is_empty(), ":{line}");
        assert_eq!(app.mode, Mode::Confirm, ":{line}");
        assert_on(
            &screen(&app, 100, 30),
            &["Resolve INC-1 (SEV3 Search slow) from investigating: was recovery verified?"],
        );
        app.update(code(KeyCode::Esc));
        assert_eq!(app.mode, Mode::Normal);
    }
    // `s` resolves without verifying, and says so on the record.
    let fx = palette(&mut app, "resolve");
    assert!(fx.is_empty());
    let fx = app.update(key('s'));
    assert_eq!(
        sent(&fx),
        [&Command::ResolveChecked {
            incident: IncidentRef(1),
            verified: false,
        }]
    );
    deliver(&mut app, &mut h, "alice", &fx);
    assert!(
        status_line(&app, 100, 30).contains("INC-1 resolved, without verifying recovery"),
        "{}",
        status_line(&app, 100, 30)
    );
    // Nothing active: the board says so, not that a filter matched nothing.
    let all = screen(&app, 100, 30);
    assert_on(
        &all,
        &["No active incidents · 2 resolved hidden (r shows the archive) · n declares one"],
    );
    assert!(!all.contains("Nothing matches the filter"), "{all}");
}

#[test]
fn resolving_from_monitoring_asks_only_whether_to_resolve() {
    let mut h = two_incidents();
    h.run(
        "bob",
        Command::SetStatus {
            incident: IncidentRef(2),
            status: warroom::model::Status::Monitoring,
        },
    );
    let mut app = live_app(&h, t0() + Duration::minutes(2));
    assert_eq!(app.selected_incident(), Some(IncidentRef(2)));
    app.update(key('R'));
    assert_on(
        &screen(&app, 100, 30),
        &["Resolve INC-2 (SEV1 Checkout 500s)?  y to resolve, any other key cancels"],
    );
    // `s` is no answer here: it cancels.
    assert!(app.update(key('s')).is_empty());
    app.update(key('R'));
    let fx = app.update(key('y'));
    assert_eq!(
        sent(&fx),
        [&Command::Resolve {
            incident: IncidentRef(2)
        }]
    );
}

#[test]
fn the_postmortem_countdown_is_on_the_board_and_in_the_room_and_loud_when_overdue() {
    let mut h = two_incidents();
    h.run(
        "priya",
        Command::ResolveChecked {
            incident: IncidentRef(1),
            verified: true,
        },
    );
    let resolved = h.now;
    // 47 hours on: due in an hour, on the board's title and in the room's header.
    let mut app = live_app(&h, resolved + Duration::hours(47));
    let s = screen(&app, 160, 30);
    assert!(s.contains("1 post-mortem due, next in 1h00m"), "{s}");
    assert!(!s.contains("OVERDUE"), "{s}");
    palette(&mut app, "open INC-1");
    let s = screen(&app, 160, 30);
    assert!(s.contains("post-mortem due in 1h00m"), "{s}");
    // 49 hours on: overdue, loud.
    let app = live_app(&h, resolved + Duration::hours(49));
    let drawn = draw(&app, &test_theme(), 160, 30);
    let s = text(&drawn).join("\n");
    assert!(s.contains("1 POST-MORTEM OVERDUE (by 1h00m)"), "{s}");
    let (x, y) = find(&text(&drawn), "1 POST-MORTEM OVERDUE");
    assert_eq!(
        Some(drawn.backend().buffer()[(x, y)].fg),
        test_theme().timer_overdue.fg,
        "overdue is loud"
    );
    // Marked done: the countdown stops.
    h.run(
        "priya",
        Command::EditPostmortem {
            incident: IncidentRef(1),
            section: warroom::model::PmSection::Summary,
            text: "The index lagged.".into(),
        },
    );
    h.run(
        "priya",
        Command::AddActionItem {
            incident: IncidentRef(1),
            text: "Alert on index lag".into(),
            owner: "priya".into(),
            due: chrono::NaiveDate::from_ymd_opt(2026, 3, 28),
        },
    );
    let mut app = live_app(&h, resolved + Duration::hours(1));
    let fx = palette(&mut app, "pm-done INC-1");
    assert_eq!(
        sent(&fx),
        [&Command::CompletePostmortem {
            incident: IncidentRef(1)
        }]
    );
    deliver(&mut app, &mut h, "priya", &fx);
    let s = screen(&app, 160, 30);
    assert!(!s.contains("post-mortem due"), "{s}");
}

#[test]
fn the_room_shows_who_found_it_and_the_triage_answers() {
    let mut h = two_incidents();
    h.run(
        "bob",
        Command::Triage {
            incident: IncidentRef(2),
            detected_by: Some(warroom::model::Detection::Customer),
            impact_growing: Some(true),
            workaround: Some(false),
        },
    );
    let mut app = live_app(&h, t0() + Duration::minutes(2));
    palette(&mut app, "open INC-2");
    let s = screen(&app, 200, 40);
    assert!(
        s.contains("found by customer · impact growing · no workaround"),
        "{s}"
    );
}

#[test]
fn lowering_a_sev1_asks_and_every_severity_change_answers_replacing_the_last_message() {
    let mut h = two_incidents();
    let mut app = live_app(&h, t0() + Duration::minutes(2));
    // `+` on a SEV1 cannot go higher.
    assert!(app.update(key('+')).is_empty());
    assert!(status_line(&app, 100, 30).contains("SEV1 is the highest"));
    // `-` on a SEV1 asks.
    assert!(app.update(key('-')).is_empty());
    assert_on(
        &screen(&app, 100, 30),
        &["Lower INC-2 (SEV1 Checkout 500s) to SEV2?  y to lower it"],
    );
    let fx = app.update(key('y'));
    deliver(&mut app, &mut h, "alice", &fx);
    let s = status_line(&app, 100, 30);
    assert!(
        s.contains("INC-2 → SEV2 (was SEV1)") && !s.contains("highest"),
        "{s}"
    );
    // `+` raises without asking, and its answer replaces the message.
    let fx = app.update(key('+'));
    assert_eq!(sent(&fx).len(), 1);
    deliver(&mut app, &mut h, "alice", &fx);
    let s = status_line(&app, 100, 30);
    assert!(s.contains("INC-2 → SEV1 (was SEV2)"), "{s}");
    // `:sev 3` on the SEV1 asks as `-` does; lowering a SEV3 does not.
    assert!(palette(&mut app, "sev 3").is_empty());
    assert_on(
        &screen(&app, 100, 30),
        &["Lower INC-2 (SEV1 Checkout 500s) to SEV3?"],
    );
    app.update(key('q'));
    assert_eq!(
        app.mode,
        Mode::Normal,
        "any other key cancels (q does not quit)"
    );
    assert!(!app.quitting);
    app.update(key('j'));
    assert_eq!(app.selected_incident(), Some(IncidentRef(1)));
    let fx = app.update(key('-'));
    assert_eq!(sent(&fx).len(), 1, "SEV3 → SEV4 goes at once");
    deliver(&mut app, &mut h, "alice", &fx);
    assert!(status_line(&app, 100, 30).contains("INC-1 → SEV4 (was SEV3)"));
    // Every other change from a key or the palette says what it did, too.
    let fx = app.update(key('s'));
    deliver(&mut app, &mut h, "alice", &fx);
    assert!(status_line(&app, 100, 30).contains("INC-1 → identified (was investigating)"));
    let fx = palette(&mut app, "role ic me");
    deliver(&mut app, &mut h, "alice", &fx);
    assert!(
        status_line(&app, 100, 30).contains("INC-1: alice is incident commander"),
        "{}",
        status_line(&app, 100, 30)
    );
    let fx = palette(&mut app, "retitle Search p99 over 2s");
    deliver(&mut app, &mut h, "alice", &fx);
    assert!(
        status_line(&app, 120, 30).contains("INC-1 retitled: Search p99 over 2s (was Search slow)")
    );
    // Closing asks, naming what it closes.
    palette(&mut app, "status closed");
    assert_on(
        &screen(&app, 100, 30),
        &["Close INC-1 (SEV4 Search p99 over 2s)?  y to close"],
    );
}

// ---- 4. fewer keys for what an incident commander does most --------------------------------

fn here(app: &mut App, names: &[&str]) {
    app.update(Msg::Feed(Update::Presence(
        names
            .iter()
            .map(|n| Presence {
                name: n.to_string(),
                since: t0(),
                connections: 1,
                viewing: vec![],
            })
            .collect(),
        0,
    )));
}

/// Presses `keys` (one character each, `\n` for enter, `\t` for tab), counting them.
fn press(app: &mut App, keys: &str) -> (Vec<Effect>, usize) {
    let mut fx = Vec::new();
    for c in keys.chars() {
        fx.extend(app.update(match c {
            '\n' => code(KeyCode::Enter),
            '\t' => code(KeyCode::Tab),
            c => key(c),
        }));
    }
    (fx, keys.chars().count())
}

#[test]
fn taking_ic_handing_a_role_and_declaring_take_few_keys() {
    let mut h = two_incidents();
    let mut app = live_app(&h, t0() + Duration::minutes(2));
    here(&mut app, &["alice", "bob", "marco"]);
    // Taking IC: one key, on the board or in the room.
    let (fx, n) = press(&mut app, "I");
    assert_eq!(n, 1);
    assert_eq!(
        sent(&fx),
        [&Command::AssignRole {
            incident: IncidentRef(2),
            role: Role::IncidentCommander,
            person: "me".into()
        }]
    );
    deliver(&mut app, &mut h, "alice", &fx);
    assert!(status_line(&app, 100, 30).contains("INC-2: alice is incident commander"));
    app.update(key('j'));
    app.update(code(KeyCode::Enter));
    let (fx, n) = press(&mut app, "I");
    assert_eq!(n, 1);
    assert_eq!(sent(&fx).len(), 1);
    deliver(&mut app, &mut h, "alice", &fx);
    assert_on(&screen(&app, 100, 30), &["IC alice"]);

    // Handing a role: A, the role's letter, the name (tab completes who is here), enter.
    let (fx, n) = press(&mut app, "At");
    assert!(fx.is_empty());
    assert_eq!(app.mode, Mode::Palette);
    assert_eq!(app.palette.input, "role tl ");
    assert_eq!(
        app.palette.completions,
        [
            "role tl alice",
            "role tl bob",
            "role tl marco",
            "role tl me"
        ]
    );
    let (_, name) = press(&mut app, "ma\t");
    assert_eq!(app.palette.input, "role tl marco");
    let (fx, enter) = press(&mut app, "\n");
    assert_eq!(
        n + enter,
        3,
        "A, t, enter, plus the name ({name} keys with tab)"
    );
    assert_eq!(
        sent(&fx),
        [&Command::AssignRole {
            incident: IncidentRef(1),
            role: Role::TechLead,
            person: "marco".into()
        }]
    );
    // The question names the incident; any other key leaves it.
    app.update(key('A'));
    assert_on(
        &screen(&app, 100, 30),
        &[
            "Hand which role of INC-1?  i IC  t tech lead  c comms lead  s scribe · other keys cancel",
        ],
    );
    app.update(code(KeyCode::Esc));
    assert_eq!(app.mode, Mode::Normal);

    // Declaring: n, the title, enter; a SEV1 takes a tab for its severity.
    app.update(code(KeyCode::Esc));
    let (fx, n) = press(&mut app, "n\t");
    assert!(fx.is_empty());
    assert_eq!(app.palette.input, "declare sev1 ");
    typed(&mut app, "Ledger drift");
    let (fx, enter) = press(&mut app, "\n");
    assert_eq!(n + enter, 3);
    assert!(matches!(
        sent(&fx)[..],
        [Command::Declare {
            severity: Severity::Sev1,
            ..
        }]
    ));
}

#[test]
fn the_handoff_opens_in_one_key_and_is_accepted_in_two() {
    let mut h = two_incidents();
    h.run(
        "bob",
        Command::AssignRole {
            incident: IncidentRef(2),
            role: Role::IncidentCommander,
            person: "me".into(),
        },
    );
    let mut app = live_app(&h, t0() + Duration::minutes(2));
    let (_, n) = press(&mut app, "h");
    assert_eq!(n, 1);
    assert!(app.handoff.is_some());
    assert_on(
        &screen(&app, 120, 40),
        &["handoff briefing", "enter takes over"],
    );
    // Without schedules nobody is named outgoing: enter says what to type instead.
    let (fx, _) = press(&mut app, "\n");
    assert!(fx.is_empty());
    assert_on(&screen(&app, 160, 40), &[":accept-handoff NAME takes over"]);
    // bob had yesterday's shift, alice has today's: enter asks, y takes over.
    let policy = warroom::model::policy::Policy::parse(
        "[oncall]\ndefault_schedule = \"p\"\n\n[[schedule]]\nname = \"p\"\ntime_zone = \"UTC\"\n\
         rotation = \"1d\"\nhandoff = \"00:00\"\nstart = \"2026-03-09\"\nprimary = [\"bob\", \"alice\"]\n",
    )
    .unwrap();
    app.schedules = warroom::report::handoff::schedules_default_first(&policy);
    let (fx, accept) = press(&mut app, "\n");
    assert!(fx.is_empty());
    assert_eq!(app.mode, Mode::Confirm);
    assert_on(
        &screen(&app, 120, 40),
        &[
            "Take over from bob, incident commander of INC-2?  y to take over",
            "handoff briefing",
        ],
    );
    let (fx, y) = press(&mut app, "y");
    assert_eq!(accept + y, 2);
    assert_eq!(sent(&fx), [&Command::AcceptHandoff { from: "bob".into() }]);
    deliver(&mut app, &mut h, "alice", &fx);
    assert_eq!(
        h.state.incidents[&2].roles[&Role::IncidentCommander],
        "alice"
    );
}

#[test]
fn a_command_typed_from_the_scribe_pane_gives_the_keys_back_to_it() {
    let mut h = two_incidents();
    let mut app = live_app(&h, t0() + Duration::minutes(2));
    app.update(code(KeyCode::Enter));
    app.update(key('i'));
    assert_eq!(app.mode, Mode::Scribe);
    let fx = palette(&mut app, "ack");
    assert_eq!(sent(&fx).len(), 1);
    assert_eq!(app.mode, Mode::Scribe, "back in the scribe pane");
    deliver(&mut app, &mut h, "alice", &fx);
    // Cancelled, too; and after a question, once it is answered.
    app.update(key(':'));
    app.update(code(KeyCode::Esc));
    assert_eq!(app.mode, Mode::Scribe);
    palette(&mut app, "resolve");
    assert_eq!(app.mode, Mode::Confirm);
    app.update(key('n'));
    assert_eq!(app.mode, Mode::Scribe);
    // A command that goes elsewhere takes the keys with it.
    palette(&mut app, "board");
    assert_eq!((app.screen, app.mode), (Screen::Board, Mode::Normal));
}

#[test]
fn service_sets_an_incidents_service_and_its_runbook_follows_it() {
    let mut h = History::new();
    h.run(
        "bob",
        Command::Declare {
            title: "Checkout 500s".into(),
            severity: Severity::Sev2,
            service: None,
            restricted: false,
            detected_by: None,
        },
    );
    let mut app = live_app(&h, t0() + Duration::minutes(2));
    app.update(code(KeyCode::Enter));
    let fx = palette(&mut app, "service payments");
    assert_eq!(
        sent(&fx),
        [&Command::SetService {
            incident: IncidentRef(1),
            service: "payments".into()
        }]
    );
    deliver(&mut app, &mut h, "alice", &fx);
    assert!(status_line(&app, 100, 30).contains("INC-1: service payments (was none)"));
    assert_on(
        &screen(&app, 120, 30),
        &["· payments", "service: payments (was: none)"],
    );
    assert!(palette(&mut app, "ser").is_empty());
    let said = app
        .flash
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_default();
    assert!(
        said.contains("usage: :service NAME"),
        "`:ser` is service alone: {said}"
    );
    // A runbook found by the old service and not begun goes with it; a begun one stays.
    let runbook = warroom::model::runbook::parse_markdown(
        "payments",
        "built-in",
        include_str!("../../assets/runbooks/payments.md"),
    )
    .unwrap();
    h.record(
        "warroom",
        EventKind::RunbookAttached {
            incident: IncidentRef(1),
            runbook,
        },
    );
    h.run(
        "alice",
        Command::SetService {
            incident: IncidentRef(1),
            service: "search".into(),
        },
    );
    assert!(h.state.incidents[&1].runbook.is_none());
    let err = h
        .state
        .decide(
            "alice",
            h.now,
            &Command::SetService {
                incident: IncidentRef(1),
                service: "search".into(),
            },
        )
        .unwrap_err();
    assert!(
        err.message.contains("already about search"),
        "{}",
        err.message
    );
}

// ---- 5. it reads at 80x24 ------------------------------------------------------------------

const LONG: &str = "the connection pool of payments-db is exhausted because deploy 4471 halved \
                    max_connections from 200 to 100 and the retry storm from checkout doubled the \
                    load; see the payments dashboard";

#[test]
fn the_room_reads_at_80x24_long_entries_cut_with_their_lines_counted() {
    let mut h = History::new();
    live_sev1(&mut h);
    h.now = t0() + Duration::seconds(30);
    h.note("lee", 1, EntryKind::Hypothesis, LONG);
    let mut app = live_app(&h, t0() + Duration::seconds(319));
    app.update(Msg::Resize(80, 24));
    app.update(code(KeyCode::Enter));
    let lines = text(&draw(&app, &test_theme(), 80, 24));
    let all = lines.join("\n");
    let row = lines.iter().find(|l| l.contains("hypothesis")).unwrap();
    assert!(
        row.contains("the connection pool of") && row.contains("… +"),
        "{row}"
    );
    assert!(row.trim_end().ends_with("lines│"), "{row}");
    // The header says each fact once.
    assert!(
        lines[1].contains("target 5m: OVERDUE by 19s — not acknowledged"),
        "{all}"
    );
    assert_eq!(
        lines[1].to_lowercase().matches("acknowledged").count(),
        1,
        "{all}"
    );
    // The run is at step 1 until step 2 fires.
    assert_on(&all, &["SEV1 policy · step 1 of 5 · round 1"]);
    // The room's hint line: its main keys.
    assert_on(
        &all,
        &["a ack  + - severity  s status  R resolve  c runbook  :update  esc back"],
    );
    // The whole entry is one key away (its history, with the whole text).
    app.update(key('k'));
    let hyp = app.replica.state.incidents[&1]
        .entries
        .iter()
        .find(|e| e.kind == EntryKind::Hypothesis)
        .unwrap()
        .id;
    for _ in 0..10 {
        if app.selected_entry(IncidentRef(1)) == Some(hyp) {
            break;
        }
        app.update(key('j'));
    }
    assert_eq!(app.selected_entry(IncidentRef(1)), Some(hyp));
    app.update(key('v'));
    assert_eq!(app.mode, Mode::History);
    let whole = text(&draw(&app, &test_theme(), 80, 24)).join(" ");
    assert!(
        whole.contains("see the") && whole.contains("payments dashboard"),
        "{whole}"
    );
    // Once step 2 fires, the run is at step 2.
    app.update(code(KeyCode::Esc));
    let before = h.events.len();
    h.now = t0() + Duration::seconds(300);
    h.record(
        "warroom",
        EventKind::StepFired {
            incident: IncidentRef(1),
            run: h.state.incidents[&1].escalation.as_ref().unwrap().run,
            round: 0,
            step: 1,
            action: StepAction::Page,
            target: "oncall.secondary".into(),
            person: Some("marco".into()),
            due_at: h.now,
            late: false,
        },
    );
    deliver_since(&mut app, &h, before);
    assert_on(
        &screen(&app, 80, 24),
        &["SEV1 policy · step 2 of 5 · round 1"],
    );
}

#[test]
fn a_resolved_room_collapses_what_says_nothing() {
    let mut h = History::new();
    live_sev1(&mut h);
    h.now = t0() + Duration::minutes(20);
    h.run(
        "alice",
        Command::Resolve {
            incident: IncidentRef(1),
        },
    );
    let mut app = live_app(&h, h.now + Duration::minutes(1));
    palette(&mut app, "open INC-1");
    let lines = text(&draw(&app, &test_theme(), 80, 24));
    let all = lines.join("\n");
    // No "NOT ACKNOWLEDGED" on a resolved incident: the target says it was never acked.
    assert!(!all.to_uppercase().contains("NOT ACKN"), "{all}");
    assert_on(&all, &["target 5m: never acknowledged"]);
    // The escalation is one line, the scribe pane one line: the timeline has the rest.
    assert_on(&all, &["stopped 02:20: resolved"]);
    assert!(
        !all.contains("no further pages") && !all.contains("steps 1 paged"),
        "{all}"
    );
    assert_on(
        &all,
        &["Scribe · i tab to write a note on the resolved incident"],
    );
    let timeline_rows = lines.iter().filter(|l| l.starts_with('│')).count();
    assert!(timeline_rows >= 14, "{timeline_rows} rows:\n{all}");
    // Writing opens the pane again.
    app.update(key('i'));
    assert_on(&screen(&app, 80, 24), &["Scribe · enter records"]);
}

fn metrics_of(h: &History) -> warroom::report::metrics::Metrics {
    warroom::report::metrics::compute(&h.state, None, None, &[], None, now7())
}

#[test]
fn the_board_metrics_and_palette_fit_80x24() {
    let h = pressure();
    let mut app = live_app(&h, now7());
    app.update(Msg::Resize(80, 24));
    let lines = text(&draw(&app, &test_theme(), 80, 24));
    assert!(lines[0].contains("enter open  n declare"), "{}", lines[0]);
    // The escalation column never runs into the IC column: a space before it on every row.
    let ic = lines[1].find("IC ").unwrap();
    for l in lines
        .iter()
        .filter(|l| l.contains("INC-") && !l.contains('▶') || l.starts_with('▶'))
    {
        let before: String = l
            .chars()
            .nth(l[..ic].chars().count() - 1)
            .into_iter()
            .collect();
        assert_eq!(before, " ", "{l}");
    }
    // Metrics: the medians where the whole table does not fit.
    let fx = palette(&mut app, "metrics");
    let (id, _) = asked(&fx);
    let metrics = metrics_of(&h);
    app.update(Msg::Feed(Update::Result {
        id,
        result: QueryResult::Metrics {
            metrics: Box::new(metrics),
        },
    }));
    let lines = text(&draw(&app, &test_theme(), 80, 24));
    let all = lines.join("\n");
    assert_on(
        &all,
        &[
            "MTTA",
            "MTTR",
            "medians; a wider terminal shows the means too",
        ],
    );
    // Every line whole: the rate lines wrap rather than run off the screen.
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat = words(&all);
    for l in warroom::report::metrics::rate_lines(&metrics_of(&h)) {
        assert!(
            flat.contains(&words(&l)),
            "'{l}' not whole on screen:\n{all}"
        );
    }
    assert!(lines.iter().all(|l| l.chars().count() == 80));
    let wide = screen(&app, 120, 30);
    assert_on(&wide, &["mean", "median"]);
    // The palette's suggestions scroll through every command.
    app.update(code(KeyCode::Esc));
    app.update(key(':'));
    let n = app.palette.completions.len();
    assert!(n > 30, "{n}");
    for _ in 0..n - 1 {
        app.update(code(KeyCode::BackTab));
    }
    let last = app.palette.completions[n - 1].trim().to_string();
    let all = screen(&app, 80, 24);
    assert_on(&all, &[&format!("{n}/{n} · tab takes"), &last]);
    assert!(
        !all.contains("│ declare"),
        "the first ones scrolled away:\n{all}"
    );
}

#[test]
fn the_incidents_table_keeps_its_columns_apart() {
    let mut h = History::new();
    h.declare("bot", "Checkout 500s", 2, "payments");
    h.run(
        "maximilian-alexander-von-humboldt",
        Command::AssignRole {
            incident: IncidentRef(1),
            role: Role::IncidentCommander,
            person: "me".into(),
        },
    );
    for _ in 0..11 {
        h.declare("bot", "Search slow", 3, "search");
    }
    let table = warroom::cli::incidents_table(&h.state);
    let lines: Vec<&str> = table.lines().collect();
    let title_at = lines[0].find("TITLE").unwrap();
    for l in &lines[1..] {
        let at = l.find("Checkout").or_else(|| l.find("Search")).unwrap();
        assert_eq!(
            l[..at].chars().count(),
            lines[0][..title_at].chars().count(),
            "{table}"
        );
        assert!(l.contains(" SEV"), "{table}");
    }
    assert!(table.contains("maximilian-alexande…"), "{table}");
}

// ---- 6. the demo tells its story -----------------------------------------------------------

#[test]
fn the_demo_says_so_follows_its_incident_and_ends_on_what_to_do_with_it() {
    let mut h = History::new();
    let mut app = live_app(&h, t0());
    app.demo = true;
    assert!(status_line(&app, 80, 24).starts_with(" DEMO "));
    // Monitoring opens the incident: the console on the board goes into its room.
    let before = h.events.len();
    h.record(
        "alertmanager",
        EventKind::Declared {
            incident: IncidentRef(1),
            title: "PaymentsHighErrorRate".into(),
            service: Some("payments".into()),
            severity: Severity::Sev2,
            restricted: false,
            alert_key: Some("am:payments".into()),
        },
    );
    deliver_since(&mut app, &h, before);
    assert_eq!(app.screen, Screen::Room(IncidentRef(1)));
    assert!(app.news.is_empty());
    // A second one while in the room is a notice, not a move.
    let before = h.events.len();
    h.declare("grafana", "Search p99 latency above 2s", 3, "search");
    deliver_since(&mut app, &h, before);
    assert_eq!(app.screen, Screen::Room(IncidentRef(1)));
    assert_on(&screen(&app, 80, 24), &["NEW SEV3  INC-2"]);
    // Back on the board when it is resolved: the console shows it, and says what next.
    app.update(code(KeyCode::Esc));
    let before = h.events.len();
    h.run(
        "priya",
        Command::Resolve {
            incident: IncidentRef(1),
        },
    );
    deliver_since(&mut app, &h, before);
    assert_eq!(app.screen, Screen::Room(IncidentRef(1)));
    for (w, ht) in [(80, 24), (200, 50)] {
        assert_on(
            &screen(&app, w, ht),
            &[
                "NEW SEV3  INC-2",
                "DEMO  INC-1 is resolved: :export md writes its post-mortem draft",
            ],
        );
    }
}
