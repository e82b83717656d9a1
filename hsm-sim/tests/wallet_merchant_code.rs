//! The merchant's code and requests to pay from the customer's side
//! (`docs/qr-merchant-code.md` § Payment, `docs/request-to-pay.md`, `docs/wallet-api.md`):
//! `hsm-sim wallet scan-and-pay` reads a picture of the code and pays it over the host's HTTPS
//! API, `inbox`, `decline` and `confirm` answer requests to pay, and the host's ISO 8583 port takes the terminal's 0200 naming the
//! payment (DE 105) only for a payment that the wallet confirmed, of that terminal and amount,
//! without card data. The terminal here is a bare client: its API requests carry its
//! certificate, its 0200s go through `TerminalClient`.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/wallet_cli.rs"]
mod wallet_cli;

use std::path::Path;
use std::process::Child;
use std::sync::Arc;
use std::time::Duration;

use emv::api::merchant_code::{CreatePayment, CreateRequest, PaymentStatus, PaymentView};
use emv::qr::merchant_payment::{Merchant, Payment, build};
use emv::qr::{MERCHANT_CODE_ENTRY_MODE, MERCHANT_CODE_FIELD};
use hsm_sim::host::client::TerminalClient;
use hsm_sim::host::client::requests;
use hsm_sim::host::ledger::LedgerView;
use hsm_sim::host::wallets::WALLET_ACCOUNT_PAN;
use hsm_sim::host::{EnrolOptions, EnrolmentBundle, Host, HostConfig, HostHandle, pki};
use hsm_sim::iso8583::{Message, Mti};
use wallet_cli::start_wallet;

const TERMINAL: &str = "T0000001";
const PIN: &str = "2468";

struct Fixture {
    dir: tempfile::TempDir,
    host: HostHandle,
    bundle: EnrolmentBundle,
    api: ureq::Agent,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::start(HostConfig::new(dir.path().join("host"))).unwrap();
    let bundle = host
        .enroll_with(TERMINAL, EnrolOptions { mac: false })
        .unwrap();
    let config =
        pki::client_config(&bundle.ca_pem, &bundle.certificate_pem, &bundle.key_pem).unwrap();
    let mut config = Arc::unwrap_or_clone(config);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let addr = host.api_addr();
    let api = ureq::AgentBuilder::new()
        .tls_config(Arc::new(config))
        .resolver(move |_: &str| Ok(vec![addr]))
        .timeout(Duration::from_secs(40))
        .build();
    Fixture {
        dir,
        host,
        bundle,
        api,
    }
}

impl Fixture {
    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.host.api_addr().port())
    }

    /// The terminal opens a payment.
    fn open(&self, amount: u64) -> PaymentView {
        self.api
            .post(&self.url("/v1/merchant-codes"))
            .send_json(CreatePayment {
                terminal_id: TERMINAL.into(),
                amount,
                currency: 978,
            })
            .unwrap()
            .into_json()
            .unwrap()
    }

    /// The terminal waits until the payment is no longer `known` (a long poll).
    fn wait_past(&self, view: &PaymentView, known: PaymentStatus) -> PaymentView {
        let mut view = view.clone();
        while view.status == known {
            let status = serde_json::to_value(view.status).unwrap();
            let mut request = self
                .api
                .get(&self.url(&format!("/v1/merchant-codes/{}", view.reference)))
                .query("terminal_id", TERMINAL)
                .query("status", status.as_str().unwrap())
                .query("wait", "25");
            if let Some(token) = &view.token {
                request = request.query("token", token);
            }
            view = request.call().unwrap().into_json().unwrap();
        }
        view
    }

    /// The code of `view` drawn as the terminal draws it, saved as a PNG in the fixture's
    /// directory.
    fn picture(&self, view: &PaymentView) -> std::path::PathBuf {
        let merchant = Merchant {
            mcc: "5999".into(),
            country: "DE".into(),
            name: "Market stall".into(),
            city: "Berlin".into(),
            local: None,
            terminal_label: None,
        };
        let payment = Payment {
            terminal_id: TERMINAL.into(),
            reference: view.reference.clone(),
            token: view.token.clone().unwrap(),
            amount: view.amount,
            currency: view.currency,
            bill_number: None,
        };
        let text = build(&merchant, &payment, 2).unwrap();
        let path = self.dir.path().join(format!("{}.png", view.reference));
        write_png(&text, &path);
        path
    }

    fn wallet_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("wallet")
    }

    fn balance(&self) -> i64 {
        LedgerView::open(&self.host.ledger_path())
            .unwrap()
            .balance(WALLET_ACCOUNT_PAN)
            .unwrap()
            .unwrap()
    }
}

/// Runs `hsm-sim wallet ARGS` with the PIN on standard input.
fn wallet(args: &[&str]) -> Child {
    start_wallet(args, PIN)
}

/// Runs `hsm-sim wallet scan-and-pay PICTURE` against the fixture's host.
fn scan_and_pay(f: &Fixture, picture: &Path) -> Child {
    let api = f.host.api_addr().to_string();
    let wallet_dir = f.wallet_dir();
    wallet(&[
        "scan-and-pay",
        picture.to_str().unwrap(),
        "--wallet",
        wallet_dir.to_str().unwrap(),
        "--api",
        &api,
    ])
}

fn write_png(text: &str, path: &Path) {
    let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
    let modules = code.width();
    let (scale, quiet) = (6, 4);
    let side = (modules + 2 * quiet) * scale;
    let colors = code.to_colors();
    let mut pixels = vec![255u8; side * side];
    for y in 0..side {
        for x in 0..side {
            let (mx, my) = (x / scale, y / scale);
            if (quiet..quiet + modules).contains(&mx)
                && (quiet..quiet + modules).contains(&my)
                && colors[(my - quiet) * modules + (mx - quiet)] == qrcode::Color::Dark
            {
                pixels[y * side + x] = 0;
            }
        }
    }
    let file = std::fs::File::create(path).unwrap();
    let side = u32::try_from(side).unwrap();
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .unwrap()
        .write_image_data(&pixels)
        .unwrap();
}

/// The terminal's 0200 naming payment `reference` for `amount`.
fn completion(stan: u32, reference: &str, amount: i64) -> Message {
    let mut m = requests::purchase(TERMINAL, stan, &requests::transmission_now(), "", amount);
    m.remove(2);
    m.set(22, MERCHANT_CODE_ENTRY_MODE);
    m.set(MERCHANT_CODE_FIELD, reference);
    m
}

async fn answer(client: &mut TerminalClient, request: &Message) -> String {
    client
        .send(request)
        .await
        .unwrap()
        .text(39)
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallet_cli_pays_a_picture_and_the_host_takes_only_the_confirmed_0200() {
    let f = fixture();
    let host_dir = f.dir.path().join("host");
    let wallet_dir = f.wallet_dir();
    let enrolled = wallet(&[
        "enroll",
        "--wallet",
        wallet_dir.to_str().unwrap(),
        "--host-data",
        host_dir.to_str().unwrap(),
    ])
    .wait_with_output()
    .unwrap();
    assert!(enrolled.status.success(), "{enrolled:?}");
    let before = f.balance();
    let mut client = TerminalClient::connect(&f.bundle).await.unwrap();

    // A payment nobody confirmed: its 0200 is refused and nothing moves.
    let unconfirmed = f.open(300);
    assert_eq!(
        answer(&mut client, &completion(1, &unconfirmed.reference, 300)).await,
        "12"
    );

    // The customer pays the picture of another payment with the wallet's command line.
    let view = f.open(1_250);
    let picture = f.picture(&view);
    let paying = scan_and_pay(&f, &picture);
    let confirmed = f.wait_past(&view, PaymentStatus::Pending);
    assert_eq!(confirmed.status, PaymentStatus::Confirmed);
    // Card data beside DE 105, or another amount: refused.
    let mut with_card = completion(2, &view.reference, 1_250);
    with_card.set(2, WALLET_ACCOUNT_PAN);
    assert_eq!(answer(&mut client, &with_card).await, "30");
    // Only a 0200 completes a payment: a pre-authorisation naming it is refused.
    let mut hold = requests::financial(
        Mti::AUTHORIZATION_REQUEST,
        "000000",
        TERMINAL,
        5,
        &requests::transmission_now(),
        "",
        1_250,
    );
    hold.remove(2);
    hold.set(22, MERCHANT_CODE_ENTRY_MODE);
    hold.set(MERCHANT_CODE_FIELD, view.reference.as_str());
    assert_eq!(answer(&mut client, &hold).await, "30");
    assert_eq!(
        answer(&mut client, &completion(3, &view.reference, 1_000)).await,
        "12"
    );
    assert_eq!(f.balance(), before);
    // The terminal's own 0200: approved, and the wallet hears it. Sent again (a
    // retransmission), the same answer; another 0200 for the same payment is refused.
    let own = completion(4, &view.reference, 1_250);
    assert_eq!(answer(&mut client, &own).await, "00");
    assert_eq!(answer(&mut client, &own).await, "00");
    assert_eq!(
        answer(&mut client, &completion(7, &view.reference, 1_250)).await,
        "12"
    );
    let out = paying.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("pay 12.50 to terminal T0000001"),
        "{stdout}"
    );
    assert!(stdout.contains("paid 12.50"), "{stdout}");
    assert_eq!(f.balance(), before - 1_250);
    assert_eq!(
        f.wait_past(&confirmed, PaymentStatus::Confirmed).status,
        PaymentStatus::Paid
    );

    // The same picture again: the token was spent; the wallet says so and fails.
    let again = scan_and_pay(&f, &picture).wait_with_output().unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already paid"),
        "{again:?}"
    );
    assert_eq!(f.balance(), before - 1_250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallet_cli_lists_declines_and_confirms_requests_to_pay() {
    let f = fixture();
    let host_dir = f.dir.path().join("host");
    let wallet_dir = f.wallet_dir();
    let wallet_path = wallet_dir.to_str().unwrap();
    let api = f.host.api_addr().to_string();
    let enrolled = wallet(&[
        "enroll",
        "--wallet",
        wallet_path,
        "--host-data",
        host_dir.to_str().unwrap(),
        "--alias",
        "+49 151 2222 3333",
    ])
    .wait_with_output()
    .unwrap();
    assert!(enrolled.status.success(), "{enrolled:?}");
    let before = f.balance();
    // The terminal's request: the payment, or the host's refusal status.
    let ask = |amount: u64, alias: &str| -> Result<PaymentView, u16> {
        let sent = f
            .api
            .post(&f.url("/v1/payment-requests"))
            .send_json(CreateRequest {
                terminal_id: TERMINAL.into(),
                amount,
                currency: 978,
                alias: alias.into(),
                merchant: "Market stall".into(),
            });
        match sent {
            Ok(answer) => Ok(answer.into_json().unwrap()),
            Err(ureq::Error::Status(status, _)) => Err(status),
            Err(e) => panic!("{e}"),
        }
    };
    // Nobody has this number.
    assert_eq!(ask(100, "+1 555 0100").err(), Some(404));
    let first = ask(700, "+4915122223333").unwrap();
    let second = ask(1_900, "+4915122223333").unwrap();
    let inbox = wallet(&["inbox", "--wallet", wallet_path, "--api", &api])
        .wait_with_output()
        .unwrap();
    let listed = String::from_utf8_lossy(&inbox.stdout);
    assert!(
        listed.contains(&first.reference) && listed.contains("7.00"),
        "{listed}"
    );
    assert!(
        listed.contains(&second.reference) && listed.contains("19.00"),
        "{listed}"
    );
    assert!(listed.contains("Market stall"), "{listed}");

    let declined = wallet(&[
        "decline",
        &first.reference,
        "--wallet",
        wallet_path,
        "--api",
        &api,
    ])
    .wait_with_output()
    .unwrap();
    assert!(declined.status.success(), "{declined:?}");
    assert_eq!(
        f.wait_past(&first, PaymentStatus::Pending).status,
        PaymentStatus::Refused
    );

    let confirming = wallet(&[
        "confirm",
        &second.reference,
        "--wallet",
        wallet_path,
        "--api",
        &api,
    ]);
    let confirmed = f.wait_past(&second, PaymentStatus::Pending);
    assert_eq!(confirmed.status, PaymentStatus::Confirmed);
    let mut client = TerminalClient::connect(&f.bundle).await.unwrap();
    // The refused one cannot be completed; the confirmed one can.
    assert_eq!(
        answer(&mut client, &completion(1, &first.reference, 700)).await,
        "12"
    );
    assert_eq!(
        answer(&mut client, &completion(2, &second.reference, 1_900)).await,
        "00"
    );
    let out = confirming.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("paid 19.00"),
        "{out:?}"
    );
    assert_eq!(f.balance(), before - 1_900);
}
