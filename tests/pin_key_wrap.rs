//! The PIN key wrapped for the PIN pad (`docs/enrolment.md`): the pad makes its own P-256 key
//! pair, the host wraps the DUKPT PIN initial key for its public key, and the terminal process
//! only carries the blob. The enrolled pad unwraps and installs it and encrypts PINs the host
//! decrypts; another pad refuses it; the blob itself decrypts nothing.
#![cfg(feature = "pinpad-test-input")]
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::fs;
use std::path::Path;

use emv::crypto::dukpt::{self, KeyType, KeyUsage, Ksn};
use emv::crypto::key::AesKey;
use emv::crypto::{key_wrap, pin_block};
use softpos::pinpad::process::TEST_KEYS_ENV;
use softpos::pinpad::{
    EncryptedPin, PinEntry, PinEntryError, PinPadConfig, PinPadProcess, PinRequest,
};

const PAN: &str = "4761739001010119";

fn pad(store: &Path) -> PinPadProcess {
    let mut config = PinPadConfig::new(env!("CARGO_BIN_EXE_softpos-pinpad-test"));
    config.store_dir = Some(store.to_path_buf());
    PinPadProcess::new(config)
}

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

#[test]
fn only_the_enrolled_pad_unwraps_the_pin_key_and_the_terminal_cannot_use_the_blob() {
    let host = tempfile::tempdir().unwrap();
    let issued = hsm_sim::host::enrol::enroll(host.path(), "T0000001", "127.0.0.1:1").unwrap();
    let dukpt = issued.dukpt.as_ref().unwrap();
    let initial_key = AesKey::from_slice(&dukpt.initial_key).unwrap();
    let initial_ksn = Ksn::from_bytes(dukpt.initial_ksn);

    let stores = tempfile::tempdir().unwrap();
    let enrolled = pad(&stores.path().join("enrolled"));
    let other = pad(&stores.path().join("other"));
    let public = enrolled.public_key().unwrap();
    assert_eq!(
        enrolled.public_key().unwrap(),
        public,
        "one key pair per pad"
    );
    assert_ne!(other.public_key().unwrap(), public);

    // The host wraps the key for the enrolled pad; the terminal only passes the blob on.
    let blob = key_wrap::wrap(&public, &initial_key, initial_ksn).unwrap();

    // Another pad refuses it and stays without a key.
    let refused = other.install_wrapped_key(&blob).unwrap_err();
    assert!(
        matches!(&refused, PinEntryError::Unavailable(m) if m.contains("not for this PIN pad")),
        "{refused}"
    );
    assert!(!softpos::pinpad::keystore::is_installed(
        &stores.path().join("other")
    ));

    // The enrolled pad installs it, once.
    assert_eq!(
        enrolled.install_wrapped_key(&blob).unwrap(),
        initial_ksn.to_bytes()
    );
    let again = enrolled.install_wrapped_key(&blob).unwrap_err();
    assert!(
        matches!(&again, PinEntryError::Unavailable(m) if m.contains("installed already")),
        "{again}"
    );

    // A PIN entered on it decrypts under the issued key (only the host and the pad have it).
    let script = stores.path().join("keys");
    fs::write(&script, "1234K").unwrap();
    let mut config = PinPadConfig::new(env!("CARGO_BIN_EXE_softpos-pinpad-test"));
    config.store_dir = Some(stores.path().join("enrolled"));
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
    assert_eq!(
        decrypts(dukpt.initial_key.as_slice(), &encrypted),
        Some(vec![1, 2, 3, 4])
    );

    // The terminal, holding the blob, decrypts nothing with any window of it, and a key pair
    // of its own does not unwrap it.
    for len in [16, 24, 32] {
        for window in blob.windows(len) {
            assert!(decrypts(window, &encrypted).is_none());
        }
    }
    let own = key_wrap::generate_secret_key().unwrap();
    assert!(key_wrap::unwrap(&own, &blob).is_err());
}
