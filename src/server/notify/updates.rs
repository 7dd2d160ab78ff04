//! Status updates out: each one recorded goes to the stakeholders the policy names for the
//! incident's severity (through their channels, as pages do), and a public one to the
//! status page. Same tries and idempotency keys (feed, entry, channel) as pages; each
//! outcome is recorded as a `notification_result` naming the entry.
//!
//! A restricted incident's update is announced to its stakeholders without its content
//! (its title, service, text and briefing stay in warroom), and never reaches the status
//! page (the feed refuses to mark it public; this checks again).

use std::sync::Arc;

use serde_json::json;

use super::{Ctx, Outgoing, spawn_send};
use crate::model::policy::{Channel, WebhookFormat};
use crate::model::{Briefing, EntryKind, EventKind, Severity};
use crate::server::core::Delivery;

/// The channel name a status page delivery is recorded under.
pub const STATUS_PAGE_CHANNEL: &str = "status_page";
/// Whom a status page delivery is recorded as reaching.
pub const STATUS_PAGE_PERSON: &str = "status page";

/// What one status update says, flattened for bodies and environment variables.
struct Update<'a> {
    d: &'a Delivery,
    incident: String,
    text: String,
    briefing: Option<&'a Briefing>,
    next_update_at: String,
}

impl Update<'_> {
    /// One line for chat and commands: severity, incident, service, title, status, the
    /// update, the next update, and a SEV1's briefing.
    fn message(&self) -> String {
        let d = self.d;
        let svc = d
            .service
            .as_deref()
            .map(|s| format!(" [{s}]"))
            .unwrap_or_default();
        let next = if self.next_update_at.is_empty() {
            String::new()
        } else {
            format!(" · next update {}", self.next_update_at)
        };
        let briefing = self
            .briefing
            .map(|b| {
                format!(
                    " · Briefing: impact: {}; ETA: {}; commitments at risk: {}",
                    b.impact, b.eta, b.at_risk
                )
            })
            .unwrap_or_default();
        format!(
            "{} {}{svc}: {} — status update ({}): {}{next}{briefing}",
            d.severity, self.incident, d.title, d.status, self.text
        )
    }

    fn outgoing(&self, key: String, person: &str) -> Outgoing {
        let d = self.d;
        let mut body = json!({
            "idempotency_key": key,
            "type": "status_update",
            "incident": self.incident,
            "title": d.title,
            "severity": d.severity.to_string(),
            "service": d.service.clone().unwrap_or_default(),
            "status": d.status.as_str(),
            "person": person,
            "text": self.text,
            "posted_by": d.event.actor,
            "posted_at": d.event.at.to_rfc3339(),
            "message": self.message(),
        });
        if let Some(o) = body.as_object_mut() {
            if !self.next_update_at.is_empty() {
                o.insert("next_update_at".into(), json!(self.next_update_at));
            }
            if let Some(b) = self.briefing {
                o.insert("briefing".into(), json!(b));
            }
        }
        let b = self.briefing;
        let part = |f: fn(&Briefing) -> &String| b.map(f).cloned().unwrap_or_default();
        Outgoing {
            key,
            incident: self.incident.clone(),
            person: person.to_string(),
            json: body,
            text: self.message(),
            env: vec![
                ("WARROOM_INCIDENT", self.incident.clone()),
                ("WARROOM_TITLE", d.title.clone()),
                ("WARROOM_SEVERITY", d.severity.to_string()),
                ("WARROOM_SERVICE", d.service.clone().unwrap_or_default()),
                ("WARROOM_ACTION", "status_update".into()),
                ("WARROOM_STATUS", d.status.as_str().to_string()),
                ("WARROOM_PERSON", person.to_string()),
                ("WARROOM_TEXT", self.text.clone()),
                ("WARROOM_NEXT_UPDATE_AT", self.next_update_at.clone()),
                ("WARROOM_MESSAGE", self.message()),
                ("WARROOM_IMPACT", part(|b| &b.impact)),
                ("WARROOM_ETA", part(|b| &b.eta)),
                ("WARROOM_AT_RISK", part(|b| &b.at_risk)),
            ],
            bearer: None,
            json_only: false,
        }
    }
}

/// Delivers the status update `d` carries: to each stakeholder's channels (those not
/// already reached, after a restart), and to the status page when it is public.
pub(super) fn spawn(ctx: &Arc<Ctx>, d: &Delivery, only_missing: bool) {
    let EventKind::EntryAdded {
        incident,
        entry_kind: EntryKind::StatusUpdate,
        text,
        public,
        briefing,
        ..
    } = &d.event.kind
    else {
        return;
    };
    let (_, rules, feed_id, _, _, _) = &**ctx;
    let restricted_text;
    let update = Update {
        d,
        incident: incident.to_string(),
        text: if d.restricted {
            restricted_text = format!(
                "a status update was posted on restricted incident {incident}: read it in \
                 warroom (need to know)"
            );
            restricted_text
        } else {
            text.clone()
        },
        // The guide's executive briefing is for SEV1; what was typed about a restricted
        // incident stays in warroom.
        briefing: briefing
            .as_ref()
            .filter(|_| !d.restricted && d.severity == Severity::Sev1),
        next_update_at: d
            .next_update_at
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default(),
    };
    let seq = d.event.seq;
    let skip = |name: &str| only_missing && d.already.iter().any(|c| c == name);
    for person in rules.policy.stakeholders(d.severity) {
        for (name, channel) in rules.policy.channels_for(person) {
            if skip(name) {
                continue;
            }
            let out = update.outgoing(format!("{feed_id}:{seq}:{name}"), person);
            spawn_send(
                ctx,
                *incident,
                (name.to_string(), channel.clone()),
                out,
                seq,
            );
        }
    }
    if let Some(page) = rules.policy.status_page()
        && *public
        && !d.restricted
        && !skip(STATUS_PAGE_CHANNEL)
    {
        let key = format!("{feed_id}:{seq}:{STATUS_PAGE_CHANNEL}");
        let mut out = update.outgoing(key.clone(), STATUS_PAGE_PERSON);
        // The status page's own body: what customers may read, nothing internal.
        let mut body = json!({
            "idempotency_key": key,
            "incident": update.incident,
            "title": d.title,
            "status": d.status.as_str(),
            "severity": d.severity.to_string(),
            "text": update.text,
            "updated_at": d.event.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        });
        if let Some(o) = body.as_object_mut()
            && !update.next_update_at.is_empty()
        {
            o.insert("next_update_at".into(), json!(update.next_update_at));
        }
        out.json = body;
        out.json_only = true;
        out.bearer = page.token_env.as_deref().and_then(|var| {
            let token = std::env::var(var).ok().filter(|t| !t.trim().is_empty());
            if token.is_none() {
                tracing::warn!(
                    variable = var,
                    "the status page's token variable is not set: sending without it"
                );
            }
            token
        });
        let channel = Channel {
            webhook: Some(page.url.clone()),
            format: WebhookFormat::Json,
            command: None,
        };
        spawn_send(
            ctx,
            *incident,
            (STATUS_PAGE_CHANNEL.to_string(), channel),
            out,
            seq,
        );
    }
}

/// The status updates of the last `within` whose deliveries were not all recorded (the
/// feed stopped first): each is delivered again to the channels it has no outcome for,
/// with the same idempotency keys. A superseded update is not: its correction stands.
pub(super) fn unsent(
    state: &crate::model::State,
    rules: &crate::server::rules::Rules,
    now: chrono::DateTime<chrono::Utc>,
    within: chrono::Duration,
) -> Vec<Delivery> {
    let mut v = Vec::new();
    for inc in state.incidents.values() {
        let mut wanted: Vec<&str> = rules
            .policy
            .stakeholders(inc.severity)
            .iter()
            .flat_map(|p| rules.policy.channels_for(p))
            .map(|(name, _)| name)
            .collect();
        for e in inc.entries.iter().rev() {
            if now - e.recorded_at > within {
                break;
            }
            if e.kind != EntryKind::StatusUpdate || e.superseded_by.is_some() {
                continue;
            }
            let public = e.public && !inc.restricted && rules.policy.status_page().is_some();
            if public {
                wanted.push(STATUS_PAGE_CHANNEL);
            }
            let already: Vec<String> = e.deliveries.iter().map(|(c, _)| c.clone()).collect();
            let missing = wanted.iter().any(|w| !already.iter().any(|a| a == w));
            if public {
                wanted.pop();
            }
            if !missing {
                continue;
            }
            let (title, service) = Delivery::shown(inc);
            v.push(Delivery {
                event: crate::model::Event {
                    seq: e.id,
                    at: e.recorded_at,
                    actor: e.author.clone(),
                    kind: EventKind::EntryAdded {
                        incident: inc.reference,
                        entry_kind: EntryKind::StatusUpdate,
                        text: e.text.clone(),
                        occurred_at: e.occurred_at,
                        next_update_secs: None,
                        public: e.public,
                        briefing: e.briefing.clone(),
                    },
                },
                title,
                severity: inc.severity,
                service,
                steps: 0,
                already,
                restricted: inc.restricted,
                status: inc.status,
                next_update_at: inc.next_update_due(),
            });
        }
    }
    v
}
