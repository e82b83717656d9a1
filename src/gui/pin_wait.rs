//! The PIN screen's controller: while the `softpos-pinpad` window takes the PIN, Cancel stops
//! the engine's command (the engine tells the pad to close).

use slint::ComponentHandle;

use super::{MainWindow, PinWaitAdapter};
use crate::engine::ServiceHandle;

pub(super) fn bind(window: &MainWindow, handle: ServiceHandle) {
    window
        .global::<PinWaitAdapter>()
        .on_cancel(move || handle.cancel());
}
