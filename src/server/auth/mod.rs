//! Who may join a feed, as whom, and what they may do.
//!
//! A token names a person and their role (viewer, responder or admin). Tokens come from:
//!
//! - the **token store**, `tokens.json` in the server's data directory (mode 0600), written by
//!   `warroom token add|revoke` and holding only each token's SHA-256. The server re-reads it
//!   when it changes: at every handshake, and every [`ServerConfig::token_check_every`]
//!   (live sessions of a revoked token are then closed).
//! - `--token-file FILE`: `name token [role]` lines, read once at start (role: responder).
//! - on a shared PostgreSQL log (`warroom serve --store URL`), the **database's tokens**
//!   too, written by `warroom token add|revoke --store URL`, the same for every replica:
//!   each replica reads them again when a change is notified, when a handshake brings a
//!   token it does not know, and every second, closing the sessions of a token revoked on
//!   any of them. A replica's `tokens.json` still counts there, on that replica alone.
//!
//! A feed with neither, listening on loopback, is open: the `hello`'s name is who a
//! connection acts as, and it may do everything.
//!
//! The embedded local feed keeps an admin token for this machine's account in the store
//! (flagged `local`) and its plaintext in `local-token` (mode 0600) beside it: consoles and
//! scripts of the same account read it from there. A local token acts under the name the
//! client gives, as everyone did on the open local feed.
//!
//! [`ServerConfig::token_check_every`]: super::ServerConfig::token_check_every
//!
//! Here: the constants every part shares. Beside it: hashing and comparing tokens (`hash`),
//! the `--token-file` table (`file`), the token store and `warroom token add|revoke|list`
//! (`store`), the same in the database and a replica's copy of them (`database`), the local
//! account's token (`local`), and the live view the server checks handshakes and sessions
//! against, re-read when the store changes (`live`).

mod database;
mod file;
mod hash;
mod live;
mod local;
mod store;

pub use database::{DatabaseTokens, TOKENS_CHANNEL};
pub(crate) use database::{SharedTokens, first_read, spawn_token_reader};
pub use file::TokenTable;
pub(super) use hash::constant_time_eq;
pub use hash::new_token;
pub(crate) use live::{Auth, Identity, TokenSource};
pub use local::{ensure_local_token, ensure_local_token_at, read_local_token};
pub use store::{
    StoredToken, TokenStore, add_token, add_token_at, list_tokens, revoke_token, revoke_token_at,
};

/// Shortest token accepted in a token file, so a guessable one is refused at start-up.
pub const MIN_TOKEN_LEN: usize = 16;
/// The token store's file in the data directory.
pub const STORE_FILE: &str = "tokens.json";
/// The local account's token, in plain text, in the data directory.
pub const LOCAL_TOKEN_FILE: &str = "local-token";
/// The name the local account's token is listed under.
pub const LOCAL_NAME: &str = "local";
/// Taken (flock) while the store is read and rewritten, so two writers do not lose updates.
const LOCK_FILE: &str = "tokens.lock";
const STORE_VERSION: u32 = 1;

/// What a viewer is told when they try to change something.
pub const MEMBERSHIP_REFUSAL: &str =
    "only an admin adds or removes the members of a restricted incident";
const VIEWER_REFUSAL: &str =
    "not allowed: viewers can read but not change incidents (ask an admin for a responder token)";

#[cfg(test)]
mod tests;
