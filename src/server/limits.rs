//! Hostile input: the per-connection command rate and the size of HTTP request heads. The
//! numbers are in [`super::Limits`]; the transport's frame and buffer sizes are set where the
//! WebSocket is upgraded, and the write timeout is applied by the session.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::{App, Limits};

/// What the rate limiter says about one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Within the rate: process it.
    Pass,
    /// Over the rate: refuse it (`rate_limited`), keep the connection.
    Refuse,
    /// Over the rate, and the client kept sending after many refusals: close (1008).
    Cut,
}

/// A token bucket per connection: `rate` frames per second on average, bursts of `burst`.
/// Refusals less than a second apart count as one flood; `max_refusals` of them end the
/// connection. A client that backs off for a second after a refusal starts afresh.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    max_refusals: u32,
    refusals: u32,
    last_refusal: Option<Instant>,
    verdict: Verdict,
}

/// Refusals further apart than this do not add up.
const FLOOD_GAP: Duration = Duration::from_secs(1);

impl RateLimiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self::with_rate(
            limits.commands_per_second,
            limits.command_burst,
            limits.max_rate_refusals,
        )
    }

    pub(crate) fn with_rate(rate: u32, burst: u32, max_refusals: u32) -> Self {
        let burst = f64::from(burst.max(1));
        RateLimiter {
            rate: f64::from(rate.max(1)),
            burst,
            tokens: burst,
            last: Instant::now(),
            max_refusals: max_refusals.max(1),
            refusals: 0,
            last_refusal: None,
            verdict: Verdict::Pass,
        }
    }

    /// Takes a token for one frame arriving now.
    pub(crate) fn check(&mut self) -> Verdict {
        self.verdict = self.check_at(Instant::now());
        self.verdict
    }

    /// What the last [`check`](Self::check) said.
    pub(crate) fn last(&self) -> Verdict {
        self.verdict
    }

    fn check_at(&mut self, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Pass;
        }
        if self
            .last_refusal
            .is_some_and(|t| now.saturating_duration_since(t) > FLOOD_GAP)
        {
            self.refusals = 0;
        }
        self.last_refusal = Some(now);
        self.refusals += 1;
        if self.refusals >= self.max_refusals {
            Verdict::Cut
        } else {
            Verdict::Refuse
        }
    }

    /// The rate and the burst, for messages.
    pub(crate) fn per_second(&self) -> f64 {
        self.rate
    }

    pub(crate) fn burst(&self) -> f64 {
        self.burst
    }
}

/// The size of a request's head as it came on the wire, near enough: the request line and
/// every header line.
fn head_bytes(req: &Request) -> usize {
    let line = req.method().as_str().len()
        + req.uri().path_and_query().map_or(1, |p| p.as_str().len())
        + " HTTP/1.1\r\n".len()
        + 1;
    req.headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .fold(line, usize::saturating_add)
}

/// Answers 431 to a request whose head is over `max_header_bytes`, before any handler (the
/// WebSocket upgrade included) sees it. Heads over hyper's own buffer (about 400 KiB) or with
/// more than 100 headers are refused by hyper itself, also with 431.
pub(crate) async fn limit_head(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let size = head_bytes(&req);
    let max = app.limits.max_header_bytes;
    if size > max {
        tracing::debug!(size, max, "request head too large");
        // And the connection ends: whoever sends such heads gets no second try on it.
        return (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            [(header::CONNECTION, "close")],
            format!("request headers are {size} bytes; the limit is {max}\n"),
        )
            .into_response();
    }
    next.run(req).await
}

/// Answers 429 to an alert over the feed's intake rate, before its body is read: a
/// monitoring system stuck in a loop (or anyone else) cannot bury the core in alerts.
/// Alertmanager and PagerDuty's senders retry a 429 later.
pub(crate) async fn limit_intake(
    State(app): State<Arc<App>>,
    req: Request,
    next: Next,
) -> Response {
    let verdict = app
        .intake_rate
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .check();
    if verdict != Verdict::Pass {
        let l = &app.limits;
        tracing::warn!("alert intake over its rate; answered 429");
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "1")],
            axum::Json(serde_json::json!({
                "status": "rate_limited",
                "error": format!(
                    "more than {} alert requests a second (bursts of {}): this one was not \
                     recorded; retry after a second",
                    l.intake_per_second, l.intake_burst
                ),
            })),
        )
            .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rate: u32, burst: u32, max_refusals: u32) -> RateLimiter {
        RateLimiter::with_rate(rate, burst, max_refusals)
    }

    #[test]
    fn a_burst_then_the_rate() {
        let mut l = limiter(10, 5, 100);
        let t0 = Instant::now();
        for _ in 0..5 {
            assert_eq!(l.check_at(t0), Verdict::Pass);
        }
        assert_eq!(l.check_at(t0), Verdict::Refuse);
        // A tenth of a second buys one more.
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(l.check_at(t1), Verdict::Pass);
        assert_eq!(l.check_at(t1), Verdict::Refuse);
        // Ten seconds of quiet refill the burst, no more.
        let t2 = t1 + Duration::from_secs(10);
        for _ in 0..5 {
            assert_eq!(l.check_at(t2), Verdict::Pass);
        }
        assert_eq!(l.check_at(t2), Verdict::Refuse);
    }

    /// The numbers `docs/protocol.md` (The rate limit) gives: 200 frames at one instant pass
    /// and the 201st does not; then one more passes for each 20 ms gone by.
    #[test]
    fn the_default_bucket_is_200_and_refills_one_per_20_ms() {
        let mut l = RateLimiter::new(&Limits::default());
        let t0 = Instant::now();
        for _ in 0..200 {
            assert_eq!(l.check_at(t0), Verdict::Pass);
        }
        assert_eq!(l.check_at(t0), Verdict::Refuse);
        let t1 = t0 + Duration::from_millis(19);
        assert_eq!(l.check_at(t1), Verdict::Refuse);
        let t2 = t0 + Duration::from_millis(20);
        assert_eq!(l.check_at(t2), Verdict::Pass);
        assert_eq!(l.check_at(t2), Verdict::Refuse);
        let t3 = t2 + Duration::from_millis(100);
        for _ in 0..5 {
            assert_eq!(l.check_at(t3), Verdict::Pass);
        }
        assert_eq!(l.check_at(t3), Verdict::Refuse);
    }

    #[test]
    fn a_flood_is_cut_and_a_pause_forgives() {
        let mut l = limiter(1, 1, 3);
        let t0 = Instant::now();
        assert_eq!(l.check_at(t0), Verdict::Pass);
        assert_eq!(l.check_at(t0), Verdict::Refuse);
        assert_eq!(l.check_at(t0), Verdict::Refuse);
        // A pause of more than a second: the count starts again (and a token came back).
        let t1 = t0 + Duration::from_millis(1500);
        assert_eq!(l.check_at(t1), Verdict::Pass);
        assert_eq!(l.check_at(t1), Verdict::Refuse);
        assert_eq!(l.check_at(t1), Verdict::Refuse);
        assert_eq!(l.check_at(t1), Verdict::Cut);
    }
}
