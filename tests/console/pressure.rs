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
