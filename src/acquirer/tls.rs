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
    let verifier = PinnedHostVerifier::with_ca(
        roots,
        provider.clone(),
        HostKeyPin::Sha256(host_spki_sha256),
    )?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(AcquirerError::Tls)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(chain, key)
        .map_err(AcquirerError::Tls)?;
    Ok(Arc::new(config))
}

/// How the host's key is recognised: by its SubjectPublicKeyInfo's SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostKeyPin {
    /// The whole hash (an enrolment's `host_spki_sha256`).
    Sha256([u8; 32]),
    /// The hash's first 60 bits in base32, as an activation code carries them
    /// (12 characters, no dashes; [`emv::enrolment::fingerprint`]).
    Fingerprint(String),
}

impl HostKeyPin {
    fn matches(&self, spki_der: &[u8]) -> bool {
        let hash: [u8; 32] = Sha256::digest(spki_der).into();
        match self {
            Self::Sha256(pin) => hash == *pin,
            Self::Fingerprint(fingerprint) => emv::enrolment::fingerprint(&hash) == *fingerprint,
        }
    }
}

/// The host's certificate verification: rustls' WebPKI verifier when there is a CA, then the
/// key pin. Without a CA (before activation) the pin alone decides, TLS 1.3 only, and the
/// handshake must still be signed by the pinned key.
#[derive(Debug)]
pub(crate) struct PinnedHostVerifier {
    ca: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    pin: HostKeyPin,
}

impl PinnedHostVerifier {
    /// The usual checks against `roots`, then `pin`.
    pub(crate) fn with_ca(
        roots: RootCertStore,
        provider: Arc<CryptoProvider>,
        pin: HostKeyPin,
    ) -> Result<Self, AcquirerError> {
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|_| AcquirerError::BadBundle("the host CA cannot verify servers".into()))?;
        Ok(Self {
            ca: Some(inner),
            provider,
            pin,
        })
    }

    /// `pin` alone, whatever signed the host's certificate.
    pub(crate) fn pin_only(provider: Arc<CryptoProvider>, pin: HostKeyPin) -> Self {
        Self {
            ca: None,
            provider,
            pin,
        }
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
        let verified = match &self.ca {
            Some(inner) => inner.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            )?,
            None => ServerCertVerified::assertion(),
        };
        let certificate = webpki::EndEntityCert::try_from(end_entity).map_err(|_| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
        })?;
        if self
            .pin
            .matches(certificate.subject_public_key_info().as_ref())
        {
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
        match &self.ca {
            Some(inner) => inner.verify_tls12_signature(message, cert, dss),
            // Without a CA: TLS 1.3 only.
            None => Err(rustls::Error::PeerIncompatible(
                rustls::PeerIncompatible::Tls12NotOffered,
            )),
        }
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        match &self.ca {
            Some(inner) => inner.verify_tls13_signature(message, cert, dss),
            None => rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            ),
        }
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        match &self.ca {
            Some(inner) => inner.supported_verify_schemes(),
            None => self
                .provider
                .signature_verification_algorithms
                .supported_schemes(),
        }
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
