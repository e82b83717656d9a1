//! `softpos activate` against the host's API over HTTPS (`docs/enrolment.md`): one code enrols
//! one terminal, once; the device key is made on the terminal and certified by the host; the
//! PIN key reaches the PIN pad wrapped; the terminal learns the host's API and attestation key;
//! a host whose key is not the code's fingerprint gets nothing.
#![cfg(feature = "pinpad-test-input")]
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::path::Path;
use std::process::{Command, Output};

use hsm_sim::host::activation;
use hsm_sim::host::{Host, HostConfig, HostHandle};
use softpos::acquirer::TerminalCredentials;
use softpos::pinpad::keystore::{self, STORE_ENV};

/// A host serving its API (and link) on loopback ports from `data`.
fn serve(data: &Path) -> (String, HostHandle) {
    let host = Host::start(HostConfig::new(data)).unwrap();
    (host.api_addr().to_string(), host)
}

fn activate(code: &str, host: &str, data_dir: &Path, store: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_softpos"))
        .args(["activate", code, "--host", host, "--data-dir"])
        .arg(data_dir)
        .env(STORE_ENV, store)
        .output()
        .unwrap()
}

#[test]
fn a_code_enrols_one_terminal_once_with_its_own_key_and_a_wrapped_pin_key() {
    let host = tempfile::tempdir().unwrap();
    let issued = activation::add_terminal(host.path(), "M1", activation::DEFAULT_VALIDITY).unwrap();
    let (address, server) = serve(host.path());
    let terminal = tempfile::tempdir().unwrap();
    let store = terminal.path().join("pinpad");

    let out = activate(
        &issued.full(),
        &address,
        &terminal.path().join("data"),
        &store,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("terminal A0000001 of M1"), "{stdout}");

    // The link credentials load; the TLS client key is the device's P-256 key.
    let enrolment = terminal.path().join("data/enrolment");
    let credentials = TerminalCredentials::load(&enrolment).unwrap();
    assert_eq!(credentials.terminal_id, "A0000001");
    assert!(credentials.mac_key.is_some());
    // It reaches the host's API and link by the name it activated with, and checks attestation
    // tokens with the host's key.
    assert_eq!(credentials.api.as_deref(), Some(address.as_str()));
    assert_eq!(
        credentials.host,
        format!("127.0.0.1:{}", server.local_addr().port())
    );
    assert_eq!(credentials.attestation_key.as_ref().map(Vec::len), Some(65));
    softpos::acquirer::client_config(
        &credentials.ca_pem,
        &credentials.certificate_pem,
        &credentials.key_pem,
        credentials.host_spki_sha256,
    )
    .unwrap();
    // The PIN pad holds the key; no PIN key file anywhere on the terminal's side.
    assert!(keystore::is_installed(&store));
    // The pad trusts the host's attestation key for this terminal: it checks tokens itself.
    let trust = keystore::attestation_trust::load(&store).unwrap().unwrap();
    assert_eq!(trust.terminal_id, "A0000001");
    assert_eq!(
        credentials.attestation_key.as_deref(),
        Some(&trust.host_key[..])
    );
    assert!(!enrolment.join("dukpt-ik.hex").exists());
    let manifest = std::fs::read_to_string(enrolment.join("terminal.toml")).unwrap();
    assert!(!manifest.contains("dukpt"), "{manifest}");

    // The same code again, from another terminal: refused.
    let again = activate(
        &issued.full(),
        &address,
        &terminal.path().join("data2"),
        &terminal.path().join("pinpad2"),
    );
    let again_err = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success());
    assert!(again_err.contains("wrong, used or expired"), "{again_err}");
    assert!(
        !terminal
            .path()
            .join("data2/enrolment/terminal.toml")
            .exists()
    );
    server.shutdown();
}

#[test]
fn a_host_that_is_not_the_codes_fingerprint_gets_nothing() {
    let host = tempfile::tempdir().unwrap();
    let issued = activation::add_terminal(host.path(), "M1", activation::DEFAULT_VALIDITY).unwrap();
    // Another host (other key) answers at the address.
    let impostor = tempfile::tempdir().unwrap();
    let (address, server) = serve(impostor.path());
    let terminal = tempfile::tempdir().unwrap();
    let out = activate(
        &issued.full(),
        &address,
        &terminal.path().join("data"),
        &terminal.path().join("pinpad"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("fingerprint"), "{stderr}");
    server.shutdown();
    // A malformed code is refused before anything is sent.
    let out = activate(
        "7Q4K",
        &address,
        &terminal.path().join("data"),
        &terminal.path().join("pinpad"),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an activation code"));
}

#[test]
fn wrong_codes_are_limited_per_address_and_the_right_code_then_waits() {
    let host = tempfile::tempdir().unwrap();
    let issued = activation::add_terminal(host.path(), "M1", activation::DEFAULT_VALIDITY).unwrap();
    let (address, server) = serve(host.path());
    let terminal = tempfile::tempdir().unwrap();
    // A code of the right shape and the host's fingerprint, but not one the host issued.
    let wrong = format!("0000-0000-{}", issued.fingerprint);
    for n in 0..5 {
        let out = activate(
            &wrong,
            &address,
            &terminal.path().join(format!("wrong{n}")),
            &terminal.path().join(format!("pad{n}")),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains("wrong, used or expired"), "{stderr}");
    }
    // The sixth try from this address is refused even with the right code, which stays unused.
    let out = activate(
        &issued.full(),
        &address,
        &terminal.path().join("right"),
        &terminal.path().join("pad-right"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("too many"), "{stderr}");
    assert!(
        !terminal
            .path()
            .join("right/enrolment/terminal.toml")
            .exists()
    );
    server.shutdown();
}
