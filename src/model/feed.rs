//! What the feed records that belongs to no incident: deploys (seed guide G369, seed
//! architecture A70: the handoff covers recent deploys, and a room shows its service's), and
//! informational alerts kept for stand-up review (A174: a 1x burn over 3 days is reviewed in
//! stand-up, not paged). Both are events in the log like any other; the state keeps only a
//! recent window of them, so what a join or a checkpoint carries does not grow with years of
//! deploys.

use std::collections::VecDeque;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{Event, Rejection, validate};

/// Deploys older than this (before the newest one) leave the state; the log keeps them.
pub const DEPLOYS_KEPT_DAYS: i64 = 8;
/// At most this many deploys are held, newest kept.
pub const DEPLOYS_KEPT: usize = 200;
/// Informational alerts not seen again within this long leave the digest: the longest
/// burn-rate window the seed alerts on (1x over 3 days) plus a day for the stand-up after it.
pub const NOTED_KEPT_DAYS: i64 = 4;
/// At most this many informational alerts are held in the digest, latest kept.
pub const NOTED_KEPT: usize = 100;

pub const MAX_VERSION: usize = 64;
pub const MAX_ENVIRONMENT: usize = 32;
pub const MAX_DEPLOY_NOTE: usize = 300;

/// One deploy of a service, as recorded (by `warroom deploy`, the deploy webhook, a console).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deploy {
    /// The event that recorded it.
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub service: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Who deployed (the event's actor: a person, or the deploy pipeline's name).
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An alert the policy classified as informational: no incident, no page, kept here for the
/// stand-up. Repeats of the same alert (its deduplication key) are counted on one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotedAlert {
    pub dedup_key: String,
    pub source: String,
    pub summary: String,
    /// The rule's reason ("error budget burning 1.2x over 3d: informational only").
    pub why: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// How many times it arrived (a firing alert is sent again and again).
    pub count: u32,
}

/// The feed's recent deploys and its stand-up digest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeedNotes {
    /// Oldest first.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pub deploys: VecDeque<Deploy>,
    /// By when last seen, oldest first.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pub noted: VecDeque<NotedAlert>,
}

impl FeedNotes {
    pub fn is_empty(&self) -> bool {
        self.deploys.is_empty() && self.noted.is_empty()
    }

    pub(crate) fn add_deploy(&mut self, d: Deploy) {
        let horizon = d.at - Duration::days(DEPLOYS_KEPT_DAYS);
        self.deploys.push_back(d);
        while self
            .deploys
            .front()
            .is_some_and(|d| d.at < horizon || self.deploys.len() > DEPLOYS_KEPT)
        {
            self.deploys.pop_front();
        }
    }

    pub(crate) fn note_alert(&mut self, ev: &Event, a: NotedAlert) {
        let again = self
            .noted
            .iter()
            .position(|n| n.dedup_key == a.dedup_key && n.source == a.source);
        let row = match again.and_then(|i| self.noted.remove(i)) {
            Some(mut old) => {
                old.summary = a.summary;
                old.why = a.why;
                old.service = a.service.or(old.service);
                old.last_at = ev.at;
                old.count = old.count.saturating_add(1);
                old
            }
            None => a,
        };
        let horizon = ev.at - Duration::days(NOTED_KEPT_DAYS);
        self.noted.push_back(row);
        while self
            .noted
            .front()
            .is_some_and(|n| n.last_at < horizon || self.noted.len() > NOTED_KEPT)
        {
            self.noted.pop_front();
        }
    }

    /// Deploys recorded in `[from, to)`, newest first.
    pub fn deploys_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<&Deploy> {
        self.deploys
            .iter()
            .rev()
            .filter(|d| d.at >= from && d.at < to)
            .collect()
    }

    /// The deploys of `service` (any environment) recorded in the `within` before `now`,
    /// newest first: what a room shows.
    pub fn recent_deploys_of(
        &self,
        service: &str,
        now: DateTime<Utc>,
        within: Duration,
    ) -> Vec<&Deploy> {
        self.deploys
            .iter()
            .rev()
            .filter(|d| d.service.eq_ignore_ascii_case(service))
            .filter(|d| d.at <= now && d.at >= now - within)
            .collect()
    }

    /// Informational alerts seen in the `within` before `now`, most recently seen first: the
    /// stand-up digest.
    pub fn digest(&self, now: DateTime<Utc>, within: Duration) -> Vec<&NotedAlert> {
        self.noted
            .iter()
            .rev()
            .filter(|n| n.last_at >= now - within && n.first_at <= now)
            .collect()
    }
}

/// Checks a deploy as asked for: a service, a version, perhaps an environment and a note.
pub fn validate_deploy(
    service: &str,
    version: &str,
    environment: Option<&str>,
    note: Option<&str>,
) -> Result<(String, String, Option<String>, Option<String>), Rejection> {
    let service = validate::text("service", service, validate::MAX_NAME, false)?;
    let version = validate::text("version", version, MAX_VERSION, false)?;
    let environment = environment
        .map(|e| validate::text("environment", e, MAX_ENVIRONMENT, false))
        .transpose()?;
    let note = note
        .filter(|n| !n.trim().is_empty())
        .map(|n| validate::text("note", n, MAX_DEPLOY_NOTE, false))
        .transpose()?;
    Ok((service, version, environment, note))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::model::{Command, EventKind, State};

    fn t(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + Duration::hours(hours)
    }

    fn record(s: &mut State, at: DateTime<Utc>, actor: &str, kind: EventKind) {
        let e = Event {
            seq: s.seq + 1,
            at,
            actor: actor.into(),
            kind,
        };
        s.apply(&e).unwrap();
    }

    fn deploy(s: &mut State, at: DateTime<Utc>, service: &str, version: &str) {
        let cmd = Command::RecordDeploy {
            service: service.into(),
            version: version.into(),
            environment: None,
            note: None,
        };
        for kind in s.decide("ci-bot", at, &cmd).unwrap() {
            record(s, at, "ci-bot", kind);
        }
    }

    #[test]
    fn a_deploy_is_checked_then_kept_in_order_and_belongs_to_no_incident() {
        let mut s = State::default();
        let bad = |service: &str, version: &str| s_decide(service, version).unwrap_err().message;
        fn s_decide(service: &str, version: &str) -> Result<Vec<EventKind>, Rejection> {
            State::default().decide(
                "ana",
                t(0),
                &Command::RecordDeploy {
                    service: service.into(),
                    version: version.into(),
                    environment: Some("production".into()),
                    note: Some("  ".into()),
                },
            )
        }
        assert_eq!(bad("", "v1"), "service is empty");
        assert!(bad("api", &"9".repeat(65)).contains("limit is 64"));
        assert!(bad("a\u{7}b", "v1").contains("control character"));
        // A blank note is none.
        let ok = s_decide("api", "v1").unwrap();
        assert!(matches!(
            &ok[0],
            EventKind::DeployRecorded { note: None, .. }
        ));
        assert_eq!(ok[0].incident(), None);

        deploy(&mut s, t(1), "checkout", "v1");
        deploy(&mut s, t(2), "payments", "v7");
        deploy(&mut s, t(3), "Checkout", "v2");
        assert_eq!(s.seq, 3);
        assert!(s.incidents.is_empty());
        let of: Vec<&str> = s
            .feed
            .recent_deploys_of("checkout", t(4), Duration::hours(24))
            .iter()
            .map(|d| d.version.as_str())
            .collect();
        assert_eq!(of, ["v2", "v1"], "newest first, service named in any case");
        let shift: Vec<&str> = s
            .feed
            .deploys_between(t(2), t(4))
            .iter()
            .map(|d| d.version.as_str())
            .collect();
        assert_eq!(shift, ["v2", "v7"]);
        assert_eq!(s.feed.deploys[0].by, "ci-bot");
    }

    #[test]
    fn years_of_deploys_keep_the_state_to_a_recent_window() {
        let mut s = State::default();
        // Three a day for two years, then a burst of a thousand in one hour.
        for n in 0..(3 * 730) {
            deploy(&mut s, t(n * 8), "api", &format!("v{n}"));
        }
        assert!(s.feed.deploys.len() <= (DEPLOYS_KEPT_DAYS as usize) * 3 + 1);
        let newest = t((3 * 730 - 1) * 8);
        assert!(
            s.feed
                .deploys
                .iter()
                .all(|d| d.at >= newest - Duration::days(DEPLOYS_KEPT_DAYS))
        );
        for n in 0..1000 {
            deploy(&mut s, newest + Duration::seconds(n), "api", "burst");
        }
        assert_eq!(s.feed.deploys.len(), DEPLOYS_KEPT);
        assert_eq!(s.feed.deploys.back().unwrap().seq, s.seq, "the newest kept");
    }

    #[test]
    fn an_informational_alert_is_counted_on_one_row_and_leaves_after_its_window() {
        let mut s = State::default();
        let noted = |key: &str| EventKind::AlertNoted {
            source: "alertmanager".into(),
            dedup_key: key.into(),
            summary: format!("{key} slow burn"),
            why: "error budget burning 1.1x over 3d: informational only".into(),
            service: Some("search".into()),
        };
        record(&mut s, t(0), "alertmanager", noted("a"));
        record(&mut s, t(1), "alertmanager", noted("b"));
        record(&mut s, t(4), "alertmanager", noted("a"));
        assert_eq!(s.feed.noted.len(), 2);
        let digest = s.feed.digest(t(5), Duration::days(3));
        assert_eq!(digest[0].dedup_key, "a", "the latest seen first");
        assert_eq!(
            (digest[0].count, digest[0].first_at, digest[0].last_at),
            (3 - 1, t(0), t(4))
        );
        assert_eq!(digest[1].count, 1);
        // Four days on, "b" has not come again: it leaves; "a" comes again and stays.
        record(
            &mut s,
            t(4 + 24 * NOTED_KEPT_DAYS),
            "alertmanager",
            noted("a"),
        );
        let keys: Vec<&str> = s.feed.noted.iter().map(|n| n.dedup_key.as_str()).collect();
        assert_eq!(keys, ["a"]);
        // The digest looks back only as far as asked.
        assert!(s.feed.digest(t(24 * 30), Duration::days(3)).is_empty());
        for n in 0..(NOTED_KEPT as i64 + 50) {
            record(
                &mut s,
                t(200) + Duration::seconds(n),
                "x",
                noted(&format!("k{n}")),
            );
        }
        assert_eq!(s.feed.noted.len(), NOTED_KEPT);
    }
}
