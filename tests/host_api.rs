//! The host's HTTPS API through the terminal's client: TLS with the enrolment's credentials,
//! JSON answers, errors in plain words.
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::time::Duration;

use hsm_sim::host::{Host, HostConfig};
use softpos::acquirer::TerminalCredentials;
use softpos::host_api::{HostApi, HostApiError};

#[derive(Debug, serde::Deserialize)]
struct Health {
    status: String,
    client_certificate: bool,
}

fn enrolled() -> (
    tempfile::TempDir,
    hsm_sim::host::HostHandle,
    TerminalCredentials,
    tempfile::TempDir,
) {
    let data = tempfile::tempdir().unwrap();
    let host = Host::start(HostConfig::new(data.path())).unwrap();
    let bundle = host.enroll("T0000001").unwrap();
    let dir = tempfile::tempdir().unwrap();
    bundle.write(dir.path()).unwrap();
    let credentials = TerminalCredentials::load(dir.path()).unwrap();
    (data, host, credentials, dir)
}

#[test]
fn a_terminal_reaches_the_api_its_enrolment_names_with_its_certificate() {
    let (_data, host, credentials, _dir) = enrolled();
    assert_eq!(credentials.api, Some(host.api_addr().to_string()));
    let api = HostApi::new(&credentials, Duration::from_secs(5)).unwrap();
    let health: Health = api.get("/v1/health").unwrap();
    assert_eq!(health.status, "ok");
    assert!(
        health.client_certificate,
        "the terminal presented its certificate"
    );
}

#[test]
fn a_client_without_certificate_is_served_too() {
    let (data, host, _credentials, _dir) = enrolled();
    let ca = std::fs::read_to_string(data.path().join("ca.pem")).unwrap();
    let config = hsm_sim::host::pki::client_config_without_certificate(&ca).unwrap();
    let api = HostApi::with_config(
        &host.api_addr().to_string(),
        "127.0.0.1",
        config,
        Duration::from_secs(5),
    )
    .unwrap();
    let health: Health = api.get("/v1/health").unwrap();
    assert!(!health.client_certificate);
}

#[test]
fn an_unknown_route_is_refused_with_its_status() {
    let (_data, _host, credentials, _dir) = enrolled();
    let api = HostApi::new(&credentials, Duration::from_secs(5)).unwrap();
    match api.get::<Health>("/v1/no-such-thing") {
        Err(HostApiError::Refused { status, .. }) => assert_eq!(status, 404),
        other => panic!("expected a 404, got {other:?}"),
    }
}

#[test]
fn a_host_with_another_key_is_not_the_host() {
    let (_data, _host, credentials, _dir) = enrolled();
    // Another host (another data directory: another CA and key) on the API address the
    // enrolment names: the pinned TLS refuses it.
    let other_data = tempfile::tempdir().unwrap();
    let other = Host::start(HostConfig::new(other_data.path())).unwrap();
    let mut impostor = credentials.clone();
    impostor.api = Some(other.api_addr().to_string());
    let api = HostApi::new(&impostor, Duration::from_secs(5)).unwrap();
    assert!(matches!(
        api.get::<Health>("/v1/health"),
        Err(HostApiError::Unreachable(_))
    ));
}

#[test]
fn a_stopped_host_is_unreachable_and_a_bundle_without_api_says_so() {
    let (_data, host, mut credentials, _dir) = enrolled();
    let api = HostApi::new(&credentials, Duration::from_secs(2)).unwrap();
    host.shutdown();
    assert!(matches!(
        api.get::<Health>("/v1/health"),
        Err(HostApiError::Unreachable(_))
    ));
    credentials.api = None;
    assert!(matches!(
        HostApi::new(&credentials, Duration::from_secs(2)),
        Err(HostApiError::NoApi)
    ));
}
