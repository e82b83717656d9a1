//! Message authentication on the acquirer link (`docs/iso8583.md` §6), over real TLS on
//! loopback: the terminal MACs with its own AES DUKPT MAC key (KSN in DE 61, usage `2000`),
//! the host verifies and MACs its answer (usage `2001`); tampered, missing, stale and wrong-key
//! MACs are refused; a terminal enrolled without MAC is still served.
//!
//! Vectors: RFC 4493 §4 example 2 (AES-128) and NIST SP 800-38B Appendix D.3 example 10
//! (AES-256) for the AES-CMAC primitive the MACs use.
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use emv::crypto::dukpt::{self, KeyType, KeyUsage, Ksn};
use emv::crypto::key::AesKey;
use emv::crypto::mac::aes_cmac;
use hex_literal::hex;
use hsm_sim::host::client::{TerminalClient, TerminalDukpt, requests};
use hsm_sim::host::ledger::LedgerView;
use hsm_sim::host::mac::{MacKey, sign_request};
use hsm_sim::host::{
    EnrolOptions, EnrolmentBundle, Fault, Host, HostConfig, HostError, HostHandle,
};
use hsm_sim::iso8583::{Message, Mti};

const VISA: &str = "4761739001010119";

struct Fixture {
    _dir: tempfile::TempDir,
    bundle_dir: tempfile::TempDir,
    host: HostHandle,
    bundle: EnrolmentBundle,
}

/// A host and a MAC-enrolled terminal whose bundle is also written to disk (so the tests can
/// read the MAC initial key as a third party would).
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::start(HostConfig::new(dir.path())).unwrap();
    let bundle = host.enroll("T0000001").unwrap();
    let bundle_dir = tempfile::tempdir().unwrap();
    bundle.write(bundle_dir.path()).unwrap();
    Fixture {
        _dir: dir,
        bundle_dir,
        host,
        bundle,
    }
}

impl Fixture {
    fn mac_initial_key(&self) -> AesKey {
        let hex_key = std::fs::read_to_string(self.bundle_dir.path().join("mac-ik.hex")).unwrap();
        AesKey::from_slice(&hex::decode(hex_key.trim()).unwrap()).unwrap()
    }

    fn ledger(&self) -> LedgerView {
        LedgerView::open(&self.host.ledger_path()).unwrap()
    }
}

fn manual(stan: u32, amount: i64) -> Message {
    let mut m = requests::purchase(
        "T0000001",
        stan,
        &requests::transmission_now(),
        VISA,
        amount,
    );
    m.set(22, "012");
    m
}

fn working_key(initial_key: &AesKey, ksn: [u8; 12], usage: KeyUsage) -> AesKey {
    dukpt::derive_working_key(initial_key, Ksn::from_bytes(ksn), usage, KeyType::Aes128).unwrap()
}

#[test]
fn the_cmac_primitive_matches_published_vectors() {
    let m = hex!("6BC1BEE22E409F96E93D7E117393172A");
    // RFC 4493 §4, example 2 (AES-128, 16-byte message).
    let k128 = AesKey::from_bytes_128(hex!("2B7E151628AED2A6ABF7158809CF4F3C"));
    assert_eq!(
        aes_cmac(&k128, &m),
        hex!("070A16B46B4D4144F79BDD9DD04A287C")
    );
    // NIST SP 800-38B Appendix D.3, example 10 (AES-256, 16-byte message).
    let k256 = AesKey::from_slice(&hex!(
        "603DEB1015CA71BE2B73AEF0857D7781 1F352C073B6108D72D9810A30914DFF4"
    ))
    .unwrap();
    assert_eq!(
        aes_cmac(&k256, &m),
        hex!("28A7023F452E8F82BD4BF28D8C37C35C")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maced_request_and_its_maced_answer_round_trip() {
    let f = fixture();
    let dukpt = TerminalDukpt::from_bundle(&f.bundle).unwrap();
    let mut client = TerminalClient::connect(&f.bundle).await.unwrap();
    let mut request = manual(1, 100);
    let mac_ksn = dukpt.add_mac(&mut request).unwrap();
    // The MAC KSN is under the MAC key, not the PIN key.
    assert_ne!(
        mac_ksn[..8],
        f.bundle.dukpt.as_ref().unwrap().initial_ksn[..8]
    );
    let request_body = request.encode().unwrap();
    let body = client
        .send_raw(&request.encode_frame().unwrap())
        .await
        .unwrap();
    let answer = Message::decode(&body).unwrap();
    assert_eq!(answer.text(39), Some("00"));

    // Recomputed from the bundle's MAC initial key, independently of the client code: the
    // request MAC under usage 2000, the answer's under usage 2001, leftmost 8 bytes of CMAC
    // over everything before the MAC field's bytes.
    let ik = f.mac_initial_key();
    let (covered, mac) = request_body.split_at(request_body.len() - 8);
    let expected = aes_cmac(&working_key(&ik, mac_ksn, KeyUsage::MacGeneration), covered);
    assert_eq!(mac, &expected[..8]);
    let (covered, mac) = body.split_at(body.len() - 8);
    let expected = aes_cmac(
        &working_key(&ik, mac_ksn, KeyUsage::MacVerification),
        covered,
    );
    assert_eq!(mac, &expected[..8]);
    assert_eq!(answer.field(64), Some(&expected[..8]));
    assert!(dukpt.response_mac_ok(mac_ksn, &body));

    // The client's own send() does the same, with the next KSN.
    let r = client.send(&manual(2, 100)).await.unwrap();
    assert_eq!(r.text(39), Some("00"));
    assert_eq!(f.ledger().entries().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_rejects_a_tampered_request() {
    let f = fixture();
    let dukpt = TerminalDukpt::from_bundle(&f.bundle).unwrap();
    let mut client = TerminalClient::connect(&f.bundle).await.unwrap();
    let mut request = manual(1, 100);
    dukpt.add_mac(&mut request).unwrap();
    // One amount digit changed after the MAC was computed.
    request.set(4, "000000000900");
    let answer = Message::decode(
        &client
            .send_raw(&request.encode_frame().unwrap())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(answer.text(39), Some("30"));
    assert!(!answer.has(64), "a refused MAC is answered without MAC");
    assert!(f.ledger().entries().unwrap().is_empty());
    assert_eq!(f.ledger().response_count().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_requires_a_mac_from_a_mac_enrolled_terminal() {
    let f = fixture();
    let mut client = TerminalClient::connect(&f.bundle).await.unwrap();
    let unsigned = manual(1, 100);
    let answer = Message::decode(
        &client
            .send_raw(&unsigned.encode_frame().unwrap())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(answer.text(39), Some("30"));
    assert!(f.ledger().entries().unwrap().is_empty());
    // Network management (0800) is served without MAC.
    let echo = requests::network("T0000001", 2, &requests::transmission_now(), "301");
    let answer = Message::decode(
        &client
            .send_raw(&echo.encode_frame().unwrap())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (answer.mti(), answer.text(39)),
        (Mti::NETWORK_RESPONSE, Some("00"))
    );
    // ... and with a MAC (DE 128: DE 70 needs the secondary bitmap), it is answered with one.
    let r = client.send(&echo.with(11, "000003")).await.unwrap();
    assert!(r.has(128));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_not_interchangeable_and_stale_mac_ksns_are_refused() {
    let f = fixture();
    let mut client = TerminalClient::connect(&f.bundle).await.unwrap();
    let code = |body: Vec<u8>| Message::decode(&body).unwrap().text(39).unwrap().to_owned();

    // A MAC made with the PIN pad's key (DE 61 under the PIN key): refused.
    let pin = f.bundle.dukpt.as_ref().unwrap();
    let pin_as_mac = MacKey::new(
        AesKey::from_slice(&pin.initial_key).unwrap(),
        pin.initial_ksn,
    )
    .unwrap();
    let mut m = manual(1, 100);
    pin_as_mac.sign(&mut m).unwrap();
    let body = client.send_raw(&m.encode_frame().unwrap()).await.unwrap();
    assert_eq!(code(body), "30");

    // A PIN block whose KSN (DE 63) is under the MAC key: refused.
    let mac_key_id = f.bundle.mac_key.as_ref().unwrap().initial_key_id();
    let mut m = manual(2, 100);
    m.set(62, vec![0u8; 16]);
    m.set(63, [&mac_key_id[..], &[0, 0, 0, 9]].concat());
    let r = client.send(&m).await.unwrap();
    assert_eq!(r.text(39), Some("30"));

    // MAC KSNs must not go backwards: counter 20, then 10.
    let ik = f.mac_initial_key();
    let ksn = |counter: u32| {
        let mut k = [0u8; 12];
        k[..8].copy_from_slice(&mac_key_id);
        k[8..].copy_from_slice(&counter.to_be_bytes());
        Ksn::from_bytes(k)
    };
    let mut newer = manual(3, 100);
    sign_request(&mut newer, &ik, ksn(20)).unwrap();
    let body = client
        .send_raw(&newer.encode_frame().unwrap())
        .await
        .unwrap();
    assert_eq!(code(body), "00");
    let mut older = manual(4, 100);
    sign_request(&mut older, &ik, ksn(10)).unwrap();
    let body = client
        .send_raw(&older.encode_frame().unwrap())
        .await
        .unwrap();
    assert_eq!(code(body), "30");
    // Only the one good request reached the ledger.
    assert_eq!(f.ledger().entries().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_rejects_an_answer_with_a_wrong_mac() {
    let f = fixture();
    let mut client = TerminalClient::connect(&f.bundle).await.unwrap();
    f.host.faults().set(Fault::BadMac, 1);
    let request = manual(1, 100);
    assert!(matches!(
        client.send(&request).await,
        Err(HostError::BadMac)
    ));
    // The retransmission (fault spent) gets the stored answer with a good MAC.
    let r = client.send(&request).await.unwrap();
    assert_eq!(r.text(39), Some("00"));
    assert_eq!(f.ledger().entries().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_enrolled_without_mac_is_served_without() {
    let f = fixture();
    let plain = f
        .host
        .enroll_with("T0000002", EnrolOptions { mac: false })
        .unwrap();
    assert!(plain.mac_key.is_none());
    let mut client = TerminalClient::connect(&plain).await.unwrap();
    let mut m = manual(1, 100);
    m.set(41, "T0000002");
    let r = client.send(&m).await.unwrap();
    assert_eq!(r.text(39), Some("00"));
    assert!(!r.has(64));
}

#[test]
fn the_mac_counter_persists_in_the_bundle_and_is_never_reused() {
    let f = fixture();
    let key = f.bundle.mac_key.as_ref().unwrap();
    let first = key.reserve().unwrap();
    // The bundle as a restarted terminal loads it from disk: it continues after `first`.
    let loaded = EnrolmentBundle::load(f.bundle_dir.path()).unwrap();
    let next = loaded.mac_key.as_ref().unwrap().reserve().unwrap();
    assert!(next.counter() > first.counter());
    assert_eq!(next.initial_key_id(), first.initial_key_id());
}
