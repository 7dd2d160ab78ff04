//! What the feed records outside incidents, from scripts: `warroom deploy` records a
//! deploy; `warroom deploys` and `warroom digest` read the recent deploys and the stand-up
//! digest from the board the session joined with.

use super::args::Cmd;
use super::session::Session;
use crate::model::Command;

/// Runs `deploy`, `deploys` or `digest` on an open session.
pub(super) async fn run(s: &mut Session, cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Deploy {
            service,
            version,
            environment,
            note,
            ..
        } => {
            let (seqs, _) = s
                .run(Command::RecordDeploy {
                    service: service.clone(),
                    version: version.clone(),
                    environment,
                    note,
                })
                .await?;
            let at = seqs
                .first()
                .map(|n| format!(" (event {n})"))
                .unwrap_or_default();
            println!("recorded the deploy of {service} {version}{at}");
        }
        Cmd::Deploys {
            service,
            hours,
            json,
            ..
        } => {
            let now = chrono::Utc::now();
            let within = chrono::Duration::hours(i64::from(hours));
            let feed = &s.replica.state.feed;
            let list: Vec<_> = match &service {
                Some(svc) => feed.recent_deploys_of(svc, now, within),
                None => feed.deploys_between(now - within, now + chrono::Duration::seconds(1)),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("no deploys recorded in the last {hours}h");
            } else {
                for d in list {
                    println!(
                        "{}",
                        crate::report::handoff::deploy_line(
                            d,
                            now,
                            crate::report::format::one_line
                        )
                    );
                }
            }
        }
        Cmd::Digest { days, json, .. } => {
            let now = chrono::Utc::now();
            let list = s
                .replica
                .state
                .feed
                .digest(now, chrono::Duration::days(i64::from(days)));
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("no informational alerts in the last {days} days");
            } else {
                println!(
                    "For stand-up: informational alerts, last {days} days ({})",
                    list.len()
                );
                for n in list {
                    println!(
                        "  {}",
                        crate::report::handoff::noted_line(n, now, crate::report::format::one_line)
                    );
                }
            }
        }
        _ => {}
    }
    Ok(())
}
