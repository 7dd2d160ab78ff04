//! Console frame cost and memory: an incident room at 200x50 whose timeline holds 100,000
//! entries, beside the same room with 10, drawn into ratatui's TestBackend (everything but
//! the terminal write). Also the resident memory of the loaded replica, and how many frames
//! an idle console draws.
//!
//! Run: `cargo bench --bench render`
//!
//! Smoke run: `WARROOM_BENCH_SMOKE=1 cargo test --bench render` (what `.ci/run` does):
//! every section with a 1,000-entry room and 50 frames, in a debug build, in seconds. Its
//! figures mean nothing; it fails (non-zero exit) if the room is no longer what gets drawn.

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
            title: TITLE.into(),
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
                public: false,
                briefing: None,
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

/// How much each section does: the full benchmark, or the smoke run.
struct Counts {
    smoke: bool,
    /// Entries in the big room's timeline.
    entries: usize,
    /// Frames measured, after `warm_up` frames that are not.
    frames: usize,
    warm_up: usize,
}

impl Counts {
    /// `WARROOM_BENCH_SMOKE` set (to anything but empty or `0`): the smoke run.
    fn from_env() -> Counts {
        let smoke = std::env::var("WARROOM_BENCH_SMOKE").is_ok_and(|v| !v.is_empty() && v != "0");
        if smoke {
            Counts {
                smoke,
                entries: 1_000,
                frames: 50,
                warm_up: 5,
            }
        } else {
            Counts {
                smoke,
                entries: 100_000,
                frames: 2000,
                warm_up: 50,
            }
        }
    }
}

/// The title of the room every frame draws.
const TITLE: &str = "Checkout returns 500s for 40% of requests";

/// Draws `n` frames after `warm_up`, moving the cursor between them; p50, p99 and max ms.
/// Panics unless the frames show the incident's room: timing something else (the board, an
/// error) would measure nothing.
fn frames(app: &mut App, n: usize, warm_up: usize) -> (f64, f64, f64) {
    let (theme, _) = theme::load(Some("dark"), false);
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    let mut times = Vec::with_capacity(n);
    for i in 0..n + warm_up {
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
        if i >= warm_up {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    let screen: String = term
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(
        screen.contains(TITLE) && screen.contains("p99 latency on payments-api"),
        "the frames do not show the incident room and its timeline:\n{}",
        term.backend()
    );
    times.sort_by(|a, b| a.total_cmp(b));
    let p = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    (p(0.5), p(0.99), times[times.len() - 1])
}

fn main() {
    let c = Counts::from_env();
    println!(
        "warroom console render benchmark (200x50 room, TestBackend){}",
        if c.smoke {
            " - smoke run (WARROOM_BENCH_SMOKE): small counts, figures not meaningful"
        } else {
            ""
        }
    );
    let base_rss = rss_kib();
    let mut small = app_for(history(10));
    let (s50, s99, smax) = frames(&mut small, c.frames, c.warm_up);
    let before = rss_kib();
    let t = Instant::now();
    let big_state = history(c.entries);
    let build = t.elapsed();
    let t = Instant::now();
    let mut big = app_for(big_state);
    let load = t.elapsed();
    let after = rss_kib();
    let (b50, b99, bmax) = frames(&mut big, c.frames, c.warm_up);

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
        format!("{} entries", thousands(c.entries)),
        b50,
        b99,
        bmax
    );
    println!();
    println!(
        "p99 ratio {} / 10: {:.2}x · target p99 < 4 ms: {}",
        if c.entries.is_multiple_of(1000) {
            format!("{}k", c.entries / 1000)
        } else {
            c.entries.to_string()
        },
        b99 / s99,
        if b99 < 4.0 { "met" } else { "NOT met" }
    );
    println!(
        "resident memory: {:.1} MiB at start, {:.1} MiB with {} entries loaded (+{:.1} MiB; fold {:.0} ms, snapshot into console {:.0} ms)",
        base_rss as f64 / 1024.0,
        after as f64 / 1024.0,
        thousands(c.entries),
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

/// 100000 -> "100,000".
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
