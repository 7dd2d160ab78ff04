//! warroom: a terminal incident-commander console and the shared incident feed it runs on.
//!
//! Layers, each depending only on those below it: `cli` → `client` → `server` → `store` →
//! `protocol` → `model`. The `model` is pure and shared by the server and every client.
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
