//! Notifications out: every fired step is delivered to its person's channels (an HTTP
//! webhook, a command, or both), with retries, and each outcome is recorded on the
//! incident's timeline. Every delivery carries an idempotency key (feed, step, channel) so
//! a receiver can drop the duplicates a retry or a restart may cause. Action items go to
//! the policy's tracker the same way (`tracker`).

mod tracker;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;

use super::core::{CoreInput, Delivery, SYSTEM_ACTOR};
use super::rules::Rules;
use crate::model::policy::{Channel, WebhookFormat};
use crate::model::{EventKind, State, StepAction};

mod updates;

/// Fired steps older than this are not re-delivered after a restart.
const REDELIVER_WITHIN_HOURS: i64 = 24;

/// What one delivery is about, flattened for bodies and environment variables.
#[derive(Debug, Clone)]
struct Page {
    key: String,
    incident: String,
    title: String,
    severity: String,
    service: String,
    action: StepAction,
    target: String,
    person: String,
    step: u32,
    steps: usize,
    round: u32,
    late: bool,
    fired_at: String,
    /// A page on demand: who asked for it, and what they said (kept in warroom for a
    /// restricted incident).
    on_demand: Option<(String, Option<String>)>,
    /// The war room's call link, when the policy gives one for the severity.
    bridge: Option<String>,
}

/// One message to one channel, as it is sent: the body a `json` webhook receives, the text
/// a Slack webhook and a command's `WARROOM_MESSAGE` carry, a command's environment.
#[derive(Debug, Clone)]
pub(super) struct Outgoing {
    pub(super) key: String,
    pub(super) incident: String,
    /// Whom it is for (logs and the recorded outcome).
    pub(super) person: String,
    pub(super) json: serde_json::Value,
    pub(super) text: String,
    pub(super) env: Vec<(&'static str, String)>,
    /// `Authorization: Bearer …` for the webhook (the status page's token).
    pub(super) bearer: Option<String>,
    /// The `json` body whatever the channel's format (the status page's documented body).
    pub(super) json_only: bool,
}

impl Page {
    /// The page as sent: warroom's JSON body, the message, the `WARROOM_*` variables.
    fn outgoing(&self) -> Outgoing {
        let mut body = json!({
            "idempotency_key": self.key,
            "incident": self.incident,
            "title": self.title,
            "severity": self.severity,
            "service": self.service,
            "action": self.action.as_str(),
            "target": self.target,
            "person": self.person,
            "step": self.step + 1,
            "steps": self.steps,
            "round": self.round + 1,
            "late": self.late,
            "fired_at": self.fired_at,
            "message": self.message(),
        });
        if let (Some(b), Some(o)) = (&self.bridge, body.as_object_mut()) {
            o.insert("bridge".into(), json!(b));
        }
        if let Some((by, note)) = &self.on_demand {
            // Not a step of a plan: who asked instead.
            if let Some(o) = body.as_object_mut() {
                for k in ["step", "steps", "round"] {
                    o.remove(k);
                }
                o.insert("on_demand".into(), json!(true));
                o.insert("requested_by".into(), json!(by));
                if let Some(n) = note {
                    o.insert("note".into(), json!(n));
                }
            }
        }
        Outgoing {
            key: self.key.clone(),
            incident: self.incident.clone(),
            person: self.person.clone(),
            json: body,
            text: self.message(),
            env: vec![
                ("WARROOM_INCIDENT", self.incident.clone()),
                ("WARROOM_TITLE", self.title.clone()),
                ("WARROOM_SEVERITY", self.severity.clone()),
                ("WARROOM_SERVICE", self.service.clone()),
                ("WARROOM_ACTION", self.action.as_str().to_string()),
                ("WARROOM_TARGET", self.target.clone()),
                ("WARROOM_PERSON", self.person.clone()),
                ("WARROOM_STEP", (self.step + 1).to_string()),
                ("WARROOM_ROUND", (self.round + 1).to_string()),
                ("WARROOM_MESSAGE", self.message()),
                ("WARROOM_BRIDGE", self.bridge.clone().unwrap_or_default()),
                (
                    "WARROOM_REQUESTED_BY",
                    self.on_demand
                        .as_ref()
                        .map_or(String::new(), |(by, _)| by.clone()),
                ),
            ],
            bearer: None,
            json_only: false,
        }
    }

    fn message(&self) -> String {
        let verb = match self.action {
            StepAction::Page => "paging",
            StepAction::Notify => "notifying",
            StepAction::Ticket => "ticket for",
        };
        let svc = if self.service.is_empty() {
            String::new()
        } else {
            format!(" [{}]", self.service)
        };
        let why = match &self.on_demand {
            Some((by, note)) => {
                let note = note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default();
                format!("on demand, by {by}){note}")
            }
            None => format!("step {} of {})", self.step + 1, self.steps),
        };
        let bridge = self
            .bridge
            .as_deref()
            .map(|b| format!(" · bridge: {b}"))
            .unwrap_or_default();
        format!(
            "{} {}{svc}: {} — {verb} {} ({}, {why}{bridge}",
            self.severity, self.incident, self.title, self.person, self.target,
        )
    }
}

/// Delivers fired steps until the core stops.
pub async fn run(
    rules: Arc<Rules>,
    feed_id: String,
    backoff_override: Option<Duration>,
    core: mpsc::WeakSender<CoreInput>,
    mut rx: mpsc::UnboundedReceiver<Delivery>,
    pending_at_start: Vec<Delivery>,
    metrics: Arc<super::metrics::Metrics>,
) {
    // reqwest's TLS needs a process-wide crypto provider; installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = match reqwest::Client::builder()
        .timeout(rules.policy.notify_settings().timeout.0)
        .user_agent(concat!("warroom/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("notifications are off: cannot build an HTTP client: {e}");
            return;
        }
    };
    let ctx = Arc::new((client, rules, feed_id, backoff_override, core, metrics));
    for d in pending_at_start {
        spawn_delivery(ctx.clone(), d, true);
    }
    while let Some(d) = rx.recv().await {
        spawn_delivery(ctx.clone(), d, false);
    }
}

pub(super) type Ctx = (
    reqwest::Client,
    Arc<Rules>,
    String,
    Option<Duration>,
    mpsc::WeakSender<CoreInput>,
    Arc<super::metrics::Metrics>,
);

fn spawn_delivery(ctx: Arc<Ctx>, d: Delivery, only_missing: bool) {
    if matches!(d.event.kind, EventKind::ActionItemAdded { .. }) {
        tracker::spawn(ctx, d);
        return;
    }
    let (incident, round, step, action, target, person, late, on_demand) = match &d.event.kind {
        EventKind::StepFired {
            incident,
            round,
            step,
            action,
            target,
            person: Some(person),
            late,
            ..
        } => (
            incident, *round, *step, *action, target, person, *late, None,
        ),
        EventKind::Paged {
            incident,
            target,
            person,
            message,
        } => {
            // What was typed about a restricted incident stays in warroom, as its title does.
            let note = message.clone().filter(|_| !d.restricted);
            let by = Some((d.event.actor.clone(), note));
            (incident, 0, 0, StepAction::Page, target, person, false, by)
        }
        EventKind::EntryAdded { .. } => {
            return updates::spawn(&ctx, &d, only_missing);
        }
        _ => return,
    };
    let (_, rules, feed_id, _, _, _) = &*ctx;
    let channels: Vec<(String, Channel)> = match action {
        StepAction::Ticket => rules
            .policy
            .channel(target)
            .map(|c| vec![(target.clone(), c.clone())])
            .unwrap_or_default(),
        _ => rules
            .policy
            .channels_for(person)
            .into_iter()
            .map(|(n, c)| (n.to_string(), c.clone()))
            .collect(),
    };
    for (name, channel) in channels {
        if only_missing && d.already.iter().any(|c| c == &name) {
            continue;
        }
        let page = Page {
            key: format!("{feed_id}:{}:{name}", d.event.seq),
            incident: incident.to_string(),
            title: d.title.clone(),
            severity: d.severity.to_string(),
            service: d.service.clone().unwrap_or_default(),
            action,
            target: target.clone(),
            person: person.clone(),
            step,
            steps: d.steps,
            round,
            late,
            fired_at: d.event.at.to_rfc3339(),
            on_demand: on_demand.clone(),
            bridge: rules.policy.bridge(d.severity, *incident),
        };
        spawn_send(
            &ctx,
            *incident,
            (name, channel),
            page.outgoing(),
            d.event.seq,
        );
    }
}

/// Sends `out` through channel `name` in a task of its own, with the policy's tries, and
/// records the outcome (a `notification_result` naming event `seq`).
pub(super) fn spawn_send(
    ctx: &Arc<Ctx>,
    incident: crate::model::IncidentRef,
    (name, channel): (String, Channel),
    out: Outgoing,
    seq: u64,
) {
    let ctx = ctx.clone();
    tokio::spawn(async move {
        let (client, rules, _, backoff_override, core, metrics) = &*ctx;
        let settings = rules.policy.notify_settings();
        let backoff = backoff_override.unwrap_or(settings.backoff.0);
        let (delivered, attempts, detail) = deliver(
            client,
            (&name, &channel),
            &out,
            (settings.attempts, backoff, settings.timeout.0),
            metrics,
        )
        .await;
        metrics.notification(&name, delivered);
        let result = EventKind::NotificationResult {
            incident,
            step_seq: seq,
            person: out.person.clone(),
            channel: name,
            delivered,
            attempts,
            detail,
        };
        let Some(core) = core.upgrade() else {
            tracing::warn!("the server stopped before a delivery result was recorded");
            return;
        };
        let _ = core
            .send(CoreInput::Record {
                actor: SYSTEM_ACTOR.to_string(),
                events: vec![result],
            })
            .await;
    });
}

/// Tries channel `name` up to `attempts` times, `backoff` apart (doubling), each bounded by
/// `timeout`; returns (delivered, attempts made, detail). Each failed attempt is counted
/// and logged (its reason, never the channel's address).
async fn deliver(
    client: &reqwest::Client,
    (name, channel): (&str, &Channel),
    page: &Outgoing,
    (attempts, backoff, timeout): (u32, Duration, Duration),
    metrics: &super::metrics::Metrics,
) -> (bool, u32, String) {
    let mut wait = backoff;
    let mut last = String::new();
    for attempt in 1..=attempts.max(1) {
        let outcome = try_once(client, channel, page, timeout).await;
        match outcome {
            Ok(detail) => return (true, attempt, detail),
            Err((detail, retry)) => {
                let reason = failure_reason(&detail);
                metrics.notification_failed(name, reason);
                tracing::warn!(
                    incident = %page.incident,
                    person = %page.person,
                    channel = %name,
                    attempt,
                    attempts,
                    retry = retry && attempt < attempts,
                    reason,
                    "notification failed"
                );
                last = detail;
                if !retry || attempt == attempts {
                    return (false, attempt, last);
                }
            }
        }
        tokio::time::sleep(wait).await;
        wait = wait.saturating_mul(2);
    }
    (false, attempts, last)
}

/// One try at every part of a channel. `Err((why, worth retrying))`.
async fn try_once(
    client: &reqwest::Client,
    channel: &Channel,
    page: &Outgoing,
    timeout: Duration,
) -> Result<String, (String, bool)> {
    let mut done = Vec::new();
    if let Some(url) = &channel.webhook {
        let body = match channel.format {
            WebhookFormat::Slack if !page.json_only => json!({ "text": page.text }),
            _ => page.json.clone(),
        };
        let mut req = client.post(url).header("Idempotency-Key", &page.key);
        if let Some(token) = &page.bearer {
            req = req.bearer_auth(token);
        }
        let resp = req
            .json(&body)
            .send()
            .await
            // Without its URL: a chat webhook's address is its secret.
            .map_err(|e| (format!("webhook: {}", e.without_url()), true))?;
        let status = resp.status();
        if !status.is_success() {
            let retry =
                status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429;
            return Err((format!("webhook answered HTTP {}", status.as_u16()), retry));
        }
        done.push(format!("webhook HTTP {}", status.as_u16()));
    }
    if let Some(cmd) = &channel.command
        && let Some((program, args)) = cmd.split_first()
    {
        let mut c = tokio::process::Command::new(program);
        c.args(args)
            .env("WARROOM_IDEMPOTENCY_KEY", &page.key)
            .envs(page.env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let child = c
            .spawn()
            .map_err(|e| (format!("command {program}: {e}"), false))?;
        let out = tokio::time::timeout(timeout, child.wait_with_output())
            .await
            .map_err(|_| {
                (
                    format!("command {program}: no exit within {timeout:?}"),
                    true,
                )
            })?
            .map_err(|e| (format!("command {program}: {e}"), true))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let err = err.lines().last().unwrap_or("").trim();
            return Err((
                format!("command {program} exited with {}: {err}", out.status),
                true,
            ));
        }
        done.push("command exit 0".to_string());
    }
    Ok(done.join(", "))
}

/// A failure's kind for metrics and logs, from its detail (as `try_once` words it): a
/// short fixed word, never the detail itself.
fn failure_reason(detail: &str) -> &'static str {
    if let Some(status) = detail.strip_prefix("webhook answered HTTP ") {
        return match status.as_bytes().first() {
            Some(b'4') => "http_4xx",
            Some(b'5') => "http_5xx",
            _ => "http_other",
        };
    }
    if detail.starts_with("webhook:") {
        if detail.contains("timed out") || detail.contains("timeout") {
            return "timeout";
        }
        return "unreachable";
    }
    if detail.contains("no exit within") {
        return "timeout";
    }
    if detail.contains("exited with") {
        return "command_failed";
    }
    "command_not_started"
}

/// Fired steps of the last day whose deliveries were not all recorded (the server stopped
/// first): they are delivered again, with the same idempotency keys. So are the last day's
/// status updates not yet delivered to every stakeholder channel (and the status page), and
/// its action items without a ticket, when the policy has a tracker.
pub fn undelivered(
    state: &State,
    rules: &Rules,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Delivery> {
    let mut v = Vec::new();
    for inc in state.incidents.values() {
        let Some(esc) = &inc.escalation else { continue };
        for f in &esc.fired {
            let Some(person) = &f.person else { continue };
            if now - f.at > chrono::Duration::hours(REDELIVER_WITHIN_HOURS) {
                continue;
            }
            let wanted: Vec<String> = match f.action {
                StepAction::Ticket => rules
                    .policy
                    .channel(&f.target)
                    .map(|_| vec![f.target.clone()])
                    .unwrap_or_default(),
                _ => rules
                    .policy
                    .channels_for(person)
                    .into_iter()
                    .map(|(n, _)| n.to_string())
                    .collect(),
            };
            let already: Vec<String> = f.deliveries.iter().map(|(c, _)| c.clone()).collect();
            if wanted.iter().all(|w| already.contains(w)) {
                continue;
            }
            let shown = Delivery::shown(inc);
            v.push(Delivery {
                restricted: inc.restricted,
                event: crate::model::Event {
                    seq: f.seq,
                    at: f.at,
                    actor: SYSTEM_ACTOR.to_string(),
                    kind: EventKind::StepFired {
                        incident: inc.reference,
                        run: esc.run,
                        round: f.round,
                        step: f.step,
                        action: f.action,
                        target: f.target.clone(),
                        person: Some(person.clone()),
                        due_at: f.due_at,
                        late: f.late,
                    },
                },
                title: shown.0,
                severity: inc.severity,
                service: shown.1,
                steps: esc.plan.steps.len(),
                already,
                status: inc.status,
                next_update_at: inc.next_update_due(),
            });
        }
    }
    for inc in state.incidents.values() {
        for p in &inc.pages {
            if now - p.at > chrono::Duration::hours(REDELIVER_WITHIN_HOURS) {
                continue;
            }
            let already: Vec<String> = p.deliveries.iter().map(|(c, _)| c.clone()).collect();
            let wanted = rules.policy.channels_for(&p.person);
            if wanted.iter().all(|(w, _)| already.iter().any(|a| a == w)) {
                continue;
            }
            let shown = Delivery::shown(inc);
            v.push(Delivery {
                event: crate::model::Event {
                    seq: p.seq,
                    at: p.at,
                    actor: p.by.clone(),
                    kind: EventKind::Paged {
                        incident: inc.reference,
                        target: p.target.clone(),
                        person: p.person.clone(),
                        message: p.message.clone(),
                    },
                },
                title: shown.0,
                severity: inc.severity,
                service: shown.1,
                steps: 0,
                already,
                restricted: inc.restricted,
                status: inc.status,
                next_update_at: inc.next_update_due(),
            });
        }
    }
    v.extend(updates::unsent(
        state,
        rules,
        now,
        chrono::Duration::hours(REDELIVER_WITHIN_HOURS),
    ));
    if rules.policy.tracker().is_some() {
        v.extend(tracker::unticketed(
            state,
            now,
            chrono::Duration::hours(REDELIVER_WITHIN_HOURS),
        ));
    }
    v
}
