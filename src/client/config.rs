//! How a client reaches a feed and as whom, and how long it waits between attempts.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// When to try again after a lost connection.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(15),
        }
    }
}

impl Backoff {
    /// Exponential growth with "equal jitter": half the step is fixed, half random, so a
    /// room full of consoles cut at once does not reconnect in lockstep.
    pub fn delay(&self, attempt: u32) -> Duration {
        let step = self
            .initial
            .saturating_mul(2u32.saturating_pow(attempt.min(20)))
            .min(self.max);
        let half = step / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// How to reach a feed and as whom.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The feed's address, tried first.
    pub url: String,
    /// The feed's other replicas (the same log, one `feed_id`), tried in turn when a
    /// connection fails or is lost; the client resumes by `seq` wherever it lands.
    pub fallbacks: Vec<String>,
    pub name: String,
    pub token: Option<String>,
    /// Reconnect after a failure (consoles); `false` ends the client at the first one (CLI).
    pub reconnect: bool,
    pub backoff: Backoff,
    /// Resume after this sequence number instead of asking for a snapshot.
    pub last_seq: Option<u64>,
    /// Keep queued commands on disk here.
    pub outbox: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// What `wss://` trusts (see [`crate::tls::client_config`]); `None`: the system's roots.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Added to the reason when the connection is refused (nothing listens at the address):
    /// how to start a feed there. Scripts, which give up at once, say it; a console retries.
    pub refused_hint: Option<String>,
}

impl ClientConfig {
    /// Every address of the feed, `url` first.
    pub fn addresses(&self) -> Vec<String> {
        let mut all = vec![self.url.clone()];
        for f in &self.fallbacks {
            if !all.contains(f) {
                all.push(f.clone());
            }
        }
        all
    }

    pub fn new(url: impl Into<String>, name: impl Into<String>) -> Self {
        ClientConfig {
            url: url.into(),
            fallbacks: Vec::new(),
            name: name.into(),
            token: None,
            reconnect: true,
            backoff: Backoff::default(),
            last_seq: None,
            outbox: None,
            connect_timeout: Duration::from_secs(10),
            tls: None,
            refused_hint: None,
        }
    }
}
