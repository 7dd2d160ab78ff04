//! Reading the feed for scripts: the `incidents` table, `events` one line each (or JSON,
//! live with `--follow`), and `metrics` computed here from the feed's whole log.

use anyhow::bail;

use super::session::{SYNC_TIMEOUT, Session};
use crate::client::{Client, ClientConfig, ConnState, Update};
use crate::model::{Event, IncidentRef, Role, State};
use crate::report::format::one_line;

/// The `incidents` table: reference, severity, status, title, IC.
pub fn incidents_table(state: &State) -> String {
    let board = state.board();
    if board.is_empty() {
        return match withheld_line(state) {
            Some(w) => format!("no incidents you may see\n{w}\n"),
            None => "no incidents\n".to_string(),
        };
    }
    let mut out = format!(
        "{:<8} {:<5} {:<14} {:<8} {}\n",
        "REF", "SEV", "STATUS", "IC", "TITLE"
    );
    for i in board {
        // Titles and names were typed by others: printed as the console shows them, so a
        // direction override in one cannot reorder what the terminal displays.
        let ic = i
            .roles
            .get(&Role::IncidentCommander)
            .map_or("-".to_string(), |n| one_line(n));
        out.push_str(&format!(
            "{:<8} {:<5} {:<14} {:<8} {}\n",
            i.reference.to_string(),
            i.severity.to_string(),
            i.status.as_str(),
            ic,
            one_line(&i.title)
        ));
    }
    if let Some(w) = withheld_line(state) {
        out.push_str(&w);
        out.push('\n');
    }
    out
}

/// `2 restricted incidents you are not a member of: INC-3, INC-7`, when there are any.
fn withheld_line(state: &State) -> Option<String> {
    let refs: Vec<IncidentRef> = state.withheld.iter().copied().collect();
    crate::report::format::withheld_line(&refs)
}

/// One line per event for people: seq, time, actor, what happened.
pub fn event_line(e: &Event) -> String {
    let mut body = serde_json::to_value(&e.kind).unwrap_or_default();
    if let Some(obj) = body.as_object_mut() {
        obj.remove("kind");
        obj.remove("incident");
    }
    let detail = body
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => format!("{k}={s:?}"),
                    other => format!("{k}={other}"),
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    format!(
        "{:>6} {} {:<12} {} {} {}",
        e.seq,
        e.at.format("%Y-%m-%dT%H:%M:%SZ"),
        e.actor,
        e.kind.incident(),
        e.kind.name(),
        detail
    )
}

pub(super) async fn events(
    mut config: ClientConfig,
    since: u64,
    follow: bool,
    json: bool,
) -> anyhow::Result<()> {
    config.last_seq = Some(since);
    let mut client = Client::start(config);
    let mut head: Option<u64> = None;
    let mut last = since;
    let mut stdout = std::io::stdout().lock();
    let mut print = |e: &Event| -> std::io::Result<()> {
        use std::io::Write;
        let line = if json {
            serde_json::to_string(e).unwrap_or_default()
        } else {
            event_line(e)
        };
        writeln!(stdout, "{line}")?;
        stdout.flush()
    };
    loop {
        let u = tokio::time::timeout(SYNC_TIMEOUT, client.next()).await;
        let u = match u {
            Ok(Some(u)) => u,
            Ok(None) => bail!("the connection closed"),
            Err(_) if head.is_none() => {
                bail!("the feed did not answer within {}s", SYNC_TIMEOUT.as_secs())
            }
            Err(_) => continue,
        };
        match u {
            Update::Welcome { head_seq, .. } => head = Some(head_seq),
            Update::Snapshot(s) => {
                // The feed holds fewer events than asked for (`--since` beyond its head).
                last = s.seq;
            }
            Update::Event(e) => {
                last = e.seq;
                if let Err(err) = print(&e) {
                    // A closed pipe (`| head`) is the reader's way of saying "enough".
                    if err.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(());
                    }
                    bail!("writing events: {err}");
                }
            }
            Update::Conn(ConnState::Stopped { reason }) => bail!("{reason}"),
            _ => {}
        }
        if !follow && head.is_some_and(|h| last >= h) {
            return Ok(());
        }
    }
}

/// `warroom metrics`: the whole log from the feed (from its first event), folded here, and
/// the figures computed from it; pages are divided by the default schedule of the feed's
/// policy.
pub(super) async fn metrics(
    mut config: ClientConfig,
    since: Option<chrono::DateTime<chrono::Utc>>,
    json: bool,
) -> anyhow::Result<()> {
    use crate::report::metrics;
    config.last_seq = Some(0);
    let mut log = Some(Vec::new());
    let s = Session::open_with(config, |u| match u {
        Update::Event(e) => {
            if let Some(l) = log.as_mut() {
                l.push(e.clone());
            }
        }
        // The feed sent its state instead of its log: pages then come from the state.
        Update::Snapshot(_) => log = None,
        _ => {}
    })
    .await?;
    let policy = s.policy()?;
    let m = metrics::compute(
        &s.replica.state,
        log.as_deref(),
        policy.schedule_for(None),
        since,
        chrono::Utc::now(),
    );
    if json {
        println!("{}", serde_json::to_string_pretty(&m)?);
    } else {
        print!("{}", metrics::text(&m));
    }
    Ok(())
}
