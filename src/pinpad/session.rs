//! One PIN entry as a sans-IO state machine: key presses and clock ticks in, progress out.
//!
//! The window and the test input mode both drive it, so the rules live in one place: length 4
//! to 12 with OK disabled below the minimum and extra digits ignored (security doc P6), the
//! three timeouts (P7), Cancel always honoured (P8), Clear empties the buffer. The session
//! never hands out digits: only the count, for the dots.

use std::time::Instant;

use super::buffer::PinBuffer;
use super::keypad::Layout;
use super::protocol::{LengthLimits, Timeouts};

/// A key of the PIN pad. Digit keys are named by their slot, never their digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// One of the ten digit slots (0-9).
    Slot(u8),
    /// Erase every digit.
    Clear,
    /// Confirm.
    Ok,
    /// Give up.
    Cancel,
}

/// Where the entry stands after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Still collecting: show `dots` dots; OK is enabled when `ok_enabled`.
    Collecting {
        /// Digits entered.
        dots: u8,
        /// Whether OK is allowed now.
        ok_enabled: bool,
    },
    /// OK with a valid length: encrypt now ([`Session::pin_buffer`]).
    Confirmed,
    /// Cancel was pressed (or the terminal cancelled).
    Cancelled,
    /// A timeout ran out.
    TimedOut,
}

/// One entry in progress.
pub struct Session {
    buffer: PinBuffer,
    layout: Layout,
    timeouts: Timeouts,
    started: Instant,
    last_key: Option<Instant>,
    finished: Option<Progress>,
}

impl Session {
    /// Starts an entry at `now` (the moment the window is up).
    pub fn new(layout: Layout, limits: LengthLimits, timeouts: Timeouts, now: Instant) -> Self {
        Self {
            buffer: PinBuffer::new(limits),
            layout,
            timeouts,
            started: now,
            last_key: None,
            finished: None,
        }
    }

    /// Handles a key pressed at `now`. Once the entry has ended, keys change nothing.
    pub fn press(&mut self, key: Key, now: Instant) -> Progress {
        if let Some(end) = self.finished {
            return end;
        }
        if let Progress::TimedOut = self.tick(now) {
            return Progress::TimedOut;
        }
        self.last_key = Some(now);
        match key {
            Key::Slot(slot) => {
                if let Some(digit) = self.layout.digit(slot) {
                    // Beyond the maximum the key is ignored (P6).
                    self.buffer.push(digit);
                }
            }
            Key::Clear => self.buffer.clear(),
            Key::Ok if self.buffer.is_complete() => return self.finish(Progress::Confirmed),
            Key::Ok => {}
            Key::Cancel => return self.finish(Progress::Cancelled),
        }
        self.collecting()
    }

    /// Restarts the clocks at `now` if no key has been pressed yet (the window came up).
    pub fn restart(&mut self, now: Instant) {
        if self.last_key.is_none() && self.finished.is_none() {
            self.started = now;
        }
    }

    /// The terminal cancelled (CANCEL message or closed pipe).
    pub fn cancel(&mut self) -> Progress {
        match self.finished {
            Some(end) => end,
            None => self.finish(Progress::Cancelled),
        }
    }

    /// Checks the timeouts at `now`.
    pub fn tick(&mut self, now: Instant) -> Progress {
        if let Some(end) = self.finished {
            return end;
        }
        if now >= self.deadline() {
            return self.finish(Progress::TimedOut);
        }
        self.collecting()
    }

    /// When the entry times out if no key comes: the earlier of the total deadline and the
    /// first-key or between-keys deadline.
    pub fn deadline(&self) -> Instant {
        let total = self.started + self.timeouts.total;
        let next_key = match self.last_key {
            None => self.started + self.timeouts.first_key,
            Some(last) => last + self.timeouts.between_keys,
        };
        total.min(next_key)
    }

    /// The layout on screen.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The digits, once [`Progress::Confirmed`]; `None` before or after any other end.
    pub fn pin_buffer(&self) -> Option<&PinBuffer> {
        matches!(self.finished, Some(Progress::Confirmed)).then_some(&self.buffer)
    }

    /// Zeroizes the digits (after encryption).
    pub fn wipe(&mut self) {
        self.buffer.clear();
    }

    fn collecting(&self) -> Progress {
        Progress::Collecting {
            dots: self.buffer.len(),
            ok_enabled: self.buffer.is_complete(),
        }
    }

    fn finish(&mut self, end: Progress) -> Progress {
        if end != Progress::Confirmed {
            // Cancel and timeout clear the digits at once (P7, P8).
            self.buffer.clear();
        }
        self.finished = Some(end);
        end
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn timeouts() -> Timeouts {
        Timeouts {
            first_key: Duration::from_secs(30),
            between_keys: Duration::from_secs(15),
            total: Duration::from_secs(60),
        }
    }

    fn session(now: Instant) -> Session {
        Session::new(Layout::phone(), LengthLimits::default(), timeouts(), now)
    }

    /// Phone layout: slot `d - 1` holds digit `d`, slot 9 holds 0.
    fn slot(digit: u8) -> Key {
        Key::Slot(if digit == 0 { 9 } else { digit - 1 })
    }

    fn type_digits(s: &mut Session, digits: &[u8], now: Instant) -> Progress {
        let mut last = s.tick(now);
        for &d in digits {
            last = s.press(slot(d), now);
        }
        last
    }

    #[test]
    fn three_digits_refused_four_and_twelve_accepted_thirteenth_ignored() {
        let t = Instant::now();
        let mut s = session(t);
        assert_eq!(
            type_digits(&mut s, &[8, 5, 3], t),
            Progress::Collecting {
                dots: 3,
                ok_enabled: false
            }
        );
        assert_eq!(
            s.press(Key::Ok, t),
            Progress::Collecting {
                dots: 3,
                ok_enabled: false
            }
        );
        assert!(s.pin_buffer().is_none());
        s.press(slot(1), t);
        assert_eq!(s.press(Key::Ok, t), Progress::Confirmed);
        assert_eq!(
            s.pin_buffer().map(|b| b.pin().expose_secret().to_vec()),
            Some(vec![8, 5, 3, 1])
        );

        let mut s = session(t);
        let twelve = [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2];
        type_digits(&mut s, &twelve, t);
        assert_eq!(
            s.press(slot(3), t),
            Progress::Collecting {
                dots: 12,
                ok_enabled: true
            }
        );
        assert_eq!(s.press(Key::Ok, t), Progress::Confirmed);
        assert_eq!(s.pin_buffer().map(|b| b.len()), Some(12));
    }

    #[test]
    fn cancel_after_three_digits_clears_and_ends() {
        let t = Instant::now();
        let mut s = session(t);
        type_digits(&mut s, &[1, 2, 3], t);
        assert_eq!(s.press(Key::Cancel, t), Progress::Cancelled);
        assert!(s.pin_buffer().is_none());
        assert_eq!(s.buffer.len(), 0);
        assert_eq!(s.press(slot(4), t), Progress::Cancelled);
        assert_eq!(s.press(Key::Ok, t), Progress::Cancelled);
    }

    #[test]
    fn clear_empties_and_disables_ok() {
        let t = Instant::now();
        let mut s = session(t);
        type_digits(&mut s, &[1, 2, 3, 4], t);
        assert_eq!(
            s.press(Key::Clear, t),
            Progress::Collecting {
                dots: 0,
                ok_enabled: false
            }
        );
        assert_ne!(s.press(Key::Ok, t), Progress::Confirmed);
    }

    #[test]
    fn first_key_between_keys_and_total_timeouts() {
        let t = Instant::now();
        let mut s = session(t);
        assert!(matches!(
            s.tick(t + Duration::from_millis(29_999)),
            Progress::Collecting { .. }
        ));
        assert_eq!(s.tick(t + Duration::from_secs(30)), Progress::TimedOut);
        assert_eq!(s.buffer.len(), 0);

        let mut s = session(t);
        s.press(slot(1), t + Duration::from_secs(10));
        assert!(matches!(
            s.tick(t + Duration::from_millis(24_999)),
            Progress::Collecting { .. }
        ));
        assert_eq!(
            s.press(slot(2), t + Duration::from_secs(25)),
            Progress::TimedOut
        );
        assert_eq!(s.buffer.len(), 0, "digits cleared on timeout");

        // Keys every 10 s never hit the between-keys limit, but the total one ends it at 60 s.
        let mut s = session(t);
        for i in 1..=5 {
            s.press(Key::Clear, t + Duration::from_secs(10 * i));
        }
        assert_eq!(s.deadline(), t + Duration::from_secs(60));
        assert_eq!(s.tick(t + Duration::from_secs(60)), Progress::TimedOut);
    }

    #[test]
    fn slots_outside_the_pad_are_ignored() {
        let t = Instant::now();
        let mut s = session(t);
        assert_eq!(
            s.press(Key::Slot(10), t),
            Progress::Collecting {
                dots: 0,
                ok_enabled: false
            }
        );
    }
}
