//! The console: a full-screen terminal war room on the shared feed.
//!
//! One event loop (`tokio::select!` over terminal events, the feed connection and a
//! one-second tick) feeds [`app::App::update`], a pure state machine; the loop performs the
//! effects it returns and draws ([`render::render`]) only when something on screen changed.
//!
//! The parts: [`app`] (the state and the dispatch of keys and feed updates), [`commands`]
//! (the command table that keys, the palette, completion and help are generated from),
//! [`actions`] (what keys and palette lines do), [`feed`] (what the feed's updates do),
//! [`layout`] (where things go, for drawing and scrolling alike), [`render`] (the root of
//! drawing), [`screens`] (one file per screen: state, keys, drawing), and the helpers:
//! [`keymap`], [`config`], [`theme`], [`text`], [`paste`], [`scribe`], [`export`].

pub mod actions;
pub mod app;
pub mod commands;
pub mod config;
pub mod export;
pub mod feed;
pub mod keymap;
pub mod layout;
pub mod paste;
pub mod render;
pub mod screens;
pub mod scribe;
pub mod submit;
pub mod text;
pub mod theme;

/// The root drawing under the name it had before the screens had files of their own.
pub mod ui {
    pub use super::render::render;
}

/// The handoff briefing's screen under the name it had before the screens had files of
/// their own; its `render` draws the whole console, the briefing over it while open.
pub mod handoff_view {
    pub use super::render::render;
    pub use super::screens::handoff::{HandoffView, Outcome, briefing, extent, key};
}

use std::future::Future;
use std::io::{Stdout, stdout};
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use anyhow::Context;
use crossterm::event::{
    DisableBracketedPaste, EnableBracketedPaste, Event as TermEvent, EventStream, KeyEventKind,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use crate::client::{Client, ClientConfig, ConnState};
use crate::clock::{Clock, SystemClock};
use app::{App, Effect, Msg};
use keymap::Keymap;
use theme::Theme;

/// Everything the console needs to start.
pub struct ConsoleOptions {
    pub url: String,
    /// The feed's other replicas, tried in turn when the one in use fails.
    pub fallbacks: Vec<String>,
    pub name: String,
    pub token: Option<String>,
    pub theme: Theme,
    pub keymap: Keymap,
    /// Where queued commands wait on disk.
    pub outbox: Option<PathBuf>,
    /// Problems with the config or theme files, shown when the console opens.
    pub warnings: Vec<String>,
    /// The local feed, when this console relies on it: hosted here now, or to be hosted
    /// here if it goes away.
    pub local_feed: Option<Box<dyn LocalFeed>>,
    /// What a `wss://` feed is trusted with (`--ca`); `None`: the system's roots.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// Ring the terminal's bell for a new SEV1 or SEV2 and a page to this person.
    pub bell: bool,
    /// `warroom demo`: the console says so, follows the story's incident into its room and
    /// says what to do once it is resolved.
    pub demo: bool,
}

/// A feed on this machine that the console can host: the binary provides it (the console
/// knows nothing of servers), and the console asks for it when the feed it was on went away.
pub trait LocalFeed: Send {
    /// Whether this console hosts the feed now.
    fn hosting(&self) -> bool;
    /// Tries to host the feed here (another console may have taken it over first).
    fn take_over(&mut self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
    /// Stops the feed if this console hosts it; called once, when the console quits.
    fn stop(self: Box<Self>) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// Restores the terminal on every way out: normal quit, error, and panic.
struct TerminalGuard;

fn restore_terminal() {
    if let Err(e) = disable_raw_mode() {
        tracing::warn!("restoring the terminal: {e}");
    }
    if let Err(e) = execute!(
        stdout(),
        DisableBracketedPaste,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    ) {
        tracing::warn!("restoring the terminal: {e}");
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
    }));
}

fn setup_terminal() -> anyhow::Result<(Terminal<CrosstermBackend<Stdout>>, TerminalGuard)> {
    install_panic_hook();
    enable_raw_mode().context("the console needs a terminal (raw mode could not be enabled)")?;
    let guard = TerminalGuard;
    execute!(stdout(), EnterAlternateScreen, EnableBracketedPaste)
        .context("preparing the terminal")?;
    let terminal =
        Terminal::new(CrosstermBackend::new(stdout())).context("opening the terminal")?;
    Ok((terminal, guard))
}

/// Runs the console until the person quits.
pub async fn run(mut opts: ConsoleOptions) -> anyhow::Result<()> {
    let mut cfg = ClientConfig::new(opts.url.clone(), opts.name.clone());
    cfg.fallbacks = opts.fallbacks.clone();
    cfg.token = opts.token.clone();
    cfg.outbox = opts.outbox.clone();
    cfg.tls = opts.tls.clone();
    // Exports are asked of the feed on this connection; results come back here.
    let (exported_tx, mut exported_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut client = Client::start(cfg);
    let clock = SystemClock;
    let session = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    let mut app = App::new(
        opts.url.clone(),
        opts.keymap.clone(),
        clock.now(),
        crate::clock::Zone::Local,
        session,
    );
    app.bell = opts.bell;
    app.demo = opts.demo;
    if !opts.warnings.is_empty() {
        for w in &opts.warnings {
            tracing::warn!("{w}");
        }
        for w in &opts.warnings {
            app.show_warning(w.clone());
        }
    }

    let (mut terminal, _guard) = setup_terminal()?;
    if let Ok(size) = terminal.size() {
        app.update(Msg::Resize(size.width, size.height));
    }
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut feed_open = true;
    // Taking over the local feed is tried once per reconnect attempt, not on every event.
    let mut last_host_attempt: Option<u32> = None;
    // SIGTERM or SIGHUP (the terminal went away) end the console cleanly, terminal restored.
    #[cfg(unix)]
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        if app.dirty {
            terminal
                .draw(|f| render::render(&app, &opts.theme, f.area(), f.buffer_mut()))
                .context("drawing")?;
            app.dirty = false;
        }
        if app.quitting {
            break;
        }
        let msg = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(TermEvent::Key(k))) if k.kind == KeyEventKind::Press => Msg::Key(k),
                Some(Ok(TermEvent::Paste(s))) => Msg::Paste(s),
                Some(Ok(TermEvent::Resize(w, h))) => Msg::Resize(w, h),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e).context("reading the terminal"),
                None => break,
            },
            u = client.next(), if feed_open => match u {
                Some(u) => Msg::Feed(u),
                None => { feed_open = false; continue; }
            },
            _ = tick.tick() => Msg::Tick(clock.now()),
            Some(m) = exported_rx.recv() => m,
            _ = signalled(&mut terminate, &mut hangup) => break,
        };
        let mut fx = app.update(msg);
        // Coalesce: take every update already waiting before drawing once.
        while let Some(u) = client.try_next() {
            fx.extend(app.update(Msg::Feed(u)));
        }
        // One bell for everything that came at once.
        let mut rang = false;
        for effect in fx {
            if effect == Effect::Bell {
                if rang {
                    continue;
                }
                rang = true;
            }
            perform(&client, effect, &exported_tx);
        }
        let attempt = match app.conn {
            ConnState::Reconnecting { attempt, .. } => Some(attempt),
            _ => None,
        };
        if attempt.is_some()
            && attempt != last_host_attempt
            && let Some(local) = opts.local_feed.as_mut()
            && !local.hosting()
        {
            last_host_attempt = attempt;
            // The local feed went away with the console that hosted it: host it here.
            local.take_over().await;
        }
    }
    drop(terminal);
    drop(client);
    if let Some(local) = opts.local_feed {
        let _ = tokio::time::timeout(Duration::from_secs(5), local.stop()).await;
    }
    Ok(())
}

#[cfg(unix)]
async fn signalled(
    a: &mut Option<tokio::signal::unix::Signal>,
    b: &mut Option<tokio::signal::unix::Signal>,
) {
    async fn one(s: &mut Option<tokio::signal::unix::Signal>) {
        match s {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    }
    tokio::select! {
        _ = one(a) => {},
        _ = one(b) => {},
    }
}

fn perform(client: &Client, effect: Effect, exported: &tokio::sync::mpsc::UnboundedSender<Msg>) {
    match effect {
        Effect::Send { id, command } => client.send_with_id(id, command),
        Effect::Focus(r) => client.focus(r),
        Effect::Resync => client.resync(),
        Effect::Query { id, query } => client.query_with_id(id, query),
        Effect::Export {
            incident,
            format,
            file,
        } => {
            let answer = client.ask(crate::protocol::Query::Export { incident, format });
            let done = exported.clone();
            tokio::spawn(async move {
                let result = match std::env::current_dir() {
                    Ok(dir) => export::write_export(answer, &dir, &file).await,
                    Err(e) => Err(format!("no current directory to write {file} in: {e}")),
                };
                // The console may have quit meanwhile; then nobody needs the answer.
                let _ = done.send(Msg::Exported { incident, result });
            });
        }
        Effect::Bell => {
            use std::io::Write;
            let mut out = stdout();
            if let Err(e) = out.write_all(b"\x07").and_then(|()| out.flush()) {
                tracing::warn!("ringing the bell: {e}");
            }
        }
        Effect::Quit => {}
    }
}
