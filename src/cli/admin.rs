//! Looking after a feed rather than an incident: tokens (in its data directory, or in the
//! database its replicas share), policy files (checked, printed, loaded), who is on call by
//! a policy, and who may see a restricted incident (`member add|remove|list`).

use std::time::Duration;

use anyhow::{anyhow, bail};

use super::args::{MemberAction, PolicyAction, TokenAction, TokenPlace};
use super::console::default_data_dir;
use super::session::Session;
use crate::model::{Command, IncidentRef, Severity};

/// Where `warroom token` acts: a data directory's `tokens.json`, or a feed's database.
enum Tokens {
    Directory(std::path::PathBuf),
    Database(crate::server::auth::DatabaseTokens),
}

impl Tokens {
    /// `--store URL`, `--data DIR`, else `WARROOM_STORE`, else the platform data directory.
    fn of(place: &TokenPlace) -> anyhow::Result<Tokens> {
        let from_env = || {
            std::env::var("WARROOM_STORE")
                .ok()
                .filter(|u| !u.trim().is_empty())
        };
        let url = match (&place.store, &place.data) {
            (Some(url), _) => Some(url.clone()),
            (None, Some(_)) => None,
            (None, None) => from_env(),
        };
        match (url, &place.data) {
            (Some(url), _) => {
                let url = match crate::server::StoreLocation::parse(&url) {
                    Ok(crate::server::StoreLocation::Postgres(url)) => url,
                    Ok(crate::server::StoreLocation::Sqlite(_)) | Err(_) => bail!(
                        "--store (or WARROOM_STORE) takes the feed's PostgreSQL URL \
                         (postgres://USER@HOST/DATABASE), not {:?}; a feed's own tokens are in \
                         --data DIR",
                        crate::store::redact_url(&url)
                    ),
                };
                Ok(Tokens::Database(crate::server::auth::DatabaseTokens::open(
                    &url,
                )?))
            }
            (None, Some(dir)) => Ok(Tokens::Directory(dir.clone())),
            (None, None) => Ok(Tokens::Directory(default_data_dir()?)),
        }
    }
}

/// `warroom token add|list|revoke`, on the token store in the data directory or in the
/// feed's database (blocking: call it off the async runtime's workers).
pub fn token(action: &TokenAction) -> anyhow::Result<()> {
    use crate::server::auth;
    let tokens = Tokens::of(action.place())?;
    match action {
        TokenAction::Add { name, role, .. } => {
            let (token, kept) = match &tokens {
                Tokens::Directory(dir) => (
                    auth::add_token(dir, name, *role)?,
                    dir.join(auth::STORE_FILE).display().to_string(),
                ),
                Tokens::Database(db) => (
                    db.add_now(name, *role)?,
                    format!("the database {}, for every replica", db.shown),
                ),
            };
            println!("{token}");
            eprintln!(
                "A {role} token for {name}, shown only this once (the feed keeps its hash in {kept}).\n\
                 Give it to {name} privately; they connect with WARROOM_TOKEN=<the token above> \
                 (or --token) and --server pointing at the feed."
            );
        }
        TokenAction::List { .. } => {
            let list = match &tokens {
                Tokens::Directory(dir) => auth::list_tokens(dir)?,
                Tokens::Database(db) => db.list()?,
            };
            if list.is_empty() {
                match &tokens {
                    Tokens::Directory(dir) => println!(
                        "no tokens in {}: a feed on this data directory is open on loopback (and \
                         refuses to listen beyond it); `warroom token add NAME --role ROLE` makes \
                         one",
                        dir.display()
                    ),
                    Tokens::Database(db) => println!(
                        "no tokens in {}: the replicas of a feed on it take only the tokens of \
                         their own data directories and --token-file; `warroom token add NAME \
                         --role ROLE --store URL` makes one for all of them",
                        db.shown
                    ),
                }
                return Ok(());
            }
            print!("{}", tokens_table(&list));
        }
        TokenAction::Revoke { name, .. } => {
            let (t, reach) = match &tokens {
                Tokens::Directory(dir) => (
                    auth::revoke_token(dir, name)?,
                    "a running feed refuses it from now on and closes its live sessions within \
                     seconds",
                ),
                Tokens::Database(db) => (
                    db.revoke_now(name)?,
                    "every replica on the database refuses it from now on and closes its live \
                     sessions within about a second",
                ),
            };
            println!("{}'s {} token is revoked: {reach}", t.name, t.role);
        }
    }
    Ok(())
}

/// The `token list` table: name, role, created, state. Never the token.
pub fn tokens_table(tokens: &[crate::server::auth::StoredToken]) -> String {
    let when = crate::report::format::utc_stamp;
    let mut out = format!(
        "{:<16} {:<10} {:<21} {}\n",
        "NAME", "ROLE", "CREATED", "STATE"
    );
    for t in tokens {
        let state = match t.revoked_at {
            Some(r) => format!("revoked {}", when(r)),
            None if t.local => {
                "active (this machine's account; acts under each client's name)".to_string()
            }
            None => "active".to_string(),
        };
        out.push_str(&format!(
            "{:<16} {:<10} {:<21} {state}\n",
            t.name,
            t.role.as_str(),
            when(t.created_at)
        ));
    }
    out
}

/// `warroom policy check|print`.
pub fn policy(action: &PolicyAction) -> anyhow::Result<()> {
    use crate::model::policy::DEFAULT_POLICY;
    match action {
        PolicyAction::Print => {
            print!("{DEFAULT_POLICY}");
            Ok(())
        }
        PolicyAction::Check { file } => match crate::server::load_rules(Some(file)) {
            Ok(rules) => {
                let p = &rules.policy;
                println!(
                    "{}: ok ({} severity rules, {} schedules, {} runbooks)",
                    file.display(),
                    p.rules().len(),
                    p.schedules().len(),
                    rules.runbooks.len()
                );
                if p.tracker().is_some() {
                    // Its address is a secret: said to be there, never shown.
                    println!("  action items become tickets through the [tracker] webhook");
                }
                // A runbook short of the seed's six sections is a warning, not an error.
                for rb in rules.runbooks.values() {
                    let missing = rb.missing_sections();
                    if !missing.is_empty() {
                        println!(
                            "  warning: runbook {} ({}) lacks {}",
                            rb.name,
                            rb.source,
                            missing.join(", ")
                        );
                    }
                }
                let now = chrono::Utc::now();
                for sev in Severity::ALL {
                    let plan = p.plan(sev, None, now);
                    let steps: Vec<String> = plan
                        .steps
                        .iter()
                        .map(|s| {
                            format!(
                                "{} {} {}",
                                crate::model::policy::Span(Duration::from_secs(s.after_secs)),
                                s.action,
                                s.target
                            )
                        })
                        .collect();
                    let cadence = p
                        .cadence(sev)
                        .map(|c| {
                            format!(
                                "; status updates every {}",
                                crate::model::policy::Span(Duration::from_secs(c))
                            )
                        })
                        .unwrap_or_default();
                    let bridge = p
                        .bridge(sev, crate::model::IncidentRef(1))
                        .map(|b| format!("; bridge {b}"))
                        .unwrap_or_default();
                    println!(
                        "  {sev}: {}{cadence}{bridge}",
                        if steps.is_empty() {
                            "no escalation".to_string()
                        } else {
                            steps.join(", ")
                        }
                    );
                }
                Ok(())
            }
            Err(errors) => {
                for e in &errors {
                    eprintln!("{}: {e}", file.display());
                }
                bail!("{} has {} problem(s)", file.display(), errors.len())
            }
        },
    }
}

/// The rules of a policy file (the built-in policy without one), or every problem with it.
pub fn load_policy(path: Option<&std::path::Path>) -> anyhow::Result<crate::server::Rules> {
    load_policy_with_source(path).map(|(rules, _)| rules)
}

/// [`load_policy`], with which policy it read (replicas compare theirs).
pub fn load_policy_with_source(
    path: Option<&std::path::Path>,
) -> anyhow::Result<(crate::server::Rules, crate::server::PolicySource)> {
    crate::server::load_rules_with_source(path).map_err(|errors| {
        anyhow!(
            "the policy {} has {} problem(s):\n  {}",
            path.map_or("(built in)".into(), |p| p.display().to_string()),
            errors.len(),
            errors.join("\n  ")
        )
    })
}

/// `warroom oncall --policy FILE`: who is on call now and the next handoffs, per schedule,
/// as that file has it.
pub fn oncall(
    policy: &std::path::Path,
    at: Option<&str>,
    handoffs: usize,
) -> anyhow::Result<String> {
    let rules = load_policy(Some(policy))?;
    oncall_text(&rules.policy, at, handoffs)
}

/// Who is on call as of `at` (RFC 3339; default now) and the next `handoffs` handoffs, per
/// schedule of `policy`.
pub fn oncall_text(
    policy: &crate::model::policy::Policy,
    at: Option<&str>,
    handoffs: usize,
) -> anyhow::Result<String> {
    use crate::model::oncall::Layer;
    use std::fmt::Write as _;
    let now = match at {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|e| anyhow!("--at '{t}' is not an RFC 3339 time: {e}"))?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let mut out = String::new();
    let schedules = policy.schedules();
    if schedules.is_empty() {
        writeln!(out, "No on-call schedules in the policy.")?;
        return Ok(out);
    }
    let local = |t: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz| {
        t.with_timezone(&tz)
            .format("%a %Y-%m-%d %H:%M %Z")
            .to_string()
    };
    for s in schedules {
        let tz = s.time_zone();
        writeln!(
            out,
            "{} (rotation {}, {}) as of {}",
            s.name(),
            s.rotation(),
            tz,
            local(now, tz)
        )?;
        for layer in [Layer::Primary, Layer::Secondary] {
            match s.on_call(layer, now) {
                Some(shift) => writeln!(
                    out,
                    "  {:<9} {:<16} until {}{}",
                    layer.to_string(),
                    shift.person,
                    local(shift.until, tz),
                    if shift.overridden { " (override)" } else { "" }
                )?,
                None => writeln!(out, "  {:<9} nobody", layer.to_string())?,
            }
        }
        let next = s.handoffs(now, handoffs);
        if !next.is_empty() {
            writeln!(out, "  next handoffs:")?;
            for h in next {
                writeln!(
                    out,
                    "    {}  {:<9} {} → {}",
                    local(h.at, tz),
                    h.layer.to_string(),
                    h.from.as_deref().unwrap_or("nobody"),
                    h.to.as_deref().unwrap_or("nobody")
                )?;
            }
        }
    }
    Ok(out)
}

/// `warroom member add|remove|list`.
pub(super) async fn member(s: &mut Session, action: MemberAction) -> anyhow::Result<()> {
    let members = |s: &Session, r: IncidentRef| -> Vec<String> {
        s.replica
            .state
            .incident(r)
            .map(|i| i.members.keys().cloned().collect())
            .unwrap_or_default()
    };
    match action {
        MemberAction::List { incident } => {
            let inc = s.incident(incident).await?;
            if !inc.restricted {
                bail!("{incident} is not restricted: everyone on the feed sees it");
            }
            print!("{}", members_table(&inc));
        }
        MemberAction::Add { incident, person } => {
            let before = members(s, incident);
            s.run(Command::AddMember {
                incident,
                person: person.clone(),
            })
            .await?;
            let added = members(s, incident)
                .into_iter()
                .find(|m| !before.contains(m))
                .unwrap_or(person);
            println!("{incident}: {added} added to the members");
        }
        MemberAction::Remove { incident, person } => {
            let before = members(s, incident);
            s.run(Command::RemoveMember {
                incident,
                person: person.clone(),
            })
            .await?;
            let after = members(s, incident);
            let removed = before
                .into_iter()
                .find(|m| !after.contains(m))
                .unwrap_or(person);
            let gone = if s.replica.state.withheld.contains(&incident) {
                " (you no longer see it)"
            } else {
                ""
            };
            println!("{incident}: {removed} removed from the members{gone}");
        }
    }
    Ok(())
}

/// `member list`: one member a line, with when they were let in.
pub fn members_table(inc: &crate::model::Incident) -> String {
    let mut out = String::new();
    for (name, since) in &inc.members {
        let when = if *since == 0 {
            "from the start".to_string()
        } else {
            format!("since event {since}")
        };
        let name = crate::report::format::one_line(name);
        out.push_str(&format!("{name:<16} {when}\n"));
    }
    out
}
