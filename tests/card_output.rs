//! What the terminal prints and exports of a card: card text is shown without escape
//! sequences, control or bidi characters, and the CSV export neutralises formulas.
//!
//! The `hostile-text` virtual card (hsm-sim) carries a label and preferred name full of
//! terminal escapes and a leading `=`, and a cardholder name that is a spreadsheet formula.
//! The real `softpos` binary reads it (`read-card`, `--trace`, `tap`), pays with it against the
//! embedded host, then lists (`history`) and exports (`export --csv`) the journal.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/engine.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::{World, take_vpcd};

/// Runs the `softpos` binary; stdout and stderr together, lossy.
fn softpos(args: &[&str], data_dir: Option<&Path>) -> (Output, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_softpos"));
    command.args(args);
    if let Some(dir) = data_dir {
        command.arg("--data-dir").arg(dir);
    }
    let output = command.output().expect("run softpos");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

/// No escape, C0/C1 control (but newline), bidi control or card formula in `text`.
fn assert_clean(what: &str, text: &str) {
    for c in text.chars() {
        assert!(
            c == '\n' || !(c.is_control() || emv::display::is_bidi_control(c)),
            "{what}: {c:?} in:\n{text:?}"
        );
    }
    for bad in ["[2J", "owned", "HYPERLINK", "http://x"] {
        assert!(!text.contains(bad), "{what}: {bad:?} in:\n{text}");
    }
}

#[test]
fn hostile_card_text_never_reaches_the_console() {
    let _turn = take_vpcd();
    for args in [
        &[
            "read-card",
            "--demo",
            "--profile",
            "hostile-text",
            "--wait",
            "10",
        ][..],
        &[
            "read-card",
            "--trace",
            "--demo",
            "--profile",
            "hostile-text",
            "--wait",
            "10",
        ],
        &[
            "tap",
            "--demo",
            "--profile",
            "hostile-text",
            "--amount",
            "1.00",
            "--wait",
            "10",
        ],
    ] {
        let (output, text) = softpos(args, None);
        assert_eq!(output.status.code(), Some(0), "{args:?}:\n{text}");
        assert!(text.contains("=2+3VISADEBIT"), "{args:?}:\n{text}");
        assert_clean(&format!("{args:?}"), &text);
    }
}

#[test]
fn hostile_card_text_is_clean_in_history_and_a_formula_free_csv() {
    let world = World::start();
    let data = world.terminal_dir();
    {
        let _turn = take_vpcd();
        let (output, text) = softpos(
            &[
                "pay",
                "--amount",
                "1.00",
                "--demo",
                "--profile",
                "hostile-text",
                "--wait",
                "10",
            ],
            Some(&data),
        );
        assert_eq!(output.status.code(), Some(0), "{text}");
        assert!(text.contains("=2+3VISADEBIT"), "{text}");
        assert_clean("pay", &text);
    }

    let (output, text) = softpos(&["history"], Some(&data));
    assert!(output.status.success(), "{text}");
    assert_clean("history", &text);

    let (output, csv) = softpos(&["export", "--csv"], Some(&data));
    assert!(output.status.success(), "{csv}");
    assert!(csv.contains(",'=2+3VISADEBIT,"), "{csv}");
    assert_clean("export", &csv.replace("\r\n", "\n"));
    let fields: Vec<&str> = csv.lines().flat_map(|line| line.split(',')).collect();
    assert!(
        !fields
            .iter()
            .any(|f| f.starts_with(['=', '+', '-', '@', '\t', '\r'])),
        "{csv}"
    );
}

/// History, export and receipts show each transaction's amount with its currency's decimals:
/// JPY none, EUR two, KWD three.
#[test]
fn amounts_have_their_currency_decimals() {
    let dir = tempfile::tempdir().unwrap();
    let header = softpos::engine::receipt::ReceiptHeader {
        merchant_name: "Shop".into(),
        merchant_location: "Town".into(),
        merchant_id: "M1".into(),
        terminal_id: "T1".into(),
        currency_exponent: 2,
    };
    {
        let journal = softpos::journal::Journal::open(dir.path()).unwrap();
        for (currency, receipt_amount) in
            [(392, "JPY 1234"), (978, "EUR 12.34"), (414, "KWD 1.234")]
        {
            let id = journal
                .create(softpos::journal::TxKind::Sale, 1234, 0, currency, None)
                .unwrap();
            let record = journal.get(id).unwrap().unwrap();
            let receipt = softpos::engine::receipt::Receipt::from_record(&record, header.clone());
            let text = receipt.to_string();
            assert!(text.contains(receipt_amount), "{text}");
        }
    }

    let (output, history) = softpos(&["history"], Some(dir.path()));
    assert!(output.status.success(), "{history}");
    for amount in [" 1234 ", " 12.34 ", " 1.234 "] {
        assert!(history.contains(amount), "{amount:?} in:\n{history}");
    }

    let (output, csv) = softpos(&["export", "--csv"], Some(dir.path()));
    assert!(output.status.success(), "{csv}");
    for line in [",1234,0,392,", ",12.34,0.00,978,", ",1.234,0.000,414,"] {
        assert!(csv.contains(line), "{line:?} in:\n{csv}");
    }
}

/// The issuer and ICC certificates (`90`, `9F46`) of the card's records, in hex.
fn certificates_of(profile: &str) -> Vec<String> {
    let profile = hsm_sim::card::Profile::by_name(profile).unwrap();
    let mut found = Vec::new();
    for record in profile.records() {
        let objects = emv::tlv::parse(&record.bytes).unwrap();
        for template in &objects {
            for object in template.children() {
                if [0x90, 0x9F46].contains(&object.tag().number()) {
                    found.push(hex::encode_upper(object.bytes().unwrap()));
                }
            }
        }
    }
    assert_eq!(found.len(), 2, "issuer and ICC certificates");
    found
}

/// `read-card --trace` shows certificates and signed data as their length only;
/// `--trace-certificates` shows them in full after a warning.
#[test]
fn read_card_trace_redacts_certificates_unless_asked() {
    let certificates = certificates_of("visa");
    let _turn = take_vpcd();
    let args = ["read-card", "--demo", "--profile", "visa", "--wait", "10"];

    let (output, text) = softpos(&[&args[..], &["--trace"]].concat(), None);
    assert_eq!(output.status.code(), Some(0), "{text}");
    for certificate in &certificates {
        assert!(
            !text.contains(&certificate[..32]),
            "certificate shown:\n{text}"
        );
    }
    for redacted in [
        "90 Issuer Public Key Certificate: REDACTED(",
        "9F46 ICC Public Key Certificate: REDACTED(",
        "9F4B Signed Dynamic Application Data: REDACTED(",
    ] {
        assert!(text.contains(redacted), "{redacted:?} in:\n{text}");
    }
    assert!(!text.contains("WARNING"), "{text}");

    let (output, text) = softpos(&[&args[..], &["--trace-certificates"]].concat(), None);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("WARNING: --trace-certificates"), "{stderr}");
    for certificate in &certificates {
        assert!(
            text.contains(certificate.as_str()),
            "certificate missing:\n{text}"
        );
    }
    assert!(text.contains("C-APDU"), "the trace is on:\n{text}");
    assert!(
        !text.contains("4761739001010119"),
        "full PAN shown:\n{text}"
    );
}
