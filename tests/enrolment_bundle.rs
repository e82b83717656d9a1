//! The two readers of an enrolment bundle written by `hsm-sim enroll`
//! (`docs/enrolment-bundle.md`): the terminal's link credentials, which never include the PIN
//! key, and the PIN pad's PIN key, which never includes the link's secrets.
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::fs;
use std::path::Path;

use softpos::acquirer::{CredentialsError, TerminalCredentials};
use softpos::pinpad::pin_key::{self, PinKeyError};

const PIN_KEY_FILE: &str = "dukpt-ik.hex";

/// A bundle for `T0000001` from a fresh simulated host, written to a directory.
fn bundle() -> (
    tempfile::TempDir,
    tempfile::TempDir,
    hsm_sim::host::EnrolmentBundle,
) {
    let host = tempfile::tempdir().unwrap();
    let bundle = hsm_sim::host::enrol::enroll(host.path(), "T0000001", "127.0.0.1:1").unwrap();
    let dir = tempfile::tempdir().unwrap();
    bundle.write(dir.path()).unwrap();
    (host, dir, bundle)
}

fn set_manifest(dir: &Path, key: &str, value: &str) {
    let path = dir.join("terminal.toml");
    let text = fs::read_to_string(&path).unwrap();
    let replaced: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with(&format!("{key} =")) {
                format!("{key} = \"{value}\"")
            } else {
                l.to_owned()
            }
        })
        .collect();
    fs::write(&path, replaced.join("\n")).unwrap();
}

#[test]
fn the_terminal_loads_its_credentials_without_the_pin_key_file() {
    let (_host, dir, issued) = bundle();
    assert!(dir.path().join(PIN_KEY_FILE).exists());
    // Absent: the terminal still loads.
    fs::remove_file(dir.path().join(PIN_KEY_FILE)).unwrap();
    let credentials = TerminalCredentials::load(dir.path()).unwrap();
    assert_eq!(credentials.terminal_id, "T0000001");
    assert_eq!(credentials.certificate_pem, issued.certificate_pem);
    assert_eq!(credentials.ca_pem, issued.ca_pem);
    assert_eq!(*credentials.key_pem, *issued.key_pem);
    let mac_key = credentials.mac_key.as_ref().unwrap();
    assert_eq!(
        mac_key.initial_ksn().to_bytes(),
        issued.mac_key.as_ref().unwrap().initial_ksn()
    );
    // A directory where the PIN key was: reading it would fail (even as root), so a load
    // that succeeds never opened it.
    fs::create_dir(dir.path().join(PIN_KEY_FILE)).unwrap();
    assert!(fs::read_to_string(dir.path().join(PIN_KEY_FILE)).is_err());
    TerminalCredentials::load(dir.path()).unwrap();
}

#[test]
fn the_credentials_hold_exactly_the_link_secrets() {
    let (host_dir, dir, _) = bundle();
    // Every field, named: a field added for the PIN key would break this destructuring.
    let TerminalCredentials {
        terminal_id,
        host,
        api,
        server_name,
        host_spki_sha256,
        ca_pem,
        certificate_pem,
        key_pem,
        mac_key,
        attestation_key,
    } = TerminalCredentials::load(dir.path()).unwrap();
    assert_eq!(terminal_id, "T0000001");
    assert_eq!(host, "127.0.0.1:1");
    assert_eq!(
        api, None,
        "a bundle written without a running host names no API"
    );
    assert_eq!(server_name, "127.0.0.1");
    let host_key = hsm_sim::host::pki::load_or_create_host_key(host_dir.path()).unwrap();
    assert_eq!(
        host_spki_sha256,
        hsm_sim::host::pki::host_key_pin(&host_key)
    );
    assert!(ca_pem.contains("BEGIN CERTIFICATE"));
    assert!(certificate_pem.contains("BEGIN CERTIFICATE"));
    assert!(key_pem.contains("PRIVATE KEY"));
    assert!(mac_key.is_some());
    assert_eq!(
        attestation_key, None,
        "a bundle-enrolled terminal has no device key to attest with"
    );
}

#[test]
fn a_manifest_that_points_the_terminal_at_the_pin_key_is_refused() {
    let (_host, dir, _) = bundle();
    set_manifest(dir.path(), "key", PIN_KEY_FILE);
    let err = TerminalCredentials::load(dir.path()).unwrap_err();
    assert!(
        matches!(err, CredentialsError::BadFileName(ref n) if n == PIN_KEY_FILE),
        "{err:?}"
    );
    set_manifest(dir.path(), "key", "../terminal.key");
    let err = TerminalCredentials::load(dir.path()).unwrap_err();
    assert!(matches!(err, CredentialsError::BadFileName(_)), "{err:?}");
}

#[test]
fn credentials_debug_shows_no_secret() {
    let (_host, dir, issued) = bundle();
    let credentials = TerminalCredentials::load(dir.path()).unwrap();
    let text = format!("{credentials:?}");
    assert!(text.contains("T0000001"));
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    let mac_ik = fs::read_to_string(dir.path().join("mac-ik.hex")).unwrap();
    assert!(!text.contains(mac_ik.trim()), "{text}");
    assert!(!text.contains(&issued.ca_pem));
}

#[test]
fn the_pin_pad_reads_only_its_pin_key() {
    let (_host, dir, issued) = bundle();
    // The link's secrets gone: the PIN pad does not need them.
    fs::remove_file(dir.path().join("terminal.key")).unwrap();
    fs::remove_file(dir.path().join("mac-ik.hex")).unwrap();
    let key = pin_key::load(dir.path()).unwrap().unwrap();
    let dukpt = issued.dukpt.as_ref().unwrap();
    assert_eq!(
        key.initial_key.expose_secret(),
        dukpt.initial_key.as_slice()
    );
    assert_eq!(key.initial_ksn.to_bytes(), dukpt.initial_ksn);
    // Pointed at the MAC key, it refuses.
    set_manifest(dir.path(), "dukpt_initial_key", "mac-ik.hex");
    let err = pin_key::load(dir.path()).err().unwrap();
    assert!(matches!(err, PinKeyError::BadFileName(_)), "{err:?}");
}

#[test]
fn a_bundle_without_pin_key_gives_none() {
    let (_host, dir, _) = bundle();
    let path = dir.path().join("terminal.toml");
    let text = fs::read_to_string(&path).unwrap();
    let without: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("dukpt_initial"))
        .collect();
    fs::write(&path, without.join("\n")).unwrap();
    assert!(pin_key::load(dir.path()).unwrap().is_none());
    // The terminal does not care.
    TerminalCredentials::load(dir.path()).unwrap();
}

#[test]
fn install_key_seals_the_pin_key_without_the_link_secrets() {
    let (_host, dir, issued) = bundle();
    fs::remove_file(dir.path().join("terminal.key")).unwrap();
    fs::remove_file(dir.path().join("mac-ik.hex")).unwrap();
    let store = tempfile::tempdir().unwrap();
    let ik = fs::read_to_string(dir.path().join(PIN_KEY_FILE)).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_softpos-pinpad"))
        .arg("install-key")
        .arg(dir.path())
        .env(softpos::pinpad::keystore::STORE_ENV, store.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let keystore = softpos::pinpad::keystore::Keystore::open(store.path()).unwrap();
    assert_eq!(
        keystore.last_ksn().to_bytes(),
        issued.dukpt.as_ref().unwrap().initial_ksn
    );
    // The clear copy is gone from the bundle.
    assert!(!dir.path().join(PIN_KEY_FILE).exists());
    // It prints the key ID only, never the key.
    assert!(!stderr.contains(ik.trim()), "{stderr}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains(ik.trim()));
}
