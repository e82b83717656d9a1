//! The acquirer link against a real embedded `hsm-sim` host over TLS on loopback, with
//! credentials read from a bundle `hsm-sim` wrote, as the terminal reads them.

use hsm_sim::host::client::requests;
use hsm_sim::host::{EnrolOptions, EnrolmentBundle, Fault, Host, HostConfig, HostHandle};

use super::*;

/// The terminal's credentials from `bundle`, written to a directory and read back.
fn credentials(bundle: &EnrolmentBundle) -> (tempfile::TempDir, TerminalCredentials) {
    let dir = tempfile::tempdir().unwrap();
    bundle.write(dir.path()).unwrap();
    let credentials = TerminalCredentials::load(dir.path()).unwrap();
    (dir, credentials)
}

fn host() -> (tempfile::TempDir, HostHandle) {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::start(HostConfig::new(dir.path())).unwrap();
    (dir, host)
}

fn quick() -> LinkSettings {
    LinkSettings {
        response_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
    }
}

fn sale(terminal_id: &str, stan: u32) -> Message {
    let mut m = requests::purchase(
        terminal_id,
        stan,
        &transmission_now(),
        "4761739001010119",
        100,
    );
    m.set(22, "012");
    m
}

#[test]
fn requests_and_answers_are_maced_both_ways() {
    let (_dir, host) = host();
    let (bundle_dir, bundle) = credentials(&host.enroll("T0000001").unwrap());
    let mut link = Acquirer::new(&bundle, quick()).unwrap();
    assert!(link.macs_requests());
    link.sign_on(1).unwrap();
    link.echo(2).unwrap();
    let answer = link.exchange(&sale("T0000001", 3)).unwrap();
    assert_eq!(answer.text(39), Some("00"));
    // The host MACed its answer (and the link checked it before returning it).
    assert!(answer.has(64));
    // Each transmission took its own KSN, made durable in the bundle's counter.
    let last = link.last_mac_ksn().unwrap().unwrap();
    assert_eq!(last.counter(), 3);
    // In the bundle's counter file, where a restarted terminal continues from.
    let reloaded = TerminalCredentials::load(bundle_dir.path()).unwrap();
    assert_eq!(reloaded.mac_key.unwrap().last_ksn().unwrap().counter(), 3);
}

#[test]
fn a_wrong_mac_on_the_answer_is_no_answer() {
    let (_dir, host) = host();
    let (_bundle_dir, bundle) = credentials(&host.enroll("T0000001").unwrap());
    let mut link = Acquirer::new(&bundle, quick()).unwrap();
    host.faults().set(Fault::BadMac, 1);
    let err = link.exchange(&sale("T0000001", 1)).unwrap_err();
    assert!(
        matches!(err.cause(), AcquirerError::BadMac(MacError::Mismatch)),
        "{err:?}"
    );
    // The request may have been applied: the engine must reverse it.
    assert!(err.may_have_reached_host());
    // The next exchange (a new connection) works again.
    let answer = link.exchange(&sale("T0000001", 2)).unwrap();
    assert_eq!(answer.text(39), Some("00"));
}

#[test]
fn a_terminal_enrolled_without_mac_sends_none_and_is_served() {
    let (_dir, host) = host();
    let (_bundle_dir, bundle) = credentials(
        &host
            .enroll_with("T0000002", EnrolOptions { mac: false })
            .unwrap(),
    );
    let mut link = Acquirer::new(&bundle, quick()).unwrap();
    assert!(!link.macs_requests());
    let answer = link.exchange(&sale("T0000002", 1)).unwrap();
    assert_eq!(answer.text(39), Some("00"));
    assert!(!answer.has(64));
}

#[test]
fn an_unreachable_host_says_so() {
    let (_dir, host) = host();
    let (_bundle_dir, bundle) = credentials(&host.enroll("T0000001").unwrap());
    let address = bundle.host.clone();
    host.shutdown();
    let mut link = Acquirer::new(&bundle, quick()).unwrap();
    let err = link.sign_on(1).unwrap_err();
    assert!(matches!(err, AcquirerError::Unreachable { .. }), "{err:?}");
    assert!(err.is_offline());
    assert!(!err.may_have_reached_host());
    assert_eq!(
        err.to_string(),
        format!("the acquirer host {address} cannot be reached")
    );
}

#[test]
fn a_refused_certificate_says_enrol_again() {
    let (_dir, host) = host();
    let (_bundle_dir, mut bundle) = credentials(&host.enroll("T0000001").unwrap());
    // A certificate for the same terminal ID from another host's CA.
    let other_dir = tempfile::tempdir().unwrap();
    let other = hsm_sim::host::enrol::enroll(other_dir.path(), "T0000001", &bundle.host).unwrap();
    bundle.certificate_pem = other.certificate_pem;
    bundle.key_pem = other.key_pem;
    let mut link = Acquirer::new(&bundle, quick()).unwrap();
    let err = link.sign_on(1).unwrap_err();
    assert!(
        matches!(err.cause(), AcquirerError::CertificateRefused(_)),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the acquirer host refused this terminal's certificate; the terminal must be enrolled \
         again"
    );
}

#[test]
fn a_host_outside_the_pinned_ca_is_not_trusted() {
    let (_dir, host) = host();
    let (_bundle_dir, mut bundle) = credentials(&host.enroll("T0000001").unwrap());
    let other_dir = tempfile::tempdir().unwrap();
    let other = hsm_sim::host::enrol::enroll(other_dir.path(), "T0000001", &bundle.host).unwrap();
    bundle.ca_pem = other.ca_pem;
    let mut link = Acquirer::new(&bundle, quick()).unwrap();
    let err = link.sign_on(1).unwrap_err();
    assert!(
        matches!(err.cause(), AcquirerError::HostNotTrusted(_)),
        "{err:?}"
    );
    assert!(!err.may_have_reached_host());
    assert_eq!(
        err.to_string(),
        "the acquirer host's certificate is not trusted (not issued by the pinned host CA, or \
         not for the pinned host key)"
    );
}
