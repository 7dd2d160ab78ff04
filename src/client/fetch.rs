//! The feed's log from any point of its history, read through `log` queries a page at a
//! time. A feed replays only its recent events when a client resumes (see
//! `docs/protocol.md`, sync modes) and sends its board instead; `warroom events --since`
//! reads what lies between through this.

use anyhow::{anyhow, bail};

use super::Client;
use crate::model::Event;
use crate::protocol::{Query, QueryResult};

/// Reads the events after `after` through `upto` (at least; a page may run past it), in
/// order, handing each to `each`, which returns `false` to stop. Returns the seq of the
/// last event handed over (`after` when none was).
pub async fn read_log(
    client: &Client,
    after: u64,
    upto: u64,
    mut each: impl FnMut(Event) -> anyhow::Result<bool>,
) -> anyhow::Result<u64> {
    let mut last = after;
    while last < upto {
        let answer = client
            .ask(Query::Log {
                after: last,
                limit: None,
            })
            .await
            .map_err(|_| anyhow!("the connection closed before the feed sent its log"))?
            .map_err(|e| anyhow!("the feed did not send its log after {last}: {}", e.message))?;
        let QueryResult::Events { events, more } = answer else {
            bail!("the feed answered a log query with something else");
        };
        let got = events.len();
        for e in events {
            if e.seq <= last {
                bail!(
                    "the feed sent event {} after {last}: its log is out of order",
                    e.seq
                );
            }
            last = e.seq;
            if !each(e)? {
                return Ok(last);
            }
        }
        if !more || got == 0 {
            break;
        }
    }
    Ok(last)
}
