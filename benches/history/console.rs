//! The console as a person drives it, for `benches/history.rs`: its state machine (keys,
//! the feed's updates, clock ticks), its client performing the effects, its real drawing
//! into a TestBackend; and the sections measured through it (the long room, the archive,
//! the browsing console).

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{FixedOffset, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use warroom::client::{Client, ClientConfig, ConnState, Update};
use warroom::tui::app::{App, Effect, Msg, Screen};
use warroom::tui::keymap::Keymap;
use warroom::tui::{theme, ui};

use super::history::Feed;
use super::{rss_kib, within};

/// The console: its state machine, its client, its real drawing into a TestBackend.
struct Console {
    app: App,
    client: Client,
    term: Terminal<TestBackend>,
    theme: theme::Theme,
    /// Ids of the queries asked and not answered yet.
    waiting: Vec<String>,
}

impl Console {
    async fn join(url: &str) -> Console {
        let mut app = App::new(
            url.into(),
            Keymap::default(),
            Utc::now(),
            FixedOffset::east_opt(0).unwrap(),
            "bench".into(),
        );
        app.update(Msg::Resize(200, 50));
        let mut c = Console {
            app,
            client: Client::start(ClientConfig::new(url, "browser")),
            term: Terminal::new(TestBackend::new(200, 50)).unwrap(),
            theme: theme::load(Some("dark"), false).0,
            waiting: Vec::new(),
        };
        while !c.app.replica.synced {
            c.pump().await;
        }
        c
    }

    fn perform(&mut self, fx: Vec<Effect>) {
        for e in fx {
            match e {
                Effect::Send { id, command } => self.client.send_with_id(id, command),
                Effect::Focus(r) => self.client.focus(r),
                Effect::Resync => self.client.resync(),
                Effect::Query { id, query } => {
                    self.waiting.push(id.clone());
                    self.client.query_with_id(id, query)
                }
                Effect::Export { .. } | Effect::Bell | Effect::Quit => {}
            }
        }
    }

    /// One update from the feed, into the state machine.
    async fn pump(&mut self) {
        let u = within("an update", self.client.next())
            .await
            .expect("the client stopped");
        if let Update::Conn(ConnState::Stopped { reason }) = &u {
            panic!("{reason}");
        }
        if let Update::Result { id, .. } | Update::QueryFailed { id, .. } = &u {
            self.waiting.retain(|w| w != id);
        }
        let fx = self.app.update(Msg::Feed(u));
        self.perform(fx);
    }

    /// Until every query asked is answered.
    async fn settle(&mut self) {
        while !self.waiting.is_empty() {
            self.pump().await;
        }
    }

    fn key(&mut self, code: KeyCode) {
        let fx = self
            .app
            .update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
        self.perform(fx);
    }

    /// A palette line typed and entered, as a person does (`:open INC-7`).
    fn palette(&mut self, line: &str) {
        self.key(KeyCode::Char(':'));
        for ch in line.chars() {
            self.key(KeyCode::Char(ch));
        }
        self.key(KeyCode::Enter);
    }

    /// Draws a frame; returns the screen's text.
    fn draw(&mut self) -> String {
        let (app, theme) = (&self.app, &self.theme);
        self.term
            .draw(|f| ui::render(app, theme, f.area(), f.buffer_mut()))
            .unwrap();
        self.app.dirty = false;
        let buf = self.term.backend().buffer();
        buf.content().iter().map(|c| c.symbol()).collect()
    }

    fn tick(&mut self) {
        let fx = self.app.update(Msg::Tick(Utc::now()));
        self.perform(fx);
    }
}

/// `:open` on the long incident until its first page is drawn, `n` times (back to the
/// board between): each time from the key to the frame.
pub(crate) async fn open_long_room(url: &str, feed: &Feed, n: usize) -> Vec<Duration> {
    let mut c = Console::join(url).await;
    let mut times = Vec::new();
    for _ in 0..n {
        let start = Instant::now();
        c.palette(&format!("open {}", feed.big));
        assert_eq!(c.app.screen, Screen::Room(feed.big));
        assert!(!c.waiting.is_empty(), "opening the room asks the feed");
        c.settle().await;
        let screen = c.draw();
        times.push(start.elapsed());
        assert!(
            screen.contains("Checkout latency storm"),
            "the room is drawn:\n{}",
            c.term.backend()
        );
        c.key(KeyCode::Esc);
        c.draw();
    }
    times
}

/// The archive in the console: `r` (every resolved incident, newest first) and a search
/// by words, each from the key to its first page drawn, `n` times.
pub(crate) async fn archive(url: &str, feed: &Feed, n: usize) -> (Vec<Duration>, Vec<Duration>) {
    let (mut browse, mut search) = (Vec::new(), Vec::new());
    for _ in 0..n {
        // A console of its own each time: `r` shows the last search a console made.
        let mut c = Console::join(url).await;
        let start = Instant::now();
        c.key(KeyCode::Char('r'));
        assert_eq!(c.app.screen, Screen::Archive);
        c.settle().await;
        let screen = c.draw();
        browse.push(start.elapsed());
        if feed.archived > 0 {
            let newest = format!("INC-{}", feed.archived);
            assert!(screen.contains(&newest), "{newest}:\n{}", c.term.backend());
        }
        let start = Instant::now();
        c.palette("archive double-charges failover");
        c.settle().await;
        let screen = c.draw();
        search.push(start.elapsed());
        if let Some(needle) = feed.needle {
            assert!(
                screen.contains(&needle.to_string()),
                "{needle}:\n{}",
                c.term.backend()
            );
        }
    }
    (browse, search)
}

/// The browsing console, in a process of its own: joins, opens `rooms` rooms in turn
/// (every tenth the long one, two in ten another active one, the rest archived ones),
/// scrolls each back `pages` pages, then goes back to the board. Prints its resident
/// memory after the join and at the end, and what it still holds.
pub(crate) async fn browse(url: &str, feed: &Feed, rooms: usize, pages: usize) {
    let me = std::process::id();
    let mut c = Console::join(url).await;
    c.draw();
    let joined = rss_kib(me);
    let mut rng = fastrand::Rng::with_seed(7);
    let mut peak = joined;
    for i in 0..rooms {
        let r = match i % 10 {
            0 => feed.big.0,
            1 | 2 => feed.big.0 + rng.u32(0..feed.active),
            _ if feed.archived > 0 => rng.u32(1..=feed.archived),
            _ => feed.big.0 + rng.u32(0..feed.active),
        };
        c.palette(&format!("open INC-{r}"));
        c.settle().await;
        c.draw();
        for _ in 0..pages {
            c.key(KeyCode::Home);
            c.settle().await;
            c.draw();
        }
        c.key(KeyCode::Esc);
        c.tick();
        c.draw();
        peak = peak.max(rss_kib(me));
    }
    c.tick();
    c.draw();
    let held = &c.app.replica.state;
    let entries: usize = held.incidents.values().map(|i| i.entries.len()).sum();
    println!(
        "browsed joined_kib={joined} after_kib={} peak_kib={peak} incidents={} entries={entries} \
         rooms={} timelines={}",
        rss_kib(me),
        held.incidents.len(),
        c.app.rooms.len(),
        c.app.timelines.len()
    );
}

/// Runs this bench again as the browsing console; returns what it printed.
pub(crate) fn browse_in_child(url: &str, cached: &Path) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env("WARROOM_BENCH_BROWSE", url)
        .env("WARROOM_BENCH_FEED", cached)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "the browsing console failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find(|l| l.starts_with("browsed "))
        .unwrap_or_else(|| panic!("no figures from the browsing console: {text}"))
        .to_string()
}
