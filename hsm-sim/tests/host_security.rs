//! The host's security rules over real TLS on loopback (`docs/security.md`): terminals
//! without an enrolment record and blocked terminals are refused (`58`), request MAC KSNs must
//! rise strictly, across a restart too (`30`), DE 7 must be fresh (`63`) except for advices
//! and reversals, and the refunds of one sale never exceed it (`13`).
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use emv::crypto::dukpt::Ksn;
use emv::crypto::key::AesKey;
use hsm_sim::host::client::{TerminalClient, requests};
use hsm_sim::host::ledger::LedgerView;
use hsm_sim::host::mac::sign_request;
use hsm_sim::host::{EnrolOptions, EnrolmentBundle, Host, HostConfig, HostHandle};
use hsm_sim::iso8583::{Message, Mti, transmission_date_time};

const VISA: &str = "4761739001010119";
const MASTERCARD: &str = "5413330089010434";

fn start(dir: &Path) -> HostHandle {
    Host::start(HostConfig::new(dir)).unwrap()
}

/// A terminal enrolled without MAC (the MAC rules have their own tests below).
fn plain(host: &HostHandle) -> EnrolmentBundle {
    host.enroll_with("T0000001", EnrolOptions { mac: false })
        .unwrap()
}

fn manual(stan: u32, pan: &str, amount: i64, transmission: &str) -> Message {
    let mut m = requests::purchase("T0000001", stan, transmission, pan, amount);
    m.set(22, "012");
    m
}

fn sign_on(stan: u32) -> Message {
    requests::network("T0000001", stan, &requests::transmission_now(), "001")
}

fn minutes_from_now(minutes: i64) -> String {
    let offset = Duration::from_secs(minutes.unsigned_abs() * 60);
    let at = if minutes < 0 {
        SystemTime::now() - offset
    } else {
        SystemTime::now() + offset
    };
    transmission_date_time(at)
}

fn hsm_sim(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hsm-sim"))
        .args(args)
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_without_an_enrolment_record_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path());
    let bundle = plain(&host);
    // The certificate is still good, but the host no longer knows the terminal: no MAC rule
    // and no key binding to apply, so it serves nothing.
    std::fs::remove_file(dir.path().join("terminals/T0000001.toml")).unwrap();
    let mut c = TerminalClient::connect(&bundle).await.unwrap();
    assert_eq!(c.send(&sign_on(1)).await.unwrap().text(39), Some("58"));
    let now = requests::transmission_now();
    let r = c.send(&manual(2, VISA, 1_000, &now)).await.unwrap();
    assert_eq!(r.text(39), Some("58"));
    assert!(!r.has(64), "no MAC on a refusal");
    let ledger = LedgerView::open(&host.ledger_path()).unwrap();
    assert!(ledger.entries().unwrap().is_empty(), "nothing recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_terminal_is_refused_until_unblocked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let host = start(dir.path());
    let bundle = plain(&host);
    let mut c = TerminalClient::connect(&bundle).await.unwrap();
    assert_eq!(c.send(&sign_on(1)).await.unwrap().text(39), Some("00"));

    let (ok, out) = hsm_sim(&["terminal", "block", "T0000001", "--data", data]);
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "T0000001 blocked");
    let (ok, out) = hsm_sim(&["terminal", "blocked", "--data", data]);
    assert!(ok);
    assert_eq!(out, "T0000001\n");
    // The operator's list: enrolled from a bundle, blocked, never attested.
    let (ok, out) = hsm_sim(&["terminals", "--data", data]);
    assert!(ok, "{out}");
    let line: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        line,
        ["T0000001", "bundle", "blocked", "not", "attested"],
        "{out}"
    );
    // Refused on the open connection, from its next message on, and on a new one.
    assert_eq!(c.send(&sign_on(2)).await.unwrap().text(39), Some("58"));
    let now = requests::transmission_now();
    let r = c.send(&manual(3, VISA, 1_000, &now)).await.unwrap();
    assert_eq!(r.text(39), Some("58"));
    let mut fresh = TerminalClient::connect(&bundle).await.unwrap();
    assert_eq!(fresh.send(&sign_on(4)).await.unwrap().text(39), Some("58"));
    let ledger = LedgerView::open(&host.ledger_path()).unwrap();
    assert!(ledger.entries().unwrap().is_empty(), "nothing recorded");

    let (ok, out) = hsm_sim(&["terminal", "block", "bad", "--data", data]);
    assert!(!ok, "{out}");
    let (ok, out) = hsm_sim(&["terminal", "unblock", "T0000001", "--data", data]);
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "T0000001 unblocked");
    assert_eq!(c.send(&sign_on(5)).await.unwrap().text(39), Some("00"));
    let (ok, out) = hsm_sim(&["terminals", "--data", data]);
    assert!(ok, "{out}");
    assert!(out.contains(" active "), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mac_ksns_must_rise_even_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path());
    let bundle = host.enroll("T0000001").unwrap();
    let bundle_dir = tempfile::tempdir().unwrap();
    bundle.write(bundle_dir.path()).unwrap();
    let mac_ik = {
        let text = std::fs::read_to_string(bundle_dir.path().join("mac-ik.hex")).unwrap();
        AesKey::from_slice(&hex::decode(text.trim()).unwrap()).unwrap()
    };
    let initial = Ksn::from_bytes(bundle.mac_key.as_ref().unwrap().initial_ksn());
    let ksn = |counter| Ksn::new(initial.initial_key_id(), counter);
    let signed = |stan, counter| {
        let mut m = manual(stan, VISA, 100, &requests::transmission_now());
        sign_request(&mut m, &mac_ik, ksn(counter)).unwrap();
        m.encode_frame().unwrap()
    };
    let code = |body: Vec<u8>| Message::decode(&body).unwrap().text(39).map(str::to_owned);

    let mut c = TerminalClient::connect(&bundle).await.unwrap();
    assert_eq!(
        code(c.send_raw(&signed(1, 5)).await.unwrap()).as_deref(),
        Some("00")
    );
    // The same KSN on another message: a replay.
    assert_eq!(
        code(c.send_raw(&signed(2, 5)).await.unwrap()).as_deref(),
        Some("30")
    );
    // A lower one too; a higher one is fine.
    assert_eq!(
        code(c.send_raw(&signed(3, 4)).await.unwrap()).as_deref(),
        Some("30")
    );
    assert_eq!(
        code(c.send_raw(&signed(4, 9)).await.unwrap()).as_deref(),
        Some("00")
    );
    drop(c);
    host.shutdown();

    // A restarted host (fresh HSM memory) still remembers.
    let host = start(dir.path());
    let mut bundle = bundle;
    bundle.host = host.local_addr().to_string();
    let mut c = TerminalClient::connect(&bundle).await.unwrap();
    assert_eq!(
        code(c.send_raw(&signed(5, 9)).await.unwrap()).as_deref(),
        Some("30")
    );
    assert_eq!(
        code(c.send_raw(&signed(6, 7)).await.unwrap()).as_deref(),
        Some("30")
    );
    assert_eq!(
        code(c.send_raw(&signed(7, 10)).await.unwrap()).as_deref(),
        Some("00")
    );
    let ledger = LedgerView::open(&host.ledger_path()).unwrap();
    assert_eq!(
        ledger.entries().unwrap().len(),
        3,
        "only the three good KSNs recorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn de7_must_be_fresh_except_for_advices_and_reversals() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path());
    let bundle = plain(&host);
    let mut c = TerminalClient::connect(&bundle).await.unwrap();
    for (stan, minutes, expected) in [(1, -20, "63"), (2, 20, "63"), (3, -10, "00"), (4, 0, "00")] {
        let r = c
            .send(&manual(stan, VISA, 100, &minutes_from_now(minutes)))
            .await;
        assert_eq!(r.unwrap().text(39), Some(expected), "{minutes} min");
    }
    let stale_sign_on = requests::network("T0000001", 5, &minutes_from_now(-60), "001");
    assert_eq!(c.send(&stale_sign_on).await.unwrap().text(39), Some("63"));
    let ledger = LedgerView::open(&host.ledger_path()).unwrap();
    assert_eq!(
        ledger.entries().unwrap().len(),
        2,
        "stale requests are not recorded"
    );

    // Store-and-forward: an advice from hours ago, and its repeat, are accepted.
    let old = minutes_from_now(-180);
    let advice = requests::financial(
        Mti::FINANCIAL_ADVICE,
        "000000",
        "T0000001",
        6,
        &old,
        VISA,
        300,
    );
    let r = c.send(&advice).await.unwrap();
    assert_eq!(r.text(39), Some("00"));
    let mut repeat = advice.clone();
    repeat.set_mti(Mti::FINANCIAL_ADVICE_REPEAT);
    assert_eq!(c.send(&repeat).await.unwrap().text(39), Some("00"));
    // A reversal of a sale, sent (and repeated) long after.
    let sale = manual(7, VISA, 400, &requests::transmission_now());
    assert_eq!(c.send(&sale).await.unwrap().text(39), Some("00"));
    let reversal = requests::reversal(Mti::REVERSAL_REQUEST, &sale, 8, &old);
    assert_eq!(c.send(&reversal).await.unwrap().text(39), Some("00"));
    let mut repeat = reversal.clone();
    repeat.set_mti(Mti::REVERSAL_REQUEST_REPEAT);
    assert_eq!(c.send(&repeat).await.unwrap().text(39), Some("00"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_of_a_sale_never_exceed_it() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path());
    let bundle = plain(&host);
    let balance = |pan| {
        LedgerView::open(&host.ledger_path())
            .unwrap()
            .balance(pan)
            .unwrap()
            .unwrap()
    };
    let mut c = TerminalClient::connect(&bundle).await.unwrap();
    let now = requests::transmission_now();
    let sale = manual(1, VISA, 10_000, &now);
    assert_eq!(c.send(&sale).await.unwrap().text(39), Some("00"));
    let before = balance(VISA);
    let refund = |stan, amount, pan| {
        let mut m = requests::financial(
            Mti::FINANCIAL_REQUEST,
            "200000",
            "T0000001",
            stan,
            &now,
            pan,
            amount,
        );
        m.set(90, requests::original_data(&sale));
        m
    };
    let mut codes = Vec::new();
    for (stan, amount) in [(2, 6_000), (3, 4_001), (4, 4_000), (5, 1)] {
        codes.push(
            c.send(&refund(stan, amount, VISA))
                .await
                .unwrap()
                .text(39)
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(codes, ["00", "13", "00", "13"]);
    assert_eq!(balance(VISA), before + 10_000);
    // A refund naming the sale with another card is not a refund of it.
    let other = refund(6, 1, MASTERCARD);
    assert_eq!(c.send(&other).await.unwrap().text(39), Some("12"));
    // A refund naming a sale the host never saw.
    let mut ghost = refund(7, 1, VISA);
    ghost.set(90, requests::original_data(&manual(99, VISA, 5, &now)));
    assert_eq!(c.send(&ghost).await.unwrap().text(39), Some("25"));
    // Voiding a refund gives its amount back to the sale.
    let first_refund = refund(2, 6_000, VISA);
    let void = requests::void(&first_refund, 8, &now);
    assert_eq!(c.send(&void).await.unwrap().text(39), Some("00"));
    assert_eq!(
        c.send(&refund(9, 6_000, VISA)).await.unwrap().text(39),
        Some("00")
    );
    // Standalone refunds (no DE 90) are not capped by anything but the rules of §5.
    let standalone = requests::financial(
        Mti::FINANCIAL_REQUEST,
        "200000",
        "T0000001",
        10,
        &now,
        VISA,
        50_000,
    );
    assert_eq!(c.send(&standalone).await.unwrap().text(39), Some("00"));
}
