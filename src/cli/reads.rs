//! Reading the feed for scripts: the `incidents` table (the board, or every incident found
//! by the feed's search, a page at a time), `events` one line each (or JSON, live with
//! `--follow`), `metrics` and `export` as the feed computes them from its store.

use anyhow::bail;

use super::session::{SYNC_TIMEOUT, Session};
use crate::client::{Client, ClientConfig, ConnState, Update};
use crate::model::{Event, Incident, IncidentRef, Role, State};
use crate::protocol::{Query, QueryResult, Search};
use crate::report::export::ExportFormat;
use crate::report::format::one_line;

/// Incidents in each page of `incidents --all`.
const SEARCH_PAGE: u32 = 200;

/// The `incidents` table: reference, severity, status, title, IC.
pub fn incidents_table(state: &State) -> String {
    let withheld: Vec<IncidentRef> = state.withheld.iter().copied().collect();
    incident_rows(&state.board(), &withheld)
}

/// The `incidents` table of `incidents`, in the order given, and the restricted ones this
/// reader may not see.
pub fn incident_rows(incidents: &[&Incident], withheld: &[IncidentRef]) -> String {
    let withheld_line = crate::report::format::withheld_line(withheld);
    let board = incidents;
    if board.is_empty() {
        return match withheld_line {
            Some(w) => format!("no incidents you may see\n{w}\n"),
            None => "no incidents\n".to_string(),
        };
    }
    // Titles and names were typed by others: printed as the console shows them, so a
    // direction override in one cannot reorder what the terminal displays. Each column is
    // as wide as it always was, or as its widest cell (a name cut at 20 characters) when
    // that is wider, so none runs into the next.
    let rows: Vec<[String; 5]> = board
        .iter()
        .map(|i| {
            let ic = i
                .roles
                .get(&Role::IncidentCommander)
                .map_or("-".to_string(), |n| cut(&one_line(n), 20));
            [
                i.reference.to_string(),
                i.severity.to_string(),
                i.status.as_str().to_string(),
                ic,
                one_line(&i.title),
            ]
        })
        .collect();
    let head = ["REF", "SEV", "STATUS", "IC", "TITLE"].map(str::to_string);
    let mut widths = [8usize, 5, 14, 8];
    for row in std::iter::once(&head).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |row: &[String; 5]| {
        let mut l = String::new();
        for (w, cell) in widths.iter().zip(row.iter()) {
            l.push_str(cell);
            l.push_str(&" ".repeat(w + 1 - cell.chars().count()));
        }
        l.push_str(&row[4]);
        l.push('\n');
        l
    };
    let mut out = line(&head);
    for row in &rows {
        out.push_str(&line(row));
    }
    if let Some(w) = withheld_line {
        out.push_str(&w);
        out.push('\n');
    }
    out
}

/// `s` cut to `n` characters, the last an ellipsis when something was cut.
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut t: String = s.chars().take(n - 1).collect();
    t.push('…');
    t
}

/// `warroom incidents --all [filters]`: every incident matching, asked of the feed a page
/// at a time (newest declared first), printed as one table (or a JSON list).
pub(super) async fn all_incidents(
    config: ClientConfig,
    mut search: Search,
    json: bool,
) -> anyhow::Result<()> {
    let mut s = Session::open(config).await?;
    let mut found: Vec<Incident> = Vec::new();
    let mut withheld: std::collections::BTreeSet<IncidentRef> = Default::default();
    search.limit = Some(SEARCH_PAGE);
    loop {
        let page = s.ask(Query::Search(search.clone())).await?;
        let QueryResult::Incidents {
            incidents,
            next,
            withheld: w,
        } = page
        else {
            bail!("the feed answered the search with something else");
        };
        found.extend(incidents);
        withheld.extend(w);
        // References go down page after page; anything else would never end.
        match next {
            Some(n) if search.before.is_none_or(|b| n.0 < b.0) => search.before = Some(n),
            _ => break,
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&found)?);
    } else {
        let rows: Vec<&Incident> = found.iter().collect();
        let withheld: Vec<IncidentRef> = withheld.into_iter().collect();
        print!("{}", incident_rows(&rows, &withheld));
    }
    Ok(())
}

/// `warroom export`: the export as the feed renders it from its store.
pub(super) async fn export(
    config: ClientConfig,
    incident: IncidentRef,
    format: ExportFormat,
    output: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let mut s = Session::open(config).await?;
    let text = match s.ask(Query::Export { incident, format }).await? {
        QueryResult::Export { text, .. } => text,
        _ => bail!("the feed answered the export with something else"),
    };
    match output {
        Some(path) => {
            std::fs::write(path, &text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("{incident} exported to {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
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
        e.kind
            .incident()
            .map_or_else(|| "feed".to_string(), |r| r.to_string()),
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
                // The feed sent its board instead of the events after `last` (it replays
                // only its recent events on a resume, and none from before an incident
                // came back to or left its live work): what lies between is read from its
                // log, page by page, before the events that follow the board.
                if s.seq > last {
                    let mut closed = false;
                    last = crate::client::read_log(&client, last, s.seq, |e| match print(&e) {
                        Ok(()) => Ok(true),
                        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {
                            closed = true;
                            Ok(false)
                        }
                        Err(err) => bail!("writing events: {err}"),
                    })
                    .await?;
                    if closed {
                        return Ok(());
                    }
                }
                last = last.max(s.seq);
            }
            // Printed already, by a page of the log read after the board.
            Update::Event(e) if e.seq <= last => {}
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

/// `warroom metrics`: the figures as the feed computes them from its store (every
/// incident this reader may see; pages divided by the default schedule of its policy).
pub(super) async fn metrics(
    config: ClientConfig,
    since: Option<chrono::DateTime<chrono::Utc>>,
    json: bool,
) -> anyhow::Result<()> {
    use crate::report::metrics;
    let mut s = Session::open(config).await?;
    let m = match s.ask(Query::Metrics { since }).await? {
        QueryResult::Metrics { metrics } => metrics,
        _ => bail!("the feed answered with something other than its metrics"),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&m)?);
    } else {
        print!("{}", metrics::text(&m));
    }
    Ok(())
}
