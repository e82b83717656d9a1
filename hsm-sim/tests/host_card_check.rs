//! The card check (zero-amount account verification, `docs/iso8583.md` §4): a 0100 with
//! DE 4 = 0 and DE 25 = `51` is answered `85` when nothing declines the card, with ARQC and
//! PIN checked as for a purchase, and nothing held, charged or settled.
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use hsm_sim::host::client::requests::{self, BatchTotals};
use hsm_sim::host::client::{TerminalClient, TerminalDukpt, TestCard};
use hsm_sim::host::ledger::LedgerView;
use hsm_sim::host::{EnrolmentBundle, Host, HostConfig, HostHandle};
use hsm_sim::iso8583::{Message, Mti};

const VISA: &str = "4761739001010119";
const MASTERCARD: &str = "5413330089010434";
const BLOCKED: &str = "4761739001010200";

struct Fixture {
    _dir: tempfile::TempDir,
    host: HostHandle,
    bundle: EnrolmentBundle,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::start(HostConfig::new(dir.path())).unwrap();
    let bundle = host.enroll("T0000001").unwrap();
    Fixture {
        _dir: dir,
        host,
        bundle,
    }
}

impl Fixture {
    fn ledger(&self) -> LedgerView {
        LedgerView::open(&self.host.ledger_path()).unwrap()
    }
}

fn check(stan: u32, card: &mut TestCard) -> Message {
    let mut m =
        requests::account_verification("T0000001", stan, &requests::transmission_now(), &card.pan);
    m.set(55, card.icc_data(0).unwrap());
    m
}

fn with_pin(mut m: Message, dukpt: &mut TerminalDukpt, pin: &str) -> Message {
    let pan = m.text(2).unwrap().to_owned();
    let ksn = dukpt.next_ksn().unwrap();
    m.set(62, dukpt.pin_block(ksn, pin, &pan).unwrap().to_vec());
    m.set(63, ksn.to_vec());
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_card_is_approved_85_and_nothing_is_held_or_settled() {
    let f = fixture();
    let before = f.ledger().balance(VISA).unwrap().unwrap();
    let mut client = TerminalClient::connect(&f.bundle).await.unwrap();
    let mut visa = TestCard::visa(VISA, 0x0100);
    let r = client.send(&check(1, &mut visa)).await.unwrap();
    assert_eq!(r.mti(), Mti::AUTHORIZATION_RESPONSE);
    assert_eq!(r.text(39), Some("85"));
    assert_eq!(r.text(25), Some("51"));
    assert!(r.has(38), "an approval code");
    // The card gets its ARPC (tag 91) like for any online authorisation.
    assert_eq!(r.field(55).and_then(|icc| icc.first()), Some(&0x91));

    // With online PIN (Mastercard).
    let mut dukpt = TerminalDukpt::from_bundle(&f.bundle).unwrap();
    let mut mc = TestCard::mastercard(MASTERCARD, 0x0100);
    let r = client
        .send(&with_pin(check(2, &mut mc), &mut dukpt, "1234"))
        .await
        .unwrap();
    assert_eq!(r.text(39), Some("85"));

    assert_eq!(f.ledger().balance(VISA).unwrap(), Some(before));
    let entries = f.ledger().entries().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(
        entries
            .iter()
            .all(|e| e.kind == "verification" && e.amount == 0)
    );
    // Settlement: an empty batch is in balance, the checks are not in it.
    let r = client
        .send(&requests::reconciliation(
            "T0000001",
            3,
            &requests::transmission_now(),
            1,
            &BatchTotals::default(),
        ))
        .await
        .unwrap();
    assert_eq!((r.text(39), r.text(66)), (Some("00"), Some("1")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_check_still_declines_what_a_purchase_would() {
    let f = fixture();
    let mut client = TerminalClient::connect(&f.bundle).await.unwrap();
    let mut dukpt = TerminalDukpt::from_bundle(&f.bundle).unwrap();
    let code = |r: Message| r.text(39).unwrap().to_owned();

    // A wrong PIN: 55.
    let mut visa = TestCard::visa(VISA, 0x0200);
    let m = with_pin(check(1, &mut visa), &mut dukpt, "9999");
    assert_eq!(code(client.send(&m).await.unwrap()), "55");

    // A wrong ARQC: 05.
    let mut m = check(2, &mut visa);
    let mut icc = m.field(55).unwrap().to_vec();
    icc[3] ^= 0x01; // first ARQC byte (9F26 08 ..)
    m.set(55, icc);
    assert_eq!(code(client.send(&m).await.unwrap()), "05");

    // A blocked account: 57.
    let mut blocked = TestCard::visa(BLOCKED, 0x0100);
    assert_eq!(
        code(client.send(&check(3, &mut blocked)).await.unwrap()),
        "57"
    );

    // An amount with the verification condition code: 13.
    let mut m = check(4, &mut visa);
    m.set(4, "000000000100");
    assert_eq!(code(client.send(&m).await.unwrap()), "13");

    // A plain zero-amount 0100 (no DE 25 = 51) is still an invalid amount.
    let mut m = check(5, &mut visa);
    m.remove(25);
    assert_eq!(code(client.send(&m).await.unwrap()), "13");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reversing_a_card_check_changes_nothing() {
    let f = fixture();
    let before = f.ledger().balance(VISA).unwrap().unwrap();
    let mut client = TerminalClient::connect(&f.bundle).await.unwrap();
    let mut visa = TestCard::visa(VISA, 0x0300);
    let original = check(1, &mut visa);
    assert_eq!(client.send(&original).await.unwrap().text(39), Some("85"));
    let reversal = requests::reversal(
        Mti::REVERSAL_REQUEST,
        &original,
        2,
        &requests::transmission_now(),
    );
    assert_eq!(client.send(&reversal).await.unwrap().text(39), Some("00"));
    assert_eq!(f.ledger().balance(VISA).unwrap(), Some(before));
}
