//! The store's tests, run against both backends: each generic test takes a [`Log`] (a
//! fresh SQLite directory, or a fresh PostgreSQL database when `WARROOM_TEST_POSTGRES`
//! names a server to make one on) and is run once on each by [`both!`]. Without the
//! variable the PostgreSQL runs say they were skipped, and pass. Tests of one backend's own
//! (file permissions, the SQLite v1 migration, two PostgreSQL writers) are beside it.

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::model::access::Viewer;
use crate::model::{Command, EntryKind, Event, EventKind, Incident, IncidentRef, Severity, State};
use crate::protocol::{Answer, Search};
use crate::store::postgres::testdb::TestDb;
use crate::store::words::{Found, found};
use crate::store::{
    Append, CommandRecord, EventStore, LogReader, PgStore, SearchPage, SqliteStore, StoreError,
    load_live,
};

mod scale;

/// Where a test's log lives; dropped (directory removed, database dropped) at its end.
pub(crate) enum Log {
    Sqlite(tempfile::TempDir),
    Postgres(TestDb),
}

impl Log {
    pub fn sqlite() -> Log {
        Log::Sqlite(tempfile::tempdir().expect("a temporary directory"))
    }

    /// A fresh database, or `None` (the test says it was skipped) without a server.
    pub fn postgres(test: &str) -> Option<Log> {
        TestDb::create(test).map(Log::Postgres)
    }

    /// The log opened for writing (again: what was appended before is there).
    pub fn open(&self) -> Box<dyn EventStore> {
        self.try_open().expect("the log opens")
    }

    pub fn try_open(&self) -> Result<Box<dyn EventStore>, StoreError> {
        Ok(match self {
            Log::Sqlite(dir) => Box::new(SqliteStore::open(dir.path())?),
            Log::Postgres(db) => Box::new(PgStore::open(&db.url)?),
        })
    }

    /// Writes `v` as the log's schema version, as a newer warroom would.
    fn set_schema_version(&self, v: u32) {
        match self {
            Log::Sqlite(dir) => {
                rusqlite::Connection::open(dir.path().join("events.db"))
                    .unwrap()
                    .execute(
                        "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
                        [v.to_string()],
                    )
                    .unwrap();
            }
            Log::Postgres(db) => {
                db.client()
                    .execute(
                        "UPDATE meta SET value = $1 WHERE key = 'schema_version'",
                        &[&v.to_string()],
                    )
                    .unwrap();
            }
        }
    }
}

/// Runs each named test (a `fn(&Log)`) once on SQLite and once on PostgreSQL:
/// `store::tests::sqlite::NAME` and `store::tests::postgres::NAME`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&super::Log::sqlite());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    let test = concat!("store::tests::postgres::", stringify!($name));
                    if let Some(log) = super::Log::postgres(test) {
                        super::$name(&log);
                    }
                }
            )*
        }
    };
}

both!(
    appends_reads_and_remembers_answers,
    a_groups_answers_are_read_at_once_in_its_order,
    the_indexes_answer_as_the_fold_does_and_a_rebuild_gives_the_same_answers,
    a_search_page_keeps_to_its_byte_budget,
    a_log_of_a_newer_schema_is_refused_naming_both_versions,
);

/// A log written by a newer warroom is refused, saying which version it has and which
/// this one knows; nothing of it is changed.
fn a_log_of_a_newer_schema_is_refused_naming_both_versions(log: &Log) {
    let known = match log {
        Log::Sqlite(_) => crate::store::SCHEMA_VERSION,
        Log::Postgres(_) => crate::store::PG_SCHEMA_VERSION,
    };
    let mut f = Feed::new(log);
    f.declare("before the upgrade", Severity::Sev2, None, false);
    drop(f);
    let newer = known + 7;
    log.set_schema_version(newer);
    let msg = log.try_open().err().expect("refused").to_string();
    assert!(
        msg.contains(&format!("schema version {newer}"))
            && msg.contains(&format!("knows ({known})")),
        "{msg}"
    );
    assert!(!msg.contains("secret"), "{msg}");
    // Once the newer warroom's version is gone again, the log opens as it was.
    log.set_schema_version(known);
    assert_eq!(log.open().head().unwrap(), 1);
}

pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap()
}

pub(crate) fn ev(seq: u64) -> Event {
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
pub(crate) fn folded(events: &[Event]) -> State {
    State::from_events(events).unwrap()
}

pub(crate) fn batch<'a>(
    events: &'a [Event],
    commands: &'a [CommandRecord],
    state: &'a State,
) -> Append<'a> {
    Append {
        events,
        commands,
        state,
        checkpoint: false,
        resume_floor: 0,
    }
}

/// The core asks for a whole group's remembered answers at once: each in the order asked
/// (a command asked twice, twice), `None` for one never seen, nothing for no command.
fn a_groups_answers_are_read_at_once_in_its_order(log: &Log) {
    let mut s = log.open();
    let said = |seq| Answer::Ok {
        seqs: vec![seq],
        incident: None,
    };
    let events = [ev(1), ev(2)];
    let commands = [
        CommandRecord {
            actor: "alice".into(),
            id: "c1".into(),
            answer: said(1),
        },
        CommandRecord {
            actor: "bob".into(),
            id: "c1".into(),
            answer: said(2),
        },
    ];
    s.append(&batch(&events, &commands, &folded(&events)))
        .unwrap();
    let key = |a: &str, i: &str| (a.to_string(), i.to_string());
    let asked = [
        key("bob", "c1"),
        key("carol", "c1"),
        key("alice", "c1"),
        key("alice", "c2"),
        key("bob", "c1"),
    ];
    let got = s.answers(&asked).unwrap();
    let seqs: Vec<Option<Vec<u64>>> = got
        .iter()
        .map(|a| match a {
            Some(Answer::Ok { seqs, .. }) => Some(seqs.clone()),
            Some(other) => panic!("{other:?}"),
            None => None,
        })
        .collect();
    assert_eq!(
        seqs,
        [Some(vec![2]), None, Some(vec![1]), None, Some(vec![2])]
    );
    assert!(s.answers(&[]).unwrap().is_empty());
}

fn appends_reads_and_remembers_answers(log: &Log) {
    let mut s = log.open();
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
    let r = s.open_reader().unwrap();
    assert_eq!(r.read_since(1, 10).unwrap(), vec![two.clone()]);
    assert_eq!(r.incident_events(IncidentRef(2), 9).unwrap(), vec![two]);
    assert!(r.incident_events(IncidentRef(2), 1).unwrap().is_empty());
    assert_eq!(r.last_seq_of(IncidentRef(1)).unwrap(), Some(1));
    assert_eq!(r.last_seq_of(IncidentRef(3)).unwrap(), None);
    assert!(matches!(
        s.answer("alice", "c1").unwrap(),
        Some(Answer::Ok { .. })
    ));
    assert!(s.answer("bob", "c1").unwrap().is_none());
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
    let s = log.open();
    assert_eq!(s.read_since(0, 10).unwrap().len(), 2);
}

/// A log built through the model, appended a command at a time as the core does.
pub(crate) struct Feed {
    pub store: Box<dyn EventStore>,
    pub state: State,
    pub events: Vec<Event>,
    pub now: DateTime<Utc>,
    appends: usize,
}

impl Feed {
    pub fn new(log: &Log) -> Feed {
        Feed {
            store: log.open(),
            state: State::default(),
            events: Vec::new(),
            now: t0(),
            appends: 0,
        }
    }

    pub fn run(&mut self, actor: &str, cmd: Command) -> Vec<u64> {
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

    pub fn declare(
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
                detected_by: None,
            },
        );
        IncidentRef(self.state.incidents.keys().next_back().copied().unwrap())
    }

    pub fn note(&mut self, r: IncidentRef, kind: EntryKind, text: &str) -> u64 {
        self.run(
            "ana",
            Command::AddEntry {
                incident: r,
                entry_kind: kind,
                text: text.into(),
                occurred_at: None,
                next_update_secs: None,
                public: false,
                briefing: None,
            },
        )[0]
    }
}

/// Every answer the indexes give, for comparing two sets of indexes.
#[derive(Debug, PartialEq)]
pub(crate) struct Answers {
    pub pages: Vec<SearchPage>,
    pub summaries: Vec<Incident>,
    pub live: State,
    pub last_seqs: Vec<Option<u64>>,
    pub fired: Vec<Event>,
}

pub(crate) fn queries() -> Vec<Search> {
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

pub(crate) const ADMIN: Viewer = Viewer {
    name: "root",
    sees_all: true,
};
pub(crate) const ANA: Viewer = Viewer {
    name: "ana",
    sees_all: false,
};
pub(crate) const BOB: Viewer = Viewer {
    name: "bob",
    sees_all: false,
};

pub(crate) fn answers(r: &dyn LogReader, now: DateTime<Utc>, highest: u32) -> Answers {
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
pub(crate) fn oracle(
    state: &State,
    q: &Search,
    v: Viewer<'_>,
) -> (Vec<IncidentRef>, Vec<IncidentRef>) {
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

pub(crate) fn build(log: &Log) -> Feed {
    let mut f = Feed::new(log);
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

fn the_indexes_answer_as_the_fold_does_and_a_rebuild_gives_the_same_answers(log: &Log) {
    let mut f = build(log);
    let highest = f.state.next_reference().0;
    let before = answers(f.store.open_reader().unwrap().as_ref(), f.now, highest);

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
    let after = answers(f.store.open_reader().unwrap().as_ref(), f.now, highest);
    assert_eq!(before, after);
    assert!(f.store.latest_checkpoint().unwrap().is_some());
}

/// A page stops short of its byte budget (but always holds one incident).
fn a_search_page_keeps_to_its_byte_budget(log: &Log) {
    let mut f = Feed::new(log);
    for i in 0..5 {
        f.declare(&format!("incident {i}"), Severity::Sev3, None, false);
    }
    let r = f.store.open_reader().unwrap();
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
