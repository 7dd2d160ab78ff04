//! A feed's history made fast for tests and benches: events as the feed would have recorded
//! them (decided and folded by the model), appended through the store in big batches, before
//! `warroom serve` starts on the data directory. [`generate`] makes the tests' history;
//! [`generate_feed`] the benches' (years of archive, the live work, one long incident), with
//! checkpoints written as the feed writes them. `benches/history.rs` includes this file.

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

/// Appends events in batches of `batch_size`, folding them too (the model checks them).
struct Writer {
    store: SqliteStore,
    state: State,
    batch: Vec<Event>,
    batch_size: usize,
    /// Events between two checkpoints of the state (0: none, the feed folds the log).
    checkpoint_every: u64,
    /// The seq of the last batch appended.
    flushed: u64,
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
        if self.batch.len() == self.batch_size {
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
            // As the feed does: a checkpoint each time the log passes a multiple of
            // `checkpoint_every` (none at 0: the feed starts by folding the log, as it would
            // from a log written before checkpoints).
            let every = self.checkpoint_every;
            let checkpoint = every > 0 && self.state.seq / every > self.flushed / every;
            self.store
                .append(&Append {
                    events: &self.batch,
                    commands: &[],
                    state: &self.state,
                    checkpoint,
                    resume_floor: 0,
                })
                .expect("appended");
            self.batch.clear();
            self.flushed = self.state.seq;
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
        public: false,
        briefing: None,
    }
}

fn declare(title: &str, sev: u8, service: &str) -> Command {
    Command::Declare {
        title: title.into(),
        severity: Severity::try_from(sev).unwrap(),
        service: Some(service.into()),
        restricted: false,
        detected_by: None,
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
        batch_size: 1_000,
        checkpoint_every: 0,
        flushed: 0,
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
                public: false,
                briefing: None,
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

// ---- the benches' feed: years of archive, the live work, one long incident ----

/// The shape of a bench's feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Incidents in all, the active ones included.
    pub incidents: usize,
    /// Events in all, about (each archived incident gets its share of what the live work
    /// leaves).
    pub events: usize,
    /// Active incidents, the long one among them.
    pub active: usize,
    /// Entries of the long active incident.
    pub big_entries: usize,
    /// With the archive; without it, the same active incidents on an empty history (the
    /// baseline a join and a start-up are compared with).
    pub history: bool,
}

impl Shape {
    /// A name for this shape, for caching what it made.
    pub fn key(&self) -> String {
        format!(
            "i{}-e{}-a{}-b{}-{}",
            self.incidents,
            self.events,
            self.active,
            self.big_entries,
            if self.history { "history" } else { "live" }
        )
    }
}

/// What [`generate_feed`] made.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    /// The moment the history ends (the newest event is a little before).
    pub now: DateTime<Utc>,
    /// Archived incidents: INC-1 to INC-`archived`, oldest first.
    pub archived: u32,
    /// An archived incident with a title nobody else has ("Ledger double-charges after
    /// the failover"), when there is an archive.
    pub needle: Option<IncidentRef>,
    /// The long active incident ("Checkout latency storm"); the other active ones follow
    /// it: `big` to `big + active - 1`.
    pub big: IncidentRef,
    pub active: u32,
    /// Events in the log.
    pub events: u64,
}

impl Feed {
    /// As `key=value` lines, to keep beside a cached feed.
    pub fn to_lines(&self) -> String {
        format!(
            "now={}\narchived={}\nneedle={}\nbig={}\nactive={}\nevents={}\n",
            self.now.to_rfc3339(),
            self.archived,
            self.needle.map_or(0, |r| r.0),
            self.big.0,
            self.active,
            self.events
        )
    }

    /// Reads what [`Feed::to_lines`] wrote; `None` if anything is missing.
    pub fn from_lines(text: &str) -> Option<Feed> {
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
                .map(str::to_string)
        };
        let num = |k: &str| get(k)?.parse::<u64>().ok();
        let needle = num("needle")? as u32;
        Some(Feed {
            now: DateTime::parse_from_rfc3339(&get("now")?).ok()?.into(),
            archived: num("archived")? as u32,
            needle: (needle > 0).then_some(IncidentRef(needle)),
            big: IncidentRef(num("big")? as u32),
            active: num("active")? as u32,
            events: num("events")?,
        })
    }
}

const SERVICES: [&str; 12] = [
    "payments",
    "checkout",
    "search",
    "ledger",
    "auth",
    "web",
    "mobile-api",
    "inventory",
    "notifications",
    "billing",
    "catalog",
    "gateway",
];
const SYMPTOMS: [&str; 10] = [
    "Elevated 5xx on",
    "Latency spike in",
    "Timeouts calling",
    "Error budget burn on",
    "Queue backlog in",
    "Partial outage of",
    "Degraded reads from",
    "Failed deploy of",
    "Certificate expiry on",
    "Memory pressure on",
];
const PEOPLE: [&str; 16] = [
    "ana", "bo", "chen", "dara", "eli", "fatou", "gus", "hana", "ivo", "jun", "kemal", "lee",
    "mira", "noor", "olga", "pete",
];
const WORDS: [&str; 92] = [
    "checked",
    "the",
    "dashboards",
    "error",
    "rate",
    "is",
    "up",
    "down",
    "since",
    "deploy",
    "rolled",
    "back",
    "canary",
    "pool",
    "connections",
    "saturated",
    "restarted",
    "pods",
    "on",
    "node",
    "cache",
    "hit",
    "ratio",
    "dropped",
    "p99",
    "latency",
    "at",
    "replica",
    "lag",
    "primary",
    "failover",
    "dns",
    "resolver",
    "timeouts",
    "upstream",
    "vendor",
    "status",
    "page",
    "shows",
    "no",
    "incident",
    "customers",
    "report",
    "checkout",
    "failures",
    "in",
    "eu-west",
    "us-east",
    "traffic",
    "shifted",
    "to",
    "scaled",
    "out",
    "workers",
    "queue",
    "depth",
    "growing",
    "draining",
    "now",
    "looks",
    "stable",
    "watching",
    "for",
    "minutes",
    "hypothesis",
    "bad",
    "config",
    "push",
    "feature",
    "flag",
    "disabled",
    "gc",
    "pauses",
    "heap",
    "disk",
    "full",
    "log",
    "volume",
    "rotated",
    "certificate",
    "renewed",
    "retries",
    "backoff",
    "thundering",
    "herd",
    "rate-limit",
    "raised",
    "alerts",
    "firing",
    "quiet",
    "again",
    "escalated",
];

/// An entry's text as people write them: mostly a line, often a few, sometimes a paragraph
/// (about 180 characters on average), with a host and a figure in it.
fn entry_text(rng: &mut fastrand::Rng, service: &str) -> String {
    let words = match rng.u32(0..100) {
        0..55 => rng.usize(6..18),
        55..90 => rng.usize(18..45),
        _ => rng.usize(45..110),
    };
    let mut t = String::with_capacity(words * 8);
    for i in 0..words {
        if i > 0 {
            t.push(' ');
        }
        match rng.u32(0..20) {
            0 => t.push_str(&format!("{service}-{}", rng.u32(0..40))),
            1 => t.push_str(&format!("{}ms", rng.u32(20..4000))),
            _ => t.push_str(WORDS[rng.usize(0..WORDS.len())]),
        }
    }
    t
}

fn entry_kind(rng: &mut fastrand::Rng) -> EntryKind {
    match rng.u32(0..100) {
        0..60 => EntryKind::Note,
        60..70 => EntryKind::Action,
        70..78 => EntryKind::Decision,
        78..86 => EntryKind::Hypothesis,
        86..90 => EntryKind::RuledOut,
        _ => EntryKind::StatusUpdate,
    }
}

impl Writer {
    /// An entry as the feed records it.
    fn entry(&mut self, rng: &mut fastrand::Rng, r: IncidentRef, service: &str, at: DateTime<Utc>) {
        let who = PEOPLE[rng.usize(0..PEOPLE.len())];
        let kind = EventKind::EntryAdded {
            incident: r,
            entry_kind: entry_kind(rng),
            text: entry_text(rng, service),
            occurred_at: at,
            next_update_secs: None,
            public: false,
            briefing: None,
        };
        self.push(at, who, kind);
    }

    /// Declares an incident, with a commander and an acknowledgement; returns it.
    fn open(&mut self, at: DateTime<Utc>, title: &str, sev: u8, service: &str) -> IncidentRef {
        let r = self.state.next_reference();
        self.run(at, "bot", declare(title, sev, service));
        let ic = PEOPLE[r.0 as usize % PEOPLE.len()];
        let assign = Command::AssignRole {
            incident: r,
            role: warroom::model::Role::IncidentCommander,
            person: ic.into(),
        };
        self.run(at + chrono::Duration::seconds(30), ic, assign);
        let ack = Command::Acknowledge { incident: r };
        self.run(at + chrono::Duration::seconds(60), ic, ack);
        r
    }

    /// Drops the incidents no longer active from memory (only after their events are
    /// appended): the feed's history is on disk.
    fn forget_resolved(&mut self) {
        self.flush();
        let at = self
            .state
            .incidents
            .values()
            .map(|i| i.updated_at)
            .max()
            .unwrap_or_default();
        self.state.evict_archived(at, 0);
    }
}

/// Makes a bench's feed in the data directory `dir` (which must not hold a log yet), ending
/// at `now`: with `history`, the archive first (`incidents - active` incidents over three
/// years up to a month ago, each declared, given a commander, acknowledged, a share of the
/// events as entries, identified, monitoring and resolved within hours; one of them titled
/// "Ledger double-charges after the failover"), then the live work: "Checkout latency storm"
/// (SEV1, declared five days ago, `big_entries` entries since) and `active - 1` smaller ones
/// declared in the last day, their events interleaved in time. Appended 5,000 events to a
/// transaction, with a checkpoint every 10,000 events as the feed writes them; resolved
/// incidents leave memory once appended, so making millions of events takes little of it.
pub fn generate_feed(dir: &std::path::Path, now: DateTime<Utc>, shape: Shape) -> Feed {
    let mut rng = fastrand::Rng::with_seed(13);
    let mut w = Writer {
        store: SqliteStore::open(dir).unwrap(),
        state: State::default(),
        batch: Vec::with_capacity(5_000),
        batch_size: 5_000,
        checkpoint_every: 10_000,
        flushed: 0,
    };
    let active = shape.active.max(1);
    let small_entries = 40;
    let live_events = shape.big_entries + (active - 1) * (small_entries + 4) + 4;
    let archived = if shape.history {
        shape.incidents.saturating_sub(active)
    } else {
        0
    };
    let mut needle = None;
    if archived > 0 {
        let start = now - chrono::Duration::days(3 * 365);
        let span = chrono::Duration::days(3 * 365 - 30);
        let spacing = span / archived as i32;
        let budget = shape.events.saturating_sub(live_events);
        let mut overhead = 8;
        for i in 0..archived {
            let at0 = start + spacing * i as i32;
            let service = SERVICES[rng.usize(0..SERVICES.len())];
            let title = if i == archived / 2 {
                "Ledger double-charges after the failover".to_string()
            } else {
                format!("{} {service}", SYMPTOMS[rng.usize(0..SYMPTOMS.len())])
            };
            let before = w.state.seq as usize;
            let r = w.open(at0, &title, 1 + rng.u8(0..4), service);
            if i == archived / 2 {
                needle = Some(r);
            }
            // This one's share of what is left, give or take half.
            let share = budget.saturating_sub(before) / (archived - i);
            let entries = (share.saturating_sub(overhead) as f64 * (0.5 + rng.f64())) as usize;
            let entries = entries.max(2);
            // Worked within 60% of the time to the next one.
            let step = spacing * 6 / 10 / (entries as i32 + 4);
            let mut at = at0 + chrono::Duration::seconds(90);
            for k in 0..entries {
                at += step;
                w.entry(&mut rng, r, service, at);
                let status = match k * 3 / entries {
                    1 => Some(warroom::model::Status::Identified),
                    2 => Some(warroom::model::Status::Monitoring),
                    _ => None,
                };
                if let Some(status) = status
                    && w.state.incident(r).is_some_and(|inc| inc.status != status)
                {
                    let ic = PEOPLE[r.0 as usize % PEOPLE.len()];
                    w.run(
                        at,
                        ic,
                        Command::SetStatus {
                            incident: r,
                            status,
                        },
                    );
                }
            }
            w.run(at + step, "bot", Command::Resolve { incident: r });
            overhead = (w.state.seq as usize - before).saturating_sub(entries);
            if w.batch.len() >= w.batch_size / 2 {
                w.forget_resolved();
            }
        }
        w.forget_resolved();
    }
    // The live work: the long one, declared five days ago, and the others of the last day,
    // each with its entries, in time order.
    let big_at = now - chrono::Duration::days(5);
    let big = w.open(big_at, "Checkout latency storm", 1, "checkout");
    let big_step = chrono::Duration::days(5) * 9 / 10 / shape.big_entries.max(1) as i32;
    let mut small: Vec<(DateTime<Utc>, usize, usize)> = Vec::new();
    for k in 1..active {
        let declared = now - chrono::Duration::hours(24) + chrono::Duration::minutes(60 * k as i64);
        for j in 0..=small_entries {
            small.push((declared + chrono::Duration::minutes(2 * j as i64), k, j));
        }
    }
    small.sort();
    let mut small = small.into_iter().peekable();
    let mut refs = vec![big];
    let mut next_small = |w: &mut Writer, rng: &mut fastrand::Rng, upto: DateTime<Utc>| {
        while let Some(&(at, k, j)) = small.peek()
            && at <= upto
        {
            small.next();
            let service = SERVICES[k % SERVICES.len()];
            if j == 0 {
                let title = format!("{} {service} (today {k})", SYMPTOMS[k % SYMPTOMS.len()]);
                refs.push(w.open(at, &title, 2 + (k % 3) as u8, service));
            } else {
                w.entry(rng, refs[k], service, at);
            }
        }
    };
    let mut at = big_at + chrono::Duration::seconds(90);
    for _ in 0..shape.big_entries {
        at += big_step;
        next_small(&mut w, &mut rng, at);
        w.entry(&mut rng, big, "checkout", at);
    }
    next_small(&mut w, &mut rng, now);
    w.flush();
    Feed {
        now,
        archived: archived as u32,
        needle,
        big,
        active: active as u32,
        events: w.state.seq,
    }
}
