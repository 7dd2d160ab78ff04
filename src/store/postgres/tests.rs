//! PostgreSQL's own: several writers and replicas on one database, reaching it (TLS, a
//! broken connection, an unreachable one), and copying an SQLite log into it. Each test
//! runs on a database of its own (see `testdb`); without `WARROOM_TEST_POSTGRES` they say
//! they were skipped, and pass. The tests both backends pass are in `store::tests`.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use super::testdb::{TestDb, with_database};
use super::*;
use crate::model::{EventKind, Severity};
use crate::store::tests::{ADMIN, Log, answers, build, t0};
use crate::store::{CommandRecord, copy_to_postgres};

pub(super) fn db(test: &str) -> Option<TestDb> {
    TestDb::create(&format!("store::postgres::tests::{test}"))
}

/// A declaration at `seq` by `who`, and its state on top of `base`.
pub(super) fn declared(base: &State, who: &str, seq: u64) -> (Event, State) {
    let e = Event {
        seq,
        at: t0(),
        actor: who.into(),
        kind: EventKind::Declared {
            incident: IncidentRef(base.next_reference().0),
            title: format!("declared by {who} at {seq}"),
            service: Some(who.into()),
            severity: Severity::Sev2,
            restricted: false,
            alert_key: None,
        },
    };
    let mut state = base.clone();
    state.apply(&e).unwrap();
    (e, state)
}

/// The plan PostgreSQL shows for `explain` (an `EXPLAIN …` statement), its lines joined.
fn plan(c: &mut ::postgres::Client, explain: &str) -> String {
    let lines: Vec<String> = c
        .query(explain, &[])
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    lines.join("\n")
}

fn answered(who: &str, seq: u64) -> CommandRecord {
    CommandRecord {
        actor: who.into(),
        id: format!("{who}-{seq}"),
        answer: Answer::Ok {
            seqs: vec![seq],
            incident: None,
        },
    }
}

/// Two feeds appending at once to one database: for every position exactly one of them
/// is recorded; the other is refused whole (neither its event, nor its answer, nor its
/// incident's row or words are ever visible).
#[test]
fn two_writers_at_the_same_positions_one_wins_and_the_other_leaves_nothing() {
    let Some(db) = db("two_writers_at_the_same_positions_one_wins_and_the_other_leaves_nothing")
    else {
        return;
    };
    let mut writers = [
        PgStore::open(&db.url).unwrap(),
        PgStore::open(&db.url).unwrap(),
    ];
    let names = ["alpha", "beta"];
    let mut truth = State::default();
    let mut log = Vec::new();
    let (mut conflicts, mut behind) = (0, 0);
    for round in 1..=20u64 {
        let tries: Vec<(Event, State)> = names.iter().map(|n| declared(&truth, n, round)).collect();
        let barrier = Barrier::new(2);
        let results: Vec<Result<(), StoreError>> = std::thread::scope(|s| {
            let handles: Vec<_> = writers
                .iter_mut()
                .zip(&tries)
                .zip(names)
                .map(|((w, (e, state)), who)| {
                    let barrier = &barrier;
                    s.spawn(move || {
                        let events = [e.clone()];
                        let commands = [answered(who, round)];
                        barrier.wait();
                        w.append(&Append {
                            events: &events,
                            commands: &commands,
                            state,
                            checkpoint: round % 3 == 0,
                            resume_floor: round,
                        })
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let won: Vec<usize> = (0..2).filter(|&i| results[i].is_ok()).collect();
        assert_eq!(won.len(), 1, "round {round}: {results:?}");
        let lost = 1 - won[0];
        match &results[lost] {
            Err(StoreError::Conflict { first }) => {
                assert_eq!(*first, round);
                conflicts += 1;
            }
            Err(StoreError::NotContiguous { head, first }) => {
                assert_eq!((*head, *first), (round, round));
                behind += 1;
            }
            other => panic!("round {round}: the loser got {other:?}"),
        }
        let (e, state) = tries[won[0]].clone();
        log.push((e, names[won[0]], names[lost]));
        truth = state;
    }
    eprintln!("{conflicts} lost at the insert (unique seq), {behind} at the head check");
    let r = writers[0].open_reader().unwrap();
    let events: Vec<Event> = log.iter().map(|(e, _, _)| e.clone()).collect();
    assert_eq!(r.read_since(0, 100).unwrap(), events);
    for (round, (_, winner, loser)) in log.iter().enumerate() {
        let seq = round as u64 + 1;
        assert!(
            writers[1]
                .answer(winner, &format!("{winner}-{seq}"))
                .unwrap()
                .is_some()
        );
        assert!(
            writers[1]
                .answer(loser, &format!("{loser}-{seq}"))
                .unwrap()
                .is_none()
        );
    }
    let whole: Vec<Incident> = truth.incidents.values().map(|i| i.summary(0)).collect();
    assert_eq!(r.summaries().unwrap(), whole);
    // Searching for the losers' words finds only what the winners wrote.
    for who in names {
        let q = Search {
            text: Some(format!("by {who}")),
            ..Search::default()
        };
        let page = r.search(&q, ADMIN, 100, 1 << 20).unwrap();
        let want = log.iter().filter(|(_, w, _)| *w == who).count();
        assert_eq!(page.incidents.len(), want, "{who}");
    }
    assert_eq!(r.resume_floor().unwrap(), 20);
}

/// The race decided by the database itself: a writer whose head check passed inserts at a
/// position another transaction holds, waits for it, and is refused when it commits.
#[test]
fn a_writer_that_loses_a_position_at_the_insert_is_refused_whole() {
    let Some(db) = db("a_writer_that_loses_a_position_at_the_insert_is_refused_whole") else {
        return;
    };
    let mut store = PgStore::open(&db.url).unwrap();
    let (theirs, _) = declared(&State::default(), "other", 1);
    let mut other = db.client();
    let mut tx = other.transaction().unwrap();
    tx.execute(
        "INSERT INTO events (seq, body, incident, kind) VALUES (1, $1, 1, 'declared')",
        &[&serde_json::to_string(&theirs).unwrap()],
    )
    .unwrap();
    let appending = std::thread::spawn(move || {
        let (mine, state) = declared(&State::default(), "mine", 1);
        let result = store.append(&Append {
            events: &[mine],
            commands: &[answered("mine", 1)],
            state: &state,
            checkpoint: true,
            resume_floor: 1,
        });
        (store, result)
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !appending.is_finished(),
        "the insert waits for the other transaction"
    );
    tx.commit().unwrap();
    let (store, result) = appending.join().unwrap();
    let err = result.expect_err("refused");
    assert!(matches!(err, StoreError::Conflict { first: 1 }), "{err:?}");
    assert!(err.to_string().contains("another writer"), "{err}");
    assert_eq!(store.read_since(0, 10).unwrap(), vec![theirs]);
    assert!(store.answer("mine", "mine-1").unwrap().is_none());
    assert!(store.summaries().unwrap().is_empty());
    assert!(store.latest_checkpoint().unwrap().is_none());
    assert_eq!(store.resume_floor().unwrap(), 0);
}

/// Replicas starting together on a new database: one makes the tables, the others find
/// them made; all have the one feed id.
#[test]
fn replicas_opening_a_new_database_at_once_agree_on_its_feed_id() {
    let Some(db) = db("replicas_opening_a_new_database_at_once_agree_on_its_feed_id") else {
        return;
    };
    let barrier = Arc::new(Barrier::new(4));
    let ids: Vec<String> = (0..4)
        .map(|_| {
            let (url, barrier) = (db.url.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                PgStore::open(&url).unwrap().feed_id().unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert!(ids.iter().all(|id| id == &ids[0]), "{ids:?}");
    let version: String = db
        .client()
        .query_one("SELECT value FROM meta WHERE key = 'schema_version'", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, PG_SCHEMA_VERSION.to_string());
}

#[test]
fn an_unreachable_database_is_named_without_its_password() {
    let err = PgStore::open("postgres://root:hunter2@127.0.0.1:1/test")
        .err()
        .expect("nothing listens on port 1");
    let msg = err.to_string();
    assert!(
        msg.starts_with("cannot connect to the event log at postgres://root@127.0.0.1:1/test: "),
        "{msg}"
    );
    assert!(!msg.contains("hunter2"), "{msg}");
}

/// The database's connections were cut (it restarted): the store connects again.
#[test]
fn a_broken_connection_is_made_again() {
    let Some(db) = db("a_broken_connection_is_made_again") else {
        return;
    };
    let log = Log::Postgres(db);
    let mut f = crate::store::tests::Feed::new(&log);
    f.declare("before the restart", Severity::Sev2, None, false);
    let Log::Postgres(db) = &log else {
        unreachable!()
    };
    let cut = db
        .client()
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap();
    assert!(cut >= 1);
    assert_eq!(
        f.store.head().unwrap(),
        1,
        "a read is tried again on a new connection"
    );
    f.declare("after the restart", Severity::Sev2, None, false);
    assert_eq!(f.store.open_reader().unwrap().head().unwrap(), 2);
}

fn ssl_connections(db: &TestDb) -> i64 {
    db.client()
        .query_one(
            "SELECT COUNT(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.datname = current_database() AND s.ssl AND a.application_name = 'warroom'",
            &[],
        )
        .unwrap()
        .get(0)
}

/// `sslmode` as libpq reads it: `require` encrypts, `verify-full` also checks the
/// certificate (refused when no trusted CA signed it; accepted with the CA as
/// `sslrootcert`). Needs a server with TLS on (Debian's has its snake-oil certificate).
#[test]
fn tls_as_the_url_asks() {
    let test = "store::postgres::tests::tls_as_the_url_asks";
    let Some(db) = db("tls_as_the_url_asks") else {
        return;
    };
    let on: String = db.client().query_one("SHOW ssl", &[]).unwrap().get(0);
    if on != "on" {
        eprintln!("skipped {test}: the server does not offer TLS");
        return;
    }
    let plain = PgStore::open(&db.url).unwrap();
    assert_eq!(
        ssl_connections(&db),
        0,
        "no TLS to this machine unless asked"
    );
    drop(plain);
    let store = PgStore::open(&format!("{}?sslmode=require", db.url)).unwrap();
    assert_eq!(store.head().unwrap(), 0);
    assert!(ssl_connections(&db) >= 1);
    let err = PgStore::open(&format!("{}?sslmode=verify-full", db.url))
        .err()
        .expect("the snake-oil certificate is not trusted")
        .to_string();
    assert!(err.contains("certificate"), "{err}");
    let ca = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
    if std::path::Path::new(ca).is_file() && db.url.contains("127.0.0.1") {
        let url = db.url.replace("127.0.0.1", "localhost");
        let store = PgStore::open(&format!("{url}?sslmode=verify-full&sslrootcert={ca}")).unwrap();
        assert_eq!(store.head().unwrap(), 0);
    }
}

/// `warroom store copy`: an SQLite log with answers into an empty database gives the same
/// answers there; a second copy into it is refused, naming its head.
#[test]
fn an_sqlite_log_copied_answers_the_same() {
    let Some(db) = db("an_sqlite_log_copied_answers_the_same") else {
        return;
    };
    let source = Log::sqlite();
    let mut f = build(&source);
    let commands = [answered("ana", 1), answered("bob", 2)];
    f.store
        .append(&Append {
            events: &[],
            commands: &commands,
            state: &f.state,
            checkpoint: false,
            resume_floor: 0,
        })
        .unwrap();
    let highest = f.state.next_reference().0;
    let want = answers(f.store.open_reader().unwrap().as_ref(), f.now, highest);
    let Log::Sqlite(dir) = &source else {
        unreachable!()
    };
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let progress = seen.clone();
    let report = copy_to_postgres(dir.path(), &db.url, move |done, of| {
        progress.lock().unwrap().push((done, of));
    })
    .unwrap();
    let head = f.state.seq;
    assert_eq!(report.events, head);
    assert_eq!(report.answers, 2);
    assert_eq!(report.feed_id, f.store.feed_id().unwrap());
    assert_eq!(report.incidents, f.state.incidents.len());
    assert_eq!(seen.lock().unwrap().last(), Some(&(head, head)));
    assert!(
        report.to_string().contains(&format!("{head} events")),
        "{report}"
    );

    let copy = PgStore::open(&db.url).unwrap();
    assert_eq!(copy.feed_id().unwrap(), report.feed_id);
    assert_eq!(answers(&copy, f.now, highest), want);
    assert!(matches!(
        copy.answer("bob", "bob-2").unwrap(),
        Some(Answer::Ok { .. })
    ));

    let err = copy_to_postgres(dir.path(), &db.url, |_, _| {}).expect_err("refused");
    assert!(
        matches!(err, StoreError::NotEmpty { head: h, answers: 2, .. } if h == head),
        "{err}"
    );
    assert!(
        err.to_string().contains(&format!("its head is seq {head}")),
        "{err}"
    );
    let empty = tempfile::tempdir().unwrap();
    let err = copy_to_postgres(empty.path(), &with_database(&db.url, "x"), |_, _| {})
        .expect_err("no log there");
    assert!(err.to_string().contains("no event log"), "{err}");
}

/// The same commands on both backends: every search page, summary, last event, fired
/// step and the live work are the same.
#[test]
fn both_backends_answer_alike() {
    let Some(db) = db("both_backends_answer_alike") else {
        return;
    };
    let (sqlite, postgres) = (Log::sqlite(), Log::Postgres(db));
    let (a, b) = (build(&sqlite), build(&postgres));
    assert_eq!(a.events, b.events);
    let highest = a.state.next_reference().0;
    let (a, b) = (
        answers(a.store.open_reader().unwrap().as_ref(), a.now, highest),
        answers(b.store.open_reader().unwrap().as_ref(), b.now, highest),
    );
    assert!(a.pages.iter().any(|p| !p.withheld.is_empty()));
    assert_eq!(a, b);
}

/// The lookup of a group's remembered answers stays one index probe per key when its plan
/// was made on a new feed's empty table and the table then grew: what a group costs must
/// not grow with years of answered commands.
#[test]
fn remembered_answers_are_looked_up_by_key_whatever_the_table_held_at_planning() {
    let Some(db) =
        db("remembered_answers_are_looked_up_by_key_whatever_the_table_held_at_planning")
    else {
        return;
    };
    drop(PgStore::open(&db.url).unwrap());
    let mut c = db.client();
    // Planned once, on the empty table, as a leader's connection does; then years pass.
    c.batch_execute(&format!(
        "SET plan_cache_mode = force_generic_plan; \
         PREPARE lookup (TEXT[], TEXT[]) AS {}; \
         EXECUTE lookup ('{{writer-1}}', '{{c1}}'); \
         INSERT INTO commands (actor, id, answer) \
         SELECT 'writer-' || (i % 64), 'c' || i, '{{}}' FROM generate_series(1, 20000) i",
        super::index::ANSWERS
    ))
    .unwrap();
    let found = c
        .simple_query("EXECUTE lookup ('{writer-1,writer-2,nobody}', '{c1,c2,c3}')")
        .unwrap()
        .into_iter()
        .filter(|m| matches!(m, ::postgres::SimpleQueryMessage::Row(_)))
        .count();
    assert_eq!(found, 2);
    let plan = plan(&mut c, "EXPLAIN EXECUTE lookup ('{writer-1}', '{c1}')");
    assert!(!plan.contains("Seq Scan on commands"), "{plan}");
    assert!(plan.contains("Index Scan using commands_pkey"), "{plan}");
}

/// A start-up finds the live incidents (active, or updated lately) by walking the indexes
/// of live incidents when its plan was made on a new feed's empty table and the feed then
/// had years of incidents: what a start-up costs must not grow with the incidents closed
/// long ago. The answer is the one the plain filter gives.
#[test]
fn live_incidents_are_found_by_index_whatever_the_table_held_at_planning() {
    let Some(db) = db("live_incidents_are_found_by_index_whatever_the_table_held_at_planning")
    else {
        return;
    };
    let store = PgStore::open(&db.url).unwrap();
    let mut c = db.client();
    // Planned once, on the empty table, as a long-lived connection does; then years pass:
    // 20,000 incidents, one in a thousand still active, the last ten updated lately.
    c.batch_execute(&format!(
        "SET plan_cache_mode = force_generic_plan; \
         PREPARE live (BIGINT) AS {}; \
         EXECUTE live (0); \
         INSERT INTO incidents (ref, declared_at, updated_at, severity, active, service_key, \
         restricted, members, last_seq, summary) \
         SELECT r, r * 1000000000::BIGINT, r * 1000000000::BIGINT, 2, r % 1000 = 0, NULL, \
         false, '[]', r, '{{}}' FROM generate_series(1, 20000) r",
        super::index::LIVE_REFS
    ))
    .unwrap();
    let after = chrono::DateTime::from_timestamp(19_990, 0).unwrap();
    let plain: Vec<IncidentRef> = c
        .query(
            "SELECT ref FROM incidents WHERE active OR updated_at > $1 ORDER BY ref",
            &[&crate::store::rows::nanos(after)],
        )
        .unwrap()
        .iter()
        .map(|r| IncidentRef(u32::try_from(r.get::<_, i64>(0)).unwrap()))
        .collect();
    assert_eq!(
        plain.len(),
        20 + 9,
        "20 active, 19,991 to 20,000 updated lately"
    );
    assert_eq!(store.live_refs(after).unwrap(), plain);
    let plan = plan(
        &mut c,
        &format!(
            "EXPLAIN EXECUTE live ({})",
            crate::store::rows::nanos(after)
        ),
    );
    assert!(!plan.contains("Seq Scan on incidents"), "{plan}");
    assert!(!plan.contains("using incidents_pkey"), "{plan}");
    assert!(plan.contains("using incidents_active"), "{plan}");
    assert!(plan.contains("using incidents_by_update"), "{plan}");
}
