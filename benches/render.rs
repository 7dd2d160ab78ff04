//! Console frame cost and memory: an incident room at 200x50 whose timeline holds 100,000
//! entries, beside the same room with 10, drawn into ratatui's TestBackend (everything but
//! the terminal write). Also the resident memory of the loaded replica, and how many frames
//! an idle console draws.
//!
//! Run: `cargo bench --bench render`

use std::time::Instant;

use chrono::{Duration, FixedOffset, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use warroom::client::{ConnState, Update};
use warroom::model::{EntryKind, Event, EventKind, IncidentRef, Severity, State};
use warroom::tui::app::{App, Msg};
use warroom::tui::keymap::Keymap;
use warroom::tui::{theme, ui};

fn history(entries: usize) -> State {
    let t0 = Utc.with_ymd_and_hms(2026, 3, 10, 2, 0, 0).unwrap();
    let mut s = State::default();
    let mut seq = 0;
    let mut ev = |kind: EventKind, at| {
        seq += 1;
        Event {
            seq,
            at,
            actor: format!("scribe-{}", seq % 7),
            kind,
        }
    };
    let d = ev(
        EventKind::Declared {
            incident: IncidentRef(1),
            title: "Checkout returns 500s for 40% of requests".into(),
            service: Some("payments".into()),
            severity: Severity::Sev1,
            restricted: false,
            alert_key: None,
        },
        t0,
    );
    s.apply(&d).unwrap();
    for i in 0..entries {
        let at = t0 + Duration::seconds(i as i64);
        let e = ev(
            EventKind::EntryAdded {
                incident: IncidentRef(1),
                entry_kind: [
                    EntryKind::Note,
                    EntryKind::Decision,
                    EntryKind::Action,
                    EntryKind::Hypothesis,
                ][i % 4],
                text: format!(
                    "entry {i}: p99 latency on payments-api at {} ms, pool at {}%",
                    900 + i % 300,
                    60 + i % 40
                ),
                occurred_at: at,
                next_update_secs: None,
            },
            at,
        );
        s.apply(&e).unwrap();
    }
    s
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn app_for(state: State) -> App {
    let now = Utc.with_ymd_and_hms(2026, 3, 11, 2, 0, 0).unwrap();
    let mut app = App::new(
        "ws://127.0.0.1:7654/feed".into(),
        Keymap::default(),
        now,
        FixedOffset::east_opt(0).unwrap(),
        "bench".into(),
    );
    app.update(Msg::Resize(200, 50));
    app.update(Msg::Feed(Update::Snapshot(state)));
    app.update(Msg::Feed(Update::Synced(0)));
    app.update(Msg::Feed(Update::Conn(ConnState::Live)));
    app.update(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    app
}

fn frames(app: &mut App, n: usize) -> (f64, f64, f64) {
    let (theme, _) = theme::load(Some("dark"), false);
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    let mut times = Vec::with_capacity(n);
    for i in 0..n + 50 {
        // Move the cursor so frames differ, as they do while someone scrolls.
        let k = if (i / 20) % 2 == 0 {
            KeyCode::Up
        } else {
            KeyCode::Down
        };
        app.update(Msg::Key(KeyEvent::new(k, KeyModifiers::NONE)));
        let start = Instant::now();
        term.draw(|f| ui::render(app, &theme, f.area(), f.buffer_mut()))
            .unwrap();
        if i >= 50 {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let p = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    (p(0.5), p(0.99), times[times.len() - 1])
}

fn main() {
    println!("warroom console render benchmark (200x50 room, TestBackend)");
    let base_rss = rss_kib();
    let mut small = app_for(history(10));
    let (s50, s99, smax) = frames(&mut small, 2000);
    let before = rss_kib();
    let t = Instant::now();
    let big_state = history(100_000);
    let build = t.elapsed();
    let t = Instant::now();
    let mut big = app_for(big_state);
    let load = t.elapsed();
    let after = rss_kib();
    let (b50, b99, bmax) = frames(&mut big, 2000);

    println!();
    println!(
        "{:<28} {:>10} {:>10} {:>10}",
        "timeline", "p50 ms", "p99 ms", "max ms"
    );
    println!(
        "{:<28} {:>10.3} {:>10.3} {:>10.3}",
        "10 entries (baseline)", s50, s99, smax
    );
    println!(
        "{:<28} {:>10.3} {:>10.3} {:>10.3}",
        "100,000 entries", b50, b99, bmax
    );
    println!();
    println!(
        "p99 ratio 100k / 10: {:.2}x · target p99 < 4 ms: {}",
        b99 / s99,
        if b99 < 4.0 { "met" } else { "NOT met" }
    );
    println!(
        "resident memory: {:.1} MiB at start, {:.1} MiB with 100,000 entries loaded (+{:.1} MiB; fold {:.0} ms, snapshot into console {:.0} ms)",
        base_rss as f64 / 1024.0,
        after as f64 / 1024.0,
        after.saturating_sub(before) as f64 / 1024.0,
        build.as_secs_f64() * 1e3,
        load.as_secs_f64() * 1e3
    );

    // Idle: a minute of clock ticks. With nothing moving on screen, nothing is drawn.
    let mut idle = app_for(State::default());
    let mut draws = 0;
    let now = Utc.with_ymd_and_hms(2026, 3, 11, 2, 0, 0).unwrap();
    idle.dirty = false;
    for s in 1..=60 {
        idle.update(Msg::Tick(now + Duration::seconds(s)));
        if idle.dirty {
            draws += 1;
            idle.dirty = false;
        }
    }
    let mut ticking = big;
    ticking.dirty = false;
    let mut tick_draws = 0;
    for s in 1..=60 {
        ticking.update(Msg::Tick(now + Duration::seconds(s)));
        if ticking.dirty {
            tick_draws += 1;
            ticking.dirty = false;
        }
    }
    println!(
        "frames drawn in 60 idle seconds: {draws} with no active incident (the board clock turns once a minute), {tick_draws} with an active one (ages tick once a second)"
    );
}
