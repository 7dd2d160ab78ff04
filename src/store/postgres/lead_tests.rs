//! The lead on PostgreSQL: only the store holding the leader's lock appends, a leader whose
//! session the database ended is fenced, and `warroom_append` itself refuses a session
//! without the lock; a log of an older schema is migrated, one of a newer refused. Each
//! test runs on a database of its own (see `testdb`); without `WARROOM_TEST_POSTGRES` they
//! say they were skipped, and pass.

use std::time::Duration;

use super::tests::{db, declared};
use super::*;

/// Leadership: one store takes the lead, the other cannot; the leader's appends go in, the
/// other's are refused (it never led), and once the leader's session is cut (as the database
/// cuts a frozen leader's) its appends are refused too, even on the new connection it
/// makes, until the other takes the lead and appends in the next epoch.
#[test]
fn only_the_store_holding_the_lead_appends_and_a_cut_leader_is_fenced() {
    let Some(db) = db("only_the_store_holding_the_lead_appends_and_a_cut_leader_is_fenced") else {
        return;
    };
    let mut a = PgStore::open(&db.url).unwrap();
    let mut b = PgStore::open(&db.url).unwrap();
    let first = a.lead().unwrap().expect("a leads");
    assert_eq!(b.lead().unwrap(), None, "the lock is a's");
    assert!(a.leading().unwrap());
    let (e1, s1) = declared(&State::default(), "a", 1);
    let append = |store: &mut PgStore, e: &Event, s: &State| {
        store.append(&Append {
            events: std::slice::from_ref(e),
            commands: &[],
            state: s,
            checkpoint: false,
            resume_floor: 0,
        })
    };
    append(&mut a, &e1, &s1).unwrap();
    let (e2, s2) = declared(&s1, "b", 2);
    // b tried to lead, so it is fenced: without the lock its append is refused.
    assert!(matches!(
        append(&mut b, &e2, &s2),
        Err(StoreError::NotLeader(_))
    ));
    // The database ends a's session (a frozen leader's idle timeout, or an operator).
    db.client()
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' \
             AND objid = $1",
            &[&((LEADER_LOCK & 0xffff_ffff) as u32)],
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(!a.leading().unwrap(), "a finds it no longer leads");
    assert!(matches!(
        append(&mut a, &e2, &s2),
        Err(StoreError::NotLeader(_))
    ));
    let second = b.lead().unwrap().expect("b leads now");
    assert!(second > first, "a new epoch: {second} after {first}");
    let (e2, s2) = declared(&s1, "b", 2);
    append(&mut b, &e2, &s2).unwrap();
    assert_eq!(a.head().unwrap(), 2);
    let (e3, s3) = declared(&s2, "a", 3);
    let refused = append(&mut a, &e3, &s3);
    assert!(
        matches!(refused, Err(StoreError::NotLeader(_))),
        "{refused:?}"
    );
    assert_eq!(b.head().unwrap(), 2);
}

/// `warroom_append` from a session that does not hold the leader's lock is refused
/// (`WR001`), whoever else holds it; from the leader's session it appends and leaves the
/// lock held as it was: held twice (as `lead` takes it), or once (as a replica of an older
/// version took it).
#[test]
fn the_append_checks_the_lead_in_the_database_and_leaves_the_lock_held() {
    let Some(db) = db("the_append_checks_the_lead_in_the_database_and_leaves_the_lock_held") else {
        return;
    };
    drop(PgStore::open(&db.url).unwrap());
    let call = "SELECT warroom_append($1, NULL, '{}'::BIGINT[], '{}'::TEXT[], '{}'::BIGINT[], \
                '{}'::TEXT[], '{}'::TEXT[], '{}'::TEXT[], '{}'::TEXT[], '{}'::BIGINT[], \
                '{}'::BIGINT[], '{}'::BIGINT[], '{}'::INTEGER[], '{}'::BOOLEAN[], '{}'::TEXT[], \
                '{}'::BOOLEAN[], '{}'::TEXT[], '{}'::BIGINT[], '{}'::TEXT[], '{}'::BIGINT[], \
                '{}'::TEXT[], NULL, NULL, NULL)";
    let refused = |c: &mut ::postgres::Client| {
        let e = c.query_one(call, &[&LEADER_LOCK]).unwrap_err();
        assert_eq!(e.code().map(|c| c.code()), Some("WR001"), "{e}");
    };
    let holders = |c: &mut ::postgres::Client| -> Vec<i32> {
        c.query(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = $1 \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[&((LEADER_LOCK & 0xffff_ffff) as u32)],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    let mut watcher = db.client();
    // Nobody holds it: refused, and the refused session does not come to hold it.
    let mut other = db.client();
    refused(&mut other);
    assert!(holders(&mut watcher).is_empty());
    for takes in [
        "pg_try_advisory_lock($1) AND pg_try_advisory_lock($1)",
        "pg_try_advisory_lock($1)",
    ] {
        let mut leader = db.client();
        let pid: i32 = leader
            .query_one("SELECT pg_backend_pid()", &[])
            .unwrap()
            .get(0);
        let got: bool = leader
            .query_one(&format!("SELECT {takes}"), &[&LEADER_LOCK])
            .unwrap()
            .get(0);
        assert!(got);
        for _ in 0..3 {
            leader.query_one(call, &[&LEADER_LOCK]).unwrap();
            assert_eq!(
                holders(&mut watcher),
                vec![pid],
                "after an append by {takes}"
            );
        }
        // Someone else holds it: refused, and it stays the leader's.
        refused(&mut other);
        assert_eq!(holders(&mut watcher), vec![pid]);
        leader
            .batch_execute("SELECT pg_advisory_unlock_all()")
            .unwrap();
        assert!(
            holders(&mut watcher).is_empty(),
            "the lock is given up whole"
        );
    }
}

/// A log an older warroom left at schema 6 (its appends made by that version's
/// `warroom_append`) is migrated when a replica opens it, its events and resume floor kept,
/// and the new leader appends after them; a log of a schema newer than this warroom knows
/// is refused, naming both versions.
#[test]
fn an_older_log_is_migrated_and_a_newer_one_refused() {
    let Some(db) = db("an_older_log_is_migrated_and_a_newer_one_refused") else {
        return;
    };
    let mut old = db.client();
    schema::prepare_to(&mut old, "the test log", 6).unwrap();
    let version = |c: &mut ::postgres::Client| -> String {
        c.query_one("SELECT value FROM meta WHERE key = 'schema_version'", &[])
            .unwrap()
            .get(0)
    };
    assert_eq!(version(&mut old), "6");
    let (e1, s1) = declared(&State::default(), "old", 1);
    let batch = index::Batch::of(&Append {
        events: std::slice::from_ref(&e1),
        commands: &[],
        state: &s1,
        checkpoint: false,
        resume_floor: 1,
    })
    .unwrap();
    let mut prepared = index::Prepared::new();
    let head = append::append(&mut Db::new(&mut old, &mut prepared), None, Some(1), &batch);
    assert_eq!(head.unwrap(), 1);

    let mut store = PgStore::open(&db.url).unwrap();
    assert_eq!(version(&mut old), PG_SCHEMA_VERSION.to_string());
    assert_eq!(store.read_since(0, 10).unwrap(), vec![e1]);
    assert_eq!(store.resume_floor().unwrap(), 1);
    store.lead().unwrap().expect("it leads");
    let (e2, s2) = declared(&s1, "new", 2);
    store
        .append(&Append {
            events: std::slice::from_ref(&e2),
            commands: &[],
            state: &s2,
            checkpoint: false,
            resume_floor: 1,
        })
        .unwrap();
    assert_eq!(store.head().unwrap(), 2);
    drop(store);

    old.execute(
        "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
        &[],
    )
    .unwrap();
    let refused = PgStore::open(&db.url)
        .err()
        .expect("a newer schema is refused");
    let said = refused.to_string();
    assert!(
        said.contains("99") && said.contains(&PG_SCHEMA_VERSION.to_string()),
        "{said}"
    );
}
