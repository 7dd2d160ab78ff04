//! Tests of the feed's authentication: the token file, the store and revocation, the local
//! token.

use super::hash::sha256;
use super::*;
use crate::model::Command;
use crate::protocol::{Access, ErrorCode};

#[test]
fn parses_and_names_bad_lines() {
    let t = TokenTable::parse(
        "# team\nalice 0123456789abcdef0123\n\nbob fedcba9876543210fedc viewer\n",
    )
    .unwrap();
    assert_eq!(t.name_for("0123456789abcdef0123"), Some("alice"));
    assert_eq!(
        t.lookup(&sha256("fedcba9876543210fedc")),
        Some(("bob", Access::Viewer))
    );
    assert_eq!(
        t.lookup(&sha256("0123456789abcdef0123")),
        Some(("alice", Access::Responder))
    );
    assert_eq!(t.name_for("nope"), None);
    let e = TokenTable::parse("alice\n").unwrap_err();
    assert!(
        e.contains("line 1") && e.contains("two or three words"),
        "{e}"
    );
    let e = TokenTable::parse("alice short\n").unwrap_err();
    assert!(e.contains("at least 16"), "{e}");
    let e = TokenTable::parse("alice 0123456789abcdef chef\n").unwrap_err();
    assert!(e.contains("unknown role 'chef'"), "{e}");
    let e = TokenTable::parse("a 0123456789abcdef\nb 0123456789abcdef\n").unwrap_err();
    assert!(e.contains("line 2"), "{e}");
    assert!(TokenTable::parse("# nothing\n").is_err());
}

#[test]
fn tokens_are_random_and_long() {
    let a = new_token();
    assert!(a.starts_with("wr_") && a.len() == 67, "{a}");
    assert_ne!(a, new_token());
}

#[test]
fn the_store_keeps_hashes_and_knows_revoked_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let auth = |exposed| Auth::new(None, dir.path(), exposed).unwrap();
    // No store on loopback: open, the hello's name is who you are.
    let who = auth(false).authenticate("alice", None).unwrap();
    assert_eq!((who.name.as_str(), who.access), ("alice", None));
    assert_eq!(
        auth(true).authenticate("alice", None).unwrap_err().code,
        ErrorCode::Unauthorized
    );

    let t = add_token(dir.path(), "bob", Access::Viewer).unwrap();
    let text = std::fs::read_to_string(dir.path().join(STORE_FILE)).unwrap();
    assert!(!text.contains(&t), "the token itself is never stored");
    assert!(add_token(dir.path(), "bob", Access::Admin).is_err());
    assert!(add_token(dir.path(), "local", Access::Admin).is_err());
    let a = auth(false);
    let who = a.authenticate("mallory", Some(&t)).unwrap();
    assert_eq!(
        (who.name.as_str(), who.access),
        ("bob", Some(Access::Viewer))
    );
    assert_eq!(
        a.authenticate("bob", None).unwrap_err().code,
        ErrorCode::Unauthorized
    );
    assert!(
        who.may(&Command::Acknowledge {
            incident: crate::model::IncidentRef(1)
        })
        .is_err()
    );

    revoke_token(dir.path(), "bob").unwrap();
    assert!(
        revoke_token(dir.path(), "bob")
            .unwrap_err()
            .to_string()
            .contains("already")
    );
    a.refresh();
    let e = a.still_valid(&who).unwrap_err();
    assert_eq!(e.reason, "token revoked");
    let e = a.authenticate("bob", Some(&t)).unwrap_err();
    assert_eq!(
        (e.code, e.reason),
        (ErrorCode::Unauthorized, "token revoked")
    );
    // A new token for bob after the revocation.
    let t2 = add_token(dir.path(), "bob", Access::Responder).unwrap();
    assert_eq!(
        a.authenticate("x", Some(&t2)).unwrap().access,
        Some(Access::Responder)
    );
}

#[test]
fn the_local_token_is_made_once_and_acts_under_the_given_name() {
    let dir = tempfile::tempdir().unwrap();
    let t = ensure_local_token(dir.path()).unwrap().unwrap();
    assert_eq!(
        ensure_local_token(dir.path()).unwrap().as_deref(),
        Some(t.as_str())
    );
    assert_eq!(read_local_token(dir.path()).as_deref(), Some(t.as_str()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [STORE_FILE, LOCAL_TOKEN_FILE] {
            let mode = std::fs::metadata(dir.path().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }
    let a = Auth::new(None, dir.path(), false).unwrap();
    let who = a.authenticate("priya", Some(&t)).unwrap();
    assert_eq!(
        (who.name.as_str(), who.access),
        ("priya", Some(Access::Admin))
    );
    assert!(
        a.authenticate("priya", None).is_err(),
        "the store protects the feed"
    );
    // Its plain text lost: a new one replaces it.
    std::fs::remove_file(dir.path().join(LOCAL_TOKEN_FILE)).unwrap();
    let t2 = ensure_local_token(dir.path()).unwrap().unwrap();
    assert_ne!(t, t2);
    a.refresh();
    assert!(a.authenticate("priya", Some(&t)).is_err());
    // Revoked on purpose: not made again.
    revoke_token(dir.path(), LOCAL_NAME).unwrap();
    std::fs::remove_file(dir.path().join(LOCAL_TOKEN_FILE)).unwrap();
    assert_eq!(ensure_local_token(dir.path()).unwrap(), None);
}

/// The tokens of a feed on PostgreSQL (`warroom token … --store`), in a database of the
/// test's own; `None` (the test skipped) without `WARROOM_TEST_POSTGRES`.
fn database(test: &str) -> Option<(crate::store::testdb::TestDb, DatabaseTokens)> {
    let db = crate::store::testdb::TestDb::create(test)?;
    let tokens = DatabaseTokens::open(&db.url).unwrap();
    Some((db, tokens))
}

#[test]
fn tokens_in_the_database_are_hashes_one_active_per_name() {
    let Some((db, tokens)) = database("tokens_in_the_database_are_hashes_one_active_per_name")
    else {
        return;
    };
    let t0 = chrono::Utc::now();
    let t = tokens.add("alice", Access::Responder, t0).unwrap();
    let e = tokens
        .add("alice", Access::Admin, t0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("alice already has a token"), "{e}");
    assert!(tokens.add("local", Access::Admin, t0).is_err());
    assert!(tokens.add("", Access::Admin, t0).is_err());
    tokens
        .add("bob", Access::Viewer, t0 + chrono::Duration::seconds(1))
        .unwrap();
    let list = tokens.list().unwrap();
    let names: Vec<(&str, Access)> = list.iter().map(|t| (t.name.as_str(), t.role)).collect();
    assert_eq!(
        names,
        [("alice", Access::Responder), ("bob", Access::Viewer)]
    );
    assert_eq!(list[0].sha256, hex::encode(sha256(&t)));
    assert_eq!(
        list[0].created_at.timestamp_micros(),
        t0.timestamp_micros(),
        "times come back as they were written"
    );
    // Only the hash is stored.
    let mut c = db.client();
    let everything: String = c
        .query_one("SELECT string_agg(t::TEXT, ' ') FROM tokens t", &[])
        .unwrap()
        .get(0);
    assert!(!everything.contains(&t), "{everything}");

    let e = tokens.revoke("zed", t0).unwrap_err().to_string();
    assert!(e.contains("nobody called zed"), "{e}");
    let revoked = tokens.revoke("alice", t0).unwrap();
    assert_eq!(
        (revoked.name.as_str(), revoked.role),
        ("alice", Access::Responder)
    );
    assert!(revoked.revoked_at.is_some());
    let e = tokens.revoke("alice", t0).unwrap_err().to_string();
    assert!(e.contains("already revoked"), "{e}");
    // A new token for alice after the revocation; the database itself keeps one active
    // token a name.
    tokens.add("alice", Access::Admin, t0).unwrap();
    let twice = c.execute(
        "INSERT INTO tokens (sha256, name, role, created_at) VALUES ($1, 'alice', 'admin', now())",
        &[&"0".repeat(64)],
    );
    assert!(twice.is_err(), "a second active token for alice");
    let list = tokens.list().unwrap();
    assert_eq!(list.iter().filter(|t| t.active()).count(), 2);
    assert_eq!(list.len(), 3);
}

#[test]
fn an_auth_on_the_database_takes_its_tokens_and_closes_revoked_ones() {
    let Some((db, tokens)) =
        database("an_auth_on_the_database_takes_its_tokens_and_closes_revoked_ones")
    else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (connect, shown) = crate::store::prepare_database(&db.url).unwrap();
    let shared = first_read(&connect, &shown).unwrap();
    let auth = std::sync::Arc::new(
        Auth::new(None, dir.path(), false)
            .unwrap()
            .with_source(TokenSource::Database(std::sync::Arc::new(shared))),
    );
    // No tokens anywhere: open on loopback.
    assert!(!auth.has_tokens());
    assert_eq!(auth.authenticate("alice", None).unwrap().access, None);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    spawn_token_reader(connect, auth.clone(), stopped);

    // A token added a moment ago is found by a fresh read, at the handshake.
    let alice = tokens.add_now("alice", Access::Responder).unwrap();
    let who = rt
        .block_on(auth.authenticate_fresh("mallory", Some(&alice)))
        .unwrap();
    assert_eq!(
        (who.name.as_str(), who.access),
        ("alice", Some(Access::Responder))
    );
    assert!(auth.has_tokens(), "the database's tokens protect the feed");
    assert!(auth.authenticate("alice", None).is_err());
    let e = rt
        .block_on(auth.authenticate_fresh("x", Some("wr_not_a_token_at_all_0123456789")))
        .unwrap_err();
    assert_eq!(
        (e.code, e.reason),
        (ErrorCode::Unauthorized, "unauthorized")
    );
    assert!(auth.may_post_alerts(&alice));
    // So is one given a moment ago that posts alerts (the webhook intake).
    let carol = tokens.add_now("carol", Access::Responder).unwrap();
    assert!(rt.block_on(auth.may_post_alerts_fresh(&carol)));
    assert!(!rt.block_on(auth.may_post_alerts_fresh("wr_not_a_token_at_all_0123456789")));

    // This replica's own tokens.json still counts here…
    let fred = add_token(dir.path(), "fred", Access::Viewer).unwrap();
    let f = auth.authenticate("x", Some(&fred)).unwrap();
    assert_eq!((f.name.as_str(), f.access), ("fred", Some(Access::Viewer)));
    assert_eq!(auth.directory_tokens(), 1);
    // …but the database revoking the same token wins.
    let mut c = db.client();
    c.execute(
        "INSERT INTO tokens (sha256, name, role, created_at, revoked_at) \
         VALUES ($1, 'fred', 'viewer', now(), now())",
        &[&hex::encode(sha256(&fred))],
    )
    .unwrap();
    // A row this warroom cannot read is refused; the others work on.
    c.execute(
        "INSERT INTO tokens (sha256, name, role, created_at) VALUES ($1, 'olga', 'chef', now())",
        &[&"a".repeat(64)],
    )
    .unwrap();

    // Revoked in the database: the reading thread finds it (notified) and live sessions
    // are told to check themselves.
    let mut changes = auth.subscribe();
    changes.mark_unchanged();
    tokens.revoke_now("alice").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while auth.still_valid(&who).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "alice's revocation not seen within 2 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(changes.has_changed().unwrap());
    assert_eq!(auth.still_valid(&who).unwrap_err().reason, "token revoked");
    assert_eq!(auth.still_valid(&f).unwrap_err().reason, "token revoked");
    let e = auth.authenticate("alice", Some(&alice)).unwrap_err();
    assert_eq!(e.reason, "token revoked");
    assert!(!auth.may_post_alerts(&alice));
    let bob = tokens.add_now("bob", Access::Admin).unwrap();
    let b = rt
        .block_on(auth.authenticate_fresh("x", Some(&bob)))
        .unwrap();
    assert_eq!(b.access, Some(Access::Admin));
    let _ = stop.send(true);
}
