//! Tests of feed addresses and reconnect backoff.

use std::time::Duration;

use super::*;

#[test]
fn feed_urls() {
    assert_eq!(feed_url("ws://h:1").unwrap(), "ws://h:1/feed");
    assert_eq!(feed_url("h:1").unwrap(), "ws://h:1/feed");
    assert_eq!(feed_url("http://h:1/").unwrap(), "ws://h:1/feed");
    assert_eq!(feed_url("wss://h:1/x/feed").unwrap(), "wss://h:1/x/feed");
    assert!(feed_url("ftp://h").unwrap_err().contains("ftp://"));
    assert!(feed_url("").is_err());
}

#[test]
fn backoff_grows_with_jitter_and_caps() {
    let b = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(2),
    };
    for attempt in 0..30 {
        let d = b.delay(attempt);
        let step = (100u64 << attempt.min(20)).min(2000);
        assert!(d >= Duration::from_millis(step / 2), "{attempt}: {d:?}");
        assert!(d <= Duration::from_millis(step), "{attempt}: {d:?}");
    }
}
