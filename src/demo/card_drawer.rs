//! The testers' drawer of demo mode: a reader that waits until a tester "taps" a virtual card
//! of some profile, then reads it for one tap, as a person holds a card to the reader and takes
//! it away. The card goes through the real `pcscd` + `vpcd` when they run, and runs in this
//! process otherwise.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use emv::CardTransport;
use hsm_sim::card::vpcd;

use super::DemoError;
use crate::reader::{CardSource, PcscReader, ReaderError, TapInfo, VirtualCardSource};

/// The drawer's side: taps a card of a profile. Cloneable, for the screen's thread.
#[derive(Clone, Debug)]
pub struct CardDrawer {
    shared: Arc<Shared>,
}

impl CardDrawer {
    /// A drawer and the reader its cards are tapped on: through `pcscd` + `vpcd` when
    /// `reader` is given (a vpcd reader), in this process otherwise.
    pub fn new(reader: Option<PcscReader>) -> (Self, DrawerReader) {
        let shared = Arc::new(Shared::default());
        let mode = match reader {
            Some(reader) => Mode::Vpcd {
                reader,
                plugged: None,
            },
            None => Mode::InProcess(None),
        };
        (
            Self {
                shared: Arc::clone(&shared),
            },
            DrawerReader { shared, mode },
        )
    }

    /// Taps a card of `profile` on the reader (it stays until one tap has read it).
    pub fn tap(&self, profile: &str) -> Result<(), DemoError> {
        // Checked here, so a typo fails on the tester's thread and not inside a transaction.
        super::virtual_card(profile)?;
        let mut slot = self.shared.lock();
        slot.profile = Some(profile.to_owned());
        self.shared.changed.notify_all();
        Ok(())
    }
}

/// The reader side of the drawer, a [`CardSource`] for the engine.
pub struct DrawerReader {
    shared: Arc<Shared>,
    mode: Mode,
}

impl DrawerReader {
    /// Where the cards go, for the status bar.
    pub fn describe(&self) -> String {
        match &self.mode {
            Mode::Vpcd { reader, .. } => format!("{} (virtual cards)", reader.name()),
            Mode::InProcess(_) => "In-process virtual cards".to_owned(),
        }
    }
}

impl CardSource for DrawerReader {
    fn wait_for_card(&mut self, timeout: Duration) -> Result<(), ReaderError> {
        if self.mode.has_card() {
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        let profile = {
            let mut slot = self.shared.lock();
            loop {
                if let Some(profile) = slot.profile.take() {
                    break profile;
                }
                if slot.woken {
                    slot.woken = false;
                    return Err(ReaderError::Cancelled);
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(ReaderError::NoCardInTime);
                }
                slot = self
                    .shared
                    .changed
                    .wait_timeout(slot, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        };
        // The profile was checked by `CardDrawer::tap`; one that fails now is "no card".
        let card = super::virtual_card(&profile).map_err(|_| ReaderError::NoCard)?;
        match &mut self.mode {
            Mode::InProcess(slot) => *slot = Some(Box::new(VirtualCardSource::new(card))),
            Mode::Vpcd { reader, plugged } => {
                let guard = super::plug_virtual_card(&profile, reader).map_err(|e| match e {
                    DemoError::Reader(e) => e,
                    _ => ReaderError::NoCard,
                })?;
                *plugged = Some(guard);
            }
        }
        Ok(())
    }

    fn with_card(
        &mut self,
        f: &mut dyn FnMut(&mut dyn CardTransport),
    ) -> Result<TapInfo, ReaderError> {
        // One tap, then the card leaves the field.
        match &mut self.mode {
            Mode::InProcess(slot) => {
                let mut source = slot.take().ok_or(ReaderError::NoCard)?;
                source.with_card(f)
            }
            Mode::Vpcd { reader, plugged } => {
                let result = reader.with_card(f);
                if let Some(guard) = plugged.take() {
                    // Best effort: the next tap waits for its own card anyway.
                    let _ = super::unplug_virtual_card(guard, reader);
                }
                result
            }
        }
    }

    fn waker(&self) -> Option<Box<dyn Fn() + Send + Sync>> {
        let shared = Arc::clone(&self.shared);
        Some(Box::new(move || {
            shared.lock().woken = true;
            shared.changed.notify_all();
        }))
    }
}

impl std::fmt::Debug for DrawerReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DrawerReader")
            .field("reader", &self.describe())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Shared {
    slot: Mutex<Slot>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug, Default)]
struct Slot {
    /// The profile tapped and not read yet.
    profile: Option<String>,
    /// The wait was cancelled.
    woken: bool,
}

enum Mode {
    InProcess(Option<Box<VirtualCardSource>>),
    Vpcd {
        reader: PcscReader,
        plugged: Option<vpcd::VpcdGuard>,
    },
}

impl Mode {
    fn has_card(&self) -> bool {
        match self {
            Self::InProcess(card) => card.is_some(),
            Self::Vpcd { plugged, .. } => plugged.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tapped_card_is_read_once_then_leaves() {
        let (drawer, mut reader) = CardDrawer::new(None);
        assert!(matches!(
            reader.wait_for_card(Duration::from_millis(20)),
            Err(ReaderError::NoCardInTime)
        ));
        assert!(drawer.tap("no-such-card").is_err());
        drawer.tap("visa").expect("a known profile");
        reader
            .wait_for_card(Duration::from_millis(20))
            .expect("the card is there");
        let mut exchanges = 0;
        reader
            .with_card(&mut |_card| exchanges += 1)
            .expect("one tap");
        assert_eq!(exchanges, 1);
        assert!(matches!(
            reader.with_card(&mut |_card| {}),
            Err(ReaderError::NoCard)
        ));
    }

    #[test]
    fn the_waker_ends_a_wait_at_once() {
        let (_drawer, mut reader) = CardDrawer::new(None);
        let wake = reader.waker().expect("a waker");
        let started = Instant::now();
        let waiter = std::thread::spawn(move || reader.wait_for_card(Duration::from_secs(30)));
        std::thread::sleep(Duration::from_millis(50));
        wake();
        let result = waiter.join().expect("no panic");
        assert!(matches!(result, Err(ReaderError::Cancelled)), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
