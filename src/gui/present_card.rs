//! The present-card screen's controller: the engine's Book A user-interface request (message,
//! reader status, amount) on screen, a countdown while the reader waits, and Cancel.

use std::time::Duration;

use emv::kernel::{UiRequest, UiStatus};
use slint::ComponentHandle;

use super::{Currency, MainWindow, PresentCardAdapter};
use crate::engine::{Event, ServiceHandle};

/// What the present-card screen shows for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Show {
    /// The amount, when the event names it.
    pub(crate) amount: Option<String>,
    /// The Book A message.
    pub(crate) message: String,
    /// Status indicators lit (0-4).
    pub(crate) lit: i32,
    /// The reader reports a processing error.
    pub(crate) error: bool,
    /// A new countdown (seconds), or `Some(0)` to stop it; `None` leaves it running.
    pub(crate) seconds_left: Option<i32>,
}

/// What `event` (with its Book A request `ui`) shows on the present-card screen; `None` for
/// the events of other screens.
pub(super) fn for_event(
    event: &Event,
    ui: Option<&UiRequest>,
    currency: &Currency,
    card_wait: Duration,
) -> Option<Show> {
    let wait = i32::try_from(card_wait.as_secs()).unwrap_or(i32::MAX);
    let (amount, seconds_left, prefix) = match event {
        Event::PresentCard { amount } => (Some(currency.format(*amount)), Some(wait), None),
        Event::TryAgain { .. } => (None, Some(wait), None),
        Event::WrongPin => (None, Some(wait), Some("Incorrect PIN. ")),
        Event::PinRequired => (None, Some(wait), Some("The card issuer asks for the PIN. ")),
        Event::CardRead { .. } | Event::RemoveCard => (None, Some(0), None),
        _ => return None,
    };
    let text = ui.map_or("", |u| u.message.text());
    let (lit, error) = ui.map_or((1, false), |u| indicators(u.status));
    Some(Show {
        amount,
        message: format!("{}{text}", prefix.unwrap_or("")),
        lit,
        error,
        seconds_left,
    })
}

/// The Book A status indicators for a reader status: the first lit while idle or ready, two
/// while processing, all four once the card was read.
pub(super) fn indicators(status: UiStatus) -> (i32, bool) {
    match status {
        UiStatus::NotReady => (0, false),
        UiStatus::Idle | UiStatus::ReadyToRead => (1, false),
        UiStatus::Processing => (2, false),
        UiStatus::CardReadSuccessfully => (4, false),
        UiStatus::ProcessingError => (0, true),
        _ => (1, false),
    }
}

pub(super) fn apply(window: &MainWindow, show: Show) {
    let adapter = window.global::<PresentCardAdapter>();
    if let Some(amount) = show.amount {
        adapter.set_amount_text(amount.into());
    }
    adapter.set_message(show.message.into());
    adapter.set_lit(show.lit);
    adapter.set_error(show.error);
    if let Some(seconds) = show.seconds_left {
        adapter.set_seconds_left(seconds);
    }
}

pub(super) fn bind(window: &MainWindow, handle: ServiceHandle) {
    window
        .global::<PresentCardAdapter>()
        .on_cancel(move || handle.cancel());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn present_card_starts_the_countdown_and_a_read_card_stops_it() {
        let eur = Currency::from_numeric(978, 2);
        let wait = Duration::from_secs(30);
        let event = Event::PresentCard { amount: 1234 };
        let ui = event.ui_request(978);
        let show = for_event(&event, ui.as_ref(), &eur, wait).expect("shown");
        assert_eq!(show.amount.as_deref(), Some("EUR 12.34"));
        assert_eq!(show.message, "Present card");
        assert_eq!(
            (show.lit, show.error, show.seconds_left),
            (1, false, Some(30))
        );
        let read = Event::RemoveCard;
        let ui = read.ui_request(978);
        let show = for_event(&read, ui.as_ref(), &eur, wait).expect("shown");
        assert_eq!((show.lit, show.seconds_left), (4, Some(0)));
        assert!(for_event(&Event::Authorising, None, &eur, wait).is_none());
    }
}
