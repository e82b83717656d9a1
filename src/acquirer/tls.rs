//! The terminal's rustls configuration (`docs/iso8583.md` §1): TLS 1.3 only, the `ring`
//! provider, the bundle's host CA as the only trust anchor, the terminal certificate as the
//! client certificate.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use super::AcquirerError;

/// Builds the client configuration from PEM text: the host CA (pinned), the terminal's
/// certificate chain and its private key.
pub fn client_config(
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<Arc<ClientConfig>, AcquirerError> {
    let mut roots = RootCertStore::empty();
    for ca in certificates(ca_pem, "host CA")? {
        roots
            .add(ca)
            .map_err(|_| AcquirerError::BadBundle("the host CA certificate is not valid".into()))?;
    }
    let chain = certificates(cert_pem, "terminal certificate")?;
    let key = private_key(key_pem)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(AcquirerError::Tls)?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(AcquirerError::Tls)?;
    Ok(Arc::new(config))
}

fn certificates(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, AcquirerError> {
    let certs = rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| AcquirerError::BadBundle(format!("the {what} is not PEM")))?;
    if certs.is_empty() {
        return Err(AcquirerError::BadBundle(format!(
            "the {what} holds no certificate"
        )));
    }
    Ok(certs)
}

fn private_key(pem: &str) -> Result<PrivateKeyDer<'static>, AcquirerError> {
    rustls_pemfile::private_key(&mut pem.as_bytes())
        .map_err(|_| AcquirerError::BadBundle("the terminal key is not PEM".into()))?
        .ok_or_else(|| AcquirerError::BadBundle("the terminal key file holds no key".into()))
}
