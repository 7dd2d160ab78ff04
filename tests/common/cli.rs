//! The `warroom` binary run as a script runs it, against a feed.

use std::process::Output;

/// `warroom ARGS` against the feed at `server`, as `name`, with no token.
pub fn warroom(server: &str, name: &str, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(args)
        .env("WARROOM_SERVER", server)
        .env("WARROOM_NAME", name)
        .env_remove("WARROOM_TOKEN")
        .output()
        .unwrap()
}

/// The standard output of a run that must have succeeded.
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
