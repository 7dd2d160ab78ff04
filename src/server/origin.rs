//! Which web pages may open the feed. Browsers send an `Origin` header with every
//! WebSocket upgrade; without a check, any page a responder visits could open the feed with
//! their credentials (cross-site WebSocket hijacking). Clients that are not browsers (the
//! console, the CLI, bots) send no `Origin` and are not affected.
//!
//! The rule: a request without `Origin` is allowed. With `Origin`, it is allowed when the
//! origin is in the allowlist (`--allow-origin`, exact scheme, host and port; `null` only if
//! listed). With an empty allowlist, only loopback origins are allowed: `http://` or
//! `https://` with host `localhost`, `127.0.0.1` or `[::1]`, any port.

use std::fmt;

/// A web origin, `scheme://host[:port]`, compared case-insensitively with default ports
/// (80 for http, 443 for https) made explicit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The opaque origin `null` (sandboxed frames, `file://` pages).
    Null,
    Tuple {
        scheme: String,
        host: String,
        port: u16,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Null => f.write_str("null"),
            Origin::Tuple { scheme, host, port } => write!(f, "{scheme}://{host}:{port}"),
        }
    }
}

impl Origin {
    /// Parses an origin as browsers send it (`https://ops.example.com`,
    /// `http://localhost:8080`, `null`). A trailing `/` is tolerated.
    pub fn parse(s: &str) -> Result<Origin, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("null") {
            return Ok(Origin::Null);
        }
        let bad = |why: &str| {
            format!("'{s}' is not a web origin like https://host or http://host:port ({why})")
        };
        let (scheme, rest) = t.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(bad("the scheme must be http or https")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) || rest.chars().any(char::is_whitespace) {
            return Err(bad("an origin has no path, query, user or spaces"));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (inside, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| bad("text after ']'"))?),
            };
            (format!("[{}]", inside.to_ascii_lowercase()), port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_ascii_lowercase(), Some(p)),
                None => (rest.to_ascii_lowercase(), None),
            }
        };
        if host.is_empty() || host == "[]" {
            return Err(bad("no host"));
        }
        let port = match port {
            None => default_port,
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| bad("the port is not a number"))?,
        };
        Ok(Origin::Tuple { scheme, host, port })
    }

    fn is_loopback(&self) -> bool {
        matches!(self, Origin::Tuple { host, .. }
            if host == "localhost" || host == "127.0.0.1" || host == "[::1]")
    }
}

/// The origins allowed to open the feed.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    allowed: Vec<Origin>,
}

impl OriginPolicy {
    /// From `--allow-origin` values; every invalid one is reported.
    pub fn new<S: AsRef<str>>(allowed: &[S]) -> Result<OriginPolicy, String> {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for a in allowed {
            let a = a.as_ref();
            if a.trim().is_empty() {
                continue;
            }
            match Origin::parse(a) {
                Ok(o) => out.push(o),
                Err(e) => errors.push(format!("--allow-origin {e}")),
            }
        }
        if errors.is_empty() {
            Ok(OriginPolicy { allowed: out })
        } else {
            Err(errors.join("\n"))
        }
    }

    /// `Ok` when a request with this `Origin` header (if any) may open the feed; otherwise
    /// the reason, for a 403.
    pub fn check(&self, header: Option<&[u8]>) -> Result<(), String> {
        let Some(raw) = header else { return Ok(()) };
        let text = String::from_utf8_lossy(raw);
        let shown: String = text.chars().take(200).collect();
        let refused = || {
            format!(
                "origin '{shown}' may not open this feed: the server allows {}\n",
                if self.allowed.is_empty() {
                    "only loopback origins (http(s)://localhost, 127.0.0.1 or [::1]); \
                     add others with warroom serve --allow-origin"
                        .to_string()
                } else {
                    "the origins given with --allow-origin".to_string()
                }
            )
        };
        let origin = Origin::parse(&text).map_err(|_| refused())?;
        let ok = if self.allowed.is_empty() {
            origin.is_loopback()
        } else {
            self.allowed.contains(&origin)
        };
        if ok { Ok(()) } else { Err(refused()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(allowed: &[&str], origin: Option<&str>) -> bool {
        OriginPolicy::new(allowed)
            .unwrap()
            .check(origin.map(str::as_bytes))
            .is_ok()
    }

    #[test]
    fn parses_and_normalises() {
        assert_eq!(
            Origin::parse("HTTPS://Ops.Example.com/").unwrap(),
            Origin::parse("https://ops.example.com:443").unwrap()
        );
        assert_eq!(
            Origin::parse("http://[::1]:8080").unwrap().to_string(),
            "http://[::1]:8080"
        );
        assert_eq!(Origin::parse("null").unwrap(), Origin::Null);
        for bad in [
            "example.com",
            "ftp://x",
            "https://",
            "https://x/path",
            "https://x:port",
            "https://u@x",
            "https://x:99999",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn no_origin_is_allowed() {
        assert!(check(&[], None));
        assert!(check(&["https://ops.example.com"], None));
    }

    #[test]
    fn empty_list_allows_only_loopback() {
        for ok in [
            "http://localhost",
            "http://127.0.0.1:8080",
            "https://localhost:7654",
            "http://[::1]:3000",
        ] {
            assert!(check(&[], Some(ok)), "{ok}");
        }
        for no in [
            "null",
            "https://evil.example",
            "http://127.0.0.1.evil.example",
            "http://localhost.evil.example",
            "file://",
            "garbage",
        ] {
            assert!(!check(&[], Some(no)), "{no}");
        }
    }

    #[test]
    fn list_is_exact() {
        let list = ["https://ops.example.com", "http://10.0.0.5:8080"];
        assert!(check(&list, Some("https://ops.example.com")));
        assert!(check(&list, Some("https://OPS.example.com:443")));
        assert!(check(&list, Some("http://10.0.0.5:8080")));
        assert!(!check(&list, Some("http://ops.example.com")));
        assert!(!check(&list, Some("https://ops.example.com:8443")));
        assert!(!check(&list, Some("https://evil.example")));
        // A list replaces the loopback default.
        assert!(!check(&list, Some("http://localhost")));
        assert!(!check(&list, Some("null")));
        assert!(check(&["null"], Some("null")));
    }

    #[test]
    fn invalid_entries_are_reported() {
        let e = OriginPolicy::new(&["ops.example.com", "https://ok.example"]).unwrap_err();
        assert!(e.contains("ops.example.com"), "{e}");
    }
}
