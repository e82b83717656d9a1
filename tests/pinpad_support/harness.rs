//! Shared set-up for the PIN pad process tests: a simulated HSM (the public test BDK of
//! `hsm_sim::hsm::test_keys`), a PIN pad key store holding an initial key that HSM issued, and
//! key scripts for `softpos-pinpad-test`.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

use emv::crypto::dukpt::Ksn;
use emv::crypto::pin_block;
use emv::pan::Pan;
use hsm_sim::hsm::{Hsm, test_keys};
use softpos::pinpad::keystore::Keystore;
use softpos::pinpad::process::TEST_KEYS_ENV;
use softpos::pinpad::{EncryptedPin, PinPadConfig, PinRequest};
use tempfile::TempDir;

pub(crate) struct Terminal {
    pub(crate) hsm: Hsm,
    pub(crate) store: TempDir,
    scripts: TempDir,
    count: std::cell::Cell<u32>,
}

impl Terminal {
    /// A terminal enrolled at a test-key HSM: its initial key sealed in a fresh key store.
    pub(crate) fn enrolled() -> Self {
        let hsm = Hsm::with_test_keys();
        let key = hsm.create_terminal_key().unwrap();
        let store = tempfile::tempdir().unwrap();
        Keystore::install(store.path(), &key.initial_key, key.initial_ksn).unwrap();
        Self {
            hsm,
            store,
            scripts: tempfile::tempdir().unwrap(),
            count: std::cell::Cell::new(0),
        }
    }

    /// A configuration running `softpos-pinpad-test` with `script` as its key presses.
    #[cfg(feature = "pinpad-test-input")]
    pub(crate) fn config(&self, script: &str) -> PinPadConfig {
        self.config_for(env!("CARGO_BIN_EXE_softpos-pinpad-test"), script)
    }

    /// A configuration running `program` with `script` named in the test-keys variable.
    pub(crate) fn config_for(&self, program: &str, script: &str) -> PinPadConfig {
        let n = self.count.get() + 1;
        self.count.set(n);
        let path: PathBuf = self.scripts.path().join(format!("keys-{n}"));
        std::fs::write(&path, script).unwrap();
        let mut config = PinPadConfig::new(program);
        config.store_dir = Some(self.store.path().to_path_buf());
        config
            .env
            .push((TEST_KEYS_ENV.into(), path.into_os_string()));
        config
    }

    /// The last KSN the key store has reserved.
    pub(crate) fn last_ksn(&self) -> Ksn {
        Keystore::open(self.store.path()).unwrap().last_ksn()
    }

    /// What the host gets from the PIN block: the HSM translates it from the terminal's DUKPT
    /// key to the issuer's zone PIN key, and the issuer side deciphers it. Returns the digits.
    pub(crate) fn pin_at_host(&self, encrypted: &EncryptedPin, pan: &str) -> Vec<u8> {
        let zone_block = self
            .hsm
            .translate_pin_format4_dukpt(Ksn::from_bytes(encrypted.ksn), &encrypted.pin_block, pan)
            .unwrap();
        let pin = pin_block::decrypt_format4(&test_keys::issuer_zone_pin_key(), &zone_block, pan)
            .unwrap();
        pin.expose_secret().to_vec()
    }
}

pub(crate) fn request(pan: &Pan) -> PinRequest<'_> {
    PinRequest {
        pan,
        amount: 4250,
        currency_code: 978,
        currency_exponent: 2,
        merchant_name: "Bäckerei Test",
        language: "de",
        accessible: false,
        attestation_token: None,
    }
}

/// A random Luhn-valid PAN of 12 to 19 digits.
pub(crate) fn random_pan() -> Pan {
    let len = 12 + (getrandom::u32().unwrap() % 8) as usize;
    let mut digits: Vec<u8> = (0..len - 1)
        .map(|_| (getrandom::u32().unwrap() % 10) as u8)
        .collect();
    // ISO/IEC 7812-1 Annex B: double every second digit from the right of the full number.
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    digits.push(((10 - sum % 10) % 10) as u8);
    let text: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
    Pan::from_digits(&text).unwrap()
}

/// A random PIN of `len` digits (values 0-9).
pub(crate) fn random_pin(len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| (getrandom::u32().unwrap() % 10) as u8)
        .collect()
}

/// The PIN as key script characters.
pub(crate) fn script_of(pin: &[u8]) -> String {
    pin.iter().map(|d| char::from(b'0' + d)).collect()
}
