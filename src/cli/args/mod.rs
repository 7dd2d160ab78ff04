//! The command line as clap reads it: the console's options, the feed options every
//! subcommand that talks to a feed takes, each subcommand with its arguments, and the
//! parsers that turn what a person types into the model's values (with the model's own
//! refusal messages).
//!
//! The parts: `cmd` (the subcommands), `actions` (the actions of `member`, `token`,
//! `store` and `policy`), `serve` (the feed server's options), `parse` (the value parsers).

mod actions;
mod cmd;
mod parse;
mod serve;

use clap::{Args, Parser};

pub use actions::{MemberAction, PolicyAction, StoreAction, TokenAction, TokenPlace};
pub use cmd::Cmd;
pub use serve::ServeArgs;

/// warroom: the terminal incident-commander console and its shared feed.
#[derive(Debug, Parser)]
#[command(name = "warroom", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    /// Console theme: dark, light, high-contrast, or a theme file (overrides the config).
    #[arg(long)]
    pub theme: Option<String>,
    /// Print a commented default config file and exit.
    #[arg(long)]
    pub print_default_config: bool,
    /// Policy file for the local feed this console hosts when no feed is configured
    /// (severity rules, escalation, on-call, runbooks) [default: the built-in policy]. A
    /// feed elsewhere pages by its own.
    #[arg(long, env = "WARROOM_POLICY", value_name = "FILE")]
    pub policy: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub console_log: super::logging::ConsoleLogArgs,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

/// Where the feed is and who you are: the console's options. They may also come before a
/// subcommand that talks to a feed (`warroom --server HOST:PORT incidents`, as scripts have
/// always written it); this is also where the environment is read.
#[derive(Debug, Clone, Default, Args)]
pub struct Global {
    /// Feed address: ws://host:port (path /feed), wss://…, or host:port; a feed run as
    /// several replicas: their addresses separated by commas, tried in turn.
    #[arg(long, help_heading = "Feed", env = "WARROOM_SERVER")]
    pub server: Option<String>,
    /// Your name on the feed [default: your OS user name].
    #[arg(long, help_heading = "Feed", env = "WARROOM_NAME")]
    pub name: Option<String>,
    /// Access token, when the feed requires one.
    #[arg(
        long,
        help_heading = "Feed",
        env = "WARROOM_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// PEM file of CA certificates trusted for wss:// in addition to the system's (a
    /// private CA that signed the feed's certificate).
    #[arg(long, help_heading = "Feed", env = "WARROOM_CA", value_name = "FILE")]
    pub ca: Option<std::path::PathBuf>,
}

/// The same options on each subcommand that talks to a feed, and only there (`serve`,
/// `token` and `policy` have no use for them). Given here they win over those
/// before the subcommand, which win over the environment. The environment is read once, by
/// [`Global`]: were it read here too, `WARROOM_SERVER=a warroom --server b incidents` would
/// go to `a`. `global` carries them down to `member add|remove|list`.
#[derive(Debug, Clone, Default, Args)]
pub struct FeedArgs {
    /// Feed address: ws://host:port (path /feed), wss://…, or host:port; several
    /// replicas separated by commas [env: WARROOM_SERVER] [default: the local feed].
    #[arg(long, help_heading = "Feed", global = true)]
    pub server: Option<String>,
    /// Your name on the feed [env: WARROOM_NAME] [default: your OS user name].
    #[arg(long, help_heading = "Feed", global = true)]
    pub name: Option<String>,
    /// Access token, when the feed requires one [env: WARROOM_TOKEN].
    #[arg(long, help_heading = "Feed", global = true)]
    pub token: Option<String>,
    /// PEM file of CA certificates trusted for wss:// in addition to the system's (a
    /// private CA that signed the feed's certificate) [env: WARROOM_CA].
    #[arg(long, help_heading = "Feed", global = true, value_name = "FILE")]
    pub ca: Option<std::path::PathBuf>,
}

impl Global {
    /// These options with a subcommand's own on top.
    pub fn with(&self, sub: &FeedArgs) -> Global {
        Global {
            server: sub.server.clone().or_else(|| self.server.clone()),
            name: sub.name.clone().or_else(|| self.name.clone()),
            token: sub.token.clone().or_else(|| self.token.clone()),
            ca: sub.ca.clone().or_else(|| self.ca.clone()),
        }
    }
}
