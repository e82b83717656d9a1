//! `softpos demo` with a sale that needs the online PIN (80.00 on the Visa profile, above its
//! CVM limit), run as a new user runs it, twice:
//!
//! - the first run creates the demo data (`$XDG_STATE_HOME/softpos-demo`): enrols the demo
//!   terminal, installs the bundle's PIN key into the demo pad store through
//!   `install-key` (the clear key file is gone afterwards), and the sale is approved with the
//!   PIN typed on the PIN pad process (`softpos-pinpad-test`, scripted keys);
//! - the second run reuses the enrolment and the installed key (the sealed key is the same
//!   file, the pad's KSN counter moves on) and is approved again.
//!
//! The production build's pad ignores the demo store selector:
//! `keystore::tests::the_demo_names_the_store_only_in_a_demo_build`.
#![cfg(all(feature = "demo", feature = "pinpad-test-input"))]
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/engine.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use softpos::pinpad::keystore::{self, Keystore};
use softpos::pinpad::process::TEST_KEYS_ENV;

#[test]
fn the_demo_sale_with_a_pin_is_approved_and_the_second_run_reuses_the_set_up() {
    // With pcscd running the demo plugs its card into vpcd, which holds one card at a time.
    let _vpcd = support::take_vpcd();
    let home = tempfile::tempdir().unwrap();
    let keys = home.path().join("keys");
    std::fs::write(&keys, format!("{}K", support::DEMO_PIN)).unwrap();
    let demo_dir = home.path().join("state/softpos-demo");
    let bundle = demo_dir.join("terminal/enrolment");
    let store = demo_dir.join("pinpad");

    let first = run_demo(home.path(), &keys);
    assert!(first.contains("Demo data created in"), "{first}");
    assert!(first.contains("Enter PIN on the PIN pad"), "{first}");
    assert!(first.contains("APPROVED: 80.00"), "{first}");
    assert!(
        keystore::is_installed(&store),
        "the demo pad store holds the key"
    );
    assert!(
        !bundle.join("dukpt-ik.hex").exists(),
        "install-key destroyed the clear PIN key"
    );
    assert!(
        bundle.join("terminal.toml").exists(),
        "the bundle stays for the acquirer link"
    );
    let sealed = std::fs::read(store.join("initial-key.sealed")).unwrap();
    let after_first = Keystore::open(&store).unwrap().last_ksn().counter();

    let second = run_demo(home.path(), &keys);
    assert!(
        second.contains("reusing the enrolment and the PIN pad key"),
        "{second}"
    );
    assert!(second.contains("Enter PIN on the PIN pad"), "{second}");
    assert!(second.contains("APPROVED: 80.00"), "{second}");
    assert_eq!(
        std::fs::read(store.join("initial-key.sealed")).unwrap(),
        sealed,
        "the installed key is reused, not installed again"
    );
    let after_second = Keystore::open(&store).unwrap().last_ksn().counter();
    assert!(
        after_second > after_first,
        "the second PIN used the next KSN: {after_first} then {after_second}"
    );
    // The production store was never touched.
    assert!(!home.path().join("state/softpos/pinpad").exists());
}

/// Runs `softpos demo --profile visa --amount 80.00` for a user whose home is `home`; its
/// stdout. The run must succeed (exit 0: approved).
fn run_demo(home: &Path, keys: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_softpos"))
        .args(["demo", "--profile", "visa", "--amount", "80.00"])
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env_remove("SOFTPOS_DATA_DIR")
        .env_remove(keystore::STORE_ENV)
        .env_remove(keystore::DEMO_STORE_ENV)
        .env(TEST_KEYS_ENV, keys)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "softpos demo:\n{stdout}\n{stderr}"
    );
    stdout
}
