//! The attestation state on the merchant's GUI, headless (`i-slint-backend-testing`, software
//! renderer), with a terminal activated at the embedded hsm-sim host: after a sale the status
//! bar says the terminal is attested; when the host's policy then refuses its binary, the next
//! sale stops before the card, and the status bar shows "Terminal blocked, contact your
//! provider" in its own band. The host keeps tokens shorter than the engine's margin, so every
//! sale attests afresh. One test function only: the testing platform can be set once per
//! process.
#![cfg(all(feature = "gui", feature = "demo", feature = "attestation-hooks"))]
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/activation.rs"]
mod activation;
#[path = "support/gui.rs"]
mod gui;
#[path = "support/png.rs"]
mod png_file;
#[path = "support/engine.rs"]
mod support;

use gui::{Screenshots, click, has_text, wait_for_screen, wait_until};
use hsm_sim::host::attestation::Policy;
use hsm_sim::host::blocklist;
use slint::ComponentHandle;
use softpos::gui::{AttestationShown, Gui, MainWindow, Screen, StatusAdapter};
use support::{TestPin, World};

#[test]
fn gui_attestation() {
    gui::headless();
    let world = World::start();
    let host_data = world.host().data_dir().to_path_buf();
    Policy {
        token_lifetime_secs: 30,
        ..Policy::default()
    }
    .save(&host_data)
    .unwrap();
    let terminal = activation::activate(&world, "shop");
    let engine = activation::engine(&terminal, "clean");
    let window = MainWindow::new().unwrap();
    let card = Box::new(support::in_process("visa"));
    let pin = Box::new(TestPin::new(&world.bundle, &[]));
    let mut setup = gui::demo_setup(&world, engine, card, pin, None);
    setup.status.terminal_id = terminal.credentials.terminal_id.clone();
    let gui = Gui::attach(&window, setup).unwrap();
    window.show().unwrap();
    let mut shots = Screenshots::new();
    let status = || window.global::<StatusAdapter>().get_attestation();

    // An attested terminal sells, and says so.
    gui::start_card_sale(&window, &["5", "0", "0"]);
    wait_for_screen(&window, Screen::Result);
    wait_until(&window, "approved", || has_text(&window, "Approved"));
    wait_until(&window, "attested", || {
        status() == AttestationShown::Attested
    });
    assert!(has_text(&window, "Attested"));
    shots.take(&window, "status-attested");
    click(&window, "New sale");
    wait_for_screen(&window, Screen::Sale);

    // The host now knows only another binary: the next attestation fails and blocks.
    Policy {
        token_lifetime_secs: 30,
        allowed_binaries: vec!["0".repeat(64)],
        ..Policy::default()
    }
    .save(&host_data)
    .unwrap();
    gui::start_card_sale(&window, &["6", "0", "0"]);
    wait_until(&window, "blocked", || status() == AttestationShown::Blocked);
    assert!(has_text(&window, "Terminal blocked, contact your provider"));
    assert!(!has_text(&window, "Approved"));
    assert!(blocklist::is_blocked(&host_data, &terminal.credentials.terminal_id).unwrap());
    shots.take(&window, "status-blocked");
    shots.check_all_taken(&["status-attested", "status-blocked"]);
    drop(gui);
}
