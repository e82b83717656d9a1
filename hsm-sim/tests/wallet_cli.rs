//! `hsm-sim wallet` as a customer uses it (`docs/qr-customer-code.md`): enrol (the PIN on
//! standard input), show a consumer-presented and an offline code that the terminal's parsers
//! accept and that verify under the host's wallet CA, wrong PINs counted up to the lock, and
//! revocation.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/wallet_cli.rs"]
mod wallet_cli;

use std::path::Path;
use std::process::Output;

use emv::qr::cpm;
use emv::qr::offline_code::{Check, OfflineCode};
use hsm_sim::host::wallets;
use wallet_cli::start_wallet;

fn wallet(args: &[&str], pin: &str) -> Output {
    start_wallet(args, pin).wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn enrol_show_codes_lock_and_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (dir.path().join("wallet"), dir.path().join("host"));
    let enrolled = wallet(
        &["enroll", "--wallet", path(&w), "--host-data", path(&h)],
        "2468",
    );
    assert!(enrolled.status.success(), "{enrolled:?}");
    let device = text(&enrolled).strip_prefix("device ").unwrap().to_owned();
    assert!(wallets::load(&h, &device).unwrap().is_some());
    assert!(
        !std::fs::read_to_string(w.join("device.toml"))
            .unwrap()
            .contains("2468")
    );

    // A consumer-presented code for the wallet's account, printed and drawn.
    let picture = dir.path().join("code.png");
    let cpm_text = text(&wallet(
        &["show-code", "--wallet", path(&w), "--png", path(&picture)],
        "2468",
    ));
    let payload = cpm::parse(&cpm_text).unwrap();
    assert_eq!(payload.pan().expose_digits(), wallets::WALLET_ACCOUNT_PAN);
    assert_eq!(payload.atc(), 1);
    let drawn = hsm_sim::wallet::scan::decode_qr(&std::fs::read(&picture).unwrap()).unwrap();
    assert_eq!(drawn, cpm_text, "the picture holds the printed code");

    // An offline code bound to a nonce, verifying under the host's CA.
    let offline = wallet(
        &[
            "show-code",
            "--wallet",
            path(&w),
            "--offline",
            "--amount-cap",
            "20.00",
            "--nonce",
            "0102030405060708",
        ],
        "2468",
    );
    let code = OfflineCode::parse_text(&text(&offline)).unwrap();
    assert_eq!(code.fields().amount_cap, 2_000);
    assert_eq!(code.fields().counter, 1);
    let ca = wallets::ca_public_key(&h).unwrap();
    let check = Check {
        ca: &ca,
        now: u64::from(code.fields().issued_at),
        amount: 2_000,
        currency: 978,
        nonce: Some([1, 2, 3, 4, 5, 6, 7, 8]),
    };
    code.verify(&check).unwrap();

    // Wrong PINs are counted; the fifth locks the wallet, even for the right PIN.
    for left in (1..=4).rev() {
        let out = wallet(&["show-code", "--wallet", path(&w)], "0000");
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            err.contains(&format!("wrong PIN ({left} tries left)")),
            "{err}"
        );
    }
    let out = wallet(&["show-code", "--wallet", path(&w)], "0000");
    assert!(String::from_utf8_lossy(&out.stderr).contains("locked"));
    let out = wallet(&["show-code", "--wallet", path(&w)], "2468");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("locked"));

    // Revocation at the host.
    let revoked = wallet(
        &["revoke", "--host-data", path(&h), "--device", &device],
        "",
    );
    assert!(revoked.status.success(), "{revoked:?}");
    assert_eq!(
        wallets::load(&h, &device).unwrap().unwrap().status,
        "revoked"
    );
}
