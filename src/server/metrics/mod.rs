//! The feed's own health for its operators: counters, gauges and histograms kept in a
//! Prometheus recorder of this server's own (never the process-wide one, so two feeds in one
//! process never mix their counts), rendered at `GET /metrics` in the Prometheus text format.
//! `/metrics` answers loopback peers on the feed's port; others need `--metrics-token`
//! (Bearer), or the operator's own `--metrics-listen` address. `docs/operations.md` lists
//! every metric.
//!
//! Counting is cheap where it is hot: the handles of unlabelled metrics are registered
//! once; a histogram observation is one push onto a lock-free bucket, folded into the
//! Prometheus buckets at scrape time or by the upkeep every few seconds.

mod scrape;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use super::App;
use crate::model::{Command, Event, EventKind, Milestone, Severity, State};
use crate::protocol::{Answer, ErrorCode};
pub(crate) use scrape::{count_requests, listener, serve_metrics};

static META: Metadata<'static> = Metadata::new("warroom", Level::INFO, Some(module_path!()));

/// Who may read `/metrics`, and where besides the feed's port it is served.
#[derive(Clone, Default)]
pub struct MetricsConfig {
    /// Counting off (benchmarks compare the fan-out with and without it); `/metrics` is
    /// then empty.
    pub disabled: bool,
    /// `--metrics-token`: a scraper that presents it (`Authorization: Bearer …`) may read
    /// `/metrics` from beyond loopback.
    pub token: Option<String>,
    /// `--metrics-listen`: an address of the operator's choosing that serves `/metrics`
    /// only (to anyone who can reach it, with the token if one is set).
    pub listen: Option<SocketAddr>,
}

impl std::fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsConfig")
            .field("disabled", &self.disabled)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("listen", &self.listen)
            .finish()
    }
}

/// Seconds, for latencies measured in the feed (a commit, a frame's way to a console).
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Events in one durable append.
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 2048.0,
];
/// Seconds from detection to acknowledgement, around the 5 / 15 / 60-minute targets.
const ACK_BUCKETS: &[f64] = &[
    60.0, 180.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 86400.0,
];

/// (name, kind, help) of every metric, for the `# HELP` lines and the docs' test.
pub const DESCRIBED: &[(&str, &str, &str)] = &[
    (
        "warroom_build_info",
        "gauge",
        "Always 1; the version label says which warroom runs.",
    ),
    (
        "warroom_ws_sessions",
        "gauge",
        "Open WebSocket sessions (consoles, CLI, bots).",
    ),
    (
        "warroom_http_requests_total",
        "counter",
        "HTTP requests answered, by route and status code.",
    ),
    (
        "warroom_commands_total",
        "counter",
        "Commands decided, by operation and outcome (ok or the error code).",
    ),
    (
        "warroom_events_appended_total",
        "counter",
        "Events appended durably to the log.",
    ),
    (
        "warroom_commit_batch_events",
        "histogram",
        "Events per durable append (group commit).",
    ),
    (
        "warroom_commit_duration_seconds",
        "histogram",
        "Time one durable append took (with its fsync).",
    ),
    (
        "warroom_fanout_delay_seconds",
        "histogram",
        "Time from an event's commit to its frame written to a console.",
    ),
    (
        "warroom_incidents_active",
        "gauge",
        "Active incidents (not resolved), by severity.",
    ),
    (
        "warroom_incident_ack_seconds",
        "histogram",
        "Time from detection to first acknowledgement, by severity.",
    ),
    (
        "warroom_alerts_received_total",
        "counter",
        "Alerts taken in by webhook, by source and outcome.",
    ),
    (
        "warroom_escalation_steps_fired_total",
        "counter",
        "Escalation steps fired, late (after a restart or failover) or on time.",
    ),
    (
        "warroom_notifications_total",
        "counter",
        "Notifications to a channel, by final outcome (delivered or failed).",
    ),
    (
        "warroom_notifications_failed_total",
        "counter",
        "Failed delivery attempts (retried ones included), by channel and reason.",
    ),
    (
        "warroom_sessions_closed_total",
        "counter",
        "Sessions the feed closed for cause, by reason.",
    ),
    (
        "warroom_frames_refused_total",
        "counter",
        "Frames refused without being processed, by reason.",
    ),
    (
        "warroom_leader",
        "gauge",
        "1 while this server decides and appends (always, on a log of its own).",
    ),
    (
        "warroom_leader_transitions_total",
        "counter",
        "Times this replica took or lost the lead.",
    ),
    (
        "warroom_replica_lag_events",
        "gauge",
        "Events in the shared log this replica has not published yet.",
    ),
];

/// This feed's metrics.
pub struct Metrics {
    on: bool,
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    fanout_delay: Histogram,
    events_appended: Counter,
    commit_batch: Histogram,
    commit_duration: Histogram,
    ws_sessions: Gauge,
    leader: Gauge,
    leader_transitions: Counter,
    replica_lag: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("on", &self.on).finish()
    }
}

/// The histograms' buckets (the values are constants, never empty: the builder cannot
/// refuse them).
fn buckets(builder: PrometheusBuilder) -> PrometheusBuilder {
    let mut builder = builder;
    for (matcher, values) in [
        (
            Matcher::Full("warroom_incident_ack_seconds".into()),
            ACK_BUCKETS,
        ),
        (Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS),
        (Matcher::Suffix("_batch_events".into()), BATCH_BUCKETS),
    ] {
        builder = match builder.set_buckets_for_metric(matcher, values) {
            Ok(b) => b,
            Err(_) => PrometheusBuilder::new(),
        };
    }
    builder
}

type Labels<'a> = &'a [(&'static str, &'a str)];

fn key(name: &'static str, labels: Labels<'_>) -> Key {
    let labels: Vec<Label> = labels
        .iter()
        .map(|(k, v)| Label::new(*k, v.to_string()))
        .collect();
    Key::from_parts(name, labels)
}

impl Metrics {
    /// A recorder of this server's own, every metric described; `on: false` counts nothing.
    pub fn new(on: bool) -> Arc<Metrics> {
        let recorder = buckets(PrometheusBuilder::new()).build_recorder();
        for (name, kind, help) in DESCRIBED {
            let (name, help) = (metrics::KeyName::from(*name), SharedString::from(*help));
            match *kind {
                "counter" => recorder.describe_counter(name, None, help),
                "gauge" => recorder.describe_gauge(name, None, help),
                _ => recorder.describe_histogram(name, None, help),
            }
        }
        let handle = recorder.handle();
        let r = &recorder;
        let m = Metrics {
            on,
            fanout_delay: r.register_histogram(&key("warroom_fanout_delay_seconds", &[]), &META),
            events_appended: r.register_counter(&key("warroom_events_appended_total", &[]), &META),
            commit_batch: r.register_histogram(&key("warroom_commit_batch_events", &[]), &META),
            commit_duration: r
                .register_histogram(&key("warroom_commit_duration_seconds", &[]), &META),
            ws_sessions: r.register_gauge(&key("warroom_ws_sessions", &[]), &META),
            leader: r.register_gauge(&key("warroom_leader", &[]), &META),
            leader_transitions: r
                .register_counter(&key("warroom_leader_transitions_total", &[]), &META),
            replica_lag: r.register_gauge(&key("warroom_replica_lag_events", &[]), &META),
            handle,
            recorder,
        };
        if on {
            m.gauge(
                "warroom_build_info",
                &[("version", env!("CARGO_PKG_VERSION"))],
            )
            .set(1.0);
            // Present from the start, so `rate()` and the alert rules see a zero first.
            m.counter(
                "warroom_commands_total",
                &[("op", "declare"), ("outcome", "ok")],
            )
            .increment(0);
            for reason in ["slow_consumer", "rate_limited", "revoked", "protocol"] {
                m.counter("warroom_sessions_closed_total", &[("reason", reason)])
                    .increment(0);
            }
        }
        Arc::new(m)
    }

    fn counter(&self, name: &'static str, labels: Labels<'_>) -> Counter {
        self.recorder.register_counter(&key(name, labels), &META)
    }

    fn gauge(&self, name: &'static str, labels: Labels<'_>) -> Gauge {
        self.recorder.register_gauge(&key(name, labels), &META)
    }

    fn histogram(&self, name: &'static str, labels: Labels<'_>) -> Histogram {
        self.recorder.register_histogram(&key(name, labels), &META)
    }

    /// A frame of an event committed at `committed` was written to a console.
    #[inline]
    pub fn fanout_delay(&self, committed: Instant) {
        if self.on {
            self.fanout_delay.record(committed.elapsed().as_secs_f64());
        }
    }

    /// One durable append of `events` events that took `took`.
    pub fn committed(&self, events: usize, took: Duration) {
        if self.on {
            self.events_appended.increment(events as u64);
            self.commit_batch.record(events as f64);
            self.commit_duration.record(took.as_secs_f64());
        }
    }

    /// A command's answer from `actor` (command id `id`): counted, and a refusal logged
    /// (one line with its fields).
    pub fn answered(&self, command: &Command, actor: &str, id: &str, answer: &Answer) {
        let op = command.op();
        if self.on {
            let outcome = match answer {
                Answer::Ok { .. } => "ok",
                Answer::Error { code, .. } => code_name(*code),
            };
            self.counter(
                "warroom_commands_total",
                &[("op", op), ("outcome", outcome)],
            )
            .increment(1);
        }
        if let Answer::Error { code, message } = answer {
            let incident = command.incident().map(|r| r.to_string());
            tracing::info!(
                incident = incident.as_deref().unwrap_or("-"),
                actor,
                command_id = id,
                op,
                code = code_name(*code),
                reason = %message,
                "command refused"
            );
        }
    }

    /// What the appended `events` say operators should count: steps fired, first
    /// acknowledgements (as of `state`, which holds them).
    pub fn appended(&self, state: &State, events: &[Event]) {
        if !self.on {
            return;
        }
        let mut acked = Vec::new();
        for e in events {
            match &e.kind {
                EventKind::StepFired { late, .. } => {
                    let late = if *late { "true" } else { "false" };
                    self.counter("warroom_escalation_steps_fired_total", &[("late", late)])
                        .increment(1);
                }
                EventKind::Acknowledged { incident } if !acked.contains(incident) => {
                    let Some(inc) = state.incident(*incident) else {
                        continue;
                    };
                    // The first acknowledgement only: the milestone is this event's time.
                    if inc.milestones.get(&Milestone::Acknowledged) != Some(&e.at) {
                        continue;
                    }
                    acked.push(*incident);
                    let took = (e.at - inc.detected_at()).num_milliseconds().max(0) as f64;
                    let sev = inc.severity.to_string();
                    self.histogram("warroom_incident_ack_seconds", &[("severity", &sev)])
                        .record(took / 1000.0);
                }
                _ => {}
            }
        }
    }

    /// Alerts a webhook brought, by what became of each (`outcome` as the intake answers).
    pub fn alert(&self, source: &str, outcome: &str) {
        if self.on {
            let outcome = match outcome {
                "opened" => "created",
                "attached" => "deduplicated",
                other => other,
            };
            self.counter(
                "warroom_alerts_received_total",
                &[("source", source), ("outcome", outcome)],
            )
            .increment(1);
        }
    }

    /// A notification's final outcome on `channel`.
    pub fn notification(&self, channel: &str, delivered: bool) {
        if self.on {
            let outcome = if delivered { "delivered" } else { "failed" };
            self.counter(
                "warroom_notifications_total",
                &[("channel", channel), ("outcome", outcome)],
            )
            .increment(1);
        }
    }

    /// One failed delivery attempt on `channel`.
    pub fn notification_failed(&self, channel: &str, reason: &str) {
        if self.on {
            self.counter(
                "warroom_notifications_failed_total",
                &[("channel", channel), ("reason", reason)],
            )
            .increment(1);
        }
    }

    /// The feed closed a session for cause: `slow_consumer`, `rate_limited`, `revoked`,
    /// `protocol`.
    pub fn session_closed(&self, reason: &'static str) {
        if self.on {
            self.counter("warroom_sessions_closed_total", &[("reason", reason)])
                .increment(1);
        }
    }

    /// A frame refused unprocessed (`rate_limited`).
    pub fn frame_refused(&self, reason: &'static str) {
        if self.on {
            self.counter("warroom_frames_refused_total", &[("reason", reason)])
                .increment(1);
        }
    }

    pub(crate) fn http_request(&self, route: &str, code: u16) {
        if self.on {
            let code = code.to_string();
            self.counter(
                "warroom_http_requests_total",
                &[("route", route), ("code", &code)],
            )
            .increment(1);
        }
    }

    /// Folds waiting histogram observations into their buckets (run every few seconds, so
    /// a feed nobody scrapes does not hold them).
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// The exposition, with the gauges read from the live work as of now.
    pub(crate) fn render(&self, app: &App) -> String {
        if !self.on {
            return String::new();
        }
        self.ws_sessions
            .set(app.connections.load(Ordering::SeqCst) as f64);
        let (head, active) = {
            let state = app.published.read();
            let mut active = [0u32; 4];
            for inc in state.incidents.values().filter(|i| i.is_active()) {
                if let Some(n) = Severity::ALL
                    .iter()
                    .position(|s| *s == inc.severity)
                    .and_then(|i| active.get_mut(i))
                {
                    *n += 1;
                }
            }
            (state.seq, active)
        };
        for (sev, n) in Severity::ALL.iter().zip(active) {
            let sev = sev.to_string();
            self.gauge("warroom_incidents_active", &[("severity", &sev)])
                .set(f64::from(n));
        }
        match &app.cluster {
            Some(health) => {
                self.leader.set(if health.leading() { 1.0 } else { 0.0 });
                self.leader_transitions.absolute(health.transitions());
                self.replica_lag
                    .set(health.log_head().saturating_sub(head) as f64);
            }
            None => {
                self.leader.set(1.0);
                self.replica_lag.set(0.0);
            }
        }
        self.handle.render()
    }
}

/// The error code's wire name (the `outcome` of a refused command).
fn code_name(code: ErrorCode) -> &'static str {
    #[allow(unreachable_patterns)]
    match code {
        ErrorCode::Invalid => "invalid",
        ErrorCode::NotFound => "not_found",
        ErrorCode::Conflict => "conflict",
        ErrorCode::Forbidden => "forbidden",
        ErrorCode::Unavailable => "unavailable",
        ErrorCode::RateLimited => "rate_limited",
        ErrorCode::Unauthorized => "unauthorized",
        _ => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_op_is_named_as_on_the_wire() {
        let cmd: crate::model::Command = serde_json::from_value(serde_json::json!({
            "op": "acknowledge", "incident": "INC-1"
        }))
        .unwrap();
        assert_eq!(cmd.op(), "acknowledge");
    }

    #[test]
    fn a_disabled_recorder_renders_nothing_and_counts_nothing() {
        let m = Metrics::new(false);
        m.fanout_delay(Instant::now());
        m.session_closed("revoked");
        let text = m.handle.render();
        assert!(!text.contains("warroom_sessions_closed_total{"), "{text}");
        assert!(!text.contains("warroom_build_info{"), "{text}");
    }
}
