//! The actions of the subcommands that have their own: `member`, `token` (and where it
//! finds a feed's tokens), `store` and `policy`.

use clap::{Args, Subcommand};

use super::parse::{parse_access, parse_ref};
use crate::model::IncidentRef;
use crate::protocol::Access;

#[derive(Debug, Subcommand)]
pub enum MemberAction {
    /// Let NAME (`me` for yourself) see a restricted incident. Admins only (on a feed
    /// without tokens, its members).
    Add {
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
        #[arg(value_name = "NAME")]
        person: String,
    },
    /// Stop NAME (`me` for yourself) seeing a restricted incident. Admins only (on a feed
    /// without tokens, its members).
    Remove {
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
        #[arg(value_name = "NAME")]
        person: String,
    },
    /// Print a restricted incident's members, one per line, with when each was let in.
    List {
        #[arg(value_parser = parse_ref)]
        incident: IncidentRef,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Make a token for NAME and print it, once: only its hash is kept.
    Add {
        /// The person (their name on the feed).
        name: String,
        /// viewer (reads), responder (acts on incidents) or admin (everything).
        #[arg(long, value_parser = parse_access)]
        role: Access,
        #[command(flatten)]
        place: TokenPlace,
    },
    /// Who has a token: name, role, when it was made, whether it is revoked (never the
    /// token itself).
    List {
        #[command(flatten)]
        place: TokenPlace,
    },
    /// Revoke NAME's token: refused at its next handshake; live sessions are closed.
    Revoke {
        name: String,
        #[command(flatten)]
        place: TokenPlace,
    },
}

impl TokenAction {
    pub fn place(&self) -> &TokenPlace {
        match self {
            TokenAction::Add { place, .. }
            | TokenAction::List { place }
            | TokenAction::Revoke { place, .. } => place,
        }
    }
}

/// Where `warroom token` finds a feed's tokens: its data directory, or the PostgreSQL
/// database of a feed run with `warroom serve --store URL` (its replicas share them).
#[derive(Debug, Clone, Args)]
pub struct TokenPlace {
    /// The feed's data directory [default: the platform data directory].
    #[arg(long)]
    pub data: Option<std::path::PathBuf>,
    /// The feed's PostgreSQL database (as `warroom serve --store` names it), for a feed
    /// whose replicas share their tokens there; WARROOM_STORE when neither this nor --data
    /// is given.
    #[arg(long, value_name = "URL", conflicts_with = "data")]
    pub store: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum StoreAction {
    /// Copy a feed's SQLite log (events, command answers, its feed id) into an empty
    /// PostgreSQL database, build its indexes there and check it reads back the same; all
    /// or nothing. Stop the feed first; then serve with --store URL.
    Copy {
        /// The feed's data directory (the one holding events.db).
        #[arg(long, value_name = "DIR")]
        from: std::path::PathBuf,
        /// The PostgreSQL database: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE.
        #[arg(
            long,
            value_name = "URL",
            env = "WARROOM_STORE",
            hide_env_values = true
        )]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyAction {
    /// Validate a policy file; every problem is listed with its line.
    Check { file: std::path::PathBuf },
    /// Print the default policy (a starting point for your own).
    Print,
}
