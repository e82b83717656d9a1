//! The request-to-pay screen's controller: the customer's phone number or wallet ID typed, the
//! request sent to the engine, then "Request sent", a countdown to its expiry and Cancel while
//! the customer answers on their phone (`docs/request-to-pay.md`).

use std::cell::Cell;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use slint::ComponentHandle;

use super::{AppAdapter, MainWindow, RequestToPayAdapter, ResultAdapter, Screen};
use crate::engine::{Command, Event, ServiceHandle};

/// What the screen shows once the request went out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Show {
    /// Who it went to.
    pub(crate) alias: String,
    /// Seconds until it expires.
    pub(crate) seconds_left: i32,
}

/// The screen's state: the sale's amount, set when the sale screen opens it.
pub(crate) struct RequestController {
    window: slint::Weak<MainWindow>,
    amount: Cell<u64>,
}

pub(super) fn bind(window: &MainWindow, handle: ServiceHandle) -> Rc<RequestController> {
    let controller = Rc::new(RequestController {
        window: window.as_weak(),
        amount: Cell::new(0),
    });
    let adapter = window.global::<RequestToPayAdapter>();
    let c = Rc::clone(&controller);
    let sender = handle.clone();
    adapter.on_send(move |alias| c.send(&sender, alias.trim()));
    let weak = window.as_weak();
    adapter.on_back(move || {
        if let Some(w) = weak.upgrade() {
            w.global::<AppAdapter>().set_screen(Screen::Sale);
        }
    });
    adapter.on_cancel(move || handle.cancel());
    controller
}

impl RequestController {
    /// Opens the screen for a sale of `amount` (`total` formatted).
    pub(crate) fn open(&self, total: &str, amount: u64) {
        let Some(window) = self.window.upgrade() else {
            return;
        };
        self.amount.set(amount);
        let adapter = window.global::<RequestToPayAdapter>();
        adapter.set_amount_text(total.into());
        adapter.set_waiting(false);
        window
            .global::<ResultAdapter>()
            .set_amount_text(total.into());
        window
            .global::<AppAdapter>()
            .set_screen(Screen::RequestToPay);
    }

    fn send(&self, handle: &ServiceHandle, alias: &str) {
        let Some(window) = self.window.upgrade() else {
            return;
        };
        let amount = self.amount.get();
        if alias.is_empty() || amount == 0 {
            return;
        }
        let command = Command::RequestToPay {
            alias: alias.to_owned(),
            amount,
        };
        if super::send(handle, command) {
            super::result::working(&window, "Processing");
            window.global::<AppAdapter>().set_screen(Screen::Result);
        } else {
            super::sale::engine_stopped(&window);
        }
    }
}

/// What `event` shows on this screen; `None` for the events of other screens.
pub(super) fn for_event(event: &Event) -> Option<Show> {
    let Event::RequestSent {
        alias, expires_at, ..
    } = event
    else {
        return None;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Some(Show {
        alias: alias.clone(),
        seconds_left: i32::try_from(expires_at.saturating_sub(now)).unwrap_or(i32::MAX),
    })
}

/// Shows `show` (UI thread).
pub(super) fn apply(window: &MainWindow, show: Show) {
    let adapter = window.global::<RequestToPayAdapter>();
    adapter.set_alias(show.alias.into());
    adapter.set_seconds_left(show.seconds_left);
    adapter.set_waiting(true);
    window
        .global::<AppAdapter>()
        .set_screen(Screen::RequestToPay);
}
