//! The host's small PKI: a CA that signs the host's server certificate and one client
//! certificate per terminal, and the rustls configurations of both ends (TLS 1.3 only, mutual
//! authentication, explicit `ring` provider).
//!
//! A terminal certificate binds the terminal ID twice: subject CN = terminal ID, and the DNS SAN
//! `<tid lower case>.terminal.softpos.invalid`, which the host checks against DE 41 with
//! rustls-webpki (`docs/iso8583.md` §1).
//!
//! Validity: the CA [`CA_VALIDITY`], the host's and the terminals' certificates
//! [`LEAF_VALIDITY`], each starting [`CLOCK_SKEW`] before the moment of issue. A terminal whose
//! certificate expired is refused at the handshake and must be enrolled again.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use zeroize::Zeroizing;

use super::HostError;

/// The suffix of a terminal certificate's DNS SAN.
pub const TERMINAL_SAN_SUFFIX: &str = ".terminal.softpos.invalid";

/// The host CA: its certificate (PEM) and signing key. The key never leaves the data directory.
pub struct HostCa {
    cert_pem: String,
    key: KeyPair,
}

impl HostCa {
    /// Loads the CA from `dir/ca.pem` and `dir/ca.key`, creating both on first use.
    pub fn load_or_create(dir: &Path) -> Result<Self, HostError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        if cert_path.exists() && key_path.exists() {
            let cert_pem = fs::read_to_string(&cert_path).map_err(HostError::io(&cert_path))?;
            let key_pem =
                Zeroizing::new(fs::read_to_string(&key_path).map_err(HostError::io(&key_path))?);
            let key = KeyPair::from_pem(&key_pem)?;
            return Ok(Self { cert_pem, key });
        }
        let key = KeyPair::generate()?;
        let cert = ca_params().self_signed(&key)?;
        let ca = Self {
            cert_pem: cert.pem(),
            key,
        };
        write_secret(&key_path, ca.key.serialize_pem().as_bytes())?;
        fs::write(&cert_path, &ca.cert_pem).map_err(HostError::io(&cert_path))?;
        Ok(ca)
    }

    /// The CA certificate in PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Issues the host's server certificate for the host's own `key` (SANs [`HOST_NAMES`]),
    /// returning the certificate PEM. A renewal uses the same key, so the public key that
    /// enrolment bundles pin ([`host_key_pin`]) stays the same.
    pub fn issue_server(&self, key: &KeyPair) -> Result<String, HostError> {
        let mut params =
            CertificateParams::new(HOST_NAMES.iter().map(|&n| n.to_owned()).collect::<Vec<_>>())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "hsm-sim acquirer host");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, LEAF_VALIDITY);
        let ca_params = ca_params();
        let issuer = Issuer::from_params(&ca_params, &self.key);
        Ok(params.signed_by(key, &issuer)?.pem())
    }

    /// Issues a terminal client certificate for `terminal_id`, returning certificate PEM and
    /// key PEM.
    pub fn issue_terminal(
        &self,
        terminal_id: &str,
    ) -> Result<(String, Zeroizing<String>), HostError> {
        self.issue(terminal_params(terminal_id)?)
    }

    /// A client certificate for `terminal_id` certifying a key the terminal made itself
    /// (`spki_der`, its SubjectPublicKeyInfo): activation (`super::activation`).
    pub fn issue_terminal_for_key(
        &self,
        terminal_id: &str,
        spki_der: &[u8],
    ) -> Result<String, HostError> {
        use p256::pkcs8::DecodePublicKey as _;
        let params = terminal_params(terminal_id)?;
        let public = p256::PublicKey::from_public_key_der(spki_der)
            .map_err(|_| HostError::BadBundle("the device key is not a P-256 key".into()))?;
        let key = DeviceKey(public.to_sec1_bytes().into_vec());
        let ca_params = ca_params();
        let issuer = Issuer::from_params(&ca_params, &self.key);
        Ok(params.signed_by(&key, &issuer)?.pem())
    }

    fn issue(&self, params: CertificateParams) -> Result<(String, Zeroizing<String>), HostError> {
        let key = KeyPair::generate()?;
        let ca_params = ca_params();
        let issuer = Issuer::from_params(&ca_params, &self.key);
        let cert = params.signed_by(&key, &issuer)?;
        Ok((cert.pem(), Zeroizing::new(key.serialize_pem())))
    }
}

/// A device's P-256 public key (SEC1 uncompressed), as rcgen certifies it.
struct DeviceKey(Vec<u8>);

impl rcgen::PublicKeyData for DeviceKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

/// The certificate parameters of a terminal: CN and SAN name the terminal ID, client
/// authentication only.
fn terminal_params(terminal_id: &str) -> Result<CertificateParams, HostError> {
    check_terminal_id(terminal_id)?;
    let mut params = CertificateParams::new(vec![terminal_san(terminal_id)])?;
    params
        .distinguished_name
        .push(DnType::CommonName, terminal_id);
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, "softpos terminals");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, LEAF_VALIDITY);
    Ok(params)
}

/// The host's TLS key (`dir/host.key`, 0600), created on first use. It outlives every host
/// certificate: renewals certify the same key, which enrolment bundles pin.
pub fn load_or_create_host_key(dir: &Path) -> Result<KeyPair, HostError> {
    let path = dir.join(HOST_KEY_FILE);
    if path.exists() {
        let pem = Zeroizing::new(fs::read_to_string(&path).map_err(HostError::io(&path))?);
        return Ok(KeyPair::from_pem(&pem)?);
    }
    fs::create_dir_all(dir).map_err(HostError::io(dir))?;
    let key = KeyPair::generate()?;
    write_secret(&path, Zeroizing::new(key.serialize_pem()).as_bytes())?;
    Ok(key)
}

/// The pin of the host's key that enrolment bundles carry (`host_spki_sha256`,
/// `docs/enrolment-bundle.md`): SHA-256 of its DER SubjectPublicKeyInfo.
pub fn host_key_pin(key: &KeyPair) -> [u8; 32] {
    use rcgen::PublicKeyData as _;
    use sha2::Digest as _;
    sha2::Sha256::digest(key.subject_public_key_info()).into()
}

/// Checks that a terminal ID is 8 characters `A-Z0-9` (`docs/iso8583.md` §1).
pub fn check_terminal_id(terminal_id: &str) -> Result<(), HostError> {
    let ok = terminal_id.len() == 8
        && terminal_id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(HostError::BadTerminalId)
    }
}

/// The DNS SAN that binds `terminal_id` in its client certificate.
pub fn terminal_san(terminal_id: &str) -> String {
    format!("{}{TERMINAL_SAN_SUFFIX}", terminal_id.to_ascii_lowercase())
}

/// Whether the client certificate `cert` was issued for `terminal_id` (its DNS SAN). The chain
/// itself was already verified by the TLS handshake.
pub fn certificate_names_terminal(cert: &CertificateDer<'_>, terminal_id: &str) -> bool {
    if check_terminal_id(terminal_id).is_err() {
        return false;
    }
    let Ok(end_entity) = webpki::EndEntityCert::try_from(cert) else {
        return false;
    };
    let Ok(name) = ServerName::try_from(terminal_san(terminal_id)) else {
        return false;
    };
    end_entity.verify_is_valid_for_subject_name(&name).is_ok()
}

/// Whether the host certificate `cert_pem` chains to the CA and is valid for `localhost` now
/// and still `margin` from now (the host renews it at start otherwise).
pub fn server_certificate_valid_for(ca_pem: &str, cert_pem: &str, margin: Duration) -> bool {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (Ok(roots), Ok(certs)) = (root_store(ca_pem), parse_certs(cert_pem)) else {
        return false;
    };
    let Ok(verifier) =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
    else {
        return false;
    };
    let Some((end_entity, intermediates)) = certs.split_first() else {
        return false;
    };
    let Ok(name) = ServerName::try_from("localhost") else {
        return false;
    };
    let now = SystemTime::now();
    let Some(later) = now.checked_add(margin) else {
        return false;
    };
    [now, later].into_iter().all(|at| {
        let Ok(since_epoch) = at.duration_since(SystemTime::UNIX_EPOCH) else {
            return false;
        };
        let at = UnixTime::since_unix_epoch(since_epoch);
        verifier
            .verify_server_cert(end_entity, intermediates, &name, &[], at)
            .is_ok()
    })
}

/// The host's rustls configuration: TLS 1.3 only, client certificates required and verified
/// against the host CA.
pub fn server_config(
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<Arc<ServerConfig>, HostError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = Arc::new(root_store(ca_pem)?);
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| HostError::Tls(e.to_string()))?;
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(parse_certs(cert_pem)?, parse_key(key_pem)?)?;
    Ok(Arc::new(config))
}

/// The API's rustls configuration ([`super::api`]): TLS 1.3 only, the host's certificate, client
/// certificates optional (a wallet has none) but verified against the host CA when presented.
pub(crate) fn server_config_optional_client(
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<ServerConfig, HostError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = Arc::new(root_store(ca_pem)?);
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| HostError::Tls(e.to_string()))?;
    Ok(ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(parse_certs(cert_pem)?, parse_key(key_pem)?)?)
}

/// The rustls configuration of the simulator's own test client ([`super::client`]): TLS 1.3
/// only, trusting only the host CA, presenting the terminal certificate. It is a third-party
/// client written from `docs/iso8583.md` §1, like any acquirer's test tool; the terminal's
/// link has its own (`softpos`'s `src/acquirer/tls.rs`), which the simulator cannot share
/// without depending on the app. `tests/host_server.rs` holds the host to the same §1 rules
/// whichever client connects.
pub fn client_config(
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<Arc<ClientConfig>, HostError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(root_store(ca_pem)?)
        .with_client_auth_cert(parse_certs(cert_pem)?, parse_key(key_pem)?)?;
    Ok(Arc::new(config))
}

/// A client configuration without a client certificate (for tests of the refusal).
pub fn client_config_without_certificate(ca_pem: &str) -> Result<Arc<ClientConfig>, HostError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(root_store(ca_pem)?)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Writes a file readable only by its owner (keys).
pub(crate) fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), HostError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(HostError::io(path))?;
    file.write_all(bytes).map_err(HostError::io(path))?;
    file.sync_all().map_err(HostError::io(path))
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "hsm-sim host CA");
    dn.push(DnType::OrganizationName, "softpos test acquirer");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    set_validity(&mut params, CA_VALIDITY);
    params
}

/// Valid from [`CLOCK_SKEW`] ago for `validity` from now.
fn set_validity(params: &mut CertificateParams, validity: time::Duration) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - CLOCK_SKEW;
    params.not_after = now + validity;
}

fn root_store(ca_pem: &str) -> Result<RootCertStore, HostError> {
    let mut roots = RootCertStore::empty();
    for cert in parse_certs(ca_pem)? {
        roots.add(cert)?;
    }
    Ok(roots)
}

fn parse_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, HostError> {
    let certs = rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| HostError::BadPem)?;
    if certs.is_empty() {
        return Err(HostError::BadPem);
    }
    Ok(certs)
}

fn parse_key(pem: &str) -> Result<PrivateKeyDer<'static>, HostError> {
    rustls_pemfile::private_key(&mut pem.as_bytes())
        .map_err(|_| HostError::BadPem)?
        .ok_or(HostError::BadPem)
}

/// How long the host CA is valid: ten years.
pub const CA_VALIDITY: time::Duration = time::Duration::days(3_650);
/// How long a terminal's (and the host's) certificate is valid: one year.
pub const LEAF_VALIDITY: time::Duration = time::Duration::days(365);
/// How far before the moment of issue a certificate starts, for clocks slightly behind.
pub const CLOCK_SKEW: time::Duration = time::Duration::hours(1);
/// The names the host's certificate carries (DNS and IP SANs); an enrolment bundle's
/// `server_name` must be one of them.
pub const HOST_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// The host's TLS key in its data directory.
pub const HOST_KEY_FILE: &str = "host.key";
const CA_CERT_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca.key";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_ids() {
        assert!(check_terminal_id("T0000001").is_ok());
        assert!(check_terminal_id("t0000001").is_err());
        assert!(check_terminal_id("T000001").is_err());
        assert!(check_terminal_id("T00000-1").is_err());
        assert_eq!(
            terminal_san("T0000001"),
            "t0000001.terminal.softpos.invalid"
        );
    }

    #[test]
    fn terminal_certificate_binds_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let ca = HostCa::load_or_create(dir.path()).unwrap();
        let (cert_pem, _key) = ca.issue_terminal("T0000001").unwrap();
        let cert = parse_certs(&cert_pem).unwrap().remove(0);
        assert!(certificate_names_terminal(&cert, "T0000001"));
        assert!(!certificate_names_terminal(&cert, "T0000002"));
        // The reloaded CA issues certificates that chain to the same CA certificate.
        let again = HostCa::load_or_create(dir.path()).unwrap();
        assert_eq!(again.cert_pem(), ca.cert_pem());
    }

    /// The host's own client verifier, asked at `now + offset`.
    fn verifies_at(ca: &HostCa, cert: &CertificateDer<'_>, offset: time::Duration) -> bool {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = Arc::new(root_store(ca.cert_pem()).unwrap());
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider)
            .build()
            .unwrap();
        let when = time::OffsetDateTime::now_utc() + offset;
        let seconds = u64::try_from(when.unix_timestamp()).unwrap();
        let now = UnixTime::since_unix_epoch(Duration::from_secs(seconds));
        verifier.verify_client_cert(cert, &[], now).is_ok()
    }

    #[test]
    fn terminal_certificates_expire_after_a_year() {
        let dir = tempfile::tempdir().unwrap();
        let ca = HostCa::load_or_create(dir.path()).unwrap();
        let (cert_pem, _key) = ca.issue_terminal("T0000001").unwrap();
        let cert = parse_certs(&cert_pem).unwrap().remove(0);
        assert!(verifies_at(&ca, &cert, time::Duration::ZERO));
        assert!(verifies_at(&ca, &cert, time::Duration::days(364)));
        assert!(verifies_at(&ca, &cert, -time::Duration::minutes(30)));
        assert!(!verifies_at(&ca, &cert, time::Duration::days(366)));
        assert!(!verifies_at(&ca, &cert, -time::Duration::hours(2)));
    }

    #[test]
    fn the_host_certificate_is_renewed_before_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        let ca = HostCa::load_or_create(dir.path()).unwrap();
        let key = load_or_create_host_key(dir.path()).unwrap();
        let cert_pem = ca.issue_server(&key).unwrap();
        let month = Duration::from_secs(30 * 24 * 3600);
        assert!(server_certificate_valid_for(
            ca.cert_pem(),
            &cert_pem,
            month
        ));
        let year_and_a_day = Duration::from_secs(366 * 24 * 3600);
        assert!(!server_certificate_valid_for(
            ca.cert_pem(),
            &cert_pem,
            year_and_a_day
        ));
        let other = tempfile::tempdir().unwrap();
        let other_ca = HostCa::load_or_create(other.path()).unwrap();
        assert!(!server_certificate_valid_for(
            other_ca.cert_pem(),
            &cert_pem,
            month
        ));
    }

    /// A renewed host certificate certifies the same key: the enrolment bundles' pin holds.
    #[test]
    fn the_host_key_and_its_pin_survive_renewal() {
        let dir = tempfile::tempdir().unwrap();
        let ca = HostCa::load_or_create(dir.path()).unwrap();
        let key = load_or_create_host_key(dir.path()).unwrap();
        let first = ca.issue_server(&key).unwrap();
        let again = load_or_create_host_key(dir.path()).unwrap();
        assert_eq!(host_key_pin(&again), host_key_pin(&key));
        let renewed = ca.issue_server(&again).unwrap();
        assert_ne!(first, renewed);
        let spki = |pem: &str| {
            let der = parse_certs(pem).unwrap().remove(0);
            let cert = webpki::EndEntityCert::try_from(&der).unwrap();
            sha2::Digest::finalize(sha2::Digest::chain_update(
                <sha2::Sha256 as sha2::Digest>::new(),
                cert.subject_public_key_info().as_ref(),
            ))
            .to_vec()
        };
        assert_eq!(spki(&first), host_key_pin(&key).to_vec());
        assert_eq!(spki(&renewed), host_key_pin(&key).to_vec());
        let other = tempfile::tempdir().unwrap();
        assert_ne!(
            host_key_pin(&load_or_create_host_key(other.path()).unwrap()),
            host_key_pin(&key)
        );
    }
}
