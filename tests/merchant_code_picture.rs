//! The camera side of the merchant's code through picture files: the terminal draws the code
//! of a payment as a PNG (`softpos::engine::merchant_code`), the wallet finds and reads it
//! (`hsm_sim::wallet::scan`) and pays the host's merchant-code service with what it read.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use emv::qr::merchant_payment::{Merchant, Payment};
use emv::qr::mpm::LanguageTemplate;
use hsm_sim::host::merchant_code::{MerchantCodes, PayAttempt, Refusal, TokenKey};
use hsm_sim::wallet::scan::{ScanError, scan_file, scan_png};

fn merchant() -> Merchant {
    Merchant {
        mcc: "5812".into(),
        country: "DE".into(),
        name: "Cafe Mueller".into(),
        city: "Berlin".into(),
        local: Some(LanguageTemplate {
            language: "de".into(),
            name: "Café Müller".into(),
            city: None,
        }),
        terminal_label: Some("Counter 1".into()),
    }
}

#[test]
fn the_wallet_reads_the_terminals_picture_and_pays_with_it() {
    let codes = MerchantCodes::new(TokenKey::from_bytes(&[9; 32]), 300);
    let now = 1_800_000_010;
    let open = codes.create("T0000001", 1250, 978, now).unwrap();
    let payment = Payment {
        terminal_id: "T0000001".into(),
        reference: open.reference.clone(),
        token: open.token.clone().unwrap(),
        amount: 1250,
        currency: 978,
        bill_number: Some("R-42".into()),
    };
    let (text, png) = softpos::engine::merchant_code::draw(&merchant(), &payment, 2, 4).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("code.png");
    std::fs::write(&path, &png).unwrap();

    let read = scan_file(&path, 2).unwrap();
    assert_eq!(read, payment);
    assert!(text.contains("0111Café Müller"));
    let charged = codes
        .pay(
            &PayAttempt {
                reference: Some(&read.reference),
                terminal_id: Some(&read.terminal_id),
                amount: Some(read.amount),
                token: &read.token,
                wallet: "W-ALICE",
            },
            now + 3,
            |_| Ok(()),
        )
        .unwrap();
    assert_eq!(charged.amount, 1250);
    // The same picture again: the token is spent.
    let again = scan_file(&path, 2).unwrap();
    assert_eq!(
        codes.pay(
            &PayAttempt {
                reference: Some(&again.reference),
                terminal_id: Some(&again.terminal_id),
                amount: Some(again.amount),
                token: &again.token,
                wallet: "W-MALLORY",
            },
            now + 4,
            |_| Ok(()),
        ),
        Err(Refusal::AlreadyPaid)
    );
}

#[test]
fn pictures_without_a_valid_code_are_refused() {
    assert!(matches!(scan_png(b"not a png", 2), Err(ScanError::Png(_))));
    // A QR code holding something else than a merchant's code.
    let png = softpos::engine::merchant_code::render_png("hello", 4).unwrap();
    assert!(matches!(scan_png(&png, 2), Err(ScanError::Code(_))));
    let missing = std::path::Path::new("/nonexistent/code.png");
    assert!(matches!(scan_file(missing, 2), Err(ScanError::Io { .. })));
}
