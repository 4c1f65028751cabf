//! TLS for the network inputs and the Forward output, with rustls.
//!
//! Agents send unscrubbed logs to an aggregator across the cluster network;
//! `--tls-cert`/`--tls-key` make every TCP and Forward listener speak TLS
//! (and `--tls-client-ca` require a client certificate signed by that CA).
//! `--downstream-ca` makes the Forward output speak TLS to a downstream
//! whose certificate that CA signed. Files are PEM; errors name the file.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<_, _>>())
        .with_context(|| format!("cannot read certificates from {}", path.display()))?;
    if certs.is_empty() {
        bail!("{} holds no PEM certificate", path.display());
    }
    Ok(certs)
}

fn roots(path: &Path) -> anyhow::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for c in certs(path)? {
        roots.add(c).with_context(|| format!("{}: not a usable CA certificate", path.display()))?;
    }
    Ok(roots)
}

/// The listeners' TLS: this certificate chain and key, and, with
/// `client_ca`, only clients whose certificate that CA signed.
pub fn server(cert: &Path, key: &Path, client_ca: Option<&Path>) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    let chain = certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read a PEM private key from {}", key.display()))?;
    let builder = ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = match client_ca {
        Some(ca) => builder.with_client_cert_verifier(
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider())
                .build()
                .with_context(|| format!("{}: cannot verify clients with it", ca.display()))?,
        ),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key).context("the TLS certificate and key do not go together")?;
    // No TLS 1.3 session tickets: they are the only bytes a line client
    // would get unasked, and a client that writes, never reads and closes
    // then resets the connection, discarding its last lines before we read
    // them. Log connections are long-lived; resumption buys nothing.
    config.send_tls13_tickets = 0;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The Forward output's TLS: trust the CA in `ca`, and check the
/// downstream's certificate against `name` (its host, by default).
pub fn client(ca: &Path, name: &str) -> anyhow::Result<(Arc<ClientConfig>, ServerName<'static>)> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(ca)?)
        .with_no_client_auth();
    let name = ServerName::try_from(name.to_string()).with_context(|| format!("{name:?} is not a DNS name or IP"))?;
    Ok((Arc::new(config), name))
}

/// The host of `HOST:PORT` (brackets of an IPv6 address removed).
pub fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_addresses() {
        assert_eq!(host_of("fluentd.logging:24224"), "fluentd.logging");
        assert_eq!(host_of("127.0.0.1:24224"), "127.0.0.1");
        assert_eq!(host_of("[::1]:24224"), "::1");
    }

    #[test]
    fn errors_name_the_file() {
        let missing = Path::new("/nonexistent/cert.pem");
        let err = server(missing, missing, None).err().unwrap();
        assert!(format!("{err:#}").contains("/nonexistent/cert.pem"), "{err:#}");
        let tmp = tempfile::tempdir().unwrap();
        let empty = tmp.path().join("empty.pem");
        std::fs::write(&empty, "no pem here\n").unwrap();
        let err = client(&empty, "localhost").err().unwrap();
        assert!(format!("{err:#}").contains("holds no PEM certificate"), "{err:#}");
    }
}
