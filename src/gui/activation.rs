//! The activation window's controller (`docs/enrolment.md`): a terminal without an enrolment
//! asks for its one-time code and the host's address. The activation itself
//! ([`crate::activation::activate_with_pad`]: the PIN pad's key, the device key, the host, the
//! enrolment written, the PIN key and the attestation key handed to the pad) runs on a thread
//! of its own; the window only shows where it stands.

use std::cell::Cell;
use std::path::PathBuf;
use std::rc::Rc;

use slint::ComponentHandle;

use super::{ActivateAdapter, ActivationStage, ActivationWindow, GuiError};
use crate::activation::{self, ActivationCode};
use crate::pinpad::{PinPadConfig, PinPadProcess};

/// What the activation window needs.
#[derive(Debug, Clone)]
pub struct ActivationSetup {
    /// The enrolment directory to write (`DATA/enrolment`).
    pub enrolment_dir: PathBuf,
    /// The PIN pad that receives the PIN key.
    pub pin_pad: PinPadConfig,
    /// The host's address to offer, if known.
    pub host: String,
}

/// Binds the window's callbacks; returns whether the merchant then chose to start selling
/// (read once the window is closed).
pub fn attach(window: &ActivationWindow, setup: ActivationSetup) -> Rc<Cell<bool>> {
    let adapter = window.global::<ActivateAdapter>();
    adapter.set_host(setup.host.as_str().into());
    let weak = window.as_weak();
    adapter.on_activate(move |code, host| {
        let Some(window) = weak.upgrade() else {
            return;
        };
        let adapter = window.global::<ActivateAdapter>();
        let code = match ActivationCode::parse(code.trim()) {
            Ok(code) => code,
            Err(e) => {
                adapter.set_message(e.to_string().into());
                adapter.set_stage(ActivationStage::Failed);
                return;
            }
        };
        adapter.set_stage(ActivationStage::Working);
        let (dir, pad, host) = (
            setup.enrolment_dir.clone(),
            PinPadProcess::new(setup.pin_pad.clone()),
            host.trim().to_owned(),
        );
        let weak = window.as_weak();
        std::thread::spawn(move || {
            let outcome = activation::activate_with_pad(&code, &host, &dir, &pad)
                .map(|a| (a.terminal_id, a.merchant));
            let _ = weak.upgrade_in_event_loop(move |window| {
                let adapter = window.global::<ActivateAdapter>();
                match outcome {
                    Ok((terminal_id, merchant)) => {
                        adapter.set_terminal_id(terminal_id.into());
                        adapter.set_merchant(merchant.into());
                        adapter.set_stage(ActivationStage::Done);
                    }
                    Err(e) => {
                        adapter.set_message(e.to_string().into());
                        adapter.set_stage(ActivationStage::Failed);
                    }
                }
            });
        });
    });
    let selling = Rc::new(Cell::new(false));
    let chosen = Rc::clone(&selling);
    let weak = window.as_weak();
    adapter.on_start_selling(move || {
        chosen.set(true);
        if let Some(window) = weak.upgrade() {
            let _ = window.hide();
        }
    });
    selling
}

/// Shows the activation window until it is closed; whether the terminal was activated and the
/// merchant chose to start selling.
pub fn run(setup: ActivationSetup) -> Result<bool, GuiError> {
    let window = ActivationWindow::new().map_err(GuiError::Window)?;
    let selling = attach(&window, setup);
    window.run().map_err(GuiError::Window)?;
    Ok(selling.get())
}
