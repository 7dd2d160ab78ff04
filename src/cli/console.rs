//! Starting the console: where this machine's feed and data live (the local feed's address,
//! the data directory, the outbox), the console's settings layered from defaults, config
//! file, environment and flags, and the local feed a console hosts when nobody else does.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};

use super::admin::load_policy_with_source;
use super::args::Global;
use crate::client::{DEFAULT_ADDR, feed_url, feed_urls};

/// The default local feed's address: `WARROOM_LOCAL_FEED`, else 127.0.0.1:7654.
pub fn local_feed_addr() -> String {
    std::env::var("WARROOM_LOCAL_FEED")
        .ok()
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ADDR.to_string())
}

/// The platform data directory for the event log (`WARROOM_DATA_DIR` overrides it).
pub fn default_data_dir() -> anyhow::Result<std::path::PathBuf> {
    if let Some(d) = std::env::var_os("WARROOM_DATA_DIR") {
        return Ok(d.into());
    }
    directories::ProjectDirs::from("", "", "warroom")
        .map(|p| p.data_dir().to_path_buf())
        .context(
            "no home directory to keep the event log in: pass --data DIR or set WARROOM_DATA_DIR",
        )
}

/// Everything the console reads from the config file, the theme file and the environment,
/// with the flags on top. Problems are collected as warnings; defaults stand in.
pub struct ConsoleSetup {
    pub server: Option<String>,
    pub name: String,
    pub token: Option<String>,
    pub theme: crate::tui::theme::Theme,
    pub keymap: crate::tui::keymap::Keymap,
    /// Ring the bell for a new SEV1 or SEV2 (the config's `bell`, on by default).
    pub bell: bool,
    pub warnings: Vec<String>,
}

/// Layers defaults, the config file, the environment and the flags (in that order).
pub fn console_setup(global: &Global, theme_flag: Option<&str>) -> ConsoleSetup {
    use crate::tui::{config, keymap::Keymap, theme};
    let path = config::default_path();
    let (cfg, mut warnings) = config::load(path.as_deref());
    let (keymap, key_warnings) = Keymap::with_overrides(&cfg.keys);
    let file = path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "config".into());
    warnings.extend(key_warnings.into_iter().map(|w| format!("{file}: {w}")));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let (theme, theme_warnings) = theme::load(theme_flag.or(cfg.theme.as_deref()), no_color);
    warnings.extend(theme_warnings);
    let mut global = global.clone();
    if global.name.is_none() {
        global.name = cfg.name.clone();
    }
    ConsoleSetup {
        server: global.server.clone().or(cfg.server),
        name: global.who(),
        token: global.token.clone().or(cfg.token),
        theme,
        keymap,
        bell: cfg.bell.unwrap_or(true),
        warnings,
    }
}

/// Where a console keeps commands it could not send yet, per feed and person.
pub fn outbox_dir(url: &str, name: &str) -> Option<std::path::PathBuf> {
    let safe: String = format!("{url}-{name}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    default_data_dir().ok().map(|d| d.join("outbox").join(safe))
}

/// `warroom` with no subcommand: the console on the configured feed, or on the default
/// local feed, hosting it here when nobody else does.
pub async fn console(
    global: &Global,
    theme_flag: Option<&str>,
    policy: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let mut setup = console_setup(global, theme_flag);
    let (urls, local_feed) = match &setup.server {
        Some(s) => {
            let urls = feed_urls(s).map_err(|e| anyhow!(e))?;
            if setup.token.is_none() {
                setup.token = global.local_token(&urls[0]);
            }
            (urls, None)
        }
        None => {
            let local = local_feed_addr();
            let addr: std::net::SocketAddr = local.parse().with_context(|| {
                format!("WARROOM_LOCAL_FEED '{local}' is not an address like 127.0.0.1:7654")
            })?;
            if !addr.ip().is_loopback() {
                bail!(
                    "WARROOM_LOCAL_FEED must be a loopback address (the embedded feed is for this machine only), got {addr}"
                );
            }
            let data = default_data_dir()?;
            // The local feed admits this machine's account by its own token, made on the
            // first run (mode 0600): no set-up, and other accounts on the machine stay out.
            match crate::server::auth::ensure_local_token(&data) {
                Ok(t) => {
                    if setup.token.is_none() {
                        setup.token = t;
                    }
                }
                Err(e) => setup
                    .warnings
                    .push(format!("the local feed's token could not be made: {e:#}")),
            }
            let mut host = crate::server::ServerConfig::new(addr, data);
            let (rules, source) = load_policy_with_source(policy)?;
            host.rules = std::sync::Arc::new(rules);
            host.policy_source = source;
            let taken = tokio::time::timeout(
                Duration::from_millis(500),
                tokio::net::TcpStream::connect(addr),
            )
            .await
            .is_ok_and(|r| r.is_ok());
            let mut feed = HostedFeed {
                config: Some(host),
                running: None,
            };
            if !taken {
                // Another console may win the race to bind; then we simply join it.
                crate::tui::LocalFeed::take_over(&mut feed).await;
            }
            let feed: Box<dyn crate::tui::LocalFeed> = Box::new(feed);
            (vec![feed_url(&local).map_err(|e| anyhow!(e))?], Some(feed))
        }
    };
    let mut urls = urls.into_iter();
    let url = urls.next().unwrap_or_default();
    let fallbacks: Vec<String> = urls.collect();
    crate::tui::run(crate::tui::ConsoleOptions {
        outbox: outbox_dir(&url, &setup.name),
        tls: global.tls_for(&[vec![url.clone()], fallbacks.clone()].concat())?,
        url,
        fallbacks,
        name: setup.name,
        token: setup.token,
        theme: setup.theme,
        keymap: setup.keymap,
        warnings: setup.warnings,
        local_feed,
        bell: setup.bell,
        demo: false,
    })
    .await
}

/// The local feed as a console hosts it: how to start it, and the server while this
/// console runs it.
pub struct HostedFeed {
    /// `None`: a feed that is not hosted again once it stops (the demo's).
    config: Option<crate::server::ServerConfig>,
    running: Option<crate::server::RunningServer>,
}

impl HostedFeed {
    /// A feed already running here, for this console's lifetime only.
    pub fn running(server: crate::server::RunningServer) -> HostedFeed {
        HostedFeed {
            config: None,
            running: Some(server),
        }
    }
}

impl crate::tui::LocalFeed for HostedFeed {
    fn hosting(&self) -> bool {
        self.running.is_some()
    }

    fn take_over(
        &mut self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let Some(config) = &self.config else { return };
            if let Ok(server) = crate::server::start(config.clone()).await {
                tracing::info!("now hosting the local feed at {}", server.url());
                self.running = Some(server);
            }
        })
    }

    fn stop(self: Box<Self>) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(async move {
            if let Some(server) = self.running {
                let _ = server.shutdown().await;
            }
        })
    }
}
