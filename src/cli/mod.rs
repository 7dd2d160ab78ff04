//! The binary's commands. Subcommands for scripts and bots: the same operations as the
//! console, over the same protocol. Each connects, waits until it is in sync, does one thing,
//! and exits non-zero with the server's reason when the server refuses. And the console's
//! start-up.
//!
//! The parts: `args` (the command line, as clap reads it), `session` (connecting and
//! sending one command), `commands` (the incident commands), `reads` (incidents, events,
//! metrics), `admin` (tokens, policy files, on call, members), `store` (copying an event log), `console` (starting the
//! console and the local feed it may host), `time` (times as people type them).

mod admin;
mod args;
mod commands;
mod console;
mod feed_notes;
mod logging;
mod reads;
mod session;
mod store;
pub mod time;

pub use admin::{
    load_policy, load_policy_with_source, members_table, oncall, oncall_text, policy, token,
    tokens_table,
};
pub use args::{
    Cli, Cmd, FeedArgs, Global, MemberAction, PolicyAction, ServeArgs, StoreAction, TokenAction,
    TokenPlace,
};
pub use commands::run_client;
pub use console::{
    ConsoleSetup, HostedFeed, console, console_setup, default_data_dir, local_feed_addr, outbox_dir,
};
pub use logging::{
    ConsoleLogArgs, LogFormat, LogSetup, OpsArgs, RotatingFile, console_log_path, init_logging,
};
pub use reads::{event_line, incidents_table};
pub use store::store;
