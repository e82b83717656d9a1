//! End to end through the real PC/SC stack: a virtual card from `hsm-sim` plugs into the `vpcd`
//! reader of the running `pcscd`, and the terminal reads it exactly as it reads a USB reader.
//!
//! Needs `pcscd` with the vpcd driver running (`scripts/test` starts it). The vpcd reader holds
//! one card at a time, so the tests here take turns through one lock.

use std::process::Command;

use emv::config::TerminalConfig;
use emv::kernel::{Cvm, KernelId, Outcome, OutcomeKind};
use emv::oda::OdaFailure;
use emv::tlv;
use softpos::card_session::{TapReport, run_kernel};
use softpos::demo;
use softpos::reader::PcscReader;
use softpos::tap::{Sale, transaction_request};

/// Runs one tap of `amount` (minor units) on a virtual card of `profile`.
fn tap_profile(profile: &str, amount: u64) -> TapReport {
    let _turn = take_turn();
    let mut reader = PcscReader::open(Some(demo::VIRTUAL_READER)).unwrap_or_else(|e| {
        panic!("{e}: is pcscd with vsmartcard-vpcd running? `scripts/test` starts it")
    });
    let card = demo::plug_virtual_card(profile, &reader)
        .unwrap_or_else(|e| panic!("the virtual card {profile} does not appear: {e:?}"));
    let config = TerminalConfig::default_embedded().expect("embedded configuration");
    let request = transaction_request(Sale {
        amount,
        currency_code: config.terminal.currency_code,
        transaction_type: 0x00,
    })
    .expect("random source");
    let oda = softpos::tap::authenticator(&config).expect("CA keys");
    let report = run_kernel(&mut reader, &config, oda.as_ref(), request, None).expect("tap");
    demo::unplug_virtual_card(card, &reader).expect("the virtual card leaves");
    report
}

/// The vpcd reader for the life of the returned file: an exclusive `flock` on
/// `/tmp/softpos-vpcd.lock`, shared with the engine tests (`tests/support/engine.rs`) so that
/// test binaries can run side by side.
fn take_turn() -> std::fs::File {
    let file = std::fs::File::create("/tmp/softpos-vpcd.lock").expect("lock file");
    // `File::lock` is stable since Rust 1.89; the tests run on the pinned toolchain (1.95).
    #[allow(clippy::incompatible_msrv)]
    file.lock().expect("vpcd lock");
    file
}

fn assert_online(outcome: &Outcome, kernel: KernelId, cvm: Cvm, masked_pan: &str) {
    assert_eq!(
        outcome.kind,
        OutcomeKind::OnlineRequest,
        "{}",
        outcome.reason
    );
    assert_eq!(outcome.kernel, Some(kernel));
    assert_eq!(outcome.cvm, cvm);
    // Offline data authentication passed with the simulator's CA keys (fDDA for Visa and
    // UnionPay, CDA for Mastercard), and the TVR shows no ODA failure or "not performed".
    let oda = outcome.oda.as_ref().expect("ODA was performed");
    assert!(oda.passed(), "{oda:?}");
    assert_eq!(
        outcome.tvr[0] & 0xCC,
        0,
        "TVR byte 1 {:02X}",
        outcome.tvr[0]
    );
    let online = outcome.online.as_ref().expect("online request data");
    assert_eq!(online.masked_pan.as_str(), masked_pan);
    assert_eq!(
        outcome.card.masked_pan.as_ref().map(|p| p.as_str()),
        Some(masked_pan)
    );
    // DE 55 carries the EMV Book 2 minimum set for the ARQC (shared docs §2.4), and never the
    // PAN or track 2.
    let de55 = tlv::parse(&online.icc_data).expect("DE 55 is BER-TLV");
    let tags: Vec<String> = tlv::decode(&de55)
        .iter()
        .map(|o| o.tag.to_string())
        .collect();
    for core in [
        "9F26", "9F27", "9F10", "9F37", "9F36", "95", "9A", "9C", "9F02", "5F2A", "82", "9F1A",
    ] {
        assert!(
            tags.iter().any(|t| t == core),
            "DE 55 lacks {core}: {tags:?}"
        );
    }
    for secret in ["5A", "57"] {
        assert!(!tags.iter().any(|t| t == secret), "DE 55 carries {secret}");
    }
}

#[test]
fn visa_below_cvm_limit_goes_online_without_cvm() {
    let report = tap_profile("visa", 1_234);
    assert_online(
        &report.outcome,
        KernelId::Visa,
        Cvm::NoCvm,
        "476173******0119",
    );
    assert!(report.reader.exchanges >= 3);
}

#[test]
fn visa_above_cvm_limit_asks_for_online_pin() {
    let report = tap_profile("visa", 8_000);
    assert_online(
        &report.outcome,
        KernelId::Visa,
        Cvm::OnlinePin,
        "476173******0119",
    );
}

#[test]
fn mastercard_reads_records_and_generates_an_arqc() {
    let report = tap_profile("mastercard", 8_000);
    assert_online(
        &report.outcome,
        KernelId::Mastercard,
        Cvm::OnlinePin,
        "541333******0434",
    );
    // SELECT PPSE, SELECT AID, GPO, the AFL's records, GENERATE AC.
    assert!(
        report.reader.exchanges >= 5,
        "{} APDUs",
        report.reader.exchanges
    );
}

#[test]
fn unionpay_goes_online() {
    let report = tap_profile("unionpay", 1_000);
    assert_online(
        &report.outcome,
        KernelId::UnionPay,
        Cvm::NoCvm,
        "621094******0029",
    );
}

#[test]
fn phone_wallet_above_cvm_limit_uses_consumer_device_cvm() {
    let report = tap_profile("wallet", 8_000);
    assert_eq!(
        report.outcome.kind,
        OutcomeKind::OnlineRequest,
        "{}",
        report.outcome.reason
    );
    assert_eq!(report.outcome.cvm, Cvm::ConsumerDevice);
}

#[test]
fn malformed_cards_end_the_application_with_a_reason() {
    for (profile, reason) in [
        ("truncated-tlv", "malformed"),
        ("length-past-end", "malformed"),
        ("duplicate-tags", "twice"),
        ("select-6a82", "6A82"),
        ("gpo-6985", "6985"),
    ] {
        let outcome = tap_profile(profile, 1_234).outcome;
        assert_eq!(
            outcome.kind,
            OutcomeKind::EndApplication,
            "{profile}: {}",
            outcome.reason
        );
        assert!(
            outcome.reason.contains(reason),
            "{profile}: {}",
            outcome.reason
        );
        assert!(outcome.online.is_none(), "{profile}");
    }
}

#[test]
fn card_pulled_away_after_gpo_means_try_again() {
    let outcome = tap_profile("vanish-after-gpo", 1_234).outcome;
    assert_eq!(outcome.kind, OutcomeKind::TryAgain, "{}", outcome.reason);
    assert!(outcome.online.is_none());
}

/// TVR byte 1 bits of EMV Book 3 Annex C5: b8 ODA not performed, b7 SDA failed, b6 ICC data
/// missing, b5 card on the exception file, b4 DDA failed, b3 CDA failed (b2-b1 RFU).
const TVR1_ODA_BITS: u8 = 0xFC;
const TVR1_DDA_FAILED: u8 = 0x08;
const TVR1_CDA_FAILED: u8 = 0x04;

/// What an ODA fault profile must end with: the kernel, the outcome, the TVR byte 1 ODA bits,
/// the failed check and the words the outcome's reason must contain.
struct OdaFault {
    profile: &'static str,
    kernel: KernelId,
    kind: OutcomeKind,
    tvr1: u8,
    failure: OdaFailure,
    reason: &'static str,
}

/// Every ODA fault profile (docs/hsm-sim.md, "Virtual cards") through pcscd, with the
/// embedded terminal configuration (online-capable, floor limit 0: every card answers with an
/// ARQC):
/// - Kernels 3 and 7 (fDDA): the failure sets TVR byte 1 b4 "DDA failed"; an ARQC goes online
///   anyway, with the TVR in DE 55 for the issuer (the CTQ's "online / switch interface if
///   ODA fails" bits only apply to an offline TC).
/// - Kernel 2 (CDA): TVR byte 1 b3 "CDA failed"; the ARQC travels inside the signature, so a
///   failed CDA leaves no cryptogram to send and the tap is declined.
/// - An expired issuer certificate has no TVR bit of its own (Book 2 §5.3 step 9 makes it a
///   failure of the ODA method): it is the method's bit, and `outcome.oda` names the check.
#[test]
fn oda_fault_profiles_end_with_the_method_failed_bit_and_the_kernel_rule() {
    let faults = [
        OdaFault {
            profile: "oda-expired-issuer-cert",
            kernel: KernelId::Visa,
            kind: OutcomeKind::OnlineRequest,
            tvr1: TVR1_DDA_FAILED,
            failure: OdaFailure::IssuerCertificateExpired,
            reason: "fDDA failed",
        },
        OdaFault {
            profile: "oda-unknown-ca-index",
            kernel: KernelId::UnionPay,
            kind: OutcomeKind::OnlineRequest,
            tvr1: TVR1_DDA_FAILED,
            failure: OdaFailure::CaKeyNotFound,
            reason: "fDDA failed",
        },
        OdaFault {
            profile: "oda-bad-fdda-signature",
            kernel: KernelId::Visa,
            kind: OutcomeKind::OnlineRequest,
            tvr1: TVR1_DDA_FAILED,
            failure: OdaFailure::Signature("9F4B hash does not match"),
            reason: "fDDA failed",
        },
        OdaFault {
            profile: "oda-tampered-record",
            kernel: KernelId::Mastercard,
            kind: OutcomeKind::Declined,
            tvr1: TVR1_CDA_FAILED,
            failure: OdaFailure::IccCertificate("hash does not match"),
            reason: "CDA failed",
        },
        OdaFault {
            profile: "oda-cda-wrong-amount",
            kernel: KernelId::Mastercard,
            kind: OutcomeKind::Declined,
            tvr1: TVR1_CDA_FAILED,
            failure: OdaFailure::Signature("CDA transaction data hash code does not match"),
            reason: "CDA failed",
        },
    ];
    for fault in faults {
        let name = fault.profile;
        let outcome = tap_profile(name, 1_234).outcome;
        assert_eq!(outcome.kernel, Some(fault.kernel), "{name}");
        assert_eq!(outcome.kind, fault.kind, "{name}: {}", outcome.reason);
        assert_eq!(
            outcome.tvr[0] & TVR1_ODA_BITS,
            fault.tvr1,
            "{name}: TVR {}",
            hex::encode_upper(outcome.tvr)
        );
        let oda = outcome.oda.as_ref().expect("ODA was performed");
        assert_eq!(oda.status, Err(fault.failure), "{name}");
        assert!(
            outcome.reason.contains(fault.reason),
            "{name}: {}",
            outcome.reason
        );
        match fault.kind {
            OutcomeKind::OnlineRequest => {
                // The issuer sees the failure: DE 55 carries the TVR with the bit set.
                let online = outcome.online.as_ref().expect("online request data");
                let de55 = tlv::parse(&online.icc_data).expect("DE 55 is BER-TLV");
                let tvr = de55
                    .iter()
                    .find(|o| o.tag() == tlv::Tag::new(0x95))
                    .and_then(|o| o.bytes())
                    .expect("95 in DE 55");
                assert_eq!(tvr.first().map(|b| b & TVR1_ODA_BITS), Some(fault.tvr1));
            }
            _ => assert!(outcome.online.is_none(), "{name}"),
        }
    }
}

/// The legacy profiles carry contact-era SDA (`93`) and DDA (INTERNAL AUTHENTICATE) data, which
/// Kernel 3 does not run (Book C-3: fDDA only): the tap goes online with TVR byte 1 b8 "ODA
/// not performed" and no ODA result. Their data verify with the SDA/DDA code in
/// `hsm-sim/tests/card_oda.rs`.
#[test]
fn legacy_sda_and_dda_cards_are_not_authenticated_by_kernel_3() {
    for profile in ["legacy-sda", "legacy-dda"] {
        let outcome = tap_profile(profile, 1_234).outcome;
        assert_eq!(outcome.kernel, Some(KernelId::Visa), "{profile}");
        assert_eq!(
            outcome.kind,
            OutcomeKind::OnlineRequest,
            "{profile}: {}",
            outcome.reason
        );
        assert!(outcome.oda.is_none(), "{profile}: {:?}", outcome.oda);
        assert_eq!(
            outcome.tvr[0] & TVR1_ODA_BITS,
            0x80,
            "{profile}: TVR {}",
            hex::encode_upper(outcome.tvr)
        );
    }
}

/// `softpos read-card` names the ODA method and the failed check for a fault profile.
#[test]
fn read_card_names_the_failed_oda_check() {
    let _turn = take_turn();
    let output = Command::new(env!("CARGO_BIN_EXE_softpos"))
        .args([
            "read-card",
            "--demo",
            "--profile",
            "oda-expired-issuer-cert",
            "--wait",
            "10",
        ])
        .output()
        .expect("run softpos");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains("Offline data authentication: fDDA failed"),
        "{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("Failed check: issuer certificate 90 expired"),
        "{stdout}\n{stderr}"
    );
}

/// The tester's view: `softpos read-card --trace` shows the card by tag name, masks the PAN and
/// never prints the PAN or track 2 in clear.
#[test]
fn read_card_trace_masks_account_data() {
    let _turn = take_turn();
    let output = Command::new(env!("CARGO_BIN_EXE_softpos"))
        .args([
            "read-card",
            "--demo",
            "--profile",
            "visa",
            "--trace",
            "--wait",
            "10",
        ])
        .output()
        .expect("run softpos");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    for expected in [
        "A0000000031010",
        "476173******0119",
        "Application Label",
        "C-APDU",
        "R-APDU",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    let pan = "4761739001010119";
    assert!(
        !stdout.contains(pan) && !stderr.contains(pan),
        "full PAN printed:\n{stdout}"
    );
    // Track 2 starts with the PAN followed by the D separator.
    assert!(!stdout.to_uppercase().contains("4761739001010119D"));
}

/// `softpos tap` prints the outcome and the timing and exits 0 for an online request.
#[test]
fn tap_command_reports_outcome_and_timing() {
    let _turn = take_turn();
    let output = Command::new(env!("CARGO_BIN_EXE_softpos"))
        .args([
            "tap",
            "--demo",
            "--amount",
            "12.34",
            "--currency",
            "EUR",
            "--wait",
            "10",
        ])
        .output()
        .expect("run softpos");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Outcome: Online Request"), "{stdout}");
    assert!(stdout.contains("Card interaction:"), "{stdout}");

    let refused = Command::new(env!("CARGO_BIN_EXE_softpos"))
        .args(["tap", "--demo", "--amount", "12.345"])
        .output()
        .expect("run softpos");
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("at most 2 decimals"));
}
