//! The acquirer host over real TLS on loopback: approvals, decline codes, idempotency,
//! reversals, advices, settlement, terminal binding, certificate refusal, bad input and fault
//! switches. Expected response codes are those of `docs/iso8583.md` §5.

use std::time::Duration;

use hsm_sim::host::client::TerminalClient;
use hsm_sim::host::client::requests::{self, BatchTotals};
use hsm_sim::host::ledger::LedgerView;
use hsm_sim::host::{
    EnrolOptions, EnrolmentBundle, Fault, Host, HostConfig, HostError, HostHandle, pki,
};
use hsm_sim::iso8583::{Message, Mti};

const VISA: &str = "4761739001010119";
const MASTERCARD: &str = "5413330089010434";
const BLOCKED: &str = "4761739001010200";
const LOST: &str = "4761739001010309";
const LOW_BALANCE: &str = "4761739001010408";
const EXPIRED: &str = "4761739001010507";
/// Luhn-valid, not an account of the issuer.
const UNKNOWN: &str = "4111111111111111";

struct Fixture {
    _dir: tempfile::TempDir,
    host: HostHandle,
    bundle: EnrolmentBundle,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let host = Host::start(HostConfig::new(dir.path())).expect("host starts");
    // A third-party style client that does not MAC (`hsm-sim enroll --no-mac`); the MAC rules
    // are tested in `host_mac.rs`.
    let bundle = host
        .enroll_with("T0000001", EnrolOptions { mac: false })
        .expect("enrolment");
    Fixture {
        _dir: dir,
        host,
        bundle,
    }
}

impl Fixture {
    async fn client(&self) -> TerminalClient {
        TerminalClient::connect(&self.bundle)
            .await
            .expect("TLS connection")
    }

    fn ledger(&self) -> LedgerView {
        LedgerView::open(&self.host.ledger_path()).expect("ledger")
    }

    fn balance(&self, pan: &str) -> i64 {
        self.ledger()
            .balance(pan)
            .expect("ledger query")
            .expect("account exists")
    }
}

fn manual(stan: u32, pan: &str, amount: i64) -> Message {
    let mut m = requests::purchase("T0000001", stan, &requests::transmission_now(), pan, amount);
    m.set(22, "012");
    m
}

#[test]
fn every_virtual_card_has_an_account() {
    let f = fixture();
    let ledger = f.ledger();
    for card in hsm_sim::card::Profile::all() {
        assert_eq!(
            ledger.balance(card.pan_digits()).unwrap(),
            Some(1_000_000),
            "{}",
            card.name()
        );
    }
    for pan in [VISA, MASTERCARD, "6210948000000029", "4761739001010036"] {
        assert!(ledger.balance(pan).unwrap().is_some(), "{pan}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_on_and_echo() {
    let f = fixture();
    let mut c = f.client().await;
    for (stan, code) in [(1, "001"), (2, "301"), (3, "002")] {
        let r = c
            .send(&requests::network(
                "T0000001",
                stan,
                &requests::transmission_now(),
                code,
            ))
            .await
            .unwrap();
        assert_eq!(r.mti(), Mti::NETWORK_RESPONSE);
        assert_eq!(r.text(39), Some("00"));
        assert_eq!(r.text(70), Some(code));
    }
    let r = c
        .send(&requests::network(
            "T0000001",
            4,
            &requests::transmission_now(),
            "999",
        ))
        .await
        .unwrap();
    assert_eq!(r.text(39), Some("30"));
    assert!(f.ledger().entries().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approves_and_debits_once() {
    let f = fixture();
    let before = f.balance(VISA);
    let mut c = f.client().await;
    let request = manual(1, VISA, 1_234);
    let r = c.send(&request).await.unwrap();
    assert_eq!(r.mti(), Mti::FINANCIAL_RESPONSE);
    assert_eq!(r.text(39), Some("00"));
    assert_eq!(r.text(38).map(str::len), Some(6));
    assert_eq!(r.text(37).map(str::len), Some(12));
    assert_eq!(r.text(11), Some("000001"));
    assert!(!r.has(2), "the PAN is not echoed");
    assert_eq!(f.balance(VISA), before - 1_234);
    let entries = f.ledger().entries().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].kind, "purchase");
    assert!(entries[0].approved);
    assert_eq!(entries[0].pan_masked.as_deref(), Some("476173******0119"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decline_codes() {
    let f = fixture();
    let mut c = f.client().await;
    let mut stan = 0;
    let mut send = async |m: Message| c.send(&m).await.unwrap().text(39).unwrap().to_owned();
    let mut next = || {
        stan += 1;
        stan
    };
    assert_eq!(send(manual(next(), UNKNOWN, 100)).await, "14");
    assert_eq!(send(manual(next(), BLOCKED, 100)).await, "57");
    assert_eq!(send(manual(next(), LOST, 100)).await, "57");
    assert_eq!(send(manual(next(), LOW_BALANCE, 1_000)).await, "51");
    assert_eq!(send(manual(next(), EXPIRED, 100)).await, "54");
    assert_eq!(send(manual(next(), VISA, 0)).await, "13");
    let mut expired_card = manual(next(), VISA, 100);
    expired_card.set(14, "2001");
    assert_eq!(send(expired_card).await, "54");
    // Daily limit 5,000.00 with a balance of 10,000.00.
    assert_eq!(send(manual(next(), MASTERCARD, 600_000)).await, "61");
    // Contactless above the CVM limit without PIN: soft declines.
    let contactless = |stan, pan| {
        requests::purchase("T0000001", stan, &requests::transmission_now(), pan, 10_000)
    };
    assert_eq!(send(contactless(next(), VISA)).await, "1A");
    assert_eq!(send(contactless(next(), MASTERCARD)).await, "65");
    // Unsupported processing code: not recorded.
    let mut cash = manual(next(), VISA, 100);
    cash.set(3, "010000");
    assert_eq!(send(cash).await, "12");
    let entries = f.ledger().entries().unwrap();
    assert_eq!(entries.len(), 10);
    assert!(entries.iter().all(|e| !e.approved));
    assert_eq!(f.balance(LOW_BALANCE), 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retransmission_returns_the_original_answer() {
    let f = fixture();
    let before = f.balance(VISA);
    let mut c = f.client().await;
    let request = manual(7, VISA, 2_500);
    let first = c.send_raw(&request.encode_frame().unwrap()).await.unwrap();
    let second = c.send_raw(&request.encode_frame().unwrap()).await.unwrap();
    // From a second connection too.
    let third = f
        .client()
        .await
        .send_raw(&request.encode_frame().unwrap())
        .await
        .unwrap();
    assert_eq!(first, second);
    assert_eq!(first, third);
    assert_eq!(f.balance(VISA), before - 2_500);
    assert_eq!(f.ledger().entries().unwrap().len(), 1);
    // Same STAN, new DE 7 (a minute later, within the freshness window): a new transaction.
    let mut later = request.clone();
    let a_minute_later = std::time::SystemTime::now() + Duration::from_secs(60);
    later.set(7, hsm_sim::iso8583::transmission_date_time(a_minute_later));
    let r = c.send(&later).await.unwrap();
    assert_eq!(r.text(39), Some("00"));
    assert_ne!(r.text(37), Message::decode(&first).unwrap().text(37));
    assert_eq!(f.ledger().entries().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reversals_are_applied_once() {
    let f = fixture();
    let before = f.balance(VISA);
    let mut c = f.client().await;
    let original = manual(10, VISA, 4_000);
    assert_eq!(c.send(&original).await.unwrap().text(39), Some("00"));
    assert_eq!(f.balance(VISA), before - 4_000);

    let now = requests::transmission_now();
    let reversal = requests::reversal(Mti::REVERSAL_REQUEST, &original, 11, &now);
    let r = c.send(&reversal).await.unwrap();
    assert_eq!((r.mti(), r.text(39)), (Mti::REVERSAL_RESPONSE, Some("00")));
    assert_eq!(f.balance(VISA), before);
    // The same reversal repeated (0401), and a second reversal with a new STAN: harmless.
    let mut repeat = reversal.clone();
    repeat.set_mti(Mti::REVERSAL_REQUEST_REPEAT);
    assert_eq!(c.send(&repeat).await.unwrap().text(39), Some("00"));
    let again = requests::reversal(Mti::REVERSAL_ADVICE, &original, 12, &now);
    let r = c.send(&again).await.unwrap();
    assert_eq!(
        (r.mti(), r.text(39)),
        (Mti::REVERSAL_ADVICE_RESPONSE, Some("00"))
    );
    assert_eq!(f.balance(VISA), before);
    // Unknown original: acknowledged with `25` (nothing to undo), nothing changes.
    let ghost = manual(99, VISA, 1_000);
    let r = c
        .send(&requests::reversal(Mti::REVERSAL_REQUEST, &ghost, 13, &now))
        .await
        .unwrap();
    assert_eq!((r.mti(), r.text(39)), (Mti::REVERSAL_RESPONSE, Some("25")));
    assert_eq!(f.balance(VISA), before);

    let entries = f.ledger().entries().unwrap();
    let purchase = &entries[0];
    assert!(purchase.reversed);
    let reversals: Vec<_> = entries.iter().filter(|e| e.kind == "reversal").collect();
    assert_eq!(
        reversals.len(),
        3,
        "0400, 0420 and the unknown one; 0401 is a retransmission"
    );
    assert_eq!(reversals.iter().filter(|e| e.approved).count(), 1);
    assert_eq!(reversals[2].original_id, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advice_refund_void_and_settlement() {
    let f = fixture();
    let before = f.balance(MASTERCARD);
    let mut c = f.client().await;
    let now = requests::transmission_now();
    // Two purchases, one voided; an advice (offline approval); a refund.
    let p1 = manual(1, MASTERCARD, 1_000);
    let p2 = manual(2, MASTERCARD, 2_000);
    assert_eq!(c.send(&p1).await.unwrap().text(39), Some("00"));
    assert_eq!(c.send(&p2).await.unwrap().text(39), Some("00"));
    let r = c.send(&requests::void(&p2, 3, &now)).await.unwrap();
    assert_eq!(r.text(39), Some("00"));
    let advice = requests::financial(
        Mti::FINANCIAL_ADVICE,
        "000000",
        "T0000001",
        4,
        &now,
        MASTERCARD,
        300,
    );
    let r = c.send(&advice).await.unwrap();
    assert_eq!(
        (r.mti(), r.text(39)),
        (Mti::FINANCIAL_ADVICE_RESPONSE, Some("00"))
    );
    let refund = requests::financial(
        Mti::FINANCIAL_REQUEST,
        "200000",
        "T0000001",
        5,
        &now,
        MASTERCARD,
        500,
    );
    assert_eq!(c.send(&refund).await.unwrap().text(39), Some("00"));
    // Void of something never sent: 25.
    let ghost = manual(77, MASTERCARD, 1);
    assert_eq!(
        c.send(&requests::void(&ghost, 6, &now))
            .await
            .unwrap()
            .text(39),
        Some("25")
    );
    assert_eq!(f.balance(MASTERCARD), before - 1_000 - 300 + 500);

    let right = BatchTotals {
        credits: 1,
        credits_amount: 500,
        debits: 2,
        debits_amount: 1_300,
        debit_reversals: 1,
        debit_reversals_amount: 2_000,
        ..Default::default()
    };
    let wrong = BatchTotals {
        debits_amount: 1_200,
        ..right
    };
    let r = c
        .send(&requests::reconciliation("T0000001", 7, &now, 1, &wrong))
        .await
        .unwrap();
    assert_eq!(
        (r.mti(), r.text(39), r.text(66)),
        (Mti::RECONCILIATION_RESPONSE, Some("95"), Some("2"))
    );
    assert_eq!(r.text(88), Some("0000000000001300"));
    assert_eq!(r.text(97), Some("D0000000000000800"));
    // The batch is closed: the next one is empty and in balance with zeros.
    let r = c
        .send(&requests::reconciliation(
            "T0000001",
            8,
            &now,
            2,
            &BatchTotals::default(),
        ))
        .await
        .unwrap();
    assert_eq!((r.text(39), r.text(66)), (Some("00"), Some("1")));
    let entries = f.ledger().entries().unwrap();
    assert!(entries.iter().all(|e| e.batch_id.is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settlement_in_balance() {
    let f = fixture();
    let mut c = f.client().await;
    let now = requests::transmission_now();
    for stan in 1..=3 {
        assert_eq!(
            c.send(&manual(stan, VISA, 100)).await.unwrap().text(39),
            Some("00")
        );
    }
    let totals = BatchTotals {
        debits: 3,
        debits_amount: 300,
        ..Default::default()
    };
    let r = c
        .send(&requests::reconciliation("T0000001", 4, &now, 1, &totals))
        .await
        .unwrap();
    assert_eq!((r.text(39), r.text(66)), (Some("00"), Some("1")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_id_must_match_the_certificate() {
    let f = fixture();
    let mut c = f.client().await;
    let mut m = manual(1, VISA, 100);
    m.set(41, "T0000002");
    let r = c.send(&m).await.unwrap();
    assert_eq!(r.text(39), Some("58"));
    assert!(f.ledger().entries().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_missing_and_foreign_certificates() {
    let f = fixture();
    let addr = f.host.local_addr().to_string();
    let no_cert = pki::client_config_without_certificate(&f.bundle.ca_pem).unwrap();
    let refused = match TerminalClient::connect_with(&addr, "localhost", no_cert).await {
        Err(_) => true,
        Ok(mut c) => c.send(&manual(1, VISA, 100)).await.is_err(),
    };
    assert!(refused, "a client without certificate was served");

    // A terminal enrolled by another host's CA.
    let other_dir = tempfile::tempdir().unwrap();
    let other = hsm_sim::host::enrol::enroll(other_dir.path(), "T0000001", &addr).unwrap();
    let foreign =
        pki::client_config(&f.bundle.ca_pem, &other.certificate_pem, &other.key_pem).unwrap();
    let refused = match TerminalClient::connect_with(&addr, "localhost", foreign).await {
        Err(_) => true,
        Ok(mut c) => c.send(&manual(2, VISA, 100)).await.is_err(),
    };
    assert!(refused, "a certificate from another CA was served");
    assert!(f.ledger().entries().unwrap().is_empty());
    // The host still serves a good terminal.
    assert_eq!(
        f.client()
            .await
            .send(&manual(3, VISA, 100))
            .await
            .unwrap()
            .text(39),
        Some("00")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_rejected_and_others_keep_working() {
    let f = fixture();
    let mut good = f.client().await;
    let frame = |body: &[u8]| {
        let mut v = u16::try_from(body.len()).unwrap().to_be_bytes().to_vec();
        v.extend_from_slice(body);
        v
    };
    let valid = manual(1, VISA, 100).encode().unwrap();

    // Malformed message of a known MTI (truncated): format error 30.
    let mut c = f.client().await;
    let body = c.send_raw(&frame(&valid[..valid.len() - 3])).await.unwrap();
    let r = Message::decode(&body).unwrap();
    assert_eq!((r.mti(), r.text(39)), (Mti::FINANCIAL_RESPONSE, Some("30")));
    // A field too long (DE 2 with LL = 20): 30.
    let mut too_long = b"0200".to_vec();
    too_long.extend_from_slice(&[0x40, 0, 0, 0, 0, 0, 0, 0]);
    too_long.extend_from_slice(b"2047617390010101190000");
    let r = Message::decode(&c.send_raw(&frame(&too_long)).await.unwrap()).unwrap();
    assert_eq!(r.text(39), Some("30"));
    // A missing mandatory field (DE 4): 30.
    let mut missing = manual(2, VISA, 100);
    missing.remove(4);
    assert_eq!(c.send(&missing).await.unwrap().text(39), Some("30"));
    // DE 52 (TDES PIN block) is refused: 30.
    let mut de52 = manual(3, VISA, 100);
    de52.set(52, vec![0u8; 8]);
    assert_eq!(c.send(&de52).await.unwrap().text(39), Some("30"));

    // Unknown MTI: closed.
    let mut c = f.client().await;
    let mut unknown = valid.clone();
    unknown[..4].copy_from_slice(b"0300");
    assert!(c.send_raw(&frame(&unknown)).await.is_err());
    // Wrong length header (longer than the limit): closed.
    let mut c = f.client().await;
    assert!(c.send_raw(&[0xFF, 0xFF, 0x30]).await.is_err());
    // Zero length: closed.
    let mut c = f.client().await;
    assert!(c.send_raw(&[0x00, 0x00]).await.is_err());
    // Garbage: closed.
    let mut c = f.client().await;
    assert!(
        c.send_raw(&frame(b"\x00\xFFgarbage\x13\x37"))
            .await
            .is_err()
    );
    // Garbage without TLS at all.
    {
        use tokio::io::AsyncWriteExt;
        let mut raw = tokio::net::TcpStream::connect(f.host.local_addr())
            .await
            .unwrap();
        let _ = raw.write_all(b"0200 this is not TLS\r\n\r\n").await;
    }

    assert!(
        f.ledger().entries().unwrap().is_empty(),
        "bad input reached the ledger"
    );
    assert_eq!(f.ledger().response_count().unwrap(), 0);
    // The first terminal was never disturbed.
    assert_eq!(
        good.send(&manual(9, VISA, 100)).await.unwrap().text(39),
        Some("00")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_switches() {
    let f = fixture();
    let mut c = f.client().await;
    c.set_timeout(Duration::from_millis(700));

    // Drop the response: the terminal times out, the host did approve, a reversal undoes it.
    let before = f.balance(VISA);
    f.host.faults().set(Fault::DropResponse, 1);
    let lost = manual(1, VISA, 700);
    assert!(matches!(c.send(&lost).await, Err(HostError::Timeout)));
    assert_eq!(f.balance(VISA), before - 700);
    let now = requests::transmission_now();
    let r = c
        .send(&requests::reversal(Mti::REVERSAL_REQUEST, &lost, 2, &now))
        .await
        .unwrap();
    assert_eq!(r.text(39), Some("00"));
    assert_eq!(f.balance(VISA), before);

    // Close the connection instead of answering.
    f.host.faults().set(Fault::CloseConnection, 1);
    assert!(matches!(
        c.send(&manual(3, VISA, 100)).await,
        Err(HostError::ConnectionClosed)
    ));
    let mut c = f.client().await;

    // Delay.
    f.host.faults().set_delay(Duration::from_millis(1_500));
    f.host.faults().set(Fault::Delay, 1);
    c.set_timeout(Duration::from_millis(500));
    assert!(matches!(
        c.send(&manual(4, VISA, 100)).await,
        Err(HostError::Timeout)
    ));

    // Bad MAC: the response carries a MAC that is not the host's.
    let mut c = f.client().await;
    f.host.faults().set(Fault::BadMac, 1);
    let r = c.send(&manual(5, VISA, 100)).await.unwrap();
    assert!(r.has(64));
    // Faults are one-shot: the same request again gets the stored answer, without a MAC.
    let r = c.send(&manual(5, VISA, 100)).await;
    assert!(r.is_ok_and(|r| !r.has(64)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_original_after_its_reversal_is_not_approved() {
    let f = fixture();
    let before = f.balance(VISA);
    let mut c = f.client().await;
    let original = manual(21, VISA, 3_000);
    let now = requests::transmission_now();
    // The reversal overtakes the original (the terminal timed out and reversed).
    let r = c
        .send(&requests::reversal(
            Mti::REVERSAL_ADVICE,
            &original,
            22,
            &now,
        ))
        .await
        .unwrap();
    assert_eq!(
        r.text(39),
        Some("25"),
        "acknowledged: the original never arrived"
    );
    let r = c.send(&original).await.unwrap();
    assert_eq!(r.text(39), Some("05"));
    assert_eq!(f.balance(VISA), before);
    let entries = f.ledger().entries().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| !e.approved));
}
