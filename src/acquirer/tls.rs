//! The terminal's rustls configuration (`docs/iso8583.md` §1): TLS 1.3 only, the `ring`
//! provider, the bundle's host CA as the only trust anchor, the host's key pinned, the terminal
//! certificate as the client certificate.
//!
//! The host's certificate must pass the usual checks (chain to the bundle's CA, validity, the
//! bundle's server name) **and** certify the key whose SubjectPublicKeyInfo hashes to the
//! bundle's `host_spki_sha256` (rule D5): a certificate the CA issued to another machine, or a
//! CA key used by someone else, does not make a host.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest as _, Sha256};

use super::AcquirerError;

/// Builds the client configuration from PEM text: the host CA, the pin of the host's key
/// (SHA-256 of its SubjectPublicKeyInfo), the terminal's certificate chain and its private key.
pub fn client_config(
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
    host_spki_sha256: [u8; 32],
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
    let verifier = PinnedHostVerifier::new(roots, provider.clone(), host_spki_sha256)?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(AcquirerError::Tls)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(chain, key)
        .map_err(AcquirerError::Tls)?;
    Ok(Arc::new(config))
}

/// The host's certificate verification: rustls' WebPKI verifier, then the key pin.
#[derive(Debug)]
struct PinnedHostVerifier {
    inner: Arc<WebPkiServerVerifier>,
    host_spki_sha256: [u8; 32],
}

impl PinnedHostVerifier {
    fn new(
        roots: RootCertStore,
        provider: Arc<CryptoProvider>,
        host_spki_sha256: [u8; 32],
    ) -> Result<Self, AcquirerError> {
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|_| AcquirerError::BadBundle("the host CA cannot verify servers".into()))?;
        Ok(Self {
            inner,
            host_spki_sha256,
        })
    }
}

impl ServerCertVerifier for PinnedHostVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        let certificate = webpki::EndEntityCert::try_from(end_entity).map_err(|_| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
        })?;
        let spki = certificate.subject_public_key_info();
        let pinned: [u8; 32] = Sha256::digest(spki.as_ref()).into();
        if pinned == self.host_spki_sha256 {
            Ok(verified)
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
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
