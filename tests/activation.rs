//! `softpos activate` against the host's activation logic over HTTPS (`docs/enrolment.md`):
//! one code enrols one terminal, once; the device key is made on the terminal and certified by
//! the host; the PIN key reaches the PIN pad wrapped; a host whose key is not the code's
//! fingerprint gets nothing. The HTTP framing of the server is this test's own; the decisions
//! are `hsm_sim::host::activation::activate`'s.
#![cfg(feature = "pinpad-test-input")]
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::thread;

use hsm_sim::host::activation::{self, ActivationRequest, WrongCodeLimiter};
use hsm_sim::host::pki;
use softpos::acquirer::TerminalCredentials;
use softpos::pinpad::keystore::{self, STORE_ENV};

/// Serves `requests` activation requests for the host in `data` on a loopback port.
fn serve(data: &Path, requests: usize) -> (String, thread::JoinHandle<()>) {
    let ca = pki::HostCa::load_or_create(data).unwrap();
    let key = pki::load_or_create_host_key(data).unwrap();
    let cert = ca.issue_server(&key).unwrap();
    let certs = rustls_pemfile::certs(&mut cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, der)
    .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let data = data.to_path_buf();
    let handle = thread::spawn(move || {
        let mut limiter = WrongCodeLimiter::default();
        for _ in 0..requests {
            let (socket, peer) = listener.accept().unwrap();
            let connection = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(connection, socket);
            let mut reader = BufReader::new(&mut tls);
            let mut length = 0usize;
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break; // the client gave up in the handshake
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            if length == 0 {
                continue;
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            let request: ActivationRequest = serde_json::from_slice(&body).unwrap();
            let (status, json) = match activation::activate(
                &data,
                "127.0.0.1:8583",
                &request,
                peer.ip(),
                &mut limiter,
            ) {
                Ok(answer) => ("200 OK", serde_json::to_string(&answer).unwrap()),
                Err(e) => (
                    "403 Forbidden",
                    serde_json::json!({ "error": e.to_string() }).to_string(),
                ),
            };
            let answer = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{json}",
                json.len()
            );
            tls.write_all(answer.as_bytes()).unwrap();
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    (address, handle)
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
    let (address, server) = serve(host.path(), 2);
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
    softpos::acquirer::client_config(
        &credentials.ca_pem,
        &credentials.certificate_pem,
        &credentials.key_pem,
        credentials.host_spki_sha256,
    )
    .unwrap();
    // The PIN pad holds the key; no PIN key file anywhere on the terminal's side.
    assert!(keystore::is_installed(&store));
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
    server.join().unwrap();
}

#[test]
fn a_host_that_is_not_the_codes_fingerprint_gets_nothing() {
    let host = tempfile::tempdir().unwrap();
    let issued = activation::add_terminal(host.path(), "M1", activation::DEFAULT_VALIDITY).unwrap();
    // Another host (other key) answers at the address.
    let impostor = tempfile::tempdir().unwrap();
    let (address, server) = serve(impostor.path(), 1);
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
    server.join().unwrap();
    // A malformed code is refused before anything is sent.
    let out = activate(
        "7Q4K",
        &address,
        &terminal.path().join("data"),
        &terminal.path().join("pinpad"),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an activation code"));
}
