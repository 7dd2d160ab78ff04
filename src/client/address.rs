//! Where a feed is: the default local address, and turning what people type into the feed's
//! WebSocket URL.

/// The feed address used when none is configured.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7654";

/// Turns what people type (`host:port`, `ws://host:port`, `http://host:port/`) into the
/// feed URL; `ws://host:port` means path `/feed`.
pub fn feed_url(input: &str) -> Result<String, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("the server address is empty".into());
    }
    let (scheme, rest) = match s.split_once("://") {
        Some((sch, rest)) => (sch.to_ascii_lowercase(), rest),
        None => ("ws".to_string(), s),
    };
    let scheme = match scheme.as_str() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        other => {
            return Err(format!(
                "unsupported scheme '{other}://' in server address '{input}' (use ws:// or wss://)"
            ));
        }
    };
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if host.is_empty() {
        return Err(format!("no host in server address '{input}'"));
    }
    let path = if path.is_empty() || path == "/" {
        "/feed"
    } else {
        path
    };
    Ok(format!("{scheme}://{host}{path}"))
}
