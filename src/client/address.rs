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

/// Turns a list of the feed's replicas, separated by commas (`a:7654,b:7654`), into their
/// feed URLs, in order, each once. One address is a list of one.
pub fn feed_urls(input: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for part in input.split(',') {
        if part.trim().is_empty() {
            if input.contains(',') {
                return Err(format!(
                    "an empty address in the server list '{input}' (separate the feed's \
                     replicas with single commas)"
                ));
            }
            return Err("the server address is empty".into());
        }
        let url = feed_url(part)?;
        if !out.contains(&url) {
            out.push(url);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_replicas_is_each_ones_feed_url_in_order() {
        assert_eq!(
            feed_urls("a:7654, wss://b:7000 ,a:7654").unwrap(),
            ["ws://a:7654/feed", "wss://b:7000/feed"]
        );
        assert_eq!(feed_urls("a:1").unwrap(), ["ws://a:1/feed"]);
        assert!(feed_urls("a:1,,b:2").unwrap_err().contains("empty address"));
        assert!(feed_urls(" ").unwrap_err().contains("empty"));
        assert!(feed_urls("a:1,ftp://b").unwrap_err().contains("ftp://"));
    }
}
