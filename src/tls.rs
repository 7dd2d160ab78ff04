//! TLS for the feed, with rustls and the `ring` provider: the server's certificate and key
//! (`warroom serve --tls-cert FILE --tls-key FILE`) and what clients trust for `wss://`
//! (the system's roots, plus the certificates of `--ca FILE`).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The crypto provider warroom uses (`ring`), also installed as the process default so
/// other rustls users (reqwest) find it.
pub fn provider() -> Arc<CryptoProvider> {
    // Already installed (by us or another user of rustls) is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the {what} {}", path.display()))
}

/// Every certificate in a PEM file; at least one.
pub fn load_certs(path: &Path, what: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = read(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("the {what} {} is not valid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        bail!(
            "the {what} {} holds no certificate (expected PEM with \
             -----BEGIN CERTIFICATE-----)",
            path.display()
        );
    }
    Ok(certs)
}

/// The private key in a PEM file (PKCS#8, PKCS#1 or SEC1).
fn load_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let pem = read(path, "TLS key")?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => anyhow!(
            "the TLS key {} holds no private key (expected PEM with \
             -----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY)",
            path.display()
        ),
        e => anyhow!("the TLS key {} is not valid PEM: {e}", path.display()),
    })
}

/// The server side: the certificate chain (leaf first) and its private key, as PEM files.
pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let chain = load_certs(cert, "TLS certificate")?;
    let key_der = load_key(key)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("configuring TLS")?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| {
            anyhow!(
                "the TLS key {} does not fit the certificate {}: {e}",
                key.display(),
                cert.display()
            )
        })?;
    // The feed is a WebSocket upgrade: HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The client side: the system's roots, plus the certificates of `ca` (PEM) when given.
pub fn client_config(ca: Option<&Path>) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let extra = match ca {
        Some(path) => load_certs(path, "CA file")?,
        None => Vec::new(),
    };
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider())
        .map_err(|e| match ca {
            Some(path) => anyhow!("cannot trust the CA file {}: {e}", path.display()),
            // Typically: no CA certificates installed on this machine.
            None => anyhow!(
                "cannot verify TLS certificates: {e}; pass --ca FILE (or set WARROOM_CA) \
                 with the CA that signed the server's certificate"
            ),
        })?;
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("configuring TLS")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Says plainly why a TLS handshake failed when the reason is the certificate.
pub fn certificate_problem(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return match tls {
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => {
                    Some(format!(
                        "the server's TLS certificate is not signed by a CA this machine \
                         trusts ({tls}); if a private CA signed it, pass --ca FILE (or set \
                         WARROOM_CA) with that CA's certificate"
                    ))
                }
                rustls::Error::InvalidCertificate(_) => {
                    Some(format!("the server's TLS certificate is refused ({tls})"))
                }
                rustls::Error::InvalidMessage(_) => Some(format!(
                    "the TLS handshake failed ({tls}); if the feed does not serve TLS, \
                     use ws:// instead of wss://"
                )),
                other => Some(format!("the TLS handshake failed ({other})")),
            };
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            cur = Some(inner);
            continue;
        }
        cur = err.source();
    }
    None
}
