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
