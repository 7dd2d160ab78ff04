//! warroom: a terminal incident-commander console and the shared incident feed it runs on.
//!
//! Floors, each using only those below it (no arrow up, no circle; see
//! `docs/architecture.md`):
//!
//! 1. `cli`, `tui`, `demo`: the binary's commands and the console. The console never uses
//!    `server` or `cli`; the binary hands it the local feed to host (`tui::LocalFeed`).
//! 2. `server` (the feed) and `client` (a connection to it, with its replica and outbox).
//! 3. `store` (the event log), `intake` (webhook parsers), `report` (exports, briefings,
//!    metrics, and the one formatting module), `protocol` (the wire), `tls`, `clock`.
//! 4. `model`: the domain, pure (no I/O, no async runtime, no terminal), folded the same way
//!    by the server and every console.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod cli;
pub mod client;
pub mod clock;
pub mod demo;
pub mod intake;
pub mod model;
pub mod protocol;
pub mod report;
pub mod server;
pub mod store;
pub mod tls;
pub mod tui;
