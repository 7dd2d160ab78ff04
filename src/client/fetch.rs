//! The feed's whole log, read once, by resuming from its start. Exports and metrics are
//! queries now (the feed answers them from its store); this is for tests and tools that
//! want the raw log of a small feed: a feed replays only its recent events (see
//! `docs/protocol.md`, sync modes), and sends its board instead when asked for more.

use std::time::Duration;

use anyhow::{anyhow, bail};

use super::{Client, ClientConfig, ConnState, Update};
use crate::model::Event;

/// How long the feed may take to answer before the read gives up.
const LOG_TIMEOUT: Duration = Duration::from_secs(20);

/// Reads the feed's whole log, in order, then disconnects.
pub async fn fetch_log(mut config: ClientConfig) -> anyhow::Result<Vec<Event>> {
    config.last_seq = Some(0);
    let mut client = Client::start(config);
    let mut head: Option<u64> = None;
    let mut events = Vec::new();
    loop {
        let u = tokio::time::timeout(LOG_TIMEOUT, client.next())
            .await
            .map_err(|_| anyhow!("the feed did not answer within {}s", LOG_TIMEOUT.as_secs()))?
            .ok_or_else(|| anyhow!("the connection closed"))?;
        match u {
            Update::Welcome { head_seq, .. } => head = Some(head_seq),
            Update::Event(e) => events.push(e),
            // What this reader may see changed while the log was read (an admin let them
            // into a restricted incident): the feed sends its state, not the events.
            Update::Snapshot(_) => bail!(
                "the feed sent its board instead of its log: it replays only its recent events \
                 (and none from before an incident came back to or left its live work), or what \
                 you may see changed while it was read (you were added to a restricted incident)"
            ),
            Update::Conn(ConnState::Stopped { reason }) => bail!("{reason}"),
            _ => {}
        }
        if let Some(h) = head
            && events.last().map_or(0, |e| e.seq) >= h
        {
            return Ok(events);
        }
    }
}
