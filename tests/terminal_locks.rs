//! One process at a time owns the terminal's data directory (`docs/security.md`, terminal
//! and PIN pad): a second journal open is refused with the holder's pid, and `softpos status`
//! started during a sale is refused before it can recover (and so reverse) the sale in flight.
//! The data directory is owner-only.
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use softpos::journal::{Journal, JournalError, TxKind, TxState};

#[test]
fn a_second_journal_on_one_directory_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let first = Journal::open(dir.path()).unwrap();
    let second = Journal::open(dir.path());
    let Err(e @ JournalError::Locked(_)) = second else {
        panic!("second open was not refused");
    };
    let text = e.to_string();
    assert!(
        text.contains("another softpos is using")
            && text.contains(&format!("pid {}", std::process::id())),
        "{text}"
    );
    drop(first);
    assert!(Journal::open(dir.path()).is_ok());
}

#[test]
fn the_data_directory_is_owner_only_and_its_files_are_0600() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let journal = Journal::open(&dir).unwrap();
    let id = journal.create(TxKind::Sale, 100, 0, 978, None).unwrap();
    journal.set_state(id, TxState::CardRead).unwrap();
    let mode = |name: &str| fs::metadata(dir.join(name)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(""), 0o700, "data directory");
    for name in [
        "journal.sqlite",
        "journal.sqlite-wal",
        "journal.sqlite-shm",
        "device.key",
        "softpos.lock",
    ] {
        assert_eq!(mode(name), 0o600, "{name}");
    }
}

/// The real binary: `softpos status` while this process holds the data directory (as a sale
/// in flight would) is refused, and the transaction in `sent` is left alone, not reversed.
#[test]
fn softpos_status_during_a_sale_is_refused_and_reverses_nothing() {
    let host = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bundle = hsm_sim::host::enrol::enroll(host.path(), "T0000001", "127.0.0.1:1").unwrap();
    bundle.write(&dir.path().join("enrolment")).unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let id = journal.create(TxKind::Sale, 1234, 0, 978, None).unwrap();
    journal
        .sent(id, "0200", Some("000000"), 1, "1203103000")
        .unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_softpos"))
        .arg("status")
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--host-timeout")
        .arg("1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "status ran: {stderr}");
    assert!(
        stderr.contains(&format!(
            "another softpos is using {} (pid {})",
            dir.path().display(),
            std::process::id()
        )),
        "{stderr}"
    );
    let record = journal.get(id).unwrap().unwrap();
    assert_eq!(
        record.state,
        TxState::Sent,
        "the sale in flight was touched"
    );
    assert_eq!(record.reversal_attempts, 0);
}
