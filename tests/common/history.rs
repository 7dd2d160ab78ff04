//! A feed's history made fast for tests: events as the feed would have recorded them
//! (decided and folded by the model), appended through the store in batches of 1,000, before
//! `warroom serve` starts on the data directory.

use chrono::{DateTime, Utc};
use warroom::model::{Command, EntryKind, Event, EventKind, IncidentRef, Severity, State};
use warroom::store::{Append, EventStore, SqliteStore};

/// What the generator made, for the assertions.
pub struct Made {
    /// The one long incident.
    pub big: IncidentRef,
    pub big_entries: usize,
    /// An archived incident with a title nobody else has.
    pub needle: IncidentRef,
    /// Every incident, and the size of the whole state as a protocol v1 snapshot.
    pub incidents: usize,
    pub v1_snapshot_bytes: usize,
}

/// Appends events in batches of 1,000, folding them too (the model checks them).
struct Writer {
    store: SqliteStore,
    state: State,
    batch: Vec<Event>,
}

impl Writer {
    fn push(&mut self, at: DateTime<Utc>, who: &str, kind: EventKind) {
        let e = Event {
            seq: self.state.seq + 1,
            at,
            actor: who.into(),
            kind,
        };
        self.state.apply(&e).expect("the generated history folds");
        self.batch.push(e);
        if self.batch.len() == 1_000 {
            self.flush();
        }
    }

    /// A command as the feed decides it at `at`.
    fn run(&mut self, at: DateTime<Utc>, who: &str, cmd: Command) {
        for kind in self.state.decide(who, at, &cmd).expect("decided") {
            self.push(at, who, kind);
        }
    }

    fn flush(&mut self) {
        if !self.batch.is_empty() {
            // No checkpoint: the feed starts by folding the log, as it would from a
            // log written before checkpoints.
            self.store
                .append(&Append {
                    events: &self.batch,
                    commands: &[],
                    state: &self.state,
                    checkpoint: false,
                    resume_floor: 0,
                })
                .expect("appended");
            self.batch.clear();
        }
    }
}

fn note(incident: IncidentRef, text: String) -> Command {
    Command::AddEntry {
        incident,
        entry_kind: EntryKind::Note,
        text,
        occurred_at: None,
        next_update_secs: None,
    }
}

fn declare(title: &str, sev: u8, service: &str) -> Command {
    Command::Declare {
        title: title.into(),
        severity: Severity::try_from(sev).unwrap(),
        service: Some(service.into()),
        restricted: false,
    }
}

/// How much history to make.
pub struct Sizes {
    /// Entries of the one long incident.
    pub big_entries: usize,
    /// Resolved incidents, the last a month before `now`.
    pub archived: usize,
    /// Small active incidents, declared in the last two hours.
    pub live: usize,
}

/// Makes the history in the data directory `dir`, as of `now`: the archive (an incident
/// every four hours, each a few entries and resolved within the hour, the last a month
/// ago; one titled "Ledger double-charges after the failover"), the long incident
/// "Checkout latency storm" (SEV1, declared five days ago, an entry a second since, each
/// numbered: `000123 checked checkout-api …`), and the small live ones ("Live issue N").
pub fn generate(dir: &std::path::Path, now: DateTime<Utc>, sizes: Sizes) -> Made {
    let Sizes {
        big_entries,
        archived,
        live,
    } = sizes;
    let mut w = Writer {
        store: SqliteStore::open(dir).unwrap(),
        state: State::default(),
        batch: Vec::with_capacity(1_000),
    };
    let services = ["payments", "checkout", "search", "ledger", "auth", "web"];
    // The archive: incidents every four hours, the last a month ago, each a few entries
    // and resolved within the hour.
    let start = now - chrono::Duration::days(30) - chrono::Duration::hours(4 * archived as i64);
    let mut needle = IncidentRef(0);
    for i in 0..archived {
        let at = start + chrono::Duration::hours(4 * i as i64);
        let r = w.state.next_reference();
        let title = if i == archived / 2 {
            needle = r;
            "Ledger double-charges after the failover".to_string()
        } else {
            format!("Elevated errors on {} ({i})", services[i % services.len()])
        };
        w.run(
            at,
            "bot",
            declare(&title, 1 + (i % 4) as u8, services[i % 6]),
        );
        for k in 0..4 {
            let at = at + chrono::Duration::minutes(5 * (k + 1));
            w.run(
                at,
                "lee",
                note(
                    r,
                    format!("step {k}: looked at the dashboards, the error rate is {k}%"),
                ),
            );
        }
        w.run(
            at + chrono::Duration::minutes(40),
            "lee",
            Command::Resolve { incident: r },
        );
    }
    // The long one: declared five days ago, an entry a second since.
    let big_at = now - chrono::Duration::days(5);
    let big = w.state.next_reference();
    w.run(
        big_at,
        "bot",
        declare("Checkout latency storm", 1, "checkout"),
    );
    for i in 0..big_entries {
        let at = big_at + chrono::Duration::seconds(i as i64 + 1);
        w.push(
            at,
            "scribe",
            EventKind::EntryAdded {
                incident: big,
                entry_kind: EntryKind::Note,
                text: format!(
                    "{i:06} checked checkout-api pod {}: pool at 97%, p99 2.3s; restarting \
                     set {}, then re-check the cache",
                    i % 40,
                    i % 17
                ),
                occurred_at: at,
                next_update_secs: None,
            },
        );
    }
    // The rest of today's live work.
    for i in 0..live as i64 {
        let at = now - chrono::Duration::hours(2) + chrono::Duration::minutes(i);
        let r = w.state.next_reference();
        w.run(
            at,
            "bot",
            declare(&format!("Live issue {i}"), 2, services[i as usize % 6]),
        );
        w.run(at, "lee", note(r, "looking".into()));
    }
    w.flush();
    let v1_snapshot_bytes = serde_json::to_string(&w.state).unwrap().len();
    Made {
        big,
        big_entries: big_entries + 1,
        needle,
        incidents: w.state.incidents.len(),
        v1_snapshot_bytes,
    }
}
