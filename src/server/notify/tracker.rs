//! Action items as tickets: each action item recorded while the policy has a `[tracker]` is
//! POSTed to its webhook, with the same retries as a page and an idempotency key
//! (`<feed>-<item>`) that stays the same across retries and restarts. The tracker answers
//! the ticket's reference (and where it is); that is recorded as `action_item_ticketed`. A
//! failed delivery is recorded as a `notification_result` naming the item, as a page's is.

use std::time::Duration;

use serde_json::json;

use super::{Ctx, failure_reason};
use crate::model::policy::TrackerSpec;
use crate::model::{EventKind, IncidentRef};
use crate::server::core::{CoreInput, Delivery, SYSTEM_ACTOR};

/// The channel name deliveries to the tracker are recorded and counted under.
pub const CHANNEL: &str = "tracker";

/// Longest answer read from the tracker.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Longest ticket reference and link recorded.
const MAX_REFERENCE: usize = 128;
const MAX_URL: usize = 2048;

/// What is sent about one action item.
#[derive(Debug, Clone)]
struct Item {
    key: String,
    incident: IncidentRef,
    item: u64,
    owner: String,
    body: serde_json::Value,
}

/// The ticket the tracker answered.
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    reference: String,
    url: Option<String>,
}

/// Starts delivering `d` (an `action_item_added`) to the tracker, when the policy has one.
pub(super) fn spawn(ctx: std::sync::Arc<Ctx>, d: Delivery) {
    let (_, rules, feed_id, _, _, _) = &*ctx;
    let Some(tracker) = rules.policy.tracker().cloned() else {
        return;
    };
    let Some(item) = item_of(&d, feed_id) else {
        return;
    };
    tokio::spawn(async move {
        let (client, rules, _, backoff_override, core, metrics) = &*ctx;
        let settings = rules.policy.notify_settings();
        let backoff = backoff_override.unwrap_or(settings.backoff.0);
        let (outcome, attempts) = deliver(
            client,
            &tracker,
            &item,
            (settings.attempts, backoff),
            metrics,
        )
        .await;
        metrics.notification(CHANNEL, outcome.is_ok());
        let event = match outcome {
            Ok(a) => EventKind::ActionItemTicketed {
                incident: item.incident,
                item: item.item,
                reference: a.reference,
                url: a.url,
            },
            Err(detail) => EventKind::NotificationResult {
                incident: item.incident,
                step_seq: item.item,
                person: item.owner.clone(),
                channel: CHANNEL.to_string(),
                delivered: false,
                attempts,
                detail,
            },
        };
        let Some(core) = core.upgrade() else {
            tracing::warn!("the server stopped before a ticket's outcome was recorded");
            return;
        };
        let _ = core
            .send(CoreInput::Record {
                actor: SYSTEM_ACTOR.to_string(),
                events: vec![event],
            })
            .await;
    });
}

/// The body sent for an `action_item_added`: a restricted incident's item carries only its
/// id, owner and due date (its title and text stay in warroom).
fn item_of(d: &Delivery, feed_id: &str) -> Option<Item> {
    let EventKind::ActionItemAdded {
        incident,
        text,
        owner,
        due,
    } = &d.event.kind
    else {
        return None;
    };
    let item = d.event.seq;
    let key = format!("{feed_id}-{item}");
    let due_text = due.map(|d| d.to_string());
    let body = if d.restricted {
        json!({
            "idempotency_key": key,
            "incident": incident.to_string(),
            "item": item,
            "title": "restricted incident",
            "text": "restricted incident",
            "owner": owner,
            "due": due_text,
            "restricted": true,
            "description": format!(
                "An action item of restricted incident {incident}, owned by {owner}{}: \
                 details in warroom (need to know).",
                due_text.as_deref().map(|d| format!(", due {d}")).unwrap_or_default()
            ),
        })
    } else {
        let service = d.service.clone().unwrap_or_default();
        let on = if service.is_empty() {
            String::new()
        } else {
            format!(" on {service}")
        };
        json!({
            "idempotency_key": key,
            "incident": incident.to_string(),
            "title": d.title,
            "severity": d.severity.to_string(),
            "service": service,
            "item": item,
            "text": text,
            "owner": owner,
            "due": due_text,
            "restricted": false,
            "description": format!(
                "{text}\n\nOwner: {owner}. Due: {}.\nAn action item from the post-mortem of \
                 {incident} ({}{on}): {}. Recorded in warroom as action item #{item}.",
                due_text.as_deref().unwrap_or("no date"),
                d.severity,
                d.title
            ),
        })
    };
    Some(Item {
        key,
        incident: *incident,
        item,
        owner: owner.clone(),
        body,
    })
}

/// Tries the tracker up to `attempts` times, `backoff` apart (doubling); returns the ticket
/// or why not, and the attempts made. Failures are counted and logged with their reason,
/// never the tracker's address.
async fn deliver(
    client: &reqwest::Client,
    tracker: &TrackerSpec,
    item: &Item,
    (attempts, backoff): (u32, Duration),
    metrics: &crate::server::metrics::Metrics,
) -> (Result<Answer, String>, u32) {
    let mut wait = backoff;
    let attempts = attempts.max(1);
    for attempt in 1..=attempts {
        match try_once(client, tracker, item).await {
            Ok(a) => return (Ok(a), attempt),
            Err((detail, retry)) => {
                let reason = failure_reason(&detail);
                metrics.notification_failed(CHANNEL, reason);
                tracing::warn!(
                    incident = %item.incident,
                    item = item.item,
                    attempt,
                    attempts,
                    retry = retry && attempt < attempts,
                    reason,
                    "ticket not opened"
                );
                if !retry || attempt == attempts {
                    return (Err(detail), attempt);
                }
            }
        }
        tokio::time::sleep(wait).await;
        wait = wait.saturating_mul(2);
    }
    (Err("no attempt made".into()), attempts)
}

/// One POST. `Err((why, worth retrying))`.
async fn try_once(
    client: &reqwest::Client,
    tracker: &TrackerSpec,
    item: &Item,
) -> Result<Answer, (String, bool)> {
    let mut resp = client
        .post(tracker.url.trim())
        .header("Idempotency-Key", &item.key)
        .json(&item.body)
        .send()
        .await
        // Without its URL: the tracker's address may be its credential.
        .map_err(|e| (format!("webhook: {}", e.without_url()), true))?;
    let status = resp.status();
    if !status.is_success() {
        let retry = status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429;
        return Err((format!("webhook answered HTTP {}", status.as_u16()), retry));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| (format!("webhook: {}", e.without_url()), true))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err((
                format!("tracker answered more than {MAX_ANSWER_BYTES} bytes"),
                false,
            ));
        }
        body.extend_from_slice(&chunk);
    }
    parse_answer(&body).map_err(|e| (e, false))
}

/// The tracker's answer: `{"reference": "OPS-123", "url": "https://…"}` (`url` optional).
/// A reference that cannot be recorded is refused naming why; a link that is not one is
/// left out (the ticket exists: its reference is still recorded).
fn parse_answer(body: &[u8]) -> Result<Answer, String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        format!("tracker answer is not JSON ({e}): expected {{\"reference\": \"OPS-123\"}}")
    })?;
    let reference = match v.get("reference") {
        Some(serde_json::Value::String(s)) => s.trim().to_string(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(_) => return Err("tracker answer's \"reference\" is not a string".into()),
        None => return Err("tracker answer has no \"reference\"".into()),
    };
    if reference.is_empty()
        || reference.chars().count() > MAX_REFERENCE
        || reference.chars().any(char::is_control)
    {
        return Err(format!(
            "tracker answer's \"reference\" is empty, longer than {MAX_REFERENCE} characters \
             or has control characters"
        ));
    }
    let url = match v.get("url") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(u))
            if (u.starts_with("https://") || u.starts_with("http://"))
                && u.len() <= MAX_URL
                && !u.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Some(u.clone())
        }
        Some(_) => {
            tracing::warn!(
                reference,
                "the tracker's ticket link is not an http(s) URL: left out"
            );
            None
        }
    };
    Ok(Answer { reference, url })
}

/// Action items of the last day without a ticket (the server stopped before the tracker's
/// answer was recorded, or the tracker failed): delivered again at start-up, with the same
/// idempotency keys, when the policy has a tracker.
pub(super) fn unticketed(
    state: &crate::model::State,
    now: chrono::DateTime<chrono::Utc>,
    within: chrono::Duration,
) -> Vec<Delivery> {
    let mut v = Vec::new();
    for inc in state.incidents.values() {
        for a in &inc.postmortem.action_items {
            let Some(at) = a.added_at else { continue };
            if a.ticket.is_some() || now - at > within {
                continue;
            }
            let (title, service) = Delivery::shown(inc);
            v.push(Delivery {
                event: crate::model::Event {
                    seq: a.id,
                    at,
                    actor: SYSTEM_ACTOR.to_string(),
                    kind: EventKind::ActionItemAdded {
                        incident: inc.reference,
                        text: a.text.clone(),
                        owner: a.owner.clone(),
                        due: a.due,
                    },
                },
                title,
                severity: inc.severity,
                service,
                steps: 0,
                already: Vec::new(),
                restricted: inc.restricted,
                status: inc.status,
                next_update_at: inc.next_update_due(),
            });
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Event, Severity, State};
    use chrono::{TimeZone, Utc};

    #[test]
    fn after_a_restart_only_the_last_days_items_without_a_ticket_go_again() {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 10, 2, 0, 0).unwrap();
        let r = IncidentRef(1);
        let kinds = [
            (
                0,
                EventKind::Declared {
                    incident: r,
                    title: "Checkout down".into(),
                    service: None,
                    severity: Severity::Sev2,
                    restricted: false,
                    alert_key: None,
                },
            ),
            (0, item("old")),
            (30, item("ticketed")),
            (30, item("waiting")),
            (
                31,
                EventKind::ActionItemTicketed {
                    incident: r,
                    item: 3,
                    reference: "OPS-3".into(),
                    url: None,
                },
            ),
        ];
        let mut state = State::default();
        for (i, (hours, kind)) in kinds.into_iter().enumerate() {
            let ev = Event {
                seq: i as u64 + 1,
                at: t0 + chrono::Duration::hours(hours),
                actor: "alice".into(),
                kind,
            };
            state.apply(&ev).unwrap();
        }
        let now = t0 + chrono::Duration::hours(40);
        let again = unticketed(&state, now, chrono::Duration::hours(24));
        let seqs: Vec<u64> = again.iter().map(|d| d.event.seq).collect();
        assert_eq!(
            seqs,
            [4],
            "the old one is past the day; the ticketed one is done"
        );
        let d = item_of(&again[0], "feed").unwrap();
        assert_eq!(d.key, "feed-4");
        assert_eq!(d.body["text"], "waiting");
    }

    fn item(text: &str) -> EventKind {
        EventKind::ActionItemAdded {
            incident: IncidentRef(1),
            text: text.into(),
            owner: "bob".into(),
            due: None,
        }
    }

    #[test]
    fn the_answer_names_the_ticket_or_says_what_is_wrong() {
        assert_eq!(
            parse_answer(br#"{"reference": "OPS-123", "url": "https://t.example.com/OPS-123"}"#),
            Ok(Answer {
                reference: "OPS-123".into(),
                url: Some("https://t.example.com/OPS-123".into())
            })
        );
        assert_eq!(
            parse_answer(br#"{"reference": 4711}"#).map(|a| a.reference),
            Ok("4711".into())
        );
        // A link that is not one is left out; the ticket is still recorded.
        assert_eq!(
            parse_answer(br#"{"reference": "OPS-9", "url": "javascript:alert(1)"}"#),
            Ok(Answer {
                reference: "OPS-9".into(),
                url: None
            })
        );
        for (body, says) in [
            (&b"created"[..], "not JSON"),
            (br#"{"id": "OPS-1"}"#, "has no \"reference\""),
            (br#"{"reference": ""}"#, "empty"),
            (br#"{"reference": "OPS\u001b[2J"}"#, "control characters"),
            (br#"{"reference": ["OPS-1"]}"#, "not a string"),
        ] {
            let e = parse_answer(body).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }
}
