//! The session driver: from the feed options to a one-shot connection in sync with the feed
//! (address, name, token, TLS, what to say when nothing listens), then one command sent and
//! its answer and events awaited. Every subcommand that talks to a feed goes through here.

use std::time::Duration;

use anyhow::{anyhow, bail};

use super::args::Global;
use super::console::{default_data_dir, local_feed_addr};
use crate::client::{
    Client, ClientConfig, ConnState, DEFAULT_ADDR, Replica, Update, feed_url, feed_urls,
};
use crate::model::{Command, Incident, IncidentRef};
use crate::protocol::{Answer, ErrorCode, Query, QueryResult, not_allowed};

impl Global {
    /// The feed URL from `--server`, `WARROOM_SERVER`, or the default local address: the
    /// first of the feed's replicas when several are given.
    pub fn url(&self) -> anyhow::Result<String> {
        Ok(self.urls()?.remove(0))
    }

    /// Every replica of the feed (`--server a:7654,b:7654`), in the order they are tried.
    pub fn urls(&self) -> anyhow::Result<Vec<String>> {
        let local = local_feed_addr();
        feed_urls(self.server.as_deref().unwrap_or(&local)).map_err(|e| anyhow!(e))
    }

    /// What `wss://` URLs trust: the system's roots plus `--ca`. `None` when every
    /// address is `ws://`.
    pub fn tls(&self, url: &str) -> anyhow::Result<Option<std::sync::Arc<rustls::ClientConfig>>> {
        self.tls_for(&[url.to_string()])
    }

    pub fn tls_for(
        &self,
        urls: &[String],
    ) -> anyhow::Result<Option<std::sync::Arc<rustls::ClientConfig>>> {
        if !urls.iter().any(|u| u.starts_with("wss://")) {
            return Ok(None);
        }
        crate::tls::client_config(self.ca.as_deref()).map(Some)
    }

    /// Who we are: `--name`, `WARROOM_NAME`, else the OS user.
    pub fn who(&self) -> String {
        self.name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .or_else(|| std::env::var("LOGNAME").ok().filter(|u| !u.is_empty()))
            .or_else(|| std::env::var("USERNAME").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| "responder".to_string())
    }

    /// This machine's token for the local feed, when `url` is the local feed and no token
    /// was given (see `warroom token`).
    pub fn local_token(&self, url: &str) -> Option<String> {
        if self.token.is_some() {
            return None;
        }
        let local = feed_url(&local_feed_addr()).ok()?;
        if url != local {
            return None;
        }
        crate::server::auth::read_local_token(&default_data_dir().ok()?)
    }

    pub(super) fn client_config(&self) -> anyhow::Result<ClientConfig> {
        let mut urls = self.urls()?;
        let mut c = ClientConfig::new(urls.remove(0), self.who());
        c.fallbacks = urls;
        c.token = self.token.clone().or_else(|| self.local_token(&c.url));
        c.tls = self.tls_for(&c.addresses())?;
        c.reconnect = false;
        c.refused_hint = Some(self.refused_hint(&c.url));
        Ok(c)
    }

    /// What a script is told when nothing listens at `url`: how to start a feed there. At
    /// the local feed's address, `warroom` (the console) hosts one; anywhere else the
    /// address may be wrong, or `warroom serve` is not running there.
    fn refused_hint(&self, url: &str) -> String {
        let local = local_feed_addr();
        let addr = url
            .split_once("://")
            .map_or(url, |(_, rest)| rest)
            .split('/')
            .next()
            .unwrap_or(url);
        if feed_url(&local).is_ok_and(|l| l == url) {
            let serve = if local == DEFAULT_ADDR {
                "`warroom serve`".to_string()
            } else {
                format!("`warroom serve --listen {addr}`")
            };
            return format!(
                "Start one: `warroom` opens the console and hosts the local feed; {serve} runs \
                 a shared feed."
            );
        }
        let tls = if url.starts_with("wss://") {
            " (with --tls-cert and --tls-key for wss://)"
        } else {
            ""
        };
        // `--listen` takes an IP address; a host name is the reader's to resolve.
        let listen = if addr.parse::<std::net::SocketAddr>().is_ok() {
            addr
        } else {
            "IP:PORT"
        };
        format!(
            "Check the address (--server, WARROOM_SERVER), and that a feed runs there: \
             `warroom serve --listen {listen}`{tls}."
        )
    }
}

/// A one-shot connection: in sync with the feed, ready for a command.
pub(super) struct Session {
    client: Client,
    pub(super) replica: Replica,
}

pub(super) const SYNC_TIMEOUT: Duration = Duration::from_secs(20);

impl Session {
    pub(super) async fn open(config: ClientConfig) -> anyhow::Result<Session> {
        Self::open_with(config, |_| {}).await
    }

    /// [`Session::open`], showing `on_update` every update taken on the way.
    pub(super) async fn open_with(
        config: ClientConfig,
        mut on_update: impl FnMut(&Update),
    ) -> anyhow::Result<Session> {
        let mut s = Session {
            client: Client::start(config),
            replica: Replica::default(),
        };
        tokio::time::timeout(SYNC_TIMEOUT, async {
            while !s.replica.synced {
                let u = s.step().await?;
                on_update(&u);
            }
            Ok::<_, anyhow::Error>(())
        })
        .await
        .map_err(|_| anyhow!("the feed did not answer within {}s", SYNC_TIMEOUT.as_secs()))??;
        Ok(s)
    }

    /// The feed's policy, as it told this session when it joined: what on call, handoffs
    /// and pages per shift are read from.
    pub(super) fn policy(&self) -> anyhow::Result<crate::model::policy::Policy> {
        let public = self.replica.policy.as_ref().ok_or_else(|| {
            anyhow!("the feed did not send its policy (a warroom feed older than this client?)")
        })?;
        public.check().map_err(|errors| {
            anyhow!(
                "the feed's policy has {} problem(s) here:\n  {}",
                errors.len(),
                errors.join("\n  ")
            )
        })
    }

    /// Takes the next update into the replica; returns it.
    pub(super) async fn step(&mut self) -> anyhow::Result<Update> {
        let u = self
            .client
            .next()
            .await
            .ok_or_else(|| anyhow!("the connection closed"))?;
        match &u {
            Update::Conn(ConnState::Stopped { reason }) => bail!("{reason}"),
            Update::ServerError { message, .. } => eprintln!("warroom: server says: {message}"),
            _ => {}
        }
        self.replica
            .apply(&u)
            .map_err(|e| anyhow!("the feed sent an event this client cannot fold: {e}"))?;
        Ok(u)
    }

    /// Asks the feed `query` and waits for its answer (an export's parts joined), taking
    /// the feed's updates meanwhile. A refusal is said as the feed says it.
    pub(super) async fn ask(&mut self, query: Query) -> anyhow::Result<QueryResult> {
        let mut rx = self.client.ask(query);
        let answer = loop {
            tokio::select! {
                a = &mut rx => break a.map_err(|_| anyhow!("the connection closed before the feed answered"))?,
                u = self.step() => { u?; }
            }
        };
        answer.map_err(|e| match e.code {
            ErrorCode::Forbidden => anyhow!("{}", not_allowed(&e.message)),
            _ => anyhow!("{}", e.message),
        })
    }

    /// Incident `r` as the feed has it: held here (the board), or asked of the feed (an
    /// archived one), without its older entries.
    pub(super) async fn incident(&mut self, r: IncidentRef) -> anyhow::Result<Incident> {
        if let Some(i) = self.replica.state.incident(r) {
            return Ok(i.clone());
        }
        if self.replica.state.withheld.contains(&r) {
            bail!(
                "{r} is restricted (need to know): you are not a member; ask an admin to add you"
            );
        }
        match self
            .ask(Query::Open {
                incident: r,
                limit: Some(1),
            })
            .await?
        {
            QueryResult::Incident { incident } => Ok(*incident),
            _ => bail!("the feed answered with something other than {r}"),
        }
    }

    /// Sends a command and waits for its answer and for its events to arrive here.
    pub(super) async fn run(
        &mut self,
        command: Command,
    ) -> anyhow::Result<(Vec<u64>, Option<IncidentRef>)> {
        let (_, mut rx) = self.client.submit(command);
        let answer = loop {
            tokio::select! {
                a = &mut rx => break a.map_err(|_| anyhow!("the connection closed before the server answered; the command may not have been recorded"))?,
                u = self.step() => { u?; }
            }
        };
        match answer {
            Answer::Ok { seqs, incident } => {
                let last = seqs.iter().copied().max().unwrap_or(0);
                while self.replica.state.seq < last {
                    self.step().await?;
                }
                Ok((seqs, incident))
            }
            // "not allowed: …" says it all (the feed's refusals of restricted incidents and
            // of membership changes say why, not that they are refusals).
            Answer::Error {
                code: ErrorCode::Forbidden,
                message,
            } => bail!("{}", not_allowed(&message)),
            Answer::Error { code, message } => {
                let code = serde_json::to_value(code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                bail!("refused ({code}): {message}")
            }
        }
    }
}
