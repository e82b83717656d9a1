//! The merchant's code and the request to pay on the merchant's GUI, headless
//! (`i-slint-backend-testing`, software renderer), against the real engine service and the
//! embedded hsm-sim host:
//!
//! - a sale of 4.50 paid with "Show my code": the code on screen is rendered, saved as a PNG
//!   screenshot and read from that picture by the wallet's camera (`hsm_sim::wallet::scan`),
//!   the wallet pays it over the host's HTTPS API, and the terminal shows the approval; the
//!   host's ledger moved the wallet's account by 4.50;
//! - a second code cancelled on screen: nothing charged, and the wallet that scanned it is told
//!   the merchant cancelled;
//! - a sale of 2.00 by "Request to phone": the customer's number typed, the request sent, the
//!   wallet finds it in its inbox and confirms it, and the terminal shows the approval;
//! - sales paid with "Scan customer's code" (the tests have no camera, so from pictures): a
//!   picture of a link is not a payment code, a missing file is said so, the wallet's
//!   consumer-presented code drawn by `hsm-sim wallet show-code --png` pays 3.20, the same
//!   picture again is declined as a replay, and a folder of frames (a blank one, a camera-like
//!   one of a link, the wallet's signed offline code) pays 7.00. Each is checked against the
//!   ledger.
//!
//! The screens are rendered at 360 x 640 and 1280 x 800 (to `target/tmp/gui/`, and to
//! `$SOFTPOS_SCREENSHOTS` when set). One test function only: the testing platform can be set
//! once per process.
#![cfg(all(feature = "gui", feature = "demo"))]
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/gui.rs"]
mod gui;
#[path = "support/png.rs"]
mod png_file;
#[path = "support/engine.rs"]
mod support;
#[path = "support/wallet.rs"]
mod wallet;

use emv::api::merchant_code::PaymentStatus;
use gui::{Screenshots, click, has_text, texts, type_into, wait_for_screen, wait_until};
use hsm_sim::host::wallets::{self, WALLET_ACCOUNT_PAN};
use hsm_sim::wallet::api::{PayMerchantCode, WalletApiError};
use hsm_sim::wallet::device::Device;
use hsm_sim::wallet::offline::OfflineRequest;
use hsm_sim::wallet::{cpm, offline, scan, screen};
use slint::ComponentHandle;
use softpos::demo::CardDrawer;
use softpos::engine::EngineSettings;
use softpos::gui::{Gui, MainWindow, Screen};
use support::{TestPin, World};
use wallet::WALLET_PIN;

#[test]
fn gui_phone_payments() {
    gui::headless();
    let world = World::start();
    let before = world.balance(WALLET_ACCOUNT_PAN);
    let host_dir = world.dir.path().join("host");
    let device = Device::load(&wallet::enrol(&world, "wallet"), WALLET_PIN).unwrap();
    let api = wallet::wallet_api(&world);
    let (_drawer, reader) = CardDrawer::new(None);
    let settings = EngineSettings {
        wallet_ca: Some(wallets::ca_public_key(&host_dir).unwrap().to_bytes()),
        ..EngineSettings::default()
    };
    let engine = support::signed_on_engine(&world, "", settings);
    let window = MainWindow::new().unwrap();
    let pin = Box::new(TestPin::new(&world.bundle, &[]));
    let setup = gui::demo_setup(&world, engine, Box::new(reader), pin, None);
    let gui = Gui::attach(&window, setup).unwrap();
    window.show().unwrap();
    let mut shots = Screenshots::new();

    // 1. Paid: the wallet scans the code from a screenshot of the terminal's screen.
    show_code_for(&window, &["4", "5", "0"]);
    assert!(has_text(&window, "Amount EUR 4.50"));
    shots.take(&window, "merchant-code");
    let payment = scan_screen(&window, &world);
    assert_eq!(payment.amount, 450);
    assert!(
        has_text(
            &window,
            &format!("Short code {}", short_code(&payment.token))
        ),
        "the short code on screen is the code's token"
    );
    let answer = api
        .pay_merchant_code(&PayMerchantCode::scanned(&device, &payment))
        .unwrap();
    assert_eq!(answer.status, PaymentStatus::Paid, "{answer:?}");
    wait_for_screen(&window, Screen::Result);
    wait_until(&window, "approved", || has_text(&window, "Approved"));
    assert!(has_text(&window, "EUR 4.50"));
    shots.take(&window, "merchant-code-approved");
    assert_eq!(world.balance(WALLET_ACCOUNT_PAN), before - 450);
    click(&window, "New sale");
    wait_for_screen(&window, Screen::Sale);

    // 2. Cancelled on screen: the wallet that scanned it cannot pay it.
    show_code_for(&window, &["9", "9", "0"]);
    let payment = scan_screen(&window, &world);
    click(&window, "Cancel");
    wait_until(&window, "the code gone", || {
        window.global::<softpos::gui::AppAdapter>().get_screen() != Screen::MerchantCode
    });
    let refused = api.pay_merchant_code(&PayMerchantCode::scanned(&device, &payment));
    match refused {
        Err(WalletApiError::Refused { status: 409, .. }) => {}
        other => panic!("a cancelled code was not refused: {other:?}"),
    }
    assert_eq!(world.balance(WALLET_ACCOUNT_PAN), before - 450);
    click(&window, "New sale");
    wait_for_screen(&window, Screen::Sale);

    // 3. A request to the customer's phone, confirmed there.
    wallets::set_alias(&host_dir, device.id_hex(), "+4915122223333").unwrap();
    for key in ["2", "0", "0"] {
        click(&window, key);
    }
    click(&window, "Continue");
    click(&window, "Request to phone");
    wait_for_screen(&window, Screen::RequestToPay);
    type_into(
        &window,
        "Customer's phone number or wallet ID",
        "+49 151 2222 3333",
    );
    shots.take(&window, "request-to-pay");
    click(&window, "Send request");
    wait_until(&window, "the request sent", || {
        has_text(&window, "Request sent to +49 151 2222 3333")
    });
    shots.take(&window, "request-to-pay-waiting");
    let inbox = api.inbox(&device).unwrap();
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(inbox[0].amount, 200);
    let answer = api.answer(&device, &inbox[0].reference, true).unwrap();
    assert_eq!(answer.status, PaymentStatus::Paid, "{answer:?}");
    wait_for_screen(&window, Screen::Result);
    wait_until(&window, "approved", || has_text(&window, "Approved"));
    assert_eq!(world.balance(WALLET_ACCOUNT_PAN), before - 650);
    click(&window, "New sale");
    wait_for_screen(&window, Screen::Sale);

    // 4. The customer's code, scanned from pictures.
    let mut device = device;
    scan_customer_code(&window, &world, &mut device, &mut shots);
    assert_eq!(world.balance(WALLET_ACCOUNT_PAN), before - 650 - 320 - 700);
    shots.check_all_taken(&[
        "merchant-code",
        "merchant-code-approved",
        "request-to-pay",
        "request-to-pay-waiting",
        "scan-code",
    ]);
    gui.shutdown();
}

/// Section 4: the scan screen's refusals, then a consumer-presented code (3.20) paid, its
/// replay declined, and a signed offline code (7.00) paid from a folder of frames.
fn scan_customer_code(
    window: &MainWindow,
    world: &World,
    device: &mut Device,
    shots: &mut Screenshots,
) {
    let before = world.balance(WALLET_ACCOUNT_PAN);
    let pictures = world.dir.path().join("pictures");
    std::fs::create_dir_all(&pictures).unwrap();
    open_scan_for(window, &["3", "2", "0"]);
    assert!(has_text(window, "Amount EUR 3.20"));
    if !cfg!(feature = "camera") {
        wait_until(window, "no camera", || {
            has_text(
                window,
                "No camera found. Scan an image of the code instead.",
            )
        });
    }
    // A link is a QR code, not a payment code.
    let link = pictures.join("link.png");
    screen::write_code_png("https://example.com/menu", &link).unwrap();
    scan_image(window, &link);
    wait_until(window, "the link refused", || {
        has_text(
            window,
            "That code is not a payment code. Show the code in the customer's wallet.",
        )
    });
    assert!(has_text(window, "Camera picture"), "the picture is shown");
    shots.take(window, "scan-code");
    scan_image(window, &pictures.join("missing.png"));
    wait_until(window, "the missing file said", || {
        texts(window)
            .iter()
            .any(|t| t.starts_with("The image could not be read: "))
    });
    assert_eq!(world.balance(WALLET_ACCOUNT_PAN), before, "nothing charged");

    // The wallet's consumer-presented code, drawn as the wallet's screen shows it.
    let code = pictures.join("cpm.png");
    screen::write_code_png(&cpm::show_code(device, 978).unwrap(), &code).unwrap();
    scan_image(window, &code);
    wait_for_screen(window, Screen::Result);
    wait_until(window, "approved", || has_text(window, "Approved"));
    assert!(has_text(window, "EUR 3.20"));
    assert_eq!(world.balance(WALLET_ACCOUNT_PAN), before - 320);
    click(window, "New sale");

    // The same picture again: the host has seen its cryptogram's counter.
    open_scan_for(window, &["3", "2", "0"]);
    scan_image(window, &code);
    wait_for_screen(window, Screen::Result);
    wait_until(window, "declined", || has_text(window, "Not approved"));
    assert_eq!(world.balance(WALLET_ACCOUNT_PAN), before - 320);
    click(window, "New sale");

    // The signed offline code in a folder of frames: a blank one, a camera-like one of a link
    // (rejected, the scan goes on), then the wallet's screen.
    let frames = pictures.join("frames");
    std::fs::create_dir_all(&frames).unwrap();
    let request = OfflineRequest {
        method: 1,
        amount_cap: 5_000,
        currency: 978,
        validity_secs: 120,
        nonce: None,
        issued_at: None,
    };
    let blank = softpos::qr::GreyImage::new(640, 480, vec![200; 640 * 480]).unwrap();
    save_grey(&blank, &frames.join("0.png"));
    let link = softpos::qr::synth::picture(1, b"https://example.com/menu", &[], 1280, 720);
    save_grey(&link, &frames.join("1.png"));
    let offline_code = offline::show_code(device, &request).unwrap();
    screen::write_code_png(&offline_code, &frames.join("2.png")).unwrap();
    open_scan_for(window, &["7", "0", "0"]);
    scan_image(window, &frames);
    wait_for_screen(window, Screen::Result);
    wait_until(window, "approved", || has_text(window, "Approved"));
    assert!(has_text(window, "EUR 7.00"));
    assert_eq!(world.balance(WALLET_ACCOUNT_PAN), before - 320 - 700);
    click(window, "New sale");
    wait_for_screen(window, Screen::Sale);

    // Back leaves the scan screen for the sale.
    open_scan_for(window, &["1"]);
    click(window, "Back");
    wait_for_screen(window, Screen::Sale);
    assert_eq!(world.balance(WALLET_ACCOUNT_PAN), before - 320 - 700);
}

/// Types `keys` as the amount, continues without a tip, and taps "Scan customer's code".
fn open_scan_for(window: &MainWindow, keys: &[&str]) {
    pay_with(window, keys, "Scan customer's code", Screen::ScanCode);
}

/// Types `path` as the image to scan and taps "Scan image".
fn scan_image(window: &MainWindow, path: &std::path::Path) {
    type_into(
        window,
        "Image file or folder of frames",
        path.to_str().unwrap(),
    );
    click(window, "Scan image");
}

fn save_grey(image: &softpos::qr::GreyImage, path: &std::path::Path) {
    let rgba: Vec<u8> = image
        .pixels()
        .iter()
        .flat_map(|&l| [l, l, l, 255])
        .collect();
    let (w, h) = (image.width(), image.height());
    png_file::save_png(
        &rgba,
        u32::try_from(w).unwrap(),
        u32::try_from(h).unwrap(),
        path,
    );
}

/// Types `keys` as the amount, continues without a tip, and taps "Show my code"; waits for
/// the code.
fn show_code_for(window: &MainWindow, keys: &[&str]) {
    pay_with(window, keys, "Show my code", Screen::MerchantCode);
}

/// Types `keys` as the amount, continues without a tip, taps the payment `choice` and waits
/// for its `screen`.
fn pay_with(window: &MainWindow, keys: &[&str], choice: &str, screen: Screen) {
    for key in keys {
        click(window, key);
    }
    click(window, "Continue");
    click(window, choice);
    wait_for_screen(window, screen);
}

/// The payment in the code on screen, as a wallet's camera reads it from a screenshot.
fn scan_screen(window: &MainWindow, world: &World) -> emv::qr::merchant_payment::Payment {
    let shot = window.window().take_snapshot().unwrap();
    let path = world.dir.path().join("screen.png");
    png_file::save_png(shot.as_bytes(), shot.width(), shot.height(), &path);
    scan::scan_file(&path, 2).unwrap()
}

fn short_code(token: &str) -> String {
    emv::qr::merchant_payment::short_code(token)
}
