//! The PIN pad's encryption path (key store → DUKPT PIN key → format 4) reproduces the
//! published example when the random fill is fixed (test code only).
//!
//! Source: ANSI X9.24-3-2017 supplement test vectors: BDK FEDCBA9876543210F1F1F1F1F1F1F1F1,
//! initial key ID 1234567890123456 → initial key 1273671EA26AC29AFA4D1084127652A1; "Calculation
//! of AES PIN Block Format 4": PIN 1234, PAN 4111111111111111, fill 2F69ADDE2E9E7ACE → KSN
//! counter 1: A912150391AB65A67E52883D81CE2D15, counter 2: 52A00503BD34BA1383F6A7EE9FE2547F (as
//! quoted by openemv/pinblock and `emv/tests/crypto_pin_block.rs`).
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::time::{Duration, Instant};

use emv::crypto::dukpt::{InitialKeyId, Ksn};
use emv::crypto::key::AesKey;
use emv::crypto::pin_block::danger::FixedFill;
use hex_literal::hex;
use softpos::pinpad::keypad::Layout;
use softpos::pinpad::keystore::Keystore;
use softpos::pinpad::process::encrypt_pin;
use softpos::pinpad::session::{Key, Progress, Session};
use softpos::pinpad::{LengthLimits, Timeouts};

#[test]
fn x9_24_3_format4_example_is_reproduced_with_a_fixed_fill() {
    let store_dir = tempfile::tempdir().unwrap();
    let initial_key = AesKey::from_bytes_128(hex!("1273671EA26AC29AFA4D1084127652A1"));
    let initial_ksn = Ksn::new(InitialKeyId(hex!("1234567890123456")), 0);
    Keystore::install(store_dir.path(), &initial_key, initial_ksn).unwrap();
    let mut store = Keystore::open(store_dir.path()).unwrap();
    for (counter, want) in [
        (1, hex!("A912150391AB65A67E52883D81CE2D15")),
        (2, hex!("52A00503BD34BA1383F6A7EE9FE2547F")),
    ] {
        let layout = Layout::shuffled(store.last_layout()).unwrap();
        let ksn = store.reserve(&layout).unwrap();
        assert_eq!(ksn.counter(), counter);
        // Type 1 2 3 4 on the shuffled pad, as the window would report it: by slot.
        let now = Instant::now();
        let mut session = Session::new(
            layout.clone(),
            LengthLimits::default(),
            Timeouts::default(),
            now,
        );
        for digit in [1, 2, 3, 4] {
            session.press(Key::Slot(layout.slot_of(digit).unwrap()), now);
        }
        assert_eq!(
            session.press(Key::Ok, now + Duration::from_millis(1)),
            Progress::Confirmed
        );
        let buffer = session.pin_buffer().unwrap();
        let encrypted = encrypt_pin(
            &store,
            ksn,
            buffer,
            "4111111111111111",
            &mut FixedFill(hex!("2F69ADDE2E9E7ACE")),
        )
        .unwrap();
        assert_eq!(encrypted.pin_block, want);
        assert_eq!(encrypted.ksn, ksn.to_bytes());
        assert_eq!(encrypted.digits, 4);
        session.wipe();
        assert!(session.pin_buffer().unwrap().is_empty());
    }
}
