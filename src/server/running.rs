//! The handle of a feed that is serving: its address and URL, and the ways to stop it, wait
//! for it, tick its engine and have it check its tokens.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{mpsc, watch};

use super::{auth, core};

/// A server that is accepting connections.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub(super) shutdown: watch::Sender<bool>,
    pub(super) task: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub(super) core: mpsc::WeakSender<core::CoreInput>,
    pub(super) auth: Arc<auth::Auth>,
    pub(super) tls: bool,
    /// Where `--metrics-listen` serves `/metrics`, when it does.
    pub metrics_addr: Option<SocketAddr>,
}

impl RunningServer {
    /// The URL clients connect to.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}/feed", self.addr)
    }

    /// Stops accepting, closes every session, lets the core finish its last group, and waits.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.task.await.context("server task")?
    }

    /// Waits until the server stops by itself (it does not, short of an error).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("server task")?
    }

    /// Runs the escalation engine now and waits until it is done (and its events are
    /// durable and published). Tests move a fake clock, then tick.
    pub async fn tick(&self) -> anyhow::Result<()> {
        let core = self.core.upgrade().context("the server has stopped")?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        core.send(core::CoreInput::Tick(Some(tx)))
            .await
            .map_err(|_| anyhow::anyhow!("the server has stopped"))?;
        rx.await.context("the server stopped during the tick")
    }

    /// Re-reads the token store now and has every live session check its token again
    /// (revoked ones are closed), as the periodic check does every `token_check_every`.
    pub fn check_tokens(&self) {
        self.auth.recheck();
    }

    /// A handle that can stop the server from elsewhere (a signal handler).
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }
}
