//! `hsm-sim serve` as a process: first start creates the data directory, the printed address
//! serves a terminal enrolled with `hsm-sim enroll`, and SIGTERM shuts it down cleanly with the
//! ledger intact.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use hsm_sim::host::EnrolmentBundle;
use hsm_sim::host::client::{TerminalClient, requests};
use hsm_sim::host::ledger::LedgerView;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_enroll_and_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let bundle_dir = tempfile::tempdir().unwrap();
    let exe = env!("CARGO_BIN_EXE_hsm-sim");
    let mut child = Command::new(exe)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--api-listen",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first.rsplit(' ').next().unwrap().to_owned();
    assert!(first.contains("listening on"), "{first}");
    let second = lines.next().unwrap().unwrap();
    assert!(second.contains("HTTPS API"), "{second}");
    let api = second.rsplit(' ').next().unwrap().to_owned();
    assert_ne!(api, addr, "the API has a port of its own");
    for file in ["ca.pem", "ca.key", "host.pem", "host.key", "ledger.sqlite"] {
        assert!(data.path().join(file).exists(), "{file} not created");
    }

    let status = Command::new(exe)
        .args(["enroll", "--terminal-id", "T0000009", "--out"])
        .arg(bundle_dir.path())
        .arg("--data")
        .arg(data.path())
        .args(["--host", &addr, "--api", &api])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let bundle = EnrolmentBundle::load(bundle_dir.path()).unwrap();
    assert_eq!(bundle.api.as_deref(), Some(api.as_str()));
    let mut terminal = TerminalClient::connect(&bundle).await.unwrap();
    let mut purchase = requests::purchase(
        "T0000009",
        1,
        &requests::transmission_now(),
        "4761739001010119",
        2_000,
    );
    purchase.set(22, "012");
    assert_eq!(terminal.send(&purchase).await.unwrap().text(39), Some("00"));

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit status {exit:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("shutting down")), "{rest:?}");
    // The connection is closed and the approval is in the ledger.
    assert!(terminal.send(&purchase).await.is_err());
    let ledger = LedgerView::open(&data.path().join("ledger.sqlite")).unwrap();
    let entries = ledger.entries().unwrap();
    assert_eq!(entries.len(), 1);
    assert!(entries[0].approved);
}
