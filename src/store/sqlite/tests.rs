use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::model::{Command, EntryKind, EventKind, Severity};
use crate::store::words::{Found, found};
use crate::store::{Append, CommandRecord, load_live};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap()
}

fn ev(seq: u64) -> Event {
    Event {
        seq,
        at: t0(),
        actor: "alice".into(),
        kind: EventKind::Declared {
            incident: IncidentRef(seq as u32),
            title: format!("incident {seq}"),
            service: None,
            severity: Severity::Sev2,
            restricted: false,
            alert_key: None,
        },
    }
}

/// A state holding what `events` declare, for appends of bare declarations.
fn folded(events: &[Event]) -> State {
    State::from_events(events).unwrap()
}

#[cfg(unix)]
#[test]
fn a_new_log_and_its_directory_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("feed");
    let mut store = SqliteStore::open(&dir).unwrap();
    let events = [ev(1)];
    store
        .append(&batch(&events, &[], &folded(&events)))
        .unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("events.db")), 0o600);
    assert_eq!(mode(&dir.join("events.db-wal")), 0o600);
}

fn batch<'a>(events: &'a [Event], commands: &'a [CommandRecord], state: &'a State) -> Append<'a> {
    Append {
        events,
        commands,
        state,
        checkpoint: false,
        resume_floor: 0,
    }
}

#[test]
fn appends_reads_and_remembers_answers() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(s.head().unwrap(), 0);
    let rec = CommandRecord {
        actor: "alice".into(),
        id: "c1".into(),
        answer: Answer::Ok {
            seqs: vec![1, 2],
            incident: None,
        },
    };
    let two = ev(2);
    let events = [ev(1), two.clone()];
    s.append(&batch(&events, &[rec], &folded(&events))).unwrap();
    assert_eq!(s.head().unwrap(), 2);
    let r = s.reader().unwrap();
    assert_eq!(r.read_since(1, 10).unwrap(), vec![two.clone()]);
    assert_eq!(r.incident_events(IncidentRef(2), 9).unwrap(), vec![two]);
    assert!(r.incident_events(IncidentRef(2), 1).unwrap().is_empty());
    assert_eq!(r.last_seq_of(IncidentRef(1)).unwrap(), Some(1));
    assert_eq!(r.last_seq_of(IncidentRef(3)).unwrap(), None);
    assert!(matches!(
        r.answer("alice", "c1").unwrap(),
        Some(Answer::Ok { .. })
    ));
    assert!(r.answer("bob", "c1").unwrap().is_none());
    // A gap is refused and nothing of it is written.
    let four = [ev(4)];
    let mut at_four = folded(&events);
    at_four.seq = 3;
    at_four.apply(&four[0]).unwrap();
    assert!(matches!(
        s.append(&batch(&four, &[], &at_four)),
        Err(StoreError::NotContiguous { head: 2, first: 4 })
    ));
    // So is a state that is not the one the events make.
    let three = [ev(3)];
    assert!(matches!(
        s.append(&batch(&three, &[], &folded(&events))),
        Err(StoreError::Mismatch(_))
    ));
    assert_eq!(s.head().unwrap(), 2);
    drop(s);
    let s = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(s.read_since(0, 10).unwrap().len(), 2);
}

/// A log built through the model, appended a command at a time as the core does.
struct Feed {
    store: SqliteStore,
    state: State,
    events: Vec<Event>,
    now: DateTime<Utc>,
    appends: usize,
}

impl Feed {
    fn new(dir: &Path) -> Feed {
        Feed {
            store: SqliteStore::open(dir).unwrap(),
            state: State::default(),
            events: Vec::new(),
            now: t0(),
            appends: 0,
        }
    }

    fn run(&mut self, actor: &str, cmd: Command) -> Vec<u64> {
        let kinds = self.state.decide(actor, self.now, &cmd).expect("decided");
        let from = self.events.len();
        for kind in kinds {
            let e = Event {
                seq: self.state.seq + 1,
                at: self.now,
                actor: actor.into(),
                kind,
            };
            self.state.apply(&e).unwrap();
            self.events.push(e);
        }
        self.appends += 1;
        self.store
            .append(&Append {
                events: &self.events[from..],
                commands: &[],
                state: &self.state,
                checkpoint: self.appends.is_multiple_of(9),
                resume_floor: 0,
            })
            .unwrap();
        self.events[from..].iter().map(|e| e.seq).collect()
    }

    fn declare(
        &mut self,
        title: &str,
        sev: Severity,
        service: Option<&str>,
        restricted: bool,
    ) -> IncidentRef {
        self.run(
            "ana",
            Command::Declare {
                title: title.into(),
                severity: sev,
                service: service.map(str::to_string),
                restricted,
            },
        );
        IncidentRef(self.state.incidents.keys().next_back().copied().unwrap())
    }

    fn note(&mut self, r: IncidentRef, kind: EntryKind, text: &str) -> u64 {
        self.run(
            "ana",
            Command::AddEntry {
                incident: r,
                entry_kind: kind,
                text: text.into(),
                occurred_at: None,
                next_update_secs: None,
            },
        )[0]
    }
}

/// Every answer the indexes give, for comparing two sets of indexes.
#[derive(Debug, PartialEq)]
struct Answers {
    pages: Vec<SearchPage>,
    summaries: Vec<Incident>,
    live: State,
    last_seqs: Vec<Option<u64>>,
    fired: Vec<Event>,
}

fn queries() -> Vec<Search> {
    let q = |f: &dyn Fn(&mut Search)| {
        let mut s = Search::default();
        f(&mut s);
        s
    };
    vec![
        Search::default(),
        q(&|s| s.text = Some("replica".into())),
        q(&|s| s.text = Some("REPL lag".into())),
        q(&|s| s.text = Some("ünïcode".into())),
        q(&|s| s.text = Some("nothing-like-this".into())),
        q(&|s| s.text = Some("  ,, ".into())),
        q(&|s| s.severity = Some(Severity::Sev1)),
        q(&|s| s.service = Some("PAYMENTS".into())),
        q(&|s| s.active = Some(false)),
        q(&|s| s.active = Some(true)),
        q(&|s| s.since = Some(t0() + Duration::days(3))),
        q(&|s| s.until = Some(t0() + Duration::days(3))),
        q(&|s| {
            s.text = Some("breach".into());
            s.since = Some(t0());
        }),
        q(&|s| s.text = Some("declared".into())),
    ]
}

const ADMIN: Viewer = Viewer {
    name: "root",
    sees_all: true,
};
const ANA: Viewer = Viewer {
    name: "ana",
    sees_all: false,
};
const BOB: Viewer = Viewer {
    name: "bob",
    sees_all: false,
};

fn answers(r: &SqliteStore, now: DateTime<Utc>, highest: u32) -> Answers {
    let mut pages = Vec::new();
    for q in queries() {
        for v in [ADMIN, ANA, BOB] {
            // Every page, two at a time.
            let mut q = q.clone();
            loop {
                let page = r.search(&q, v, 2, 1 << 20).unwrap();
                let next = page.next;
                pages.push(page);
                match next {
                    Some(n) => q.before = Some(n),
                    None => break,
                }
            }
        }
    }
    Answers {
        pages,
        summaries: r.summaries().unwrap(),
        live: load_live(r, now, crate::model::DEFAULT_RECENT_SECS)
            .unwrap()
            .0,
        last_seqs: (1..=highest + 1)
            .map(|n| r.last_seq_of(IncidentRef(n)).unwrap())
            .collect(),
        fired: r.fired_steps().unwrap(),
    }
}

/// What the whole fold says each search should find, for one viewer: every page joined.
fn oracle(state: &State, q: &Search, v: Viewer<'_>) -> (Vec<IncidentRef>, Vec<IncidentRef>) {
    let (mut listed, mut withheld) = (Vec::new(), Vec::new());
    for inc in state.incidents.values().rev() {
        match found(inc, q, v) {
            Found::Listed => listed.push(inc.reference),
            Found::Withheld => withheld.push(inc.reference),
            Found::Skipped => {}
        }
    }
    (listed, withheld)
}

fn build(dir: &Path) -> Feed {
    let mut f = Feed::new(dir);
    let db = f.declare(
        "Primary DB replica lag",
        Severity::Sev1,
        Some("payments"),
        false,
    );
    f.note(
        db,
        EntryKind::Hypothesis,
        "Replication stalled after the Ünïcode migration",
    );
    f.note(db, EntryKind::Note, "checked the replicas, lag 40s");
    f.run("ana", Command::Resolve { incident: db });
    f.now += Duration::days(2);
    let sec = f.declare("Odd admin logins", Severity::Sev2, None, true);
    f.note(
        sec,
        EntryKind::Note,
        "possible breach via the replica credentials",
    );
    f.now += Duration::days(2);
    let search = f.declare("Search slow", Severity::Sev3, Some("search"), false);
    for i in 0..30 {
        f.note(
            search,
            EntryKind::Note,
            &format!("reading {i}: index rebuild at {i}0%"),
        );
    }
    f.run(
        "ana",
        Command::Retitle {
            incident: search,
            title: "Search index rebuilding".into(),
        },
    );
    f.run("ana", Command::Resolve { incident: search });
    f.run(
        "ana",
        Command::AddMember {
            incident: sec,
            person: "bob".into(),
        },
    );
    f.run(
        "ana",
        Command::RemoveMember {
            incident: sec,
            person: "bob".into(),
        },
    );
    f.now += Duration::days(9);
    // INC-1 comes back, long after it was resolved.
    f.note(db, EntryKind::Note, "lag is back: same replica");
    f.declare("Checkout 500s", Severity::Sev1, Some("payments"), false);
    f
}

#[test]
fn the_indexes_answer_as_the_fold_does_and_a_rebuild_gives_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = build(dir.path());
    let highest = f.state.next_reference().0;
    let before = answers(&f.store.reader().unwrap(), f.now, highest);

    // Against the whole fold.
    let whole = &f.state;
    let summaries: Vec<Incident> = whole.incidents.values().map(|i| i.summary(0)).collect();
    assert_eq!(before.summaries, summaries);
    let mut live = whole.clone();
    live.evict_archived(f.now, crate::model::DEFAULT_RECENT_SECS);
    assert_eq!(before.live, live);
    assert_eq!(
        live.incidents.keys().copied().collect::<Vec<_>>(),
        [1, 2, 4],
        "INC-2 is active; INC-3 was resolved 9 days ago; INC-1 came back"
    );
    let mut i = 0;
    for q in queries() {
        for v in [ADMIN, ANA, BOB] {
            let (mut listed, mut withheld) = (Vec::new(), Vec::new());
            loop {
                let page = &before.pages[i];
                i += 1;
                assert!(page.incidents.len() + page.withheld.len() <= 2, "{q:?}");
                for inc in &page.incidents {
                    assert_eq!(inc, &whole.incident(inc.reference).unwrap().summary(0));
                }
                listed.extend(page.incidents.iter().map(|i| i.reference));
                withheld.extend(&page.withheld);
                if page.next.is_none() {
                    break;
                }
            }
            assert_eq!(
                (listed, withheld),
                oracle(whole, &q, v),
                "{q:?} as {}",
                v.name
            );
        }
    }
    assert_eq!(
        before.fired,
        f.events
            .iter()
            .filter(|e| e.kind.name() == "step_fired")
            .cloned()
            .collect::<Vec<_>>()
    );
    // The searches found something, withheld something and passed over something.
    let found_of = |q: Search, v| oracle(whole, &q, v);
    let text = |t: &str| Search {
        text: Some(t.into()),
        ..Search::default()
    };
    assert_eq!(
        found_of(text("repl"), ADMIN).0,
        [IncidentRef(2), IncidentRef(1)]
    );
    assert_eq!(found_of(text("repl"), BOB), (vec![IncidentRef(1)], vec![]));
    assert_eq!(found_of(Search::default(), BOB).1, [IncidentRef(2)]);
    assert_eq!(found_of(text("search rebuilding"), ANA).0, [IncidentRef(3)]);

    // Drop every index and make them again from the events.
    f.store.rebuild_indexes().unwrap();
    let after = answers(&f.store.reader().unwrap(), f.now, highest);
    assert_eq!(before, after);
    assert!(f.store.latest_checkpoint().unwrap().is_some());
}

/// A log written by the first schema (events and answers only) is indexed when opened.
#[test]
fn a_version_1_log_is_migrated_and_a_newer_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = build(dir.path());
    let want = answers(&f.store.reader().unwrap(), f.now, 6);
    let events = f.events.clone();
    let now = f.now;
    drop(f);
    // The same log as warroom 0.1 wrote it.
    let old = tempfile::tempdir().unwrap();
    {
        let conn = Connection::open(old.path().join("events.db")).unwrap();
        conn.execute_batch(
            "CREATE TABLE events (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
             CREATE TABLE commands (actor TEXT NOT NULL, id TEXT NOT NULL, answer TEXT NOT NULL,
                 PRIMARY KEY (actor, id)) WITHOUT ROWID;
             CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO meta VALUES ('schema_version', '1'), ('feed_id', 'old-feed');",
        )
        .unwrap();
        for e in &events {
            conn.execute(
                "INSERT INTO events (seq, body) VALUES (?1, ?2)",
                params![e.seq as i64, serde_json::to_string(e).unwrap()],
            )
            .unwrap();
        }
    }
    let s = SqliteStore::open(old.path()).unwrap();
    assert_eq!(s.feed_id().unwrap(), "old-feed");
    let got = answers(&s.reader().unwrap(), now, 6);
    assert_eq!(got.summaries, want.summaries);
    assert_eq!(got.pages, want.pages);
    assert_eq!(got.live, want.live);
    assert_eq!(got.fired, want.fired);
    let version: String = s
        .conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, "2");
    // Opening again migrates nothing more.
    drop(s);
    let s = SqliteStore::open(old.path()).unwrap();
    assert_eq!(s.summaries().unwrap(), want.summaries);

    s.conn
        .execute(
            "UPDATE meta SET value = '3' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    drop(s);
    let err = SqliteStore::open(old.path()).err().expect("refused");
    let msg = err.to_string();
    assert!(
        msg.contains("schema version 3") && msg.contains("knows (2)"),
        "{msg}"
    );
}

/// A page stops short of its byte budget (but always holds one incident).
#[test]
fn a_search_page_keeps_to_its_byte_budget() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = Feed::new(dir.path());
    for i in 0..5 {
        f.declare(&format!("incident {i}"), Severity::Sev3, None, false);
    }
    let r = f.store.reader().unwrap();
    let all = r.search(&Search::default(), ADMIN, 10, 1 << 20).unwrap();
    assert_eq!(all.incidents.len(), 5);
    assert_eq!(all.next, None);
    let one = serde_json::to_string(&all.incidents[0]).unwrap().len();
    let page = r
        .search(&Search::default(), ADMIN, 10, one * 2 + 10)
        .unwrap();
    assert_eq!(page.incidents.len(), 2);
    assert_eq!(page.next, Some(IncidentRef(4)));
    let tiny = r.search(&Search::default(), ADMIN, 10, 1).unwrap();
    assert_eq!(tiny.incidents.len(), 1);
    assert_eq!(tiny.next, Some(IncidentRef(5)));
}

/// Figures at a larger size (run by hand, in release):
/// `cargo test --release --lib store::sqlite::tests::figures_at_scale -- --ignored --nocapture`
#[test]
#[ignore]
fn figures_at_scale() {
    use std::time::Instant;
    let incidents: u32 = std::env::var("WARROOM_STORE_INCIDENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let per: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path()).unwrap();
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
    let r = SqliteStore::open(dir.path()).unwrap();
    let t = Instant::now();
    let (live, _) = load_live(&r, now, crate::model::DEFAULT_RECENT_SECS).unwrap();
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
