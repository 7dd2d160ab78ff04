//! Deciding the post-mortem commands: sections, the 5-whys chain, action items and a waiver.

use crate::model::postmortem::{MAX_WHYS, Why};
use crate::model::state::Incident;
use crate::model::validate::{self, MAX_ENTRY, MAX_ITEM, MAX_NAME};
use crate::model::{Command, EventKind, Rejection};

/// The post-mortem's sections, 5 whys, action items and waiver.
pub(super) fn decide(
    inc: &Incident,
    actor: &str,
    cmd: &Command,
) -> Result<Vec<EventKind>, Rejection> {
    use Command as C;
    use EventKind as E;
    let r = inc.reference;
    let events = match cmd {
        C::EditPostmortem { section, text, .. } => {
            let text = validate::text(section.as_str(), text, MAX_ENTRY, true)?;
            if inc.postmortem.section(*section) == Some(text.as_str()) {
                return Err(Rejection::conflict(format!(
                    "{r}'s {} already says that",
                    section.title().to_lowercase()
                )));
            }
            vec![E::PostmortemEdited {
                incident: r,
                section: *section,
                text,
            }]
        }
        C::SetWhys { whys, .. } => {
            if whys.len() > MAX_WHYS {
                return Err(Rejection::invalid(format!(
                    "a 5-whys chain of {} links; at most {MAX_WHYS}",
                    whys.len()
                )));
            }
            let mut chain = Vec::with_capacity(whys.len());
            for (i, w) in whys.iter().enumerate() {
                chain.push(Why {
                    why: validate::text(&format!("why {}", i + 1), &w.why, MAX_ITEM, true)?,
                    because: validate::text(
                        &format!("because {}", i + 1),
                        &w.because,
                        MAX_ITEM,
                        true,
                    )?,
                });
            }
            if chain == inc.postmortem.whys {
                return Err(Rejection::conflict(format!(
                    "{r}'s 5-whys chain is already that"
                )));
            }
            vec![E::WhysSet {
                incident: r,
                whys: chain,
            }]
        }
        C::AddActionItem {
            text, owner, due, ..
        } => {
            let text = validate::text("action item", text, MAX_ITEM, false)?;
            let owner = owner_name(owner, actor)?;
            if due.is_none() {
                return Err(Rejection::invalid(
                    "an action item needs a due date (YYYY-MM-DD): specific, owned and \
                     time-bound",
                ));
            }
            vec![E::ActionItemAdded {
                incident: r,
                text,
                owner,
                due: *due,
            }]
        }
        C::UpdateActionItem {
            item,
            text,
            owner,
            due,
            done,
            ..
        } => {
            let old = inc.postmortem.item(*item).ok_or_else(|| {
                let ids: Vec<String> = inc
                    .postmortem
                    .action_items
                    .iter()
                    .map(|a| a.id.to_string())
                    .collect();
                Rejection::not_found(if ids.is_empty() {
                    format!("{r} has no action items")
                } else {
                    format!(
                        "{r} has no action item {item} (its items: {})",
                        ids.join(", ")
                    )
                })
            })?;
            let text = match text {
                Some(t) => validate::text("action item", t, MAX_ITEM, false)?,
                None => old.text.clone(),
            };
            let owner = match owner {
                Some(o) => owner_name(o, actor)?,
                None => old.owner.clone(),
            };
            let due = due.or(old.due);
            let done = done.unwrap_or(old.done);
            if text == old.text && owner == old.owner && due == old.due && done == old.done {
                return Err(Rejection::conflict(format!(
                    "the change to action item {item} changes nothing"
                )));
            }
            vec![E::ActionItemUpdated {
                incident: r,
                item: *item,
                text,
                owner,
                due,
                done,
            }]
        }
        C::WaivePostmortem { reason, .. } => {
            let reason = validate::text("reason", reason, MAX_ENTRY, true)?;
            vec![E::PostmortemWaived {
                incident: r,
                reason,
            }]
        }
        C::CompletePostmortem { .. } => {
            if inc.is_active() {
                return Err(Rejection::conflict(format!(
                    "{r} is {}: its post-mortem is held after it is resolved",
                    inc.status
                )));
            }
            if inc.postmortem.waived.is_some() {
                return Err(Rejection::conflict(format!(
                    "{r}'s post-mortem was waived; there is none to mark done"
                )));
            }
            if let Some(at) = inc.postmortem.completed_at {
                return Err(Rejection::conflict(format!(
                    "{r}'s post-mortem was already marked done at {}",
                    at.format("%Y-%m-%d %H:%M UTC")
                )));
            }
            if let Some(missing) = inc.postmortem.missing_for_close() {
                return Err(Rejection::conflict(format!(
                    "{r}'s post-mortem is not done yet: it needs {missing}"
                )));
            }
            vec![E::PostmortemCompleted { incident: r }]
        }
        _ => return Err(super::not_this_group()),
    };
    Ok(events)
}

/// An action item's owner: `me` is the sender.
fn owner_name(owner: &str, actor: &str) -> Result<String, Rejection> {
    if owner.trim().eq_ignore_ascii_case("me") {
        Ok(actor.to_string())
    } else {
        validate::text("owner", owner, MAX_NAME, false)
    }
}
