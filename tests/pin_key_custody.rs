//! The PIN key leaves the terminal's reach at installation (`docs/security.md`, terminal and
//! PIN pad): `softpos-pinpad install-key` seals the bundle's PIN initial key into the pad's
//! store and destroys the clear file, a second installation is refused, and after a real PIN
//! entry through the pad process nothing the terminal loaded (its credentials) and no file of
//! its data directory or bundle decrypts the PIN block.
#![cfg(feature = "pinpad-test-input")]
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use emv::crypto::dukpt::{self, KeyType, KeyUsage, Ksn};
use emv::crypto::key::AesKey;
use emv::crypto::pin_block;
use softpos::acquirer::TerminalCredentials;
use softpos::journal::{Journal, TxKind};
use softpos::pinpad::keystore::STORE_ENV;
use softpos::pinpad::process::TEST_KEYS_ENV;
use softpos::pinpad::{EncryptedPin, PinEntry, PinPadConfig, PinPadProcess, PinRequest};

const PAN: &str = "4761739001010119";

fn install_key(bundle: &Path, store: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_softpos-pinpad-test"))
        .arg("install-key")
        .arg(bundle)
        .env(STORE_ENV, store)
        .output()
        .unwrap()
}

/// The PIN in `encrypted` if `initial_key` is the DUKPT initial key it was made under.
fn decrypts(initial_key: &[u8], encrypted: &EncryptedPin) -> Option<Vec<u8>> {
    let ik = AesKey::from_slice(initial_key)?;
    let key = dukpt::derive_working_key(
        &ik,
        Ksn::from_bytes(encrypted.ksn),
        KeyUsage::PinEncryption,
        KeyType::Aes128,
    )
    .ok()?;
    let pin = pin_block::decrypt_format4(&key, &encrypted.pin_block, PAN).ok()?;
    Some(pin.expose_secret().to_vec())
}

/// Every way `bytes` could hold an AES-128/192/256 key: each window of the raw bytes, and each
/// window of every run of hex digits, decoded.
fn candidate_keys(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut push_windows = |data: &[u8]| {
        for len in [16, 24, 32] {
            out.extend(data.windows(len).map(<[u8]>::to_vec));
        }
    };
    push_windows(bytes);
    for run in bytes.split(|b| !b.is_ascii_hexdigit()) {
        for start in 0..2.min(run.len()) {
            let even = &run[start..start + (run.len() - start) / 2 * 2];
            if let Ok(decoded) = hex::decode(even) {
                push_windows(&decoded);
            }
        }
    }
    out
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn after_installation_nothing_on_the_terminal_side_decrypts_a_pin_block() {
    // The terminal's data directory with its bundle, as `hsm-sim enroll --out DATA/enrolment`
    // writes it, and the journal the terminal keeps there.
    let host = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let bundle_dir = data.path().join("enrolment");
    let issued = hsm_sim::host::enrol::enroll(host.path(), "T0000001", "127.0.0.1:1").unwrap();
    issued.write(&bundle_dir).unwrap();
    let store = tempfile::tempdir().unwrap();

    let out = install_key(&bundle_dir, store.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !bundle_dir.join("dukpt-ik.hex").exists(),
        "the clear PIN key is still in the bundle"
    );

    // Installing the same bundle again finds no key and says so; the store keeps its key.
    let again = install_key(&bundle_dir, store.path());
    let again_err = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success());
    assert!(again_err.contains("installed already"), "{again_err}");

    // The terminal loads what it needs and keeps a journal next to it.
    let credentials = TerminalCredentials::load(&bundle_dir).unwrap();
    let journal = Journal::open(data.path()).unwrap();
    journal.create(TxKind::Sale, 4250, 0, 978, None).unwrap();
    drop(journal);

    // A real entry through the pad process.
    let scripts = tempfile::tempdir().unwrap();
    let script = scripts.path().join("keys");
    fs::write(&script, "1234K").unwrap();
    let mut config = PinPadConfig::new(env!("CARGO_BIN_EXE_softpos-pinpad-test"));
    config.store_dir = Some(store.path().to_path_buf());
    config
        .env
        .push((TEST_KEYS_ENV.into(), script.into_os_string()));
    let pan = emv::pan::Pan::from_digits(PAN).unwrap();
    let encrypted = PinPadProcess::new(config)
        .collect(&PinRequest {
            pan: &pan,
            amount: 4250,
            currency_code: 978,
            currency_exponent: 2,
            merchant_name: "Test",
            language: "en",
            accessible: false,
            attestation_token: None,
        })
        .unwrap();

    // The decoder works: the issued key (which only the host and the pad have) decrypts it.
    let issued_ik = &issued.dukpt.as_ref().unwrap().initial_key;
    assert_eq!(decrypts(issued_ik, &encrypted), Some(vec![1, 2, 3, 4]));

    // Nothing on the terminal's side does.
    let mut sources: Vec<(String, Vec<u8>)> = vec![
        (
            "credentials.key_pem".into(),
            credentials.key_pem.as_bytes().to_vec(),
        ),
        (
            "credentials.ca_pem".into(),
            credentials.ca_pem.clone().into_bytes(),
        ),
        (
            "credentials.certificate_pem".into(),
            credentials.certificate_pem.clone().into_bytes(),
        ),
    ];
    let mut files = Vec::new();
    files_under(data.path(), &mut files);
    assert!(files.iter().any(|f| f.ends_with("mac-ik.hex")));
    assert!(files.iter().any(|f| f.ends_with("device.key")));
    for file in files {
        sources.push((file.display().to_string(), fs::read(&file).unwrap()));
    }
    let mut tried = 0usize;
    for (name, bytes) in &sources {
        for key in candidate_keys(bytes) {
            tried += 1;
            assert!(
                decrypts(&key, &encrypted).is_none(),
                "{name} decrypts the PIN block"
            );
        }
    }
    assert!(tried > 1000, "only {tried} candidate keys");
}
