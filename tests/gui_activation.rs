//! The "Activate this terminal" window, headless (`i-slint-backend-testing`, software
//! renderer), against the embedded hsm-sim host's API and a real PIN pad process
//! (`softpos-pinpad-test` with a key store of its own): a malformed code is refused on the
//! spot; a code the host never issued is refused by the host; the code from `hsm-sim terminal
//! add` activates the terminal. The enrolment is then on disk with the host's API and
//! attestation key, the PIN pad holds the PIN key and trusts the host's attestation key, and
//! "Start selling" closes the window. One test function only: the testing platform can be set
//! once per process.
#![cfg(all(feature = "gui", feature = "demo", feature = "pinpad-test-input"))]
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/gui.rs"]
mod gui;
#[path = "support/png.rs"]
mod png_file;
#[path = "support/engine.rs"]
mod support;

use gui::{Screenshots, click, has_text, texts, type_into};
use hsm_sim::host::activation as host_activation;
use slint::ComponentHandle;
use softpos::acquirer::TerminalCredentials;
use softpos::gui::activation::{self, ActivationSetup};
use softpos::gui::{ActivateAdapter, ActivationStage, ActivationWindow};
use softpos::pinpad::PinPadConfig;
use softpos::pinpad::keystore::{self, attestation_trust};
use support::World;

#[test]
fn gui_activation() {
    gui::headless();
    let world = World::start();
    let issued = host_activation::add_terminal(
        world.host().data_dir(),
        "M1",
        host_activation::DEFAULT_VALIDITY,
    )
    .unwrap();
    let enrolment = world.dir.path().join("new-terminal/enrolment");
    let store = world.dir.path().join("new-terminal/pinpad");
    let mut pin_pad = PinPadConfig::new(env!("CARGO_BIN_EXE_softpos-pinpad-test"));
    pin_pad.store_dir = Some(store.clone());
    let window = ActivationWindow::new().unwrap();
    let selling = activation::attach(
        &window,
        ActivationSetup {
            enrolment_dir: enrolment.clone(),
            pin_pad,
            host: world.host().api_addr().to_string(),
        },
    );
    window.show().unwrap();
    let mut shots = Screenshots::new();
    let stage = || window.global::<ActivateAdapter>().get_stage();
    shots.take(&window, "activate");

    // A code of the wrong shape: refused before anything is sent.
    type_into(&window, "Activation code", "7Q4K");
    click(&window, "Activate");
    assert_eq!(stage(), ActivationStage::Failed);
    assert!(
        texts(&window)
            .iter()
            .any(|t| t.contains("not an activation code")),
        "{:?}",
        texts(&window)
    );
    // A code the host never issued (with its fingerprint): refused by the host.
    type_into(
        &window,
        "Activation code",
        &format!("0000-0000-{}", issued.fingerprint),
    );
    click(&window, "Activate");
    wait_until_stage(&window, ActivationStage::Failed);
    assert!(
        texts(&window)
            .iter()
            .any(|t| t.contains("wrong, used or expired")),
        "{:?}",
        texts(&window)
    );
    shots.take(&window, "activate-refused");
    assert!(!enrolment.join("terminal.toml").exists());

    // The right code, typed in lower case with spaces, as a merchant might.
    let typed = issued.full().to_lowercase().replace('-', " ");
    type_into(&window, "Activation code", &typed);
    click(&window, "Activate");
    wait_until_stage(&window, ActivationStage::Done);
    assert!(
        has_text(&window, "Activated: terminal A0000001 of M1"),
        "{:?}",
        texts(&window)
    );
    shots.take(&window, "activated");
    let credentials = TerminalCredentials::load(&enrolment).unwrap();
    assert_eq!(credentials.terminal_id, "A0000001");
    assert!(credentials.api.is_some() && credentials.attestation_key.is_some());
    assert!(keystore::is_installed(&store));
    let trust = attestation_trust::load(&store).unwrap().unwrap();
    assert_eq!(trust.terminal_id, "A0000001");
    click(&window, "Start selling");
    assert!(selling.get(), "the merchant chose to start selling");
}

fn wait_until_stage(window: &ActivationWindow, wanted: ActivationStage) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        gui::pump();
        let stage = window.global::<ActivateAdapter>().get_stage();
        if stage == wanted {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {stage:?}: {:?}",
            texts(window)
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
