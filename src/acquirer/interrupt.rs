//! Stopping a blocked exchange from another thread: the socket of the exchange in progress is
//! shut down, so a read or write waiting on it returns at once (as a closed connection).

use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Default)]
struct State {
    socket: Option<TcpStream>,
    interrupted: bool,
}

/// Interrupts the exchange in progress on an [`super::Acquirer`]; cloneable, `Send`.
#[derive(Clone, Default)]
pub struct LinkInterrupter(Arc<Mutex<State>>);

impl LinkInterrupter {
    /// Shuts the current exchange's socket down; a socket opened before [`Self::reset`] is
    /// shut down as soon as it is attached.
    pub fn interrupt(&self) {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        state.interrupted = true;
        if let Some(socket) = &state.socket {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// Clears an earlier interrupt (before the next exchange that may be interrupted).
    pub fn reset(&self) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .interrupted = false;
    }

    /// Whether [`Self::interrupt`] was called since the last [`Self::reset`].
    pub fn was_interrupted(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .interrupted
    }

    pub(super) fn attach(&self, socket: &TcpStream) {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        state.socket = socket.try_clone().ok();
        if state.interrupted {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    pub(super) fn detach(&self) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).socket = None;
    }
}

impl std::fmt::Debug for LinkInterrupter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkInterrupter")
    }
}
