//! The incident commands for scripts and bots: `warroom declare`, `note`, `ack`, `sev`,
//! `status`, `role`, `resolve`, the post-mortem, `restrict`, `handoff` and the rest. Each
//! opens a session, does one thing, and prints what it did on one line (the new reference
//! or entry, the new state), or fails with the feed's reason.

use anyhow::{Context, anyhow, bail};

use super::admin::{member, oncall_text};
use super::args::{Cmd, Global};
use super::reads::{all_incidents, events, export, incidents_table, metrics};
use super::session::Session;
use super::time;
use crate::model::{Briefing, Command, EntryKind, Status};
use crate::protocol::Search;
use crate::report::format::role_name;

/// Runs a client subcommand (one that talks to a feed: not the console, `serve`, `demo`,
/// `token`, `policy` or `oncall`), with `global` (the options before the subcommand) under
/// the subcommand's own.
pub async fn run_client(global: &Global, cmd: Cmd) -> anyhow::Result<()> {
    let global = &match cmd.feed() {
        Some(feed) => global.with(feed),
        None => global.clone(),
    };
    let config = global.client_config()?;
    if let Cmd::Events {
        since,
        follow,
        json,
        ..
    } = cmd
    {
        return events(config, since, follow, json).await;
    }
    if let Cmd::Metrics { since, json, .. } = cmd {
        return metrics(config, since, json).await;
    }
    if let Cmd::Export {
        incident,
        format,
        output,
        ..
    } = &cmd
    {
        return export(config, *incident, *format, output.as_deref()).await;
    }
    if let Cmd::Incidents {
        all,
        search,
        since,
        until,
        severity,
        service,
        json,
        ..
    } = &cmd
    {
        let search = Search {
            text: search.clone(),
            severity: *severity,
            service: service.clone(),
            since: *since,
            until: *until,
            ..Search::default()
        };
        if *all || search != Search::default() {
            return all_incidents(config, search, *json).await;
        }
    }
    let opened = Session::open(config).await;
    let mut s = match (opened, &cmd) {
        (Ok(s), _) => s,
        // On call is the feed's to say; a file can be read without one.
        (Err(e), Cmd::Oncall { .. }) => {
            bail!("{e:#}\n(`warroom oncall --policy FILE` reads a policy file instead)")
        }
        (Err(e), _) => return Err(e),
    };
    match cmd {
        Cmd::Declare {
            title,
            severity,
            service,
            restricted,
            detected_by,
            ..
        } => {
            let (_, r) = s
                .run(Command::Declare {
                    title,
                    severity,
                    service,
                    restricted,
                    detected_by,
                })
                .await?;
            let r = r.context("the server did not name the new incident")?;
            println!("{r}");
            if restricted {
                eprintln!(
                    "{r} is restricted (need to know): only its members (you) and admins see it; \
                     an admin lets others in with `warroom member add {r} NAME`"
                );
            }
        }
        Cmd::Note {
            incident,
            text,
            at,
            kind,
            ..
        } => {
            let occurred_at = occurred_at(at.as_deref())?;
            let (seqs, _) = s
                .run(Command::AddEntry {
                    incident,
                    entry_kind: kind,
                    text,
                    occurred_at,
                    next_update_secs: None,
                    public: false,
                    briefing: None,
                })
                .await?;
            println!(
                "{incident}: entry {} recorded",
                seqs.first().copied().unwrap_or(0)
            );
        }
        Cmd::Update {
            incident,
            text,
            next,
            public,
            impact,
            eta,
            at_risk,
            ..
        } => {
            let briefing = match (impact, eta, at_risk) {
                (None, None, None) => None,
                (Some(impact), Some(eta), Some(at_risk)) => Some(Briefing {
                    impact,
                    eta,
                    at_risk,
                }),
                (impact, eta, at_risk) => {
                    let missing: Vec<&str> = [
                        (impact.is_none(), "--impact"),
                        (eta.is_none(), "--eta"),
                        (at_risk.is_none(), "--at-risk"),
                    ]
                    .into_iter()
                    .filter_map(|(m, name)| m.then_some(name))
                    .collect();
                    bail!(
                        "the executive briefing has three parts: give {} as well",
                        missing.join(" and ")
                    );
                }
            };
            let (seqs, _) = s
                .run(Command::AddEntry {
                    incident,
                    entry_kind: EntryKind::StatusUpdate,
                    text,
                    occurred_at: None,
                    next_update_secs: next,
                    public,
                    briefing,
                })
                .await?;
            let public = if public { " (public)" } else { "" };
            println!(
                "{incident}: status update {} recorded{public}",
                seqs.first().copied().unwrap_or(0)
            );
        }
        Cmd::Milestone {
            incident,
            milestone,
            at,
            ..
        } => {
            let occurred_at = occurred_at(at.as_deref())?;
            s.run(Command::SetMilestone {
                incident,
                milestone,
                occurred_at,
            })
            .await?;
            let at = s
                .replica
                .state
                .incident(incident)
                .and_then(|i| i.milestones.get(&milestone).copied())
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default();
            println!(
                "{incident}: {} at {at}",
                milestone.as_str().replace('_', " ")
            );
        }
        Cmd::Correct {
            incident,
            entry,
            text,
            at,
            kind,
            ..
        } => {
            let occurred_at = occurred_at(at.as_deref())?;
            if text.is_none() && occurred_at.is_none() && kind.is_none() {
                bail!("say what to correct: the text, --at or --kind");
            }
            let (seqs, _) = s
                .run(Command::CorrectEntry {
                    incident,
                    entry,
                    text,
                    entry_kind: kind,
                    occurred_at,
                })
                .await?;
            println!(
                "{incident}: entry {entry} corrected by entry {}",
                seqs.first().copied().unwrap_or(0)
            );
        }
        Cmd::Triage {
            incident,
            detected_by,
            impact,
            workaround,
            ..
        } => {
            s.run(Command::Triage {
                incident,
                detected_by,
                impact_growing: impact,
                workaround,
            })
            .await?;
            println!("{incident}: triage recorded");
        }
        Cmd::Ack { incident, .. } => {
            s.run(Command::Acknowledge { incident }).await?;
            println!("{incident} acknowledged");
        }
        Cmd::Page {
            incident,
            target,
            message,
            ..
        } => {
            let message = message.join(" ");
            s.run(Command::Page {
                incident,
                target: target.clone(),
                message: (!message.trim().is_empty()).then_some(message),
            })
            .await?;
            println!("{incident}: paged {target}");
        }
        c @ (Cmd::Deploy { .. } | Cmd::Deploys { .. } | Cmd::Digest { .. }) => {
            super::feed_notes::run(&mut s, c).await?;
        }
        Cmd::Sev {
            incident, severity, ..
        } => {
            s.run(Command::SetSeverity { incident, severity }).await?;
            println!("{incident} is now {severity}");
        }
        Cmd::Service {
            incident, service, ..
        } => {
            s.run(Command::SetService {
                incident,
                service: service.clone(),
            })
            .await?;
            println!("{incident} is about {service}");
        }
        Cmd::Status {
            incident, status, ..
        } => {
            let now = s.replica.state.incident(incident).map(|i| i.status);
            if status == Status::Resolved
                && let Some(from @ (Status::Investigating | Status::Identified)) = now
            {
                bail!(
                    "{incident} is {from}, never watched in monitoring: resolve it with \
                     `warroom resolve {incident} --verified` once recovery is verified, or \
                     --skip-verification"
                );
            }
            s.run(Command::SetStatus { incident, status }).await?;
            println!("{incident} is now {status}");
        }
        Cmd::Role {
            incident,
            role,
            person,
            release,
            ..
        } => {
            if release {
                s.run(Command::ReleaseRole { incident, role }).await?;
                println!("{incident}: {} released", role_name(role));
            } else {
                let person = person.context("give a NAME (or `me`), or --release")?;
                s.run(Command::AssignRole {
                    incident,
                    role,
                    person,
                })
                .await?;
                let holder = s
                    .replica
                    .state
                    .incident(incident)
                    .and_then(|i| i.roles.get(&role).cloned())
                    .unwrap_or_default();
                println!("{incident}: {holder} is {}", role_name(role));
            }
        }
        Cmd::Resolve {
            incident,
            verified,
            skip_verification,
            ..
        } => {
            let status = s.replica.state.incident(incident).map(|i| i.status);
            let unwatched = matches!(status, Some(Status::Investigating | Status::Identified));
            let command = match (verified, skip_verification) {
                (true, _) => Command::ResolveChecked {
                    incident,
                    verified: true,
                },
                (_, true) => Command::ResolveChecked {
                    incident,
                    verified: false,
                },
                _ if unwatched => bail!(
                    "{incident} is {}, never watched in monitoring: verify recovery (metrics back \
                     to normal, error rates down, users unblocked), then resolve with --verified, \
                     or resolve without with --skip-verification",
                    status.map(|s| s.to_string()).unwrap_or_default()
                ),
                _ => Command::Resolve { incident },
            };
            s.run(command).await?;
            match (verified, skip_verification) {
                (true, _) => println!("{incident} resolved (recovery verified)"),
                (_, true) => println!("{incident} resolved without verifying recovery"),
                _ => println!("{incident} resolved"),
            }
        }
        Cmd::Handoff { format, .. } => {
            use crate::report::handoff;
            let schedules = handoff::schedules_default_first(&s.policy()?);
            let now = chrono::Utc::now();
            let start = handoff::shift_start(&schedules, now);
            let b = handoff::brief(&s.replica.state, &schedules, start, now);
            match format.as_str() {
                "md" | "markdown" => print!("{}", handoff::markdown(&b)),
                "json" => println!("{}", serde_json::to_string_pretty(&b)?),
                _ => print!("{}", handoff::text(&b)),
            }
        }
        Cmd::AcceptHandoff { from, .. } => {
            use crate::report::handoff;
            let from = match from {
                Some(f) => f,
                None => {
                    let schedules = handoff::schedules_default_first(&s.policy()?);
                    handoff::outgoing(&schedules, chrono::Utc::now()).context(
                        "the feed's policy names no outgoing primary (no schedule, or the same person carries on): give FROM",
                    )?
                }
            };
            let (seqs, _) = s.run(Command::AcceptHandoff { from: from.clone() }).await?;
            let done = handoff::accepted(&s.replica.state, &seqs);
            print!("{}", handoff::accepted_text(&global.who(), &from, &done));
        }
        Cmd::Postmortem {
            incident,
            section,
            text,
            whys_file,
            done,
            ..
        } => {
            if section.is_none() && whys_file.is_none() && !done {
                bail!(
                    "say what to write: --section NAME --text TEXT, and/or --whys-file FILE, \
                     or --done when it is done"
                );
            }
            if let (Some(section), Some(text)) = (section, text) {
                s.run(Command::EditPostmortem {
                    incident,
                    section,
                    text,
                })
                .await?;
                println!("{incident}: {} saved", section.title().to_lowercase());
            }
            if let Some(path) = whys_file {
                let text = if path.as_os_str() == "-" {
                    std::io::read_to_string(std::io::stdin()).context("reading standard input")?
                } else {
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?
                };
                let whys = crate::model::postmortem::parse_whys(&text)
                    .map_err(|e| anyhow!("{}: {e}", path.display()))?;
                let n = whys.len();
                s.run(Command::SetWhys { incident, whys }).await?;
                println!("{incident}: 5 whys saved ({n} links)");
            }
            if done {
                s.run(Command::CompletePostmortem { incident }).await?;
                let on_time = s
                    .replica
                    .state
                    .incident(incident)
                    .and_then(|i| i.postmortem_on_time());
                match on_time {
                    Some(false) => println!("{incident}: post-mortem done, late"),
                    _ => println!("{incident}: post-mortem done, on time"),
                }
            }
        }
        Cmd::Action {
            incident,
            text,
            owner,
            due,
            ..
        } => {
            let (seqs, _) = s
                .run(Command::AddActionItem {
                    incident,
                    text,
                    owner,
                    due,
                })
                .await?;
            println!(
                "{incident}: action item {} added",
                seqs.first().copied().unwrap_or(0)
            );
        }
        Cmd::ActionDone {
            incident,
            item,
            undo,
            ..
        } => {
            s.run(Command::UpdateActionItem {
                incident,
                item,
                text: None,
                owner: None,
                due: None,
                done: Some(!undo),
            })
            .await?;
            let state = if undo { "open again" } else { "done" };
            println!("{incident}: action item {item} {state}");
        }
        Cmd::Waive {
            incident, reason, ..
        } => {
            s.run(Command::WaivePostmortem { incident, reason }).await?;
            println!("{incident}: post-mortem waived");
        }
        Cmd::Restrict { incident, .. } => {
            s.run(Command::Restrict { incident }).await?;
            let members = s
                .replica
                .state
                .incident(incident)
                .map(|i| i.members.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default();
            println!(
                "{incident} is restricted (need to know): only its members and admins see it; members: {}",
                members.join(", ")
            );
        }
        Cmd::Member { action, .. } => member(&mut s, action).await?,
        Cmd::Oncall { at, handoffs, .. } => {
            print!("{}", oncall_text(&s.policy()?, at.as_deref(), handoffs)?)
        }
        Cmd::Incidents { json, .. } => {
            if json {
                println!("{}", serde_json::to_string_pretty(&s.replica.state)?);
            } else {
                print!("{}", incidents_table(&s.replica.state));
            }
        }
        Cmd::Serve(_)
        | Cmd::Token { .. }
        | Cmd::Events { .. }
        | Cmd::Metrics { .. }
        | Cmd::Demo { .. }
        | Cmd::Policy { .. }
        | Cmd::Store { .. }
        | Cmd::Export { .. } => {}
    }
    Ok(())
}

/// A `--at` as given (HH:MM local, or RFC 3339), as a time; `None` when not given.
fn occurred_at(at: Option<&str>) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
    at.map(|a| time::parse_at(a, chrono::Utc::now(), crate::clock::Zone::Local))
        .transpose()
        .map_err(|e| anyhow!(e))
}
