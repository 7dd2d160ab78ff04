//! Figures at a larger size, on each backend (run by hand, in release):
//! `cargo test --release --lib store::tests::scale -- --ignored --nocapture --test-threads 1`
//! (`WARROOM_STORE_INCIDENTS=N` sets the size; the PostgreSQL run needs
//! `WARROOM_TEST_POSTGRES`).

use chrono::{DateTime, Duration, Utc};

use super::{BOB, Log, t0};
use crate::model::{EntryKind, Event, EventKind, IncidentRef, Severity, State};
use crate::protocol::Search;
use crate::store::{Append, load_live};

#[test]
#[ignore]
fn sqlite_figures_at_scale() {
    figures_at_scale(&Log::sqlite());
}

#[test]
#[ignore]
fn postgres_figures_at_scale() {
    if let Some(log) = Log::postgres("store::tests::scale::postgres_figures_at_scale") {
        figures_at_scale(&log);
    }
}

fn figures_at_scale(log: &Log) {
    use std::time::Instant;
    let incidents: u32 = std::env::var("WARROOM_STORE_INCIDENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let per: usize = 200;
    let mut store = log.open();
    let mut state = State::default();
    let mut pending = Vec::new();
    let mut now = t0();
    let words = [
        "replica", "pool", "checkout", "latency", "deploy", "rollback", "cache",
    ];
    let started = Instant::now();
    let mut appends = 0u32;
    let mut flush = |state: &State, pending: &mut Vec<Event>, checkpoint| {
        store
            .append(&Append {
                events: pending,
                commands: &[],
                state,
                checkpoint,
                resume_floor: 0,
            })
            .unwrap();
        pending.clear();
    };
    fn push(state: &mut State, pending: &mut Vec<Event>, kind: EventKind, at: DateTime<Utc>) {
        let e = Event {
            seq: state.seq + 1,
            at,
            actor: "ana".into(),
            kind,
        };
        state.apply(&e).unwrap();
        pending.push(e);
    }
    for n in 1..=incidents {
        let declared = EventKind::Declared {
            incident: IncidentRef(n),
            title: format!("incident {n} on {}", words[n as usize % words.len()]),
            service: Some("payments".into()),
            severity: Severity::Sev2,
            restricted: n % 10 == 0,
            alert_key: None,
        };
        push(&mut state, &mut pending, declared, now);
        for i in 0..per {
            let text = format!(
                "note {i}: checked the {} and the {} again, nothing new since {n}-{i}",
                words[i % words.len()],
                words[(i * 3 + n as usize) % words.len()]
            );
            let note = EventKind::EntryAdded {
                incident: IncidentRef(n),
                entry_kind: EntryKind::Note,
                text,
                occurred_at: now,
                next_update_secs: None,
                public: false,
                briefing: None,
            };
            push(&mut state, &mut pending, note, now);
            if pending.len() >= 500 {
                appends += 1;
                flush(&state, &mut pending, appends.is_multiple_of(20));
            }
        }
        let resolved = EventKind::Resolved {
            incident: IncidentRef(n),
        };
        push(&mut state, &mut pending, resolved, now);
        // Old ones leave memory, as the feed's core does.
        now += Duration::hours(3);
        if n % 100 == 0 {
            state.evict_archived(now, crate::model::DEFAULT_RECENT_SECS);
        }
    }
    flush(&state, &mut pending, true);
    let events = state.seq;
    let took = started.elapsed();
    eprintln!(
        "{events} events of {incidents} incidents appended in {took:.1?} ({:.0} events/s)",
        events as f64 / took.as_secs_f64()
    );
    drop(store);
    let r = log.open();
    let t = Instant::now();
    let (live, _) = load_live(r.as_ref(), now, crate::model::DEFAULT_RECENT_SECS).unwrap();
    eprintln!(
        "start-up (checkpoint and tail): {:.1?}, {} live",
        t.elapsed(),
        live.incidents.len()
    );
    for (what, q) in [
        ("newest page", Search::default()),
        (
            "text (common)",
            Search {
                text: Some("replica".into()),
                ..Search::default()
            },
        ),
        (
            "text (rare)",
            Search {
                text: Some("500-199".into()),
                ..Search::default()
            },
        ),
        (
            "text (none)",
            Search {
                text: Some("zebra".into()),
                ..Search::default()
            },
        ),
    ] {
        let t = Instant::now();
        let page = r.search(&q, BOB, 50, 1 << 20).unwrap();
        eprintln!(
            "search {what}: {:.1?}, {} listed, {} withheld",
            t.elapsed(),
            page.incidents.len(),
            page.withheld.len()
        );
    }
    let t = Instant::now();
    let all = r.summaries().unwrap();
    eprintln!("summaries: {:.1?} for {}", t.elapsed(), all.len());
    let t = Instant::now();
    let one = r.load_incident(IncidentRef(7), u64::MAX).unwrap().unwrap();
    eprintln!(
        "fold of an archived incident: {:.1?}, {} entries",
        t.elapsed(),
        one.entries.len()
    );
}
