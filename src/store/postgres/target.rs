//! Where the PostgreSQL log is and how to reach it: the URL as an operator writes it
//! (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=…]`), shown without its password in
//! every message, and TLS by rustls when the URL asks for it (`sslmode` as libpq reads it).

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use ::postgres::config::{Host, SslMode};
use ::postgres::{Client, Config, NoTls};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::StoreError;

/// A database to connect to, as parsed once from its URL.
pub(super) struct Target {
    /// The URL without its password: what messages and logs name.
    pub shown: String,
    config: Config,
    tls: Option<MakeRustlsConnect>,
}

/// `url` without a password: the one in its user part (`user:secret@`) and a `password=`
/// parameter are left out. Everything warroom says about a database URL goes through this.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => match rest.rfind('@') {
            Some(at) => {
                let user = rest[..at].split(':').next().unwrap_or_default();
                format!("{scheme}://{user}@{}", &rest[at + 1..])
            }
            None => base.to_string(),
        },
        None => base.to_string(),
    };
    if let Some(q) = query {
        let kept: Vec<&str> = q
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("password="))
            .collect();
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept.join("&"));
        }
    }
    out
}

/// `%XX` escapes decoded (a path in `sslrootcert=`).
fn percent_decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether every host of `config` is this machine (loopback, or a Unix socket).
fn local_only(config: &Config) -> bool {
    config.get_hosts().iter().all(|h| match h {
        Host::Tcp(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .trim_matches(|c| c == '[' || c == ']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        Host::Unix(_) => true,
    })
}

impl Target {
    /// Reads a `postgres://` (or `postgresql://`) URL. `sslmode` is `disable`, `prefer`,
    /// `require` (encrypted, the certificate not checked, as libpq does) or `verify-full`
    /// (the certificate checked against the system's roots, or those of
    /// `sslrootcert=FILE`, and the host name). Without it: no TLS to this machine, and
    /// `prefer` elsewhere (libpq's default).
    pub fn parse(url: &str) -> Result<Target, StoreError> {
        let shown = redact_url(url);
        let bad = |reason: String| StoreError::BadAddress {
            at: shown.clone(),
            reason,
        };
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("postgres://") || lower.starts_with("postgresql://")) {
            return Err(bad(
                "it is not a PostgreSQL URL (postgres://USER@HOST/DATABASE)".into(),
            ));
        }
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let (mut sslmode, mut rootcert, mut kept) = (None, None, Vec::new());
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("sslmode", v)) => sslmode = Some(percent_decode(v)),
                Some(("sslrootcert", v)) => rootcert = Some(percent_decode(v)),
                _ => kept.push(pair),
            }
        }
        let rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let mut config: Config = rest.parse().map_err(|e| bad(describe(&e)))?;
        if config.get_application_name().is_none() {
            config.application_name("warroom");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let local = local_only(&config);
        let verify_full = sslmode.as_deref() == Some("verify-full");
        if rootcert.is_some() && !verify_full {
            return Err(bad(
                "sslrootcert is read with sslmode=verify-full only (add it to check the \
                 database's certificate)"
                    .into(),
            ));
        }
        let (mode, tls) = match sslmode.as_deref() {
            None if local => (SslMode::Disable, None),
            None | Some("prefer") => (SslMode::Prefer, Some(unverified().map_err(bad)?)),
            Some("disable") => (SslMode::Disable, None),
            Some("require") => (SslMode::Require, Some(unverified().map_err(bad)?)),
            Some("verify-full") => (
                SslMode::Require,
                Some(verified(rootcert.as_deref()).map_err(bad)?),
            ),
            Some(other) => {
                return Err(bad(format!(
                    "sslmode={other} is not supported: use disable, prefer, require or \
                     verify-full (with sslrootcert=FILE for a private CA)"
                )));
            }
        };
        config.ssl_mode(mode);
        if !local && !verify_full {
            tracing::warn!(
                "the event log at {shown} is reached without checking the database's \
                 certificate: add sslmode=verify-full (and sslrootcert=FILE for a private CA) \
                 so nobody between can pose as it"
            );
        }
        Ok(Target { shown, config, tls })
    }

    /// A new connection (blocking: call it off the async runtime's workers).
    pub fn connect(&self) -> Result<Client, StoreError> {
        let connected = match &self.tls {
            None => self.config.connect(NoTls),
            Some(tls) => self.config.connect(tls.clone()),
        };
        connected.map_err(|e| StoreError::Connect {
            at: self.shown.clone(),
            reason: describe(&e),
        })
    }
}

/// A PostgreSQL error in words: the server's message (with its detail and hint), or what
/// failed on the way and why.
pub(super) fn describe(e: &::postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.to_string().replace('\n', "; ");
    }
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        if let Some(rustls::Error::InvalidCertificate(cert)) = c.downcast_ref::<rustls::Error>() {
            out.push_str(&format!(
                ": the database's TLS certificate is refused ({cert:?}); if a private CA \
                 signed it, name that CA's certificate with sslrootcert=FILE"
            ));
            return out;
        }
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// TLS that checks the certificate and the host name: the system's roots, and those of
/// `rootcert` (PEM) when given.
fn verified(rootcert: Option<&str>) -> Result<MakeRustlsConnect, String> {
    let config =
        crate::tls::client_config(rootcert.map(std::path::Path::new)).map_err(
            |e| match rootcert {
                Some(_) => format!("{e:#}"),
                None => format!(
                    "cannot check TLS certificates ({e:#}); name the CA that signed the \
                 database's certificate with sslrootcert=FILE"
                ),
            },
        )?;
    Ok(MakeRustlsConnect::new((*config).clone()))
}

/// TLS that encrypts without checking who answers (libpq's `require` and `prefer`).
fn unverified() -> Result<MakeRustlsConnect, String> {
    let provider = crate::tls::provider();
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("configuring TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Accepts any certificate, but still checks the handshake is signed by its key.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_without_its_password() {
        for (url, shown) in [
            (
                "postgres://root:secret@127.0.0.1/test",
                "postgres://root@127.0.0.1/test",
            ),
            (
                "postgresql://ops:s%40c:r/t@db.example.com:5433/warroom?sslmode=require&password=x",
                "postgresql://ops@db.example.com:5433/warroom?sslmode=require",
            ),
            (
                "postgres://root@127.0.0.1/test",
                "postgres://root@127.0.0.1/test",
            ),
            (
                "postgres://127.0.0.1/test?password=x",
                "postgres://127.0.0.1/test",
            ),
        ] {
            assert_eq!(redact_url(url), shown);
        }
    }

    #[test]
    fn what_a_url_asks_is_read_and_what_it_cannot_is_refused() {
        let t = Target::parse("postgres://root:pw@127.0.0.1:5432/test").unwrap();
        assert!(t.tls.is_none(), "loopback without sslmode: no TLS");
        assert_eq!(t.shown, "postgres://root@127.0.0.1:5432/test");
        let t = Target::parse("postgres://root@127.0.0.1/test?sslmode=require").unwrap();
        assert!(t.tls.is_some());
        for (url, says) in [
            ("mysql://root@127.0.0.1/test", "not a PostgreSQL URL"),
            (
                "postgres://root:pw@127.0.0.1/test?sslmode=verify-ca",
                "verify-ca",
            ),
            (
                "postgres://root:pw@127.0.0.1/test?sslrootcert=/x.pem",
                "verify-full",
            ),
            ("postgres://root:pw@127.0.0.1/test?nonsense=1", "nonsense"),
        ] {
            let msg = Target::parse(url).err().expect("refused").to_string();
            assert!(msg.contains(says), "{url}: {msg}");
            assert!(!msg.contains("pw"), "{msg}");
        }
    }
}
