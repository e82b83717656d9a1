//! Stopping an operation from another thread (the screen's Cancel button).
//!
//! A [`Cancel`] is a shared flag plus wake-ups: whatever the engine is blocked in (waiting for
//! a card in `SCardGetStatusChange`, the PIN pad's window, the host link) registers a wake-up
//! for as long as it blocks, and [`Cancel::cancel`] sets the flag and runs every registered
//! wake-up at once. Before the request is written, a cancelled operation ends "aborted, nothing
//! charged"; after, cancel means "stop waiting", and the engine reverses as on a timeout
//! (`docs/engine.md`, "Cancel").

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

type Wake = Box<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    next: AtomicU64,
    wakes: Mutex<Vec<(u64, Wake)>>,
}

/// A cloneable handle that cancels one operation; every clone sees the same flag.
#[derive(Clone, Default)]
pub struct Cancel(Arc<Inner>);

impl Cancel {
    /// A handle that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels: sets the flag and wakes whatever the operation is blocked in.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        let wakes = self.0.wakes.lock().unwrap_or_else(PoisonError::into_inner);
        for (_, wake) in wakes.iter() {
            wake();
        }
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    /// Runs `wake` when the operation is cancelled, for as long as the returned guard lives
    /// (at once if it is cancelled already).
    pub fn on_cancel(&self, wake: impl Fn() + Send + Sync + 'static) -> WakeGuard {
        let id = self.0.next.fetch_add(1, Ordering::SeqCst);
        let mut wakes = self.0.wakes.lock().unwrap_or_else(PoisonError::into_inner);
        if self.is_cancelled() {
            wake();
        }
        wakes.push((id, Box::new(wake)));
        WakeGuard {
            cancel: self.clone(),
            id,
        }
    }
}

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cancel")
            .field("cancelled", &self.is_cancelled())
            .finish_non_exhaustive()
    }
}

/// Keeps a wake-up registered; dropping it removes the wake-up.
#[must_use = "the wake-up is removed when the guard is dropped"]
pub struct WakeGuard {
    cancel: Cancel,
    id: u64,
}

impl Drop for WakeGuard {
    fn drop(&mut self) {
        let mut wakes = self
            .cancel
            .0
            .wakes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        wakes.retain(|(id, _)| *id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn cancel_wakes_registered_wakeups_and_not_dropped_ones() {
        let cancel = Cancel::new();
        let woken = Arc::new(AtomicUsize::new(0));
        let w = woken.clone();
        let kept = cancel.on_cancel(move || {
            w.fetch_add(1, Ordering::SeqCst);
        });
        let w = woken.clone();
        drop(cancel.on_cancel(move || {
            w.fetch_add(10, Ordering::SeqCst);
        }));
        assert!(!cancel.is_cancelled());
        cancel.clone().cancel();
        assert!(cancel.is_cancelled());
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        drop(kept);
    }

    #[test]
    fn a_wakeup_registered_after_cancel_runs_at_once() {
        let cancel = Cancel::new();
        cancel.cancel();
        let woken = Arc::new(AtomicBool::new(false));
        let w = woken.clone();
        let _guard = cancel.on_cancel(move || w.store(true, Ordering::SeqCst));
        assert!(woken.load(Ordering::SeqCst));
    }
}
