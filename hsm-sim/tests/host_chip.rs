//! Chip, online PIN and MAC against the real host over TLS: the HSM verifies the format-4 PIN
//! block (AES DUKPT, X9.24-3-2017), the ARQC (EMV Book 2 §8.1, the simulated issuers' test
//! keys) and the request MAC, and answers with the ARPC in DE 55 tag `91` and a response MAC
//! (`docs/iso8583.md` §4, §6).

use hsm_sim::host::client::requests;
use hsm_sim::host::client::{TerminalClient, TerminalDukpt, TestCard};
use hsm_sim::host::ledger::LedgerView;
use hsm_sim::host::{EnrolmentBundle, Host, HostConfig, HostHandle};
use hsm_sim::iso8583::{Message, Mti};

const VISA: &str = "4761739001010119";
const MASTERCARD: &str = "5413330089010434";

struct Fixture {
    _dir: tempfile::TempDir,
    host: HostHandle,
    bundle: EnrolmentBundle,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let host = Host::start(HostConfig::new(dir.path())).expect("host starts");
    let bundle = host.enroll("T0000001").expect("enrolment");
    Fixture {
        _dir: dir,
        host,
        bundle,
    }
}

/// A contactless chip 0200 for 120.00 (above the CVM limit) with online PIN `pin` and a MAC.
/// Returns the message and the KSN of its MAC (DE 61).
fn chip_pin_request(
    dukpt: &mut TerminalDukpt,
    card: &mut TestCard,
    stan: u32,
    pin: &str,
) -> (Message, [u8; 12]) {
    let amount = 12_000;
    let mut m = requests::purchase(
        "T0000001",
        stan,
        &requests::transmission_now(),
        &card.pan,
        amount,
    );
    m.set(55, card.icc_data(amount).expect("ARQC"));
    let ksn = dukpt.next_ksn().expect("KSN");
    let pin_block = dukpt.pin_block(ksn, pin, &card.pan).expect("PIN block");
    m.set(62, pin_block.to_vec());
    m.set(63, ksn.to_vec());
    let mac_ksn = dukpt.add_mac(&mut m).expect("MAC");
    (m, mac_ksn)
}

fn issuer_authentication_data(r: &Message) -> Option<Vec<u8>> {
    let icc = r.field(55)?;
    match icc {
        [0x91, len, rest @ ..] if usize::from(*len) == rest.len() => Some(rest.to_vec()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chip_and_pin_approved_with_arpc_and_mac() {
    let f = fixture();
    let mut dukpt = TerminalDukpt::from_bundle(&f.bundle).unwrap();
    let mut client = TerminalClient::connect(&f.bundle).await.unwrap();
    for (stan, mut card) in [
        (1, TestCard::visa(VISA, 0x0100)),
        (2, TestCard::mastercard(MASTERCARD, 0x0100)),
    ] {
        let (request, ksn) = chip_pin_request(&mut dukpt, &mut card, stan, "1234");
        let body = client
            .send_raw(&request.encode_frame().unwrap())
            .await
            .unwrap();
        let r = Message::decode(&body).unwrap();
        assert_eq!(r.text(39), Some("00"), "card {stan}");
        assert!(dukpt.response_mac_ok(ksn, &body), "response MAC");
        let iad = issuer_authentication_data(&r).expect("tag 91");
        // Visa CVN 18: ARPC method 2 (4 + CSU 4); Mastercard: method 1 (8 + ARC 2).
        assert_eq!(iad.len(), if stan == 1 { 8 } else { 10 });
        // A byte-identical replay (same MAC KSN) is refused, unMACed.
        let replay = client
            .send_raw(&request.encode_frame().unwrap())
            .await
            .unwrap();
        let replay = Message::decode(&replay).unwrap();
        assert_eq!(replay.text(39), Some("30"), "replayed MAC KSN");
        assert!(!replay.has(64), "a refusal of the MAC carries none");
        // A retransmission (a fresh MAC KSN, as the terminal sends it) gets the stored answer,
        // MACed for its own KSN (the HSM would refuse the PIN KSN again).
        let mut retransmission = request.clone();
        let ksn_again = dukpt.add_mac(&mut retransmission).unwrap();
        let again = client
            .send_raw(&retransmission.encode_frame().unwrap())
            .await
            .unwrap();
        assert!(dukpt.response_mac_ok(ksn_again, &again), "response MAC");
        let again = Message::decode(&again).unwrap();
        for de in [37, 38, 39, 55] {
            assert_eq!(again.field(de), r.field(de), "DE {de}");
        }
    }
    let ledger = LedgerView::open(&f.host.ledger_path()).unwrap();
    assert_eq!(ledger.entries().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pin_then_tries_exceeded() {
    let f = fixture();
    let mut dukpt = TerminalDukpt::from_bundle(&f.bundle).unwrap();
    let mut client = TerminalClient::connect(&f.bundle).await.unwrap();
    let mut card = TestCard::visa(VISA, 0x0200);
    let mut codes = Vec::new();
    for (stan, pin) in [(1, "1111"), (2, "2222"), (3, "3333"), (4, "1234")] {
        let (m, _) = chip_pin_request(&mut dukpt, &mut card, stan, pin);
        codes.push(client.send(&m).await.unwrap().text(39).unwrap().to_owned());
    }
    assert_eq!(codes, ["55", "55", "75", "75"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arqc_atc_replay_and_ksn_replay_are_declined() {
    let f = fixture();
    let mut dukpt = TerminalDukpt::from_bundle(&f.bundle).unwrap();
    let mut client = TerminalClient::connect(&f.bundle).await.unwrap();
    let mut card = TestCard::visa(VISA, 0x0300);

    // A flipped ARQC bit: 05.
    let (mut m, _) = chip_pin_request(&mut dukpt, &mut card, 1, "1234");
    let ksn: [u8; 12] = m.field(63).unwrap().try_into().unwrap();
    let mut icc = m.field(55).unwrap().to_vec();
    icc[3] ^= 0x01; // first ARQC byte (9F26 08 ..)
    m.set(55, icc);
    dukpt.add_mac(&mut m).unwrap();
    assert_eq!(client.send(&m).await.unwrap().text(39), Some("05"));

    // A good request, then the same ATC again with a new STAN: replay, 05.
    let (good, _) = chip_pin_request(&mut dukpt, &mut card, 2, "1234");
    assert_eq!(client.send(&good).await.unwrap().text(39), Some("00"));
    card.atc -= 1;
    let (replayed_atc, _) = chip_pin_request(&mut dukpt, &mut card, 3, "1234");
    assert_eq!(
        client.send(&replayed_atc).await.unwrap().text(39),
        Some("05")
    );

    // An old KSN with a fresh ATC: 05.
    let mut old = requests::purchase("T0000001", 4, &requests::transmission_now(), VISA, 12_000);
    old.set(55, card.icc_data(12_000).unwrap());
    old.set(62, dukpt.pin_block(ksn, "1234", VISA).unwrap().to_vec());
    old.set(63, ksn.to_vec());
    dukpt.add_mac(&mut old).unwrap();
    assert_eq!(client.send(&old).await.unwrap().text(39), Some("05"));
}

/// `docs/iso8583.md` §4 (0220): the cryptogram of an advice is verified like an ARQC (EMV
/// Book 2 §8.1). A good one is posted; an altered one is acknowledged `00` (the terminal must
/// stop repeating it) but recorded as not approved and not posted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_advice_is_posted_only_when_its_cryptogram_verifies() {
    let f = fixture();
    let dukpt = TerminalDukpt::from_bundle(&f.bundle).unwrap();
    let mut client = TerminalClient::connect(&f.bundle).await.unwrap();
    let mut card = TestCard::visa(VISA, 0x0400);
    let ledger = || LedgerView::open(&f.host.ledger_path()).unwrap();
    let before = ledger().balance(VISA).unwrap().unwrap();
    let advice = |stan: u32, icc: Vec<u8>| {
        let mut m = requests::financial(
            Mti::FINANCIAL_ADVICE,
            "000000",
            "T0000001",
            stan,
            &requests::transmission_now(),
            VISA,
            1_500,
        );
        m.set(55, icc);
        dukpt.add_mac(&mut m).unwrap();
        m
    };

    let good = advice(1, card.icc_data(1_500).unwrap());
    assert_eq!(client.send(&good).await.unwrap().text(39), Some("00"));
    assert_eq!(ledger().balance(VISA).unwrap().unwrap(), before - 1_500);

    let mut icc = card.icc_data(1_500).unwrap();
    icc[3] ^= 0x01; // first cryptogram byte (9F26 08 ..)
    let forged = advice(2, icc);
    assert_eq!(client.send(&forged).await.unwrap().text(39), Some("00"));
    assert_eq!(
        ledger().balance(VISA).unwrap().unwrap(),
        before - 1_500,
        "a forged advice moves no money"
    );
    let entries = ledger().entries().unwrap();
    let advices: Vec<_> = entries.iter().filter(|e| e.kind == "advice").collect();
    assert_eq!(advices.len(), 2);
    assert!(advices.iter().any(|e| e.approved));
    assert!(advices.iter().any(|e| !e.approved));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_request_mac_is_a_format_error_and_not_recorded() {
    let f = fixture();
    let mut dukpt = TerminalDukpt::from_bundle(&f.bundle).unwrap();
    let mut client = TerminalClient::connect(&f.bundle).await.unwrap();
    let mut card = TestCard::visa(VISA, 0x0400);
    let (mut m, _) = chip_pin_request(&mut dukpt, &mut card, 1, "1234");
    m.set(4, "000000012001");
    let r = client.send(&m).await.unwrap();
    assert_eq!(r.text(39), Some("30"));
    assert!(!r.has(64));
    let ledger = LedgerView::open(&f.host.ledger_path()).unwrap();
    assert!(ledger.entries().unwrap().is_empty());
    // A PIN block without KSN is a format error too.
    let mut no_ksn = requests::purchase("T0000001", 2, &requests::transmission_now(), VISA, 100);
    no_ksn.set(62, vec![0u8; 16]);
    assert_eq!(client.send(&no_ksn).await.unwrap().text(39), Some("30"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_device_cvm_avoids_the_soft_decline() {
    let f = fixture();
    let mut client = TerminalClient::connect(&f.bundle).await.unwrap();
    let mut card = TestCard::visa("4761739001010036", 0x0500);
    let mut m = requests::purchase(
        "T0000001",
        1,
        &requests::transmission_now(),
        &card.pan,
        9_000,
    );
    let mut icc = card.icc_data(9_000).unwrap();
    icc.extend_from_slice(&[0x9F, 0x6C, 0x02, 0x00, 0x80]); // CTQ: consumer device CVM performed
    m.set(55, icc);
    let r = client.send(&m).await.unwrap();
    assert_eq!((r.mti(), r.text(39)), (Mti::FINANCIAL_RESPONSE, Some("00")));
}

#[test]
fn enrolment_bundle_round_trip() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let bundle = hsm_sim::host::enrol::enroll(data.path(), "T0000042", "127.0.0.1:8583").unwrap();
    assert!(bundle.dukpt.is_some());
    assert!(bundle.mac_key.is_some());
    bundle.write(out.path()).unwrap();
    let loaded = EnrolmentBundle::load(out.path()).unwrap();
    assert_eq!(loaded.terminal_id, "T0000042");
    assert_eq!(loaded.host, "127.0.0.1:8583");
    assert_eq!(loaded.certificate_pem, bundle.certificate_pem);
    assert_eq!(
        loaded.dukpt.as_ref().unwrap().initial_ksn,
        bundle.dukpt.as_ref().unwrap().initial_ksn
    );
    // The MAC key is a key of its own, not the PIN pad's.
    let mac = loaded.mac_key.as_ref().unwrap();
    assert_eq!(
        mac.initial_ksn(),
        bundle.mac_key.as_ref().unwrap().initial_ksn()
    );
    assert_ne!(
        mac.initial_key_id()[..],
        loaded.dukpt.as_ref().unwrap().initial_ksn[..8]
    );
    let debug = format!("{loaded:?}");
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.path().join("terminal.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "private key readable by others");
        for secret in ["dukpt-ik.hex", "mac-ik.hex", "mac-ksn.state"] {
            let mode = std::fs::metadata(out.path().join(secret))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{secret} readable by others");
        }
    }
    assert!(hsm_sim::host::enrol::enroll(data.path(), "bad id", "x").is_err());
}
