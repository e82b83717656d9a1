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
//!   wallet finds it in its inbox and confirms it, and the terminal shows the approval.
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
use gui::{Screenshots, click, has_text, type_into, wait_for_screen, wait_until};
use hsm_sim::host::wallets::{self, WALLET_ACCOUNT_PAN};
use hsm_sim::wallet::api::{PayMerchantCode, WalletApiError};
use hsm_sim::wallet::device::Device;
use hsm_sim::wallet::scan;
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
    let engine = support::signed_on_engine(&world, "", EngineSettings::default());
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
    shots.check_all_taken(&[
        "merchant-code",
        "merchant-code-approved",
        "request-to-pay",
        "request-to-pay-waiting",
    ]);
    gui.shutdown();
}

/// Types `keys` as the amount, continues without a tip, and taps "Show my code"; waits for
/// the code.
fn show_code_for(window: &MainWindow, keys: &[&str]) {
    for key in keys {
        click(window, key);
    }
    click(window, "Continue");
    click(window, "Show my code");
    wait_for_screen(window, Screen::MerchantCode);
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
