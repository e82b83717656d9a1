//! Rule D5: the terminal trusts its acquirer host by the bundle's CA **and** the pin of the
//! host's key (`host_spki_sha256`), under the host's real name (`server_name`). A second host
//! whose certificate the same CA signed, for the same name, but over another key, is refused;
//! the enrolled host works, also after its certificate was renewed.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::time::Duration;

use hsm_sim::host::{Host, HostConfig};
use softpos::acquirer::{Acquirer, AcquirerError, LinkSettings, TerminalCredentials};

fn quick() -> LinkSettings {
    LinkSettings {
        response_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
    }
}

#[test]
fn a_host_with_another_key_under_the_same_ca_is_refused() {
    let genuine_dir = tempfile::tempdir().unwrap();
    let genuine = Host::start(HostConfig::new(genuine_dir.path())).unwrap();
    let bundle_dir = tempfile::tempdir().unwrap();
    genuine
        .enroll("T0000001")
        .unwrap()
        .write(bundle_dir.path())
        .unwrap();
    let credentials = TerminalCredentials::load(bundle_dir.path()).unwrap();
    assert_eq!(credentials.server_name, "127.0.0.1");

    // The enrolled host: its certificate names 127.0.0.1 and certifies the pinned key.
    let mut link = Acquirer::new(&credentials, quick()).unwrap();
    link.sign_on(1).unwrap();
    drop(link);

    // An impostor with the same CA (its certificate and key copied), hence a certificate that
    // chains and names 127.0.0.1, but its own host key.
    let impostor_dir = tempfile::tempdir().unwrap();
    for file in ["ca.pem", "ca.key"] {
        std::fs::copy(
            genuine_dir.path().join(file),
            impostor_dir.path().join(file),
        )
        .unwrap();
    }
    let impostor = Host::start(HostConfig::new(impostor_dir.path())).unwrap();
    let mut aimed = credentials.clone();
    aimed.host = impostor.local_addr().to_string();
    let mut link = Acquirer::new(&aimed, quick()).unwrap();
    let err = link.sign_on(2).unwrap_err();
    assert!(
        matches!(err, AcquirerError::HostNotTrusted(_)),
        "the impostor was not refused for its certificate: {err:?}"
    );

    // Without the pin the impostor would have passed: the same bundle, pinned to its key,
    // signs on (so the refusal above is the pin's doing, not the chain's or the name's).
    let impostor_key = hsm_sim::host::pki::load_or_create_host_key(impostor_dir.path()).unwrap();
    aimed.host_spki_sha256 = hsm_sim::host::pki::host_key_pin(&impostor_key);
    let mut link = Acquirer::new(&aimed, quick()).unwrap();
    let answer = link.sign_on(3);
    assert!(
        !matches!(answer, Err(AcquirerError::HostNotTrusted(_))),
        "{answer:?}"
    );
    impostor.shutdown();
    genuine.shutdown();
}

#[test]
fn the_pin_holds_after_the_host_certificate_is_renewed() {
    let host_dir = tempfile::tempdir().unwrap();
    let host = Host::start(HostConfig::new(host_dir.path())).unwrap();
    let bundle_dir = tempfile::tempdir().unwrap();
    host.enroll("T0000001")
        .unwrap()
        .write(bundle_dir.path())
        .unwrap();
    host.shutdown();
    // The host renews a certificate it cannot use for a month more; without one it issues a
    // new one at start, as at renewal.
    let cert = host_dir.path().join("host.pem");
    let before = std::fs::read_to_string(&cert).unwrap();
    std::fs::remove_file(&cert).unwrap();
    let host = Host::start(HostConfig::new(host_dir.path())).unwrap();
    assert_ne!(std::fs::read_to_string(&cert).unwrap(), before);

    let mut credentials = TerminalCredentials::load(bundle_dir.path()).unwrap();
    credentials.host = host.local_addr().to_string();
    let mut link = Acquirer::new(&credentials, quick()).unwrap();
    link.sign_on(1).unwrap();
    host.shutdown();
}

#[test]
fn a_bundle_without_a_host_pin_is_refused() {
    let host_dir = tempfile::tempdir().unwrap();
    let bundle_dir = tempfile::tempdir().unwrap();
    hsm_sim::host::enrol::enroll(host_dir.path(), "T0000001", "127.0.0.1:1")
        .unwrap()
        .write(bundle_dir.path())
        .unwrap();
    let manifest = bundle_dir.path().join("terminal.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let old: String = text
        .lines()
        .filter(|l| !l.starts_with("host_spki_sha256"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(old, text);
    std::fs::write(&manifest, old).unwrap();
    let err = TerminalCredentials::load(bundle_dir.path()).unwrap_err();
    assert!(
        matches!(err, softpos::acquirer::CredentialsError::NoHostPin),
        "{err:?}"
    );
}
